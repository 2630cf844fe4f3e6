//! `venue run`: read the configuration, recover from the data directory, run
//! the sequencer and the FIX acceptor until Ctrl-C or SIGTERM, then stop
//! cleanly (FIX sessions logged out, a final snapshot, the journal closed and
//! synced).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result};
use journal::Durability;
use venue::node::Node;

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
    let node = Node::start(&config, data)?;
    {
        let stop = node.stop_flag();
        ctrlc::set_handler(move || stop.store(true, Ordering::Release))
            .context("cannot install the Ctrl-C / SIGTERM handler")?;
    }
    println!("venue running; Ctrl-C to stop");
    while !node.stop_flag().load(Ordering::Acquire) && !node.is_finished() {
        std::thread::sleep(Duration::from_millis(50));
    }
    node.shutdown()
}
