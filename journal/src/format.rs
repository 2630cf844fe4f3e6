//! The on-disk format: segment header, frame header, end-of-segment marker
//! and index slots, with their encoders, decoders and checksums.
//!
//! Everything is little-endian. The byte-by-byte description is in the crate
//! documentation (`lib.rs`); this module is its single implementation, and
//! the compile-time asserts below pin the sizes it documents.
//!
//! Design note: the frame's length word is the *publication* word. The
//! writer fills the rest of the header and the payload first and stores the
//! length last with `Release` ordering; a reader loads it with `Acquire`. A
//! zero length word therefore always means "nothing here yet", which is also
//! what a preallocated (zero-filled) segment contains.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Magic bytes at the start of every segment file.
pub(crate) const SEGMENT_MAGIC: [u8; 8] = *b"VENUEJNL";
/// Version of the segment and frame format described in the crate docs.
pub const FORMAT_VERSION: u32 = 1;
/// Size of the segment header at offset 0 of every segment.
pub const SEGMENT_HEADER_SIZE: usize = 64;
/// Size of the fixed header that precedes every payload.
pub const FRAME_HEADER_SIZE: usize = 32;
/// Frames start at multiples of this; the padding after a payload is zero.
pub const FRAME_ALIGN: usize = 8;
/// Size of one sparse-index slot in the index region at the end of a segment.
pub(crate) const INDEX_SLOT_SIZE: usize = 32;
/// The index region is rounded up to this, so it starts on a page boundary.
pub(crate) const PAGE_SIZE: usize = 4096;
/// Length word of the end-of-segment marker (never a valid frame length).
pub(crate) const LEN_END_OF_SEGMENT: u32 = u32::MAX;
/// Largest frame (header plus payload) the format allows, far below
/// `LEN_END_OF_SEGMENT`; a segment must also be large enough to hold it.
pub(crate) const FRAME_LEN_MAX: u32 = 1 << 30;

/// Layout of the frame header as it lies in the file (little-endian fields).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    /// Header plus payload, in bytes, without the alignment padding. Zero:
    /// end of data. `u32::MAX`: end-of-segment marker.
    pub(crate) frame_len: u32,
    /// CRC32C of the 32 header bytes (with this field zero) then the payload.
    pub(crate) crc: u32,
    /// Sequence number, contiguous from 1 across segments.
    pub(crate) seq: u64,
    /// Caller's timestamp, nanoseconds since the Unix epoch.
    pub(crate) time_ns: u64,
    /// Caller-defined payload type.
    pub(crate) payload_type: u16,
    /// Caller-defined version of the payload's format.
    pub(crate) format_version: u16,
    /// Must be zero (room for flags in a later format version).
    pub(crate) reserved: u32,
}

const _: () = assert!(size_of::<FrameHeader>() == FRAME_HEADER_SIZE);
const _: () = assert!(align_of::<FrameHeader>() <= FRAME_ALIGN);
const _: () = assert!(FRAME_HEADER_SIZE % FRAME_ALIGN == 0);
const _: () = assert!(SEGMENT_HEADER_SIZE % FRAME_ALIGN == 0);
const _: () = assert!(PAGE_SIZE % INDEX_SLOT_SIZE == 0);
const _: () = assert!(FRAME_LEN_MAX < LEN_END_OF_SEGMENT);

impl FrameHeader {
    /// Encodes the header; the `crc` field is written as given.
    #[inline]
    pub(crate) fn encode(&self) -> [u8; FRAME_HEADER_SIZE] {
        let mut b = [0u8; FRAME_HEADER_SIZE];
        b[0..4].copy_from_slice(&self.frame_len.to_le_bytes());
        b[4..8].copy_from_slice(&self.crc.to_le_bytes());
        b[8..16].copy_from_slice(&self.seq.to_le_bytes());
        b[16..24].copy_from_slice(&self.time_ns.to_le_bytes());
        b[24..26].copy_from_slice(&self.payload_type.to_le_bytes());
        b[26..28].copy_from_slice(&self.format_version.to_le_bytes());
        b[28..32].copy_from_slice(&self.reserved.to_le_bytes());
        b
    }

    /// Decodes a header from its 32 bytes.
    #[inline]
    pub(crate) fn from_bytes(b: &[u8; FRAME_HEADER_SIZE]) -> FrameHeader {
        FrameHeader {
            frame_len: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            crc: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
            seq: u64::from_le_bytes(b[8..16].try_into().expect("8 bytes")),
            time_ns: u64::from_le_bytes(b[16..24].try_into().expect("8 bytes")),
            payload_type: u16::from_le_bytes([b[24], b[25]]),
            format_version: u16::from_le_bytes([b[26], b[27]]),
            reserved: u32::from_le_bytes([b[28], b[29], b[30], b[31]]),
        }
    }

    /// Payload length in bytes (only meaningful for a real frame).
    #[inline]
    pub(crate) fn payload_len(&self) -> usize {
        debug_assert!(self.frame_len as usize >= FRAME_HEADER_SIZE);
        self.frame_len as usize - FRAME_HEADER_SIZE
    }
}

/// The frame checksum: CRC32C of the frame's bytes from offset 8 (the
/// fields after the CRC, then the payload) to `frame_len`, with the length
/// word as the initial CRC value, so one pass covers every header field and
/// the payload. `after_crc` is `frame[8..frame_len]` (`frame[8..32]` for
/// an end marker).
#[inline]
pub(crate) fn frame_crc(frame_len: u32, after_crc: &[u8]) -> u32 {
    crate::crc::crc32c_append(frame_len, after_crc)
}

/// Rounds `n` up to the frame alignment.
#[inline]
pub(crate) const fn align_up(n: usize) -> usize {
    (n + FRAME_ALIGN - 1) & !(FRAME_ALIGN - 1)
}

/// The segment header at offset 0 of every segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentHeader {
    /// Position of the segment in the journal (0, 1, 2...), also its file name.
    pub(crate) segment_index: u64,
    /// Total size of the file, in bytes.
    pub(crate) segment_size_bytes: u64,
    /// Distance between sparse-index slots, in bytes.
    pub(crate) index_interval_bytes: u32,
    /// Number of index slots in the index region.
    pub(crate) index_slots: u32,
    /// When the segment was created, ns since the Unix epoch (informational).
    pub(crate) created_ns: u64,
}

impl SegmentHeader {
    /// Encodes the header with its checksum.
    pub(crate) fn encode(&self) -> [u8; SEGMENT_HEADER_SIZE] {
        let mut b = [0u8; SEGMENT_HEADER_SIZE];
        b[0..8].copy_from_slice(&SEGMENT_MAGIC);
        b[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&(SEGMENT_HEADER_SIZE as u32).to_le_bytes());
        b[16..24].copy_from_slice(&self.segment_index.to_le_bytes());
        b[24..32].copy_from_slice(&self.segment_size_bytes.to_le_bytes());
        b[32..36].copy_from_slice(&self.index_interval_bytes.to_le_bytes());
        b[36..40].copy_from_slice(&self.index_slots.to_le_bytes());
        b[40..48].copy_from_slice(&self.created_ns.to_le_bytes());
        let crc = crc32c::crc32c(&b[0..60]);
        b[60..64].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes and checks a segment header; the error is a reason for people.
    pub(crate) fn from_bytes(b: &[u8]) -> Result<SegmentHeader, String> {
        if b.len() < SEGMENT_HEADER_SIZE {
            return Err(format!(
                "file is {} bytes, shorter than a segment header",
                b.len()
            ));
        }
        if b[0..8] != SEGMENT_MAGIC {
            return Err("bad magic (not a venue journal segment)".to_string());
        }
        let stored = u32::from_le_bytes(b[60..64].try_into().expect("4 bytes"));
        let computed = crc32c::crc32c(&b[0..60]);
        if stored != computed {
            return Err(format!(
                "segment header crc mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ));
        }
        let version = u32::from_le_bytes(b[8..12].try_into().expect("4 bytes"));
        if version != FORMAT_VERSION {
            return Err(format!(
                "unsupported format version {version} (this build reads {FORMAT_VERSION})"
            ));
        }
        let header_size = u32::from_le_bytes(b[12..16].try_into().expect("4 bytes"));
        if header_size as usize != SEGMENT_HEADER_SIZE {
            return Err(format!("unexpected segment header size {header_size}"));
        }
        let h = SegmentHeader {
            segment_index: u64::from_le_bytes(b[16..24].try_into().expect("8 bytes")),
            segment_size_bytes: u64::from_le_bytes(b[24..32].try_into().expect("8 bytes")),
            index_interval_bytes: u32::from_le_bytes(b[32..36].try_into().expect("4 bytes")),
            index_slots: u32::from_le_bytes(b[36..40].try_into().expect("4 bytes")),
            created_ns: u64::from_le_bytes(b[40..48].try_into().expect("8 bytes")),
        };
        let layout = SegmentLayout::new(h.segment_size_bytes, h.index_interval_bytes)
            .map_err(|reason| format!("segment header describes an invalid layout: {reason}"))?;
        if layout.index_slots != h.index_slots as usize {
            return Err("segment header index slot count does not match its layout".to_string());
        }
        Ok(h)
    }
}

/// Where things are inside a segment of a given size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentLayout {
    /// Total file size.
    pub(crate) segment_size_bytes: usize,
    /// First byte of the first frame.
    pub(crate) data_start: usize,
    /// First byte of the index region; frames and the end marker end before it.
    pub(crate) data_end: usize,
    /// Distance between index slots.
    pub(crate) index_interval_bytes: usize,
    /// Number of index slots.
    pub(crate) index_slots: usize,
}

impl SegmentLayout {
    /// Segment sizes accepted: a multiple of 4096 between 16 KiB and 1 TiB.
    pub(crate) const SEGMENT_SIZE_MIN_BYTES: u64 = 16 * 1024;
    /// See [`SegmentLayout::SEGMENT_SIZE_MIN_BYTES`].
    pub(crate) const SEGMENT_SIZE_MAX_BYTES: u64 = 1 << 40;

    /// Computes the layout, or says why the parameters are unusable.
    pub(crate) fn new(
        segment_size_bytes: u64,
        index_interval_bytes: u32,
    ) -> Result<SegmentLayout, String> {
        if !(Self::SEGMENT_SIZE_MIN_BYTES..=Self::SEGMENT_SIZE_MAX_BYTES)
            .contains(&segment_size_bytes)
            || segment_size_bytes % PAGE_SIZE as u64 != 0
        {
            return Err(format!(
                "segment size {segment_size_bytes} must be a multiple of 4096 between 16 KiB and 1 TiB"
            ));
        }
        if !index_interval_bytes.is_power_of_two() || index_interval_bytes < 1024 {
            return Err(format!(
                "index interval {index_interval_bytes} must be a power of two of at least 1024"
            ));
        }
        let size = segment_size_bytes as usize;
        let interval = index_interval_bytes as usize;
        let index_slots = size.div_ceil(interval);
        let index_region = (index_slots * INDEX_SLOT_SIZE).div_ceil(PAGE_SIZE) * PAGE_SIZE;
        if index_region * 2 > size {
            return Err("index interval too small for the segment size".to_string());
        }
        Ok(SegmentLayout {
            segment_size_bytes: size,
            data_start: SEGMENT_HEADER_SIZE,
            data_end: size - index_region,
            index_interval_bytes: interval,
            index_slots,
        })
    }

    /// Largest payload a frame can carry in this layout.
    pub(crate) fn payload_max_bytes(&self) -> usize {
        let room = self.data_end - self.data_start - FRAME_HEADER_SIZE; // keep room for the end marker
        (room - FRAME_HEADER_SIZE).min(FRAME_LEN_MAX as usize - FRAME_HEADER_SIZE)
            & !(FRAME_ALIGN - 1)
    }

    /// Byte offset of index slot `slot`.
    #[inline]
    pub(crate) fn slot_offset(&self, slot: usize) -> usize {
        debug_assert!(slot < self.index_slots);
        self.data_end + slot * INDEX_SLOT_SIZE
    }
}

/// One sparse-index slot: the first frame at or after `slot * interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexSlot {
    /// Sequence number of the frame (0: empty slot).
    pub(crate) seq: u64,
    /// Offset of the frame in the segment.
    pub(crate) offset: u64,
    /// Largest timestamp of all frames *before* this one in the journal
    /// (a running maximum, so it is non-decreasing even if timestamps are not).
    pub(crate) max_time_before_ns: u64,
}

impl IndexSlot {
    fn crc(&self) -> u32 {
        let mut b = [0u8; 24];
        b[0..8].copy_from_slice(&self.seq.to_le_bytes());
        b[8..16].copy_from_slice(&self.offset.to_le_bytes());
        b[16..24].copy_from_slice(&self.max_time_before_ns.to_le_bytes());
        crc32c::crc32c(&b)
    }
}

/// Reads one `u32` word with `Acquire` ordering.
///
/// # Safety
/// `ptr` must be 4-byte aligned, inside a live mapping, and only ever
/// written concurrently through atomic operations.
#[inline]
pub(crate) unsafe fn load_u32_acquire(ptr: *const u8) -> u32 {
    debug_assert!((ptr as usize) % 4 == 0);
    // SAFETY: the caller guarantees alignment, liveness, and that concurrent
    // writers use atomics; an atomic load of 4 bytes is allowed on read-only
    // memory.
    let word = unsafe { AtomicU32::from_ptr(ptr as *mut u32) };
    u32::from_le(word.load(Ordering::Acquire))
}

/// Stores one `u32` word with `Release` ordering.
///
/// # Safety
/// `ptr` must be 4-byte aligned, inside a live writable mapping, and only
/// accessed concurrently through atomic operations.
#[inline]
pub(crate) unsafe fn store_u32_release(ptr: *mut u8, value: u32) {
    debug_assert!((ptr as usize) % 4 == 0);
    // SAFETY: as required of the caller.
    let word = unsafe { AtomicU32::from_ptr(ptr as *mut u32) };
    word.store(value.to_le(), Ordering::Release);
}

/// Reads an index slot (all words atomically; `seq` with `Acquire`).
///
/// # Safety
/// `ptr` must be 8-byte aligned, point at `INDEX_SLOT_SIZE` bytes inside a
/// live mapping, written concurrently only through [`store_slot`].
pub(crate) unsafe fn load_slot(ptr: *const u8) -> Option<IndexSlot> {
    debug_assert!((ptr as usize) % 8 == 0);
    // SAFETY: as required of the caller; 8-byte aligned words in the slot.
    let words = unsafe {
        [
            AtomicU64::from_ptr(ptr as *mut u64),
            AtomicU64::from_ptr(ptr.add(8) as *mut u64),
            AtomicU64::from_ptr(ptr.add(16) as *mut u64),
            AtomicU64::from_ptr(ptr.add(24) as *mut u64),
        ]
    };
    let seq = u64::from_le(words[0].load(Ordering::Acquire));
    if seq == 0 {
        return None;
    }
    let slot = IndexSlot {
        seq,
        offset: u64::from_le(words[1].load(Ordering::Relaxed)),
        max_time_before_ns: u64::from_le(words[2].load(Ordering::Relaxed)),
    };
    let crc = u64::from_le(words[3].load(Ordering::Relaxed)) as u32;
    (crc == slot.crc()).then_some(slot)
}

/// Writes an index slot; `seq` last with `Release`, so a reader that sees
/// the sequence number sees the rest (and the checksum catches torn slots
/// after a crash).
///
/// # Safety
/// `ptr` must be 8-byte aligned, point at `INDEX_SLOT_SIZE` writable bytes
/// inside a live mapping, accessed concurrently only through atomics.
pub(crate) unsafe fn store_slot(ptr: *mut u8, slot: Option<&IndexSlot>) {
    debug_assert!((ptr as usize) % 8 == 0);
    // SAFETY: as required of the caller.
    let words = unsafe {
        [
            AtomicU64::from_ptr(ptr as *mut u64),
            AtomicU64::from_ptr(ptr.add(8) as *mut u64),
            AtomicU64::from_ptr(ptr.add(16) as *mut u64),
            AtomicU64::from_ptr(ptr.add(24) as *mut u64),
        ]
    };
    match slot {
        None => {
            words[0].store(0, Ordering::Release);
            for w in &words[1..] {
                w.store(0, Ordering::Relaxed);
            }
        }
        Some(s) => {
            debug_assert!(s.seq != 0);
            words[1].store(s.offset.to_le(), Ordering::Relaxed);
            words[2].store(s.max_time_before_ns.to_le(), Ordering::Relaxed);
            words[3].store(u64::from(s.crc()).to_le(), Ordering::Relaxed);
            words[0].store(s.seq.to_le(), Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crc_of(h: &FrameHeader, payload: &[u8]) -> u32 {
        let mut frame = h.encode().to_vec();
        frame.extend_from_slice(payload);
        frame_crc(h.frame_len, &frame[8..])
    }

    #[test]
    fn frame_header_round_trips_and_crc_covers_every_field() {
        let h = FrameHeader {
            frame_len: 40,
            crc: 0,
            seq: 7,
            time_ns: 1_700_000_000_000_000_000,
            payload_type: 3,
            format_version: 2,
            reserved: 0,
        };
        assert_eq!(FrameHeader::from_bytes(&h.encode()), h);
        let p = b"12345678";
        let base = crc_of(&h, p);
        assert_ne!(crc_of(&FrameHeader { seq: 8, ..h }, p), base);
        assert_ne!(crc_of(&FrameHeader { time_ns: 1, ..h }, p), base);
        assert_ne!(
            crc_of(
                &FrameHeader {
                    payload_type: 4,
                    ..h
                },
                p
            ),
            base
        );
        assert_ne!(
            crc_of(
                &FrameHeader {
                    format_version: 1,
                    ..h
                },
                p
            ),
            base
        );
        assert_ne!(crc_of(&FrameHeader { reserved: 1, ..h }, p), base);
        assert_ne!(crc_of(&FrameHeader { frame_len: 41, ..h }, p), base);
        assert_ne!(crc_of(&h, b"12345679"), base);
        // The stored crc itself is not an input.
        assert_eq!(crc_of(&FrameHeader { crc: 99, ..h }, p), base);
        // Every single-bit flip anywhere in the covered bytes is detected.
        let mut frame = h.encode().to_vec();
        frame.extend_from_slice(p);
        for byte in (0..4).chain(8..frame.len()) {
            for bit in 0..8 {
                let mut f = frame.clone();
                f[byte] ^= 1 << bit;
                let len = u32::from_le_bytes(f[0..4].try_into().unwrap());
                assert_ne!(frame_crc(len, &f[8..]), base, "byte {byte} bit {bit}");
            }
        }
    }

    #[test]
    fn segment_header_rejects_a_flipped_byte() {
        let h = SegmentHeader {
            segment_index: 3,
            segment_size_bytes: 64 * 1024,
            index_interval_bytes: 4096,
            index_slots: 16,
            created_ns: 1,
        };
        let mut b = h.encode();
        assert_eq!(SegmentHeader::from_bytes(&b), Ok(h));
        b[20] ^= 1;
        assert!(SegmentHeader::from_bytes(&b).is_err());
    }

    #[test]
    fn layout_keeps_the_index_region_page_aligned() {
        let l = SegmentLayout::new(256 << 20, 64 << 10).unwrap();
        assert_eq!(l.data_end % PAGE_SIZE, 0);
        assert_eq!(l.index_slots, 4096);
        assert_eq!(l.segment_size_bytes - l.data_end, 4096 * INDEX_SLOT_SIZE);
        assert!(SegmentLayout::new(1000, 4096).is_err());
        assert!(SegmentLayout::new(64 << 10, 1000).is_err());
    }
}
