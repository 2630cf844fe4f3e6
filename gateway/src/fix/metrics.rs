//! Per-session figures for the metrics endpoint: plain atomics that the FIX
//! thread refreshes about once a millisecond and any thread may read.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use crate::fix::session::{Session, State};

/// One session's figures.
#[derive(Debug, Default)]
pub struct SessionMetrics {
    /// Logged on now.
    pub logged_on: AtomicBool,
    /// Next inbound MsgSeqNum expected.
    pub next_in_seq: AtomicU64,
    /// Next outbound MsgSeqNum.
    pub next_out_seq: AtomicU64,
    /// Rate-limit quota in use, in thousandths (1000 = the bucket is empty).
    pub quota_used_permille: AtomicU32,
    /// The highest quota use seen, in thousandths.
    pub quota_peak_permille: AtomicU32,
    /// The rate limit now: messages a second.
    pub rate_per_second: AtomicU32,
    /// The rate limit now: burst.
    pub rate_burst: AtomicU32,
    /// Application messages refused by the rate limiter.
    pub throttled: AtomicU64,
    /// Application messages that waited in the rate limiter.
    pub queued_by_rate: AtomicU64,
    /// Session-level Rejects sent.
    pub rejects_sent: AtomicU64,
    /// Garbled messages dropped.
    pub garbled: AtomicU64,
    /// Messages resent.
    pub resent: AtomicU64,
}

impl SessionMetrics {
    /// Copies the session's current figures.
    pub fn refresh(&self, s: &Session) {
        let stats = s.stats();
        self.logged_on
            .store(s.state() == State::LoggedOn, Ordering::Relaxed);
        self.next_in_seq.store(s.next_in_seq(), Ordering::Relaxed);
        self.next_out_seq.store(s.next_out_seq(), Ordering::Relaxed);
        let permille = (s.quota_used().clamp(0.0, 1.0) * 1000.0).round() as u32;
        self.quota_used_permille.store(permille, Ordering::Relaxed);
        self.quota_peak_permille
            .store(s.quota_peak_permille(), Ordering::Relaxed);
        let (per_second, burst) = s.rate();
        self.rate_per_second.store(per_second, Ordering::Relaxed);
        self.rate_burst.store(burst, Ordering::Relaxed);
        self.throttled.store(stats.throttled, Ordering::Relaxed);
        self.queued_by_rate
            .store(stats.queued_by_rate, Ordering::Relaxed);
        self.rejects_sent
            .store(stats.rejects_sent, Ordering::Relaxed);
        self.garbled.store(stats.garbled, Ordering::Relaxed);
        self.resent.store(stats.resent, Ordering::Relaxed);
    }

    /// Quota in use as a fraction, 0.0 to 1.0.
    #[must_use]
    pub fn quota_used(&self) -> f64 {
        f64::from(self.quota_used_permille.load(Ordering::Relaxed)) / 1000.0
    }
}
