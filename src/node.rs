//! A running venue: recovery, the sequencer thread, and both gateways,
//! started from a checked configuration. `venue run` is this plus signal
//! handling; the integration tests start one in-process.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use engine::sequencer::{InputSender, Sequencer, SequencerConfig};
use gateway::ws::hub::WsMetrics;
use gateway::ws::server::WsServer;
use journal::{Durability, JournalConfig};

use crate::config::VenueConfig;
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
    /// The WebSocket gateway's figures.
    pub ws_metrics: Arc<WsMetrics>,
    stop: Arc<AtomicBool>,
    sender: InputSender,
    fix_thread: Option<JoinHandle<()>>,
    ws: Option<WsServer>,
    seq: Option<JoinHandle<Sequencer<JournalLog>>>,
    snapshot_dir: PathBuf,
    metrics: MetricsSources,
    metrics_thread: Option<JoinHandle<()>>,
}

impl Node {
    /// Recovers from `data` and starts everything.
    ///
    /// # Errors
    /// Recovery failed, or a listener or thread could not start.
    pub fn start(config: &VenueConfig, data: &Path) -> Result<Node> {
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
            eprintln!("warning: {w}");
        }
        if let Some(cut) = &r.report.cut {
            eprintln!(
                "warning: cut a torn journal tail of {} bytes at offset {} of {} ({})",
                cut.bytes,
                cut.offset,
                cut.segment.display(),
                cut.reason
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
        let [fix_outputs, ws_outputs]: [_; 2] = seq
            .route_outputs(crate::ws_gateway::routes(config))
            .try_into()
            .map_err(|_| anyhow::anyhow!("expected two output rings"))?;
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
        let ws = gateway::ws::server::start(
            config.ws.clone(),
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
        let metrics = MetricsSources::new(
            seq.metrics(),
            crate::ws_gateway::ROUTE_NAMES.map(str::to_owned).to_vec(),
            FixSessionSource::from_gateway(&fix.metrics, &config.fix_sessions),
            Arc::clone(&ws.metrics),
            config.quota_warning_threshold,
        );
        let ws_wake = ws.wake.clone();
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
                fix_wake.notify();
                ws_wake.notify();
            },
        )?;
        let metrics_thread =
            crate::metrics::spawn_quota_watch(Arc::clone(&metrics.quota), Arc::clone(&stop))
                .inspect_err(|_| stop.store(true, Ordering::Release))?;
        Ok(Node {
            fix_addr: fix.addr,
            ws_addr: ws.addr,
            ws_metrics: Arc::clone(&ws.metrics),
            stop,
            sender,
            fix_thread: Some(fix_thread),
            ws: Some(ws),
            seq: Some(handle),
            snapshot_dir,
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
            eprintln!("error: the FIX gateway thread panicked");
        }
        if let Some(ws) = self.ws.take() {
            ws.join();
        }
        if let Some(t) = self.metrics_thread.take()
            && t.join().is_err()
        {
            eprintln!("error: the metrics thread panicked");
        }
        let Some(handle) = self.seq.take() else {
            return Ok(());
        };
        let mut seq = handle
            .join()
            .map_err(|_| anyhow::anyhow!("the sequencer thread panicked"))?;
        if let Some(reason) = seq.halted() {
            eprintln!("error: the venue halted: the journal failed: {reason}");
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
        Ok(())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // A node dropped without `shutdown` (a failing test) still stops
        // its threads.
        self.stop.store(true, Ordering::Release);
    }
}
