//! Where the journal is, how its frames are read, and points in it.
//!
//! A tool is given either a data directory (`DATA`, holding `journal/` and
//! `snapshots/`, as `venue run --data` lays it out) or a journal directory
//! (holding the segment files `00000000.log`, ...; its snapshots are then
//! looked for in `../snapshots`). Anything else is refused with a message
//! saying what was expected.
//!
//! Reading: [`Frames`] wraps a [`journal::Reader`], which returns only
//! frames whose length word a writer has published and whose CRC checks, so a
//! journal that a running venue is still appending to reads up to its last
//! complete frame. A frame that fails its checks beyond the durable mark is
//! a crashed writer's torn tail: the data ends there, with a warning. One at
//! or before the durable mark is damage to acknowledged data: an error.

use std::fmt;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use engine::Input;
use engine::codec::{INPUT_FORMAT_VERSION, INPUT_FORMAT_VERSION_OLDEST};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use journal::{FrameRef, JournalError, Reader};

use crate::runtime::PAYLOAD_TYPE_INPUT;

/// The journal and snapshot directories a tool reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalPaths {
    /// The journal directory (segment files).
    pub journal: PathBuf,
    /// The snapshot directory, if there is one.
    pub snapshots: Option<PathBuf>,
}

impl JournalPaths {
    /// Accepts a data directory (`DATA/journal`, `DATA/snapshots`) or a
    /// journal directory (snapshots then in `../snapshots`, if present).
    ///
    /// # Errors
    /// `dir` is not a directory, or holds neither `journal/` nor segment files.
    pub fn resolve(dir: &Path) -> Result<JournalPaths> {
        if !dir.is_dir() {
            bail!(
                "{} is not a directory: give a data directory (with journal/ and snapshots/) or a journal directory (with segment files 00000000.log, ...)",
                dir.display()
            );
        }
        let sub = dir.join("journal");
        if sub.is_dir() {
            let snapshots = dir.join("snapshots");
            return Ok(JournalPaths {
                journal: sub,
                snapshots: snapshots.is_dir().then_some(snapshots),
            });
        }
        if has_segments(dir)? {
            let snapshots = dir.parent().map(|p| p.join("snapshots"));
            return Ok(JournalPaths {
                journal: dir.to_path_buf(),
                snapshots: snapshots.filter(|s| s.is_dir()),
            });
        }
        bail!(
            "{} is not a journal: expected a data directory (with journal/ and snapshots/) or a journal directory (with segment files 00000000.log, ...)",
            dir.display()
        )
    }

    /// These paths with the snapshot directory replaced (when `dir` is given).
    #[must_use]
    pub fn with_snapshots(mut self, dir: Option<PathBuf>) -> JournalPaths {
        if dir.is_some() {
            self.snapshots = dir;
        }
        self
    }
}

/// Whether `dir` holds a segment file (`NNNNNNNN.log`, eight or more digits).
fn has_segments(dir: &Path) -> Result<bool> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(stem) = name.strip_suffix(".log")
            && stem.len() >= 8
            && stem.bytes().all(|b| b.is_ascii_digit())
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Frames of one journal, read in order, complete frames only (see the
/// module docs for what ends the data).
#[derive(Debug)]
pub struct Frames {
    reader: Reader,
    dir: PathBuf,
    /// Why the data ended early (a torn tail), if it did.
    pub torn_tail: Option<String>,
}

impl Frames {
    /// Opens a reader at the first frame.
    ///
    /// # Errors
    /// The directory holds no journal, or a segment cannot be read.
    pub fn open(dir: &Path) -> Result<Frames> {
        let reader = Reader::open(dir).map_err(|e| match e {
            JournalError::NoJournal { .. } => anyhow::anyhow!(
                "{} is not a journal: it holds no segment file",
                dir.display()
            ),
            e => anyhow::Error::new(e).context(format!("cannot read journal {}", dir.display())),
        })?;
        Ok(Frames {
            reader,
            dir: dir.to_path_buf(),
            torn_tail: None,
        })
    }

    /// Positions the reader so the next frame is `seq` (or the first after it).
    ///
    /// # Errors
    /// A segment cannot be read.
    pub fn seek_seq(&mut self, seq: u64) -> Result<()> {
        self.reader
            .seek_seq(seq)
            .with_context(|| format!("cannot seek to sequence {seq} in {}", self.dir.display()))
    }

    /// Positions the reader at the first frame stamped at or after `time_ns`.
    ///
    /// # Errors
    /// A segment cannot be read.
    pub fn seek_time(&mut self, time_ns: u64) -> Result<()> {
        self.reader
            .seek_time(time_ns)
            .with_context(|| format!("cannot seek to a time in {}", self.dir.display()))
    }

    /// The next complete frame, or `None` at the end of the data (or at a
    /// torn tail, noted in [`Frames::torn_tail`]).
    ///
    /// # Errors
    /// A frame at or before the durable mark fails its checks.
    pub fn next_frame(&mut self) -> Result<Option<FrameRef<'_>>> {
        if self.torn_tail.is_some() {
            return Ok(None);
        }
        match self.reader.next_frame() {
            Ok(frame) => Ok(frame),
            Err(JournalError::Corrupt {
                segment,
                offset,
                seq,
                kind,
            }) => {
                let mark = journal::read_mark(&self.dir)
                    .ok()
                    .flatten()
                    .map_or(0, |m| m.durable_seq);
                if mark < seq {
                    self.torn_tail = Some(format!(
                        "the journal ends at sequence {} with a torn tail in {} at offset {offset} ({kind}); it is after the durable mark ({mark}): a crashed writer's unfinished frame, which the venue cuts when it next opens the journal",
                        seq - 1,
                        segment.display()
                    ));
                    return Ok(None);
                }
                bail!(
                    "journal segment {} is corrupt at offset {offset} (sequence {seq}): {kind}; this frame was durable: run `venue journal verify` for details, and restore the journal from a replica or backup",
                    segment.display()
                )
            }
            Err(e) => Err(e).with_context(|| format!("cannot read journal {}", self.dir.display())),
        }
    }
}

impl crate::read_ahead::InputSource for Frames {
    fn next_input(&mut self) -> Result<Option<crate::read_ahead::Item>> {
        match self.next_frame()? {
            Some(frame) => Ok(Some((frame.seq, frame.time_ns, decode(&frame)?))),
            None => Ok(None),
        }
    }
}

/// Decodes a frame's payload as an engine input, checking its payload type
/// and format version as recovery does.
///
/// # Errors
/// Not an engine input, an unknown format version, or bytes that do not decode.
pub fn decode(frame: &FrameRef<'_>) -> Result<Input> {
    if frame.payload_type != PAYLOAD_TYPE_INPUT {
        bail!(
            "journal frame {} has payload type {}, not an engine input ({PAYLOAD_TYPE_INPUT})",
            frame.seq,
            frame.payload_type
        );
    }
    if !(INPUT_FORMAT_VERSION_OLDEST..=INPUT_FORMAT_VERSION).contains(&frame.format_version) {
        bail!(
            "journal frame {} has input format version {}; this build reads versions {INPUT_FORMAT_VERSION_OLDEST} to {INPUT_FORMAT_VERSION}",
            frame.seq,
            frame.format_version
        );
    }
    engine::decode_input(frame.payload)
        .with_context(|| format!("journal frame {} is not a valid input", frame.seq))
}

/// The first and last complete frames of a journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// First sequence number.
    pub first_seq: u64,
    /// Its time, ns since the Unix epoch.
    pub first_time_ns: u64,
    /// Last complete sequence number.
    pub last_seq: u64,
    /// Its time.
    pub last_time_ns: u64,
}

impl Bounds {
    /// Reads the first frame, then seeks (by the sparse index) to the last:
    /// a few index intervals of reading, not the whole journal.
    ///
    /// # Errors
    /// No journal, an empty journal, or damaged durable data.
    pub fn of(dir: &Path) -> Result<Bounds> {
        let mut frames = Frames::open(dir)?;
        let (first_seq, first_time_ns) = match frames.next_frame()? {
            Some(f) => (f.seq, f.time_ns),
            None => bail!("journal {} is empty: it holds no input", dir.display()),
        };
        frames.seek_seq(u64::MAX)?;
        while frames.next_frame()?.is_some() {}
        let last_seq = frames.reader.next_seq().saturating_sub(1).max(first_seq);
        frames.torn_tail = None;
        frames.seek_seq(last_seq)?;
        let last_time_ns = match frames.next_frame()? {
            Some(f) => f.time_ns,
            None => first_time_ns,
        };
        Ok(Bounds {
            first_seq,
            first_time_ns,
            last_seq,
            last_time_ns,
        })
    }

    /// The sequence number a point names: itself for a sequence number
    /// inside the journal; for a time, the last input stamped at or before it.
    ///
    /// # Errors
    /// The point lies outside the journal.
    pub fn resolve(&self, dir: &Path, point: Point) -> Result<u64> {
        match point {
            Point::Seq(seq) => {
                if seq < self.first_seq || seq > self.last_seq {
                    bail!(
                        "sequence {seq} is outside the journal, which holds {} to {} ({} to {})",
                        self.first_seq,
                        self.last_seq,
                        utc_us(self.first_time_ns),
                        utc_us(self.last_time_ns)
                    );
                }
                Ok(seq)
            }
            Point::TimeNs(t) => {
                if t < self.first_time_ns || t > self.last_time_ns {
                    bail!(
                        "{} is outside the journal, which runs from {} (sequence {}) to {} (sequence {})",
                        utc_us(t),
                        utc_us(self.first_time_ns),
                        self.first_seq,
                        utc_us(self.last_time_ns),
                        self.last_seq
                    );
                }
                let mut frames = Frames::open(dir)?;
                frames.seek_time(t.saturating_add(1))?;
                match frames.next_frame()? {
                    Some(f) => Ok(f.seq.saturating_sub(1).max(self.first_seq)),
                    None => Ok(self.last_seq),
                }
            }
        }
    }
}

/// A moment in a journal: a sequence number, or a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    /// Right after this input.
    Seq(u64),
    /// Right after the last input stamped at or before this time (ns since
    /// the Unix epoch).
    TimeNs(u64),
}

/// Integers with at least this many digits are times in ns, not sequence
/// numbers (10^15 ns is 1970-01-12; no journal holds 10^15 inputs).
const TIME_NS_DIGITS_MIN: usize = 16;

impl FromStr for Point {
    type Err = String;

    /// `12345` is a sequence number; `1795000000123456789` (16 digits or
    /// more) a time in ns since the Unix epoch; `2026-11-24T14:03:07.123456Z`
    /// an RFC 3339 time.
    fn from_str(s: &str) -> Result<Point, String> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.len() < TIME_NS_DIGITS_MIN {
            return s.parse().map(Point::Seq).map_err(|e| format!("{s:?}: {e}"));
        }
        parse_time_ns(s).map(Point::TimeNs)
    }
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Point::Seq(s) => write!(f, "sequence {s}"),
            Point::TimeNs(t) => f.write_str(&utc_us(*t)),
        }
    }
}

/// Parses a time: ns since the Unix epoch (digits), or RFC 3339
/// (`2026-11-24T14:03:07.123456Z`, any offset).
///
/// # Errors
/// Neither form, or a time before 1970.
pub fn parse_time_ns(s: &str) -> Result<u64, String> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().map_err(|e| format!("{s:?}: {e}"));
    }
    let ts: jiff::Timestamp = s.parse().map_err(|e| {
        format!("{s:?} is neither a sequence number, ns since the Unix epoch, nor an RFC 3339 time like 2026-11-24T14:03:07.123456Z ({e})")
    })?;
    u64::try_from(ts.as_nanosecond()).map_err(|_| format!("{s:?} is before 1970"))
}

/// `2026-11-24T14:03:07.123456Z`: UTC, microseconds (truncated).
#[must_use]
pub fn utc_us(time_ns: u64) -> String {
    match jiff::Timestamp::from_nanosecond(i128::from(time_ns)) {
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        Err(_) => format!("{time_ns}ns"),
    }
}

/// A progress bar on standard error, drawn only when it is a terminal (never
/// in tests or pipes), updated every few thousand inputs so it costs nothing
/// measurable.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    base: u64,
    shown: u64,
}

/// Inputs between two updates of a progress bar.
const PROGRESS_STEP: u64 = 1 << 16;

impl Progress {
    /// A bar from sequence `from` to `to`, labelled `what`.
    #[must_use]
    pub fn new(what: &str, from: u64, to: u64) -> Progress {
        let bar = if std::io::stderr().is_terminal() && to > from + PROGRESS_STEP {
            let bar = ProgressBar::with_draw_target(
                Some(to - from),
                ProgressDrawTarget::stderr_with_hz(4),
            );
            if let Ok(style) = ProgressStyle::with_template(
                "{msg} [{bar:40}] {human_pos}/{human_len} inputs ({per_sec}, {eta} left)",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(what.to_owned());
            bar
        } else {
            ProgressBar::hidden()
        };
        Progress {
            bar,
            base: from,
            shown: from,
        }
    }

    /// Reached sequence `seq`.
    #[inline]
    pub fn at(&mut self, seq: u64) {
        if seq >= self.shown + PROGRESS_STEP {
            self.bar.set_position(seq - self.base);
            self.shown = seq;
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_parse_as_seq_ns_or_rfc3339() {
        assert_eq!("42".parse::<Point>(), Ok(Point::Seq(42)));
        assert_eq!(
            "1795000000123456789".parse::<Point>(),
            Ok(Point::TimeNs(1_795_000_000_123_456_789))
        );
        let t = "2026-11-24T14:03:07.123456Z".parse::<Point>().unwrap();
        let Point::TimeNs(ns) = t else {
            panic!("{t:?}")
        };
        assert_eq!(utc_us(ns), "2026-11-24T14:03:07.123456Z");
        assert_eq!(utc_us(ns + 999), "2026-11-24T14:03:07.123456Z");
        assert_eq!(utc_us(0), "1970-01-01T00:00:00.000000Z");
        assert!("yesterday".parse::<Point>().is_err());
        assert!("1969-12-31T23:59:59Z".parse::<Point>().is_err());
    }
}
