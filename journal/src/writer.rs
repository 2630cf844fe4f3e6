//! The single writer: recovery on open, `append`, segment roll-over, and the
//! background thread that prefaults pages ahead of the writer and, in
//! `group` mode, syncs and publishes the durable sequence number.
//!
//! Ordering invariant: a frame's bytes are written first, then its length
//! word is stored with `Release` (publication to readers), then the writer's
//! position and sequence number are published (`Release`, position first) to
//! the syncer. The syncer loads the sequence number, then the position, so
//! the position it syncs up to is at or after the end of that frame; it
//! syncs the data, then the durable mark, and only then raises `durable_seq`.
//! Hence: `durable_seq` ≤ mark on disk ≤ data on disk, at every instant.
//!
//! Hot path (`process` mode): bounds check, one `memcpy`, one CRC32C pass
//! over header fields and payload, a handful of stores; no syscall, no
//! allocation, no lock. Every `index_interval_bytes` it writes one index
//! slot; every half prefault distance it wakes the background thread
//! (`unpark`). In `sync` mode each append also syncs; in `group` mode it
//! wakes the background thread every `flush_threshold_bytes`.
//!
//! Roll-over: a third thread (`journal-prep`) makes the next segment in
//! advance under a `.tmp` name (allocated, zeroed, header synced, written
//! through to the disk in the durable modes, mapped, first pages
//! prefaulted); at roll-over the writer only renames it into place. If the
//! spare is not ready, the writer waits for it or makes it itself, and
//! reports any error (disk full) without touching what is written. The
//! rename is made durable by the next sync, before any frame after it is
//! declared durable.
//!
//! Syncs: completed segments with `fdatasync` of the file, then the
//! directory (after a roll-over), then the current segment: the whole pages
//! the writer has left are unmapped from its mapping (one TLB shootdown,
//! instead of one per page at writeback) and the unsynced range is synced
//! with `msync`; then the durable mark. Both helper threads keep off the
//! writer's CPU ([`crate::cpu`]); the preparer paces its writes to the disk
//! ([`PrepPacer`]), one page per write ([`crate::segment::zero_fill`]).
//! Figures, `journal_bench` group section at 1M frames/s offered on the
//! 2-CPU development VM, medians of 6 (before) and 9 (after) runs on a
//! quiet machine: mean sync 5.3 ms and append-to-durable p50 12.4 ms, p99
//! 81 ms before these changes (and up to 64 ms and 132 ms in other runs);
//! 0.92 ms, 1.5 ms and 13 ms after.
//!
//! Known limitation: recovery reads every segment once (about the read
//! benchmark's rate), so opening a very large journal takes seconds.

use std::fs::{File, OpenOptions};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use memmap2::Advice;

use crate::cpu::{HelperAffinity, WriterCpu};
use crate::error::{BadFrame, JournalError};
use crate::format::{
    FRAME_HEADER_SIZE, FrameHeader, IndexSlot, LEN_END_OF_SEGMENT, SegmentLayout, align_up,
    store_slot, store_u32_release,
};
use crate::mark::{DurableMark, MarkWriter, read_mark};
use crate::reader::Reader;
use crate::scan::scan;
use crate::segment::{PreparedSegment, Segment, create_segment, list_segments, no_pace, sync_dir};

/// How durable a frame is when `append` returns, and how `durable_seq` moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// In the page cache: survives a process crash, not a power cut. The
    /// durable mark moves only on [`Journal::sync`] and on close.
    Process,
    /// A background thread syncs every `flush_interval_us` microseconds or
    /// every `flush_threshold_bytes` appended bytes, whichever comes first,
    /// and then publishes `durable_seq`.
    Group {
        /// Longest time between syncs while there is unsynced data.
        flush_interval_us: u64,
        /// Appended bytes that trigger a sync without waiting for the interval.
        flush_threshold_bytes: u64,
    },
    /// Each append is synced (data, then the durable mark) before it returns.
    Sync,
}

/// Journal configuration. `Default` is the production configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalConfig {
    /// Size of each segment file (multiple of 4096, at least 16 KiB).
    /// Only used when a segment is created; existing segments keep theirs.
    pub segment_size_bytes: u64,
    /// Distance between sparse-index slots (power of two, at least 1024).
    pub index_interval_bytes: u32,
    /// Durability level.
    pub durability: Durability,
    /// How far ahead of the writer the background thread prefaults pages
    /// (`MADV_POPULATE_WRITE`); 0 disables prefaulting.
    pub prefault_distance_bytes: u64,
}

impl Default for JournalConfig {
    fn default() -> JournalConfig {
        JournalConfig {
            segment_size_bytes: 256 << 20,
            index_interval_bytes: 64 << 10,
            durability: Durability::Group {
                flush_interval_us: 1_000,
                flush_threshold_bytes: 4 << 20,
            },
            prefault_distance_bytes: 8 << 20,
        }
    }
}

/// What recovery cut off the end of the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailCut {
    /// Segment file where the valid data ends.
    pub segment: PathBuf,
    /// Offset where the valid data ends and the cut starts.
    pub offset: u64,
    /// Non-zero bytes zeroed in that segment from `offset` on.
    pub bytes: u64,
    /// Why the frame at `offset` was not valid.
    pub reason: BadFrame,
    /// Later segment files removed (they held only unsynced data).
    pub removed_segments: Vec<PathBuf>,
}

/// What `Journal::open` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segment files after recovery.
    pub segments: usize,
    /// Valid frames in the journal.
    pub frames: u64,
    /// First sequence number (0 when empty).
    pub first_seq: u64,
    /// Last sequence number (0 when empty); the next append gets this plus one.
    pub last_seq: u64,
    /// Timestamp of the last frame (0 when empty).
    pub last_time_ns: u64,
    /// The durable mark found on disk, if any.
    pub mark: Option<DurableMark>,
    /// The torn tail that was cut, if there was one.
    pub cut: Option<TailCut>,
}

/// A cloneable handle on the durable sequence number, for other threads.
#[derive(Debug, Clone)]
pub struct DurableSeq {
    shared: Arc<Shared>,
}

impl DurableSeq {
    /// Highest sequence number known durable at the configured level.
    #[inline]
    pub fn get(&self) -> u64 {
        self.shared.durable_seq.load(Ordering::Acquire)
    }

    /// Blocks until `seq` is durable or `timeout` passes; returns whether it is.
    ///
    /// # Errors
    /// `JournalError::Poisoned` if a sync failed (it will never become durable).
    pub fn wait_for(&self, seq: u64, timeout: Duration) -> Result<bool, JournalError> {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.state.lock().expect("journal state lock");
        loop {
            if self.get() >= seq {
                return Ok(true);
            }
            if let Some(reason) = &st.failure {
                return Err(self.shared.poisoned(reason));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            st = self
                .shared
                .durable_cv
                .wait_timeout(st, deadline - now)
                .expect("journal state lock")
                .0;
        }
    }
}

/// Counters of completed syncs (data `msync` plus durable mark), for
/// metrics and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Number of syncs.
    pub syncs: u64,
    /// Their total duration.
    pub sync_ns_total: u64,
    /// The longest one.
    pub sync_ns_max: u64,
    /// The part of `sync_ns_total` spent writing and syncing the durable mark.
    pub mark_ns_total: u64,
}

/// State shared by the writer, the background thread and `DurableSeq` handles.
#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    /// Highest durable sequence number.
    durable_seq: AtomicU64,
    /// Writer's position: segment index << 40 | offset (stored before `written_seq`).
    written_pos: AtomicU64,
    /// Last appended sequence number.
    written_seq: AtomicU64,
    /// Set by `close`/`Drop` to stop the background thread.
    shutdown: AtomicBool,
    /// The CPU the writer last ran on; the helper threads keep off it.
    writer_cpu: WriterCpu,
    /// Set once `SyncState::failure` is recorded (read on the hot path).
    failed: AtomicBool,
    state: Mutex<SyncState>,
    durable_cv: Condvar,
    /// Serializes syncs (background thread, `sync`, `close`).
    sync_lock: Mutex<MarkWriter>,
    /// Completed syncs, their total and largest duration (data plus mark).
    sync_count: AtomicU64,
    sync_ns_total: AtomicU64,
    sync_ns_max: AtomicU64,
    mark_ns_total: AtomicU64,
}

#[derive(Debug)]
struct SyncState {
    /// Completed segments (sealed, no longer mapped by the writer) that may
    /// hold unsynced data, oldest first; synced with `fdatasync`.
    completed: Vec<(u64, PathBuf)>,
    /// The segment the writer appends to; synced with `msync` of a range.
    current: Arc<Segment>,
    /// Offset in `current` up to which data is synced.
    synced_offset: usize,
    /// Largest timestamp seen by the writer (for the mark).
    max_time_ns: u64,
    /// First sync failure; poisons the journal.
    failure: Option<String>,
}

const POS_OFFSET_BITS: u32 = 40;

#[inline]
fn pack_pos(segment_index: u64, offset: usize) -> u64 {
    debug_assert!((offset as u64) < 1 << POS_OFFSET_BITS);
    segment_index << POS_OFFSET_BITS | offset as u64
}

#[inline]
fn unpack_pos(pos: u64) -> (u64, usize) {
    (
        pos >> POS_OFFSET_BITS,
        (pos & ((1 << POS_OFFSET_BITS) - 1)) as usize,
    )
}

pub(crate) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl Shared {
    fn poisoned(&self, reason: &str) -> JournalError {
        JournalError::Poisoned {
            dir: self.dir.clone(),
            reason: reason.to_string(),
        }
    }

    /// Syncs everything the writer has published, then the durable mark,
    /// then raises `durable_seq`. Returns the durable sequence number.
    fn sync_published(&self) -> Result<u64, JournalError> {
        let mut mark = self.sync_lock.lock().expect("journal sync lock");
        let seq = self.written_seq.load(Ordering::Acquire);
        let (seg_index, offset) = unpack_pos(self.written_pos.load(Ordering::Acquire));
        let durable = self.durable_seq.load(Ordering::Acquire);
        if seq <= durable {
            return Ok(durable);
        }
        let (completed, current, synced_offset, max_time_ns) = {
            let st = self.state.lock().expect("journal state lock");
            if let Some(reason) = &st.failure {
                return Err(self.poisoned(reason));
            }
            (
                st.completed.clone(),
                st.current.clone(),
                st.synced_offset,
                st.max_time_ns,
            )
        };
        let started = Instant::now();
        let result = (|| -> Result<(), JournalError> {
            for (_, path) in &completed {
                File::open(path)
                    .and_then(|f| f.sync_data())
                    .map_err(|e| JournalError::io("sync segment", path, e))?;
            }
            if !completed.is_empty() {
                // The completed segments' successors were renamed into place
                // at roll-over; make those names durable with the data.
                sync_dir(&self.dir)?;
            }
            // If the writer rolled since `seg_index` was read, that segment
            // is among `completed` and was synced whole above.
            if current.index == seg_index && offset > synced_offset {
                // Whole pages the writer is done with leave its mapping
                // first, so writing them back needs no TLB shootdown per
                // page (see `Segment::unmap_written`).
                let done = offset & !(crate::format::PAGE_SIZE - 1);
                current.unmap_written(synced_offset, done.saturating_sub(synced_offset));
                current
                    .map
                    .flush_range(synced_offset, offset - synced_offset)
                    .map_err(|e| JournalError::io("msync", &current.path, e))?;
            }
            let mark_started = Instant::now();
            mark.write(DurableMark {
                durable_seq: seq,
                segment_index: seg_index,
                offset: offset as u64,
                time_ns: max_time_ns,
                generation: 0,
            })?;
            self.mark_ns_total
                .fetch_add(mark_started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            Ok(())
        })();
        let mut st = self.state.lock().expect("journal state lock");
        match result {
            Ok(()) => {
                let took_ns = started.elapsed().as_nanos() as u64;
                self.sync_count.fetch_add(1, Ordering::Relaxed);
                self.sync_ns_total.fetch_add(took_ns, Ordering::Relaxed);
                self.sync_ns_max.fetch_max(took_ns, Ordering::Relaxed);
                // Segments completed after the snapshot stay for next time.
                st.completed.drain(..completed.len());
                if st.current.index == seg_index {
                    // Page-granular: the partly filled last page is synced again next time.
                    st.synced_offset = st
                        .synced_offset
                        .max(offset & !(crate::format::PAGE_SIZE - 1));
                }
                self.durable_seq.store(seq, Ordering::Release);
                self.durable_cv.notify_all();
                Ok(seq)
            }
            Err(e) => {
                st.failure.get_or_insert_with(|| e.to_string());
                self.failed.store(true, Ordering::Release);
                self.durable_cv.notify_all();
                Err(e)
            }
        }
    }

    /// Prefaults (for writing) the pages ahead of the writer.
    fn prefault(&self, distance: usize, done: &mut (u64, usize)) {
        let (seg_index, offset) = unpack_pos(self.written_pos.load(Ordering::Acquire));
        let seg = self
            .state
            .lock()
            .expect("journal state lock")
            .current
            .clone();
        if seg.index != seg_index {
            return;
        }
        if done.0 != seg_index {
            *done = (seg_index, 0);
        }
        let page = crate::format::PAGE_SIZE;
        let from = done.1.max(offset & !(page - 1));
        let to = (offset + distance).min(seg.layout.data_end) & !(page - 1);
        if to > from {
            // Best effort: an old kernel without MADV_POPULATE_WRITE just
            // leaves the faults to the writer.
            let _ = seg.map.advise_range(Advice::PopulateWrite, from, to - from);
            done.1 = to;
        }
    }
}

fn background_loop(shared: Arc<Shared>, durability: Durability, prefault_distance: usize) {
    let mut prefaulted = (u64::MAX, 0usize);
    let mut affinity = HelperAffinity::of_current_thread();
    let interval = match durability {
        Durability::Group {
            flush_interval_us, ..
        } => Some(Duration::from_micros(flush_interval_us.max(1))),
        Durability::Process | Durability::Sync => None,
    };
    loop {
        if let Some(a) = &mut affinity {
            a.avoid(shared.writer_cpu.get());
        }
        if prefault_distance > 0 {
            shared.prefault(prefault_distance, &mut prefaulted);
        }
        let mut wait = interval;
        if let Some(i) = interval {
            let written = shared.written_seq.load(Ordering::Acquire);
            if written > shared.durable_seq.load(Ordering::Acquire) {
                let started = Instant::now();
                if shared.sync_published().is_err() {
                    return; // the failure is recorded; appends now fail
                }
                // The interval runs from the start of this sync, so a slow
                // sync is followed by the next one without an extra wait.
                wait = Some(
                    i.saturating_sub(started.elapsed())
                        .max(Duration::from_micros(1)),
                );
            }
        }
        if shared.shutdown.load(Ordering::Acquire) {
            return;
        }
        match wait {
            Some(w) => thread::park_timeout(w),
            None => thread::park(),
        }
    }
}

/// The next segment, made in advance by the preparer thread so a roll-over
/// costs the writer a rename, not the allocation and zeroing of a segment.
#[derive(Debug)]
enum Spare {
    Idle,
    Requested(u64),
    Preparing(u64),
    Ready(u64, Result<PreparedSegment, JournalError>),
}

#[derive(Debug)]
struct SpareSlot {
    state: Mutex<Spare>,
    cv: Condvar,
}

fn preparer_loop(
    shared: Arc<Shared>,
    spare: Arc<SpareSlot>,
    layout: SegmentLayout,
    durable: bool,
    prefault_distance: usize,
) {
    let mut affinity = HelperAffinity::of_current_thread();
    loop {
        let index = {
            let mut st = spare.state.lock().expect("spare lock");
            loop {
                if shared.shutdown.load(Ordering::Acquire) {
                    return;
                }
                if let Spare::Requested(i) = *st {
                    *st = Spare::Preparing(i);
                    break i;
                }
                st = spare.cv.wait(st).expect("spare lock");
            }
        };
        if let Some(a) = &mut affinity {
            a.avoid(shared.writer_cpu.get());
        }
        let mut pacer = PrepPacer::new(&shared, index, layout.data_end);
        let mut pace = |done: u64, total: u64| pacer.wait(done, total);
        let result =
            PreparedSegment::create(&shared.dir, index, &layout, durable, now_ns(), &mut pace);
        if let Ok(p) = &result {
            // Map the first pages for writing too; the background thread
            // keeps ahead of the writer from there on.
            let len = prefault_distance.min(layout.data_end) & !(crate::format::PAGE_SIZE - 1);
            if len > 0 {
                let _ = p.segment.map.advise_range(Advice::PopulateWrite, 0, len);
            }
        }
        let mut st = spare.state.lock().expect("spare lock");
        if matches!(*st, Spare::Preparing(i) if i == index) {
            *st = Spare::Ready(index, result);
        } else if let Ok(p) = result {
            p.discard();
        }
        spare.cv.notify_all();
    }
}

/// Paces the preparer's write-through of the zeros of segment `index`, so
/// that it does not crowd out the flusher's syncs while the writer fills
/// segment `index - 1`: it keeps the fraction written through at most
/// twice the writer's fraction of its segment plus 5%, so it is done by
/// the time the writer is half way. It never waits while the writer is
/// idle (no move in 5 ms), waiting for this segment, or elsewhere.
struct PrepPacer<'a> {
    shared: &'a Shared,
    index: u64,
    data_end: usize,
    last_offset: usize,
    last_move: Instant,
}

impl<'a> PrepPacer<'a> {
    const IDLE: Duration = Duration::from_millis(5);
    const STEP: Duration = Duration::from_millis(1);

    fn new(shared: &'a Shared, index: u64, data_end: usize) -> PrepPacer<'a> {
        PrepPacer {
            shared,
            index,
            data_end,
            last_offset: usize::MAX,
            last_move: Instant::now(),
        }
    }

    fn wait(&mut self, done: u64, total: u64) {
        debug_assert!(done <= total);
        if done >= total {
            return; // all written: only the final sync is left
        }
        loop {
            if self.shared.shutdown.load(Ordering::Acquire) {
                return;
            }
            let (seg_index, offset) = unpack_pos(self.shared.written_pos.load(Ordering::Acquire));
            if seg_index + 1 != self.index {
                return;
            }
            let now = Instant::now();
            if offset != self.last_offset {
                self.last_offset = offset;
                self.last_move = now;
            } else if now.duration_since(self.last_move) >= Self::IDLE {
                return;
            }
            if !prep_is_ahead(done, total, offset, self.data_end) {
                return;
            }
            thread::sleep(Self::STEP);
        }
    }
}

/// Whether the preparer, `done` of `total` bytes into writing a segment
/// through, is far enough ahead of a writer at `writer_offset` of a
/// segment whose data ends at `data_end` to pause ([`PrepPacer`]).
fn prep_is_ahead(done: u64, total: u64, writer_offset: usize, data_end: usize) -> bool {
    let writer_fraction = writer_offset as f64 / data_end.max(1) as f64;
    let prep_fraction = done as f64 / total.max(1) as f64;
    prep_fraction > 2.0 * writer_fraction + 0.05
}

/// The journal's single writer.
///
/// Dropping it stops the background thread and, unless a sync failed,
/// syncs what was appended (use [`Journal::close`] to see errors).
#[derive(Debug)]
pub struct Journal {
    shared: Arc<Shared>,
    config: JournalConfig,
    layout: SegmentLayout,
    payload_max_bytes: usize,
    seg: Arc<Segment>,
    offset: usize,
    next_seq: u64,
    last_time_ns: u64,
    max_time_ns: u64,
    next_slot: usize,
    bytes_total: u64,
    flush_kick_at: u64,
    prefault_kick_at: u64,
    background: Option<(JoinHandle<()>, Thread)>,
    spare: Arc<SpareSlot>,
    preparer: Option<JoinHandle<()>>,
    recovery: RecoveryReport,
    _lock: File,
}

impl Journal {
    /// Opens the journal in `dir` for appending (creating it if needed),
    /// recovering from a crash: a torn or garbled tail after the durable
    /// mark is cut off and reported in [`Journal::recovery`].
    ///
    /// # Errors
    /// - `Corrupt` if a frame at or before the durable mark is bad, and
    ///   `DurableDataMissing` if the journal ends cleanly before the mark
    ///   (nothing is changed on disk then, beyond re-extending a segment
    ///   file that was truncated);
    /// - `Locked` if another writer has the journal open;
    /// - `Io` for file system errors, `InvalidConfig` for a bad config.
    pub fn open(dir: impl AsRef<Path>, config: JournalConfig) -> Result<Journal, JournalError> {
        let dir = dir.as_ref().to_path_buf();
        let layout = SegmentLayout::new(config.segment_size_bytes, config.index_interval_bytes)
            .map_err(|reason| JournalError::InvalidConfig { reason })?;
        if let Durability::Group {
            flush_interval_us: 0,
            ..
        } = config.durability
        {
            return Err(JournalError::InvalidConfig {
                reason: "group flush interval must be positive".into(),
            });
        }
        std::fs::create_dir_all(&dir).map_err(|e| JournalError::io("create directory", &dir, e))?;
        let lock = lock_dir(&dir)?;
        let durable = config.durability != Durability::Process;
        remove_stale_tmp_files(&dir)?;
        restore_truncated_segments(&dir)?;

        let mark = read_mark(&dir)?;
        let mark_seq = mark.map_or(0, |m| m.durable_seq);
        let mut found = scan(&dir)?;
        let mut cut = None;
        if let Some(problem) = found.problem.take() {
            if mark_seq > found.last_seq {
                return Err(JournalError::Corrupt {
                    segment: problem.segment,
                    offset: problem.offset,
                    seq: problem.seq,
                    kind: problem.kind,
                });
            }
            // Synced in every mode: a cut is rare and must not come undone.
            cut = Some(cut_tail(&dir, &mut found, problem, true)?);
        } else if mark_seq > found.last_seq {
            let (segment, offset) = found
                .segments
                .last()
                .map_or((dir.clone(), 0), |s| (s.path.clone(), s.end_offset));
            return Err(JournalError::DurableDataMissing {
                dir,
                last_seq: found.last_seq,
                durable_seq: mark_seq,
                segment,
                offset,
            });
        }

        // The segment to continue in.
        let (seg, offset) = match found.segments.last() {
            Some(s) => (
                Segment::open(&s.path, s.index, true)?,
                s.end_offset as usize,
            ),
            None => {
                let seg = create_segment(&dir, 0, &layout, durable, now_ns())?;
                let start = seg.layout.data_start;
                (seg, start)
            }
        };
        let next_slot = match found.last_frame_offset {
            Some(o) if found.segments.last().is_some_and(|s| s.frames > 0) => {
                o as usize / seg.layout.index_interval_bytes + 1
            }
            _ => 0,
        };
        let seg = Arc::new(seg);
        let report = RecoveryReport {
            segments: found.segments.len().max(1),
            frames: found.frames,
            first_seq: found.first_seq,
            last_seq: found.last_seq,
            last_time_ns: found.last_time_ns,
            mark,
            cut,
        };

        let mut mark_writer = MarkWriter::open(&dir, mark)?;
        let mut durable_seq = mark_seq;
        if found.last_seq > mark_seq {
            // Whatever survived in the page cache (a process crash) is made
            // durable now, in every mode, so the mark and `durable_seq`
            // start at the end and later syncs need only cover new data.
            for s in list_segments(&dir)?
                .iter()
                .filter(|(i, _)| mark.is_none_or(|m| *i >= m.segment_index))
            {
                File::open(&s.1)
                    .and_then(|f| f.sync_data())
                    .map_err(|e| JournalError::io("sync segment", &s.1, e))?;
            }
            mark_writer.write(DurableMark {
                durable_seq: found.last_seq,
                segment_index: seg.index,
                offset: offset as u64,
                time_ns: found.max_time_ns,
                generation: 0,
            })?;
            durable_seq = found.last_seq;
        }

        let payload_max_bytes = layout
            .payload_max_bytes()
            .min(seg.layout.payload_max_bytes());
        let shared = Arc::new(Shared {
            dir: dir.clone(),
            durable_seq: AtomicU64::new(durable_seq),
            written_pos: AtomicU64::new(pack_pos(seg.index, offset)),
            written_seq: AtomicU64::new(found.last_seq),
            shutdown: AtomicBool::new(false),
            writer_cpu: WriterCpu::unknown(),
            failed: AtomicBool::new(false),
            state: Mutex::new(SyncState {
                completed: Vec::new(),
                current: seg.clone(),
                synced_offset: offset & !(crate::format::PAGE_SIZE - 1),
                max_time_ns: found.max_time_ns,
                failure: None,
            }),
            durable_cv: Condvar::new(),
            sync_lock: Mutex::new(mark_writer),
            sync_count: AtomicU64::new(0),
            sync_ns_total: AtomicU64::new(0),
            sync_ns_max: AtomicU64::new(0),
            mark_ns_total: AtomicU64::new(0),
        });
        let prefault_distance = config.prefault_distance_bytes as usize;
        let background =
            if prefault_distance > 0 || matches!(config.durability, Durability::Group { .. }) {
                let s = shared.clone();
                let durability = config.durability;
                let handle = thread::Builder::new()
                    .name("journal-bg".into())
                    .spawn(move || background_loop(s, durability, prefault_distance))
                    .map_err(|e| JournalError::io("spawn journal thread", &dir, e))?;
                let thread = handle.thread().clone();
                Some((handle, thread))
            } else {
                None
            };
        let spare = Arc::new(SpareSlot {
            state: Mutex::new(Spare::Idle),
            cv: Condvar::new(),
        });
        let preparer = {
            let (s, sp) = (shared.clone(), spare.clone());
            let spawned = thread::Builder::new()
                .name("journal-prep".into())
                .spawn(move || preparer_loop(s, sp, layout, durable, prefault_distance));
            match spawned {
                Ok(handle) => handle,
                Err(e) => {
                    // Do not leave the background thread parked forever.
                    shared.shutdown.store(true, Ordering::Release);
                    if let Some((handle, thread)) = background {
                        thread.unpark();
                        let _ = handle.join();
                    }
                    return Err(JournalError::io("spawn journal thread", &dir, e));
                }
            }
        };
        let flush_kick_at = match config.durability {
            Durability::Group {
                flush_threshold_bytes,
                ..
            } => flush_threshold_bytes,
            _ => u64::MAX,
        };
        let journal = Journal {
            shared,
            layout,
            payload_max_bytes,
            seg,
            offset,
            next_seq: found.last_seq + 1,
            last_time_ns: found.last_time_ns,
            max_time_ns: found.max_time_ns,
            next_slot,
            bytes_total: 0,
            flush_kick_at,
            prefault_kick_at: 0,
            background,
            spare,
            preparer: Some(preparer),
            recovery: report,
            config,
            _lock: lock,
        };
        journal.request_spare(journal.seg.index + 1);
        Ok(journal)
    }

    /// What recovery found when the journal was opened.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// The journal directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &JournalConfig {
        &self.config
    }

    /// Last appended sequence number (0 when the journal is empty).
    #[inline]
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// Timestamp of the last appended frame (0 when the journal is empty).
    #[inline]
    pub fn last_time_ns(&self) -> u64 {
        self.last_time_ns
    }

    /// Highest sequence number durable at the configured level.
    #[inline]
    pub fn durable_seq(&self) -> u64 {
        self.shared.durable_seq.load(Ordering::Acquire)
    }

    /// Whether the next segment is already prepared by the background
    /// preparer (so the next roll-over costs the writer only a rename). A
    /// venue may wait for this at start-up; benchmarks wait for it before
    /// they start the clock.
    pub fn next_segment_ready(&self) -> bool {
        let next = self.seg.index + 1;
        matches!(&*self.spare.state.lock().expect("spare lock"), Spare::Ready(i, Ok(_)) if *i == next)
    }

    /// Sync counters since open.
    pub fn sync_stats(&self) -> SyncStats {
        SyncStats {
            syncs: self.shared.sync_count.load(Ordering::Relaxed),
            sync_ns_total: self.shared.sync_ns_total.load(Ordering::Relaxed),
            sync_ns_max: self.shared.sync_ns_max.load(Ordering::Relaxed),
            mark_ns_total: self.shared.mark_ns_total.load(Ordering::Relaxed),
        }
    }

    /// A handle other threads can poll or wait on for durability.
    pub fn durable_handle(&self) -> DurableSeq {
        DurableSeq {
            shared: self.shared.clone(),
        }
    }

    /// Largest payload `append` accepts.
    pub fn payload_max_bytes(&self) -> usize {
        self.payload_max_bytes
    }

    /// A reader over this journal, positioned at its first frame. It can
    /// follow the writer (tailing): see [`Reader`].
    ///
    /// # Errors
    /// As [`Reader::open`].
    pub fn reader(&self) -> Result<Reader, JournalError> {
        Reader::open(&self.shared.dir)
    }

    /// Appends one frame and returns its sequence number.
    ///
    /// # Errors
    /// `PayloadTooLarge`; `Io` if a new segment cannot be created (disk full,
    /// permission denied: nothing already written is touched, and a later
    /// append retries); `Poisoned` after a failed sync; in `sync` mode, `Io`
    /// if the sync fails (the frame may then be in the journal but is not
    /// durable, and the journal is poisoned).
    #[inline]
    pub fn append(
        &mut self,
        payload_type: u16,
        format_version: u16,
        time_ns: u64,
        payload: &[u8],
    ) -> Result<u64, JournalError> {
        self.append_with(
            payload_type,
            format_version,
            time_ns,
            payload.len(),
            |slot| {
                slot.copy_from_slice(payload);
            },
        )
    }

    /// Appends one frame of `payload_len` bytes that `fill` writes in place,
    /// straight into the mapped segment (no intermediate copy). `fill` gets a
    /// zeroed slice of exactly `payload_len` bytes.
    ///
    /// # Errors
    /// As [`Journal::append`].
    #[inline]
    pub fn append_with(
        &mut self,
        payload_type: u16,
        format_version: u16,
        time_ns: u64,
        payload_len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<u64, JournalError> {
        if payload_len > self.payload_max_bytes {
            return Err(JournalError::PayloadTooLarge {
                payload_len_bytes: payload_len,
                payload_max_bytes: self.payload_max_bytes,
            });
        }
        let frame_len = FRAME_HEADER_SIZE + payload_len;
        let frame_len_aligned = align_up(frame_len);
        if self.offset + frame_len_aligned + FRAME_HEADER_SIZE > self.seg.layout.data_end {
            self.roll()?;
        }
        if let Some(reason) = self.failure() {
            return Err(self.shared.poisoned(&reason));
        }
        let seq = self.next_seq;
        let offset = self.offset;
        debug_assert!(offset % 8 == 0);
        debug_assert!(offset + frame_len_aligned + FRAME_HEADER_SIZE <= self.seg.layout.data_end);
        // SAFETY: `offset + frame_len_aligned` is inside the data area
        // (asserted and guaranteed by the roll check above), and the mapping
        // lives as long as `self.seg`.
        let frame = unsafe { self.seg.base().add(offset) };
        // SAFETY: the bytes at and after `offset` are unpublished: no reader
        // reads them until the length word is stored below, the background
        // thread only prefaults them (madvise, no data access), and `&mut
        // self` excludes other writers. The slice is dropped before
        // publication. The region is zero (the ahead-of-writer invariant).
        let payload =
            unsafe { std::slice::from_raw_parts_mut(frame.add(FRAME_HEADER_SIZE), payload_len) };
        {
            // If `fill` panics, put the zeros back so the bytes ahead of the
            // writer stay zero and no reader can mistake them for a frame.
            struct ZeroOnUnwind<'a>(&'a mut [u8]);
            impl Drop for ZeroOnUnwind<'_> {
                fn drop(&mut self) {
                    if thread::panicking() {
                        self.0.fill(0);
                    }
                }
            }
            let guard = ZeroOnUnwind(payload);
            fill(guard.0);
            std::mem::forget(guard);
        }
        let header = FrameHeader {
            frame_len: frame_len as u32,
            crc: 0,
            seq,
            time_ns,
            payload_type,
            format_version,
            reserved: 0,
        }
        .encode();
        // SAFETY: `frame + 8 .. frame + 32` is inside the unpublished region.
        unsafe {
            std::ptr::copy_nonoverlapping(
                header.as_ptr().add(8),
                frame.add(8),
                FRAME_HEADER_SIZE - 8,
            )
        };
        // SAFETY: same region as above, still unpublished and exclusively
        // ours; the CRC covers bytes 8..frame_len in one pass.
        let covered = unsafe { std::slice::from_raw_parts(frame.add(8), frame_len - 8) };
        let crc = crate::format::frame_crc(frame_len as u32, covered);
        // SAFETY: `frame + 4 .. frame + 8` is inside the unpublished region.
        unsafe { std::ptr::copy_nonoverlapping(crc.to_le_bytes().as_ptr(), frame.add(4), 4) };
        // SAFETY: `frame` is 8-aligned (offsets are multiples of 8 from a
        // page-aligned mapping); readers load this word atomically.
        unsafe { store_u32_release(frame, frame_len as u32) };

        if offset >= self.next_slot * self.seg.layout.index_interval_bytes {
            self.write_slot(offset, seq);
        }
        self.max_time_ns = self.max_time_ns.max(time_ns);
        self.last_time_ns = time_ns;
        self.next_seq = seq + 1;
        self.offset = offset + frame_len_aligned;
        self.bytes_total += frame_len_aligned as u64;
        self.shared
            .written_pos
            .store(pack_pos(self.seg.index, self.offset), Ordering::Release);
        self.shared.written_seq.store(seq, Ordering::Release);

        match self.config.durability {
            Durability::Sync => {
                self.publish_max_time();
                self.shared.sync_published()?;
            }
            Durability::Group {
                flush_threshold_bytes,
                ..
            } if self.bytes_total >= self.flush_kick_at => {
                self.flush_kick_at = self.bytes_total + flush_threshold_bytes;
                self.publish_max_time();
                self.wake_background();
            }
            _ => {}
        }
        if self.bytes_total >= self.prefault_kick_at && self.config.prefault_distance_bytes > 0 {
            self.prefault_kick_at = self.bytes_total + self.config.prefault_distance_bytes / 2;
            self.wake_background();
        }
        Ok(seq)
    }

    /// Syncs everything appended so far (in any durability mode) and
    /// returns the durable sequence number.
    ///
    /// # Errors
    /// `Io` if a sync fails (the journal is then poisoned), `Poisoned` after
    /// an earlier failure.
    pub fn sync(&mut self) -> Result<u64, JournalError> {
        self.publish_max_time();
        self.shared.sync_published()
    }

    /// Stops the background thread and syncs what was appended.
    ///
    /// # Errors
    /// As [`Journal::sync`].
    pub fn close(mut self) -> Result<(), JournalError> {
        self.stop_background();
        if self.failure().is_some() || self.last_seq() > self.durable_seq() {
            self.sync()?;
        }
        Ok(())
    }

    fn failure(&self) -> Option<String> {
        // Cheap check first: the lock is only taken after a failure is flagged.
        if self.shared.failed.load(Ordering::Acquire) {
            return self
                .shared
                .state
                .lock()
                .expect("journal state lock")
                .failure
                .clone();
        }
        None
    }

    fn publish_max_time(&self) {
        let mut st = self.shared.state.lock().expect("journal state lock");
        st.max_time_ns = st.max_time_ns.max(self.max_time_ns);
    }

    fn wake_background(&self) {
        self.shared.writer_cpu.record_current();
        if let Some((_, t)) = &self.background {
            t.unpark();
        }
    }

    fn write_slot(&mut self, offset: usize, seq: u64) {
        let layout = &self.seg.layout;
        let slot = offset / layout.index_interval_bytes;
        let entry = IndexSlot {
            seq,
            offset: offset as u64,
            max_time_before_ns: self.max_time_ns,
        };
        // SAFETY: `slot_offset` is inside the index region of the mapping,
        // 8-aligned; readers load slots atomically.
        unsafe { store_slot(self.seg.base().add(layout.slot_offset(slot)), Some(&entry)) };
        self.next_slot = slot + 1;
    }

    /// Moves to a new segment: get it first (the only step that can fail,
    /// and it touches nothing written), then seal the current one with the
    /// end marker, then publish the new position.
    #[cold]
    fn roll(&mut self) -> Result<(), JournalError> {
        let next_index = self.seg.index + 1;
        let next = Arc::new(self.take_spare(next_index)?.install()?);
        self.request_spare(next_index + 1);
        let marker = FrameHeader {
            frame_len: LEN_END_OF_SEGMENT,
            crc: 0,
            seq: self.next_seq,
            time_ns: self.max_time_ns,
            payload_type: 0,
            format_version: 0,
            reserved: 0,
        };
        let marker = FrameHeader {
            crc: crate::format::frame_crc(LEN_END_OF_SEGMENT, &marker.encode()[8..]),
            ..marker
        };
        let bytes = marker.encode();
        debug_assert!(self.offset + FRAME_HEADER_SIZE <= self.seg.layout.data_end);
        // SAFETY: every append leaves room for the marker before `data_end`
        // (asserted); the bytes are unpublished and ours.
        unsafe {
            let at = self.seg.base().add(self.offset);
            std::ptr::copy_nonoverlapping(bytes.as_ptr().add(4), at.add(4), FRAME_HEADER_SIZE - 4);
            store_u32_release(at, LEN_END_OF_SEGMENT);
        }
        {
            let mut st = self.shared.state.lock().expect("journal state lock");
            let old = std::mem::replace(&mut st.current, next.clone());
            st.completed.push((old.index, old.path.clone()));
            st.synced_offset = 0;
            st.max_time_ns = st.max_time_ns.max(self.max_time_ns);
        }
        self.seg = next;
        self.offset = self.seg.layout.data_start;
        self.next_slot = 0;
        self.payload_max_bytes = self
            .payload_max_bytes
            .min(self.seg.layout.payload_max_bytes());
        self.shared
            .written_pos
            .store(pack_pos(self.seg.index, self.offset), Ordering::Release);
        self.prefault_kick_at = 0;
        self.wake_background();
        Ok(())
    }

    /// The prepared segment `index`: the one the preparer thread made, or
    /// wait for it while it is being made, or make it here.
    fn take_spare(&mut self, index: u64) -> Result<PreparedSegment, JournalError> {
        let durable = self.config.durability != Durability::Process;
        {
            let mut st = self.spare.state.lock().expect("spare lock");
            loop {
                match &*st {
                    Spare::Ready(i, _) if *i == index => {
                        let Spare::Ready(_, result) = std::mem::replace(&mut *st, Spare::Idle)
                        else {
                            unreachable!("matched Ready above")
                        };
                        return result;
                    }
                    Spare::Preparing(i) if *i == index && self.preparer.is_some() => {
                        st = self.spare.cv.wait(st).expect("spare lock");
                    }
                    _ => {
                        // Not started (or something else): do it here.
                        if let Spare::Ready(_, Ok(other)) = std::mem::replace(&mut *st, Spare::Idle)
                        {
                            other.discard();
                        }
                        break;
                    }
                }
            }
        }
        PreparedSegment::create(
            &self.shared.dir,
            index,
            &self.layout,
            durable,
            now_ns(),
            &mut no_pace,
        )
    }

    /// Asks the preparer thread to make segment `index` in advance.
    fn request_spare(&self, index: u64) {
        if self.preparer.is_some() {
            *self.spare.state.lock().expect("spare lock") = Spare::Requested(index);
            self.spare.cv.notify_all();
        }
    }

    fn stop_background(&mut self) {
        self.shared.shutdown.store(true, Ordering::Release);
        if let Some((handle, thread)) = self.background.take() {
            thread.unpark();
            let _ = handle.join();
        }
        if let Some(handle) = self.preparer.take() {
            {
                // Taking the lock orders the shutdown flag before the wake-up.
                let _st = self.spare.state.lock().expect("spare lock");
                self.spare.cv.notify_all();
            }
            let _ = handle.join();
            let mut st = self.spare.state.lock().expect("spare lock");
            if let Spare::Ready(_, Ok(p)) = std::mem::replace(&mut *st, Spare::Idle) {
                p.discard();
            }
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.stop_background();
        if self.last_seq() > self.durable_seq() {
            let _ = self.sync();
        }
    }
}

fn lock_dir(dir: &Path) -> Result<File, JournalError> {
    let path = dir.join("LOCK");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| JournalError::io("open lock file", &path, e))?;
    debug_assert!(file.as_raw_fd() >= 0);
    // SAFETY: `flock` only takes the descriptor and flags; the descriptor is
    // valid while `file` lives, and the lock is released when it is closed.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Err(JournalError::Locked {
                dir: dir.to_path_buf(),
            });
        }
        return Err(JournalError::io("lock journal", &path, err));
    }
    Ok(file)
}

fn remove_stale_tmp_files(dir: &Path) -> Result<(), JournalError> {
    let entries = std::fs::read_dir(dir).map_err(|e| JournalError::io("read directory", dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_str().is_some_and(|n| n.ends_with(".log.tmp")) {
            std::fs::remove_file(entry.path())
                .map_err(|e| JournalError::io("remove", entry.path(), e))?;
        }
    }
    Ok(())
}

/// A segment file shorter than its header says (cut by something other
/// than this journal, which never resizes a segment) is extended back with
/// zeros, so the missing bytes read as "never written" and the scan then
/// classifies them like any torn tail. Nothing that is present changes.
fn restore_truncated_segments(dir: &Path) -> Result<(), JournalError> {
    use std::os::unix::fs::FileExt;
    for (index, path) in list_segments(dir)? {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| JournalError::io("open segment", &path, e))?;
        let len = file
            .metadata()
            .map_err(|e| JournalError::io("stat segment", &path, e))?
            .len();
        let mut hb = [0u8; crate::format::SEGMENT_HEADER_SIZE];
        let n = file
            .read_at(&mut hb, 0)
            .map_err(|e| JournalError::io("read segment header", &path, e))?;
        if let Ok(h) = crate::format::SegmentHeader::from_bytes(&hb[..n]) {
            if h.segment_index == index && len < h.segment_size_bytes {
                crate::segment::allocate(&file, len, h.segment_size_bytes)
                    .map_err(|e| JournalError::io("extend truncated segment", &path, e))?;
            }
        }
    }
    Ok(())
}

/// Cuts the tail at `problem` (known to be after the durable mark): zero the
/// garbage in that segment, clear index slots that point into it, remove
/// later segments. Updates `found` to describe what remains.
fn cut_tail(
    dir: &Path,
    found: &mut crate::scan::ScanResult,
    problem: crate::scan::ScanProblem,
    durable: bool,
) -> Result<TailCut, JournalError> {
    let files = list_segments(dir)?;
    let mut removed = Vec::new();
    let mut bytes = 0u64;
    let keep_segment = problem.offset > 0; // offset 0: a bad segment header, remove the file
    let first_removed = if keep_segment {
        problem.position + 1
    } else {
        problem.position
    };
    if keep_segment {
        let (index, path) = &files[problem.position];
        let seg = Segment::open(path, *index, true)?;
        let from = problem.offset as usize;
        if let Some(end) = seg.last_nonzero_end(from, seg.layout.data_end) {
            debug_assert!(end <= seg.layout.data_end);
            // SAFETY: `[from, end)` is inside the data area; the journal is
            // locked and no reader may be attached during recovery.
            unsafe { std::ptr::write_bytes(seg.base().add(from), 0, end - from) };
            bytes = (end - from) as u64;
        }
        for slot in 0..seg.layout.index_slots {
            if seg.slot(slot).is_none_or(|s| s.offset >= problem.offset) {
                // SAFETY: slot offsets are 8-aligned and inside the mapping.
                unsafe { store_slot(seg.base().add(seg.layout.slot_offset(slot)), None) };
            }
        }
        if durable {
            seg.map
                .flush()
                .map_err(|e| JournalError::io("msync", path, e))?;
        }
        if let Some(s) = found.segments.get_mut(problem.position) {
            s.end_offset = problem.offset;
            s.sealed = false;
        }
    } else if problem.position > 0 {
        // The previous segment was sealed for the segment being removed:
        // zero its end marker, the writer continues there.
        let (index, path) = &files[problem.position - 1];
        let seg = Segment::open(path, *index, true)?;
        if let Some(s) = found.segments.get_mut(problem.position - 1) {
            let at = s.end_offset as usize;
            debug_assert!(at + FRAME_HEADER_SIZE <= seg.layout.data_end);
            // SAFETY: the marker lies inside the data area (asserted); the
            // journal is locked and no reader may be attached during recovery.
            unsafe { std::ptr::write_bytes(seg.base().add(at), 0, FRAME_HEADER_SIZE) };
            s.sealed = false;
        }
        if durable {
            seg.map
                .flush()
                .map_err(|e| JournalError::io("msync", path, e))?;
        }
    }
    for (_, path) in &files[first_removed..] {
        std::fs::remove_file(path).map_err(|e| JournalError::io("remove segment", path, e))?;
        removed.push(path.clone());
    }
    found.segments.truncate(first_removed);
    if !removed.is_empty() && durable {
        sync_dir(dir)?;
    }
    if found.segments.last().is_none_or(|s| s.frames == 0) {
        found.last_frame_offset = None;
    }
    Ok(TailCut {
        segment: problem.segment,
        offset: problem.offset,
        bytes,
        reason: problem.kind,
        removed_segments: removed,
    })
}

// The matching loop opens the journal on one thread and may run it on
// another; readers are handed to other threads too.
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Journal>();
    assert_send::<Reader>();
    assert_send::<DurableSeq>();
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preparer_pauses_only_while_well_ahead_of_the_writer() {
        let (total, data_end) = (100u64, 1000usize);
        // Writer at 10%: the preparer may run up to 25% before it pauses.
        assert!(!prep_is_ahead(0, total, 100, data_end));
        assert!(!prep_is_ahead(25, total, 100, data_end));
        assert!(prep_is_ahead(26, total, 100, data_end));
        // A writer half way or more never lets it pause.
        assert!(!prep_is_ahead(99, total, 500, data_end));
        assert!(!prep_is_ahead(99, total, 1000, data_end));
        // A writer at the very start: only the first 5% run unpaced.
        assert!(!prep_is_ahead(5, total, 0, data_end));
        assert!(prep_is_ahead(6, total, 0, data_end));
    }
}
