//! The operator's HTTP API end to end, against a whole venue (the example
//! configuration) started in-process on free ports: authentication, each
//! action and its effect on orders (through the WebSocket API), the view it
//! keeps, a volatility interruption triggered by trades, the snapshot on
//! demand, and every action journaled (a restart replays to the same
//! controls).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::ws_raw::Raw;
use serde_json::{Value, json};
use venue::config::VenueConfig;
use venue::node::Node;

const TOKEN: &str = "demo-admin-token";

fn start_in(dir: &std::path::Path, tweak: impl FnOnce(&mut VenueConfig)) -> Node {
    let mut config = common::example_config_for_tests();
    tweak(&mut config);
    Node::start(&config, dir).expect("the venue starts")
}

/// One HTTP/1.1 request; returns the status and the body.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connects");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("writes");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("reads");
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {out:?}"));
    let body = out
        .split_once("\r\n\r\n")
        .map(|x| x.1)
        .unwrap_or("")
        .to_owned();
    (status, body)
}

/// `GET /sessions` once `ready` holds for it (figures refresh every
/// millisecond or so); panics after 10 s, showing the last answer.
fn sessions_when(a: SocketAddr, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let s = json_of(&http(a, "GET", "/sessions", Some(TOKEN), None).1);
        if ready(&s) {
            return s;
        }
        assert!(std::time::Instant::now() < deadline, "never ready: {s}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}

fn act(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> Value {
    let (status, text) = http(addr, method, path, Some(TOKEN), body);
    assert_eq!(status, 200, "{method} {path}: {text}");
    json_of(&text)
}

fn order(id: &str, side: &str, price_ticks: i64, qty: u64) -> Value {
    json!({"op":"new_order","cl_ord_id":id,"symbol":"UST-10Y","side":side,
           "ord_type":"limit","tif":"gtc","price_ticks":price_ticks,"qty_lots":qty})
}

async fn reject_code(c: &mut Raw) -> String {
    let e = c.recv_type("exec").await;
    assert_eq!(e["exec_type"], "rejected", "{e}");
    e["reason"]["code"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn probes_answer_without_a_token_and_actions_need_the_right_one() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let node = start_in(dir.path(), |_| {});
    let a = node.admin_addr;
    assert_eq!(http(a, "GET", "/health", None, None).0, 200);
    assert_eq!(http(a, "GET", "/ready", None, None).0, 200);
    let (status, body) = http(a, "POST", "/instruments/UST-10Y/halt", None, None);
    assert_eq!(status, 401, "{body}");
    assert_eq!(json_of(&body)["error"], "unauthorized");
    let (status, _) = http(a, "POST", "/instruments/UST-10Y/halt", Some("guess"), None);
    assert_eq!(status, 401);
    let (status, body) = http(a, "POST", "/instruments/NOPE/halt", Some(TOKEN), None);
    assert_eq!(
        (status, json_of(&body)["error"].clone()),
        (404, json!("unknown_instrument"))
    );
    let (status, body) = http(
        a,
        "PUT",
        "/instruments/UST-10Y/phase",
        Some(TOKEN),
        Some(json!({"phase":"lunch"})),
    );
    assert_eq!(
        (status, json_of(&body)["error"].clone()),
        (400, json!("invalid_phase"))
    );
    let (status, body) = http(
        a,
        "PUT",
        "/instruments/UST-10Y/phase",
        Some(TOKEN),
        Some(json!({"phase":1})),
    );
    assert_eq!(
        (status, json_of(&body)["error"].clone()),
        (400, json!("invalid_body"))
    );
    assert_eq!(http(a, "GET", "/nowhere", Some(TOKEN), None).0, 404);
    // An action is an input like any other: /metrics (no token) counts it.
    act(a, "POST", "/instruments/UST-10Y/halt", None);
    let (status, text) = http(a, "GET", "/metrics", None, None);
    assert_eq!(status, 200);
    assert!(
        text.lines()
            .any(|l| l == "venue_inputs_total{type=\"admin\"} 1"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("# EOF"), "OpenMetrics text");
    node.shutdown().expect("clean shutdown");

    // Without a configured token hash, actions are refused outright.
    let dir = tempfile::tempdir().expect("a temp dir");
    let node = start_in(dir.path(), |c| c.admin.token_hash = None);
    let (status, body) = http(node.admin_addr, "POST", "/snapshot", Some(TOKEN), None);
    assert_eq!(
        (status, json_of(&body)["error"].clone()),
        (403, json!("admin_disabled"))
    );
    node.shutdown().expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_action_takes_effect_on_orders_and_survives_a_restart() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let node = start_in(dir.path(), |_| {});
    let a = node.admin_addr;
    let mut c = Raw::connect(node.ws_addr).await;
    c.login(1).await;
    c.send(json!({"op":"subscribe","channel":"trades.UST-10Y"}))
        .await;
    c.recv_type("subscribed").await;

    // Halt: subscribers are told; new orders are refused, naming the halt;
    // resume: accepted.
    let r = tokio::task::spawn_blocking(move || act(a, "POST", "/instruments/UST-10Y/halt", None))
        .await
        .expect("joins");
    assert_eq!(r["phase"], "halted");
    assert!(r["seq"].as_u64().is_some_and(|s| s > 0), "journaled: {r}");
    let status = c.recv_type("status").await;
    assert_eq!(
        (
            status["symbol"].as_str(),
            status["phase"].as_str(),
            status["cause"].as_str()
        ),
        (Some("UST-10Y"), Some("halted"), Some("operator")),
        "{status}"
    );
    assert_eq!(status["engine_seq"], r["seq"]);
    c.send(order("h1", "buy", 12790, 1)).await;
    assert_eq!(reject_code(&mut c).await, "instrument_halted");
    tokio::task::spawn_blocking(move || act(a, "POST", "/instruments/UST-10Y/resume", None))
        .await
        .expect("joins");
    c.send(order("h2", "buy", 12790, 1)).await;
    assert_eq!(c.recv_type("exec").await["exec_type"], "new");

    // Pre-open: a crossing order is refused.
    tokio::task::spawn_blocking(move || {
        act(
            a,
            "PUT",
            "/instruments/UST-10Y/phase",
            Some(json!({"phase":"pre_open"})),
        )
    })
    .await
    .expect("joins");
    c.send(order("p1", "sell", 12780, 1)).await;
    assert_eq!(reject_code(&mut c).await, "pre_open_would_match");
    tokio::task::spawn_blocking(move || act(a, "POST", "/instruments/UST-10Y/resume", None))
        .await
        .expect("joins");

    // Kill switch: the resting order is cancelled, new ones refused.
    let r = tokio::task::spawn_blocking(move || act(a, "POST", "/participants/1/kill", None))
        .await
        .expect("joins");
    assert_eq!(r["cancelled"], 1, "{r}");
    let cxl = c.recv_type("exec").await;
    assert_eq!(
        (cxl["exec_type"].as_str(), cxl["reason"]["code"].as_str()),
        (Some("canceled"), Some("kill_switch")),
        "{cxl}"
    );
    c.send(order("k1", "buy", 12790, 1)).await;
    assert_eq!(reject_code(&mut c).await, "kill_switch_engaged");
    tokio::task::spawn_blocking(move || act(a, "POST", "/participants/1/reset", None))
        .await
        .expect("joins");

    // An operator mass cancel.
    c.send(order("m1", "buy", 12790, 1)).await;
    c.recv_type("exec").await;
    c.send(order("m2", "buy", 12789, 1)).await;
    c.recv_type("exec").await;
    let r = tokio::task::spawn_blocking(move || {
        act(
            a,
            "POST",
            "/mass-cancel",
            Some(json!({"symbol":"UST-10Y","side":"buy"})),
        )
    })
    .await
    .expect("joins");
    assert_eq!(r["cancelled"], 2, "{r}");
    for _ in 0..2 {
        assert_eq!(c.recv_type("exec").await["reason"]["code"], "operator");
    }

    // A credit limit: 100 x 10 = 1000 of open notional allowed, 11 lots not.
    let r = tokio::task::spawn_blocking(move || {
        act(
            a,
            "PUT",
            "/participants/1/credit-limits/UST-10Y",
            Some(json!({"max_open_notional":"1000"})),
        )
    })
    .await
    .expect("joins");
    assert_eq!(r["max_open_notional"], "1000");
    c.send(order("c1", "buy", 12800, 11)).await;
    assert_eq!(reject_code(&mut c).await, "credit_limit_exceeded");
    c.send(order("c2", "buy", 12800, 10)).await;
    assert_eq!(c.recv_type("exec").await["exec_type"], "new");

    // A rate limit change reaches both gateways.
    let r = tokio::task::spawn_blocking(move || {
        act(
            a,
            "PUT",
            "/participants/1/rate-limit",
            Some(json!({"per_second": 7, "burst": 3})),
        )
    })
    .await
    .expect("joins");
    assert_eq!(r["per_second"], 7, "{r}");
    let (status, _) = tokio::task::spawn_blocking(move || {
        http(
            a,
            "PUT",
            "/participants/1/rate-limit",
            Some(TOKEN),
            Some(json!({"per_second": 0, "burst": 3})),
        )
    })
    .await
    .expect("joins");
    assert_eq!(status, 400);
    // The FIX session's figures refresh about once a millisecond.
    tokio::task::spawn_blocking(move || {
        sessions_when(a, |s| s["fix"][0]["rate_limit"]["per_second"] == 7)
    })
    .await
    .expect("joins");

    // The views.
    let (instruments, participants, sessions) = tokio::task::spawn_blocking(move || {
        let (_, i) = http(a, "GET", "/instruments", Some(TOKEN), None);
        let (_, p) = http(a, "GET", "/participants", Some(TOKEN), None);
        let (_, s) = http(a, "GET", "/sessions", Some(TOKEN), None);
        (json_of(&i), json_of(&p), json_of(&s))
    })
    .await
    .expect("joins");
    assert_eq!(
        instruments["instruments"][0]["phase"], "open",
        "{instruments}"
    );
    assert_eq!(
        participants["participants"][0]["credit_limits"]["UST-10Y"], "1000",
        "{participants}"
    );
    assert_eq!(participants["participants"][0]["kill_switch"], false);
    assert_eq!(sessions["websocket"]["logged_in"], 1, "{sessions}");
    assert_eq!(sessions["fix"].as_array().map(Vec::len), Some(4));
    let rate = json!({"per_second": 7, "burst": 3});
    assert_eq!(sessions["fix"][0]["session"], "VENUE-CLIENT1");
    assert_eq!(sessions["fix"][0]["rate_limit"], rate, "{sessions}");
    assert_eq!(
        sessions["websocket"]["rate_limits"]["1"], rate,
        "{sessions}"
    );
    assert_eq!(participants["participants"][0]["rate_limit"], rate);

    // Halt again, then restart: the journal brings the halt back.
    tokio::task::spawn_blocking(move || act(a, "POST", "/instruments/EUR%2FUSD/halt", None))
        .await
        .expect("joins");
    drop(c);
    node.shutdown().expect("clean shutdown");
    let node = start_in(dir.path(), |_| {});
    let a = node.admin_addr;
    let (instruments, participants, sessions) = tokio::task::spawn_blocking(move || {
        let (_, i) = http(a, "GET", "/instruments", Some(TOKEN), None);
        let (_, p) = http(a, "GET", "/participants", Some(TOKEN), None);
        let s = sessions_when(a, |s| s["fix"][0]["rate_limit"]["per_second"] == 7);
        (json_of(&i), json_of(&p), s)
    })
    .await
    .expect("joins");
    let eur = &instruments["instruments"][1];
    assert_eq!(
        (eur["symbol"].as_str(), eur["phase"].as_str()),
        (Some("EUR/USD"), Some("halted")),
        "{instruments}"
    );
    assert_eq!(
        participants["participants"][0]["credit_limits"]["UST-10Y"],
        "1000"
    );
    let rate = json!({"per_second": 7, "burst": 3});
    assert_eq!(sessions["fix"][0]["rate_limit"], rate, "{sessions}");
    assert_eq!(
        sessions["websocket"]["rate_limits"]["1"], rate,
        "{sessions}"
    );
    node.shutdown().expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trades_beyond_the_band_halt_the_instrument_until_the_pause_ends() {
    let dir = tempfile::tempdir().expect("a temp dir");
    // A 3 s pause and 1 ms clock ticks, so the resume comes within the test.
    let node = start_in(dir.path(), |c| {
        c.tick_interval_ns = 1_000_000;
        let ust = &mut c.engine.instruments[0];
        ust.volatility = Some(engine::VolatilityGuard {
            band_bp: 25,
            window_ns: 60_000_000_000,
            pause_ns: 3_000_000_000,
        });
    });
    let a = node.admin_addr;
    let mut seller = Raw::connect(node.ws_addr).await;
    seller.login(2).await;
    let mut buyer = Raw::connect(node.ws_addr).await;
    buyer.login(1).await;
    // 100 = 12800 ticks of 1/128; 0.25% of it is 32 ticks.
    for (id, px) in [("s1", 12800), ("s2", 12830), ("s3", 12840)] {
        seller.send(order(id, "sell", px, 1)).await;
        seller.recv_type("exec").await;
    }
    buyer.send(order("sweep", "buy", 12850, 3)).await;
    let mut fills = Vec::new();
    let cancel = loop {
        let e = buyer.recv_type("exec").await;
        match e["exec_type"].as_str() {
            Some("trade") => fills.push(e["last_px_ticks"].as_i64().unwrap_or_default()),
            Some("canceled") => break e,
            _ => {}
        }
    };
    assert_eq!(
        fills,
        [12800, 12830],
        "12840 is more than 32 ticks from 12800"
    );
    assert_eq!(
        cancel["reason"]["code"], "volatility_interruption",
        "{cancel}"
    );
    buyer.send(order("during", "buy", 12800, 1)).await;
    assert_eq!(reject_code(&mut buyer).await, "instrument_halted");
    // The API's view follows within moments (its ring is polled).
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        let i = tokio::task::spawn_blocking(move || {
            json_of(&http(a, "GET", "/instruments", Some(TOKEN), None).1)
        })
        .await
        .expect("joins");
        if i["instruments"][0]["phase"] == "halted" {
            assert!(
                i["instruments"][0]["resume_at_ns"].as_u64().is_some(),
                "{i}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not halted in the view: {i}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // After the pause a clock tick reopens it.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let i = tokio::task::spawn_blocking(move || {
            json_of(&http(a, "GET", "/instruments", Some(TOKEN), None).1)
        })
        .await
        .expect("joins");
        if i["instruments"][0]["phase"] == "open" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still halted: {i}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    buyer.send(order("after", "buy", 12840, 1)).await;
    let e = buyer.recv_type("exec").await;
    assert_eq!(e["exec_type"], "new", "{e}");
    node.shutdown().expect("clean shutdown");
}

#[test]
fn a_snapshot_on_demand_is_written_at_or_after_the_actions_sequence() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let node = start_in(dir.path(), |_| {});
    let r = act(node.admin_addr, "POST", "/snapshot", None);
    let seq = r["seq"].as_u64().expect("a sequence number");
    // The loop writes it right after the input; allow it a moment.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let snapshots = dir.path().join("snapshots");
    loop {
        let found: Vec<u64> = std::fs::read_dir(&snapshots)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter_map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        name.strip_prefix("snapshot-")?
                            .strip_suffix(".snap")?
                            .parse()
                            .ok()
                    })
                    .collect()
            })
            .unwrap_or_default();
        if found.iter().any(|&s| s >= seq) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no snapshot at or after {seq}: {found:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    node.shutdown().expect("clean shutdown");
}
