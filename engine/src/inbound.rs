//! The inbound ring: a bounded multi-producer, single-consumer queue of the
//! loop's inputs.
//!
//! Producers (gateway threads, the admin API, timers) claim a position with
//! a compare-and-swap on the shared tail and stamp the slot when its value
//! is written; the loop is the only consumer, so it takes values with no
//! read-modify-write at all: it reads the next slot's stamp, moves the value
//! out and stamps the slot free for the producers one lap on. This is
//! Dmitry Vyukov's bounded queue with the consumer side reduced to one
//! thread. `crossbeam_queue::ArrayQueue` (which this replaced) is the same
//! queue for many consumers: each pop pays a compare-and-swap on the head
//! and lap arithmetic, 101 instructions a pop under callgrind in the
//! pipeline bench's loop (`cargo bench --bench pipeline -- --single-thread`).
//!
//! Positions are `u64` counts that never wrap; slot `p` is `p & mask`, so
//! the capacity is a power of two (the configured one rounded up). A slot's
//! stamp says whose it is: `p` (free for the producer of position `p`),
//! `p + 1` (written at position `p`, the consumer's to read), and the
//! consumer frees it for position `p + capacity` by storing that.

#![allow(unsafe_code)]

use std::cell::UnsafeCell;
use std::fmt;
use std::mem::MaybeUninit;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::ring::{Occupancy, RingGauge};

/// A position on a cache line of its own: producers contend on the tail,
/// and no one else should pay for it.
#[repr(align(128))]
struct Padded(AtomicU64);

struct Slot<T> {
    stamp: AtomicU64,
    value: UnsafeCell<MaybeUninit<T>>,
}

struct Shared<T> {
    /// The next position a producer claims.
    tail: Padded,
    /// The consumer's position, published for the gauge only.
    head: Padded,
    mask: u64,
    slots: Box<[Slot<T>]>,
}

// SAFETY: a slot's value is accessed by one thread at a time, handed over
// by the `Release` store / `Acquire` load of its stamp; `T: Send` lets the
// values cross threads.
unsafe impl<T: Send> Send for Shared<T> {}
// SAFETY: as above; positions are claimed by compare-and-swap, so no two
// producers write one slot.
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // Every end is gone: drop what was written and never read.
        let head = *self.head.0.get_mut();
        let tail = *self.tail.0.get_mut();
        for pos in head..tail {
            let slot = &mut self.slots[(pos & self.mask) as usize];
            if *slot.stamp.get_mut() == pos + 1 {
                // SAFETY: the stamp says the value at `pos` was written and
                // the consumer never took it; each is dropped once.
                unsafe { slot.value.get_mut().assume_init_drop() };
            }
        }
    }
}

impl<T> Shared<T> {
    fn len(&self) -> usize {
        let head = self.head.0.load(Ordering::Relaxed);
        let tail = self.tail.0.load(Ordering::Relaxed);
        (tail.saturating_sub(head) as usize).min(self.slots.len())
    }
}

impl<T: Send> Occupancy for Shared<T> {
    fn len(&self) -> usize {
        Shared::len(self)
    }

    fn capacity(&self) -> usize {
        self.slots.len()
    }
}

/// Builds a ring of `capacity` slots rounded up to a power of two (at least
/// one); returns its producer handle (clone it for more producers) and its
/// consumer.
#[must_use]
pub fn ring<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let capacity = capacity
        .max(1)
        .checked_next_power_of_two()
        .filter(|&c| c <= isize::MAX as usize / size_of::<Slot<T>>().max(1))
        .expect("inbound ring capacity too large");
    let shared = Arc::new(Shared {
        tail: Padded(AtomicU64::new(0)),
        head: Padded(AtomicU64::new(0)),
        mask: capacity as u64 - 1,
        slots: (0..capacity as u64)
            .map(|pos| Slot {
                stamp: AtomicU64::new(pos),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect(),
    });
    (
        Sender {
            shared: Arc::clone(&shared),
        },
        Receiver { shared, head: 0 },
    )
}

/// A producer's handle; any number of threads may hold clones.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Sender<T> {
    /// Appends `value`, or hands it back if the ring is full.
    ///
    /// # Errors
    /// The ring is full.
    #[inline]
    #[allow(
        clippy::result_large_err,
        reason = "handing the value back unboxed keeps the full-ring path allocation-free"
    )]
    pub fn push(&self, value: T) -> Result<(), T> {
        let shared = &*self.shared;
        let mut pos = shared.tail.0.load(Ordering::Relaxed);
        loop {
            let slot = &shared.slots[(pos & shared.mask) as usize];
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == pos {
                match shared.tail.0.compare_exchange_weak(
                    pos,
                    pos + 1,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: the compare-and-swap made position `pos`
                        // ours alone, and its stamp (`Acquire`, after the
                        // consumer's `Release`) says the slot is free.
                        unsafe { (*slot.value.get()).write(value) };
                        slot.stamp.store(pos + 1, Ordering::Release);
                        return Ok(());
                    }
                    Err(now) => pos = now,
                }
            } else if stamp < pos {
                // The slot still holds the value of position
                // `pos - capacity`: the ring is full (unless the consumer
                // took it in the meantime, which the caller's retry sees).
                return Err(value);
            } else {
                // Another producer took `pos` already.
                pos = shared.tail.0.load(Ordering::Relaxed);
            }
        }
    }

    /// Values in the ring (claimed, possibly not yet written, and not read).
    #[must_use]
    pub fn len(&self) -> usize {
        self.shared.len()
    }

    /// Whether the ring holds nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Slots in all.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.shared.slots.len()
    }
}

impl<T: Send + 'static> Sender<T> {
    /// A handle that reads the ring's fill from any thread.
    #[must_use]
    pub fn gauge(&self) -> RingGauge {
        RingGauge::new(Arc::clone(&self.shared) as Arc<dyn Occupancy>)
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("inbound::Sender")
            .field("capacity", &self.shared.slots.len())
            .finish_non_exhaustive()
    }
}

/// The consumer (the loop). Not `Sync` and not `Clone`: one reader only.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// Position of the next value to read.
    head: u64,
}

impl<T> Receiver<T> {
    /// The value `ahead` places after the next one to be taken (0: the next
    /// one), if it is written: read in place, without a copy. Producers
    /// may finish writing out of order, so `peek(1)` can be written while
    /// `peek(0)` is not yet; values still come out in position order.
    ///
    /// The value cannot be taken while the reference lives:
    /// ```compile_fail
    /// let (tx, mut rx) = engine::inbound::ring::<String>(1);
    /// tx.push("a".into()).unwrap();
    /// let r = rx.peek(0).unwrap();
    /// drop(rx.pop());
    /// println!("{r}");
    /// ```
    #[inline]
    pub fn peek(&self, ahead: u64) -> Option<&T> {
        let shared = &*self.shared;
        if ahead > shared.mask {
            return None;
        }
        let pos = self.head + ahead;
        let slot = &shared.slots[(pos & shared.mask) as usize];
        if slot.stamp.load(Ordering::Acquire) != pos + 1 {
            return None;
        }
        // SAFETY: the stamp (`Acquire`, after the producer's `Release`) says
        // the value at `pos` is written; no producer touches the slot until
        // the consumer frees it, which takes `&mut self` (`skip`, `pop`) and
        // so cannot happen while this borrow lives.
        Some(unsafe { (*slot.value.get()).assume_init_ref() })
    }

    /// Drops the next value, which [`Receiver::peek`]`(0)` returned, and
    /// frees its slot for the producers.
    ///
    /// # Panics
    /// If the next value is not written (the caller did not peek it).
    #[inline]
    pub fn skip(&mut self) {
        let value = self.take();
        assert!(value.is_some(), "skip without a written value");
        // Dropped after its slot is freed and the head moved on, so that a
        // panicking drop cannot leave the value to be dropped again.
        drop(value);
    }

    /// The next value, if one is written.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        self.take()
    }

    /// Moves the next value out, if written, and frees its slot.
    #[inline]
    fn take(&mut self) -> Option<T> {
        let shared = &*self.shared;
        let head = self.head;
        let slot = &shared.slots[(head & shared.mask) as usize];
        if slot.stamp.load(Ordering::Acquire) != head + 1 {
            return None;
        }
        // SAFETY: the stamp (`Acquire`, after the producer's `Release`) says
        // the value at `head` is written, and no producer touches the slot
        // until it is stamped free below; `&mut self` means no `peek`
        // borrow of it is alive.
        let value = unsafe { (*slot.value.get()).assume_init_read() };
        slot.stamp.store(head + shared.mask + 1, Ordering::Release);
        self.head = head + 1;
        shared.head.0.store(head + 1, Ordering::Relaxed);
        Some(value)
    }

    /// As `peek(0)`, except that if a producer has claimed the next
    /// position and not yet written it (it was preempted between the two),
    /// this waits for it, up to `spins` spins, rather than report nothing
    /// while an input is on its way.
    #[inline]
    pub fn peek_next(&self, spins: u32) -> Option<&T> {
        let mut left = spins;
        while left > 0
            && self.peek(0).is_none()
            && self.shared.tail.0.load(Ordering::Relaxed) > self.head
        {
            std::hint::spin_loop();
            left -= 1;
        }
        self.peek(0)
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("inbound::Receiver")
            .field("capacity", &self.shared.slots.len())
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_out_in_order_and_a_full_ring_hands_the_value_back() {
        let (tx, mut rx) = ring::<u32>(3);
        assert_eq!(tx.capacity(), 4, "rounded up to a power of two");
        for v in 0..4 {
            assert_eq!(tx.push(v), Ok(()));
        }
        assert_eq!(tx.push(9), Err(9));
        assert_eq!(tx.len(), 4);
        assert_eq!(tx.gauge().len(), 4);
        assert_eq!(rx.pop(), Some(0));
        assert_eq!(tx.push(4), Ok(()), "the consumer freed a slot");
        assert_eq!(tx.push(10), Err(10));
        // Wrapped around: slot 0 holds 4 now.
        assert_eq!(
            std::iter::from_fn(|| rx.pop()).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        assert_eq!(rx.pop(), None);
        assert!(tx.is_empty());
        assert_eq!(tx.gauge().capacity(), 4);
    }

    #[test]
    fn peek_reads_ahead_in_place_and_skip_takes_the_next() {
        let (tx, mut rx) = ring::<u32>(4);
        assert_eq!(rx.peek(0), None);
        for v in [10, 11, 12] {
            assert_eq!(tx.push(v), Ok(()));
        }
        assert_eq!(
            (rx.peek(0), rx.peek(1), rx.peek(2)),
            (Some(&10), Some(&11), Some(&12))
        );
        assert_eq!(rx.peek(3), None, "not written");
        assert_eq!(rx.peek(99), None, "past the ring");
        rx.skip();
        assert_eq!(rx.peek(0), Some(&11));
        assert_eq!(tx.len(), 2);
        // The freed slot takes a new value one lap on.
        assert_eq!(tx.push(13), Ok(()));
        assert_eq!(tx.push(14), Ok(()));
        assert_eq!(tx.push(15), Err(15));
        rx.skip();
        assert_eq!(rx.pop(), Some(12));
        assert_eq!(rx.peek(1), Some(&14));
    }

    #[test]
    fn peek_next_waits_for_a_claimed_position_and_not_for_an_empty_ring() {
        let (tx, rx) = ring::<u32>(4);
        assert_eq!(rx.peek_next(u32::MAX), None, "nothing claimed: no wait");
        // Claim position 0 as a producer would, without writing it yet.
        assert_eq!(tx.shared.tail.0.fetch_add(1, Ordering::Relaxed), 0);
        assert_eq!(rx.peek_next(1_000), None, "claimed, never written");
        let writer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(5));
            let slot = &tx.shared.slots[0];
            // SAFETY: position 0 was claimed above for this write.
            unsafe { (*slot.value.get()).write(7) };
            slot.stamp.store(1, Ordering::Release);
            tx
        });
        assert_eq!(rx.peek_next(u32::MAX), Some(&7), "waited for the write");
        drop(writer.join().expect("writer"));
    }

    #[test]
    #[should_panic(expected = "skip without a written value")]
    fn skip_of_nothing_panics() {
        let (_tx, mut rx) = ring::<u32>(4);
        rx.skip();
    }

    #[test]
    fn every_value_is_dropped_once() {
        use std::sync::atomic::AtomicUsize;
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        struct Counted;
        impl Drop for Counted {
            fn drop(&mut self) {
                DROPS.fetch_add(1, Ordering::Relaxed);
            }
        }
        let (tx, mut rx) = ring::<Counted>(4);
        for _ in 0..4 {
            assert!(tx.push(Counted).is_ok());
        }
        drop(rx.pop()); // read and dropped by the reader: 1
        drop(rx.pop()); // 2
        assert!(tx.push(Counted).is_ok()); // wraps into slot 0
        assert_eq!(DROPS.load(Ordering::Relaxed), 2);
        drop(tx);
        assert_eq!(
            DROPS.load(Ordering::Relaxed),
            2,
            "the reader still holds the ring"
        );
        drop(rx); // three written and unread
        assert_eq!(DROPS.load(Ordering::Relaxed), 5);
    }

    #[test]
    fn many_producers_lose_nothing_and_keep_each_ones_order() {
        const PRODUCERS: u64 = 4;
        const EACH: u64 = 250_000;
        let (tx, mut rx) = ring::<(u64, u64)>(64);
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    for i in 0..EACH {
                        let mut v = (p, i);
                        while let Err(back) = tx.push(v) {
                            v = back;
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let mut next = [0u64; PRODUCERS as usize];
        let mut got = 0;
        while got < PRODUCERS * EACH {
            match rx.pop() {
                Some((p, i)) => {
                    assert_eq!(i, next[p as usize], "producer {p} out of order");
                    next[p as usize] += 1;
                    got += 1;
                }
                None => std::thread::yield_now(),
            }
        }
        for p in producers {
            p.join().expect("producer");
        }
        assert_eq!(rx.pop(), None);
        assert_eq!(next, [EACH; PRODUCERS as usize]);
    }
}
