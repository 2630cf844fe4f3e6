//! Where orders live, and how they are found by OrderID and by ClOrdID.
//!
//! Laid out for the cache: live orders (the few thousand that trade) sit in a
//! small slab whose slots are reused, so the working set of matching stays in
//! L2 however many orders a day brings. An order that finishes is moved, at
//! the end of the input, to an append-only queue of finished orders, kept for
//! status requests and ClOrdID uniqueness until its trading day ends; that
//! queue is in finishing order, which is also the order in which it is
//! forgotten, so forgetting pops from the front.
//!
//! A [`Loc`] names either a live slot or a position in the finished queue.
//! OrderIDs are assigned densely, so OrderID → `Loc` is a deque indexed by
//! `id - base` (no hashing); ids older than the deque's base that are still
//! live (long-lived GTC orders) move to a small map when the base advances.
//!
//! The ClOrdID index is an open-addressing table of 8-byte slots (a 32-bit
//! tag of the hash and an entry number) over a slab of entries (participant,
//! ClOrdID, `Loc`, link to the order's previous ClOrdID). A lookup that misses
//! reads only the table; a hit reads one entry, which already holds the
//! order's location. The hash folds the ClOrdID's words with the
//! participant: deterministic, and never iterated.

use std::collections::VecDeque;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::book::NIL;
use crate::chunked::{ChunkPool, Chunked};
use crate::engine::{Order, Place};
use crate::event::{OrdStatus, Reason};
use crate::types::{
    ClOrdId, InstrumentId, OrdType, OrderId, ParticipantId, PriceTicks, QtyLots, Side, TimeInForce,
    TimeNs,
};

/// Location of an order: a live slot (`< DONE`) or `DONE | finished index`.
pub(crate) type Loc = u32;

/// Flag of a location in the finished queue.
pub(crate) const DONE: Loc = 1 << 31;

/// What is kept of a finished order: what a status report and a snapshot
/// need, in under half an `Order` (finished orders are most of a day's
/// orders, and each is written once to fresh memory, so their size is their
/// cost: at a million orders a day, every 32 bytes here is 8,000 page faults
/// of ~2.5 µs each on the project's VM). The current ClOrdID is the head of
/// its chain in the ClOrdID index; the instrument's id is the instrument
/// table's; optional values are a flag and a word; the notional is two words,
/// so that the record is 8-aligned.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DoneOrder {
    pub(crate) id: OrderId,
    pub(crate) participant: ParticipantId,
    pub(crate) inst: u32,
    pub(crate) cl_entry: u32,
    pub(crate) side: Side,
    pub(crate) ord_type: OrdType,
    pub(crate) tif: TimeInForce,
    pub(crate) status: OrdStatus,
    pub(crate) reason: Reason,
    /// Which of the optional values are present (`HAS_*` bits).
    present: u8,
    price_ticks: PriceTicks,
    stop_price_ticks: PriceTicks,
    expire_time_ns: TimeNs,
    qty_lots: QtyLots,
    cum_qty_lots: QtyLots,
    notional_lo: u64,
    notional_hi: i64,
    pub(crate) done_time_ns: TimeNs,
}

const _: () = assert!(std::mem::size_of::<DoneOrder>() == 96);

const HAS_PRICE: u8 = 1;
const HAS_STOP_PRICE: u8 = 2;
const HAS_EXPIRE_TIME: u8 = 4;

impl DoneOrder {
    pub(crate) fn from_order(o: &Order) -> DoneOrder {
        debug_assert!(o.place == Place::Done);
        let flag = |present: bool, bit: u8| if present { bit } else { 0 };
        let notional = o.cum_notional_tick_lots;
        DoneOrder {
            id: o.id,
            participant: o.participant,
            inst: o.inst,
            cl_entry: o.cl_entry,
            side: o.side,
            ord_type: o.ord_type,
            tif: o.tif,
            status: o.status,
            reason: o.reason,
            present: flag(o.price_ticks.is_some(), HAS_PRICE)
                | flag(o.stop_price_ticks.is_some(), HAS_STOP_PRICE)
                | flag(o.expire_time_ns.is_some(), HAS_EXPIRE_TIME),
            price_ticks: o.price_ticks.unwrap_or(0),
            stop_price_ticks: o.stop_price_ticks.unwrap_or(0),
            expire_time_ns: o.expire_time_ns.unwrap_or(0),
            qty_lots: o.qty_lots,
            cum_qty_lots: o.cum_qty_lots,
            notional_lo: notional as u64,
            notional_hi: (notional >> 64) as i64,
            done_time_ns: o.done_time_ns,
        }
    }

    /// The finished order as a full record, given its current ClOrdID and its
    /// instrument's id (attributes a finished order no longer has, such as
    /// its display quantity, are zero).
    pub(crate) fn into_order(self, cl_ord_id: ClOrdId, instrument: InstrumentId) -> Order {
        let has = |bit: u8| self.present & bit != 0;
        let notional = (i128::from(self.notional_hi) << 64) | i128::from(self.notional_lo);
        Order {
            id: self.id,
            participant: self.participant,
            instrument,
            inst: self.inst,
            side: self.side,
            ord_type: self.ord_type,
            tif: self.tif,
            place: Place::Done,
            status: self.status,
            post_only: false,
            triggered: false,
            price_ticks: has(HAS_PRICE).then_some(self.price_ticks),
            stop_price_ticks: has(HAS_STOP_PRICE).then_some(self.stop_price_ticks),
            qty_lots: self.qty_lots,
            cum_qty_lots: self.cum_qty_lots,
            leaves_qty_lots: 0,
            visible_qty_lots: 0,
            display_qty_lots: 0,
            min_qty_lots: 0,
            expire_time_ns: has(HAS_EXPIRE_TIME).then_some(self.expire_time_ns),
            cum_notional_tick_lots: notional,
            cl_ord_id,
            cl_entry: self.cl_entry,
            reason: self.reason,
            done_time_ns: self.done_time_ns,
            prev: NIL,
            next: NIL,
        }
    }
}

/// Orders live and finished, and the OrderID locator.
#[derive(Debug, Default)]
pub(crate) struct OrderStore {
    live: Vec<Order>,
    free: Vec<u32>,
    /// Finished orders in finishing order.
    done: Chunked<DoneOrder>,
    /// Finished-queue index of `done[0]` (counts every order ever retired).
    done_base: u64,
    /// `loc_recent[i]` locates OrderId `loc_base + i` (`NIL` once forgotten).
    loc_recent: VecDeque<Loc>,
    loc_base: u64,
    /// Live orders with ids below `loc_base`.
    loc_old: FxHashMap<u64, Loc>,
}

impl Clone for OrderStore {
    fn clone(&self) -> Self {
        let mut copy = OrderStore::default();
        copy.clone_from(self);
        copy
    }

    /// Field by field, reusing this store's memory.
    fn clone_from(&mut self, source: &Self) {
        let OrderStore {
            live,
            free,
            done,
            done_base,
            loc_recent,
            loc_base,
            loc_old,
        } = source;
        self.live.clone_from(live);
        self.free.clone_from(free);
        self.done.clone_from(done);
        self.done_base = *done_base;
        self.loc_recent.clone_from(loc_recent);
        self.loc_base = *loc_base;
        self.loc_old.clone_from(loc_old);
    }
}

impl OrderStore {
    /// A store with room for `live` live orders and `per_day` orders a day
    /// (reserved, not touched: pages are committed as they are used).
    pub(crate) fn with_capacity(live: usize, per_day: usize) -> OrderStore {
        let live = Vec::with_capacity(live);
        crate::hugepage::advise(&live);
        OrderStore {
            live,
            loc_recent: VecDeque::with_capacity(per_day),
            loc_base: 1,
            done: Chunked::for_expected(per_day),
            ..OrderStore::default()
        }
    }

    /// The finished queue's chunk pool (see [`crate::chunked`]).
    pub(crate) fn done_pool(&mut self) -> Arc<ChunkPool<DoneOrder>> {
        self.done.pool()
    }

    /// Adds a new live order, the one `make` builds given its slot; its id
    /// must be the next one in sequence. The order is written straight into
    /// its slot (built first and then moved, its 208 bytes went through a
    /// `memcpy` call).
    #[inline(always)]
    pub(crate) fn insert_with(&mut self, id: OrderId, make: impl FnOnce() -> Order) -> u32 {
        assert_eq!(
            id.0,
            self.loc_base + self.loc_recent.len() as u64,
            "order ids are assigned densely"
        );
        let slot = if let Some(slot) = self.free.pop() {
            let o = &mut self.live[slot as usize];
            debug_assert!(o.place == Place::Free);
            *o = make();
            slot
        } else {
            assert!(self.live.len() < DONE as usize, "live order slab is full");
            self.live.push(make());
            (self.live.len() - 1) as u32
        };
        debug_assert!(self.live[slot as usize].id == id);
        self.loc_recent.push_back(slot);
        slot
    }

    /// Adds a new live order; its id must be the next one in sequence.
    #[cfg(test)]
    pub(crate) fn insert(&mut self, order: Order) -> u32 {
        self.insert_with(order.id, || order)
    }

    #[inline]
    pub(crate) fn live(&self, slot: u32) -> &Order {
        debug_assert!(slot < DONE);
        &self.live[slot as usize]
    }

    #[inline]
    pub(crate) fn live_mut(&mut self, slot: u32) -> &mut Order {
        debug_assert!(slot < DONE);
        &mut self.live[slot as usize]
    }

    /// The live slab, for the intrusive level lists.
    #[inline]
    pub(crate) fn slab_mut(&mut self) -> &mut [Order] {
        &mut self.live
    }

    /// The finished order at `loc` (which must be a finished location).
    #[inline]
    pub(crate) fn done(&self, loc: Loc) -> &DoneOrder {
        debug_assert!(loc & DONE != 0);
        let pos = (loc & !DONE).wrapping_sub(self.done_base as u32) & !DONE;
        self.done
            .get(pos as usize)
            .expect("a finished location is kept")
    }

    /// (OrderId, owner, status) of the order at `loc`, live or finished.
    #[inline]
    pub(crate) fn summary(&self, loc: Loc) -> (OrderId, ParticipantId, OrdStatus) {
        if loc & DONE == 0 {
            let o = &self.live[loc as usize];
            (o.id, o.participant, o.status)
        } else {
            let o = self.done(loc);
            (o.id, o.participant, o.status)
        }
    }

    /// Where OrderId `id` is, if it is known today.
    pub(crate) fn find(&self, id: OrderId) -> Option<Loc> {
        let loc = if id.0 >= self.loc_base {
            *self.loc_recent.get((id.0 - self.loc_base) as usize)?
        } else {
            *self.loc_old.get(&id.0)?
        };
        (loc != NIL).then_some(loc)
    }

    #[inline]
    fn set_loc(&mut self, id: OrderId, loc: Loc) {
        if id.0 >= self.loc_base {
            self.loc_recent[(id.0 - self.loc_base) as usize] = loc;
        } else if loc == NIL {
            self.loc_old.remove(&id.0);
        } else {
            self.loc_old.insert(id.0, loc);
        }
    }

    /// Moves the finished order in `slot` to the finished queue; returns its
    /// new location. The slot is free afterwards.
    pub(crate) fn retire(&mut self, slot: u32) -> Loc {
        let order = DoneOrder::from_order(&self.live[slot as usize]);
        let loc = DONE | ((self.done_base + self.done.len() as u64) as u32 & !DONE);
        self.done.push(order);
        assert!(self.done.len() < DONE as usize, "finished queue is full");
        self.set_loc(order.id, loc);
        self.live[slot as usize].place = Place::Free;
        self.free.push(slot);
        loc
    }

    /// Forgets the oldest finished order and returns it.
    pub(crate) fn forget_oldest(&mut self) -> Option<DoneOrder> {
        let order = self.done.pop_front()?;
        self.done_base += 1;
        self.set_loc(order.id, NIL);
        Some(order)
    }

    /// Advances the locator's base past forgotten ids, moving live ones to
    /// the map of old ids; stops at the first finished order still kept.
    pub(crate) fn compact_locator(&mut self) {
        while let Some(&loc) = self.loc_recent.front() {
            if loc != NIL && loc & DONE != 0 {
                break;
            }
            if loc != NIL {
                self.loc_old.insert(self.loc_base, loc);
            }
            self.loc_recent.pop_front();
            self.loc_base += 1;
        }
    }

    /// Live orders with their slots, in slot order.
    pub(crate) fn live_orders(&self) -> impl Iterator<Item = (u32, &Order)> {
        self.live
            .iter()
            .enumerate()
            .map(|(s, o)| (s as u32, o))
            .filter(|(_, o)| o.is_live())
    }

    /// How many finished orders are kept.
    pub(crate) fn done_len(&self) -> usize {
        self.done.len()
    }

    /// The `i`th oldest finished order kept (0 is the oldest).
    pub(crate) fn done_at(&self, i: usize) -> Option<&DoneOrder> {
        self.done.get(i)
    }

    /// Starts loading the queue neighbours of the live order in `slot`
    /// (which should be in the cache already): what unlinking it writes.
    #[inline]
    pub(crate) fn prefetch_live_neighbours(&self, slot: u32) {
        if let Some(o) = self.live.get(slot as usize) {
            for n in [o.prev, o.next] {
                self.prefetch_live(n);
            }
        }
    }

    /// Starts loading the live order in `slot`, all of it (see
    /// `prefetch.rs`); nothing if there is none (`NIL`).
    #[inline]
    pub(crate) fn prefetch_live(&self, slot: u32) {
        if let Some(o) = self.live.get(slot as usize) {
            crate::prefetch::prefetch_all(o);
        }
    }

    /// Rebuilds the store from a snapshot's orders: live ones in any order,
    /// finished ones in finishing order. Returns each order's location, by id.
    pub(crate) fn rebuild(
        live: Vec<Order>,
        done: Chunked<DoneOrder>,
        next_order_id: u64,
        capacity: usize,
    ) -> (OrderStore, Vec<(OrderId, Loc)>) {
        let mut s = OrderStore::with_capacity(live.len(), capacity);
        let mut locs = Vec::with_capacity(live.len() + done.len());
        for o in live {
            s.live.push(o);
            locs.push((o.id, (s.live.len() - 1) as u32));
        }
        s.done = done;
        let mut oldest = next_order_id;
        for (i, o) in s.done.iter().enumerate() {
            locs.push((o.id, DONE | i as u32));
            oldest = oldest.min(o.id.0);
        }
        s.loc_base = oldest;
        s.loc_recent = std::iter::repeat_n(NIL, (next_order_id - s.loc_base) as usize).collect();
        for &(id, loc) in &locs {
            s.set_loc(id, loc);
        }
        (s, locs)
    }

    /// Number of live orders.
    pub(crate) fn live_count(&self) -> usize {
        self.live.len() - self.free.len()
    }
}

/// One ClOrdID an order has had.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClEntry {
    pub(crate) participant: ParticipantId,
    pub(crate) cl_ord_id: ClOrdId,
    pub(crate) loc: Loc,
    /// The order's previous ClOrdID's entry, or `NIL`.
    pub(crate) prev: u32,
}

/// The table address of a 32-bit hash (Fibonacci hashing spreads it over 64
/// bits; the table takes the top bits).
#[inline]
fn spread(hash32: u32) -> u64 {
    u64::from(hash32).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// An open-addressing table with linear probing whose slots are `u64`s: the
/// key's 32-bit hash in the high half, the entry number plus one in the low
/// half, 0 for an empty slot. A probe reads consecutive slots, eight to a
/// cache line, so a lookup usually touches one line of the table (hashbrown's
/// separate control bytes and slots make that two) and, on a hash match,
/// one entry. Growing rehashes from the slots alone, without reading entries.
/// Removal shifts the rest of the probe run back (no tombstones).
#[derive(Debug, Default)]
struct ClTable {
    slots: Vec<u64>,
    /// `64 - log2(slots.len())`: the home slot of a hash is `spread(h) >> shift`.
    shift: u32,
    len: usize,
    /// Counts changes, so that a [`Vacant`] from before a change is re-probed.
    generation: u64,
}

/// Where a probe for an absent key ended: the key can be inserted there as
/// long as the table has not changed since.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Vacant {
    hash32: u32,
    pos: usize,
    /// The table's generation when probed.
    generation: u64,
}

impl ClTable {
    const MIN_SLOTS: usize = 16;

    fn with_capacity(n: usize) -> ClTable {
        let mut t = ClTable::default();
        t.resize(Self::slots_for(n));
        t
    }

    /// Slots for `n` keys at a load of at most 3/4.
    fn slots_for(n: usize) -> usize {
        (n.saturating_mul(4) / 3 + 1)
            .next_power_of_two()
            .max(Self::MIN_SLOTS)
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    #[inline]
    fn home(&self, hash32: u32) -> usize {
        (spread(hash32) >> self.shift) as usize
    }

    /// The entry whose key hashes to `hash32` and satisfies `eq`, or where
    /// such a key would go.
    #[inline(always)]
    fn probe(&self, hash32: u32, mut eq: impl FnMut(u32) -> bool) -> Result<u32, Vacant> {
        let mask = self.mask();
        let mut pos = self.home(hash32);
        loop {
            let s = self.slots[pos];
            if s == 0 {
                return Err(Vacant {
                    hash32,
                    pos,
                    generation: self.generation,
                });
            }
            if (s >> 32) as u32 == hash32 {
                let entry = (s as u32).wrapping_sub(1);
                if eq(entry) {
                    return Ok(entry);
                }
            }
            pos = (pos + 1) & mask;
        }
    }

    /// Fills the vacant slot `v` with `entry`, re-probing if the table changed
    /// since `v` was found or must grow first.
    #[inline]
    fn insert(&mut self, v: Vacant, entry: u32) {
        assert!(entry < u32::MAX, "ClOrdID entry numbers fit a slot");
        let pos = if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.resize(self.slots.len() * 2);
            self.vacant_pos(v.hash32)
        } else if v.generation != self.generation {
            self.vacant_pos(v.hash32)
        } else {
            v.pos
        };
        debug_assert!(self.slots[pos] == 0);
        self.slots[pos] = (u64::from(v.hash32) << 32) | u64::from(entry + 1);
        self.len += 1;
        self.generation += 1;
    }

    /// The first empty slot of `hash32`'s probe run.
    fn vacant_pos(&self, hash32: u32) -> usize {
        let mask = self.mask();
        let mut pos = self.home(hash32);
        while self.slots[pos] != 0 {
            pos = (pos + 1) & mask;
        }
        pos
    }

    #[cold]
    #[allow(
        clippy::slow_vector_initialization,
        reason = "the write is the point: it faults the pages in now"
    )]
    fn resize(&mut self, n_slots: usize) {
        debug_assert!(n_slots.is_power_of_two());
        debug_assert!(n_slots >= Self::MIN_SLOTS);
        debug_assert!(self.len * 4 <= n_slots * 3);
        // Written in full here (`vec![0; n]` would map zero pages, each
        // faulted in by the first probe that lands on it: thousands of
        // ~2.5 µs faults at random inputs instead of one sequential pass).
        let mut slots = Vec::with_capacity(n_slots);
        crate::hugepage::advise(&slots);
        slots.resize(n_slots, 0);
        let old = std::mem::replace(&mut self.slots, slots);
        self.shift = 64 - n_slots.trailing_zeros();
        for s in old.into_iter().filter(|&s| s != 0) {
            let pos = self.vacant_pos((s >> 32) as u32);
            self.slots[pos] = s;
        }
    }

    /// Keeps only the slots whose entry `keep` accepts, in one pass over
    /// the table (the kept ones put back where a probe finds them): for
    /// removing a large share of the entries at once, where a probe and a
    /// shift per entry would touch the table at random.
    fn retain(&mut self, mut keep: impl FnMut(u32) -> bool) {
        let kept: Vec<u64> = self
            .slots
            .iter()
            .copied()
            .filter(|&s| s != 0 && keep((s as u32).wrapping_sub(1)))
            .collect();
        self.slots.fill(0);
        for &s in &kept {
            let pos = self.vacant_pos((s >> 32) as u32);
            self.slots[pos] = s;
        }
        self.len = kept.len();
        self.generation += 1;
    }

    /// Panics unless every occupied slot is reachable from its home with
    /// no empty slot between (what every probe relies on) and `len` counts
    /// the occupied slots.
    #[cfg(test)]
    fn assert_probe_runs(&self) {
        let mask = self.mask();
        let mut occupied = 0;
        for (pos, &s) in self.slots.iter().enumerate() {
            if s == 0 {
                continue;
            }
            occupied += 1;
            let mut at = self.home((s >> 32) as u32);
            while at != pos {
                assert_ne!(self.slots[at], 0, "slot {pos} cut off from its home");
                at = (at + 1) & mask;
            }
        }
        assert_eq!(occupied, self.len);
    }

    fn reserve(&mut self, additional: usize) {
        let want = Self::slots_for(self.len + additional);
        if want > self.slots.len() {
            self.resize(want);
        }
    }

    /// Removes `entry`, whose key hashes to `hash32`; returns whether it was there.
    fn remove(&mut self, hash32: u32, entry: u32) -> bool {
        let mask = self.mask();
        let want = (u64::from(hash32) << 32) | u64::from(entry + 1);
        let mut hole = self.home(hash32);
        loop {
            let s = self.slots[hole];
            if s == 0 {
                return false;
            }
            if s == want {
                break;
            }
            hole = (hole + 1) & mask;
        }
        // Backward shift: each later slot of the run moves into the hole
        // unless the hole lies before its home (cyclically).
        let mut pos = hole;
        loop {
            pos = (pos + 1) & mask;
            let s = self.slots[pos];
            if s == 0 {
                break;
            }
            let home = self.home((s >> 32) as u32);
            if (pos.wrapping_sub(home) & mask) >= (pos.wrapping_sub(hole) & mask) {
                self.slots[hole] = s;
                hole = pos;
            }
        }
        self.slots[hole] = 0;
        self.len -= 1;
        self.generation += 1;
        true
    }
}

/// [`ClOrdIndex::remove_chains`] rebuilds the table rather than probing
/// per entry once the chains to remove number at least one per this many
/// table slots (a pass over the table costs about as much as a few random
/// probes per chain).
const BULK_REMOVAL_RATIO: usize = 8;

/// How many chains ahead [`ClOrdIndex::remove_chains`] asks for what it will
/// read (the entries lie at random; removing one at a time, each key's
/// table line too, with its entry twice as far ahead).
const REMOVAL_AHEAD: usize = 8;

/// (participant, ClOrdID) → order location.
#[derive(Debug, Default)]
pub(crate) struct ClOrdIndex {
    entries: Chunked<ClEntry>,
    free: Vec<u32>,
    table: ClTable,
}

impl Clone for ClOrdIndex {
    fn clone(&self) -> Self {
        let mut copy = ClOrdIndex::default();
        copy.clone_from(self);
        copy
    }

    /// Field by field, reusing this index's memory.
    fn clone_from(&mut self, source: &Self) {
        let ClOrdIndex {
            entries,
            free,
            table,
        } = source;
        self.entries.clone_from(entries);
        self.free.clone_from(free);
        self.table.clone_from(table);
    }
}

impl Clone for ClTable {
    fn clone(&self) -> Self {
        let mut copy = ClTable::default();
        copy.clone_from(self);
        copy
    }

    /// Reuses this table's slots.
    fn clone_from(&mut self, source: &Self) {
        let ClTable {
            slots,
            shift,
            len,
            generation,
        } = source;
        self.slots.clone_from(slots);
        self.shift = *shift;
        self.len = *len;
        self.generation = *generation;
    }
}

/// A 64×64 → 128-bit multiply folded to 64 bits (the mixing step of
/// foldhash and wyhash).
#[inline]
fn folded_mul(x: u64, y: u64) -> u64 {
    let p = u128::from(x) * u128::from(y);
    (p as u64) ^ ((p >> 64) as u64)
}

/// The hash of (participant, ClOrdID): four folded multiplies over the id's
/// five words, with no branch on its length (xxh3 over the bytes cost a few
/// more instructions and a branch per length class). Deterministic; only table positions depend on it, and the table is never
/// iterated.
#[inline(always)]
fn cl_hash(participant: ParticipantId, id: &ClOrdId) -> u32 {
    const K: [u64; 8] = [
        0x243f_6a88_85a3_08d3,
        0x1319_8a2e_0370_7344,
        0xa409_3822_299f_31d0,
        0x082e_fa98_ec4e_6c89,
        0x4528_21e6_38d0_1377,
        0xbe54_66cf_34e9_0c6c,
        0xc0ac_29b7_c97c_50dd,
        0x3f84_d5b5_b547_0917,
    ];
    // The participant gets a multiply of its own: xored into a word of the
    // id, it would collide with ids differing in the same bits.
    let [a, b, c, d, e] = id.words();
    let m1 = folded_mul(a ^ K[0], b ^ K[1]);
    let m2 = folded_mul(c ^ K[2], d ^ K[3]);
    let m3 = folded_mul(e ^ K[4], u64::from(participant.0) ^ K[5]);
    folded_mul(m1 ^ m3 ^ K[6], m2 ^ K[7]) as u32
}

/// Whether two ids are equal, word by word without branches.
#[inline]
fn same_id(x: &ClOrdId, y: &ClOrdId) -> bool {
    let (x, y) = (x.words(), y.words());
    x.iter().zip(&y).fold(0, |acc, (a, b)| acc | (a ^ b)) == 0
}

impl ClOrdIndex {
    pub(crate) fn with_capacity(n: usize) -> ClOrdIndex {
        ClOrdIndex {
            entries: Chunked::for_expected(n),
            free: Vec::new(),
            table: ClTable::with_capacity(n),
        }
    }

    /// The entries' chunk pool (see [`crate::chunked`]).
    pub(crate) fn entries_pool(&mut self) -> Arc<ChunkPool<ClEntry>> {
        self.entries.pool()
    }

    /// The entry for (participant, id), or where it would be inserted.
    #[inline(always)]
    pub(crate) fn lookup(
        &self,
        participant: ParticipantId,
        id: &ClOrdId,
    ) -> Result<&ClEntry, Vacant> {
        let entries = &self.entries;
        self.table
            .probe(cl_hash(participant, id), |n| {
                let e = &entries[n as usize];
                e.participant == participant && same_id(&e.cl_ord_id, id)
            })
            .map(|n| &entries[n as usize])
    }

    /// Starts loading entry `n` (see `prefetch.rs`).
    #[inline]
    pub(crate) fn prefetch_entry(&self, n: u32) {
        if let Some(e) = self.entries.get(n as usize) {
            crate::prefetch::prefetch_all(e);
        }
    }

    /// Starts loading the table line where the probe for entry `n`'s key
    /// begins; the entry itself should be in the cache already
    /// ([`ClOrdIndex::prefetch_entry`]).
    #[inline]
    pub(crate) fn prefetch_home_of(&self, n: u32) {
        if let Some(e) = self.entries.get(n as usize) {
            self.prefetch(e.participant, &e.cl_ord_id);
        }
    }

    /// Starts loading the table line where a probe for (participant, id)
    /// begins (see `prefetch.rs`).
    #[inline]
    pub(crate) fn prefetch(&self, participant: ParticipantId, id: &ClOrdId) {
        let home = self.table.home(cl_hash(participant, id));
        crate::prefetch::prefetch_read(&self.table.slots[home]);
    }

    /// Starts loading the entry a probe for (participant, id) would compare
    /// first (see [`ClOrdIndex::prefetch_candidate_hashed`]).
    #[inline]
    pub(crate) fn prefetch_candidate(&self, participant: ParticipantId, id: &ClOrdId) {
        self.prefetch_candidate_hashed(cl_hash(participant, id));
    }

    /// The hash the table files (participant, id) under: what a caller
    /// announcing an input several times keeps, so as to hash it once.
    #[inline]
    pub(crate) fn hash_of(participant: ParticipantId, id: &ClOrdId) -> u32 {
        cl_hash(participant, id)
    }

    /// Starts loading the table line where a probe for a key of hash
    /// `hash32` begins.
    #[inline]
    pub(crate) fn prefetch_hashed(&self, hash32: u32) {
        crate::prefetch::prefetch_read(&self.table.slots[self.table.home(hash32)]);
    }

    /// Starts loading the entry a probe for a key of hash `hash32` would
    /// compare first, and returns its number: the first slot of the key's
    /// run with its hash tag (read from the table line, which
    /// [`ClOrdIndex::prefetch_hashed`] should have loaded; no key is
    /// compared, so a tag collision only wastes the hint).
    #[inline]
    pub(crate) fn prefetch_candidate_hashed(&self, hash32: u32) -> Option<u32> {
        let mask = self.table.mask();
        let mut pos = self.table.home(hash32);
        // A run longer than a cache line is rare at a load of 3/4.
        for _ in 0..8 {
            let s = self.table.slots[pos];
            if s == 0 {
                return None;
            }
            if (s >> 32) as u32 == hash32 {
                let n = (s as u32).wrapping_sub(1);
                self.prefetch_entry(n);
                return Some(n);
            }
            pos = (pos + 1) & mask;
        }
        None
    }

    /// Where entry `n` says its order is, if there is such an entry.
    #[inline]
    pub(crate) fn loc_of_entry(&self, n: u32) -> Option<Loc> {
        self.entries.get(n as usize).map(|e| e.loc)
    }

    /// The entry for (participant, id), if any.
    #[inline]
    pub(crate) fn find(&self, participant: ParticipantId, id: &ClOrdId) -> Option<&ClEntry> {
        self.lookup(participant, id).ok()
    }

    /// Adds (participant, id) → loc, chained after `prev`, where a
    /// [`ClOrdIndex::lookup`] of the same pair found it absent (no second
    /// hash, and usually no second probe). Returns the new entry's number.
    #[inline]
    pub(crate) fn insert_vacant(
        &mut self,
        v: Vacant,
        participant: ParticipantId,
        id: ClOrdId,
        loc: Loc,
        prev: u32,
    ) -> u32 {
        debug_assert!(v.hash32 == cl_hash(participant, &id));
        debug_assert!(self.find(participant, &id).is_none());
        let entry = ClEntry {
            participant,
            cl_ord_id: id,
            loc,
            prev,
        };
        let n = if let Some(n) = self.free.pop() {
            self.entries[n as usize] = entry;
            n
        } else {
            self.entries.push(entry);
            (self.entries.len() - 1) as u32
        };
        self.table.insert(v, n);
        n
    }

    /// Adds (participant, id) → loc, chained after `prev`; the pair must be
    /// absent. Returns the new entry's number.
    #[cfg(test)]
    pub(crate) fn insert(
        &mut self,
        participant: ParticipantId,
        id: ClOrdId,
        loc: Loc,
        prev: u32,
    ) -> u32 {
        match self.lookup(participant, &id) {
            Err(v) => self.insert_vacant(v, participant, id, loc, prev),
            Ok(_) => panic!("ClOrdID inserted twice"),
        }
    }

    /// Makes room for `additional` more ClOrdIDs.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.table.reserve(additional);
    }

    /// The entry numbered `n`.
    pub(crate) fn entry(&self, n: u32) -> &ClEntry {
        &self.entries[n as usize]
    }

    /// Adds (participant, id) → loc chained after `prev`, in one probe, unless
    /// the pair is already there (snapshot decoding, where a duplicate means
    /// corrupt input). Returns the new entry's number.
    pub(crate) fn insert_if_absent(
        &mut self,
        participant: ParticipantId,
        id: ClOrdId,
        loc: Loc,
        prev: u32,
    ) -> Option<u32> {
        match self.lookup(participant, &id) {
            Err(v) => Some(self.insert_vacant(v, participant, id, loc, prev)),
            Ok(_) => None,
        }
    }

    /// Points every entry of the chain starting at `head` to `loc`.
    pub(crate) fn relocate(&mut self, mut head: u32, loc: Loc) {
        while head != NIL {
            let e = &mut self.entries[head as usize];
            e.loc = loc;
            head = e.prev;
        }
    }

    /// Removes every entry of the chain starting at `head`.
    pub(crate) fn remove_chain(&mut self, mut head: u32) {
        while head != NIL {
            let e = self.entries[head as usize];
            let removed = self
                .table
                .remove(cl_hash(e.participant, &e.cl_ord_id), head);
            debug_assert!(removed, "chained ClOrdID missing from the index");
            self.free.push(head);
            head = e.prev;
        }
    }

    /// Removes every entry of the chains starting at `heads`, as
    /// [`ClOrdIndex::remove_chain`] on each in turn would (the same entries
    /// freed, in the same order), but the table is rebuilt in one pass
    /// rather than probed per entry when that is cheaper: a day's end
    /// forgets most of the index at once.
    pub(crate) fn remove_chains(&mut self, heads: &[u32]) {
        if heads.len().saturating_mul(BULK_REMOVAL_RATIO) < self.table.slots.len() {
            for (i, &head) in heads.iter().enumerate() {
                // Each head's entry, then the table line its key hashes
                // to, asked for ahead.
                if let Some(&far) = heads.get(i + 2 * REMOVAL_AHEAD) {
                    self.prefetch_entry(far);
                }
                if let Some(&near) = heads.get(i + REMOVAL_AHEAD) {
                    self.prefetch_home_of(near);
                }
                self.remove_chain(head);
            }
            return;
        }
        let mut removed = vec![0u64; self.entries.len().div_ceil(64)];
        let freed_from = self.free.len();
        for (i, &head) in heads.iter().enumerate() {
            if let Some(&ahead) = heads.get(i + REMOVAL_AHEAD) {
                self.prefetch_entry(ahead);
            }
            let mut n = head;
            while n != NIL {
                removed[n as usize / 64] |= 1 << (n % 64);
                self.free.push(n);
                n = self.entries[n as usize].prev;
            }
        }
        let before = self.table.len;
        self.table.retain(|n| {
            removed
                .get(n as usize / 64)
                .is_none_or(|w| w & (1 << (n % 64)) == 0)
        });
        debug_assert_eq!(
            before - self.table.len,
            self.free.len() - freed_from,
            "every chained ClOrdID was in the index, once"
        );
    }

    /// The chain starting at `head`, newest first.
    pub(crate) fn chain(&self, mut head: u32) -> impl Iterator<Item = &ClEntry> {
        std::iter::from_fn(move || {
            if head == NIL {
                return None;
            }
            let e = &self.entries[head as usize];
            head = e.prev;
            Some(e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::OrdStatus;

    fn order(id: u64, participant: u32) -> Order {
        Order {
            id: OrderId(id),
            participant: ParticipantId(participant),
            instrument: InstrumentId(1),
            inst: 0,
            side: Side::Buy,
            ord_type: OrdType::Limit,
            tif: TimeInForce::Gtc,
            place: Place::Resting,
            status: OrdStatus::New,
            post_only: false,
            triggered: false,
            price_ticks: Some(100),
            stop_price_ticks: None,
            qty_lots: 10,
            cum_qty_lots: 0,
            leaves_qty_lots: 10,
            visible_qty_lots: 10,
            display_qty_lots: 0,
            min_qty_lots: 0,
            expire_time_ns: None,
            cum_notional_tick_lots: 0,
            cl_ord_id: ClOrdId::new(format!("c{id}").as_bytes()).unwrap(),
            cl_entry: NIL,
            reason: Reason::None,
            done_time_ns: 0,
            prev: NIL,
            next: NIL,
        }
    }

    fn finish(store: &mut OrderStore, slot: u32, t: u64) -> Loc {
        let o = store.live_mut(slot);
        o.place = Place::Done;
        o.status = OrdStatus::Filled;
        o.done_time_ns = t;
        store.retire(slot)
    }

    #[test]
    fn a_finished_order_keeps_every_field_a_report_needs() {
        let mut o = order(3, 2);
        o.place = Place::Done;
        o.status = OrdStatus::Canceled;
        o.cum_notional_tick_lots = -(1 << 70) - 12_345;
        o.stop_price_ticks = Some(-7);
        o.expire_time_ns = Some(99);
        o.done_time_ns = 1_000;
        let back = DoneOrder::from_order(&o).into_order(o.cl_ord_id, o.instrument);
        assert_eq!(back.cum_notional_tick_lots, o.cum_notional_tick_lots);
        assert_eq!(
            (back.price_ticks, back.stop_price_ticks, back.expire_time_ns),
            (Some(100), Some(-7), Some(99))
        );
        assert_eq!(
            (back.id, back.status, back.done_time_ns),
            (o.id, o.status, 1_000)
        );
        o.price_ticks = None;
        o.expire_time_ns = None;
        let back = DoneOrder::from_order(&o).into_order(o.cl_ord_id, o.instrument);
        assert_eq!((back.price_ticks, back.expire_time_ns), (None, None));
    }

    #[test]
    fn slots_are_reused_and_locations_follow_orders() {
        let mut s = OrderStore::with_capacity(4, 16);
        let a = s.insert(order(1, 1));
        let b = s.insert(order(2, 1));
        assert_eq!(s.find(OrderId(2)), Some(b));
        let done = finish(&mut s, a, 5);
        assert!(done & DONE != 0);
        assert_eq!(s.find(OrderId(1)), Some(done));
        assert_eq!(s.done(done).id, OrderId(1));
        assert_eq!(
            s.summary(done),
            (OrderId(1), ParticipantId(1), OrdStatus::Filled)
        );
        // The freed slot is the next one used.
        let c = s.insert(order(3, 2));
        assert_eq!(c, a);
        assert_eq!(s.live_count(), 2);
        assert_eq!(s.find(OrderId(4)), None);
        assert_eq!(s.find(OrderId(0)), None);
    }

    #[test]
    fn forgetting_pops_in_finishing_order_and_compaction_keeps_old_live_orders() {
        let mut s = OrderStore::with_capacity(4, 16);
        let old_live = s.insert(order(1, 1));
        let slots: Vec<u32> = (2..=5).map(|id| s.insert(order(id, 1))).collect();
        for (t, &slot) in slots.iter().enumerate() {
            finish(&mut s, slot, t as u64);
        }
        assert_eq!(s.done_at(0).map(|o| o.id), Some(OrderId(2)));
        for id in 2..=5 {
            assert_eq!(s.forget_oldest().map(|o| o.id), Some(OrderId(id)));
            assert_eq!(s.find(OrderId(id)), None);
        }
        assert!(s.forget_oldest().is_none());
        s.compact_locator();
        // Order 1 is older than the locator's base now, and still found.
        assert_eq!(s.find(OrderId(1)), Some(old_live));
        let next = s.insert(order(6, 1));
        assert_eq!(s.find(OrderId(6)), Some(next));
    }

    #[test]
    fn removing_many_chains_at_once_equals_removing_them_one_by_one() {
        let id = |n: u32| ClOrdId::new(format!("c{n}").as_bytes()).unwrap();
        // 3,000 chains of one to three ids over four participants.
        let build = || {
            let mut ix = ClOrdIndex::with_capacity(16);
            let mut heads = Vec::new();
            let mut n = 0;
            for chain in 0..3_000u32 {
                let p = ParticipantId(chain % 4);
                let mut head = NIL;
                for _ in 0..=chain % 3 {
                    head = ix.insert(p, id(n), chain, head);
                    n += 1;
                }
                heads.push((p, head));
            }
            (ix, heads, n)
        };
        // A few chains (removed one by one inside), then most of them
        // (the table rebuilt in one pass).
        for (from, to) in [(0, 3), (3, 2_900)] {
            let (mut bulk, heads, n) = build();
            let (mut single, _, _) = build();
            let chosen: Vec<u32> = heads[from..to].iter().map(|&(_, h)| h).collect();
            bulk.remove_chains(&chosen);
            for &h in &chosen {
                single.remove_chain(h);
            }
            assert_eq!(bulk.table.len, single.table.len);
            assert_eq!(bulk.free, single.free, "the same entries freed, in order");
            bulk.table.assert_probe_runs();
            single.table.assert_probe_runs();
            for chain in 0..3_000u32 {
                let p = ParticipantId(chain % 4);
                for k in 0..n {
                    let found = |ix: &ClOrdIndex| ix.find(p, &id(k)).map(|e| e.loc);
                    assert_eq!(found(&bulk), found(&single), "id c{k} of {p:?}");
                }
                if chain > 8 {
                    break; // every id under a few participants is enough
                }
            }
            // The rest removed one by one from the rebuilt table: found
            // and then gone, the runs intact.
            let rest: Vec<(ParticipantId, u32)> =
                heads[..from].iter().chain(&heads[to..]).copied().collect();
            for &(p, h) in &rest {
                let newest = bulk.entries[h as usize].cl_ord_id;
                assert!(bulk.find(p, &newest).is_some());
                bulk.remove_chain(h);
                assert!(bulk.find(p, &newest).is_none());
            }
            bulk.table.assert_probe_runs();
            assert_eq!(bulk.table.len, 0);
            for &(_, h) in &rest {
                single.remove_chain(h);
            }
            // New ids take the same entry numbers and are found.
            for k in n..n + 50 {
                let p = ParticipantId(9);
                assert_eq!(
                    bulk.insert(p, id(k), 1, NIL),
                    single.insert(p, id(k), 1, NIL)
                );
                assert!(bulk.find(p, &id(k)).is_some());
            }
        }
    }

    #[test]
    fn cl_ord_index_finds_chains_and_forgets_them() {
        let mut ix = ClOrdIndex::with_capacity(2);
        let id = |s: &str| ClOrdId::new(s.as_bytes()).unwrap();
        let p = ParticipantId(7);
        let first = ix.insert(p, id("A"), 3, NIL);
        let second = ix.insert(p, id("B"), 3, first);
        // Enough inserts to force the table to grow, with unrelated keys.
        for n in 0..1_000 {
            ix.insert(ParticipantId(1), id(&format!("x{n}")), n, NIL);
        }
        assert_eq!(ix.find(p, &id("A")).map(|e| e.loc), Some(3));
        assert!(
            ix.find(ParticipantId(8), &id("A")).is_none(),
            "ids are per participant"
        );
        let chain: Vec<_> = ix.chain(second).map(|e| e.cl_ord_id).collect();
        assert_eq!(chain, [id("B"), id("A")]);
        ix.relocate(second, DONE | 9);
        assert_eq!(ix.find(p, &id("A")).map(|e| e.loc), Some(DONE | 9));
        ix.remove_chain(second);
        assert!(ix.find(p, &id("A")).is_none());
        assert!(ix.find(p, &id("B")).is_none());
        assert_eq!(
            ix.find(ParticipantId(1), &id("x999")).map(|e| e.loc),
            Some(999)
        );
        // Freed entries are reused.
        let again = ix.insert(p, id("A"), 4, NIL);
        assert!(again == first || again == second);
    }

    #[test]
    fn cl_hash_spreads_sequential_ids_and_participants() {
        // 200,000 ids of the usual shapes across eight participants: a hash
        // as good as random gives about 5 equal pairs of 32-bit values.
        let formats: [fn(u64) -> String; 2] = [|n| format!("C{n:08}"), |n| format!("{n}")];
        for f in formats {
            let mut h: Vec<u32> = (0..200_000u64)
                .map(|n| {
                    let id = ClOrdId::new(f(n).as_bytes()).unwrap();
                    cl_hash(ParticipantId((n % 8) as u32 + 1), &id)
                })
                .collect();
            h.sort_unstable();
            h.dedup();
            assert!(h.len() >= 200_000 - 20, "{} distinct", h.len());
        }
        let id = ClOrdId::new(b"same").unwrap();
        assert_ne!(
            cl_hash(ParticipantId(1), &id),
            cl_hash(ParticipantId(2), &id)
        );
    }

    #[test]
    fn cl_table_removal_keeps_every_probe_run_whole() {
        // Random inserts and removals against a model; a removal that broke a
        // probe run would lose a key that hashed before the hole.
        let mut t = ClTable::with_capacity(0);
        let mut model: Vec<(u32, u32)> = Vec::new();
        let mut x: u64 = 0x1234_5678;
        let mut next = || {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (x >> 33) as u32
        };
        for entry in 0..20_000u32 {
            // Few distinct hashes, so that runs are long and collide.
            let h = next() % 512;
            let v = t.probe(h, |_| false).expect_err("never equal");
            t.insert(v, entry);
            model.push((h, entry));
            if next() % 3 == 0 {
                let (h, e) = model.swap_remove(next() as usize % model.len());
                assert!(t.remove(h, e));
                assert!(!t.remove(h, e));
            }
        }
        assert_eq!(t.len, model.len());
        for &(h, e) in &model {
            assert_eq!(t.probe(h, |n| n == e).ok(), Some(e));
        }
        // A vacancy found before a change is re-probed, not trusted.
        let v = t.probe(7, |_| false).expect_err("absent");
        let (h, e) = model[0];
        assert!(t.remove(h, e));
        t.insert(v, 99_999);
        assert_eq!(t.probe(7, |n| n == 99_999).ok(), Some(99_999));
        assert!(t.probe(h, |n| n == e).is_err());
    }
}
