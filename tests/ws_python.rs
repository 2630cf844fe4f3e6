//! The WebSocket API against an independent client: `tests/ws_python/client.py`,
//! written from docs/websocket-api.md alone in Python (the `websockets`
//! library, PyNaCl for Ed25519), sharing no code with the venue. A whole
//! venue (the example configuration) runs in-process on free ports; the
//! script logs in, subscribes to a book, enters and cancels an order, checks
//! every answer and recomputes the book checksum itself. Then the Rust side
//! checks that the venue agrees: the book is empty again and the order is
//! cancelled.
//!
//! Needs `/usr/bin/python3` with Debian's `python3-websockets` and
//! `python3-nacl`, which `.ci/run` installs; without them this test fails
//! (it never skips).

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::ChildGuard;
use common::ws_raw::Raw;
use serde_json::{Value, json};
use venue::node::Node;

/// Debian's interpreter, where apt puts the modules (not a pyenv or venv
/// `python3` that happens to be first on PATH).
const PYTHON: &str = "/usr/bin/python3";
const INSTALL_HINT: &str = "this test needs /usr/bin/python3 with the Debian packages \
     python3-websockets and python3-nacl; .ci/run installs them \
     (apt-get install python3-websockets python3-nacl)";
/// The whole script's limit; each of its own waits is 10 s at most.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(90);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Fails, saying how to install them, when the interpreter or its modules
/// are missing.
fn require_python() {
    match Command::new(PYTHON)
        .args(["-c", "import websockets, nacl"])
        .output()
    {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "{PYTHON} cannot import websockets and nacl ({}): {INSTALL_HINT}",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!("cannot run {PYTHON} ({e}): {INSTALL_HINT}"),
    }
}

fn start() -> (Node, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = common::example_config_for_tests();
    let node = Node::start(&config, dir.path()).expect("the venue starts");
    (node, dir)
}

/// What the script did.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs `client.py URL KEY PARTICIPANT` from the crate's root, killing it
/// after `CLIENT_TIMEOUT`.
fn run_client(url: &str, key: &Path, participant: u32) -> Run {
    let started = Instant::now();
    let child = Command::new(PYTHON)
        .arg("tests/ws_python/client.py")
        .arg(url)
        .arg(key)
        .arg(participant.to_string())
        .current_dir(root())
        // No bytecode cache written into the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {PYTHON} ({e}): {INSTALL_HINT}"));
    let mut guard = ChildGuard(child);
    let reader = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = reader(Box::new(guard.0.stdout.take().expect("piped")));
    let err = reader(Box::new(guard.0.stderr.take().expect("piped")));
    let status = loop {
        if let Some(status) = guard.0.try_wait().expect("waits for the client") {
            break Some(status);
        }
        if started.elapsed() > CLIENT_TIMEOUT {
            guard.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (stdout, stderr) = (
        out.join().expect("stdout reader"),
        err.join().expect("stderr reader"),
    );
    let Some(status) = status else {
        panic!(
            "the Python client did not finish within {CLIENT_TIMEOUT:?}\n\
             stdout:\n{stdout}\nstderr:\n{stderr}"
        );
    };
    Run {
        status,
        stdout,
        stderr,
        took: started.elapsed(),
    }
}

#[tokio::test]
async fn an_independent_python_client_logs_in_trades_and_checks_the_book() {
    require_python();
    let (node, _dir) = start();
    // A Rust observer of the same book at the same depth, subscribed for the
    // whole run: a book channel's `seq` counts the messages of one depth's
    // stream, which the venue drops (and restarts at 0) when its last
    // subscriber leaves.
    let mut observer = Raw::connect(node.ws_addr).await;
    observer
        .send(json!({"op":"subscribe","channel":"book.UST-10Y","depth":5}))
        .await;
    observer.recv_type("subscribed").await;
    let before = observer.recv_type("book").await;
    assert_eq!(
        (&before["bids"], &before["asks"], &before["seq"]),
        (&json!([]), &json!([]), &json!(0)),
        "{before}"
    );
    let url = format!("ws://{}/", node.ws_addr);
    let run = tokio::task::spawn_blocking(move || {
        run_client(&url, Path::new("examples/keys/participant-1.key"), 1)
    })
    .await
    .expect("the client runner did not panic");
    eprintln!(
        "python client: {} in {:?}\nstdout: {}stderr: {}",
        run.status, run.took, run.stdout, run.stderr
    );
    assert!(
        run.status.success(),
        "the Python client failed ({}):\n{}{}",
        run.status,
        run.stderr,
        run.stdout
    );
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one line of JSON: {:?}", run.stdout);
    let summary: Value = serde_json::from_str(lines[0]).expect("the summary is JSON");
    assert_eq!(summary["ok"], true, "{summary}");
    assert_eq!(summary["participant"], 1);
    assert_eq!(summary["venue"], "Demo Interdealer Venue");
    assert_eq!(summary["price_ticks"], 12864);
    assert_eq!(summary["qty_lots"], 5);
    assert_eq!(summary["error_code"], "missing_field");
    // Two private events: the new order's acknowledgement and its cancel.
    assert_eq!(summary["pseq"], 2);
    // Empty, one bid of 5 at 12864, empty again: the bid's checksum is
    // zlib.crc32(b"B" + struct.pack("<qQ", 12864, 5)).
    assert_eq!(summary["checksums"], json!([0, 1_110_109_264u32, 0]));
    let order_id = summary["order_id"].as_u64().expect("an order id");
    let book_seq = summary["book_seq"].as_u64().expect("the last book seq");

    // The venue agrees: the observer saw the same two updates, the level
    // and its removal, with the same numbers and checksums ...
    let added = observer.recv_type("book").await;
    assert_eq!(
        (
            &added["seq"],
            &added["bids"],
            &added["asks"],
            &added["checksum"]
        ),
        (
            &json!(1),
            &json!([[12864, 5, 1]]),
            &json!([]),
            &summary["checksums"][1]
        ),
        "{added}"
    );
    let removed = observer.recv_type("book").await;
    assert_eq!(
        (&removed["seq"], &removed["bids"], &removed["checksum"]),
        (&json!(2), &json!([[12864, 0, 0]]), &json!(0)),
        "{removed}"
    );
    // ... a fresh subscription sees the empty book, at the number the client
    // last saw (nothing else changed it) ...
    let mut md = Raw::connect(node.ws_addr).await;
    md.send(json!({"op":"subscribe","channel":"book.UST-10Y","depth":5}))
        .await;
    md.recv_type("subscribed").await;
    let snap = md.recv_type("book").await;
    assert_eq!(snap["snapshot"], true, "{snap}");
    assert_eq!(
        (&snap["bids"], &snap["asks"], &snap["checksum"]),
        (&json!([]), &json!([]), &json!(0)),
        "the book is empty again: {snap}"
    );
    assert_eq!(snap["seq"].as_u64(), Some(book_seq), "{snap}");
    // ... and participant 1's private stream holds exactly the client's two
    // events, the order cancelled with nothing filled.
    let mut p1 = Raw::connect(node.ws_addr).await;
    let logged = p1.login(1).await;
    assert_eq!(logged["pseq"], 2, "{logged}");
    p1.send(json!({"op":"status","order_id":order_id})).await;
    let st = p1.recv_type("exec").await;
    assert_eq!(
        (
            st["exec_type"].as_str(),
            st["ord_status"].as_str(),
            st["cum_qty_lots"].as_u64(),
            st["price_ticks"].as_i64()
        ),
        (Some("order_status"), Some("canceled"), Some(0), Some(12864)),
        "{st}"
    );
    node.shutdown().expect("stops");
}
