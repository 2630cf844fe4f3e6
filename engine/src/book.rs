//! One side of one order book: price levels, and the FIFO queue of orders at
//! each level.
//!
//! Levels are kept in a `Vec` sorted so that the best price is at the end:
//! ascending for bids, descending for asks. Matching works at the end of the
//! vector (a pop when a level empties), and new orders mostly land near the
//! top of the book, so insertion moves few elements; finding a level is a
//! binary search. Orders at a level form an intrusive doubly linked list
//! threaded through the engine's order slab by `u32` slot, so unlinking any
//! order is O(1) once its level is found, and nothing allocates per order.

use crate::types::{PriceTicks, QtyLots, Side};

/// "No slot" in the intrusive lists.
pub(crate) const NIL: u32 = u32::MAX;

/// The links an order needs to sit in a level's queue.
pub(crate) trait Linked {
    fn prev(&self) -> u32;
    fn next(&self) -> u32;
    fn set_prev(&mut self, prev: u32);
    fn set_next(&mut self, next: u32);
}

/// One price level: aggregate and queue ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Level {
    pub(crate) price_ticks: PriceTicks,
    /// Sum of the displayed quantity of the orders at the level.
    pub(crate) qty_lots: QtyLots,
    pub(crate) order_count: u32,
    pub(crate) head: u32,
    pub(crate) tail: u32,
}

impl Level {
    fn new(price_ticks: PriceTicks) -> Level {
        Level {
            price_ticks,
            qty_lots: 0,
            order_count: 0,
            head: NIL,
            tail: NIL,
        }
    }

    /// Appends `slot` at the back of the queue.
    pub(crate) fn push_back<O: Linked>(&mut self, orders: &mut [O], slot: u32, visible: QtyLots) {
        debug_assert!(slot != NIL);
        let tail = self.tail;
        {
            let o = &mut orders[slot as usize];
            o.set_prev(tail);
            o.set_next(NIL);
        }
        if tail == NIL {
            debug_assert!(self.head == NIL);
            self.head = slot;
        } else {
            orders[tail as usize].set_next(slot);
        }
        self.tail = slot;
        self.qty_lots += visible;
        self.order_count += 1;
    }

    /// Removes `slot` from the queue; `visible` is its displayed quantity.
    pub(crate) fn unlink<O: Linked>(&mut self, orders: &mut [O], slot: u32, visible: QtyLots) {
        debug_assert!(self.order_count > 0);
        debug_assert!(self.qty_lots >= visible);
        let (prev, next) = {
            let o = &orders[slot as usize];
            (o.prev(), o.next())
        };
        if prev == NIL {
            debug_assert!(self.head == slot);
            self.head = next;
        } else {
            orders[prev as usize].set_next(next);
        }
        if next == NIL {
            debug_assert!(self.tail == slot);
            self.tail = prev;
        } else {
            orders[next as usize].set_prev(prev);
        }
        let o = &mut orders[slot as usize];
        o.set_prev(NIL);
        o.set_next(NIL);
        self.qty_lots -= visible;
        self.order_count -= 1;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.order_count == 0
    }
}

/// One side of a book.
#[derive(Clone, Debug)]
pub(crate) struct BookSide {
    side: Side,
    /// Sorted so that the best price is last.
    levels: Vec<Level>,
}

impl BookSide {
    pub(crate) fn new(side: Side) -> BookSide {
        BookSide {
            side,
            levels: Vec::new(),
        }
    }

    /// Where `price`'s level is: `Ok(index)` of its level, or `Err(index)`
    /// where a level for it would be inserted.
    ///
    /// Near the top a book usually has a level at every tick, so the level
    /// `d` ticks from the best is tried first at index `len - 1 - d` (one
    /// comparison); a binary search answers when that guess misses.
    #[inline(always)]
    fn search(&self, price: PriceTicks) -> Result<usize, usize> {
        if let Some(best) = self.levels.last() {
            let ticks_from_best = match self.side {
                Side::Buy => best.price_ticks.checked_sub(price),
                Side::Sell => price.checked_sub(best.price_ticks),
            };
            if let Some(d) = ticks_from_best
                && let Ok(d) = usize::try_from(d)
                && d < self.levels.len()
            {
                let i = self.levels.len() - 1 - d;
                if self.levels[i].price_ticks == price {
                    return Ok(i);
                }
            }
        }
        self.binary_search(price)
    }

    #[inline]
    fn binary_search(&self, price: PriceTicks) -> Result<usize, usize> {
        match self.side {
            Side::Buy => self.levels.binary_search_by(|l| l.price_ticks.cmp(&price)),
            Side::Sell => self.levels.binary_search_by(|l| price.cmp(&l.price_ticks)),
        }
    }

    /// The best level, if any.
    #[inline]
    pub(crate) fn best(&self) -> Option<&Level> {
        self.levels.last()
    }

    /// The best level, mutably.
    #[inline]
    pub(crate) fn best_mut(&mut self) -> Option<&mut Level> {
        self.levels.last_mut()
    }

    /// Removes the best level, which must be empty.
    pub(crate) fn pop_best_empty(&mut self) {
        let l = self.levels.pop();
        debug_assert!(l.is_some_and(|l| l.is_empty()));
    }

    /// The level at `price`, if there is one.
    pub(crate) fn level(&self, price: PriceTicks) -> Option<&Level> {
        self.search(price).ok().map(|i| &self.levels[i])
    }

    /// The level at `price`, if there is one.
    pub(crate) fn level_mut(&mut self, price: PriceTicks) -> Option<&mut Level> {
        match self.search(price) {
            Ok(i) => Some(&mut self.levels[i]),
            Err(_) => None,
        }
    }

    /// The level at `price`, created empty if there is none.
    pub(crate) fn level_or_insert(&mut self, price: PriceTicks) -> &mut Level {
        let i = match self.search(price) {
            Ok(i) => i,
            Err(i) => {
                self.levels.insert(i, Level::new(price));
                i
            }
        };
        &mut self.levels[i]
    }

    /// Unlinks `slot` (displaying `visible`) from the level at `price`, which
    /// must exist; removes the level if that empties it. Returns the level as
    /// it is afterwards (empty if removed).
    pub(crate) fn unlink<O: Linked>(
        &mut self,
        orders: &mut [O],
        price: PriceTicks,
        slot: u32,
        visible: QtyLots,
    ) -> Level {
        let i = self.search(price).expect("a resting order's level exists");
        let level = &mut self.levels[i];
        level.unlink(orders, slot, visible);
        let after = *level;
        if after.is_empty() {
            self.levels.remove(i);
        }
        after
    }

    /// Levels from best to worst.
    pub(crate) fn levels_best_first(&self) -> impl Iterator<Item = &Level> {
        self.levels.iter().rev()
    }

    /// Number of levels.
    pub(crate) fn len(&self) -> usize {
        self.levels.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug)]
    struct N {
        prev: u32,
        next: u32,
    }

    impl Linked for N {
        fn prev(&self) -> u32 {
            self.prev
        }
        fn next(&self) -> u32 {
            self.next
        }
        fn set_prev(&mut self, prev: u32) {
            self.prev = prev;
        }
        fn set_next(&mut self, next: u32) {
            self.next = next;
        }
    }

    fn queue(level: &Level, nodes: &[N]) -> Vec<u32> {
        let mut out = Vec::new();
        let mut s = level.head;
        while s != NIL {
            out.push(s);
            s = nodes[s as usize].next;
        }
        out
    }

    #[test]
    fn queue_is_fifo_and_unlinks_anywhere() {
        let mut nodes = vec![
            N {
                prev: NIL,
                next: NIL
            };
            4
        ];
        let mut l = Level::new(100);
        for s in 0..4 {
            l.push_back(&mut nodes, s, 10);
        }
        assert_eq!(queue(&l, &nodes), [0, 1, 2, 3]);
        assert_eq!((l.qty_lots, l.order_count), (40, 4));
        l.unlink(&mut nodes, 2, 10);
        assert_eq!(queue(&l, &nodes), [0, 1, 3]);
        l.unlink(&mut nodes, 0, 10);
        l.unlink(&mut nodes, 3, 10);
        assert_eq!(queue(&l, &nodes), [1]);
        assert_eq!((l.head, l.tail), (1, 1));
        l.unlink(&mut nodes, 1, 10);
        assert!(l.is_empty());
        assert_eq!((l.head, l.tail, l.qty_lots), (NIL, NIL, 0));
    }

    #[test]
    fn the_tick_guess_agrees_with_the_binary_search() {
        for side in [Side::Buy, Side::Sell] {
            let mut book = BookSide::new(side);
            // Dense near the top, gaps further down, extremes at both ends.
            for p in (90..=110).chain([50, 60, 61, 200, i64::MIN, i64::MAX - 1]) {
                book.level_or_insert(p);
            }
            for p in (40..=220).chain([i64::MIN, i64::MIN + 1, i64::MAX - 1, i64::MAX]) {
                assert_eq!(book.search(p), book.binary_search(p), "{side:?} {p}");
            }
        }
    }

    #[test]
    fn sides_sort_best_last() {
        let mut bids = BookSide::new(Side::Buy);
        let mut asks = BookSide::new(Side::Sell);
        for p in [101, 99, 100, 102] {
            bids.level_or_insert(p);
            asks.level_or_insert(p);
        }
        let b: Vec<_> = bids.levels_best_first().map(|l| l.price_ticks).collect();
        let a: Vec<_> = asks.levels_best_first().map(|l| l.price_ticks).collect();
        assert_eq!(b, [102, 101, 100, 99]);
        assert_eq!(a, [99, 100, 101, 102]);
        let mut nodes = vec![
            N {
                prev: NIL,
                next: NIL
            };
            1
        ];
        bids.level_or_insert(100).push_back(&mut nodes, 0, 5);
        let after = bids.unlink(&mut nodes, 100, 0, 5);
        assert!(after.is_empty());
        assert_eq!(bids.len(), 3, "an emptied level is removed");
        assert!(bids.level_mut(100).is_none());
    }
}
