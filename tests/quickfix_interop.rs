//! Interoperability with an independent FIX engine: QuickFIX C++ 1.15.1
//! (Debian's `libquickfix-dev`, installed by `.ci/run`) logs on to the real
//! `venue run` binary as CLIENT1 and CLIENT2, with QuickFIX's own FIX 4.4
//! dictionary validating every message the venue sends. The scenario
//! (`tests/quickfix/README.md`): both log on, CLIENT1 rests orders, CLIENT2
//! fills some; CLIENT1 logs out, CLIENT2 fills the rest; CLIENT1 logs on
//! again, sees the venue's sequence ahead, ResendRequests and gets the
//! missed fills with PossDupFlag=Y, each exactly once. Then the venue is
//! killed with SIGKILL, restarted, and the same QuickFIX stores log on
//! again: sequence numbers carry on and the scenario passes a second time.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{fix_addr, signal, venue, wait_for};

/// Builds the QuickFIX programs once per test binary run.
fn build_harness() -> PathBuf {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("quickfix");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/quickfix/build.sh");
    let built = Command::new("bash")
        .arg(&script)
        .arg(&out)
        .output()
        .expect("bash runs");
    assert!(
        built.status.success(),
        "cannot build the QuickFIX harness (QuickFIX C++ is needed: \
         `apt-get install -y g++ libquickfix-dev`, which .ci/run does):\n{}{}",
        String::from_utf8_lossy(&built.stdout),
        String::from_utf8_lossy(&built.stderr)
    );
    out
}

fn run_initiator(bin: &Path, addr: &str, dir: &Path, fresh: bool) -> String {
    let port = addr.rsplit(':').next().unwrap();
    let mut cmd = Command::new(bin.join("qf-initiator"));
    cmd.args(["--port", port, "--scenario", "resend", "--orders", "6"])
        .args(["--timeout-secs", "30", "--dir"])
        .arg(dir);
    if fresh {
        cmd.arg("--fresh");
    }
    let out = cmd.output().expect("qf-initiator runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.lines().any(|l| l == "RESULT ok"),
        "QuickFIX scenario failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn quickfix_trades_logs_out_and_recovers_missed_fills_by_resend() {
    let bin = build_harness();
    let data = tempfile::tempdir().unwrap();
    let qf_dir = data.path().join("quickfix");

    let (mut child, rx) = venue(&data.path().join("venue"));
    let addr = fix_addr(&wait_for(&rx, "venue running"));
    let first = run_initiator(&bin, &addr, &qf_dir, true);
    assert!(
        first.contains("possdup=Y"),
        "fills came back by resend:\n{first}"
    );
    child.kill(); // SIGKILL: the stores and the journal must carry on

    let (child, rx) = venue(&data.path().join("venue"));
    let addr = fix_addr(&wait_for(&rx, "venue running"));
    let second = run_initiator(&bin, &addr, &qf_dir, false);
    assert!(second.contains("possdup=Y"), "{second}");
    assert!(
        !second.contains("MsgSeqNum_too_low"),
        "sequence numbers survived the restart:\n{second}"
    );
    signal(&child, libc::SIGTERM);
    wait_for(&rx, "journal closed");
}
