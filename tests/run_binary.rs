//! The real `venue run` binary: it starts on an empty data directory, stops
//! cleanly on SIGTERM with a final snapshot, restarts from that snapshot, and
//! survives `kill -9` at random moments (each restart recovers, and the
//! journal verifies clean afterwards).
//!
//! `VENUE_KILLS=<n>` sets how many SIGKILL rounds (default 5).

use std::process::Command;
use std::time::Duration;

mod common;

use common::{signal, venue, wait_for};

#[test]
fn run_stops_cleanly_restarts_from_its_snapshot_and_survives_kill_9() {
    let data = tempfile::tempdir().unwrap();
    let (mut child, rx) = venue(data.path());
    let lines = wait_for(&rx, "venue running");
    assert!(
        lines.iter().any(|l| l.contains("from an empty state")),
        "{lines:#?}"
    );
    signal(&child, libc::SIGTERM);
    wait_for(&rx, "journal closed");
    assert!(child.0.wait().unwrap().success());

    let (mut child, rx) = venue(data.path());
    let lines = wait_for(&rx, "venue running");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("from the snapshot at sequence")),
        "{lines:#?}"
    );
    signal(&child, libc::SIGTERM);
    wait_for(&rx, "journal closed");
    assert!(child.0.wait().unwrap().success());

    let kills: u32 = std::env::var("VENUE_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    for round in 0..kills {
        let (mut child, rx) = venue(data.path());
        wait_for(&rx, "venue running");
        // Let it journal a tick or two, at a moment that varies by round.
        std::thread::sleep(Duration::from_millis(u64::from(round % 7) * 150));
        child.kill(); // SIGKILL
    }

    let (mut child, rx) = venue(data.path());
    wait_for(&rx, "venue running");
    signal(&child, libc::SIGTERM);
    wait_for(&rx, "journal closed");
    assert!(child.0.wait().unwrap().success());
    let verify = Command::new(env!("CARGO_BIN_EXE_venue"))
        .args(["journal", "verify"])
        .arg(data.path().join("journal"))
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
}
