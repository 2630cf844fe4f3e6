//! Structured logs: `tracing` events, written to standard error by a
//! background thread.
//!
//! Every thread of the venue logs with the `tracing` macros
//! (`warn!(seq, error = %e, "snapshot failed")`); [`init`] installs the one
//! subscriber, which formats an event on the thread that logs it and hands
//! the line to `tracing-appender`'s non-blocking writer. Its worker thread
//! (`venue-log`) does the only write to standard error, so the matching
//! thread never waits on a terminal or a pipe. The writer is lossy: when
//! [`LINES_BUFFERED_MAX`] lines are waiting (standard error stuck, or a
//! storm of events), new lines are dropped and counted rather than block
//! the thread that logs. [`LogGuard`] flushes what is waiting when dropped.
//!
//! Which events are kept is an `EnvFilter` directive: `RUST_LOG` when set,
//! otherwise `[log] filter` (default `info`). The format is `text` (one
//! readable line per event) or `json` (one object per line, for a log
//! shipper): `venue run --log-format`, otherwise `[log] format`.
//!
//! Standard output is not the log: `venue run` prints its human start-up
//! and shutdown summary there, and the same facts go to the log as events
//! with fields.

use std::io::IsTerminal;

use anyhow::{Context, Result};
use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Lines waiting for the writer thread before new ones are dropped.
pub const LINES_BUFFERED_MAX: usize = 64 * 1024;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`,
    /// `threadName`, `message` and the event's fields.
    Json,
}

impl LogFormat {
    /// Parses `text` or `json`.
    ///
    /// # Errors
    /// Anything else, with what to write instead.
    pub fn parse(text: &str) -> Result<LogFormat> {
        match text {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => anyhow::bail!("log format {other:?}: expected \"text\" or \"json\""),
        }
    }
}

/// The `[log]` section, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSettings {
    /// Line format.
    pub format: LogFormat,
    /// `EnvFilter` directives, used when `RUST_LOG` is not set.
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: LogFormat::Text,
            filter: "info".to_owned(),
        }
    }
}

/// Checks `EnvFilter` directives.
///
/// # Errors
/// The directives do not parse; the error says what a directive looks like.
pub fn parse_filter(directives: &str) -> Result<EnvFilter> {
    EnvFilter::builder().parse(directives).map_err(|e| {
        anyhow::anyhow!(
            "log filter {directives:?}: {e}; write directives such as \"info\" or \
             \"warn,venue::fix_gateway=debug\""
        )
    })
}

/// Keeps the log writer running; dropping it flushes the lines waiting
/// (for at most about a second) and stops the writer thread.
#[derive(Debug)]
pub struct LogGuard {
    // Dropped for its effect: it flushes and joins the writer thread.
    _worker: WorkerGuard,
    dropped: ErrorCounter,
}

impl LogGuard {
    /// Lines dropped so far because the writer fell behind.
    #[must_use]
    pub fn lines_dropped(&self) -> usize {
        self.dropped.dropped_lines()
    }
}

/// Installs the process's subscriber: `RUST_LOG` or `settings.filter`,
/// `settings.format`, standard error through the non-blocking writer.
/// Colours only when standard error is a terminal.
///
/// # Errors
/// `RUST_LOG` or the filter does not parse, or a subscriber is already
/// installed.
pub fn init(settings: &LogSettings) -> Result<LogGuard> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => {
            parse_filter(&directives).context("the RUST_LOG environment variable")?
        }
        _ => parse_filter(&settings.filter).context("[log] filter")?,
    };
    let (writer, worker) = NonBlockingBuilder::default()
        .buffered_lines_limit(LINES_BUFFERED_MAX)
        .lossy(true)
        .thread_name("venue-log")
        .finish(std::io::stderr());
    let dropped = writer.error_counter();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_thread_names(true);
    let installed = match settings.format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))?;
    Ok(LogGuard {
        _worker: worker,
        dropped,
    })
}

#[cfg(test)]
mod tests {
    use super::{LogFormat, parse_filter};

    #[test]
    fn formats_and_filters_are_checked() {
        assert_eq!(LogFormat::parse("json").unwrap(), LogFormat::Json);
        assert_eq!(LogFormat::parse("text").unwrap(), LogFormat::Text);
        let e = LogFormat::parse("xml").unwrap_err().to_string();
        assert!(e.contains("expected \"text\" or \"json\""), "{e}");
        assert!(parse_filter("warn,venue::runtime=debug").is_ok());
        let e = parse_filter("venue=loud").unwrap_err().to_string();
        assert!(e.contains("venue=loud") && e.contains("such as"), "{e}");
    }
}
