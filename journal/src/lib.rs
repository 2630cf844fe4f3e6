//! # journal: the venue's source of truth
//!
//! A memory-mapped, segmented, checksummed append log. Every input is
//! appended here before it has any effect (PRODUCT.md, promises 1 to 3). The
//! crate knows nothing about orders: it stores framed byte payloads, each
//! with a sequence number, a timestamp, a payload type and a format version.
//!
//! ```no_run
//! use journal::{Journal, JournalConfig, Durability};
//! # fn main() -> Result<(), journal::JournalError> {
//! let mut j = Journal::open("/var/lib/venue/journal", JournalConfig::default())?;
//! if let Some(cut) = &j.recovery().cut {
//!     eprintln!("cut {} bytes of torn tail at {}:{}", cut.bytes, cut.segment.display(), cut.offset);
//! }
//! let mut replay = j.reader()?;
//! while let Some(frame) = replay.next_frame()? { /* rebuild state from frame.payload */ }
//! let seq = j.append(1, 1, 1_700_000_000_000_000_000, b"new order")?;
//! while j.durable_seq() < seq { /* outputs for `seq` wait */ }
//! # Ok(()) }
//! ```
//!
//! ## Directory
//!
//! A journal is a directory holding:
//! - segment files `00000000.log`, `00000001.log`, ... (eight or more
//!   digits, so names sort in order), all of the configured size (default
//!   256 MiB), allocated in full with `posix_fallocate` when created and
//!   never resized;
//! - `durable.mark`, the durable mark (see below);
//! - `LOCK`, `flock`ed by the single writer.
//!
//! ## Segment file, byte by byte (all integers little-endian)
//!
//! ```text
//! offset            size  field
//! 0                 8     magic "VENUEJNL"
//! 8                 4     format version (1)
//! 12                4     segment header size (64)
//! 16                8     segment index (equals the file name's number)
//! 24                8     segment size in bytes (equals the file size)
//! 32                4     index interval in bytes (power of two, >= 1024)
//! 36                4     index slot count = ceil(segment size / interval)
//! 40                8     creation time, ns since the Unix epoch
//! 48                12    zero
//! 60                4     CRC32C of bytes 0..60
//! 64                ...   frames, back to back, each starting 8-byte aligned
//! data_end          ...   index region: slot count x 32 bytes, rounded up to
//!                         4096, ending at the end of the file
//! ```
//!
//! ## Frame, byte by byte (32-byte header, then payload, then padding)
//!
//! ```text
//! offset  size  field
//! 0       4     frame length = 32 + payload length (padding excluded)
//!               0          = end of data: nothing was written here
//!               0xFFFFFFFF = end-of-segment marker (see below)
//! 4       4     CRC32C (Castagnoli) of bytes 8..frame length (every field
//!               below, then the payload), computed with the frame length
//!               as the initial CRC value (`crc32c_append(frame_len, bytes)`)
//! 8       8     sequence number (1, 2, 3... contiguous across segments)
//! 16      8     timestamp, ns since the Unix epoch (caller's clock)
//! 24      2     payload type (caller-defined)
//! 26      2     payload format version (caller-defined)
//! 28      4     reserved, zero
//! 32      n     payload
//! 32+n    p     zero padding to the next multiple of 8
//! ```
//!
//! The CRC covers every header field and the payload in one pass (the
//! length through the initial value). The length word is written last, with
//! release ordering: it publishes the frame to readers.
//!
//! **End of data.** Everything after the last frame is zero (the segment is
//! zero-filled when allocated, and recovery zeroes any tail it cuts). So the
//! data ends at the first zero length word.
//!
//! **Frames never cross segments.** The writer appends a frame only if it
//! leaves 32 bytes before `data_end`; otherwise it creates the next segment
//! file first, then writes, in the current one, an *end-of-segment marker*:
//! a 32-byte header with length `0xFFFFFFFF`, the sequence number of the
//! first frame of the next segment, the running maximum timestamp, type and
//! version 0, and its CRC (over bytes 8..32, initial value `0xFFFFFFFF`). A reader that meets it continues at offset 64 of
//! the next file.
//!
//! ## Sparse index (per segment, in the segment)
//!
//! Slot `k` (at `data_end + 32 k`) describes the first frame starting at or
//! after byte `k x interval` (default 64 KiB) of the segment:
//!
//! ```text
//! 0   8  sequence number (0: empty slot)
//! 8   8  frame offset in the segment
//! 16  8  largest timestamp of all frames before this one in the journal
//! 24  4  CRC32C of bytes 0..24
//! 28  4  zero
//! ```
//!
//! Slots are written after their frame, sequence number last. A reader uses
//! a slot only if its CRC matches and the frame at its offset carries its
//! sequence number; otherwise it falls back to an earlier slot or the segment
//! start, so a lost or torn slot costs time, never correctness. Because
//! slots store a *running maximum* of timestamps, seeking by time is correct
//! even if timestamps go backwards (they are non-decreasing in practice).
//!
//! ## Durability and the durable mark
//!
//! [`Durability::Process`]: frames are in the page cache when `append`
//! returns (they survive a process crash, not a power cut).
//! [`Durability::Group`]: a background thread syncs every N microseconds or
//! M bytes, whichever first. [`Durability::Sync`]: `append` syncs before
//! returning. A sync, in order:
//! 1. `fdatasync` of each segment completed since the last sync, then of the
//!    directory if there was one (the renames of roll-over);
//! 2. in the current segment, from the last synced page to the writer's
//!    position: the whole pages the writer has left are first dropped from
//!    its mapping (`MADV_DONTNEED`; the bytes stay in the page cache), then
//!    the range is synced with `msync(MS_SYNC)`;
//! 3. the durable sequence number is written to `durable.mark` and synced
//!    (`fdatasync`);
//! 4. only then is it published ([`Journal::durable_seq`],
//!    [`DurableSeq::wait_for`]).
//!
//! So at every instant `durable_seq` <= mark on disk <= data on disk.
//! Step 2's unmapping is what makes group commit keep up at high rates:
//! writing back a page that is mapped writable costs a TLB shootdown of
//! every CPU the writer's process runs on, per page (about 19 us a page on
//! the development VM, so 160 MB/s of frames cost ~0.8 CPU-seconds a second
//! and a sync took tens of ms); unmapping first costs one shootdown per
//! sync.
//!
//! `durable.mark` holds two checksummed 64-byte slots (offsets 0 and 512)
//! written alternately with a generation counter; a torn update loses only
//! the slot being written.
//!
//! ## Recovery rules ([`Journal::open`])
//!
//! Opening reads every segment in order and checks each frame's length,
//! CRC32C, reserved field and sequence continuity, and that the bytes after
//! the last frame are zero. Let *last* be the last valid sequence number and
//! *mark* the durable mark's sequence number (0 without a mark).
//!
//! - No problem and mark <= last: the writer continues after *last*.
//! - A problem (partial frame, bad CRC, bad length, sequence gap, non-zero
//!   bytes after the end, an empty or unreadable later segment) and
//!   mark <= last: it is an unsynced torn tail. Recovery zeroes the
//!   non-zero bytes from the problem's offset to the end of the data area,
//!   clears index slots that point there, removes later segment files, syncs,
//!   and reports the cut in [`RecoveryReport::cut`] (segment, offset, bytes,
//!   reason). Appending continues at sequence number *last* + 1.
//! - A problem and mark > last: a frame that was durable is bad. Opening
//!   fails with [`JournalError::Corrupt`] (segment file, offset, sequence
//!   number, reason), and nothing on disk is changed. Never silently skipped
//!   or truncated.
//! - No problem but mark > last (durable frames replaced by clean zeros):
//!   opening fails with [`JournalError::DurableDataMissing`].
//!
//! A segment file shorter than its header says (truncated by something
//! else: the journal never resizes one) is first extended back with zeros,
//! so the lost bytes count as never written and the rules above apply.
//!
//! In `group` and `sync` modes, what survived in the page cache (a process
//! crash) is synced at open and the mark moved to *last*.
//!
//! ## Errors while writing
//!
//! A new segment is created (and allocated) before the current one is
//! sealed, so a full disk or a permission error surfaces as an `Err` from
//! `append` and leaves everything written intact; a later `append` retries.
//! A failed sync poisons the journal (`JournalError::Poisoned`): what reached
//! the disk is unknown, so the venue must stop and recover by reopening.
//!
//! ## Threads
//!
//! One writer ([`Journal`], enforced across processes by `flock` on `LOCK`)
//! and two helper threads it owns, joined on `close` or drop:
//! - `journal-bg` prefaults the pages ahead of the writer
//!   (`MADV_POPULATE_WRITE`, `prefault_distance_bytes`, default 8 MiB) so the
//!   hot path takes no page fault in steady state, and in `group` mode runs
//!   the sync loop;
//! - `journal-prep` makes the next segment in advance (`.tmp` name,
//!   allocated, zeroed, mapped, first pages prefaulted), so a roll-over costs
//!   the writer a rename. It paces the writing of the zeros to the disk so
//!   that it is done by the time the writer is half way through its
//!   segment, leaving the disk to the syncs meanwhile.
//!
//! Both helpers keep off the CPU the writer last ran on (the writer notes it
//! whenever it wakes `journal-bg`): they narrow their affinity to the mask
//! they inherited from the thread that opened the journal, minus that CPU,
//! when that leaves at least one. A sync sleeps and wakes several times, and
//! the kernel's flush worker runs on the CPU that submitted the I/O; on the
//! CPU of a busy-spinning writer each of those wake-ups waits for a
//! scheduler tick (4 ms at `HZ=250`). An application that pins the writer
//! to one CPU should open the journal from a thread allowed more than that
//! CPU, so the helpers can go elsewhere.
//!
//! Any number of [`Reader`]s, in any threads or processes, each mapping one
//! segment at a time read-only. Frames are published by a release store of
//! their length word and read after an acquire load of it, so a reader never
//! sees a half-written frame; every frame it returns has passed its CRC and
//! sequence checks.
//!
//! ## Reading
//!
//! [`Reader`] iterates from the start, from a sequence number
//! ([`Reader::seek_seq`]) or from a timestamp ([`Reader::seek_time`]),
//! using the sparse index so a seek scans at most one index interval of one
//! segment; at the end of the data it returns `None` and, called again, the
//! frames appended since (tailing). [`verify`], [`stat`] and [`dump`] are the
//! library side of `venue journal verify|stat|dump`.

#![deny(unsafe_op_in_unsafe_fn)]

mod cpu;
mod crc;
mod error;
mod format;
mod mark;
mod reader;
mod scan;
mod segment;
mod tools;
mod writer;

pub use error::{BadFrame, JournalError};
pub use format::{FORMAT_VERSION, FRAME_ALIGN, FRAME_HEADER_SIZE, SEGMENT_HEADER_SIZE};
pub use mark::{DurableMark, MARK_FILE_NAME, read_mark};
pub use reader::{Frame, FrameRef, Reader};
pub use scan::SegmentSummary;
pub use tools::{DumpRange, JournalReport, Problem, dump, stat, verify};
pub use writer::{
    Durability, DurableSeq, Journal, JournalConfig, RecoveryReport, SyncStats, TailCut,
};
