//! A client's copy of one `book.SYMBOL` subscription: a level-2 book at one
//! depth, rebuilt from the channel's numbered snapshot and updates exactly as
//! `docs/websocket-api.md` ("Books") describes, and checked against every
//! message's checksum.
//!
//! [`LocalBook::apply`] takes book messages in whatever order they arrive:
//!
//! - an update whose `prev_seq` is the last applied `seq` is applied, then
//!   any buffered updates that follow it;
//! - an update from further ahead waits in a bounded reorder buffer keyed by
//!   its `prev_seq`; when the buffer holds more than the window, the update
//!   it waits for is taken as lost ([`ResyncReason::Gap`]);
//! - an update at or before the last applied `seq` is a duplicate and is
//!   ignored;
//! - a snapshot resets the book (and drops buffered updates it already
//!   includes), unless it is older than what the book has applied: a late,
//!   reordered snapshot would only roll the book back;
//! - after each applied message the book recomputes [`book_checksum`] over
//!   its levels and compares it with the message's; a difference is
//!   [`ResyncReason::ChecksumMismatch`].
//!
//! [`LocalBook::on_heartbeat`] takes the channel's last `seq` from a
//! `heartbeat`: a `seq` beyond the applied one, with nothing buffered that
//! could fill the hole, is a gap, found even when the channel falls quiet
//! right after the lost message.
//!
//! When a message returns [`BookStatus::ResyncNeeded`] the book forgets its
//! levels (they can no longer be trusted) and waits for a snapshot: the
//! owner should resubscribe (`unsubscribe` then `subscribe` at the same
//! depth), which is what [`crate::ws::client::Client`] does. The book only
//! ever shows in-order, checksum-verified state: [`LocalBook::bids`] and
//! [`LocalBook::asks`] are empty while [`LocalBook::is_synced`] is false.
//!
//! ```
//! use gateway::ws::local_book::{BookStatus, LocalBook};
//! use gateway::ws::protocol::{book_checksum, BookMsg};
//!
//! let mut book = LocalBook::new(10);
//! let bids = vec![(12864, 5, 1)];
//! let asks = vec![(12866, 7, 2)];
//! let checksum = book_checksum([(12864, 5)], [(12866, 7)]);
//! let snapshot = BookMsg {
//!     channel: "book.UST-10Y".into(), snapshot: true, seq: 41, prev_seq: None,
//!     engine_seq: 1230, time_ns: 0, bids, asks, checksum,
//! };
//! assert_eq!(book.apply(snapshot), BookStatus::Advanced { seq: 41, applied: 1 });
//! assert!(book.is_synced());
//! assert_eq!(book.best_bid().map(|l| l.price_ticks), Some(12864));
//! ```
#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt;

use super::protocol::{BookMsg, LevelMsg, book_checksum};

/// Default bound of a book's reorder buffer: updates held while waiting for
/// an earlier one.
pub const DEFAULT_REORDER_WINDOW: usize = 64;

/// One price level: `[price_ticks, qty_lots, orders]` on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Level {
    /// Price in ticks of the instrument.
    pub price_ticks: i64,
    /// Total quantity at the price, in lots (never 0 in a book).
    pub qty_lots: u64,
    /// Number of orders at the price.
    pub orders: u32,
}

impl From<LevelMsg> for Level {
    fn from((price_ticks, qty_lots, orders): LevelMsg) -> Self {
        Level {
            price_ticks,
            qty_lots,
            orders,
        }
    }
}

/// How a gap was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GapSource {
    /// The reorder buffer grew past its window while waiting for an update.
    ReorderBuffer,
    /// A heartbeat gave the channel a `seq` beyond the applied one.
    Heartbeat,
}

/// Why a book needs a resync (a fresh snapshot, by resubscribing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResyncReason {
    /// Updates were lost: the book had applied `applied_seq` and the channel
    /// has messages up to at least `missing_through` that did not arrive.
    Gap {
        /// The last `seq` the book applied.
        applied_seq: u64,
        /// The channel has reached at least this `seq` (the `prev_seq` of
        /// the earliest buffered update, or the heartbeat's `seq`).
        missing_through: u64,
        /// What found the gap.
        detected_by: GapSource,
    },
    /// After applying message `seq` the book's checksum was not the
    /// message's.
    ChecksumMismatch {
        /// The message's `seq`.
        seq: u64,
        /// The checksum the message carried.
        expected: u32,
        /// The checksum of the book after applying it.
        computed: u32,
    },
    /// A message that cannot belong to a consistent channel: an update
    /// without `prev_seq`, a `seq` not after its `prev_seq`, or an update
    /// that starts before the applied `seq` but ends after it.
    Invalid {
        /// The message's `seq`.
        seq: u64,
        /// What is wrong with it.
        problem: &'static str,
    },
}

impl fmt::Display for ResyncReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResyncReason::Gap {
                applied_seq,
                missing_through,
                detected_by,
            } => write!(
                f,
                "gap: applied seq {applied_seq}, missing up to {missing_through} (found by {})",
                match detected_by {
                    GapSource::ReorderBuffer => "the reorder buffer",
                    GapSource::Heartbeat => "a heartbeat",
                }
            ),
            ResyncReason::ChecksumMismatch {
                seq,
                expected,
                computed,
            } => write!(
                f,
                "checksum mismatch at seq {seq}: message says {expected}, book gives {computed}"
            ),
            ResyncReason::Invalid { seq, problem } => {
                write!(f, "invalid message at seq {seq}: {problem}")
            }
        }
    }
}

/// What a message or heartbeat did to a [`LocalBook`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BookStatus {
    /// The book advanced to `seq`, applying `applied` messages (this one and
    /// buffered ones it unblocked).
    Advanced {
        /// The book's `seq` now.
        seq: u64,
        /// Messages applied.
        applied: usize,
    },
    /// The update waits in the reorder buffer for an earlier one.
    Buffered {
        /// Updates now in the buffer.
        pending: usize,
    },
    /// The message was already applied (or is an older snapshot); ignored.
    Duplicate,
    /// The book has no snapshot yet (new, or after a resync); an update was
    /// kept in case it follows the coming snapshot, a heartbeat was ignored.
    AwaitingSnapshot,
    /// A heartbeat agreed with the book.
    Unchanged,
    /// The book lost sync and cleared itself: resubscribe. Returned once;
    /// until the next snapshot further messages give
    /// [`BookStatus::AwaitingSnapshot`].
    ResyncNeeded(ResyncReason),
}

/// A level-2 book for one channel at one depth (see the module docs).
#[derive(Clone, Debug)]
pub struct LocalBook {
    depth: usize,
    window: usize,
    /// Best (highest) first.
    bids: Vec<Level>,
    /// Best (lowest) first.
    asks: Vec<Level>,
    /// The last applied `seq`; `None` while waiting for a snapshot.
    seq: Option<u64>,
    /// Updates waiting for an earlier one, keyed by `prev_seq`.
    pending: BTreeMap<u64, BookMsg>,
    /// Why the book last lost sync, until the next snapshot.
    resync_reason: Option<ResyncReason>,
    /// `engine_seq` and `time_ns` of the last applied message.
    stamp: Option<(u64, u64)>,
    messages_applied: u64,
    duplicates: u64,
}

impl LocalBook {
    /// An empty book of `depth` levels a side, waiting for its snapshot, with
    /// a reorder window of [`DEFAULT_REORDER_WINDOW`].
    #[must_use]
    pub fn new(depth: usize) -> Self {
        Self::with_reorder_window(depth, DEFAULT_REORDER_WINDOW)
    }

    /// An empty book whose reorder buffer holds at most `window` updates;
    /// one more is a gap. `window` 0 takes any update that does not follow
    /// the last applied one as a gap at once.
    #[must_use]
    pub fn with_reorder_window(depth: usize, window: usize) -> Self {
        LocalBook {
            depth,
            window,
            bids: Vec::with_capacity(depth.min(1024) + 1),
            asks: Vec::with_capacity(depth.min(1024) + 1),
            seq: None,
            pending: BTreeMap::new(),
            resync_reason: None,
            stamp: None,
            messages_applied: 0,
            duplicates: 0,
        }
    }

    /// Levels a side the book keeps (the subscription's `depth`).
    #[must_use]
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The reorder buffer's bound.
    #[must_use]
    pub fn reorder_window(&self) -> usize {
        self.window
    }

    /// Bid levels, best (highest price) first; empty unless synced.
    #[must_use]
    pub fn bids(&self) -> &[Level] {
        &self.bids
    }

    /// Ask levels, best (lowest price) first; empty unless synced.
    #[must_use]
    pub fn asks(&self) -> &[Level] {
        &self.asks
    }

    /// The best bid, if any.
    #[must_use]
    pub fn best_bid(&self) -> Option<Level> {
        self.bids.first().copied()
    }

    /// The best ask, if any.
    #[must_use]
    pub fn best_ask(&self) -> Option<Level> {
        self.asks.first().copied()
    }

    /// The `seq` of the last applied message; `None` while waiting for a
    /// snapshot.
    #[must_use]
    pub fn seq(&self) -> Option<u64> {
        self.seq
    }

    /// The `engine_seq` of the last applied message: the venue's sequence
    /// number of the last input the book reflects. `None` while waiting for
    /// a snapshot.
    #[must_use]
    pub fn engine_seq(&self) -> Option<u64> {
        self.stamp.map(|(seq, _)| seq)
    }

    /// The `time_ns` of the last applied message: the venue's time stamp of
    /// the last input the book reflects (ns since the Unix epoch; for
    /// measuring how long market data takes to arrive). `None` while waiting
    /// for a snapshot.
    #[must_use]
    pub fn time_ns(&self) -> Option<u64> {
        self.stamp.map(|(_, t)| t)
    }

    /// Whether the book holds verified, in-order state (it has applied a
    /// snapshot and not lost sync since).
    #[must_use]
    pub fn is_synced(&self) -> bool {
        self.seq.is_some()
    }

    /// Why the book last lost sync, while it waits for the snapshot that
    /// repairs it.
    #[must_use]
    pub fn resync_reason(&self) -> Option<&ResyncReason> {
        self.resync_reason.as_ref()
    }

    /// Updates waiting in the reorder buffer.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Messages applied since the book was created (snapshots included).
    #[must_use]
    pub fn messages_applied(&self) -> u64 {
        self.messages_applied
    }

    /// Messages ignored as duplicates since the book was created.
    #[must_use]
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// The checksum of the book's levels, as the API defines it.
    #[must_use]
    pub fn checksum(&self) -> u32 {
        book_checksum(
            self.bids.iter().map(|l| (l.price_ticks, l.qty_lots)),
            self.asks.iter().map(|l| (l.price_ticks, l.qty_lots)),
        )
    }

    /// Forgets levels and buffered updates and waits for a snapshot, without
    /// a reason (for an owner that resubscribes on its own account).
    pub fn reset(&mut self) {
        self.clear();
        self.resync_reason = None;
    }

    /// Takes one book message of this channel, in any order (see the module
    /// docs).
    pub fn apply(&mut self, msg: BookMsg) -> BookStatus {
        if msg.snapshot {
            return self.apply_snapshot(msg);
        }
        let Some(prev) = msg.prev_seq else {
            return self.lose_sync_if_synced(ResyncReason::Invalid {
                seq: msg.seq,
                problem: "update without prev_seq",
            });
        };
        if msg.seq <= prev {
            return self.lose_sync_if_synced(ResyncReason::Invalid {
                seq: msg.seq,
                problem: "seq not after prev_seq",
            });
        }
        let Some(applied) = self.seq else {
            // No snapshot yet: keep the update in case it follows the one
            // coming. Over the window, the oldest go: the snapshot is
            // likelier to include them than the newest.
            match self.pending.entry(prev) {
                Entry::Occupied(_) => self.duplicates += 1,
                Entry::Vacant(slot) => {
                    slot.insert(msg);
                    while self.pending.len() > self.window {
                        self.pending.pop_first();
                    }
                }
            }
            return BookStatus::AwaitingSnapshot;
        };
        if msg.seq <= applied {
            self.duplicates += 1;
            return BookStatus::Duplicate;
        }
        if prev == applied {
            if let Err(reason) = self.apply_update(&msg) {
                return self.lose_sync(reason);
            }
            return self.drain(1);
        }
        if prev < applied {
            return self.lose_sync(ResyncReason::Invalid {
                seq: msg.seq,
                problem: "update overlaps the applied seq",
            });
        }
        if self.pending.contains_key(&prev) {
            self.duplicates += 1;
            return BookStatus::Duplicate;
        }
        self.pending.insert(prev, msg);
        if self.pending.len() > self.window {
            let missing_through = self.pending.first_key_value().map_or(prev, |(&k, _)| k);
            return self.lose_sync(ResyncReason::Gap {
                applied_seq: applied,
                missing_through,
                detected_by: GapSource::ReorderBuffer,
            });
        }
        BookStatus::Buffered {
            pending: self.pending.len(),
        }
    }

    /// Takes the channel's last `seq` from a `heartbeat`. Beyond the applied
    /// `seq`, the next update should already be here: the buffer never holds
    /// one that follows the applied `seq` (it would have been applied), so
    /// nothing can fill the hole and the book needs a resync.
    pub fn on_heartbeat(&mut self, channel_seq: u64) -> BookStatus {
        let Some(applied) = self.seq else {
            return BookStatus::AwaitingSnapshot;
        };
        if channel_seq <= applied {
            return BookStatus::Unchanged;
        }
        let missing_through = self
            .pending
            .first_key_value()
            .map_or(channel_seq, |(&k, _)| k.min(channel_seq));
        self.lose_sync(ResyncReason::Gap {
            applied_seq: applied,
            missing_through,
            detected_by: GapSource::Heartbeat,
        })
    }

    fn apply_snapshot(&mut self, msg: BookMsg) -> BookStatus {
        if self.seq.is_some_and(|applied| msg.seq < applied) {
            // Older than the state shown: a late, reordered snapshot.
            self.duplicates += 1;
            return BookStatus::Duplicate;
        }
        self.bids.clear();
        self.asks.clear();
        for &(price_ticks, qty_lots, orders) in &msg.bids {
            upsert(&mut self.bids, true, price_ticks, qty_lots, orders);
        }
        for &(price_ticks, qty_lots, orders) in &msg.asks {
            upsert(&mut self.asks, false, price_ticks, qty_lots, orders);
        }
        self.bids.truncate(self.depth);
        self.asks.truncate(self.depth);
        self.seq = Some(msg.seq);
        self.stamp = Some((msg.engine_seq, msg.time_ns));
        self.messages_applied += 1;
        // Buffered updates the snapshot includes (or that overlap it) go.
        let keep = self.pending.split_off(&msg.seq);
        self.pending = keep;
        if let Err(reason) = self.verify(&msg) {
            return self.lose_sync(reason);
        }
        self.resync_reason = None;
        self.drain(1)
    }

    /// Applies an update whose `prev_seq` is the applied `seq`.
    fn apply_update(&mut self, msg: &BookMsg) -> Result<(), ResyncReason> {
        for &(price_ticks, qty_lots, orders) in &msg.bids {
            upsert(&mut self.bids, true, price_ticks, qty_lots, orders);
        }
        for &(price_ticks, qty_lots, orders) in &msg.asks {
            upsert(&mut self.asks, false, price_ticks, qty_lots, orders);
        }
        self.bids.truncate(self.depth);
        self.asks.truncate(self.depth);
        self.seq = Some(msg.seq);
        self.stamp = Some((msg.engine_seq, msg.time_ns));
        self.messages_applied += 1;
        self.verify(msg)
    }

    fn verify(&self, msg: &BookMsg) -> Result<(), ResyncReason> {
        let computed = self.checksum();
        if computed == msg.checksum {
            Ok(())
        } else {
            Err(ResyncReason::ChecksumMismatch {
                seq: msg.seq,
                expected: msg.checksum,
                computed,
            })
        }
    }

    /// Applies buffered updates that follow the applied `seq`, after
    /// `applied` messages already applied by the caller.
    fn drain(&mut self, mut applied: usize) -> BookStatus {
        while let Some(seq) = self.seq {
            let Some(next) = self.pending.remove(&seq) else {
                break;
            };
            if let Err(reason) = self.apply_update(&next) {
                return self.lose_sync(reason);
            }
            applied += 1;
        }
        let Some(seq) = self.seq else {
            return BookStatus::AwaitingSnapshot;
        };
        // Anything left before the applied seq can never be applied.
        if self
            .pending
            .first_key_value()
            .is_some_and(|(&k, _)| k < seq)
        {
            self.pending = self.pending.split_off(&seq);
        }
        BookStatus::Advanced { seq, applied }
    }

    fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
        self.seq = None;
        self.stamp = None;
        self.pending.clear();
    }

    fn lose_sync(&mut self, reason: ResyncReason) -> BookStatus {
        self.clear();
        self.resync_reason = Some(reason.clone());
        BookStatus::ResyncNeeded(reason)
    }

    /// A bad message while synced loses sync; while waiting for a snapshot
    /// it is dropped (a resync is already under way or the snapshot is
    /// coming).
    fn lose_sync_if_synced(&mut self, reason: ResyncReason) -> BookStatus {
        if self.seq.is_some() {
            self.lose_sync(reason)
        } else {
            BookStatus::AwaitingSnapshot
        }
    }
}

/// Sets one level of a side kept best first (`bid`: highest first):
/// quantity 0 removes the price. The caller trims the side to the depth once
/// the whole message is applied: the order of levels within a message carries
/// no meaning, so a level that looks outside the depth may be inside it once
/// a removal later in the same message is applied.
fn upsert(levels: &mut Vec<Level>, bid: bool, price: i64, qty: u64, orders: u32) {
    let found = levels.binary_search_by(|l| {
        if bid {
            price.cmp(&l.price_ticks)
        } else {
            l.price_ticks.cmp(&price)
        }
    });
    match found {
        Ok(i) if qty == 0 => {
            levels.remove(i);
        }
        Ok(i) => {
            levels[i] = Level {
                price_ticks: price,
                qty_lots: qty,
                orders,
            };
        }
        Err(_) if qty == 0 => {}
        Err(i) => levels.insert(
            i,
            Level {
                price_ticks: price,
                qty_lots: qty,
                orders,
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CH: &str = "book.UST-10Y";

    fn sum(bids: &[LevelMsg], asks: &[LevelMsg]) -> u32 {
        book_checksum(
            bids.iter().map(|&(p, q, _)| (p, q)),
            asks.iter().map(|&(p, q, _)| (p, q)),
        )
    }

    fn snapshot(seq: u64, bids: &[LevelMsg], asks: &[LevelMsg]) -> BookMsg {
        BookMsg {
            channel: CH.to_owned(),
            snapshot: true,
            seq,
            prev_seq: None,
            engine_seq: seq.wrapping_add(1000),
            time_ns: 0,
            bids: bids.to_vec(),
            asks: asks.to_vec(),
            checksum: sum(bids, asks),
        }
    }

    /// An update whose checksum is that of `after` (the book's full top
    /// levels once it is applied).
    fn update(
        seq: u64,
        bids: &[LevelMsg],
        asks: &[LevelMsg],
        after: (&[LevelMsg], &[LevelMsg]),
    ) -> BookMsg {
        BookMsg {
            channel: CH.to_owned(),
            snapshot: false,
            seq,
            prev_seq: Some(seq - 1),
            engine_seq: seq.wrapping_add(1000),
            time_ns: 0,
            bids: bids.to_vec(),
            asks: asks.to_vec(),
            checksum: sum(after.0, after.1),
        }
    }

    fn levels(side: &[Level]) -> Vec<LevelMsg> {
        side.iter()
            .map(|l| (l.price_ticks, l.qty_lots, l.orders))
            .collect()
    }

    /// Snapshot at 10 and three updates 11..=13 with the states after each.
    type Sides = (Vec<LevelMsg>, Vec<LevelMsg>);

    fn script() -> (BookMsg, Vec<BookMsg>, Vec<Sides>) {
        let snap = snapshot(10, &[(100, 5, 1), (99, 3, 2)], &[(102, 4, 1)]);
        let s11 = (
            vec![(100, 5, 1), (99, 3, 2)],
            vec![(101, 2, 1), (102, 4, 1)],
        );
        let s12 = (vec![(99, 3, 2)], vec![(101, 2, 1), (102, 4, 1)]);
        let s13 = (vec![(99, 8, 3), (98, 1, 1)], vec![(101, 2, 1)]);
        let u11 = update(11, &[], &[(101, 2, 1)], (&s11.0, &s11.1));
        let u12 = update(12, &[(100, 0, 0)], &[], (&s12.0, &s12.1));
        let u13 = update(
            13,
            &[(99, 8, 3), (98, 1, 1)],
            &[(102, 0, 0)],
            (&s13.0, &s13.1),
        );
        (snap, vec![u11, u12, u13], vec![s11, s12, s13])
    }

    #[test]
    fn in_order_messages_build_the_book() {
        let (snap, ups, states) = script();
        let mut book = LocalBook::new(10);
        assert!(!book.is_synced());
        assert_eq!(
            book.apply(snap),
            BookStatus::Advanced {
                seq: 10,
                applied: 1
            }
        );
        assert_eq!(levels(book.bids()), vec![(100, 5, 1), (99, 3, 2)]);
        assert_eq!(levels(book.asks()), vec![(102, 4, 1)]);
        for (i, (u, s)) in ups.into_iter().zip(states).enumerate() {
            let seq = 11 + i as u64;
            assert_eq!(book.apply(u), BookStatus::Advanced { seq, applied: 1 });
            assert_eq!(book.seq(), Some(seq));
            assert_eq!(levels(book.bids()), s.0);
            assert_eq!(levels(book.asks()), s.1);
        }
        assert_eq!(book.best_bid(), Some(Level::from((99, 8, 3))));
        assert_eq!(book.best_ask(), Some(Level::from((101, 2, 1))));
        assert_eq!(book.messages_applied(), 4);
        assert!(book.is_synced());
    }

    #[test]
    fn the_stamp_is_that_of_the_last_applied_message() {
        let (snap, mut ups, _) = script();
        let mut book = LocalBook::new(10);
        assert_eq!((book.engine_seq(), book.time_ns()), (None, None));
        book.apply(snap);
        assert_eq!(book.engine_seq(), Some(1010));
        for (i, u) in ups.iter_mut().enumerate() {
            u.time_ns = 7_000 + i as u64;
        }
        let u13 = ups.pop().expect("three updates");
        let u12 = ups.pop().expect("three updates");
        // 12 waits for 11; 11 then drains it: the stamp is 12's.
        book.apply(u12);
        assert_eq!(book.engine_seq(), Some(1010));
        book.apply(ups.pop().expect("three updates"));
        assert_eq!(
            (book.engine_seq(), book.time_ns()),
            (Some(1012), Some(7_001))
        );
        book.apply(u13);
        assert_eq!(
            (book.engine_seq(), book.time_ns()),
            (Some(1013), Some(7_002))
        );
        // A bad checksum loses sync, and the stamp with it.
        let mut bad = update(14, &[(90, 1, 1)], &[], (&[], &[]));
        bad.checksum ^= 1;
        book.apply(bad);
        assert_eq!((book.engine_seq(), book.time_ns()), (None, None));
    }

    #[test]
    fn reordered_updates_are_held_and_applied_in_order() {
        let (snap, mut ups, states) = script();
        let mut book = LocalBook::new(10);
        book.apply(snap);
        let u13 = ups.pop().unwrap();
        let u12 = ups.pop().unwrap();
        let u11 = ups.pop().unwrap();
        assert_eq!(book.apply(u13), BookStatus::Buffered { pending: 1 });
        assert_eq!(book.apply(u12), BookStatus::Buffered { pending: 2 });
        // Nothing shown moved while waiting.
        assert_eq!(book.seq(), Some(10));
        assert_eq!(levels(book.asks()), vec![(102, 4, 1)]);
        assert_eq!(
            book.apply(u11),
            BookStatus::Advanced {
                seq: 13,
                applied: 3
            }
        );
        assert_eq!(book.pending(), 0);
        assert_eq!(levels(book.bids()), states[2].0);
        assert_eq!(levels(book.asks()), states[2].1);
    }

    #[test]
    fn updates_before_the_snapshot_wait_for_it() {
        let (snap, ups, states) = script();
        let mut book = LocalBook::new(10);
        let mut ups = ups.into_iter();
        let u11 = ups.next().unwrap();
        let u12 = ups.next().unwrap();
        let u13 = ups.next().unwrap();
        // u11 is included in a snapshot at 11; u12, u13 follow it.
        let snap11 = snapshot(11, &states[0].0, &states[0].1);
        assert_eq!(book.apply(u13), BookStatus::AwaitingSnapshot);
        assert_eq!(book.apply(u11), BookStatus::AwaitingSnapshot);
        assert_eq!(book.apply(u12), BookStatus::AwaitingSnapshot);
        assert!(!book.is_synced());
        assert_eq!(
            book.apply(snap11),
            BookStatus::Advanced {
                seq: 13,
                applied: 3
            }
        );
        assert_eq!(levels(book.bids()), states[2].0);
        // The older snapshot arriving late changes nothing.
        assert_eq!(book.apply(snap), BookStatus::Duplicate);
        assert_eq!(book.seq(), Some(13));
        assert_eq!(levels(book.asks()), states[2].1);
    }

    #[test]
    fn duplicates_are_ignored() {
        let (snap, ups, states) = script();
        let mut book = LocalBook::new(10);
        book.apply(snap);
        book.apply(ups[0].clone());
        book.apply(ups[1].clone());
        assert_eq!(book.apply(ups[0].clone()), BookStatus::Duplicate);
        assert_eq!(book.apply(ups[1].clone()), BookStatus::Duplicate);
        // A duplicate of a buffered update is not buffered twice.
        let u13 = ups[2].clone();
        let mut u14 = update(14, &[(97, 1, 1)], &[], (&[], &[]));
        let s14 = (
            vec![(99, 8, 3), (98, 1, 1), (97, 1, 1)],
            states[2].1.clone(),
        );
        u14.checksum = sum(&s14.0, &s14.1);
        assert_eq!(book.apply(u14.clone()), BookStatus::Buffered { pending: 1 });
        assert_eq!(book.apply(u14), BookStatus::Duplicate);
        assert_eq!(
            book.apply(u13),
            BookStatus::Advanced {
                seq: 14,
                applied: 2
            }
        );
        assert_eq!(levels(book.bids()), s14.0);
        assert_eq!(book.duplicates(), 3);
        assert!(book.is_synced());
    }

    #[test]
    fn a_dropped_update_is_a_gap_once_the_buffer_is_full() {
        let mut book = LocalBook::with_reorder_window(10, 3);
        book.apply(snapshot(10, &[(100, 1, 1)], &[]));
        // seq 11 never comes; 12.. wait for it.
        let mut bids = vec![(100, 1, 1)];
        let mut msgs = Vec::new();
        for seq in 11..=15u64 {
            let px = 90 - seq as i64;
            bids.push((px, 1, 1));
            msgs.push(update(seq, &[(px, 1, 1)], &[], (&bids, &[])));
        }
        let mut msgs = msgs.into_iter().skip(1);
        for pending in 1..=3 {
            assert_eq!(
                book.apply(msgs.next().unwrap()),
                BookStatus::Buffered { pending }
            );
        }
        let reason = ResyncReason::Gap {
            applied_seq: 10,
            missing_through: 11,
            detected_by: GapSource::ReorderBuffer,
        };
        assert_eq!(
            book.apply(msgs.next().unwrap()),
            BookStatus::ResyncNeeded(reason.clone())
        );
        assert!(!book.is_synced());
        assert!(book.bids().is_empty());
        assert_eq!(book.resync_reason(), Some(&reason));
        // Until a snapshot, nothing more is reported.
        assert_eq!(book.on_heartbeat(20), BookStatus::AwaitingSnapshot);
        assert_eq!(
            book.apply(snapshot(16, &[(1, 1, 1)], &[])),
            BookStatus::Advanced {
                seq: 16,
                applied: 1
            }
        );
        assert_eq!(book.resync_reason(), None);
    }

    #[test]
    fn a_wrong_checksum_needs_a_resync() {
        let (snap, mut ups, _) = script();
        let mut book = LocalBook::new(10);
        book.apply(snap);
        ups[0].checksum ^= 1;
        let expected = ups[0].checksum;
        let status = book.apply(ups[0].clone());
        let BookStatus::ResyncNeeded(ResyncReason::ChecksumMismatch {
            seq: 11,
            expected: e,
            computed,
        }) = status
        else {
            panic!("{status:?}")
        };
        assert_eq!(e, expected);
        assert_eq!(computed, expected ^ 1);
        assert!(!book.is_synced());
        assert!(book.asks().is_empty());
        // The rest of the stream waits for a snapshot instead of applying
        // onto a cleared book.
        assert_eq!(book.apply(ups[1].clone()), BookStatus::AwaitingSnapshot);
    }

    #[test]
    fn a_wrong_checksum_on_a_buffered_update_is_found_when_it_applies() {
        let (snap, mut ups, _) = script();
        let mut book = LocalBook::new(10);
        book.apply(snap);
        ups[1].checksum = ups[1].checksum.wrapping_add(7);
        assert_eq!(
            book.apply(ups[1].clone()),
            BookStatus::Buffered { pending: 1 }
        );
        assert!(matches!(
            book.apply(ups[0].clone()),
            BookStatus::ResyncNeeded(ResyncReason::ChecksumMismatch { seq: 12, .. })
        ));
    }

    #[test]
    fn a_wrong_snapshot_checksum_needs_a_resync() {
        let mut snap = snapshot(5, &[(100, 1, 1)], &[(101, 1, 1)]);
        snap.checksum = 0;
        let mut book = LocalBook::new(10);
        assert!(matches!(
            book.apply(snap),
            BookStatus::ResyncNeeded(ResyncReason::ChecksumMismatch { seq: 5, .. })
        ));
        assert!(!book.is_synced());
    }

    #[test]
    fn a_snapshot_resets_the_book_and_the_buffer() {
        let (snap, ups, _) = script();
        let mut book = LocalBook::new(10);
        book.apply(snap);
        book.apply(ups[0].clone());
        // 13 waits for 12, which a conflating server never sends: a
        // snapshot at 13 covers both, another update follows it.
        assert_eq!(
            book.apply(ups[2].clone()),
            BookStatus::Buffered { pending: 1 }
        );
        let s13 = snapshot(13, &[(50, 1, 1)], &[(60, 2, 1)]);
        let u14 = update(
            14,
            &[(51, 1, 1)],
            &[],
            (&[(51, 1, 1), (50, 1, 1)], &[(60, 2, 1)]),
        );
        assert_eq!(book.apply(u14), BookStatus::Buffered { pending: 2 });
        assert_eq!(
            book.apply(s13),
            BookStatus::Advanced {
                seq: 14,
                applied: 2
            }
        );
        assert_eq!(book.pending(), 0, "the update at 13 was dropped");
        assert_eq!(levels(book.bids()), vec![(51, 1, 1), (50, 1, 1)]);
        assert_eq!(levels(book.asks()), vec![(60, 2, 1)]);
        // A snapshot at the applied seq replaces the state too.
        let again = snapshot(14, &[(51, 1, 1)], &[]);
        assert_eq!(
            book.apply(again),
            BookStatus::Advanced {
                seq: 14,
                applied: 1
            }
        );
        assert_eq!(levels(book.bids()), vec![(51, 1, 1)]);
        assert!(book.asks().is_empty());
    }

    #[test]
    fn the_book_keeps_only_depth_levels() {
        let mut book = LocalBook::new(2);
        // A snapshot with too many levels, out of order: the best two stay,
        // and the checksum is over them.
        let mut snap = snapshot(
            1,
            &[(98, 1, 1), (100, 1, 1), (99, 1, 1)],
            &[(103, 1, 1), (101, 2, 1), (102, 3, 1)],
        );
        snap.checksum = sum(&[(100, 1, 1), (99, 1, 1)], &[(101, 2, 1), (102, 3, 1)]);
        assert_eq!(
            book.apply(snap),
            BookStatus::Advanced { seq: 1, applied: 1 }
        );
        assert_eq!(levels(book.bids()), vec![(100, 1, 1), (99, 1, 1)]);
        assert_eq!(levels(book.asks()), vec![(101, 2, 1), (102, 3, 1)]);
        // A better level pushes the worst out even without its removal; a
        // level worse than the top 2 is not kept.
        let after_bids = [(101, 4, 2), (100, 1, 1)];
        let after_asks = [(101, 2, 1), (102, 3, 1)];
        let u = update(
            2,
            &[(101, 4, 2), (97, 9, 9)],
            &[(104, 1, 1)],
            (&after_bids, &after_asks),
        );
        assert_eq!(book.apply(u), BookStatus::Advanced { seq: 2, applied: 1 });
        assert_eq!(levels(book.bids()), after_bids);
        assert_eq!(levels(book.asks()), after_asks);
        // Removing the best ask lets a level the server now sends in.
        let after_asks = [(102, 3, 1), (103, 1, 1)];
        let u = update(
            3,
            &[],
            &[(101, 0, 0), (103, 1, 1)],
            (&after_bids, &after_asks),
        );
        assert_eq!(book.apply(u), BookStatus::Advanced { seq: 3, applied: 1 });
        assert_eq!(levels(book.asks()), after_asks);
        // The same with the new level listed before the removal that makes
        // room for it: the order of levels in a message carries no meaning.
        let after_bids = [(100, 1, 1), (99, 2, 1)];
        let u = update(
            4,
            &[(99, 2, 1), (101, 0, 0)],
            &[],
            (&after_bids, &after_asks),
        );
        assert_eq!(book.apply(u), BookStatus::Advanced { seq: 4, applied: 1 });
        assert_eq!(levels(book.bids()), after_bids);
    }

    #[test]
    fn a_heartbeat_beyond_the_applied_seq_is_a_gap() {
        let (snap, ups, _) = script();
        let mut book = LocalBook::new(10);
        assert_eq!(book.on_heartbeat(10), BookStatus::AwaitingSnapshot);
        book.apply(snap);
        book.apply(ups[0].clone());
        assert_eq!(book.on_heartbeat(11), BookStatus::Unchanged);
        assert_eq!(book.on_heartbeat(9), BookStatus::Unchanged);
        // 12 is lost just before a quiet spell; 13 is held, waiting for it.
        book.apply(ups[2].clone());
        assert_eq!(book.pending(), 1);
        assert_eq!(
            book.on_heartbeat(13),
            BookStatus::ResyncNeeded(ResyncReason::Gap {
                applied_seq: 11,
                missing_through: 12,
                detected_by: GapSource::Heartbeat,
            })
        );
        assert!(!book.is_synced());
        assert_eq!(book.pending(), 0);
    }

    #[test]
    fn a_heartbeat_finds_a_lost_last_update() {
        let (snap, ups, _) = script();
        let mut book = LocalBook::new(10);
        book.apply(snap);
        book.apply(ups[0].clone());
        assert_eq!(
            book.on_heartbeat(12),
            BookStatus::ResyncNeeded(ResyncReason::Gap {
                applied_seq: 11,
                missing_through: 12,
                detected_by: GapSource::Heartbeat,
            })
        );
    }

    #[test]
    fn malformed_updates_are_refused_without_panicking() {
        let (snap, ups, _) = script();
        let mut book = LocalBook::new(10);
        let mut no_prev = ups[0].clone();
        no_prev.prev_seq = None;
        // Before a snapshot: dropped.
        assert_eq!(book.apply(no_prev.clone()), BookStatus::AwaitingSnapshot);
        book.apply(snap);
        assert!(matches!(
            book.apply(no_prev),
            BookStatus::ResyncNeeded(ResyncReason::Invalid { seq: 11, .. })
        ));
        book.apply(snapshot(10, &[], &[]));
        let mut backwards = ups[0].clone();
        backwards.prev_seq = Some(11);
        assert!(matches!(
            book.apply(backwards),
            BookStatus::ResyncNeeded(ResyncReason::Invalid { .. })
        ));
        book.apply(snapshot(10, &[], &[]));
        book.apply(update(11, &[], &[(5, 1, 1)], (&[], &[(5, 1, 1)])));
        // Starts before the applied seq and ends after it.
        let mut overlap = update(12, &[], &[], (&[], &[(5, 1, 1)]));
        overlap.prev_seq = Some(10);
        assert!(matches!(
            book.apply(overlap),
            BookStatus::ResyncNeeded(ResyncReason::Invalid { seq: 12, .. })
        ));
        // Extreme numbers do not overflow anything.
        book.apply(snapshot(u64::MAX - 1, &[], &[]));
        assert_eq!(
            book.apply(update(
                u64::MAX,
                &[(i64::MIN, u64::MAX, u32::MAX)],
                &[],
                (&[(i64::MIN, u64::MAX, u32::MAX)], &[])
            )),
            BookStatus::Advanced {
                seq: u64::MAX,
                applied: 1
            }
        );
    }

    #[test]
    fn depth_zero_keeps_nothing() {
        let mut book = LocalBook::new(0);
        let mut snap = snapshot(1, &[(1, 1, 1)], &[(2, 1, 1)]);
        snap.checksum = 0;
        assert_eq!(
            book.apply(snap),
            BookStatus::Advanced { seq: 1, applied: 1 }
        );
        assert!(book.bids().is_empty() && book.asks().is_empty());
    }

    // ---- Property: random level changes, reordered and duplicated --------

    /// The server's side: a full book, and the messages a depth-`n`
    /// subscription gets for each change of its top `n`.
    #[derive(Default)]
    struct Reference {
        bids: BTreeMap<i64, (u64, u32)>,
        asks: BTreeMap<i64, (u64, u32)>,
    }

    impl Reference {
        fn top(&self, n: usize) -> Sides {
            (
                self.bids
                    .iter()
                    .rev()
                    .take(n)
                    .map(|(&p, &(q, o))| (p, q, o))
                    .collect(),
                self.asks
                    .iter()
                    .take(n)
                    .map(|(&p, &(q, o))| (p, q, o))
                    .collect(),
            )
        }
    }

    /// The levels to send to go from `old` to `new`: changed or new levels
    /// with their values, levels gone from the top with quantity 0.
    fn diff(old: &[LevelMsg], new: &[LevelMsg]) -> Vec<LevelMsg> {
        let mut out = Vec::new();
        for &(p, _, _) in old {
            if !new.iter().any(|l| l.0 == p) {
                out.push((p, 0, 0));
            }
        }
        for &l in new {
            if !old.contains(&l) {
                out.push(l);
            }
        }
        // The order of levels within a message carries no meaning.
        out.reverse();
        out
    }

    #[derive(Clone, Debug)]
    struct Change {
        bid: bool,
        price: i64,
        qty: u64,
        orders: u32,
    }

    fn change() -> impl Strategy<Value = Change> {
        (any::<bool>(), 0i64..12, 0u64..4, 1u32..4).prop_map(|(bid, off, qty, orders)| Change {
            bid,
            // Bids 90..=101, asks 100..=111: sometimes crossed, which a
            // level-2 copy must not care about.
            price: if bid { 101 - off } else { 100 + off },
            qty,
            orders,
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
        #[test]
        fn reordered_and_duplicated_streams_give_the_reference_top_levels(
            depth in 1usize..6,
            first_seq in 0u64..1000,
            steps in prop::collection::vec(
                (prop::collection::vec(change(), 1..4), 0u8..100, 0usize..3),
                1..120,
            ),
            delays in prop::collection::vec(0usize..8, 300),
            dups in prop::collection::vec((0usize..400, 0usize..400), 0..20),
        ) {
            const WINDOW: usize = 8;
            let mut reference = Reference::default();
            // Messages in the server's order, and the top levels after each
            // seq.
            let mut msgs = vec![snapshot(first_seq, &[], &[])];
            let mut states = BTreeMap::new();
            states.insert(first_seq, reference.top(depth));
            let mut seq = first_seq;
            for (changes, conflate, dropped) in &steps {
                let before = reference.top(depth);
                for c in changes {
                    let side = if c.bid { &mut reference.bids } else { &mut reference.asks };
                    if c.qty == 0 {
                        side.remove(&c.price);
                    } else {
                        side.insert(c.price, (c.qty, c.orders));
                    }
                }
                let after = reference.top(depth);
                if after == before {
                    continue; // nothing within the top `depth` changed: no message
                }
                seq += 1;
                states.insert(seq, after.clone());
                if *conflate < 10 {
                    // A conflating server: up to `dropped` of the updates
                    // just before are never sent, a snapshot covers them.
                    for _ in 0..*dropped {
                        if msgs.last().is_some_and(|m| !m.snapshot) {
                            msgs.pop();
                        }
                    }
                    msgs.push(snapshot(seq, &after.0, &after.1));
                } else {
                    let mut m = update(seq, &diff(&before.0, &after.0), &diff(&before.1, &after.1),
                        (&after.0, &after.1));
                    m.prev_seq = Some(seq - 1);
                    msgs.push(m);
                }
            }
            // Delivery: each message delayed by fewer than WINDOW places,
            // plus duplicates of earlier messages anywhere later.
            let mut keyed: Vec<(usize, usize, BookMsg)> = msgs.iter().cloned().enumerate()
                .map(|(i, m)| (i + delays[i % delays.len()], i, m)).collect();
            for &(from, at) in &dups {
                let from = from % msgs.len();
                keyed.push((from + at % (msgs.len() + WINDOW), usize::MAX, msgs[from].clone()));
            }
            keyed.sort_by_key(|&(key, i, _)| (key, i));

            let mut book = LocalBook::with_reorder_window(depth, WINDOW);
            for (_, _, m) in keyed {
                let status = book.apply(m);
                match status {
                    BookStatus::Advanced { seq, .. } => {
                        let (bids, asks) = &states[&seq];
                        prop_assert_eq!(&levels(book.bids()), bids);
                        prop_assert_eq!(&levels(book.asks()), asks);
                    }
                    BookStatus::ResyncNeeded(reason) => {
                        prop_assert!(false, "resync: {}", reason);
                    }
                    _ => {}
                }
            }
            prop_assert_eq!(book.seq(), Some(seq));
            prop_assert_eq!(book.pending(), 0);
            let (bids, asks) = reference.top(depth);
            prop_assert_eq!(levels(book.bids()), bids);
            prop_assert_eq!(levels(book.asks()), asks);
            prop_assert_eq!(book.on_heartbeat(seq), BookStatus::Unchanged);
        }
    }

    proptest! {
        #[test]
        fn any_lost_update_is_found_by_the_next_heartbeat(
            n in 2u64..40,
            lost in 0u64..40,
            delays in prop::collection::vec(0usize..4, 40),
        ) {
            let lost = 1 + lost % (n - 1); // never the last: checked apart
            let mut book = LocalBook::with_reorder_window(4, 64);
            let mut bids = Vec::new();
            let mut msgs = Vec::new();
            for seq in 1..=n {
                let lvl = (seq as i64, 1, 1);
                bids.insert(0, lvl);
                bids.truncate(4);
                msgs.push(update(seq, &[lvl], &[], (&bids, &[])));
            }
            book.apply(snapshot(0, &[], &[]));
            let mut keyed: Vec<_> = msgs.into_iter().enumerate()
                .filter(|(i, _)| *i as u64 + 1 != lost)
                .map(|(i, m)| (i + delays[i], i, m)).collect();
            keyed.sort_by_key(|&(k, i, _)| (k, i));
            for (_, _, m) in keyed {
                let status = book.apply(m);
                prop_assert!(!matches!(status, BookStatus::ResyncNeeded(_)), "{:?}", status);
            }
            prop_assert_eq!(book.seq(), Some(lost - 1));
            prop_assert_eq!(
                book.on_heartbeat(n),
                BookStatus::ResyncNeeded(ResyncReason::Gap {
                    applied_seq: lost - 1,
                    missing_through: lost,
                    detected_by: GapSource::Heartbeat,
                })
            );
        }
    }
}
