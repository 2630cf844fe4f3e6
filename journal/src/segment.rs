//! Segment files: naming, creation with real block allocation, mapping, and
//! the frame decoder every scan goes through ([`Segment::check_frame`]).
//!
//! A segment is created as `NNNNNNNN.log.tmp`, allocated with
//! `posix_fallocate` and zero writes (so a full disk is an error here, never
//! a `SIGBUS` when a sparse page is first written through the mapping, and
//! the pages are already in the page cache), given its header (synced),
//! then renamed into place; in the durable modes the zeros are written to
//! the disk as well (see [`zero_fill`]). A reader therefore never sees
//! a half-created segment. Segments are never resized once named, so a
//! mapping stays valid for its whole life.
//!
//! Memory model: a segment is mapped with `MmapRaw` and only touched through
//! raw pointers, never through a `&mut [u8]` covering the whole mapping. The
//! writer owns the bytes at and after its position; everything before it is
//! immutable once the frame's length word has been stored with `Release`.
//! Readers (in this or another process) load the length word with `Acquire`
//! and only then read the frame, so they never see a half-written frame.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use memmap2::{MmapOptions, MmapRaw};

use crate::error::{BadFrame, JournalError};
use crate::format::{
    FRAME_HEADER_SIZE, FRAME_LEN_MAX, FrameHeader, IndexSlot, LEN_END_OF_SEGMENT,
    SEGMENT_HEADER_SIZE, SegmentHeader, SegmentLayout, align_up, frame_crc, load_slot,
    load_u32_acquire,
};

/// File name of segment `index`: eight or more digits, so names sort in order.
pub(crate) fn segment_file_name(index: u64) -> String {
    format!("{index:08}.log")
}

/// The segment index in a file name, if it is a segment file name.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".log")?;
    if digits.len() < 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Segment files of `dir`, in order, checked to be numbered contiguously.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, JournalError> {
    let entries = fs::read_dir(dir).map_err(|e| JournalError::io("read directory", dir, e))?;
    let mut segments = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| JournalError::io("read directory", dir, e))?;
        if let Some(index) = entry.file_name().to_str().and_then(parse_segment_name) {
            segments.push((index, entry.path()));
        }
    }
    segments.sort();
    for pair in segments.windows(2) {
        if pair[1].0 != pair[0].0 + 1 {
            return Err(JournalError::MissingSegment {
                dir: dir.to_path_buf(),
                missing: dir.join(segment_file_name(pair[0].0 + 1)),
            });
        }
    }
    Ok(segments)
}

/// Syncs a directory so a rename or removal in it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| JournalError::io("sync directory", dir, e))
}

/// Allocates `[from, to)` of `file` for real: [`reserve`], then
/// [`zero_fill`].
pub(crate) fn allocate(file: &File, from: u64, to: u64) -> io::Result<()> {
    reserve(file, from, to)?;
    zero_fill(file, from, to, false, &mut no_pace)
}

/// Called by [`zero_fill`] after each chunk written through to the disk,
/// with the bytes done and the bytes in all; it may sleep, to leave the
/// disk to the flusher's syncs.
pub(crate) type Pace<'a> = &'a mut dyn FnMut(u64, u64);

/// A [`Pace`] that never waits.
pub(crate) fn no_pace(_done: u64, _total: u64) {}

/// Reserves the blocks of `[from, to)` with `posix_fallocate`, so a full
/// disk fails here, at once, and never later as a `SIGBUS` on a mapped
/// page. The blocks are "unwritten": until data reaches them they read as
/// zeros, also after a power cut.
pub(crate) fn reserve(file: &File, from: u64, to: u64) -> io::Result<()> {
    let len = libc::off_t::try_from(to - from)
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let start =
        libc::off_t::try_from(from).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    debug_assert!(file.as_raw_fd() >= 0);
    // SAFETY: `posix_fallocate` only reads its integer arguments; the file
    // descriptor is valid because `file` is borrowed for the whole call.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), start, len) };
    match rc {
        // Without fallocate support, `zero_fill` allocates instead.
        0 | libc::EOPNOTSUPP | libc::EINVAL => Ok(()),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

/// Writes zeros over `[from, to)`, for speed, in two ways:
///
/// - The pages land in the page cache. Writing through a mapping into
///   *unwritten* extents costs about 30 us per first-touch page fault on
///   this machine's ext4 (the extent is converted under the file system
///   journal), into pages already in the page cache about 0.6 us (measured
///   by hand on a 256 MiB file: 33k versus 1,565k first-touch faults/s).
/// - With `write_through` (durable modes), the zeros are also written to
///   the disk, 1 MiB at a time (`sync_file_range`, no cache flush), then one
///   `fdatasync`. The extents are then *written*, so the flusher's later
///   syncs of real data are plain overwrites that need no extent
///   conversion. A/B runs of `journal_bench` (group section, 1M frames/s
///   offered, two runs each) on this machine: mean sync 0.8-0.9 ms with
///   write-through against 5-21 ms without, append-to-durable p50 1.3 ms
///   against 7-55 ms. The machine is shared and noisy: figures vary several
///   fold between runs.
/// - After each chunk `pace` may sleep: the preparer uses it so its writes,
///   which every cache flush of the flusher's syncs must wait for, are
///   spread out rather than queued in one burst. Small chunks serve the
///   same end. ftrace of a 1M frames/s run: with 8 MiB unpaced chunks,
///   syncs took 6-14 ms for the 0.3 s the next segment was being written;
///   with 1 MiB paced chunks, at most 3-4 ms, as without the preparer.
/// - With `write_through`, the zeros are written one page per `pwrite`
///   (otherwise 1 MiB, as the `process` mode needs). Larger writes make the
///   page cache hold the file in large folios (ext4 has them since Linux
///   6.16; 1 MiB writes gave folios of up to 1 MiB), and writeback works in
///   whole folios: an `msync` of the 16 KiB a sync at 100k frames/s covers
///   wrote the whole folio around it, 13.6 times the bytes over a run
///   (ftrace `ext4_writepages`, range against `pages_written`), and write-
///   protected the prefaulted pages ahead of the writer in it, one TLB
///   shootdown each, so single syncs took up to 19 ms. Not in `process`
///   mode: there nothing syncs ranges, and single-page folios make the
///   background thread's prefaulting (one `page_mkwrite` a page) too slow
///   for a writer at 2 GB/s (`journal_bench` append, 64-byte payloads:
///   15M frames/s and ~10k writer page faults a run against 25M/s and
///   ~100 with 1 MiB writes).
///
/// Correctness does not depend on any of this: unwritten blocks read as
/// zeros, also after a power cut.
pub(crate) fn zero_fill(
    file: &File,
    from: u64,
    to: u64,
    write_through: bool,
    pace: Pace<'_>,
) -> io::Result<()> {
    const CHUNK_BYTES: u64 = 1 << 20;
    // Durable modes: one page per `pwrite`, so the page cache holds the
    // file in single-page folios (see the doc comment).
    let write_bytes: u64 = if write_through {
        crate::format::PAGE_SIZE as u64
    } else {
        1 << 20
    };
    let zeros = vec![0u8; write_bytes as usize];
    let mut off = from;
    let mut chunk_start = from;
    while off < to {
        let n = (write_bytes - off % write_bytes).min(to - off) as usize;
        file.write_all_at(&zeros[..n], off)?;
        off += n as u64;
        if write_through && (off - chunk_start >= CHUNK_BYTES || off == to) {
            write_out(file, chunk_start, off - chunk_start)?;
            chunk_start = off;
            pace(off - from, to - from);
        }
    }
    if write_through {
        file.sync_data()?;
    }
    Ok(())
}

/// Writes the dirty pages of a range to the disk and waits (no cache flush,
/// no metadata commit: that is left to one final `fdatasync`).
fn write_out(file: &File, offset: u64, len: u64) -> io::Result<()> {
    let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    debug_assert!(file.as_raw_fd() >= 0);
    // SAFETY: `sync_file_range` only reads its integer arguments; the
    // descriptor is valid because `file` is borrowed for the whole call.
    let rc = unsafe {
        libc::sync_file_range(
            file.as_raw_fd(),
            offset as libc::off64_t,
            len as libc::off64_t,
            flags,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    match io::Error::last_os_error() {
        // Not supported here: the final `fdatasync` writes everything anyway.
        e if matches!(
            e.raw_os_error(),
            Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP | libc::ESPIPE)
        ) =>
        {
            Ok(())
        }
        e => Err(e),
    }
}

/// A segment created under its `.tmp` name, allocated, with its header,
/// mapped, but not yet visible to readers or recovery.
#[derive(Debug)]
pub(crate) struct PreparedSegment {
    pub(crate) segment: Segment,
    tmp: PathBuf,
}

impl PreparedSegment {
    /// Creates segment `index` as `NNNNNNNN.log.tmp`, fully allocated, with
    /// its header (synced), and maps it read-write. With `write_through`
    /// (the `group` and `sync` modes) the zeros are written to the disk too,
    /// see [`zero_fill`].
    ///
    /// # Errors
    /// `JournalError::Io` if the file cannot be created, allocated (`ENOSPC`,
    /// `EFBIG`), written, synced or mapped; the `.tmp` file is then removed.
    pub(crate) fn create(
        dir: &Path,
        index: u64,
        layout: &SegmentLayout,
        write_through: bool,
        created_ns: u64,
        pace: Pace<'_>,
    ) -> Result<PreparedSegment, JournalError> {
        let path = dir.join(segment_file_name(index));
        let tmp = dir.join(format!("{}.tmp", segment_file_name(index)));
        let result = (|| {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)
                .map_err(|e| JournalError::io("create segment", &tmp, e))?;
            let size = layout.segment_size_bytes as u64;
            reserve(&file, 0, size).map_err(|e| JournalError::io("allocate segment", &tmp, e))?;
            let header = SegmentHeader {
                segment_index: index,
                segment_size_bytes: layout.segment_size_bytes as u64,
                index_interval_bytes: layout.index_interval_bytes as u32,
                index_slots: layout.index_slots as u32,
                created_ns,
            };
            file.write_all_at(&header.encode(), 0)
                .map_err(|e| JournalError::io("write segment header", &tmp, e))?;
            // Makes the size, the reserved blocks and the header durable;
            // cheap because the zeros are written only after it.
            file.sync_all()
                .map_err(|e| JournalError::io("sync segment", &tmp, e))?;
            zero_fill(&file, SEGMENT_HEADER_SIZE as u64, size, write_through, pace)
                .map_err(|e| JournalError::io("allocate segment", &tmp, e))?;
            let map = MmapOptions::new()
                .map_raw(&file)
                .map_err(|e| JournalError::io("map segment", &tmp, e))?;
            debug_assert_eq!(map.len(), layout.segment_size_bytes);
            Ok(Segment {
                index,
                path,
                layout: *layout,
                map,
            })
        })();
        match result {
            Ok(segment) => Ok(PreparedSegment { segment, tmp }),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Gives the segment its real name (the mapping is unaffected). The
    /// caller makes the rename durable (`sync_dir`) before any frame in the
    /// segment is declared durable.
    pub(crate) fn install(self) -> Result<Segment, JournalError> {
        fs::rename(&self.tmp, &self.segment.path)
            .map_err(|e| JournalError::io("rename segment", &self.tmp, e))?;
        Ok(self.segment)
    }

    /// Removes the unused `.tmp` file.
    pub(crate) fn discard(self) {
        let _ = fs::remove_file(&self.tmp);
    }
}

/// Creates, names and syncs segment `index` in one go (`write_through` as
/// for [`PreparedSegment::create`]).
///
/// # Errors
/// As [`PreparedSegment::create`], plus the rename and directory sync.
pub(crate) fn create_segment(
    dir: &Path,
    index: u64,
    layout: &SegmentLayout,
    write_through: bool,
    created_ns: u64,
) -> Result<Segment, JournalError> {
    let prepared =
        PreparedSegment::create(dir, index, layout, write_through, created_ns, &mut no_pace)?;
    let segment = prepared.install()?;
    sync_dir(dir)?;
    Ok(segment)
}

/// One decoded position in a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameAt {
    /// A valid frame.
    Frame {
        /// Its header.
        header: FrameHeader,
        /// Offset of the next frame.
        next_offset: usize,
    },
    /// A valid end-of-segment marker.
    EndOfSegment {
        /// Sequence number of the first frame of the next segment.
        next_seq: u64,
        /// Largest timestamp in the journal up to here.
        max_time_ns: u64,
    },
}

/// A mapped segment file.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) index: u64,
    pub(crate) path: PathBuf,
    pub(crate) layout: SegmentLayout,
    pub(crate) map: MmapRaw,
}

impl Segment {
    /// Opens and maps segment `path`, checking its header; `writable` maps
    /// it read-write (the writer), otherwise read-only.
    pub(crate) fn open(path: &Path, index: u64, writable: bool) -> Result<Segment, JournalError> {
        let file = OpenOptions::new()
            .read(true)
            .write(writable)
            .open(path)
            .map_err(|e| JournalError::io("open segment", path, e))?;
        let bad = |reason: String| JournalError::BadSegmentHeader {
            segment: path.to_path_buf(),
            reason,
        };
        let file_len = file
            .metadata()
            .map_err(|e| JournalError::io("stat segment", path, e))?
            .len();
        let mut hb = [0u8; SEGMENT_HEADER_SIZE];
        let n = file
            .read_at(&mut hb, 0)
            .map_err(|e| JournalError::io("read segment header", path, e))?;
        let header = SegmentHeader::from_bytes(&hb[..n]).map_err(bad)?;
        if header.segment_index != index {
            return Err(bad(format!(
                "header says segment {} but the file name says {index}",
                header.segment_index
            )));
        }
        if file_len != header.segment_size_bytes {
            // Mapping a file shorter than its header claims would SIGBUS on access.
            return Err(bad(format!(
                "file is {file_len} bytes but its header says {}",
                header.segment_size_bytes
            )));
        }
        let layout = SegmentLayout::new(header.segment_size_bytes, header.index_interval_bytes)
            .map_err(bad)?;
        let map = if writable {
            MmapOptions::new().map_raw(&file)
        } else {
            MmapOptions::new().map_raw_read_only(&file)
        }
        .map_err(|e| JournalError::io("map segment", path, e))?;
        debug_assert_eq!(map.len(), layout.segment_size_bytes);
        Ok(Segment {
            index,
            path: path.to_path_buf(),
            layout,
            map,
        })
    }

    /// Base pointer of the mapping.
    #[inline]
    pub(crate) fn base(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }

    /// Drops this mapping's page-table entries for the whole pages
    /// `[offset, offset + len)`, which the writer has finished with, before
    /// they are written back. Best effort: on failure nothing changes.
    ///
    /// Why: writeback write-protects every dirty page that is mapped
    /// writable (`folio_mkclean`), one TLB shootdown per page, and a
    /// shootdown interrupts every CPU the writer's process is running on.
    /// On the development VM that is about 19 us per 4 KiB page (ftrace of
    /// `ext4_writepages`: 19.5 us/page from the flusher against 0.2 us/page
    /// for unmapped pages; `perf`: the flusher's time all in
    /// `ptep_clear_flush` -> `flush_tlb_mm_range` -> `x2apic_send_IPI`), so
    /// at 160 MB/s writeback alone took ~0.8 CPU-seconds per second and a
    /// group sync tens of ms. Unmapping the range first costs one batched
    /// shootdown per call; writeback then finds no writable mapping.
    pub(crate) fn unmap_written(&self, offset: usize, len: usize) {
        let page = crate::format::PAGE_SIZE;
        debug_assert!(offset % page == 0);
        debug_assert!(len % page == 0);
        assert!(offset + len <= self.layout.segment_size_bytes);
        if len == 0 {
            return;
        }
        // SAFETY: the range is page-aligned and inside the mapping
        // (asserted). The mapping is `MAP_SHARED` of a file (`MmapRaw`), for
        // which `MADV_DONTNEED` only removes page-table entries: the bytes
        // stay in the page cache (dirty ones stay dirty) and in the file, and
        // a later access faults the same bytes back in. No reference into
        // the range is alive (all access goes through raw pointers).
        unsafe {
            libc::madvise(
                self.base().add(offset).cast::<libc::c_void>(),
                len,
                libc::MADV_DONTNEED,
            );
        }
    }

    /// The bytes `[offset, offset + len)`.
    ///
    /// Callers only ask for bytes that are immutable while the slice lives:
    /// a published frame (after an `Acquire` load of its length word), the
    /// header, or any range while no writer is running (recovery, tools).
    #[inline]
    pub(crate) fn bytes(&self, offset: usize, len: usize) -> &[u8] {
        assert!(offset + len <= self.layout.segment_size_bytes);
        // SAFETY: the range is inside the mapping (asserted), which lives as
        // long as `self`; by the rule above no one writes it meanwhile.
        unsafe { std::slice::from_raw_parts(self.base().add(offset), len) }
    }

    /// Decodes the frame or end marker at `offset`, checking its length, CRC,
    /// reserved field and sequence number against `expected_seq` (0: any
    /// non-zero sequence number is accepted).
    pub(crate) fn check_frame(
        &self,
        offset: usize,
        expected_seq: u64,
    ) -> Result<FrameAt, BadFrame> {
        let layout = &self.layout;
        debug_assert!(offset % 8 == 0);
        debug_assert!(offset >= layout.data_start);
        if offset + FRAME_HEADER_SIZE > layout.data_end {
            return Err(BadFrame::EndOfData);
        }
        // SAFETY: `offset` is 8-aligned and the word is inside the data area
        // (checked above); writers store it atomically.
        let frame_len = unsafe { load_u32_acquire(self.base().add(offset)) };
        if frame_len == 0 {
            return Err(BadFrame::EndOfData);
        }
        let is_marker = frame_len == LEN_END_OF_SEGMENT;
        if !is_marker {
            let room = layout.data_end - offset - FRAME_HEADER_SIZE; // leave room for an end marker
            if frame_len < FRAME_HEADER_SIZE as u32
                || frame_len > FRAME_LEN_MAX
                || align_up(frame_len as usize) > room
            {
                return Err(BadFrame::BadLength { frame_len });
            }
        }
        let covered_len = if is_marker {
            FRAME_HEADER_SIZE
        } else {
            frame_len as usize
        } - 8;
        // One CRC pass over the mapped bytes; decode the fields only after.
        let computed = frame_crc(frame_len, self.bytes(offset + 8, covered_len));
        let raw: &[u8; FRAME_HEADER_SIZE] = self
            .bytes(offset, FRAME_HEADER_SIZE)
            .try_into()
            .expect("header size");
        let mut header = FrameHeader::from_bytes(raw);
        // The word was loaded atomically; use that value, not a second read.
        header.frame_len = frame_len;
        if computed != header.crc {
            return Err(BadFrame::CrcMismatch {
                stored: header.crc,
                computed,
            });
        }
        if header.reserved != 0 {
            return Err(BadFrame::BadReserved);
        }
        if header.seq == 0 || (expected_seq != 0 && header.seq != expected_seq) {
            return Err(BadFrame::SeqGap {
                expected: expected_seq,
                found: header.seq,
            });
        }
        if is_marker {
            return Ok(FrameAt::EndOfSegment {
                next_seq: header.seq,
                max_time_ns: header.time_ns,
            });
        }
        Ok(FrameAt::Frame {
            header,
            next_offset: offset + align_up(frame_len as usize),
        })
    }

    /// Reads index slot `slot`, if it is filled and its checksum is right.
    pub(crate) fn slot(&self, slot: usize) -> Option<IndexSlot> {
        let offset = self.layout.slot_offset(slot);
        // SAFETY: slot offsets are 8-aligned (the index region starts on a
        // page) and inside the mapping; writers store slots atomically.
        unsafe { load_slot(self.base().add(offset)) }
    }

    /// The best index slot to start a scan for the first frame matching
    /// `wanted` (slots are in position order; `wanted` is monotone over them:
    /// true for a prefix). Each candidate is checked against the frame it
    /// points at; returns the segment's data start when no slot qualifies.
    pub(crate) fn seek_slot(&self, wanted: impl Fn(&IndexSlot) -> bool) -> usize {
        let mut best = None;
        for i in 0..self.layout.index_slots {
            match self.slot(i) {
                Some(s) if wanted(&s) => best = Some(s),
                Some(_) => break,
                None => {}
            }
        }
        match best {
            Some(s) if self.slot_points_at_frame(&s) => s.offset as usize,
            _ => self.layout.data_start,
        }
    }

    fn slot_points_at_frame(&self, s: &IndexSlot) -> bool {
        let off = s.offset as usize;
        off % 8 == 0
            && off >= self.layout.data_start
            && off < self.layout.data_end
            && matches!(self.check_frame(off, s.seq), Ok(FrameAt::Frame { .. }))
    }

    /// Offset of the first non-zero byte in `[from, to)`, if any.
    pub(crate) fn first_nonzero(&self, from: usize, to: usize) -> Option<usize> {
        let bytes = self.bytes(from, to - from);
        // Word-at-a-time is enough here: this runs once per open.
        let mut i = 0;
        while i + 8 <= bytes.len() {
            if u64::from_ne_bytes(bytes[i..i + 8].try_into().expect("8 bytes")) != 0 {
                break;
            }
            i += 8;
        }
        bytes[i..]
            .iter()
            .position(|&b| b != 0)
            .map(|p| from + i + p)
    }

    /// Offset just past the last non-zero byte in `[from, to)`, if any.
    pub(crate) fn last_nonzero_end(&self, from: usize, to: usize) -> Option<usize> {
        let bytes = self.bytes(from, to - from);
        bytes.iter().rposition(|&b| b != 0).map(|p| from + p + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_sort_and_parse() {
        assert_eq!(segment_file_name(3), "00000003.log");
        assert_eq!(parse_segment_name("00000003.log"), Some(3));
        assert_eq!(parse_segment_name("123456789.log"), Some(123_456_789));
        assert_eq!(parse_segment_name("00000003.log.tmp"), None);
        assert_eq!(parse_segment_name("3.log"), None);
        assert_eq!(parse_segment_name("durable.mark"), None);
    }

    #[test]
    fn created_segment_is_allocated_and_opens() {
        let dir = tempfile::tempdir().unwrap();
        let layout = SegmentLayout::new(64 << 10, 4096).unwrap();
        let path = create_segment(dir.path(), 0, &layout, true, 1)
            .unwrap()
            .path;
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.len(), 64 << 10);
        use std::os::unix::fs::MetadataExt;
        assert!(
            meta.blocks() * 512 >= 64 << 10,
            "blocks are allocated, not sparse"
        );
        let seg = Segment::open(&path, 0, false).unwrap();
        assert_eq!(
            seg.check_frame(seg.layout.data_start, 1),
            Err(BadFrame::EndOfData)
        );
        assert!(matches!(
            Segment::open(&path, 1, false),
            Err(JournalError::BadSegmentHeader { .. })
        ));
        assert!(!dir.path().join("00000000.log.tmp").exists());
    }

    #[test]
    fn unmapped_written_pages_keep_their_bytes_in_memory_and_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let layout = SegmentLayout::new(64 << 10, 4096).unwrap();
        let seg = create_segment(dir.path(), 0, &layout, true, 1).unwrap();
        let page = crate::format::PAGE_SIZE;
        let (from, len) = (page, 3 * page);
        // SAFETY: the range is inside the data area of a mapping no one
        // else uses.
        unsafe { std::ptr::write_bytes(seg.base().add(from), 0xA5, len + 100) };
        seg.unmap_written(from, len);
        // The mapping faults the same bytes back in (a file-backed shared
        // mapping: MADV_DONTNEED drops page-table entries, not data).
        assert!(seg.bytes(from, len + 100).iter().all(|&b| b == 0xA5));
        seg.map.flush_range(from, len + 100).unwrap();
        let mut on_disk = vec![0u8; len + 100];
        File::open(&seg.path)
            .unwrap()
            .read_exact_at(&mut on_disk, from as u64)
            .unwrap();
        assert!(on_disk.iter().all(|&b| b == 0xA5));
        assert!(seg.bytes(from + len + 100, 8).iter().all(|&b| b == 0));
    }
}
