//! Running the FIX acceptor beside the sequencer: opening the session
//! stores, re-deriving undelivered execution reports after a crash, and the
//! gateway thread.
//!
//! Exactly-once execution reports across a crash: every event the engine
//! emits for a participant is stored in its session's message store, with
//! its position in the engine's event stream, before it is written to the
//! socket; a delivery watermark says through which input every event was
//! handled. On restart the replay of the journal shows the gateway every
//! event after the newest snapshot that is old enough, and the gateway
//! stores those after each session's last stored position: nothing the
//! journal accounts for is lost, nothing is stored twice.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use engine::Event;
use engine::sequencer::{InputSender, OutputReceiver};
use gateway::fix::acceptor::{Acceptor, WakeHandle};
use gateway::fix::app::{FixApp, InstrumentInfo};
use gateway::fix::config::SessionConfig;
use gateway::fix::metrics::SessionMetrics;
use gateway::fix::session::Session;
use gateway::fix::store::{MessageStore, Watermark};

use tracing::{error, info, warn};

use crate::runtime::wall_clock_ns;

/// The FIX gateway's settings.
#[derive(Clone, Debug)]
pub struct FixSettings {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The sessions.
    pub sessions: Vec<SessionConfig>,
    /// Where the session stores and the delivery watermark live.
    pub dir: PathBuf,
    /// Idle turns spent polling without blocking, then yielding, before
    /// the thread blocks in epoll (woken by a socket or the sequencer).
    /// 0 and 0 suit a small machine that also runs the clients.
    pub idle_spins: u32,
    /// See `idle_spins`.
    pub idle_yields: u32,
}

/// Session stores opened before recovery, and what the replay must show.
#[derive(Debug)]
pub struct Prepared {
    sessions: Vec<Session>,
    watermark: Watermark,
    fresh: bool,
    /// Replayed events the gateway must still deliver.
    pending: Vec<(u64, u64, Event)>,
}

impl Prepared {
    /// Gives every session the rate limit the operator last set for its
    /// participant (kept in the engine's state), where there is one.
    pub fn apply_rate_limits(&mut self, engine: &engine::Engine) {
        for s in &mut self.sessions {
            if let Some((per_second, burst)) = engine.rate_limit(s.config().participant) {
                s.set_rate(per_second, burst);
            }
        }
    }

    /// Opens every session's store and the watermark.
    ///
    /// # Errors
    /// A store cannot be opened.
    pub fn open(settings: &FixSettings) -> Result<Prepared> {
        let watermark_path = settings.dir.join("delivered");
        let fresh = !watermark_path.exists();
        let watermark = Watermark::open(&watermark_path)?;
        let mut sessions = Vec::new();
        for (i, config) in settings.sessions.iter().enumerate() {
            let path = settings.dir.join(format!("{}.log", config.name()));
            let store = MessageStore::open(&path, wall_clock_ns())
                .with_context(|| format!("cannot open the message store of {}", config.name()))?;
            if store.cut_bytes > 0 {
                warn!(
                    bytes = store.cut_bytes,
                    store = %path.display(),
                    "cut a torn tail from a FIX message store"
                );
            }
            sessions.push(Session::new(config.clone(), i, store));
        }
        Ok(Prepared {
            sessions,
            watermark,
            fresh,
            pending: Vec::new(),
        })
    }

    /// The newest snapshot recovery may start from: events after it are
    /// re-derived for sessions that had not stored them.
    #[must_use]
    pub fn snapshot_max_seq(&self) -> u64 {
        if self.fresh {
            return u64::MAX;
        }
        let w = self.watermark.get();
        self.sessions
            .iter()
            .map(|s| w.max(s.engine_pos().seq.saturating_sub(1)))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Sees one replayed event.
    pub fn observe(&mut self, seq: u64, time_ns: u64, event: &Event) {
        if self.fresh || seq <= self.watermark.get() {
            return;
        }
        if matches!(event, Event::BookLevel(_) | Event::Trade(_)) {
            return;
        }
        self.pending.push((seq, time_ns, *event));
    }

    /// Events waiting for delivery.
    #[must_use]
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }
}

/// A running FIX gateway.
#[derive(Debug)]
pub struct Started {
    /// Where it listens.
    pub addr: SocketAddr,
    /// For the sequencer thread: wakes the acceptor when outputs are ready.
    pub wake: WakeHandle,
    /// Each session's figures, by session name.
    pub metrics: Vec<(String, Arc<SessionMetrics>)>,
    /// The thread; it ends after `stop` is set.
    pub thread: JoinHandle<()>,
}

/// Starts the acceptor on its own thread. `journal_last_seq` is where the
/// journal ended at recovery.
///
/// # Errors
/// The listener cannot be bound, or a store write failed.
pub fn start(
    settings: &FixSettings,
    mut prepared: Prepared,
    instruments: Vec<InstrumentInfo>,
    sender: InputSender,
    outputs: OutputReceiver,
    journal_last_seq: u64,
    stop: Arc<AtomicBool>,
) -> Result<Started> {
    let app = FixApp::new(sender, instruments);
    let sessions = std::mem::take(&mut prepared.sessions);
    let mut acceptor = Acceptor::bind(settings.listen, sessions, app, outputs)
        .with_context(|| format!("cannot listen for FIX on {}", settings.listen))?;
    let addr = acceptor.local_addr()?;
    let wake = acceptor.wake_handle();
    let metrics = acceptor.metrics();
    let now = wall_clock_ns();
    let redelivered = prepared.pending.len();
    for (seq, time_ns, event) in prepared.pending.drain(..) {
        acceptor.deliver_replayed(seq, time_ns, &event, now);
    }
    if redelivered > 0 {
        println!("fix: {redelivered} replayed events checked for undelivered execution reports");
        info!(
            events = redelivered,
            "FIX: replayed events checked for undelivered execution reports"
        );
    }
    let mut watermark = prepared.watermark;
    watermark.set(journal_last_seq)?;
    let handle = std::thread::Builder::new()
        .name("venue-fix".to_owned())
        .spawn({
            let (spins, yields) = (settings.idle_spins, settings.idle_yields);
            move || gateway_loop(acceptor, watermark, &stop, spins, yields)
        })
        .context("cannot spawn the FIX gateway thread")?;
    Ok(Started {
        addr,
        wake,
        metrics,
        thread: handle,
    })
}

fn gateway_loop(
    mut acceptor: Acceptor,
    mut watermark: Watermark,
    stop: &AtomicBool,
    spins: u32,
    yields: u32,
) {
    // Idle strategy: spin, then yield, then block in the poller (woken by
    // a socket or by the sequencer's notification; 10 ms at most, for
    // timers).
    let mut empty: u32 = 0;
    loop {
        let turn = if empty < spins + yields {
            acceptor.run_once(wall_clock_ns(), Some(Duration::ZERO))
        } else {
            acceptor.run_once_parked(wall_clock_ns(), Duration::from_millis(10))
        };
        let work = match turn {
            Ok(w) => w,
            Err(e) => {
                error!(error = %e, "the FIX gateway's poller failed; FIX is down");
                return;
            }
        };
        if let Err(e) = watermark.set(acceptor.handled_through()) {
            warn!(error = %e, "cannot write the FIX delivery watermark");
        }
        if work > 0 {
            empty = 0;
        } else {
            empty = empty.saturating_add(1);
            if empty < spins {
                std::hint::spin_loop();
            } else if empty < spins + yields {
                std::thread::yield_now();
            }
        }
        if stop.load(Ordering::Acquire) {
            acceptor.logout_all(wall_clock_ns(), "venue shutting down");
            for _ in 0..50 {
                let _ = acceptor.run_once(wall_clock_ns(), Some(Duration::from_millis(10)));
                let _ = watermark.set(acceptor.handled_through());
            }
            return;
        }
    }
}

/// The session store directory under a data directory.
#[must_use]
pub fn fix_dir(data: &Path) -> PathBuf {
    data.join("fix")
}
