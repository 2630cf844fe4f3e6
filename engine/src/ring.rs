//! The outbound ring: a bounded single-producer, single-consumer queue of
//! the loop's outputs, written in place and published in batches.
//!
//! Why not `crossbeam_queue::ArrayQueue` (nor `crate::inbound`, which has
//! many producers): the loop is the only writer of an outbound ring
//! and one gateway thread its only reader, and the multi-producer protocol
//! costs a compare-and-swap and a slot stamp per push and per pop. Here
//! the producer writes slots the consumer cannot see yet and makes them
//! visible with one `Release` store of the tail ([`Producer::publish`]),
//! once per duty cycle. The consumer reads the tail
//! only when the slots it already knows of run out, and stores its head
//! once per pop. Each side caches the other's index and reads the shared
//! one only when the cache says full (producer) or empty (consumer), so in
//! steady state the two cores share no cache line but the slots'.
//!
//! Measured on the project's 2-core VM, `cargo bench --bench pipeline`
//! (ARCHITECTURE.md, "Performance notes", session 8).
//!
//! Positions are `u64` counts that never wrap; slot `p` is `p % capacity`,
//! kept as a running index on each side so that no division is made.
//! Invariant: `head <= tail <= written <= head + capacity`, where `head`
//! is the consumer's position, `tail` the published one and `written` the
//! producer's own. Slots in `[head, tail)` belong to the consumer, those in
//! `[tail, written)` to the producer (written, not yet visible), the rest
//! are free.

#![allow(unsafe_code)]

use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::mem::MaybeUninit;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A position on a cache line of its own, so that the producer's stores of
/// the tail and the consumer's of the head never contend.
#[repr(align(128))]
struct Padded(AtomicU64);

/// What both ends share.
struct Shared<T> {
    /// The consumer's position: slots before it are free.
    head: Padded,
    /// The published position: slots before it (and from `head`) are the
    /// consumer's to read.
    tail: Padded,
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
}

// SAFETY: a slot is accessed by one side at a time, handed over by the
// `Release` store / `Acquire` load of `tail` (producer to consumer) and of
// `head` (consumer to producer); `T: Send` lets the values cross threads.
unsafe impl<T: Send> Send for Shared<T> {}
// SAFETY: as above; the shared fields are atomics and the slots' ownership
// follows the positions.
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Shared<T> {
    fn capacity(&self) -> u64 {
        self.slots.len() as u64
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // Both ends are gone; the producer dropped what it never published.
        let head = *self.head.0.get_mut();
        let tail = *self.tail.0.get_mut();
        let cap = self.capacity();
        for pos in head..tail {
            // SAFETY: slots in `[head, tail)` were written and published and
            // not read; each is dropped once.
            unsafe { (*self.slots[(pos % cap) as usize].get()).assume_init_drop() };
        }
    }
}

/// Builds a ring of `capacity` slots (at least one); returns its two ends.
#[must_use]
pub fn ring<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    let capacity = capacity.max(1);
    let shared = Arc::new(Shared {
        head: Padded(AtomicU64::new(0)),
        tail: Padded(AtomicU64::new(0)),
        slots: (0..capacity)
            .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
            .collect(),
    });
    (
        Producer {
            shared: Arc::clone(&shared),
            written: 0,
            published: 0,
            head_seen: 0,
            index: 0,
        },
        Consumer {
            shared,
            head: Cell::new(0),
            tail_seen: Cell::new(0),
            index: Cell::new(0),
        },
    )
}

/// The writing end (the loop).
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
    /// Slots written so far.
    written: u64,
    /// The tail last stored.
    published: u64,
    /// The consumer's head as last read: at most its real value.
    head_seen: u64,
    /// `written % capacity`.
    index: usize,
}

impl<T> Producer<T> {
    /// Whether `n` more values fit without overwriting any the consumer has
    /// not read (reads the consumer's head only when the cached one says no).
    #[inline]
    pub fn has_room(&mut self, n: u64) -> bool {
        let cap = self.shared.capacity();
        if self.written - self.head_seen + n <= cap {
            return true;
        }
        self.head_seen = self.shared.head.0.load(Ordering::Acquire);
        self.written - self.head_seen + n <= cap
    }

    /// Writes `value` after the last written one, not yet visible to the
    /// consumer; hands it back when the ring is full.
    ///
    /// # Errors
    /// The ring is full (counting written but unpublished values).
    #[inline]
    #[allow(
        clippy::result_large_err,
        reason = "handing the value back unboxed keeps the full-ring path allocation-free"
    )]
    pub fn write(&mut self, value: T) -> Result<(), T> {
        if !self.has_room(1) {
            return Err(value);
        }
        self.put(value);
        Ok(())
    }

    /// As [`Producer::write`], building the value only if it fits (so that
    /// it can be built in place).
    #[inline]
    pub fn write_with(&mut self, make: impl FnOnce() -> T) -> bool {
        if !self.has_room(1) {
            return false;
        }
        self.put(make());
        true
    }

    /// Writes `value` into the next slot; the caller checked there is room.
    #[inline]
    fn put(&mut self, value: T) {
        debug_assert!(self.written - self.head_seen < self.shared.capacity());
        // SAFETY: `[written, head + capacity)` is free (the caller checked
        // `has_room`), so the consumer does not read this slot until it is
        // published.
        unsafe { (*self.shared.slots[self.index].get()).write(value) };
        self.written += 1;
        self.index += 1;
        if self.index == self.shared.slots.len() {
            self.index = 0;
        }
    }

    /// Makes every value written up to position `through` (at most
    /// [`Producer::written`]) visible to the consumer. Never moves back.
    #[inline]
    pub fn publish_through(&mut self, through: u64) {
        debug_assert!(through <= self.written, "publishing unwritten slots");
        if through > self.published {
            self.published = through;
            self.shared.tail.0.store(through, Ordering::Release);
        }
    }

    /// Makes every written value visible.
    #[inline]
    pub fn publish(&mut self) {
        self.publish_through(self.written);
    }

    /// Values written so far (a position: publishing through it publishes
    /// everything written before it).
    #[must_use]
    #[inline]
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Values written but not yet published.
    #[must_use]
    pub fn unpublished(&self) -> u64 {
        self.written - self.published
    }
}

impl<T: Send + 'static> Producer<T> {
    /// A handle that reads the ring's fill from any thread.
    #[must_use]
    pub fn gauge(&self) -> RingGauge {
        RingGauge::new(Arc::clone(&self.shared) as Arc<dyn Occupancy>)
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        // Values never published are the producer's: drop them here (the
        // consumer never sees them, as after a crash).
        let cap = self.shared.capacity();
        for pos in self.published..self.written {
            // SAFETY: slots in `[published, written)` were written and are
            // invisible to the consumer; the shared drop skips them.
            unsafe { (*self.shared.slots[(pos % cap) as usize].get()).assume_init_drop() };
        }
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("capacity", &self.shared.capacity())
            .field("written", &self.written)
            .field("published", &self.published)
            .finish_non_exhaustive()
    }
}

/// The reading end (one gateway thread). Not `Sync`: one reader only.
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
    /// Position of the next value to read.
    head: Cell<u64>,
    /// The tail as last read: at most its real value.
    tail_seen: Cell<u64>,
    /// `head % capacity`.
    index: Cell<usize>,
}

impl<T> Consumer<T> {
    /// The next published value, if any.
    #[inline]
    pub fn pop(&self) -> Option<T> {
        let head = self.head.get();
        if head == self.tail_seen.get() {
            self.tail_seen
                .set(self.shared.tail.0.load(Ordering::Acquire));
            if head == self.tail_seen.get() {
                return None;
            }
        }
        let index = self.index.get();
        // SAFETY: `head < tail`: the slot was written and published (the
        // `Acquire` load above saw the producer's `Release` store), and the
        // producer does not touch it until the head moves past it.
        let value = unsafe { (*self.shared.slots[index].get()).assume_init_read() };
        self.index.set(if index + 1 == self.shared.slots.len() {
            0
        } else {
            index + 1
        });
        self.head.set(head + 1);
        self.shared.head.0.store(head + 1, Ordering::Release);
        Some(value)
    }

    /// Whether no published value is waiting (reads the tail afresh).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tail_seen
            .set(self.shared.tail.0.load(Ordering::Acquire));
        self.head.get() == self.tail_seen.get()
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("capacity", &self.shared.capacity())
            .field("head", &self.head.get())
            .finish_non_exhaustive()
    }
}

/// A ring's fill, as seen from any thread.
pub(crate) trait Occupancy: Send + Sync {
    fn len(&self) -> usize;
    fn capacity(&self) -> usize;
}

impl<T: Send> Occupancy for Shared<T> {
    fn len(&self) -> usize {
        let head = self.head.0.load(Ordering::Relaxed);
        let tail = self.tail.0.load(Ordering::Relaxed);
        tail.saturating_sub(head) as usize
    }

    fn capacity(&self) -> usize {
        self.slots.len()
    }
}

/// Reads an outbound ring's fill (published values not yet read) from any
/// thread, for the loop's figures.
#[derive(Clone)]
pub struct RingGauge(Arc<dyn Occupancy>);

impl RingGauge {
    pub(crate) fn new(ring: Arc<dyn Occupancy>) -> RingGauge {
        RingGauge(ring)
    }

    /// Published values not yet read.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing published is waiting.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Slots in all.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

impl fmt::Debug for RingGauge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingGauge")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_invisible_until_published_and_come_out_in_order() {
        let (mut tx, rx) = ring::<u32>(4);
        assert!(tx.write(1).is_ok() && tx.write(2).is_ok());
        assert_eq!(rx.pop(), None, "written is not published");
        assert!(rx.is_empty());
        tx.publish_through(1);
        assert_eq!(rx.pop(), Some(1));
        assert_eq!(rx.pop(), None);
        tx.publish();
        assert_eq!(rx.pop(), Some(2));
        assert_eq!(rx.pop(), None);
        assert!(rx.is_empty());
    }

    #[test]
    fn a_full_ring_hands_the_value_back_and_counts_unpublished_slots() {
        let (mut tx, rx) = ring::<u32>(3);
        for v in 0..3 {
            assert!(tx.write(v).is_ok());
        }
        assert_eq!(tx.write(9), Err(9), "three written, none published");
        assert!(!tx.has_room(1));
        tx.publish();
        assert_eq!(tx.gauge().len(), 3);
        assert_eq!(rx.pop(), Some(0));
        assert!(tx.has_room(1), "the consumer freed a slot");
        assert!(!tx.has_room(2));
        assert!(tx.write(3).is_ok());
        tx.publish();
        // Wrapped around: slot 0 holds 3 now.
        assert_eq!(
            std::iter::from_fn(|| rx.pop()).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(tx.gauge().len(), 0);
        assert_eq!(tx.gauge().capacity(), 3);
    }

    #[test]
    fn every_value_is_dropped_once_whichever_end_goes_first() {
        use std::sync::atomic::AtomicUsize;
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        struct Counted;
        impl Drop for Counted {
            fn drop(&mut self) {
                DROPS.fetch_add(1, Ordering::Relaxed);
            }
        }
        let (mut tx, rx) = ring::<Counted>(8);
        for _ in 0..5 {
            assert!(tx.write(Counted).is_ok());
        }
        tx.publish_through(3);
        drop(rx.pop()); // read and dropped by the reader: 1
        drop(tx); // the two unpublished: 3
        assert_eq!(DROPS.load(Ordering::Relaxed), 3);
        drop(rx); // the two published and unread: 5
        assert_eq!(DROPS.load(Ordering::Relaxed), 5);
    }

    #[test]
    fn two_threads_pass_a_million_values_in_order() {
        let (mut tx, rx) = ring::<u64>(64);
        let reader = std::thread::spawn(move || {
            let mut expect = 0u64;
            while expect < 1_000_000 {
                if let Some(v) = rx.pop() {
                    assert_eq!(v, expect);
                    expect += 1;
                } else {
                    std::hint::spin_loop();
                }
            }
        });
        let mut next = 0u64;
        while next < 1_000_000 {
            // Publish in uneven batches.
            let mut batch = 0;
            while batch < 1 + next % 7 && next < 1_000_000 && tx.write(next).is_ok() {
                next += 1;
                batch += 1;
            }
            tx.publish();
            std::hint::spin_loop();
        }
        reader.join().expect("reader");
    }
}
