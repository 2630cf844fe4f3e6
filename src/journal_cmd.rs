//! `venue journal ...`: thin wrappers over the `journal` crate's tools.

use anyhow::Result;
use clap::Subcommand;

/// Journal subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum JournalCommand {}

pub(crate) fn run(cmd: JournalCommand) -> Result<()> {
    match cmd {}
}
