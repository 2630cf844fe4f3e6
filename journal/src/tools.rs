//! Read-only tools behind `venue journal verify|stat|dump`.
//!
//! None of them takes the writer's lock or changes a byte: they can run on
//! a live journal, or on a crashed one before it is reopened (a torn tail is
//! then reported as a problem *after* the durable mark, which the next
//! `Journal::open` will cut).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{BadFrame, JournalError};
use crate::mark::{DurableMark, read_mark};
use crate::reader::Reader;
use crate::scan::{SegmentSummary, scan};

/// The first problem found by [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Segment file.
    pub segment: PathBuf,
    /// Offset in it.
    pub offset: u64,
    /// Sequence number expected there.
    pub seq: u64,
    /// What is wrong.
    pub kind: BadFrame,
    /// True when the problem lies after the durable mark: a torn tail that
    /// opening the journal for writing will cut. False: damage to data that
    /// was durable; opening will refuse.
    pub after_durable_mark: bool,
}

/// What [`verify`] and [`stat`] report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalReport {
    /// The journal directory.
    pub dir: PathBuf,
    /// Segments read (up to and including the one with the problem, if any).
    pub segments: Vec<SegmentSummary>,
    /// Valid frames.
    pub frames: u64,
    /// Total payload bytes of the valid frames.
    pub payload_bytes: u64,
    /// First sequence number (0 when empty).
    pub first_seq: u64,
    /// Last valid sequence number (0 when empty).
    pub last_seq: u64,
    /// Timestamp of the first frame.
    pub first_time_ns: u64,
    /// Timestamp of the last valid frame.
    pub last_time_ns: u64,
    /// The durable mark, if there is one.
    pub mark: Option<DurableMark>,
    /// The first problem, if any.
    pub problem: Option<Problem>,
}

/// Checks every frame (length, CRC32C, sequence continuity, zeros after
/// the end) and reports totals and the first problem.
///
/// # Errors
/// Only when the journal cannot be read at all (`Io`, `MissingSegment`,
/// `NoJournal`); damage is reported in `JournalReport::problem`.
pub fn verify(dir: impl AsRef<Path>) -> Result<JournalReport, JournalError> {
    let dir = dir.as_ref();
    let mark = read_mark(dir)?;
    let r = scan(dir)?;
    if r.segments.is_empty() && r.problem.is_none() {
        return Err(JournalError::NoJournal {
            dir: dir.to_path_buf(),
        });
    }
    let mark_seq = mark.map_or(0, |m| m.durable_seq);
    Ok(JournalReport {
        dir: dir.to_path_buf(),
        problem: r.problem.map(|p| Problem {
            segment: p.segment,
            offset: p.offset,
            seq: p.seq,
            kind: p.kind,
            after_durable_mark: mark_seq <= r.last_seq,
        }),
        segments: r.segments,
        frames: r.frames,
        payload_bytes: r.payload_bytes,
        first_seq: r.first_seq,
        last_seq: r.last_seq,
        first_time_ns: r.first_time_ns,
        last_time_ns: r.last_time_ns,
        mark,
    })
}

/// Segments, frames, first and last sequence number and time, durable mark.
/// Walks the journal like [`verify`] (the frame count needs it).
///
/// # Errors
/// As [`verify`].
pub fn stat(dir: impl AsRef<Path>) -> Result<JournalReport, JournalError> {
    verify(dir)
}

/// Which frames [`dump`] prints. Bounds are inclusive; `None` is open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DumpRange {
    /// First sequence number.
    pub from_seq: Option<u64>,
    /// Last sequence number.
    pub to_seq: Option<u64>,
    /// Earliest timestamp (ns since the Unix epoch).
    pub from_time_ns: Option<u64>,
    /// Latest timestamp.
    pub to_time_ns: Option<u64>,
}

/// Writes the headers and hex payloads of the frames in `range` to `out`;
/// returns how many frames were printed.
///
/// # Errors
/// `Corrupt` at the first bad frame (after printing the frames before it),
/// `Io` if the journal cannot be read or `out` cannot be written.
pub fn dump(
    dir: impl AsRef<Path>,
    range: DumpRange,
    out: &mut dyn Write,
) -> Result<u64, JournalError> {
    let dir = dir.as_ref();
    let mut reader = Reader::open(dir)?;
    if let Some(seq) = range.from_seq {
        reader.seek_seq(seq)?;
    } else if let Some(t) = range.from_time_ns {
        reader.seek_time(t)?;
    }
    let werr = |e| JournalError::io("write dump output", "-", e);
    let mut printed = 0;
    while let Some(f) = reader.next_frame()? {
        if range.to_seq.is_some_and(|to| f.seq > to) {
            break;
        }
        // Timestamps need not be monotonic: filter, do not stop.
        if range.from_time_ns.is_some_and(|t| f.time_ns < t)
            || range.to_time_ns.is_some_and(|t| f.time_ns > t)
        {
            continue;
        }
        writeln!(
            out,
            "seq={} time_ns={} type={} version={} payload_len={} segment={} offset={}",
            f.seq,
            f.time_ns,
            f.payload_type,
            f.format_version,
            f.payload.len(),
            crate::segment::segment_file_name(f.segment_index),
            f.offset
        )
        .map_err(werr)?;
        write_hex(out, f.payload).map_err(werr)?;
        printed += 1;
    }
    Ok(printed)
}

fn write_hex(out: &mut dyn Write, bytes: &[u8]) -> std::io::Result<()> {
    for (i, chunk) in bytes.chunks(16).enumerate() {
        write!(out, "  {:06x} ", i * 16)?;
        for b in chunk {
            write!(out, " {b:02x}")?;
        }
        for _ in chunk.len()..16 {
            write!(out, "   ")?;
        }
        let ascii: String = chunk
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        writeln!(out, "  |{ascii}|")?;
    }
    Ok(())
}
