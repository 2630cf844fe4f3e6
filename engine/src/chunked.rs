//! A sequence stored in fixed-size chunks, for the engine's append-mostly
//! stores: the queue of finished orders and the slab of ClOrdID entries.
//!
//! Both grow by one element per order or per request all day. In a `Vec` or
//! `VecDeque`, growing by doubling copies everything held so far: at a
//! million orders that is over a hundred megabytes copied in pauses of tens
//! of milliseconds, and every copied line is a cache miss (callgrind on
//! `engine_replay -- --orders 200000`, with a 2 MiB last level: 38% of the
//! engine's last-level misses were these copies). Here, growing allocates one
//! more chunk and never moves an element; an index is a shift, a mask and two
//! loads.
//!
//! A new chunk is written in full when it is opened, so that its pages are
//! faulted in one pause (~0.3 ms for a chunk of finished orders on the
//! project's VM) rather than one fault of ~2.5 µs every few dozen inputs:
//! with pages faulted as they were first written, one input in thirty paid a
//! fault, which set the engine's p99 latency.
//!
//! Opening a chunk that way still pauses the matching thread: ~0.3 ms for
//! 4,096 finished orders, 7.6 ms for a large day's 6 MiB chunk of huge
//! pages. So a deque can be given a [`ChunkPool`]: chunks made (allocated,
//! advised and written) ahead of need by another thread, which the deque
//! takes when it opens one. The engine crate starts no thread; the venue
//! runs the pools' [`ChunkPool::top_up`] on one of its own
//! ([`crate::Engine::chunk_feeder`]). A deque whose pool is empty opens its
//! chunk itself, as before: where the memory comes from never changes what
//! is stored.
//!
//! Popping from the front (forgetting a finished trading day) frees whole
//! chunks; the last chunk freed is kept as a spare, so that a steady state
//! (a day's orders forgotten, the next day's appended) allocates nothing.

use std::sync::{Arc, OnceLock};

use crossbeam_queue::ArrayQueue;

/// Elements per chunk, as a power of two, unless the deque is made for a
/// large day ([`Chunked::for_expected`]).
const CHUNK_SHIFT: u32 = 12;
#[cfg(test)]
const CHUNK_LEN: usize = 1 << CHUNK_SHIFT;

/// A deque expected to hold at least this many bytes gets chunks of at least
/// [`HUGE_CHUNK_BYTES`], backed by huge pages.
const HUGE_DAY_BYTES: usize = 16 << 20;
/// Large enough that its 2 MiB-aligned interior is at least half of it.
const HUGE_CHUNK_BYTES: usize = 2 * crate::hugepage::HUGE_PAGE;

/// A deque that only grows at the back and only shrinks at the front.
#[derive(Debug)]
pub(crate) struct Chunked<T> {
    /// Every chunk but the last is full (`1 << shift` elements); the first
    /// `head` elements of the first chunk have been popped.
    chunks: Vec<Vec<T>>,
    head: usize,
    len: usize,
    /// An empty chunk kept for reuse (capacity 0 when there is none).
    spare: Vec<T>,
    /// Elements per chunk, `1 << shift`.
    shift: u32,
    /// Chunks made ahead by another thread, if the owner set that up.
    pool: Option<Arc<ChunkPool<T>>>,
}

/// Chunks made ahead of need (see the module docs): a bounded queue of
/// empty chunks whose pages are already written, filled by whoever calls
/// [`ChunkPool::top_up`] and drawn from by one [`Chunked`].
#[derive(Debug)]
pub(crate) struct ChunkPool<T> {
    ready: ArrayQueue<Vec<T>>,
    /// Elements per chunk.
    chunk_len: usize,
    /// A value to write the pages with: the first the deque ever stored
    /// (nothing is made before that).
    fill: OnceLock<T>,
}

/// Chunks a pool keeps ready: one for the next opening, one for a burst.
const POOL_CHUNKS: usize = 2;

impl<T: Copy> ChunkPool<T> {
    /// Makes chunks until the pool holds [`POOL_CHUNKS`]; returns how many
    /// it made. Any thread; never blocks the deque. `pace` runs after each
    /// [`PACE_BYTES`] written (the caller may sleep there, so that making a
    /// chunk never holds a CPU for long).
    pub(crate) fn top_up(&self, pace: &mut dyn FnMut()) -> usize {
        let Some(&fill) = self.fill.get() else {
            return 0;
        };
        let mut made = 0;
        while !self.ready.is_full() {
            if self
                .ready
                .push(new_chunk(self.chunk_len, fill, pace))
                .is_err()
            {
                break;
            }
            made += 1;
        }
        made
    }
}

/// How much of a chunk is written between two calls of a pool's `pace`:
/// one huge page (a first write to it faults in the whole 2 MiB).
const PACE_BYTES: usize = crate::hugepage::HUGE_PAGE;

/// An empty chunk with room for `len` elements, its memory advised into
/// huge pages and written in full (faulted in), calling `pace` after each
/// [`PACE_BYTES`].
fn new_chunk<T: Copy>(len: usize, fill: T, pace: &mut dyn FnMut()) -> Vec<T> {
    let mut chunk = Vec::with_capacity(len);
    crate::hugepage::advise(&chunk);
    let step = (PACE_BYTES / size_of::<T>().max(1)).max(1);
    while chunk.len() < len {
        let n = step.min(len - chunk.len());
        chunk.extend(std::iter::repeat_n(fill, n));
        pace();
    }
    chunk.clear();
    chunk
}

impl<T: Clone> Clone for Chunked<T> {
    /// A copy draws on no pool (it is a snapshot's, and never grows).
    fn clone(&self) -> Self {
        Chunked {
            chunks: self.chunks.clone(),
            head: self.head,
            len: self.len,
            spare: Vec::new(),
            shift: self.shift,
            pool: None,
        }
    }

    /// Reuses this deque's chunks (the snapshot copy is refreshed in place,
    /// without faulting in new memory).
    fn clone_from(&mut self, source: &Self) {
        let Chunked {
            chunks,
            head,
            len,
            spare: _,
            shift,
            pool: _,
        } = source;
        self.chunks.clone_from(chunks);
        self.head = *head;
        self.len = *len;
        self.shift = *shift;
    }
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked {
            chunks: Vec::new(),
            head: 0,
            len: 0,
            spare: Vec::new(),
            shift: CHUNK_SHIFT,
            pool: None,
        }
    }
}

impl<T> Chunked<T> {
    /// An empty deque sized for a day of about `expected` elements: chunks
    /// of 4,096 elements, or, for a day of 16 MiB or more, chunks of at least
    /// 4 MiB whose memory is advised into huge pages (fewer page faults
    /// while the day grows, fewer TLB misses on its random reads).
    pub(crate) fn for_expected(expected: usize) -> Self {
        let size = size_of::<T>().max(1);
        let shift = if expected.saturating_mul(size) >= HUGE_DAY_BYTES {
            HUGE_CHUNK_BYTES
                .div_ceil(size)
                .next_power_of_two()
                .trailing_zeros()
        } else {
            CHUNK_SHIFT
        };
        Chunked {
            shift,
            ..Chunked::default()
        }
    }

    #[inline]
    fn chunk_len(&self) -> usize {
        1 << self.shift
    }
}

impl<T: Copy> Chunked<T> {
    /// The deque's pool, made on first call: from then on it opens chunks
    /// from the pool whenever the pool has one.
    pub(crate) fn pool(&mut self) -> Arc<ChunkPool<T>> {
        let chunk_len = self.chunk_len();
        let first = self.front().copied();
        let pool = self.pool.get_or_insert_with(|| {
            let pool = ChunkPool {
                ready: ArrayQueue::new(POOL_CHUNKS),
                chunk_len,
                fill: OnceLock::new(),
            };
            if let Some(first) = first {
                let _ = pool.fill.set(first);
            }
            Arc::new(pool)
        });
        Arc::clone(pool)
    }
}

impl<T: Copy> Chunked<T> {
    /// Number of elements.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Appends `value` at the back.
    #[inline]
    pub(crate) fn push(&mut self, value: T) {
        let chunk_len = self.chunk_len();
        match self.chunks.last_mut() {
            Some(last) if last.len() < chunk_len => last.push(value),
            _ => self.push_in_new_chunk(value),
        }
        self.len += 1;
        debug_assert!(self.head + self.len <= self.chunks.len() * self.chunk_len());
    }

    /// Opens a chunk: the spare one, or one from the pool, or a new one
    /// whose every page is written at once (see the module docs).
    #[cold]
    fn push_in_new_chunk(&mut self, value: T) {
        let len = self.chunk_len();
        let mut chunk = std::mem::take(&mut self.spare);
        debug_assert!(chunk.is_empty());
        if chunk.capacity() < len {
            let made = self.pool.as_ref().and_then(|pool| {
                let _ = pool.fill.set(value);
                pool.ready.pop()
            });
            chunk = match made {
                Some(made) => made,
                None => new_chunk(len, value, &mut || {}),
            };
        }
        debug_assert!(chunk.capacity() >= len);
        chunk.push(value);
        self.chunks.push(chunk);
    }

    /// The element at `i` (0 is the front).
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        if i >= self.len {
            return None;
        }
        let j = self.head + i;
        Some(&self.chunks[j >> self.shift][j & (self.chunk_len() - 1)])
    }

    /// The element at `i` (0 is the front), mutably.
    #[inline]
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        if i >= self.len {
            return None;
        }
        let j = self.head + i;
        let mask = self.chunk_len() - 1;
        Some(&mut self.chunks[j >> self.shift][j & mask])
    }

    /// The front element.
    pub(crate) fn front(&self) -> Option<&T> {
        self.get(0)
    }

    /// Removes and returns the front element.
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        let value = *self.front()?;
        self.head += 1;
        self.len -= 1;
        if self.head == self.chunk_len() || self.len == 0 {
            let mut chunk = self.chunks.remove(0);
            chunk.clear();
            self.spare = chunk;
            self.head = 0;
        }
        if self.len == 0 {
            debug_assert!(self.chunks.is_empty());
        }
        Some(value)
    }

    /// The elements, front to back.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        // Every chunk holds exactly its elements but the first, whose first
        // `head` have been popped.
        let head = self.head;
        self.chunks
            .iter()
            .enumerate()
            .flat_map(move |(i, c)| if i == 0 { &c[head..] } else { &c[..] })
    }
}

impl<T: Copy> std::ops::Index<usize> for Chunked<T> {
    type Output = T;

    #[inline]
    fn index(&self, i: usize) -> &T {
        self.get(i).expect("index within the sequence")
    }
}

impl<T: Copy> std::ops::IndexMut<usize> for Chunked<T> {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut T {
        self.get_mut(i).expect("index within the sequence")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_across_chunks_and_pops_from_the_front() {
        let mut c = Chunked::default();
        let n = 3 * CHUNK_LEN + 5;
        for i in 0..n {
            c.push(i);
        }
        assert_eq!(c.len(), n);
        assert_eq!(c.get(CHUNK_LEN), Some(&CHUNK_LEN));
        assert_eq!(c.get(n - 1), Some(&(n - 1)));
        assert_eq!(c.get(n), None);
        *c.get_mut(7).unwrap() = 70;
        assert_eq!(c.get(7), Some(&70));
        for i in 0..CHUNK_LEN + 2 {
            let want = if i == 7 { 70 } else { i };
            assert_eq!(c.pop_front(), Some(want));
        }
        assert_eq!(c.front(), Some(&(CHUNK_LEN + 2)));
        assert_eq!(c.get(0), Some(&(CHUNK_LEN + 2)));
        assert_eq!(c.len(), n - CHUNK_LEN - 2);
        assert!(c.iter().copied().eq(CHUNK_LEN + 2..n));
        // A freed chunk is reused; emptying and refilling starts afresh.
        while c.pop_front().is_some() {}
        assert_eq!(c.len(), 0);
        assert_eq!(c.front(), None);
        for i in 0..10 {
            c.push(i);
        }
        assert!(c.iter().copied().eq(0..10));
        assert_eq!(c.get(9), Some(&9));
    }

    #[test]
    fn chunks_made_ahead_are_taken_and_change_nothing_stored() {
        let mut c = Chunked::default();
        let pool = c.pool();
        assert_eq!(
            pool.top_up(&mut || {}),
            0,
            "nothing to write pages with yet"
        );
        c.push(0usize);
        let mut paces = 0;
        assert_eq!(
            pool.top_up(&mut || paces += 1),
            POOL_CHUNKS,
            "the first value is the fill"
        );
        assert_eq!(paces, POOL_CHUNKS, "a pause after each chunk's one step");
        assert_eq!(pool.top_up(&mut || {}), 0, "full");
        // The first chunk was the deque's own; the next two come from the pool.
        let n = 3 * CHUNK_LEN;
        for i in 1..n {
            c.push(i);
        }
        assert_eq!(pool.ready.len(), 0, "both ready chunks were taken");
        assert!(c.chunks.iter().all(|ch| ch.capacity() == CHUNK_LEN));
        assert!(c.iter().copied().eq(0..n));
        // Empty pool: the deque makes its own chunk, as without one.
        c.push(n);
        assert_eq!(c.get(n), Some(&n));
        assert_eq!(pool.top_up(&mut || {}), POOL_CHUNKS);
        // A copy draws on no pool.
        let mut copy = c.clone();
        for i in n + 1..n + 1 + CHUNK_LEN {
            copy.push(i);
        }
        assert_eq!(pool.ready.len(), POOL_CHUNKS);
        assert!(copy.iter().copied().eq(0..n + 1 + CHUNK_LEN));
    }

    #[test]
    fn a_large_day_gets_huge_page_chunks() {
        // 16 MiB of 96-byte records: chunks of 2^16 (6 MiB), not 2^12.
        let mut c = Chunked::<[u64; 12]>::for_expected(200_000);
        assert_eq!(c.chunk_len(), 1 << 16);
        let n = 2 * c.chunk_len() + 3;
        for i in 0..n {
            c.push([i as u64; 12]);
        }
        assert_eq!(c.chunks.len(), 3);
        assert_eq!(c.get(n - 1), Some(&[(n - 1) as u64; 12]));
        assert_eq!(c.pop_front(), Some([0; 12]));
        assert_eq!(
            c.get(c.chunk_len()),
            Some(&[(c.chunk_len() + 1) as u64; 12])
        );
        let small = Chunked::<[u64; 12]>::for_expected(1_000);
        assert_eq!(small.chunk_len(), CHUNK_LEN);
    }
}
