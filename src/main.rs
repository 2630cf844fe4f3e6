//! The `venue` command line.
//!
//! Until the matching-loop issue lands, `venue run` cannot serve traffic: it
//! prints the engine's version and runs a short self-check of the engine
//! (determinism and snapshot round trip) so that the quick start is honest.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

mod journal_cmd;
mod selfcheck;

#[derive(Debug, Parser)]
#[command(
    name = "venue",
    version,
    about = "An in-process matching and OTC venue engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the venue (for now: version and an engine self-check).
    Run {
        /// Venue configuration file.
        #[arg(long, default_value = "examples/venue.toml")]
        config: std::path::PathBuf,
    },
    /// Inspect and check a journal directory.
    #[command(subcommand)]
    Journal(journal_cmd::JournalCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: Result<()> = match cli.command {
        Command::Run { config } => selfcheck::run(&config),
        Command::Journal(cmd) => journal_cmd::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line an operator can act on: the context chain, outermost
            // first, and no backtrace.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
