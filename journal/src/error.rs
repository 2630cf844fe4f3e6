//! The journal's error type and the classification of a bad frame.
//!
//! Every error that concerns a place in the journal names the segment file,
//! the byte offset and the sequence number, so an operator can act on it.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why a frame at some position is not a valid frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadFrame {
    /// The length word is zero: the data ends here.
    EndOfData,
    /// The length word is neither a valid frame length nor the end marker.
    BadLength {
        /// The length word found.
        frame_len: u32,
    },
    /// The checksum does not match the header and payload.
    CrcMismatch {
        /// CRC stored in the header.
        stored: u32,
        /// CRC computed from the bytes.
        computed: u32,
    },
    /// The frame is well formed but does not carry the next sequence number.
    SeqGap {
        /// The sequence number continuity requires.
        expected: u64,
        /// The sequence number found.
        found: u64,
    },
    /// The reserved header field is not zero.
    BadReserved,
    /// Bytes after the end of data are not zero (a torn or garbled tail).
    GarbageAfterEnd {
        /// Offset of the first non-zero byte.
        first_nonzero_offset: u64,
    },
    /// The end-of-segment marker is present but the next segment file is not.
    MissingNextSegment,
    /// The segment file's header is unreadable (offset 0).
    BadSegmentHeader {
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for BadFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadFrame::EndOfData => write!(f, "end of data (zero length word)"),
            BadFrame::BadLength { frame_len } => write!(f, "invalid frame length {frame_len}"),
            BadFrame::CrcMismatch { stored, computed } => {
                write!(
                    f,
                    "crc mismatch (stored {stored:#010x}, computed {computed:#010x})"
                )
            }
            BadFrame::SeqGap { expected, found } => {
                write!(f, "sequence gap (expected {expected}, found {found})")
            }
            BadFrame::BadReserved => write!(f, "reserved header field is not zero"),
            BadFrame::GarbageAfterEnd {
                first_nonzero_offset,
            } => {
                write!(
                    f,
                    "non-zero bytes after the end of data, first at offset {first_nonzero_offset}"
                )
            }
            BadFrame::MissingNextSegment => {
                write!(
                    f,
                    "end-of-segment marker but the next segment file is missing"
                )
            }
            BadFrame::BadSegmentHeader { reason } => write!(f, "bad segment header: {reason}"),
        }
    }
}

/// Everything that can go wrong in the journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// An operating-system call failed (disk full, permission denied, I/O error).
    #[error("journal I/O error: {op} {}", path.display())]
    Io {
        /// What was being done ("create segment", "msync", ...).
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error (`ENOSPC`, `EACCES`, `EIO`...).
        source: io::Error,
    },
    /// A frame that was already durable (at or before the durable mark), or
    /// that a reader or `verify` met, is damaged. Never skipped or truncated.
    #[error(
        "journal segment {} is corrupt at offset {offset} (sequence {seq}): {kind}; run `venue journal verify` for details",
        segment.display()
    )]
    Corrupt {
        /// The segment file.
        segment: PathBuf,
        /// Byte offset of the bad frame in that file.
        offset: u64,
        /// Sequence number the frame carries or should carry.
        seq: u64,
        /// What is wrong.
        kind: BadFrame,
    },
    /// The durable mark says more frames were made durable than the journal holds.
    #[error(
        "journal {} ends at sequence {last_seq} (segment {}, offset {offset}) but its durable mark says sequence {durable_seq} was made durable: acknowledged data is missing; run `venue journal verify` for details",
        dir.display(), segment.display()
    )]
    DurableDataMissing {
        /// The journal directory.
        dir: PathBuf,
        /// Last valid sequence number found.
        last_seq: u64,
        /// Sequence number recorded in the durable mark.
        durable_seq: u64,
        /// Segment where the valid data ends.
        segment: PathBuf,
        /// Offset where the valid data ends.
        offset: u64,
    },
    /// A segment file's header is unreadable or inconsistent.
    #[error("journal segment {} has a bad header: {reason}", segment.display())]
    BadSegmentHeader {
        /// The segment file.
        segment: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Segment files are not numbered contiguously.
    #[error("journal {} is missing segment file {} (segments must be contiguous)", dir.display(), missing.display())]
    MissingSegment {
        /// The journal directory.
        dir: PathBuf,
        /// The expected file.
        missing: PathBuf,
    },
    /// The directory holds no journal.
    #[error("{} holds no journal segments", dir.display())]
    NoJournal {
        /// The directory.
        dir: PathBuf,
    },
    /// Another writer holds the journal's lock.
    #[error("journal {} is locked by another writer", dir.display())]
    Locked {
        /// The journal directory.
        dir: PathBuf,
    },
    /// The payload does not fit in one segment.
    #[error(
        "payload of {payload_len_bytes} bytes exceeds the maximum of {payload_max_bytes} bytes for this segment size"
    )]
    PayloadTooLarge {
        /// Requested payload length.
        payload_len_bytes: usize,
        /// Largest payload this journal accepts.
        payload_max_bytes: usize,
    },
    /// The configuration is unusable.
    #[error("invalid journal configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// A sync failed earlier; the journal refuses further appends because
    /// what reached the disk is unknown (a failed fsync cannot be retried).
    #[error("journal {} is stopped after a failed sync: {reason}; restart to recover", dir.display())]
    Poisoned {
        /// The journal directory.
        dir: PathBuf,
        /// The original failure.
        reason: String,
    },
    /// The requested sequence number is not in the journal.
    #[error("sequence {seq} is not in the journal (first {first_seq}, last {last_seq})")]
    SeqOutOfRange {
        /// Requested sequence number.
        seq: u64,
        /// First sequence number present (0 when empty).
        first_seq: u64,
        /// Last sequence number present (0 when empty).
        last_seq: u64,
    },
}

impl JournalError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
        source: io::Error,
    ) -> JournalError {
        JournalError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
