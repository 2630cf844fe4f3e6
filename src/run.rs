//! `venue run`: read the configuration, recover from the data directory, run
//! the sequencer and the FIX acceptor until Ctrl-C or SIGTERM, then stop
//! cleanly (FIX sessions logged out, a final snapshot, the journal closed and
//! synced).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use engine::sequencer::{Sequencer, SequencerConfig};
use journal::{Durability, JournalConfig};
use venue::fix_gateway::{FixSettings, Prepared, fix_dir};
use venue::runtime::{JournalLog, SnapshotPolicy, recover_with, spawn, take_snapshot};

/// `--durability`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DurabilityArg {
    Process,
    Group,
    Sync,
}

/// Command-line overrides of the configuration file.
#[derive(Debug, Default)]
pub(crate) struct Overrides {
    pub(crate) fix_listen: Option<SocketAddr>,
    pub(crate) durability: Option<DurabilityArg>,
    pub(crate) flush_interval_us: Option<u64>,
}

pub(crate) fn run(config_path: &Path, data: &Path, overrides: &Overrides) -> Result<()> {
    println!(
        "venue {} (engine {})",
        env!("CARGO_PKG_VERSION"),
        engine::VERSION
    );
    let mut config = venue::config::load(config_path)?;
    if let Some(addr) = overrides.fix_listen {
        config.fix_listen = addr;
    }
    let flush_interval_us = overrides
        .flush_interval_us
        .unwrap_or(match config.durability {
            Durability::Group {
                flush_interval_us, ..
            } => flush_interval_us,
            _ => 250,
        });
    config.durability = match overrides.durability {
        Some(DurabilityArg::Process) => Durability::Process,
        Some(DurabilityArg::Sync) => Durability::Sync,
        Some(DurabilityArg::Group) => Durability::Group {
            flush_interval_us,
            flush_threshold_bytes: 4 << 20,
        },
        None => match config.durability {
            Durability::Group {
                flush_threshold_bytes,
                ..
            } => Durability::Group {
                flush_interval_us,
                flush_threshold_bytes,
            },
            other => other,
        },
    };
    let durability = match config.durability {
        Durability::Process => "process (reports leave at once)".to_owned(),
        Durability::Group {
            flush_interval_us, ..
        } => format!("group (synced every {flush_interval_us} µs; reports wait for it)"),
        Durability::Sync => "sync (every input synced)".to_owned(),
    };
    println!(
        "{} (from {}): {} instruments, {} participants, {} FIX sessions; journal durability {durability}",
        config.name,
        config_path.display(),
        config.engine.instruments.len(),
        config.engine.participants.len(),
        config.fix_sessions.len(),
    );
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
    let seq = Sequencer::new(
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
    let journal_last_seq = seq.log().journal().last_seq();
    let fix = venue::fix_gateway::start(
        &fix_settings,
        prepared,
        config.instruments.clone(),
        seq.sender(),
        seq.receiver(),
        journal_last_seq,
        Arc::clone(&stop),
    )?;
    println!("FIX 4.4 acceptor listening on {}", fix.addr);
    let (fix_wake, fix_thread) = (fix.wake, fix.thread);
    {
        let stop = Arc::clone(&stop);
        ctrlc::set_handler(move || stop.store(true, Ordering::Release))
            .context("cannot install the Ctrl-C / SIGTERM handler")?;
    }
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
        },
    )?;
    println!("venue running; Ctrl-C to stop");
    while !stop.load(Ordering::Acquire) && !handle.is_finished() {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Release);
    if fix_thread.join().is_err() {
        eprintln!("error: the FIX gateway thread panicked");
    }
    let mut seq = handle
        .join()
        .map_err(|_| anyhow::anyhow!("the sequencer thread panicked"))?;
    if let Some(reason) = seq.halted() {
        eprintln!("error: the venue halted: the journal failed: {reason}");
    }
    let path = take_snapshot(&mut seq, &snapshot_dir).context("final snapshot failed")?;
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
