//! The yardstick the engine issue names: a plain book of price levels in a
//! `BTreeMap`, each a FIFO `VecDeque` of order ids, and an order id → quantity
//! map for the live orders. Cancels are lazy: a cancel only removes the order
//! from the map, and matching skips (and drops) queue entries whose id is no
//! longer there. No events, no validation, no self-trade prevention, no
//! per-day memory of finished orders.
//!
//! Two ways to drive it, both run on the same workload in the same process as
//! the engine:
//!
//! - [`PlainBook`] on [`PlainInput`]s: orders carry numeric ids and cancels
//!   name the order id, as in the plain book. The translation from the
//!   workload's `Input`s (ClOrdIDs) is done once by [`plain_inputs`], outside
//!   the timed region. This is the figure the engine is compared with.
//! - [`ClOrdIdBook`] on the workload's `Input`s themselves: the same book plus
//!   a hash map from (participant, ClOrdID) to order id for the live orders
//!   (an id is forgotten when its order leaves the book). It shows what
//!   resolving the client's 40-byte ids costs a plain book.

use std::collections::{BTreeMap, VecDeque};

use engine::{ClOrdId, Input, OrderRef, ParticipantId, Side};
use rustc_hash::FxHashMap;

/// What the plain book is given: the workload with ClOrdIDs already resolved.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PlainInput {
    New {
        id: u64,
        side: Side,
        price_ticks: i64,
        qty_lots: u64,
    },
    Cancel {
        id: u64,
    },
}

/// Translates the workload for [`PlainBook`]: order ids are assigned in
/// order of arrival, and each cancel names its target's id (cancels of an
/// unknown ClOrdID are dropped). Not timed.
pub(crate) fn plain_inputs(inputs: &[Input]) -> Vec<PlainInput> {
    let mut ids: FxHashMap<(ParticipantId, ClOrdId), u64> = FxHashMap::default();
    let mut out = Vec::with_capacity(inputs.len());
    for input in inputs {
        match input {
            Input::NewOrder(o) => {
                let id = ids.len() as u64 + 1;
                ids.insert((o.participant, o.cl_ord_id), id);
                out.push(PlainInput::New {
                    id,
                    side: o.side,
                    price_ticks: o.price_ticks.unwrap_or(0),
                    qty_lots: o.qty_lots,
                });
            }
            Input::Cancel(c) => {
                if let OrderRef::ClOrdId(cl) = c.target
                    && let Some(id) = ids.get(&(c.participant, cl))
                {
                    out.push(PlainInput::Cancel { id: *id });
                }
            }
            _ => {}
        }
    }
    out
}

/// The plain book. `K` is what it remembers beside each live order's
/// quantity (nothing for [`PlainBook`], the ClOrdID key for [`ClOrdIdBook`]).
pub(crate) struct Book<K> {
    bids: BTreeMap<i64, VecDeque<u64>>,
    asks: BTreeMap<i64, VecDeque<u64>>,
    /// Live orders: id → (remaining quantity, key).
    live: FxHashMap<u64, (u64, K)>,
    /// Lots traded, so that the optimiser cannot drop the matching.
    pub(crate) filled_lots: u64,
}

impl<K> Default for Book<K> {
    fn default() -> Self {
        Book {
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
            live: FxHashMap::default(),
            filled_lots: 0,
        }
    }
}

impl<K> Book<K> {
    /// Matches a limit order against the other side, best price first, then
    /// rests what is left. `done` is called with the key of every resting
    /// order that fills completely. Returns whether the order rests.
    #[inline]
    fn new_order(
        &mut self,
        id: u64,
        side: Side,
        price: i64,
        mut qty: u64,
        key: K,
        mut done: impl FnMut(K),
    ) -> bool {
        while qty > 0 {
            let best = match side {
                Side::Buy => self.asks.first_entry().filter(|e| *e.key() <= price),
                Side::Sell => self.bids.last_entry().filter(|e| *e.key() >= price),
            };
            let Some(mut level) = best else { break };
            let queue = level.get_mut();
            while qty > 0 {
                let Some(&front) = queue.front() else { break };
                // A cancelled order is dropped when it reaches the front.
                let Some(resting) = self.live.get_mut(&front) else {
                    queue.pop_front();
                    continue;
                };
                let q = qty.min(resting.0);
                qty -= q;
                resting.0 -= q;
                self.filled_lots += q;
                if resting.0 == 0 {
                    queue.pop_front();
                    if let Some((_, key)) = self.live.remove(&front) {
                        done(key);
                    }
                }
            }
            if queue.is_empty() {
                level.remove();
            }
        }
        if qty > 0 {
            let book = match side {
                Side::Buy => &mut self.bids,
                Side::Sell => &mut self.asks,
            };
            book.entry(price).or_default().push_back(id);
            self.live.insert(id, (qty, key));
            return true;
        }
        false
    }

    /// Cancels a live order (lazily: its queue entry stays until matching
    /// reaches it). Returns its key, or `None` if it is not live.
    #[inline]
    fn cancel(&mut self, id: u64) -> Option<K> {
        self.live.remove(&id).map(|(_, key)| key)
    }
}

/// The plain book, on [`PlainInput`]s.
pub(crate) type PlainBook = Book<()>;

impl PlainBook {
    pub(crate) fn apply(&mut self, input: &PlainInput) {
        match *input {
            PlainInput::New {
                id,
                side,
                price_ticks,
                qty_lots,
            } => {
                self.new_order(id, side, price_ticks, qty_lots, (), |()| {});
            }
            PlainInput::Cancel { id } => {
                self.cancel(id);
            }
        }
    }
}

/// The plain book driven by the workload's `Input`s, resolving ClOrdIDs
/// through a hash map of the live orders.
#[derive(Default)]
pub(crate) struct ClOrdIdBook {
    pub(crate) book: Book<(ParticipantId, ClOrdId)>,
    by_cl: FxHashMap<(ParticipantId, ClOrdId), u64>,
    next_id: u64,
}

impl ClOrdIdBook {
    pub(crate) fn apply(&mut self, input: &Input) {
        match input {
            Input::NewOrder(o) => {
                self.next_id += 1;
                let id = self.next_id;
                let key = (o.participant, o.cl_ord_id);
                let by_cl = &mut self.by_cl;
                let price = o.price_ticks.unwrap_or(0);
                let rests = self
                    .book
                    .new_order(id, o.side, price, o.qty_lots, key, |k| {
                        by_cl.remove(&k);
                    });
                if rests {
                    self.by_cl.insert(key, id);
                }
            }
            Input::Cancel(c) => {
                let OrderRef::ClOrdId(cl) = c.target else {
                    return;
                };
                if let Some(id) = self.by_cl.remove(&(c.participant, cl)) {
                    self.book.cancel(id);
                }
            }
            _ => {}
        }
    }
}
