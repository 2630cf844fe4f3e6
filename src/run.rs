//! `venue run`: recover from the data directory, run the sequencer until
//! Ctrl-C or SIGTERM, then stop cleanly (a final snapshot, the journal
//! closed and synced).
//!
//! Until configuration files and the gateways arrive (later issues), the venue
//! runs the built-in demonstration configuration ([`venue::demo`]) and has no
//! way to receive orders from outside: it journals clock ticks and
//! checkpoints, and shows that recovery, the loop and shutdown work.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use engine::sequencer::{Sequencer, SequencerConfig};
use journal::{Durability, JournalConfig};
use venue::fix_gateway::{FixSettings, Prepared, fix_dir};
use venue::runtime::{
    IdleStrategy, JournalLog, SnapshotPolicy, recover_with, spawn, take_snapshot,
};

/// `--durability`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DurabilityArg {
    Process,
    Group,
    Sync,
}

impl DurabilityArg {
    pub(crate) fn to_journal(self, flush_interval_us: u64) -> Durability {
        match self {
            DurabilityArg::Process => Durability::Process,
            DurabilityArg::Group => Durability::Group {
                flush_interval_us,
                flush_threshold_bytes: 4 << 20,
            },
            DurabilityArg::Sync => Durability::Sync,
        }
    }
}

pub(crate) fn run(
    config_path: &Path,
    data: &Path,
    fix_listen: SocketAddr,
    durability: Durability,
) -> Result<()> {
    println!(
        "venue {} (engine {})",
        env!("CARGO_PKG_VERSION"),
        engine::VERSION
    );
    println!(
        "note: configuration files are not read yet ({} is ignored); running the built-in \
         demonstration venue (FIX sessions CLIENT1..CLIENT4 -> VENUE, no password).",
        config_path.display()
    );
    let journal_dir = data.join("journal");
    let snapshot_dir = data.join("snapshots");
    let journal_config = JournalConfig {
        durability,
        ..JournalConfig::default()
    };
    let gate_on_durable = !matches!(durability, Durability::Process);
    let fix_settings = FixSettings {
        listen: fix_listen,
        sessions: venue::demo::fix_sessions(),
        dir: fix_dir(data),
    };
    let mut prepared = Prepared::open(&fix_settings)?;
    let snapshot_max_seq = prepared.snapshot_max_seq();
    let r = recover_with(
        &journal_dir,
        Some(&snapshot_dir),
        venue::demo::engine_config(),
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
            tick_interval_ns: 1_000_000_000,
            gate_on_durable,
            ..SequencerConfig::default()
        },
        r.last_time_ns,
    );
    let stop = Arc::new(AtomicBool::new(false));
    let journal_last_seq = seq.log().journal().last_seq();
    let (fix_addr, fix_wake, fix_thread) = venue::fix_gateway::start(
        &fix_settings,
        prepared,
        venue::demo::fix_instruments(),
        seq.sender(),
        seq.receiver(),
        journal_last_seq,
        Arc::clone(&stop),
    )?;
    println!("FIX 4.4 acceptor listening on {fix_addr}");
    {
        let stop = Arc::clone(&stop);
        ctrlc::set_handler(move || stop.store(true, Ordering::Release))
            .context("cannot install the Ctrl-C / SIGTERM handler")?;
    }
    let policy = SnapshotPolicy {
        dir: snapshot_dir.clone(),
        every_inputs: 1_000_000,
    };
    let mut snapshots = policy.maintenance();
    let handle = spawn(
        seq,
        None,
        IdleStrategy::default(),
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
