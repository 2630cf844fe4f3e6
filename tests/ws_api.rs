//! The WebSocket API over real sockets, against a whole venue (the example
//! configuration, both gateways, the journal) started in-process on free
//! ports: login, order entry, isolation between participants, market data
//! numbering and checksums, heartbeats, the private stream's resume, the
//! dead-man's switch, cancel on disconnect, bad input and limits, slow
//! consumers.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::ws_raw::{Raw, demo_key, now_ms};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use venue::config::VenueConfig;
use venue::node::Node;

fn start_with(tweak: impl FnOnce(&mut VenueConfig)) -> (Node, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut config = common::example_config_for_tests();
    tweak(&mut config);
    let node = Node::start(&config, dir.path()).expect("the venue starts");
    (node, dir)
}

fn start() -> (Node, tempfile::TempDir) {
    start_with(|_| {})
}

fn order(id: &str, side: &str, price_ticks: i64, qty: u64) -> Value {
    json!({"op":"new_order","cl_ord_id":id,"symbol":"UST-10Y","side":side,
           "ord_type":"limit","tif":"gtc","price_ticks":price_ticks,"qty_lots":qty})
}

/// Applies book levels (`[px, qty, n]`, qty 0 removes) to one side.
fn apply(side: &mut BTreeMap<i64, (u64, u64)>, levels: &Value) {
    for l in levels.as_array().expect("levels") {
        let (px, qty, n) = (
            l[0].as_i64().expect("px"),
            l[1].as_u64().expect("qty"),
            l[2].as_u64().expect("n"),
        );
        if qty == 0 {
            side.remove(&px);
        } else {
            side.insert(px, (qty, n));
        }
    }
}

/// The documented checksum, computed independently of the gateway's code.
fn checksum(
    bids: &BTreeMap<i64, (u64, u64)>,
    asks: &BTreeMap<i64, (u64, u64)>,
    depth: usize,
) -> u32 {
    let mut data = Vec::new();
    for (px, (q, _)) in bids.iter().rev().take(depth) {
        data.push(b'B');
        data.extend_from_slice(&px.to_le_bytes());
        data.extend_from_slice(&q.to_le_bytes());
    }
    for (px, (q, _)) in asks.iter().take(depth) {
        data.push(b'A');
        data.extend_from_slice(&px.to_le_bytes());
        data.extend_from_slice(&q.to_le_bytes());
    }
    crc32fast_hash(&data)
}

/// CRC-32 (IEEE), bit by bit: a second implementation, not the gateway's.
fn crc32fast_hash(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[tokio::test]
async fn login_succeeds_with_the_right_signature_and_each_failure_says_why() {
    let (node, _dir) = start_with(|c| {
        // A participant configured without keys, for `no_websocket_key`.
        let mut p = c.ws.participants[0].clone();
        p.id = engine::ParticipantId(99);
        p.keys.clear();
        c.ws.participants.push(p);
        c.ws.login_failures_per_minute = 100;
    });
    let addr = node.ws_addr;
    let mut c = Raw::connect(addr).await;
    assert_eq!(c.hello["challenge"].as_str().map(str::len), Some(64));

    // Order entry before login.
    c.send(order("o-1", "buy", 12800, 1)).await;
    let e = c.recv().await;
    assert_eq!(
        (e["type"].as_str(), e["code"].as_str()),
        (Some("error"), Some("not_logged_in")),
        "{e}"
    );

    // Someone else's key.
    let wrong = c.login_msg(1, &demo_key(2), now_ms());
    c.send(wrong).await;
    assert_eq!(c.recv().await["code"], "bad_signature");
    // A signature over another connection's challenge is not valid here.
    let other = Raw::connect(addr).await;
    let replayed = other.login_msg(1, &demo_key(1), now_ms());
    c.send(replayed).await;
    assert_eq!(c.recv().await["code"], "bad_signature");
    // Garbage signature.
    let mut garbage = c.login_msg(1, &demo_key(1), now_ms());
    garbage["signature"] = json!("zz");
    c.send(garbage).await;
    assert_eq!(c.recv().await["code"], "bad_signature");
    // Unknown participant; participant without keys.
    let unknown = c.login_msg(42, &demo_key(1), now_ms());
    c.send(unknown).await;
    assert_eq!(c.recv().await["code"], "unknown_participant");
    let keyless = c.login_msg(99, &demo_key(1), now_ms());
    c.send(keyless).await;
    assert_eq!(c.recv().await["code"], "no_websocket_key");
    // A timestamp outside the skew window, correctly signed.
    let stale = c.login_msg(1, &demo_key(1), now_ms() - 120_000);
    c.send(stale).await;
    assert_eq!(c.recv().await["code"], "stale_timestamp");

    // The right key logs in; a second login on the connection is refused.
    let ok = c.login(1).await;
    assert_eq!(ok["participant"], 1);
    assert_eq!(ok["name"], "Dealer One");
    assert_eq!(ok["req_id"], "login");
    let again = c.login_msg(1, &demo_key(1), now_ms());
    c.send(again).await;
    assert_eq!(c.recv().await["code"], "already_logged_in");
    node.shutdown().expect("stops");
}

#[tokio::test]
async fn failed_logins_are_rate_limited_per_address() {
    let (node, _dir) = start_with(|c| c.ws.login_failures_per_minute = 3);
    let mut c = Raw::connect(node.ws_addr).await;
    for _ in 0..3 {
        let bad = c.login_msg(1, &demo_key(2), now_ms());
        c.send(bad).await;
        assert_eq!(c.recv().await["code"], "bad_signature");
    }
    // Even the right key is refused now, from this address.
    let good = c.login_msg(1, &demo_key(1), now_ms());
    c.send(good).await;
    assert_eq!(c.recv().await["code"], "login_rate_limited");
    let (code, reason) = c.closed().await;
    assert_eq!(code, 1008, "{reason}");
    let mut fresh = Raw::connect(node.ws_addr).await;
    let good = fresh.login_msg(1, &demo_key(1), now_ms());
    fresh.send(good).await;
    assert_eq!(fresh.recv().await["code"], "login_rate_limited");
    node.shutdown().expect("stops");
}

#[tokio::test]
async fn order_entry_round_trips_with_fix_semantics() {
    let (node, _dir) = start();
    let mut c = Raw::connect(node.ws_addr).await;
    let logged = c.login(1).await;
    assert_eq!(logged["pseq"], 0);

    // New order, by decimal price: acknowledged on the private stream.
    c.send(
        json!({"op":"new_order","cl_ord_id":"o-1","symbol":"UST-10Y","side":"buy",
                  "tif":"gtc","price":"100.5","qty":"5"}),
    )
    .await;
    let ack = c.recv_type("exec").await;
    assert_eq!(ack["exec_type"], "new", "{ack}");
    assert_eq!(ack["ord_status"], "new");
    assert_eq!(ack["price_ticks"], 12864);
    assert_eq!(ack["qty_lots"], 5);
    assert_eq!(
        (ack["pseq"].as_u64(), ack["prev_pseq"].as_u64()),
        (Some(1), Some(0))
    );
    let order_id = ack["order_id"].as_u64().expect("an order id");

    // The same cl_ord_id again: rejected, naming the existing order; no
    // second order.
    c.send(order("o-1", "buy", 12800, 7)).await;
    let dup = c.recv_type("exec").await;
    assert_eq!(dup["exec_type"], "rejected");
    assert_eq!(dup["reason"]["code"], "duplicate_cl_ord_id");
    assert_eq!(dup["order_id"].as_u64(), Some(order_id));

    // Replace down keeps the order; status; cancel.
    c.send(json!({"op":"replace","cl_ord_id":"o-1r","orig_cl_ord_id":"o-1","qty_lots":3}))
        .await;
    let rep = c.recv_type("exec").await;
    assert_eq!(
        (rep["exec_type"].as_str(), rep["qty_lots"].as_u64()),
        (Some("replaced"), Some(3)),
        "{rep}"
    );
    assert_eq!(rep["orig_cl_ord_id"], "o-1");
    c.send(json!({"op":"status","order_id":order_id})).await;
    let st = c.recv_type("exec").await;
    assert_eq!(
        (st["exec_type"].as_str(), st["cl_ord_id"].as_str()),
        (Some("order_status"), Some("o-1r"))
    );
    c.send(json!({"op":"mass_status","symbol":"UST-10Y"})).await;
    let ms = c.recv_type("exec").await;
    assert_eq!(ms["exec_type"], "order_status");
    let done = c.recv_type("mass_status_done").await;
    assert_eq!(done["count"], 1);
    c.send(json!({"op":"cancel","cl_ord_id":"o-1c","orig_cl_ord_id":"o-1r"}))
        .await;
    let can = c.recv_type("exec").await;
    assert_eq!(
        (can["exec_type"].as_str(), can["ord_status"].as_str()),
        (Some("canceled"), Some("canceled"))
    );
    // Cancelling it again: a cancel reject, too late.
    c.send(json!({"op":"cancel","cl_ord_id":"o-1c2","order_id":order_id}))
        .await;
    let rej = c.recv_type("cancel_reject").await;
    assert_eq!(rej["reason"]["code"], "too_late_to_cancel", "{rej}");
    // An off-tick decimal price never reaches the engine.
    c.send(json!({"op":"new_order","cl_ord_id":"o-2","symbol":"UST-10Y","side":"buy","price":"100.001","qty_lots":1})).await;
    let off = c.recv().await;
    assert_eq!(off["code"], "off_tick", "{off}");
    // A price outside the collar is the engine's reject.
    c.send(order("o-3", "buy", 1, 1)).await;
    let collar = c.recv_type("exec").await;
    assert_eq!(collar["reason"]["code"], "price_outside_collar");
    // Mass cancel.
    c.send(order("o-4", "buy", 12800, 1)).await;
    c.send(order("o-5", "sell", 12850, 1)).await;
    c.send(json!({"op":"mass_cancel","cl_ord_id":"m-1","symbol":"UST-10Y"}))
        .await;
    let report = c.recv_type("mass_cancel_report").await;
    assert_eq!(report["cancelled"], 2, "{report}");
    // pseq has no holes.
    node.shutdown().expect("stops");
}

#[tokio::test]
async fn reports_go_to_every_connection_of_the_participant_and_nobody_else() {
    let (node, _dir) = start();
    let addr = node.ws_addr;
    let (mut a1, mut a2, mut b) = (
        Raw::connect(addr).await,
        Raw::connect(addr).await,
        Raw::connect(addr).await,
    );
    a1.login(1).await;
    a2.login(1).await;
    b.login(2).await;
    a1.send(order("a-1", "buy", 12864, 5)).await;
    let ack1 = a1.recv_type("exec").await;
    let ack2 = a2.recv_type("exec").await;
    assert_eq!(ack1, ack2, "both connections see the same numbered event");
    let order_id = ack1["order_id"].as_u64().expect("id");

    // B can neither cancel nor query A's order, by OrderID or ClOrdID.
    b.send(json!({"op":"cancel","cl_ord_id":"b-c","order_id":order_id}))
        .await;
    let rej = b.recv_type("cancel_reject").await;
    assert_eq!(rej["reason"]["code"], "unknown_order", "{rej}");
    b.send(json!({"op":"status","cl_ord_id":"a-1"})).await;
    let st = b.recv_type("exec").await;
    assert_eq!(
        (st["ord_status"].as_str(), st["order_id"].as_u64()),
        (Some("rejected"), Some(0)),
        "{st}"
    );

    // B trades against it: each side sees only its own fill.
    b.send(order("b-1", "sell", 12864, 2)).await;
    let b_ack = b.recv_type("exec").await;
    assert_eq!(b_ack["exec_type"], "new");
    let b_fill = b.recv_type("exec").await;
    assert_eq!(
        (b_fill["exec_type"].as_str(), b_fill["cl_ord_id"].as_str()),
        (Some("trade"), Some("b-1"))
    );
    assert_eq!(b_fill["aggressor"], true);
    let a_fill = a1.recv_type("exec").await;
    assert_eq!(
        (a_fill["exec_type"].as_str(), a_fill["cl_ord_id"].as_str()),
        (Some("trade"), Some("a-1"))
    );
    assert_eq!(a_fill["trade_id"], b_fill["trade_id"]);
    assert_eq!(a_fill["leaves_qty_lots"], 3);
    // Nothing of B's reached A's connections and vice versa.
    for v in a1
        .drain(Duration::from_millis(300))
        .await
        .iter()
        .chain(&a2.drain(Duration::from_millis(100)).await)
    {
        assert_ne!(v["cl_ord_id"], "b-1", "A saw B's event: {v}");
        assert_ne!(v["cl_ord_id"], "b-c", "A saw B's event: {v}");
    }
    for v in b.drain(Duration::from_millis(100)).await {
        assert_ne!(v["cl_ord_id"], "a-1", "B saw A's event: {v}");
    }
    node.shutdown().expect("stops");
}

#[tokio::test]
async fn bad_input_gets_specific_errors_then_a_close() {
    let (node, _dir) = start_with(|c| c.ws.max_subscriptions = 2);
    let mut c = Raw::connect(node.ws_addr).await;
    let cases: Vec<(Message, &str)> = vec![
        (Message::Text("{nope".into()), "invalid_json"),
        (Message::Text("[1,2]".into()), "invalid_json"),
        (Message::Binary(vec![1u8, 2, 3].into()), "binary_frame"),
        (
            Message::Text(r#"{"op":"teleport","req_id":7}"#.into()),
            "unknown_op",
        ),
        (Message::Text(r#"{"req_id":8}"#.into()), "unknown_op"),
        (
            Message::Text(r#"{"op":"subscribe"}"#.into()),
            "missing_field",
        ),
        (
            Message::Text(r#"{"op":"subscribe","channel":5}"#.into()),
            "invalid_field",
        ),
        (
            Message::Text(r#"{"op":"subscribe","channel":"book.NOPE"}"#.into()),
            "unknown_channel",
        ),
        (
            Message::Text(r#"{"op":"ping","extra":1}"#.into()),
            "invalid_field",
        ),
    ];
    for (m, code) in cases {
        let shown = format!("{m:?}");
        c.send_raw(m).await;
        let e = c.recv().await;
        assert_eq!(
            (e["type"].as_str(), e["code"].as_str()),
            (Some("error"), Some(code)),
            "{shown} -> {e}"
        );
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // req_id echoed on errors.
    c.send(json!({"op":"teleport","req_id":"r9"})).await;
    assert_eq!(c.recv().await["req_id"], "r9");
    // Ten errors within ten seconds: closed with a reason.
    let (code, reason) = c.closed().await;
    assert_eq!((code, reason.as_str()), (1008, "too many errors"));

    // Too many subscriptions.
    let mut s = Raw::connect(node.ws_addr).await;
    s.send(json!({"op":"subscribe","channel":"trades.UST-10Y"}))
        .await;
    s.send(json!({"op":"subscribe","channel":"trades.EUR/USD"}))
        .await;
    s.send(json!({"op":"subscribe","channel":"trades.USD-IRS-5Y","req_id":3}))
        .await;
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(s.recv().await);
    }
    assert_eq!(got[2]["code"], "too_many_subscriptions", "{got:?}");
    assert_eq!(got[2]["req_id"], 3);

    // An oversized frame closes at once with 1009.
    let mut big = Raw::connect(node.ws_addr).await;
    let huge = format!(r#"{{"op":"ping","pad":"{}"}}"#, "x".repeat(70_000));
    let _ = big.ws.send(Message::Text(huge.into())).await;
    let (code, _) = big.closed().await;
    assert_eq!(code, 1009);
    node.shutdown().expect("stops");
}

#[tokio::test]
async fn connection_limits_per_address_and_per_participant() {
    let (node, _dir) = start_with(|c| {
        c.ws.max_connections_per_address = 3;
        for p in &mut c.ws.participants {
            p.max_connections = 1;
        }
    });
    let addr = node.ws_addr;
    let mut first = Raw::connect(addr).await;
    first.login(1).await;
    let mut second = Raw::connect(addr).await;
    let msg = second.login_msg(1, &demo_key(1), now_ms());
    second.send(msg).await;
    assert_eq!(second.recv().await["code"], "too_many_connections");
    let _third = Raw::connect(addr).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .expect("tcp ok");
    let mut saw_error = false;
    let mut close = None;
    while let Some(Ok(m)) = ws.next().await {
        match m {
            Message::Text(t) => saw_error |= t.as_str().contains("too_many_connections"),
            Message::Close(f) => close = f.map(|f| u16::from(f.code)),
            _ => {}
        }
    }
    assert!(saw_error);
    assert_eq!(close, Some(1008));
    node.shutdown().expect("stops");
}

#[tokio::test]
async fn book_and_trade_channels_are_numbered_checksummed_and_match_the_venue() {
    let (node, _dir) = start();
    let addr = node.ws_addr;
    let mut md = Raw::connect(addr).await;
    md.send(json!({"op":"subscribe","channel":"book.UST-10Y","depth":5}))
        .await;
    assert_eq!(md.recv().await["type"], "subscribed");
    let snap = md.recv().await;
    assert_eq!(
        (snap["type"].as_str(), snap["snapshot"].as_bool()),
        (Some("book"), Some(true)),
        "{snap}"
    );
    md.send(json!({"op":"subscribe","channel":"trades.UST-10Y"}))
        .await;
    let sub = md.recv().await;
    let mut trade_seq = sub["seq"].as_u64().expect("trades seq");

    let (mut a, mut b) = (Raw::connect(addr).await, Raw::connect(addr).await);
    a.login(1).await;
    b.login(2).await;
    // A pseudo-random walk of resting and crossing orders from two dealers.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let n = 400;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let side = if x & 1 == 0 { "buy" } else { "sell" };
        let px = 12800 + ((x >> 8) % 40) as i64 - 20 + if side == "buy" { -3 } else { 3 };
        let qty = 1 + (x >> 20) % 9;
        let c = if i % 2 == 0 { &mut a } else { &mut b };
        let id = format!("w-{i}");
        c.send(order(&id, side, px, qty)).await;
        // One input at a time, so that (nearly) every one is its own book
        // message.
        loop {
            let v = c.recv_type("exec").await;
            if v["cl_ord_id"] == id.as_str()
                && matches!(v["exec_type"].as_str(), Some("new" | "rejected"))
            {
                break;
            }
        }
        if i % 50 == 49 {
            c.send(json!({"op":"mass_cancel","cl_ord_id":format!("m-{i}")}))
                .await;
            c.recv_type("mass_cancel_report").await;
        }
    }
    let mut bids = BTreeMap::new();
    let mut asks = BTreeMap::new();
    apply(&mut bids, &snap["bids"]);
    apply(&mut asks, &snap["asks"]);
    let mut last = snap["seq"].as_u64().expect("seq");
    let mut trades = 0;
    let mut updates = 0;
    for v in md.drain(Duration::from_millis(500)).await {
        match v["type"].as_str() {
            Some("book") => {
                assert_eq!(v["snapshot"], false);
                assert_eq!(v["prev_seq"].as_u64(), Some(last), "no gap: {v}");
                last = v["seq"].as_u64().expect("seq");
                apply(&mut bids, &v["bids"]);
                apply(&mut asks, &v["asks"]);
                assert!(bids.len() <= 5 && asks.len() <= 5, "trimmed to depth");
                assert_eq!(
                    v["checksum"].as_u64(),
                    Some(u64::from(checksum(&bids, &asks, 5))),
                    "{v}"
                );
                if let (Some((bb, _)), Some((ba, _))) =
                    (bids.iter().next_back(), asks.iter().next())
                {
                    assert!(bb < ba, "never crossed after a whole input");
                }
                updates += 1;
            }
            Some("trade") => {
                assert_eq!(v["prev_seq"].as_u64(), Some(trade_seq));
                trade_seq = v["seq"].as_u64().expect("seq");
                trades += 1;
            }
            other => panic!("unexpected {other:?}: {v}"),
        }
    }
    assert!(updates > 100, "{updates} book updates");
    assert!(trades > 10, "{trades} trades");
    // A fresh subscription sees exactly the book we built.
    let mut late = Raw::connect(addr).await;
    late.send(json!({"op":"subscribe","channel":"book.UST-10Y","depth":5}))
        .await;
    late.recv_type("subscribed").await;
    let fresh = late.recv_type("book").await;
    assert_eq!(fresh["seq"].as_u64(), Some(last));
    let (mut fb, mut fa) = (BTreeMap::new(), BTreeMap::new());
    apply(&mut fb, &fresh["bids"]);
    apply(&mut fa, &fresh["asks"]);
    assert_eq!((fb, fa), (bids, asks));
    // The heartbeat carries the channels' last numbers.
    let hb = loop {
        let v = common::ws_raw::next_heartbeat(&mut md).await;
        if v["channels"]["book.UST-10Y"].as_u64() == Some(last) {
            break v;
        }
    };
    assert_eq!(hb["channels"]["trades.UST-10Y"].as_u64(), Some(trade_seq));
    node.shutdown().expect("stops");
}

#[tokio::test]
async fn the_private_stream_resumes_after_a_reconnect_or_says_resync() {
    let (node, _dir) = start();
    let addr = node.ws_addr;
    let mut c = Raw::connect(addr).await;
    let li = c.login(1).await;
    let epoch = li["epoch"].as_u64().expect("epoch");
    c.send(order("r-1", "buy", 12800, 1)).await;
    let first = c.recv_type("exec").await;
    let seen = first["pseq"].as_u64().expect("pseq");
    drop(c);
    // While away, more happens (from another connection of the participant).
    let mut other = Raw::connect(addr).await;
    other.login(1).await;
    other.send(order("r-2", "buy", 12801, 1)).await;
    other.send(order("r-3", "buy", 12802, 1)).await;
    other.recv_type("exec").await;
    other.recv_type("exec").await;
    let mut back = Raw::connect(addr).await;
    let mut msg = back.login_msg(1, &demo_key(1), now_ms());
    msg["resume"] = json!({"epoch": epoch, "after_pseq": seen});
    back.send(msg).await;
    let li2 = back.recv().await;
    assert_eq!(li2["resume"], "ok", "{li2}");
    let r2 = back.recv_type("exec").await;
    let r3 = back.recv_type("exec").await;
    assert_eq!(
        (r2["cl_ord_id"].as_str(), r2["pseq"].as_u64()),
        (Some("r-2"), Some(seen + 1))
    );
    assert_eq!(
        (r3["cl_ord_id"].as_str(), r3["pseq"].as_u64()),
        (Some("r-3"), Some(seen + 2))
    );
    // Another epoch (a restarted venue): resync.
    let mut stale = Raw::connect(addr).await;
    let mut msg = stale.login_msg(1, &demo_key(1), now_ms());
    msg["resume"] = json!({"epoch": epoch - 1, "after_pseq": 1});
    stale.send(msg).await;
    assert_eq!(stale.recv().await["resume"], "resync");
    node.shutdown().expect("stops");
}

#[tokio::test]
async fn dead_mans_switch_and_cancel_on_disconnect_cancel_orders() {
    let (node, _dir) = start();
    let addr = node.ws_addr;
    let mut c = Raw::connect(addr).await;
    c.login(1).await;
    c.send(order("d-1", "buy", 12800, 1)).await;
    c.recv_type("exec").await;
    c.send(json!({"op":"cancel_all_after","timeout_ms":300,"req_id":1}))
        .await;
    assert_eq!(c.recv_type("cancel_all_after").await["timeout_ms"], 300);
    // Refreshing in time keeps the orders.
    tokio::time::sleep(Duration::from_millis(150)).await;
    c.send(json!({"op":"cancel_all_after","timeout_ms":300}))
        .await;
    c.recv_type("cancel_all_after").await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    c.send(json!({"op":"status","cl_ord_id":"d-1"})).await;
    assert_eq!(c.recv_type("exec").await["ord_status"], "new");
    // Not refreshing cancels them.
    c.recv_type("cancel_all_after_triggered").await;
    let cancelled = c.recv_type("exec").await;
    assert_eq!(
        (
            cancelled["cl_ord_id"].as_str(),
            cancelled["exec_type"].as_str()
        ),
        (Some("d-1"), Some("canceled"))
    );
    assert_eq!(cancelled["reason"]["code"], "mass_cancel");

    // Participant 3 is configured with cancel_on_disconnect = "all".
    let mut watcher = Raw::connect(addr).await;
    watcher
        .send(json!({"op":"subscribe","channel":"book.EUR/USD","depth":1}))
        .await;
    watcher.recv_type("subscribed").await;
    watcher.recv_type("book").await;
    let mut p3 = Raw::connect(addr).await;
    p3.login(3).await;
    p3.send(json!({"op":"new_order","cl_ord_id":"p3-1","symbol":"EUR/USD","side":"sell","price":"1.08","qty":"5000","tif":"gtc"})).await;
    p3.recv_type("exec").await;
    let up = watcher.recv_type("book").await;
    assert_eq!(up["asks"][0][1], 5);
    drop(p3);
    let gone = watcher.recv_type("book").await;
    assert_eq!(gone["asks"], json!([[108000, 0, 0]]), "{gone}");
    node.shutdown().expect("stops");
}

#[tokio::test]
async fn a_slow_reader_is_conflated_and_others_are_unaffected() {
    let (node, _dir) = start_with(|c| {
        c.ws.send_queue_max = 32;
        c.ws.socket_send_buffer_bytes = 8192;
    });
    let addr = node.ws_addr;
    // The slow one subscribes and then does not read.
    let mut slow = Raw::connect_small(addr, 4096).await;
    slow.send(json!({"op":"subscribe","channel":"book.UST-10Y","depth":10}))
        .await;
    slow.recv_type("subscribed").await;
    let slow_snap = slow.recv_type("book").await;
    let mut fast = Raw::connect(addr).await;
    fast.send(json!({"op":"subscribe","channel":"book.UST-10Y","depth":10}))
        .await;
    fast.recv_type("subscribed").await;
    let fast_snap = fast.recv_type("book").await;
    let mut last = fast_snap["seq"].as_u64().expect("seq");
    let mut trader = Raw::connect(addr).await;
    trader.login(1).await;
    // Many book changes; the fast reader keeps up, reading until the
    // channel has been quiet for a second.
    let reader = tokio::spawn(async move {
        let mut n = 0u64;
        for v in fast.drain(Duration::from_secs(1)).await {
            if v["type"] == "book" {
                assert_eq!(
                    v["prev_seq"].as_u64(),
                    Some(last),
                    "the fast reader has no gap"
                );
                last = v["seq"].as_u64().expect("seq");
                n += 1;
            }
        }
        (n, last)
    });
    for i in 0..6000u32 {
        // Add and cancel one order at the best bid, one input at a time: a
        // book message each.
        if i % 2 == 0 {
            trader.send(order(&format!("s-{i}"), "buy", 12800, 1)).await;
        } else {
            trader.send(json!({"op":"cancel","cl_ord_id":format!("c-{i}"),"orig_cl_ord_id":format!("s-{}", i - 1)})).await;
        }
        trader.recv_type("exec").await;
    }
    let (fast_updates, fast_last) = tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("the fast reader finished")
        .expect("no panic");
    assert!(fast_updates > 100, "{fast_updates}");
    assert!(
        node.ws_metrics
            .conflations
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    );
    // The slow reader now reads: updates in order up to a point, then a
    // snapshot whose seq jumps, then in order again.
    let mut prev = slow_snap["seq"].as_u64().expect("seq");
    let mut jumped = false;
    let mut bids = BTreeMap::new();
    let mut asks = BTreeMap::new();
    for v in slow.drain(Duration::from_millis(500)).await {
        if v["type"] != "book" {
            continue;
        }
        let seq = v["seq"].as_u64().expect("seq");
        if v["snapshot"] == true {
            assert!(seq > prev + 1, "a conflated snapshot skips updates");
            jumped = true;
            bids.clear();
            asks.clear();
        } else {
            assert_eq!(v["prev_seq"].as_u64(), Some(prev));
        }
        apply(&mut bids, &v["bids"]);
        apply(&mut asks, &v["asks"]);
        assert_eq!(
            v["checksum"].as_u64(),
            Some(u64::from(checksum(&bids, &asks, 10)))
        );
        prev = seq;
    }
    assert!(jumped, "the slow reader got a fresh snapshot");
    assert_eq!(prev, fast_last, "and caught up with the same book");
    node.shutdown().expect("stops");
}

#[tokio::test]
async fn wss_with_a_configured_certificate() {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("a certificate");
    let files = tempfile::tempdir().expect("tmp");
    let (cert_path, key_path) = (files.path().join("cert.pem"), files.path().join("key.pem"));
    std::fs::write(&cert_path, certified.cert.pem()).expect("writes");
    std::fs::write(&key_path, certified.signing_key.serialize_pem()).expect("writes");
    let (node, _dir) = start_with(|c| {
        c.ws.tls = Some(gateway::ws::config::TlsFiles {
            cert: cert_path.clone(),
            key: key_path.clone(),
        });
    });
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone()).expect("a root");
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(node.ws_addr)
        .await
        .expect("connects");
    let stream = tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").expect("a name"),
            tcp,
        )
        .await
        .expect("the TLS handshake succeeds");
    let (mut ws, _) = tokio_tungstenite::client_async("wss://localhost/", stream)
        .await
        .expect("the WebSocket handshake succeeds over TLS");
    let hello = match ws.next().await {
        Some(Ok(Message::Text(t))) => serde_json::from_str::<Value>(t.as_str()).expect("json"),
        other => panic!("no hello: {other:?}"),
    };
    assert_eq!(hello["type"], "hello");
    ws.send(Message::Text(r#"{"op":"ping","req_id":1}"#.into()))
        .await
        .expect("sends");
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.as_str().contains("pong") => break,
            Some(Ok(_)) => {}
            other => panic!("no pong: {other:?}"),
        }
    }
    // A plain-text client cannot speak to a TLS listener.
    assert!(
        tokio_tungstenite::connect_async(format!("ws://{}/", node.ws_addr))
            .await
            .is_err()
    );
    node.shutdown().expect("stops");
}

#[tokio::test]
async fn order_entry_over_the_rate_waits_in_order_and_nothing_is_dropped() {
    let (node, _dir) = start_with(|c| {
        for p in &mut c.ws.participants {
            p.rate_per_second = 10;
            p.rate_burst = 2;
        }
    });
    let mut c = Raw::connect(node.ws_addr).await;
    c.login(1).await;
    for i in 0..8 {
        c.send(order(&format!("r-{i}"), "buy", 12790 + i, 1)).await;
    }
    let mut acks = Vec::new();
    while acks.len() < 8 {
        let v = c.recv_type("exec").await;
        assert_eq!(v["exec_type"], "new", "{v}");
        acks.push(v);
    }
    // In the order sent, every one accepted...
    for (i, v) in acks.iter().enumerate() {
        assert_eq!(v["cl_ord_id"], format!("r-{i}"));
    }
    // ...and the venue stamped the last six about 100 ms apart (10 a
    // second after a burst of two): they waited, they were not refused.
    let t = |i: usize| acks[i]["time_ns"].as_u64().expect("time");
    let spread_ms = (t(7) - t(1)) / 1_000_000;
    assert!(
        spread_ms >= 450,
        "over-rate requests were paced: {spread_ms} ms"
    );
    node.shutdown().expect("stops");
}
