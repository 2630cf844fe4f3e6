//! The `loadgen` command line: `run`, `check`, `plot`, `sink`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use loadgen::run::{INTERRUPTED, Options};
use loadgen::scenario::Scenario;
use loadgen::sink::{Sink, SinkMode};

/// Exit code when the run stopped early (partial results were written).
const EXIT_PARTIAL: u8 = 3;
/// Exit code when `--verify` found a mismatch.
const EXIT_MISMATCH: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "loadgen",
    version,
    about = "Certify a venue's capacity: open-loop load over FIX (or in-process), HDR latency, reconciliation against the journal, plots."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario against a venue and write the report.
    Run {
        /// The scenario file (see loadgen/scenarios/).
        scenario: PathBuf,
        /// Requests per second at full rate (overrides the scenario).
        #[arg(long)]
        rate: Option<f64>,
        /// Seconds of sending, warm-up included (overrides the scenario).
        #[arg(long)]
        duration: Option<f64>,
        /// The venue's FIX acceptor (overrides the scenario and the venue's
        /// configuration).
        #[arg(long)]
        fix: Option<SocketAddr>,
        /// Drive the matching loop inside loadgen, without sockets.
        #[arg(long)]
        in_process: bool,
        /// With --in-process: the data directory of the in-process venue
        /// (default: a temporary one, removed at the end).
        #[arg(long, requires = "in_process")]
        data: Option<PathBuf>,
        /// With --in-process: the journal's durability (overrides the
        /// venue's configuration, as `venue run --durability` does).
        #[arg(long, requires = "in_process", value_enum)]
        durability: Option<DurabilityArg>,
        /// After the run, reconcile what loadgen saw against the venue's
        /// journal; exit 2 on any mismatch.
        #[arg(long)]
        verify: bool,
        /// With --verify against a running venue: its data directory (or its
        /// journal directory).
        #[arg(long, default_value = "data")]
        journal: PathBuf,
        /// Where the report files go.
        #[arg(long, default_value = "loadgen-results")]
        out: PathBuf,
        /// File name stem of the report files (default: scenario-rate).
        #[arg(long)]
        name: Option<String>,
        /// The run's label in charts.
        #[arg(long)]
        label: Option<String>,
        /// No progress display.
        #[arg(long)]
        quiet: bool,
    },
    /// Check a scenario (and that it matches its venue's configuration).
    Check {
        /// The scenario file.
        scenario: PathBuf,
    },
    /// Overlay the latency-by-percentile curves of several runs.
    Plot {
        /// JSON reports written by `loadgen run`.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// The chart to write (SVG).
        #[arg(long, default_value = "loadgen-results/overlay.svg")]
        out: PathBuf,
    },
    /// A FIX acceptor that only reads (to measure loadgen itself), or with
    /// --answer acknowledges every order (to test loadgen).
    Sink {
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:9978")]
        listen: SocketAddr,
        /// Acknowledge every NewOrderSingle with an ExecutionReport.
        #[arg(long)]
        answer: bool,
        /// With --answer: hold every answer back for this many milliseconds…
        #[arg(long, requires = "answer")]
        stall_ms: Option<u64>,
        /// …starting this many milliseconds after the logon.
        #[arg(long, default_value_t = 1000)]
        stall_after_ms: u64,
    },
}

/// `--durability`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum DurabilityArg {
    Process,
    Group,
    Sync,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(path: &Path) -> Result<(Scenario, venue::config::VenueConfig)> {
    let scenario = Scenario::load(path)?;
    let venue = venue::config::load(&scenario.venue_config_path).with_context(|| {
        format!(
            "the scenario's venue_config ({})",
            scenario.venue_config_path.display()
        )
    })?;
    Ok((scenario, venue))
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Check { scenario } => {
            let (s, venue) = load(&scenario)?;
            let instruments = loadgen::run::instruments(&s, &venue)?;
            println!(
                "{}: ok ({} sessions, {} instruments, {}/s for {} s against {})",
                scenario.display(),
                s.file.sessions.len(),
                instruments.len(),
                s.file.load.rate,
                s.file.load.duration_s,
                venue.name
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Plot { reports, out } => {
            if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            loadgen::chart::plot_files(&reports, &out)?;
            println!("chart: {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Sink {
            listen,
            answer,
            stall_ms,
            stall_after_ms,
        } => {
            let sink = Sink::start(
                listen,
                SinkMode {
                    answer,
                    stall: stall_ms.map(|ms| {
                        (
                            std::time::Duration::from_millis(stall_after_ms),
                            std::time::Duration::from_millis(ms),
                        )
                    }),
                },
            )?;
            println!("sink listening on {} (Ctrl-C to stop)", sink.addr);
            ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::Release))
                .context("cannot install the Ctrl-C handler")?;
            let mut last = 0;
            while !INTERRUPTED.load(Ordering::Acquire) {
                std::thread::sleep(std::time::Duration::from_secs(1));
                let n = sink.received.load(Ordering::Relaxed);
                if n != last {
                    println!("received {n} ({}/s)", n - last);
                    last = n;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            scenario,
            rate,
            duration,
            fix,
            in_process,
            data,
            durability,
            verify,
            journal,
            out,
            name,
            label,
            quiet,
        } => {
            let (s, mut venue) = load(&scenario)?;
            if let Some(d) = durability {
                venue.durability = match d {
                    DurabilityArg::Process => journal::Durability::Process,
                    DurabilityArg::Sync => journal::Durability::Sync,
                    DurabilityArg::Group => match venue.durability {
                        g @ journal::Durability::Group { .. } => g,
                        _ => journal::Durability::Group {
                            flush_interval_us: 250,
                            flush_threshold_bytes: 4 << 20,
                        },
                    },
                };
            }
            ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::Release))
                .context("cannot install the Ctrl-C handler")?;
            let temp = match (&data, in_process) {
                (None, true) => Some(
                    tempfile::Builder::new()
                        .prefix("loadgen-venue-")
                        .tempdir_in(std::env::current_dir()?)
                        .context("cannot create a temporary data directory")?,
                ),
                _ => None,
            };
            let data_dir = data.or_else(|| temp.as_ref().map(|t| t.path().to_owned()));
            let opts = Options {
                rate,
                duration_s: duration,
                fix,
                in_process: data_dir.clone(),
                collect: verify,
                label,
                progress: !quiet,
            };
            let outcome = loadgen::run::run(&s, &venue, &opts)?;
            let r = &outcome.results;
            print!("{}", loadgen::report::summary(r));
            let stem = name.unwrap_or_else(|| format!("{}-{}", s.name, r.target_rate.round()));
            let written = loadgen::report::write_all(r, &out, &stem)?;
            for p in &written {
                println!("wrote {}", p.display());
            }
            let mut code = if r.complete {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_PARTIAL)
            };
            if verify {
                let dir = data_dir.unwrap_or(journal);
                let rec = loadgen::verify::reconcile(&outcome.observed, &dir, &venue.engine)
                    .with_context(|| {
                        format!("cannot reconcile against the journal in {}", dir.display())
                    })?;
                println!("{rec}");
                if !rec.is_ok() {
                    code = ExitCode::from(EXIT_MISMATCH);
                }
            }
            Ok(code)
        }
    }
}
