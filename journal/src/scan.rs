//! The full scan shared by recovery (`Journal::open`) and the tools
//! (`verify`, `stat`): walk every segment in order, check every frame's
//! length, CRC and sequence continuity, and stop at the first problem.
//!
//! Cost: one sequential pass over the data (about the read benchmark's
//! rate); the bytes after the end of data in the last segment are checked
//! to be zero word by word.

use std::path::{Path, PathBuf};

use crate::error::{BadFrame, JournalError};
use crate::segment::{FrameAt, Segment, list_segments};

/// Per-segment totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSummary {
    /// Segment index (its file name without `.log`).
    pub index: u64,
    /// The file.
    pub path: PathBuf,
    /// Total file size.
    pub size_bytes: u64,
    /// Valid frames in it.
    pub frames: u64,
    /// First and last sequence numbers (0 when empty).
    pub first_seq: u64,
    /// See `first_seq`.
    pub last_seq: u64,
    /// Offset where its valid data ends.
    pub end_offset: u64,
    /// Whether it ends with a valid end-of-segment marker.
    pub sealed: bool,
}

/// The first problem a scan met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScanProblem {
    /// Position of the segment in `ScanResult::segments`.
    pub(crate) position: usize,
    /// The segment file.
    pub(crate) segment: PathBuf,
    /// Offset of the problem in it (0 for a bad segment header).
    pub(crate) offset: u64,
    /// Sequence number expected there.
    pub(crate) seq: u64,
    /// What is wrong.
    pub(crate) kind: BadFrame,
}

/// Result of a full scan.
#[derive(Debug, Clone, Default)]
pub(crate) struct ScanResult {
    pub(crate) segments: Vec<SegmentSummary>,
    pub(crate) frames: u64,
    pub(crate) payload_bytes: u64,
    pub(crate) first_seq: u64,
    pub(crate) last_seq: u64,
    pub(crate) first_time_ns: u64,
    pub(crate) last_time_ns: u64,
    pub(crate) max_time_ns: u64,
    /// Offset of the last valid frame in the last summarized segment.
    pub(crate) last_frame_offset: Option<u64>,
    pub(crate) problem: Option<ScanProblem>,
}

/// Scans every segment of `dir`.
///
/// # Errors
/// I/O errors and a gap in segment numbering; frame problems are reported in
/// `ScanResult::problem`, not as errors.
pub(crate) fn scan(dir: &Path) -> Result<ScanResult, JournalError> {
    let files = list_segments(dir)?;
    let mut r = ScanResult::default();
    let mut expected = 0u64; // 0: the first frame may carry any sequence number
    for (position, (index, path)) in files.iter().enumerate() {
        let seg = match Segment::open(path, *index, false) {
            Ok(s) => s,
            Err(JournalError::BadSegmentHeader { reason, .. }) => {
                r.problem = Some(ScanProblem {
                    position,
                    segment: path.clone(),
                    offset: 0,
                    seq: expected.max(1),
                    kind: BadFrame::BadSegmentHeader { reason },
                });
                return Ok(r);
            }
            Err(e) => return Err(e),
        };
        let mut sum = SegmentSummary {
            index: *index,
            path: path.clone(),
            size_bytes: seg.layout.segment_size_bytes as u64,
            frames: 0,
            first_seq: 0,
            last_seq: 0,
            end_offset: seg.layout.data_start as u64,
            sealed: false,
        };
        r.last_frame_offset = None;
        let mut offset = seg.layout.data_start;
        let is_last = position + 1 == files.len();
        let problem = loop {
            match seg.check_frame(offset, expected) {
                Ok(FrameAt::Frame {
                    header,
                    next_offset,
                }) => {
                    if r.frames == 0 {
                        r.first_seq = header.seq;
                        r.first_time_ns = header.time_ns;
                    }
                    if sum.frames == 0 {
                        sum.first_seq = header.seq;
                    }
                    r.frames += 1;
                    r.payload_bytes += header.payload_len() as u64;
                    r.last_seq = header.seq;
                    r.last_time_ns = header.time_ns;
                    r.max_time_ns = r.max_time_ns.max(header.time_ns);
                    r.last_frame_offset = Some(offset as u64);
                    sum.frames += 1;
                    sum.last_seq = header.seq;
                    expected = header.seq + 1;
                    offset = next_offset;
                }
                Ok(FrameAt::EndOfSegment { next_seq, .. }) => {
                    if is_last {
                        break Some(BadFrame::MissingNextSegment);
                    }
                    expected = next_seq;
                    sum.sealed = true;
                    break None;
                }
                Err(BadFrame::EndOfData) => {
                    if let Some(first) = seg.first_nonzero(offset, seg.layout.data_end) {
                        break Some(BadFrame::GarbageAfterEnd {
                            first_nonzero_offset: first as u64,
                        });
                    }
                    // Clean end of data; fine only in the last segment.
                    break (!is_last).then_some(BadFrame::EndOfData);
                }
                Err(kind) => break Some(kind),
            }
        };
        sum.end_offset = offset as u64;
        r.segments.push(sum);
        if let Some(kind) = problem {
            r.problem = Some(ScanProblem {
                position,
                segment: path.clone(),
                offset: offset as u64,
                seq: expected.max(1),
                kind,
            });
            return Ok(r);
        }
    }
    Ok(r)
}
