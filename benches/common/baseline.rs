//! The yardstick the engine issue names: a plain `BTreeMap` of price levels,
//! each a `VecDeque` of (order, quantity), with a hash map from ClOrdID to the
//! order's side and price for cancels. No events, no validation, no per-day
//! ClOrdID memory (an id is forgotten when its order leaves the book), no
//! self-trade prevention. Run on the same inputs in the same process as the
//! engine, so that the ratio between the two is what a reader should quote.

use std::collections::{BTreeMap, VecDeque};

use engine::{ClOrdId, Input, OrderRef, ParticipantId, Side};
use rustc_hash::FxHashMap;

#[derive(Default)]
pub(crate) struct PlainBook {
    bids: BTreeMap<i64, VecDeque<(u64, u64)>>,
    asks: BTreeMap<i64, VecDeque<(u64, u64)>>,
    by_cl: FxHashMap<(ParticipantId, ClOrdId), (Side, i64, u64)>,
    next_id: u64,
    pub(crate) filled_lots: u64,
}

impl PlainBook {
    pub(crate) fn apply(&mut self, input: &Input) {
        match input {
            Input::NewOrder(o) => {
                let price = o.price_ticks.unwrap_or(0);
                let mut qty = o.qty_lots;
                self.next_id += 1;
                let id = self.next_id;
                // Match against the opposite side, best price first.
                loop {
                    if qty == 0 {
                        break;
                    }
                    let best = match o.side {
                        Side::Buy => self.asks.first_entry().filter(|e| *e.key() <= price),
                        Side::Sell => self.bids.last_entry().filter(|e| *e.key() >= price),
                    };
                    let Some(mut level) = best else { break };
                    let queue = level.get_mut();
                    while qty > 0 {
                        let Some(front) = queue.front_mut() else {
                            break;
                        };
                        let q = qty.min(front.1);
                        qty -= q;
                        front.1 -= q;
                        self.filled_lots += q;
                        if front.1 == 0 {
                            queue.pop_front();
                        }
                    }
                    if queue.is_empty() {
                        level.remove();
                    }
                }
                if qty > 0 {
                    let book = match o.side {
                        Side::Buy => &mut self.bids,
                        Side::Sell => &mut self.asks,
                    };
                    book.entry(price).or_default().push_back((id, qty));
                    self.by_cl
                        .insert((o.participant, o.cl_ord_id), (o.side, price, id));
                }
            }
            Input::Cancel(c) => {
                let OrderRef::ClOrdId(cl) = c.target else {
                    return;
                };
                let Some((side, price, id)) = self.by_cl.remove(&(c.participant, cl)) else {
                    return;
                };
                let book = match side {
                    Side::Buy => &mut self.bids,
                    Side::Sell => &mut self.asks,
                };
                if let Some(queue) = book.get_mut(&price) {
                    if let Some(pos) = queue.iter().position(|(oid, _)| *oid == id) {
                        queue.remove(pos);
                    }
                    if queue.is_empty() {
                        book.remove(&price);
                    }
                }
            }
            _ => {}
        }
    }
}
