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
//! The ClOrdID index is a `hashbrown::HashTable` of 8-byte slots (a 32-bit tag
//! of the hash and an entry number) over a slab of entries (participant,
//! ClOrdID, `Loc`, link to the order's previous ClOrdID). A lookup that misses
//! reads only the table; a hit reads one entry, which already holds the
//! order's location. The hash is xxh3 of the ClOrdID seeded with the
//! participant: deterministic, and never iterated.

use std::collections::VecDeque;

use hashbrown::HashTable;
use rustc_hash::FxHashMap;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::book::NIL;
use crate::engine::{Order, Place};
use crate::types::{ClOrdId, OrderId, ParticipantId};

/// Location of an order: a live slot (`< DONE`) or `DONE | finished index`.
pub(crate) type Loc = u32;

/// Flag of a location in the finished queue.
pub(crate) const DONE: Loc = 1 << 31;

/// Orders live and finished, and the OrderID locator.
#[derive(Clone, Debug, Default)]
pub(crate) struct OrderStore {
    live: Vec<Order>,
    free: Vec<u32>,
    /// Finished orders in finishing order.
    done: VecDeque<Order>,
    /// Finished-queue index of `done[0]` (counts every order ever retired).
    done_base: u64,
    /// `loc_recent[i]` locates OrderId `loc_base + i` (`NIL` once forgotten).
    loc_recent: VecDeque<Loc>,
    loc_base: u64,
    /// Live orders with ids below `loc_base`.
    loc_old: FxHashMap<u64, Loc>,
}

impl OrderStore {
    /// A store with room for `live` live orders and `per_day` orders a day
    /// (reserved, not touched: pages are committed as they are used).
    pub(crate) fn with_capacity(live: usize, per_day: usize) -> OrderStore {
        OrderStore {
            live: Vec::with_capacity(live),
            done: VecDeque::with_capacity(per_day),
            loc_recent: VecDeque::with_capacity(per_day),
            loc_base: 1,
            ..OrderStore::default()
        }
    }

    /// Adds a new live order; its id must be the next one in sequence.
    pub(crate) fn insert(&mut self, order: Order) -> u32 {
        assert_eq!(
            order.id.0,
            self.loc_base + self.loc_recent.len() as u64,
            "order ids are assigned densely"
        );
        let slot = if let Some(slot) = self.free.pop() {
            self.live[slot as usize] = order;
            slot
        } else {
            assert!(self.live.len() < DONE as usize, "live order slab is full");
            self.live.push(order);
            (self.live.len() - 1) as u32
        };
        self.loc_recent.push_back(slot);
        slot
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

    /// The order at `loc`, live or finished.
    #[inline]
    pub(crate) fn get(&self, loc: Loc) -> &Order {
        if loc & DONE == 0 {
            &self.live[loc as usize]
        } else {
            let pos = (loc & !DONE).wrapping_sub(self.done_base as u32) & !DONE;
            &self.done[pos as usize]
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
        let order = self.live[slot as usize];
        let loc = DONE | ((self.done_base + self.done.len() as u64) as u32 & !DONE);
        self.done.push_back(order);
        assert!(self.done.len() < DONE as usize, "finished queue is full");
        self.set_loc(order.id, loc);
        self.live[slot as usize].place = Place::Free;
        self.free.push(slot);
        loc
    }

    /// The order at `loc`, mutably (snapshot decoding only).
    pub(crate) fn get_mut(&mut self, loc: Loc) -> &mut Order {
        if loc & DONE == 0 {
            &mut self.live[loc as usize]
        } else {
            let pos = (loc & !DONE).wrapping_sub(self.done_base as u32) & !DONE;
            &mut self.done[pos as usize]
        }
    }

    /// The oldest finished order, if any.
    pub(crate) fn oldest_done(&self) -> Option<&Order> {
        self.done.front()
    }

    /// Forgets the oldest finished order and returns it.
    pub(crate) fn forget_oldest(&mut self) -> Option<Order> {
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

    /// Finished orders, in finishing order.
    pub(crate) fn done_orders(&self) -> impl Iterator<Item = &Order> {
        self.done.iter()
    }

    /// Rebuilds the store from a snapshot's orders: live ones in any order,
    /// finished ones in finishing order. Returns each order's location, by id.
    pub(crate) fn rebuild(
        live: Vec<Order>,
        done: Vec<Order>,
        next_order_id: u64,
        capacity: usize,
    ) -> (OrderStore, Vec<(OrderId, Loc)>) {
        let mut s = OrderStore::with_capacity(live.len(), capacity);
        let mut locs = Vec::with_capacity(live.len() + done.len());
        for o in live {
            s.live.push(o);
            locs.push((o.id, (s.live.len() - 1) as u32));
        }
        for (i, o) in done.into_iter().enumerate() {
            s.done.push_back(o);
            locs.push((o.id, DONE | i as u32));
        }
        s.loc_base = s.done.iter().map(|o| o.id.0).min().unwrap_or(next_order_id);
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

#[derive(Clone, Copy, Debug)]
struct ClSlot {
    tag: u32,
    entry: u32,
}

/// (participant, ClOrdID) → order location.
#[derive(Clone, Debug, Default)]
pub(crate) struct ClOrdIndex {
    entries: Vec<ClEntry>,
    free: Vec<u32>,
    table: HashTable<ClSlot>,
}

#[inline]
fn cl_hash(participant: ParticipantId, id: &ClOrdId) -> u64 {
    xxh3_64_with_seed(id.as_bytes(), u64::from(participant.0))
}

impl ClOrdIndex {
    pub(crate) fn with_capacity(n: usize) -> ClOrdIndex {
        ClOrdIndex {
            entries: Vec::with_capacity(n),
            free: Vec::new(),
            table: HashTable::with_capacity(n),
        }
    }

    /// The entry for (participant, id), if any.
    #[inline]
    pub(crate) fn find(&self, participant: ParticipantId, id: &ClOrdId) -> Option<&ClEntry> {
        let h = cl_hash(participant, id);
        let tag = (h >> 32) as u32;
        let entries = &self.entries;
        self.table
            .find(h, |s| {
                s.tag == tag && {
                    let e = &entries[s.entry as usize];
                    e.participant == participant && e.cl_ord_id == *id
                }
            })
            .map(|s| &entries[s.entry as usize])
    }

    /// Adds (participant, id) → loc, chained after `prev`; the pair must be
    /// absent. Returns the new entry's number.
    pub(crate) fn insert(
        &mut self,
        participant: ParticipantId,
        id: ClOrdId,
        loc: Loc,
        prev: u32,
    ) -> u32 {
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
        let h = cl_hash(participant, &id);
        let entries = &self.entries;
        self.table.insert_unique(
            h,
            ClSlot {
                tag: (h >> 32) as u32,
                entry: n,
            },
            |s| {
                let e = &entries[s.entry as usize];
                cl_hash(e.participant, &e.cl_ord_id)
            },
        );
        n
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
            let h = cl_hash(e.participant, &e.cl_ord_id);
            let found = self.table.find_entry(h, |s| s.entry == head);
            match found {
                Ok(slot) => {
                    slot.remove();
                }
                Err(_) => debug_assert!(false, "chained ClOrdID missing from the index"),
            }
            self.free.push(head);
            head = e.prev;
        }
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
