//! The per-session message store: what a FIX session must remember across a
//! crash of the venue.
//!
//! One append-only file per session holds three kinds of record:
//! - `Out`: an outbound message, with its MsgSeqNum, its bytes (application
//!   messages, kept for resend) or none (session messages, which a resend
//!   replaces with a SequenceReset-GapFill), and the position in the engine's
//!   event stream of the last event stored for this session ([`EnginePos`]);
//! - `In`: the next inbound MsgSeqNum expected, after a message was handled;
//! - `Reset`: both sequences start again at 1 (logon with ResetSeqNumFlag,
//!   the weekly reset); the file is truncated first.
//!
//! Each record is `[len u32][crc32c u32][kind u8][pad 3][seq u64][engine_seq
//! u64][engine_idx u32][bytes]`, little-endian, the CRC covering
//! everything after itself. Opening scans the file, rebuilds the offsets of
//! `Out` records (8 bytes a message in memory) and cuts a torn tail (a crash
//! mid-write) at the first record that does not check. Records are written
//! with one `write(2)` each, before the message goes to the socket, so after
//! a kill -9 the store knows every message the client may have seen.
//!
//! What this file does not promise: after a power cut (not a process crash)
//! its unsynced tail may be gone; `sync` after each batch (`sync_on_write`)
//! closes that gap at the cost of a disk flush per batch.
//!
//! Exactly-once delivery of execution reports across a crash rests on the
//! [`EnginePos`] of the last `Out` record: on restart the gateway re-derives,
//! by replaying the journal, every event for this session's participant after
//! that position and stores it as new messages (see ARCHITECTURE.md).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// A position in the engine's event stream: the sequence number of the
/// input that caused an event, and the event's index among that input's
/// events for one participant. Ordered lexicographically.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnginePos {
    /// The causing input's journal sequence number.
    pub seq: u64,
    /// The event's index among that input's events for the participant.
    pub idx: u32,
}

const KIND_OUT_APP: u8 = 1;
const KIND_OUT_ADMIN: u8 = 2;
const KIND_IN: u8 = 3;
const KIND_RESET: u8 = 4;

const HEADER_LEN: usize = 32;
/// The largest message stored (bigger ones are a bug: the session layer
/// bounds outbound messages far below this).
const MESSAGE_MAX: usize = 1 << 20;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file system error.
    #[error("message store {path}: cannot {op}: {source}")]
    Io {
        /// What it was doing.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A record that should be there is not (the file was changed under us).
    #[error("message store {path}: message {seq} is damaged or missing")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// The message.
        seq: u64,
    },
}

/// What a resend gets for one sequence number.
#[derive(Debug, PartialEq, Eq)]
pub enum Stored<'a> {
    /// An application message, to be sent again (with PossDupFlag).
    App(&'a [u8]),
    /// A session message: replaced by a gap fill.
    Admin,
    /// Not in the store (before a reset, or never sent).
    Missing,
}

/// One session's store. See the module docs.
#[derive(Debug)]
pub struct MessageStore {
    path: PathBuf,
    file: File,
    /// Offset of the `Out` record for MsgSeqNum `first_out_seq + i`.
    out_offsets: Vec<u64>,
    first_out_seq: u64,
    next_in_seq: u64,
    last_pos: EnginePos,
    last_reset_ns: Option<u64>,
    len: u64,
    record: Vec<u8>,
    read_buf: Vec<u8>,
    /// Bytes cut off a torn tail when the store was opened.
    pub cut_bytes: u64,
}

impl MessageStore {
    /// Opens (or creates) the store at `path`. A new store starts with a
    /// reset record at `now_ns`, so that a weekly reset schedule counts from
    /// its creation.
    ///
    /// # Errors
    /// The file cannot be opened, read or truncated.
    pub fn open(path: &Path, now_ns: u64) -> Result<MessageStore, StoreError> {
        let io_err = |op, source| StoreError::Io {
            op,
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_err("create its directory", e))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| io_err("open", e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| io_err("read", e))?;
        let mut store = MessageStore {
            path: path.to_path_buf(),
            file,
            out_offsets: Vec::new(),
            first_out_seq: 1,
            next_in_seq: 1,
            last_pos: EnginePos::default(),
            last_reset_ns: None,
            len: 0,
            record: Vec::with_capacity(1024),
            read_buf: Vec::with_capacity(1024),
            cut_bytes: 0,
        };
        let mut at = 0usize;
        while let Some((kind, seq, pos, body_len)) = parse_record(&bytes[at..]) {
            store.apply_record(kind, seq, pos, at as u64);
            if kind == KIND_RESET
                && let Some(t) = bytes.get(at + HEADER_LEN..at + HEADER_LEN + 8)
            {
                store.last_reset_ns = t.try_into().ok().map(u64::from_le_bytes);
            }
            at += HEADER_LEN + body_len;
        }
        if at < bytes.len() {
            store.cut_bytes = (bytes.len() - at) as u64;
            store
                .file
                .set_len(at as u64)
                .map_err(|e| io_err("cut the torn tail of", e))?;
            store
                .file
                .seek(SeekFrom::End(0))
                .map_err(|e| io_err("seek", e))?;
        }
        store.len = at as u64;
        if store.len == 0 {
            store.reset(now_ns)?;
        }
        Ok(store)
    }

    fn apply_record(&mut self, kind: u8, seq: u64, pos: EnginePos, offset: u64) {
        match kind {
            KIND_OUT_APP | KIND_OUT_ADMIN => {
                if self.out_offsets.is_empty() {
                    self.first_out_seq = seq;
                }
                // Records are written in order; a jump (SequenceReset sent
                // by us) leaves holes that read as missing.
                let index = seq.saturating_sub(self.first_out_seq) as usize;
                if index >= self.out_offsets.len() {
                    self.out_offsets.resize(index, u64::MAX);
                    self.out_offsets.push(offset);
                }
                self.last_pos = self.last_pos.max(pos);
            }
            KIND_IN => self.next_in_seq = seq,
            KIND_RESET => {
                self.out_offsets.clear();
                self.first_out_seq = seq;
                self.next_in_seq = 1;
                self.last_pos = self.last_pos.max(pos);
            }
            _ => {}
        }
    }

    /// The next outbound MsgSeqNum.
    #[must_use]
    pub fn next_out_seq(&self) -> u64 {
        self.first_out_seq + self.out_offsets.len() as u64
    }

    /// The next inbound MsgSeqNum expected.
    #[must_use]
    pub fn next_in_seq(&self) -> u64 {
        self.next_in_seq
    }

    /// The engine position of the last event stored for this session.
    #[must_use]
    pub fn last_pos(&self) -> EnginePos {
        self.last_pos
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records outbound message `seq` (which must be [`Self::next_out_seq`]).
    /// `app` holds an application message's bytes, `None` for a session
    /// message. `pos` is the engine position of the event it carries (or the
    /// last one stored, for messages that carry none).
    ///
    /// # Errors
    /// The write failed: the message must not be sent.
    pub fn append_out(
        &mut self,
        seq: u64,
        app: Option<&[u8]>,
        pos: EnginePos,
    ) -> Result<(), StoreError> {
        debug_assert_eq!(
            seq,
            self.next_out_seq(),
            "outbound messages are stored in order"
        );
        let pos = pos.max(self.last_pos);
        let kind = if app.is_some() {
            KIND_OUT_APP
        } else {
            KIND_OUT_ADMIN
        };
        let offset = self.len;
        self.write_record(kind, seq, pos, app.unwrap_or(&[]))?;
        self.apply_record(kind, seq, pos, offset);
        Ok(())
    }

    /// Moves the next outbound MsgSeqNum up to `next` (after we sent a
    /// SequenceReset); the skipped numbers read as missing.
    ///
    /// # Errors
    /// As [`Self::append_out`].
    pub fn skip_out_to(&mut self, next: u64) -> Result<(), StoreError> {
        while self.next_out_seq() < next {
            let seq = self.next_out_seq();
            self.append_out(seq, None, self.last_pos)?;
        }
        Ok(())
    }

    /// Records that inbound messages up to `next - 1` were handled.
    ///
    /// # Errors
    /// The write failed.
    pub fn set_next_in_seq(&mut self, next: u64) -> Result<(), StoreError> {
        if next == self.next_in_seq {
            return Ok(());
        }
        self.write_record(KIND_IN, next, self.last_pos, &[])?;
        self.next_in_seq = next;
        Ok(())
    }

    /// When the sequences were last reset (wall clock), if ever.
    #[must_use]
    pub fn last_reset_ns(&self) -> Option<u64> {
        self.last_reset_ns
    }

    /// Starts both sequences again at 1, forgetting every stored message;
    /// `now_ns` is remembered as the time of the reset.
    ///
    /// # Errors
    /// The file could not be truncated or written.
    pub fn reset(&mut self, now_ns: u64) -> Result<(), StoreError> {
        self.file.set_len(0).map_err(|e| StoreError::Io {
            op: "truncate",
            path: self.path.clone(),
            source: e,
        })?;
        self.len = 0;
        self.write_record(KIND_RESET, 1, self.last_pos, &now_ns.to_le_bytes())?;
        self.apply_record(KIND_RESET, 1, self.last_pos, 0);
        self.last_reset_ns = Some(now_ns);
        Ok(())
    }

    /// What is stored for outbound MsgSeqNum `seq`, for a resend.
    #[must_use]
    pub fn stored(&mut self, seq: u64) -> Stored<'_> {
        let Some(index) = seq.checked_sub(self.first_out_seq) else {
            return Stored::Missing;
        };
        let Some(&offset) = self.out_offsets.get(index as usize) else {
            return Stored::Missing;
        };
        if offset == u64::MAX {
            return Stored::Missing;
        }
        let mut header = [0u8; HEADER_LEN];
        if self.file.read_exact_at(&mut header, offset).is_err() {
            return Stored::Missing;
        }
        let len = u32::from_le_bytes(header[0..4].try_into().unwrap_or_default()) as usize;
        if !(HEADER_LEN..=HEADER_LEN + MESSAGE_MAX).contains(&len) {
            return Stored::Missing;
        }
        self.read_buf.resize(len, 0);
        if self.file.read_exact_at(&mut self.read_buf, offset).is_err() {
            return Stored::Missing;
        }
        match parse_record(&self.read_buf) {
            Some((KIND_OUT_APP, s, _, body_len)) if s == seq => {
                Stored::App(&self.read_buf[HEADER_LEN..HEADER_LEN + body_len])
            }
            Some((KIND_OUT_ADMIN, s, _, _)) if s == seq => Stored::Admin,
            _ => Stored::Missing,
        }
    }

    /// Flushes the file to disk (for `sync_on_write`).
    ///
    /// # Errors
    /// The sync failed.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.file.sync_data().map_err(|e| StoreError::Io {
            op: "sync",
            path: self.path.clone(),
            source: e,
        })
    }

    fn write_record(
        &mut self,
        kind: u8,
        seq: u64,
        pos: EnginePos,
        body: &[u8],
    ) -> Result<(), StoreError> {
        assert!(body.len() <= MESSAGE_MAX, "stored message too large");
        let len = HEADER_LEN + body.len();
        self.record.clear();
        self.record.extend_from_slice(&(len as u32).to_le_bytes());
        self.record.extend_from_slice(&[0; 4]);
        self.record.extend_from_slice(&[kind, 0, 0, 0]);
        self.record.extend_from_slice(&seq.to_le_bytes());
        self.record.extend_from_slice(&pos.seq.to_le_bytes());
        self.record.extend_from_slice(&pos.idx.to_le_bytes());
        debug_assert_eq!(self.record.len(), HEADER_LEN);
        self.record.extend_from_slice(body);
        let crc = crc32c::crc32c(&self.record[8..]);
        self.record[4..8].copy_from_slice(&crc.to_le_bytes());
        self.file
            .write_all(&self.record)
            .map_err(|e| StoreError::Io {
                op: "append to",
                path: self.path.clone(),
                source: e,
            })?;
        self.len += len as u64;
        Ok(())
    }
}

/// Parses one record at the start of `b`: `(kind, seq, pos, body_len)`, or
/// `None` if it is incomplete or does not check.
fn parse_record(b: &[u8]) -> Option<(u8, u64, EnginePos, usize)> {
    let header = b.get(..HEADER_LEN)?;
    let len = u32::from_le_bytes(header[0..4].try_into().ok()?) as usize;
    if !(HEADER_LEN..=HEADER_LEN + MESSAGE_MAX).contains(&len) {
        return None;
    }
    let record = b.get(..len)?;
    let crc = u32::from_le_bytes(header[4..8].try_into().ok()?);
    if crc32c::crc32c(&record[8..]) != crc {
        return None;
    }
    let kind = header[8];
    let seq = u64::from_le_bytes(header[12..20].try_into().ok()?);
    let pos = EnginePos {
        seq: u64::from_le_bytes(header[20..28].try_into().ok()?),
        idx: u32::from_le_bytes(header[28..32].try_into().ok()?),
    };
    Some((kind, seq, pos, len - HEADER_LEN))
}

/// The gateway-wide delivery watermark: every event caused by an input with
/// a sequence number up to it has been handed to its session's store. Kept
/// in a 16-byte file rewritten in place (`[seq u64][crc32c u32][pad]`).
#[derive(Debug)]
pub struct Watermark {
    path: PathBuf,
    file: File,
    seq: u64,
}

impl Watermark {
    /// Opens (or creates) the watermark file; a damaged one reads as 0 (a
    /// longer re-derivation on restart, never a lost event).
    ///
    /// # Errors
    /// The file cannot be opened.
    pub fn open(path: &Path) -> Result<Watermark, StoreError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Io {
                op: "create the directory of",
                path: path.to_path_buf(),
                source: e,
            })?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| StoreError::Io {
                op: "open",
                path: path.to_path_buf(),
                source: e,
            })?;
        let mut b = [0u8; 16];
        let seq = match file.read_exact_at(&mut b, 0) {
            Ok(()) => {
                let seq = u64::from_le_bytes(b[0..8].try_into().unwrap_or_default());
                let crc = u32::from_le_bytes(b[8..12].try_into().unwrap_or_default());
                if crc32c::crc32c(&b[0..8]) == crc {
                    seq
                } else {
                    0
                }
            }
            Err(_) => 0,
        };
        Ok(Watermark {
            path: path.to_path_buf(),
            file,
            seq,
        })
    }

    /// The watermark.
    #[must_use]
    pub fn get(&self) -> u64 {
        self.seq
    }

    /// Raises the watermark to `seq` (never lowers it).
    ///
    /// # Errors
    /// The write failed.
    pub fn set(&mut self, seq: u64) -> Result<(), StoreError> {
        if seq <= self.seq {
            return Ok(());
        }
        let mut b = [0u8; 16];
        b[0..8].copy_from_slice(&seq.to_le_bytes());
        let crc = crc32c::crc32c(&b[0..8]);
        b[8..12].copy_from_slice(&crc.to_le_bytes());
        self.file.write_all_at(&b, 0).map_err(|e| StoreError::Io {
            op: "write",
            path: self.path.clone(),
            source: e,
        })?;
        self.seq = seq;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(seq: u64, idx: u32) -> EnginePos {
        EnginePos { seq, idx }
    }

    #[test]
    fn remembers_sequences_and_messages_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.log");
        {
            let mut s = MessageStore::open(&path, 7).unwrap();
            assert_eq!((s.next_out_seq(), s.next_in_seq()), (1, 1));
            s.append_out(1, None, pos(0, 0)).unwrap();
            s.append_out(2, Some(b"8=FIX.4.4\x01two"), pos(7, 0))
                .unwrap();
            s.append_out(3, Some(b"three"), pos(7, 1)).unwrap();
            s.set_next_in_seq(5).unwrap();
        }
        let mut s = MessageStore::open(&path, 7).unwrap();
        assert_eq!((s.next_out_seq(), s.next_in_seq()), (4, 5));
        assert_eq!(s.last_pos(), pos(7, 1));
        assert_eq!(s.stored(1), Stored::Admin);
        assert_eq!(s.stored(2), Stored::App(b"8=FIX.4.4\x01two"));
        assert_eq!(s.stored(3), Stored::App(b"three"));
        assert_eq!(s.stored(4), Stored::Missing);
        assert_eq!(s.stored(0), Stored::Missing);
    }

    #[test]
    fn a_torn_tail_is_cut_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.log");
        let full_len;
        {
            let mut s = MessageStore::open(&path, 7).unwrap();
            s.append_out(1, Some(b"one"), pos(1, 0)).unwrap();
            full_len = std::fs::metadata(&path).unwrap().len();
            s.append_out(2, Some(b"two-two"), pos(2, 0)).unwrap();
        }
        // Every cut inside the second record loses exactly that record.
        let total = std::fs::metadata(&path).unwrap().len();
        let bytes = std::fs::read(&path).unwrap();
        for cut in full_len..total {
            std::fs::write(&path, &bytes[..cut as usize]).unwrap();
            let mut s = MessageStore::open(&path, 7).unwrap();
            assert_eq!(s.next_out_seq(), 2, "cut at {cut}");
            assert_eq!(s.cut_bytes, cut - full_len);
            assert_eq!(s.stored(1), Stored::App(b"one"));
            // And appending after the cut works.
            s.append_out(2, Some(b"again"), pos(2, 0)).unwrap();
            drop(s);
            let mut s = MessageStore::open(&path, 7).unwrap();
            assert_eq!(s.stored(2), Stored::App(b"again"));
        }
        // A flipped byte in the first record's body loses both (the scan
        // stops at the first bad record).
        let mut bad = bytes.clone();
        bad[HEADER_LEN + 1] ^= 0xff;
        std::fs::write(&path, &bad).unwrap();
        let s = MessageStore::open(&path, 7).unwrap();
        assert_eq!(s.next_out_seq(), 1);
    }

    #[test]
    fn reset_starts_again_and_keeps_the_engine_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.log");
        let mut s = MessageStore::open(&path, 7).unwrap();
        s.append_out(1, Some(b"one"), pos(3, 2)).unwrap();
        s.set_next_in_seq(9).unwrap();
        s.reset(42).unwrap();
        assert_eq!((s.next_out_seq(), s.next_in_seq()), (1, 1));
        drop(s);
        let mut s = MessageStore::open(&path, 7).unwrap();
        assert_eq!((s.next_out_seq(), s.next_in_seq()), (1, 1));
        assert_eq!(s.last_reset_ns(), Some(42));
        assert_eq!(s.last_pos(), pos(3, 2));
        assert_eq!(s.stored(1), Stored::Missing);
    }

    #[test]
    fn skipped_numbers_read_as_gap_fills() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = MessageStore::open(&dir.path().join("s.log"), 7).unwrap();
        s.append_out(1, Some(b"one"), pos(1, 0)).unwrap();
        s.skip_out_to(4).unwrap();
        assert_eq!(s.next_out_seq(), 4);
        assert_eq!(s.stored(2), Stored::Admin);
    }

    #[test]
    fn watermark_survives_reopen_and_never_goes_down() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w");
        let mut w = Watermark::open(&path).unwrap();
        assert_eq!(w.get(), 0);
        w.set(10).unwrap();
        w.set(5).unwrap();
        assert_eq!(Watermark::open(&path).unwrap().get(), 10);
        std::fs::write(&path, [0xffu8; 16]).unwrap();
        assert_eq!(
            Watermark::open(&path).unwrap().get(),
            0,
            "damaged reads as 0"
        );
    }
}
