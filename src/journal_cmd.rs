//! `venue journal ...`: thin wrappers over the `journal` crate's tools.
//!
//! All of them are read-only and take no lock, so they are safe on a live
//! journal and on a crashed one before the venue reopens it.

use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use journal::{DumpRange, JournalError, JournalReport};

/// Journal subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum JournalCommand {
    /// Check every frame (length, CRC32C, sequence continuity); print totals
    /// and the first problem. Exits non-zero if there is a problem.
    Verify {
        /// Journal directory.
        dir: PathBuf,
    },
    /// Segments, frames, first and last sequence number and time, durable mark.
    Stat {
        /// Journal directory.
        dir: PathBuf,
    },
    /// Print frame headers and payloads (hex), optionally a range.
    Dump {
        /// Journal directory.
        dir: PathBuf,
        /// First sequence number to print.
        #[arg(long, value_name = "N")]
        from_seq: Option<u64>,
        /// Last sequence number to print (inclusive).
        #[arg(long, value_name = "N")]
        to_seq: Option<u64>,
        /// Earliest timestamp to print, ns since the Unix epoch.
        #[arg(long, value_name = "NS")]
        from_time: Option<u64>,
        /// Latest timestamp to print (inclusive), ns since the Unix epoch.
        #[arg(long, value_name = "NS")]
        to_time: Option<u64>,
    },
}

/// `writeln!` into a `String` (which cannot fail).
macro_rules! outln {
    ($out:expr, $($arg:tt)*) => {
        {
            let _ = writeln!($out, $($arg)*);
        }
    };
}

/// Writes `text` to standard output; a closed pipe (`| head`) is not an error.
fn emit(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("cannot write to standard output"),
    }
}

pub(crate) fn run(cmd: JournalCommand) -> Result<()> {
    match cmd {
        JournalCommand::Verify { dir } => verify(&dir),
        JournalCommand::Stat { dir } => stat(&dir),
        JournalCommand::Dump {
            dir,
            from_seq,
            to_seq,
            from_time,
            to_time,
        } => {
            let range = DumpRange {
                from_seq,
                to_seq,
                from_time_ns: from_time,
                to_time_ns: to_time,
            };
            dump(&dir, range)
        }
    }
}

fn verify(dir: &Path) -> Result<()> {
    let report =
        journal::verify(dir).with_context(|| format!("cannot read journal {}", dir.display()))?;
    let mut out = String::new();
    print_totals(&mut out, &report);
    match &report.problem {
        None => {
            outln!(out, "ok: every frame checked");
            emit(&out)
        }
        Some(p) if p.after_durable_mark => {
            emit(&out)?;
            bail!(
                "journal segment {} has a torn tail at offset {} (sequence {}): {}; it is after the durable mark, so the venue will cut it when it next opens the journal",
                p.segment.display(),
                p.offset,
                p.seq,
                p.kind
            )
        }
        Some(p) => {
            emit(&out)?;
            bail!(
                "journal segment {} is corrupt at offset {} (sequence {}): {}; this frame was durable: restore the journal from a replica or backup",
                p.segment.display(),
                p.offset,
                p.seq,
                p.kind
            )
        }
    }
}

fn stat(dir: &Path) -> Result<()> {
    let report =
        journal::stat(dir).with_context(|| format!("cannot read journal {}", dir.display()))?;
    let mut out = String::new();
    outln!(
        out,
        "{:<16} {:>12} {:>10} {:>12} {:>12} {:>12}  sealed",
        "segment",
        "size_bytes",
        "frames",
        "first_seq",
        "last_seq",
        "end_offset"
    );
    for s in &report.segments {
        outln!(
            out,
            "{:<16} {:>12} {:>10} {:>12} {:>12} {:>12}  {}",
            s.path.file_name().map_or_else(
                || s.path.display().to_string(),
                |n| n.to_string_lossy().into_owned()
            ),
            s.size_bytes,
            s.frames,
            s.first_seq,
            s.last_seq,
            s.end_offset,
            if s.sealed { "yes" } else { "no" }
        );
    }
    print_totals(&mut out, &report);
    if let Some(p) = &report.problem {
        outln!(
            out,
            "problem: {} at offset {} (sequence {}): {} ({})",
            p.segment.display(),
            p.offset,
            p.seq,
            p.kind,
            if p.after_durable_mark {
                "torn tail after the durable mark"
            } else {
                "corruption of durable data"
            }
        );
    }
    emit(&out)
}

fn print_totals(out: &mut String, r: &JournalReport) {
    outln!(out, "journal      {}", r.dir.display());
    outln!(out, "segments     {}", r.segments.len());
    outln!(
        out,
        "frames       {} ({} payload bytes)",
        r.frames,
        r.payload_bytes
    );
    if r.frames > 0 {
        outln!(
            out,
            "first        seq {} at {} ({} ns)",
            r.first_seq,
            utc(r.first_time_ns),
            r.first_time_ns
        );
        outln!(
            out,
            "last         seq {} at {} ({} ns)",
            r.last_seq,
            utc(r.last_time_ns),
            r.last_time_ns
        );
    }
    match r.mark {
        Some(m) => outln!(
            out,
            "durable mark seq {} (segment {}, offset {})",
            m.durable_seq,
            m.segment_index,
            m.offset
        ),
        None => outln!(out, "durable mark none (nothing synced yet)"),
    }
}

fn dump(dir: &Path, range: DumpRange) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match journal::dump(dir, range, &mut out) {
        Ok(_) => {}
        // `venue journal dump ... | head` closes the pipe: not an error.
        Err(JournalError::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => {
            return Ok(());
        }
        Err(e) => return Err(e).with_context(|| format!("cannot dump journal {}", dir.display())),
    }
    match out.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("cannot write to standard output"),
    }
}

/// `2026-11-24T00:10:43.123456789Z` from ns since the Unix epoch (UTC,
/// proleptic Gregorian; Howard Hinnant's days-to-civil algorithm).
fn utc(time_ns: u64) -> String {
    let secs = time_ns / 1_000_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        time_ns % 1_000_000_000
    )
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            utc(951_782_400_000_000_001),
            "2000-02-29T00:00:00.000000001Z"
        );
        assert_eq!(
            utc(1_700_000_000_123_000_000),
            "2023-11-14T22:13:20.123000000Z"
        );
    }
}
