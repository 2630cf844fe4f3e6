//! The durable mark: `durable.mark`, the highest sequence number known to be
//! on stable storage, so recovery can tell an unsynced torn tail (cut it)
//! from damage to acknowledged data (refuse to open).
//!
//! The file holds two 64-byte slots, at offsets 0 and 512 (different
//! sectors). Updates alternate between them with an increasing generation,
//! and each slot carries a CRC32C, so a torn update destroys at most the slot
//! being written and the other still holds the previous, smaller mark.
//! Reading takes the valid slot with the highest generation. A mark that is
//! behind the truth is safe (it only widens what counts as tail); a mark is
//! never written before the data it names has been synced, so it is never
//! ahead of the disk.
//!
//! Slot layout (little-endian): `0..4` magic `b"DMRK"`, `4..8` format
//! version (1), `8..16` generation, `16..24` durable sequence number,
//! `24..32` segment index and `32..40` offset the sync reached (at or after
//! the end of that frame; informational), `40..48` largest timestamp synced,
//! `48..60` zero, `60..64` CRC32C of bytes `0..60`.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::JournalError;

/// File name of the durable mark inside a journal directory.
pub const MARK_FILE_NAME: &str = "durable.mark";
const MARK_MAGIC: [u8; 4] = *b"DMRK";
const MARK_SLOT_SIZE: usize = 64;
const MARK_SLOT_OFFSETS: [u64; 2] = [0, 512];

/// The content of a durable mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DurableMark {
    /// Every frame with a sequence number up to this one was on stable storage.
    pub durable_seq: u64,
    /// Segment the sync reached.
    pub segment_index: u64,
    /// Offset in that segment the sync reached.
    pub offset: u64,
    /// Largest timestamp among the synced frames.
    pub time_ns: u64,
    /// Update counter (which slot is newer).
    pub generation: u64,
}

impl DurableMark {
    fn to_bytes(self) -> [u8; MARK_SLOT_SIZE] {
        let mut b = [0u8; MARK_SLOT_SIZE];
        b[0..4].copy_from_slice(&MARK_MAGIC);
        b[4..8].copy_from_slice(&1u32.to_le_bytes());
        b[8..16].copy_from_slice(&self.generation.to_le_bytes());
        b[16..24].copy_from_slice(&self.durable_seq.to_le_bytes());
        b[24..32].copy_from_slice(&self.segment_index.to_le_bytes());
        b[32..40].copy_from_slice(&self.offset.to_le_bytes());
        b[40..48].copy_from_slice(&self.time_ns.to_le_bytes());
        let crc = crc32c::crc32c(&b[0..60]);
        b[60..64].copy_from_slice(&crc.to_le_bytes());
        b
    }

    fn from_bytes(b: &[u8; MARK_SLOT_SIZE]) -> Option<DurableMark> {
        let word =
            |r: std::ops::Range<usize>| u64::from_le_bytes(b[r].try_into().expect("8 bytes"));
        let crc = u32::from_le_bytes(b[60..64].try_into().expect("4 bytes"));
        if b[0..4] != MARK_MAGIC
            || b[4..8] != 1u32.to_le_bytes()
            || crc != crc32c::crc32c(&b[0..60])
        {
            return None;
        }
        Some(DurableMark {
            generation: word(8..16),
            durable_seq: word(16..24),
            segment_index: word(24..32),
            offset: word(32..40),
            time_ns: word(40..48),
        })
    }
}

/// Reads the durable mark of `dir`; `None` if there is none or neither slot
/// is valid.
///
/// # Errors
/// `JournalError::Io` if the file exists but cannot be read.
pub fn read_mark(dir: &Path) -> Result<Option<DurableMark>, JournalError> {
    let path = dir.join(MARK_FILE_NAME);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(JournalError::io("open durable mark", &path, e)),
    };
    let mut best: Option<DurableMark> = None;
    for off in MARK_SLOT_OFFSETS {
        let mut b = [0u8; MARK_SLOT_SIZE];
        match file.read_exact_at(&mut b, off) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => continue,
            Err(e) => return Err(JournalError::io("read durable mark", &path, e)),
        }
        if let Some(m) = DurableMark::from_bytes(&b) {
            if best.is_none_or(|b| m.generation > b.generation) {
                best = Some(m);
            }
        }
    }
    Ok(best)
}

/// Writes the durable mark (alternating slots, one `fdatasync` per update).
#[derive(Debug)]
pub(crate) struct MarkWriter {
    file: File,
    path: PathBuf,
    generation: u64,
}

impl MarkWriter {
    pub(crate) fn open(
        dir: &Path,
        previous: Option<DurableMark>,
    ) -> Result<MarkWriter, JournalError> {
        let path = dir.join(MARK_FILE_NAME);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| JournalError::io("open durable mark", &path, e))?;
        Ok(MarkWriter {
            file,
            path,
            generation: previous.map_or(0, |m| m.generation),
        })
    }

    /// Records `mark` and syncs it. Call only after the data it names is synced.
    pub(crate) fn write(&mut self, mut mark: DurableMark) -> Result<(), JournalError> {
        self.generation += 1;
        mark.generation = self.generation;
        let off = MARK_SLOT_OFFSETS[(self.generation % 2) as usize];
        self.file
            .write_all_at(&mark.to_bytes(), off)
            .map_err(|e| JournalError::io("write durable mark", &self.path, e))?;
        self.file
            .sync_data()
            .map_err(|e| JournalError::io("sync durable mark", &self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_valid_slot_wins_and_a_torn_slot_falls_back() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_mark(dir.path()).unwrap(), None);
        let mut w = MarkWriter::open(dir.path(), None).unwrap();
        w.write(DurableMark {
            durable_seq: 5,
            ..Default::default()
        })
        .unwrap();
        w.write(DurableMark {
            durable_seq: 9,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(read_mark(dir.path()).unwrap().unwrap().durable_seq, 9);
        // Tear the newest slot (generation 2 lives at slot 0).
        let f = OpenOptions::new()
            .write(true)
            .open(dir.path().join(MARK_FILE_NAME))
            .unwrap();
        f.write_all_at(&[0xAB; 7], 20).unwrap();
        assert_eq!(read_mark(dir.path()).unwrap().unwrap().durable_seq, 5);
        // A writer reopened on the older mark continues with a higher generation.
        let mut w = MarkWriter::open(dir.path(), read_mark(dir.path()).unwrap()).unwrap();
        w.write(DurableMark {
            durable_seq: 12,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(read_mark(dir.path()).unwrap().unwrap().durable_seq, 12);
    }
}
