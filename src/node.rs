//! A running venue: recovery, the sequencer thread, and both gateways,
//! started from a checked configuration. `venue run` is this plus signal
//! handling; the integration tests start one in-process.
//!
//! A node holds its data directory's lock ([`DataLock`]) from before it
//! opens anything there until its threads have ended and the journal is
//! closed, so two nodes never write one directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use engine::sequencer::{InputSender, Sequencer, SequencerConfig};
use gateway::fix::metrics::SessionMetrics;
use gateway::ws::hub::WsMetrics;
use gateway::ws::server::WsServer;
use journal::{Durability, JournalConfig};
use tracing::{error, info, warn};

use crate::admin::{AdminDeps, AdminServer};
use crate::config::VenueConfig;
use crate::data_lock::DataLock;
use crate::fix_gateway::{FixSettings, Prepared, fix_dir};
use crate::metrics::{FixSessionSource, MetricsSources};
use crate::runtime::{JournalLog, SnapshotPolicy, recover_with, spawn, take_snapshot};

/// See the module docs.
#[derive(Debug)]
pub struct Node {
    /// Where the FIX acceptor listens.
    pub fix_addr: SocketAddr,
    /// Where the WebSocket API listens.
    pub ws_addr: SocketAddr,
    /// Where the admin API listens.
    pub admin_addr: SocketAddr,
    /// The WebSocket gateway's figures.
    pub ws_metrics: Arc<WsMetrics>,
    /// Each FIX session's figures, by session name.
    pub fix_metrics: Vec<(String, Arc<SessionMetrics>)>,
    stop: Arc<AtomicBool>,
    admin: Option<AdminServer>,
    sender: InputSender,
    fix_thread: Option<JoinHandle<()>>,
    ws: Option<WsServer>,
    seq: Option<JoinHandle<Sequencer<JournalLog>>>,
    snapshot_dir: PathBuf,
    /// Dropped last, after the threads have ended (see `Drop`).
    _lock: DataLock,
    metrics: MetricsSources,
    metrics_thread: Option<JoinHandle<()>>,
}

impl Node {
    /// Recovers from `data` and starts everything.
    ///
    /// # Errors
    /// Another venue holds `data`, recovery failed, or a listener or thread
    /// could not start.
    pub fn start(config: &VenueConfig, data: &Path) -> Result<Node> {
        let lock = DataLock::acquire(data)?;
        let journal_dir = data.join("journal");
        let snapshot_dir = data.join("snapshots");
        let journal_config = JournalConfig {
            durability: config.durability,
            segment_size_bytes: config.segment_size_bytes,
            ..JournalConfig::default()
        };
        let gate_on_durable = !matches!(config.durability, Durability::Process);
        let fix_settings = FixSettings {
            listen: config.fix_listen,
            sessions: config.fix_sessions.clone(),
            dir: fix_dir(data),
            idle_spins: config.fix_idle.0,
            idle_yields: config.fix_idle.1,
        };
        let mut prepared = Prepared::open(&fix_settings)?;
        let snapshot_max_seq = prepared.snapshot_max_seq();
        let r = recover_with(
            &journal_dir,
            Some(&snapshot_dir),
            config.engine.clone(),
            journal_config,
            snapshot_max_seq,
            &mut |seq, time_ns, event| prepared.observe(seq, time_ns, event),
        )?;
        for w in &r.warnings {
            warn!(warning = %w, "snapshot skipped");
        }
        if let Some(cut) = &r.report.cut {
            warn!(
                bytes = cut.bytes,
                offset = cut.offset,
                segment = %cut.segment.display(),
                reason = %cut.reason,
                "cut a torn journal tail"
            );
        }
        let start = match r.from_snapshot {
            Some(seq) => format!("from the snapshot at sequence {seq}"),
            None => "from an empty state (no snapshot)".to_owned(),
        };
        println!(
            "recovered {} {start}: {} journaled inputs replayed in {:.1} ms; state hash {:016x}",
            journal_dir.display(),
            r.replayed,
            r.elapsed.as_secs_f64() * 1e3,
            r.engine.state_hash()
        );
        info!(
            journal = %journal_dir.display(),
            snapshot_seq = r.from_snapshot,
            replayed = r.replayed,
            elapsed_us = r.elapsed.as_micros() as u64,
            state_hash = %format_args!("{:016x}", r.engine.state_hash()),
            "recovered"
        );
        // Rate limits the operator changed (journaled, so in the engine's
        // state) replace the configuration's in both gateways.
        prepared.apply_rate_limits(&r.engine);
        let mut ws_config = config.ws.clone();
        for p in &mut ws_config.participants {
            if let Some((per_second, burst)) = r.engine.rate_limit(p.id) {
                p.rate_per_second = per_second;
                p.rate_burst = burst;
            }
        }
        let mut seq = Sequencer::new(
            r.engine,
            JournalLog::new(r.journal),
            SequencerConfig {
                inbound_capacity: config.inbound_ring,
                outbound_capacity: config.outbound_ring,
                tick_interval_ns: config.tick_interval_ns,
                checkpoint_every_inputs: config.checkpoint_every_inputs,
                gate_on_durable,
                ..SequencerConfig::default()
            },
            r.last_time_ns,
        );
        let stop = Arc::new(AtomicBool::new(false));
        let sender = seq.sender();
        let journal_last_seq = seq.log().journal().last_seq();
        let books = crate::ws_gateway::books(seq.engine());
        let [fix_outputs, ws_outputs, admin_outputs]: [_; 3] = seq
            .route_outputs(crate::ws_gateway::routes(config))
            .try_into()
            .map_err(|_| anyhow::anyhow!("expected three output rings"))?;
        let fix = crate::fix_gateway::start(
            &fix_settings,
            prepared,
            config.instruments.clone(),
            seq.sender(),
            fix_outputs,
            journal_last_seq,
            Arc::clone(&stop),
        )?;
        println!("FIX 4.4 acceptor listening on {}", fix.addr);
        info!(addr = %fix.addr, "FIX 4.4 acceptor listening");
        let ws = gateway::ws::server::start(
            ws_config,
            seq.sender(),
            ws_outputs,
            &books,
            (journal_last_seq, seq.last_time_ns()),
            Arc::clone(&stop),
        )
        .with_context(|| format!("cannot start the WebSocket API on {}", config.ws.listen))?;
        println!(
            "WebSocket API listening on {}://{}",
            if config.ws.tls.is_some() { "wss" } else { "ws" },
            ws.addr
        );
        info!(addr = %ws.addr, tls = config.ws.tls.is_some(), "WebSocket API listening");
        let metrics = MetricsSources::new(
            seq.metrics(),
            crate::ws_gateway::ROUTE_NAMES.map(str::to_owned).to_vec(),
            FixSessionSource::from_gateway(&fix.metrics, &config.fix_sessions),
            Arc::clone(&ws.metrics),
            config.quota_warning_threshold,
        );
        let ready = Arc::new(AtomicBool::new(false));
        let journal_failed = Arc::new(Mutex::new(None));
        let admin = crate::admin::start(
            config.admin.listen,
            AdminDeps {
                instruments: config.instruments.clone(),
                participants: config.participant_names.clone(),
                token_hash: config.admin.token_hash.clone(),
                fix_sessions: fix.metrics.clone(),
                ws_metrics: Arc::clone(&ws.metrics),
                ws_rates: Arc::clone(&ws.rates),
                ready: Arc::clone(&ready),
                stop: Arc::clone(&stop),
                journal_failed: Arc::clone(&journal_failed),
                metrics: {
                    let sources = metrics.clone();
                    Arc::new(move || crate::metrics::render(&sources))
                },
            },
            seq.engine(),
            seq.sender(),
            admin_outputs,
        )?;
        println!(
            "admin API listening on http://{}{}",
            admin.addr,
            if config.admin.token_hash.is_some() {
                ""
            } else {
                " (operator actions disabled: no [admin] token_hash)"
            }
        );
        info!(addr = %admin.addr, actions = config.admin.token_hash.is_some(), "admin API listening");
        let ws_wake = ws.wake.clone();
        let fix_metrics = fix.metrics.clone();
        let (fix_wake, fix_thread) = (fix.wake, fix.thread);
        let policy = SnapshotPolicy {
            dir: snapshot_dir.clone(),
            every_inputs: config.snapshot_every_inputs,
        };
        let mut snapshots = policy.maintenance();
        let handle = spawn(
            seq,
            config.core,
            config.idle,
            Arc::clone(&stop),
            move |seq: &mut Sequencer<JournalLog>| {
                snapshots(seq);
                if let Some(reason) = seq.halted() {
                    let mut failed = journal_failed
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    if failed.is_none() {
                        *failed = Some(reason.to_owned());
                    }
                }
                fix_wake.notify();
                ws_wake.notify();
            },
        )?;
        let metrics_thread =
            crate::metrics::spawn_quota_watch(Arc::clone(&metrics.quota), Arc::clone(&stop))
                .inspect_err(|_| stop.store(true, Ordering::Release))?;
        ready.store(true, Ordering::Release);
        Ok(Node {
            fix_addr: fix.addr,
            ws_addr: ws.addr,
            admin_addr: admin.addr,
            ws_metrics: Arc::clone(&ws.metrics),
            fix_metrics,
            stop,
            admin: Some(admin),
            sender,
            fix_thread: Some(fix_thread),
            ws: Some(ws),
            seq: Some(handle),
            snapshot_dir,
            _lock: lock,
            metrics,
            metrics_thread: Some(metrics_thread),
        })
    }

    /// What the metrics endpoint renders (`venue::metrics::render`).
    #[must_use]
    pub fn metrics_sources(&self) -> MetricsSources {
        self.metrics.clone()
    }

    /// A producer handle on the sequencer's inbound ring, beside the
    /// gateways': for load tools and benchmarks that drive the venue at a
    /// rate no client connection could (`benches/ws_fanout.rs`). Inputs sent
    /// here bypass every gateway check (logins, rate limits, decimal
    /// conversion); the engine still checks them as it does any input.
    /// Their origin is `ORIGIN_NONE` unless sent with `send_from`, so a
    /// refusal (a full ring) reaches no client.
    #[must_use]
    pub fn input_sender(&self) -> InputSender {
        self.sender.clone()
    }

    /// Set it to stop the venue.
    #[must_use]
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// Whether the sequencer thread ended (it only does when stopped).
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.seq.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops cleanly: gateways first (sessions logged out, connections
    /// closed), then the loop; a final snapshot; the journal closed.
    ///
    /// # Errors
    /// The snapshot or the journal's close failed, or a thread panicked.
    pub fn shutdown(mut self) -> Result<()> {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.fix_thread.take()
            && t.join().is_err()
        {
            error!("the FIX gateway thread panicked");
        }
        if let Some(ws) = self.ws.take() {
            ws.join();
        }
        if let Some(admin) = self.admin.take() {
            admin.join();
        }
        if let Some(t) = self.metrics_thread.take()
            && t.join().is_err()
        {
            error!("the metrics thread panicked");
        }
        let Some(handle) = self.seq.take() else {
            return Ok(());
        };
        let mut seq = handle
            .join()
            .map_err(|_| anyhow::anyhow!("the sequencer thread panicked"))?;
        if let Some(reason) = seq.halted() {
            error!(%reason, "the venue halted: the journal failed");
        }
        let path = take_snapshot(&mut seq, &self.snapshot_dir).context("final snapshot failed")?;
        let last = seq.log().journal().last_seq();
        let (_, log) = seq.into_parts();
        log.into_journal()
            .close()
            .context("cannot close the journal")?;
        println!(
            "stopped at sequence {last}; snapshot {} written, journal closed",
            path.display()
        );
        info!(seq = last, snapshot = %path.display(), "stopped; journal closed");
        Ok(())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // A node dropped without `shutdown` (a failing test, or a test of
        // a crash) still stops its threads, and waits for them, so that the
        // data directory's lock is released only when nothing writes there
        // any more. No final snapshot: the journal is synced and closed as
        // it is dropped.
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.fix_thread.take() {
            let _ = t.join();
        }
        if let Some(ws) = self.ws.take() {
            ws.join();
        }
        if let Some(admin) = self.admin.take() {
            admin.join();
        }
        if let Some(seq) = self.seq.take() {
            let _ = seq.join();
        }
    }
}
