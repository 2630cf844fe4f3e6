//! Shared by the integration tests that run child processes.

use std::process::Child;

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
