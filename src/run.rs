//! `venue run`: read the configuration, start the log, recover from the
//! data directory, run the sequencer and the gateways until Ctrl-C or
//! SIGTERM, then stop cleanly (FIX sessions logged out, a final snapshot,
//! the journal closed and synced) and exit 0.
//!
//! A second Ctrl-C or SIGTERM while stopping (or while still recovering)
//! exits at once with [`EXIT_SECOND_SIGNAL`], after flushing the log: no
//! final snapshot, and whatever the gateways had not yet sent is not sent.
//! That is safe because every acknowledged input is already in the journal
//! (a report leaves only after its input is appended, or synced when the
//! durability level says so); the next start replays it, as after a crash.
//! The handler is installed before recovery, so a first signal during a
//! long recovery stops the venue as soon as it has started.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result};
use journal::Durability;
use venue::logging::{LogFormat, LogGuard};
use venue::node::Node;

/// The exit code after a second signal (128 + SIGINT, as a shell reports
/// an interrupted command).
pub(crate) const EXIT_SECOND_SIGNAL: i32 = 130;

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
    pub(crate) ws_listen: Option<SocketAddr>,
    pub(crate) admin_listen: Option<SocketAddr>,
    pub(crate) durability: Option<DurabilityArg>,
    pub(crate) flush_interval_us: Option<u64>,
    pub(crate) log_format: Option<LogFormat>,
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
    if let Some(addr) = overrides.ws_listen {
        config.ws.listen = addr;
    }
    if let Some(addr) = overrides.admin_listen {
        config.admin.listen = addr;
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
    let mut log_settings = config.log.clone();
    if let Some(format) = overrides.log_format {
        log_settings.format = format;
    }
    // Shared with the signal handler, which flushes it before a second
    // signal's exit; taken back and dropped (flushed) when `run` ends.
    let log = Arc::new(Mutex::new(Some(venue::logging::init(&log_settings)?)));
    let signalled = Arc::new(AtomicBool::new(false));
    {
        let (signalled, log) = (Arc::clone(&signalled), Arc::clone(&log));
        ctrlc::set_handler(move || on_signal(&signalled, &log))
            .context("cannot install the Ctrl-C / SIGTERM handler")?;
    }
    let result = run_node(&config, data, &signalled);
    let guard = log.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some(dropped) = guard.as_ref().map(LogGuard::lines_dropped)
        && dropped > 0
    {
        eprintln!("warning: {dropped} log lines were dropped (standard error could not keep up)");
    }
    drop(guard);
    result
}

fn run_node(
    config: &venue::config::VenueConfig,
    data: &Path,
    signalled: &AtomicBool,
) -> Result<()> {
    let node = Node::start(config, data)?;
    println!("venue running; Ctrl-C to stop");
    tracing::info!(name = %config.name, "venue running");
    while !signalled.load(Ordering::Acquire)
        && !node.stop_flag().load(Ordering::Acquire)
        && !node.is_finished()
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    if signalled.load(Ordering::Acquire) {
        println!(
            "stopping: closing the gateways, then a final snapshot; \
             a second Ctrl-C or SIGTERM exits at once"
        );
        tracing::info!("stopping on a signal");
    }
    node.shutdown()
}

/// The Ctrl-C / SIGTERM handler (on `ctrlc`'s own thread): the first
/// signal asks the main thread to stop; the second exits the process.
fn on_signal(signalled: &AtomicBool, log: &Mutex<Option<LogGuard>>) {
    if !signalled.swap(true, Ordering::AcqRel) {
        return;
    }
    println!(
        "second signal: exiting at once (exit code {EXIT_SECOND_SIGNAL}), \
         without a final snapshot; the next start replays the journal"
    );
    tracing::warn!("second signal: exiting at once");
    // Dropping the guard flushes the lines waiting (tracing-appender waits
    // about a second at most).
    drop(log.lock().unwrap_or_else(PoisonError::into_inner).take());
    std::process::exit(EXIT_SECOND_SIGNAL);
}
