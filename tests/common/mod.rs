//! Shared by the integration tests: child-process guards, order builders.
#![allow(dead_code, reason = "each test crate uses part of this module")]

pub(crate) mod fix_client;
pub(crate) mod in_process;
pub(crate) mod ws_raw;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use engine::{ClOrdId, Input, InstrumentId, NewOrder, OrdType, ParticipantId, Side, TimeInForce};

/// A child process that is killed when dropped, so that a failing assertion
/// never leaves a venue running after the test.
#[derive(Debug)]
pub(crate) struct ChildGuard(pub(crate) Child);

impl ChildGuard {
    /// SIGKILL and reap (idempotent).
    pub(crate) fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A GTC limit order on instrument 1.
pub(crate) fn limit(
    participant: ParticipantId,
    cl_ord_id: ClOrdId,
    buy: bool,
    price_ticks: i64,
    qty_lots: u64,
) -> Input {
    Input::NewOrder(NewOrder {
        participant,
        instrument: InstrumentId(1),
        cl_ord_id,
        side: if buy { Side::Buy } else { Side::Sell },
        ord_type: OrdType::Limit,
        tif: TimeInForce::Gtc,
        price_ticks: Some(price_ticks),
        stop_price_ticks: None,
        qty_lots,
        display_qty_lots: 0,
        min_qty_lots: 0,
        post_only: false,
        expire_time_ns: None,
    })
}

/// Starts the real `venue run` on `data`, its FIX acceptor on a free port;
/// its stdout lines arrive on the receiver.
pub(crate) fn venue(data: &Path) -> (ChildGuard, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_venue"))
        .args([
            "run",
            "--fix-listen",
            "127.0.0.1:0",
            "--ws-listen",
            "127.0.0.1:0",
        ])
        .args(["--admin-listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .stdout(Stdio::piped())
        .env("RUST_LOG", "warn")
        .stderr(Stdio::inherit())
        .spawn()
        .expect("venue starts");
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (ChildGuard(child), rx)
}

/// Lines up to and including the one containing `needle`.
pub(crate) fn wait_for(rx: &mpsc::Receiver<String>, needle: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no {needle:?} in {seen:#?}"));
        let done = line.contains(needle);
        seen.push(line);
        if done {
            return seen;
        }
    }
}

/// The FIX address `venue run` printed among `lines`.
pub(crate) fn fix_addr(lines: &[String]) -> String {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("FIX 4.4 acceptor listening on "))
        .unwrap_or_else(|| panic!("no FIX address in {lines:#?}"))
        .to_owned()
}

/// Sends `sig` to the child.
pub(crate) fn signal(child: &ChildGuard, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(child.0.id()).expect("pid fits");
    // SAFETY: `kill` only sends a signal to the child we spawned and still own.
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(rc, 0, "kill failed");
}

/// The example configuration (`examples/venue.toml`) with both listeners
/// on free ports, the journal in `process` durability and no periodic
/// snapshots: a whole venue for a test to start with `venue::node::Node`.
pub(crate) fn example_config_for_tests() -> venue::config::VenueConfig {
    let mut config =
        venue::config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/venue.toml"))
            .expect("the example configuration loads");
    config.fix_listen = "127.0.0.1:0".parse().expect("addr");
    config.ws.listen = "127.0.0.1:0".parse().expect("addr");
    config.admin.listen = "127.0.0.1:0".parse().expect("addr");
    config.durability = journal::Durability::Process;
    config.snapshot_every_inputs = 0;
    config
}
