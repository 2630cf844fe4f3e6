//! Readers: iterate frames in sequence order from the start, from a
//! sequence number or from a timestamp, and follow (tail) a journal that
//! another thread or process is appending to.
//!
//! A reader maps one segment at a time, read-only. It loads each frame's
//! length word with `Acquire`, so it sees a frame only after the writer has
//! finished it, and checks the CRC and sequence continuity of every frame it
//! returns. At the end of the data, [`Reader::next_frame`] returns `None`;
//! calling it again later returns the frames appended meanwhile, each
//! exactly once, in order. At an end-of-segment marker it moves to the next
//! segment file (the writer creates that file before writing the marker).
//!
//! Seeking uses the sparse index in each segment: `seek_seq` finds the
//! segment by the sequence number of its first frame, then the last index
//! slot at or before the wanted number, and scans at most one index interval
//! (64 KiB by default). `seek_time` relies only on the slots' *running
//! maximum* of earlier timestamps, which is non-decreasing even when
//! timestamps are not; it yields from the first frame, in sequence order,
//! whose timestamp is at or after the wanted time, and everything after it.
//!
//! Limitation: a reader must not be open on a journal while a writer
//! recovers it (recovery may cut the tail a reader has not read yet).

use std::path::{Path, PathBuf};

use crate::error::{BadFrame, JournalError};
use crate::format::FrameHeader;
use crate::segment::{FrameAt, Segment, list_segments, segment_file_name};

/// A frame borrowed from the reader's mapping (no copy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRef<'a> {
    /// Sequence number.
    pub seq: u64,
    /// Timestamp, ns since the Unix epoch.
    pub time_ns: u64,
    /// Caller-defined payload type.
    pub payload_type: u16,
    /// Caller-defined payload format version.
    pub format_version: u16,
    /// The payload bytes.
    pub payload: &'a [u8],
    /// Segment the frame is in.
    pub segment_index: u64,
    /// Offset of the frame header in that segment.
    pub offset: u64,
}

/// An owned copy of a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Sequence number.
    pub seq: u64,
    /// Timestamp, ns since the Unix epoch.
    pub time_ns: u64,
    /// Caller-defined payload type.
    pub payload_type: u16,
    /// Caller-defined payload format version.
    pub format_version: u16,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

impl FrameRef<'_> {
    /// Copies the frame.
    pub fn to_frame(&self) -> Frame {
        Frame {
            seq: self.seq,
            time_ns: self.time_ns,
            payload_type: self.payload_type,
            format_version: self.format_version,
            payload: self.payload.to_vec(),
        }
    }
}

/// A sequential, checking, tailing reader.
#[derive(Debug)]
pub struct Reader {
    dir: PathBuf,
    seg: Segment,
    offset: usize,
    /// Sequence number the next frame must carry (0: any).
    expected: u64,
    skip_below_seq: u64,
    skip_until_time_ns: Option<u64>,
}

impl Reader {
    /// Opens a reader on `dir`, positioned at the first frame.
    ///
    /// # Errors
    /// `NoJournal` if there is no segment yet; `Io`, `BadSegmentHeader`,
    /// `MissingSegment` for unreadable journals.
    pub fn open(dir: impl AsRef<Path>) -> Result<Reader, JournalError> {
        let dir = dir.as_ref().to_path_buf();
        let files = list_segments(&dir)?;
        let Some((index, path)) = files.first() else {
            return Err(JournalError::NoJournal { dir });
        };
        let seg = Segment::open(path, *index, false)?;
        let offset = seg.layout.data_start;
        Ok(Reader {
            dir,
            seg,
            offset,
            expected: 0,
            skip_below_seq: 0,
            skip_until_time_ns: None,
        })
    }

    /// Sequence number the next frame will carry (0 before the first frame
    /// when it is not known yet).
    pub fn next_seq(&self) -> u64 {
        self.expected
    }

    /// Positions the reader so the next frame returned is the one with
    /// sequence number `seq` (or the first after it that exists; if `seq` is
    /// not written yet, a tailing reader gets it when it is).
    ///
    /// # Errors
    /// As [`Reader::open`].
    pub fn seek_seq(&mut self, seq: u64) -> Result<(), JournalError> {
        let mut chosen = None;
        for (index, path) in list_segments(&self.dir)? {
            let seg = Segment::open(&path, index, false)?;
            match seg.check_frame(seg.layout.data_start, 0) {
                Ok(FrameAt::Frame { header, .. }) if header.seq <= seq => chosen = Some(seg),
                _ => break,
            }
        }
        if let Some(seg) = chosen {
            self.offset = seg.seek_slot(|s| s.seq <= seq);
            self.seg = seg;
        } else {
            self.rewind()?;
        }
        self.expected = 0;
        self.skip_below_seq = seq;
        self.skip_until_time_ns = None;
        Ok(())
    }

    /// Positions the reader at the first frame, in sequence order, whose
    /// timestamp is at or after `time_ns`; every later frame is returned
    /// too, whatever its timestamp.
    ///
    /// # Errors
    /// As [`Reader::open`].
    pub fn seek_time(&mut self, time_ns: u64) -> Result<(), JournalError> {
        let mut chosen = None;
        for (index, path) in list_segments(&self.dir)? {
            let seg = Segment::open(&path, index, false)?;
            let start = seg.layout.data_start;
            match seg.slot(0) {
                // Every frame before this segment is earlier than `time_ns`.
                Some(s) if s.offset as usize == start && s.max_time_before_ns < time_ns => {
                    chosen = Some(seg)
                }
                Some(s) if s.offset as usize == start => break,
                // No usable slot: no conclusion; later segments may still qualify.
                _ => {}
            }
        }
        if let Some(seg) = chosen {
            self.offset = seg.seek_slot(|s| s.max_time_before_ns < time_ns);
            self.seg = seg;
        } else {
            self.rewind()?;
        }
        self.expected = 0;
        self.skip_below_seq = 0;
        self.skip_until_time_ns = Some(time_ns);
        Ok(())
    }

    fn rewind(&mut self) -> Result<(), JournalError> {
        let files = list_segments(&self.dir)?;
        let Some((index, path)) = files.first() else {
            return Err(JournalError::NoJournal {
                dir: self.dir.clone(),
            });
        };
        self.seg = Segment::open(path, *index, false)?;
        self.offset = self.seg.layout.data_start;
        Ok(())
    }

    /// The next frame, or `None` at the current end of the journal (call
    /// again later to follow a writer).
    ///
    /// # Errors
    /// `Corrupt` with segment, offset and sequence number if a frame fails
    /// its checks (a reader never skips a bad frame); `Io` if the next
    /// segment cannot be opened.
    pub fn next_frame(&mut self) -> Result<Option<FrameRef<'_>>, JournalError> {
        loop {
            match self.seg.check_frame(self.offset, self.expected) {
                Ok(FrameAt::Frame {
                    header,
                    next_offset,
                }) => {
                    let at = self.offset;
                    self.offset = next_offset;
                    self.expected = header.seq + 1;
                    if header.seq < self.skip_below_seq {
                        continue;
                    }
                    if let Some(t) = self.skip_until_time_ns {
                        if header.time_ns < t {
                            continue;
                        }
                        self.skip_until_time_ns = None;
                    }
                    return Ok(Some(self.frame_ref(at, &header)));
                }
                Ok(FrameAt::EndOfSegment { next_seq, .. }) => {
                    let index = self.seg.index + 1;
                    let path = self.dir.join(segment_file_name(index));
                    if !path.exists() {
                        return Err(self.corrupt(BadFrame::MissingNextSegment));
                    }
                    self.seg = Segment::open(&path, index, false)?;
                    self.offset = self.seg.layout.data_start;
                    self.expected = next_seq;
                }
                Err(BadFrame::EndOfData) => return Ok(None),
                Err(kind) => return Err(self.corrupt(kind)),
            }
        }
    }

    fn corrupt(&self, kind: BadFrame) -> JournalError {
        JournalError::Corrupt {
            segment: self.seg.path.clone(),
            offset: self.offset as u64,
            seq: self.expected.max(1),
            kind,
        }
    }

    fn frame_ref(&self, offset: usize, header: &FrameHeader) -> FrameRef<'_> {
        FrameRef {
            seq: header.seq,
            time_ns: header.time_ns,
            payload_type: header.payload_type,
            format_version: header.format_version,
            payload: self.seg.bytes(
                offset + crate::format::FRAME_HEADER_SIZE,
                header.payload_len(),
            ),
            segment_index: self.seg.index,
            offset: offset as u64,
        }
    }
}

/// Owned frames, for code that prefers an `Iterator` to the zero-copy
/// [`Reader::next_frame`]. Ends at the current end of the journal.
impl Iterator for Reader {
    type Item = Result<Frame, JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_frame() {
            Ok(Some(f)) => Some(Ok(f.to_frame())),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}
