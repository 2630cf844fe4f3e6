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
//! Popping from the front (forgetting a finished trading day) frees whole
//! chunks; the last chunk freed is kept as a spare, so that a steady state
//! (a day's orders forgotten, the next day's appended) allocates nothing.

/// Elements per chunk, as a power of two.
const CHUNK_SHIFT: u32 = 12;
const CHUNK_LEN: usize = 1 << CHUNK_SHIFT;
const CHUNK_MASK: usize = CHUNK_LEN - 1;

/// A deque that only grows at the back and only shrinks at the front.
#[derive(Debug)]
pub(crate) struct Chunked<T> {
    /// Every chunk but the last is full (`CHUNK_LEN` elements); the first
    /// `head` elements of the first chunk have been popped.
    chunks: Vec<Vec<T>>,
    head: usize,
    len: usize,
    /// An empty chunk kept for reuse (capacity 0 when there is none).
    spare: Vec<T>,
}

impl<T: Clone> Clone for Chunked<T> {
    fn clone(&self) -> Self {
        Chunked {
            chunks: self.chunks.clone(),
            head: self.head,
            len: self.len,
            spare: Vec::new(),
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
        } = source;
        self.chunks.clone_from(chunks);
        self.head = *head;
        self.len = *len;
    }
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked {
            chunks: Vec::new(),
            head: 0,
            len: 0,
            spare: Vec::new(),
        }
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
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK_LEN => last.push(value),
            _ => self.push_in_new_chunk(value),
        }
        self.len += 1;
        debug_assert!(self.head + self.len <= self.chunks.len() * CHUNK_LEN);
    }

    /// Opens a chunk: the spare one, or a new one whose every page is
    /// written at once (see the module docs).
    #[cold]
    fn push_in_new_chunk(&mut self, value: T) {
        let mut chunk = std::mem::take(&mut self.spare);
        debug_assert!(chunk.is_empty());
        if chunk.capacity() < CHUNK_LEN {
            chunk.reserve_exact(CHUNK_LEN);
            chunk.resize(CHUNK_LEN, value);
            chunk.clear();
        }
        debug_assert!(chunk.capacity() >= CHUNK_LEN);
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
        Some(&self.chunks[j >> CHUNK_SHIFT][j & CHUNK_MASK])
    }

    /// The element at `i` (0 is the front), mutably.
    #[inline]
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        if i >= self.len {
            return None;
        }
        let j = self.head + i;
        Some(&mut self.chunks[j >> CHUNK_SHIFT][j & CHUNK_MASK])
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
        if self.head == CHUNK_LEN || self.len == 0 {
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
        self.chunks.iter().flatten().skip(self.head).take(self.len)
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
}
