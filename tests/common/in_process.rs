//! The venue in-process, for the FIX tests and the FIX round-trip bench:
//! the journal, the sequencer thread and the FIX acceptor on 127.0.0.1 with
//! a free port, over the demonstration engine configuration.

#![allow(dead_code, reason = "each user takes part of it")]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use engine::sequencer::{Sequencer, SequencerConfig};
use gateway::fix::config::SessionConfig;
use journal::{Durability, JournalConfig};
use venue::fix_gateway::{FixSettings, Prepared, fix_dir};
use venue::runtime::{IdleStrategy, JournalLog, recover_with, spawn};

/// A running venue.
pub(crate) struct InProcess {
    pub(crate) addr: SocketAddr,
    /// Each FIX session's figures, by session name.
    pub(crate) metrics: Vec<(String, Arc<gateway::fix::metrics::SessionMetrics>)>,
    stop: Arc<AtomicBool>,
    fix: Option<JoinHandle<()>>,
    seq: Option<JoinHandle<Sequencer<JournalLog>>>,
}

impl InProcess {
    /// Starts on `data` (recovering what is there) with `sessions`.
    pub(crate) fn start(
        data: &Path,
        sessions: Vec<SessionConfig>,
        durability: Durability,
    ) -> InProcess {
        let settings = FixSettings {
            listen: "127.0.0.1:0".parse().expect("an address"),
            sessions,
            dir: fix_dir(data),
            idle_spins: 0,
            idle_yields: 0,
        };
        let mut prepared = Prepared::open(&settings).expect("session stores open");
        let max = prepared.snapshot_max_seq();
        let engine_config = engine::EngineConfig {
            orders_capacity: 1 << 18,
            ..venue::demo::engine_config()
        };
        let r = recover_with(
            &data.join("journal"),
            None,
            engine_config,
            JournalConfig {
                segment_size_bytes: 64 << 20,
                durability,
                ..JournalConfig::default()
            },
            max,
            &mut |s, t, e| prepared.observe(s, t, e),
        )
        .expect("recovers");
        let mut seq = Sequencer::new(
            r.engine,
            JournalLog::new(r.journal),
            SequencerConfig {
                gate_on_durable: !matches!(durability, Durability::Process),
                ..SequencerConfig::default()
            },
            r.last_time_ns,
        );
        let stop = Arc::new(AtomicBool::new(false));
        let last = seq.log().journal().last_seq();
        let started = venue::fix_gateway::start(
            &settings,
            prepared,
            venue::demo::fix_instruments(),
            seq.sender(),
            seq.receiver(),
            last,
            Arc::clone(&stop),
        )
        .expect("the acceptor starts");
        let (addr, wake, fix, metrics) =
            (started.addr, started.wake, started.thread, started.metrics);
        let seq = spawn(
            seq,
            None,
            IdleStrategy::default(),
            Arc::clone(&stop),
            move |_: &mut Sequencer<JournalLog>| wake.notify(),
        )
        .expect("the loop starts");
        InProcess {
            addr,
            metrics,
            stop,
            fix: Some(fix),
            seq: Some(seq),
        }
    }

    /// Stops both threads and closes the journal (as a graceful shutdown).
    pub(crate) fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(h) = self.fix.take() {
            h.join().expect("the FIX thread ends");
        }
        if let Some(h) = self.seq.take() {
            let (_, log) = h.join().expect("the loop ends").into_parts();
            log.into_journal().close().expect("the journal closes");
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.shutdown();
    }
}
