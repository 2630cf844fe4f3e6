//! The book of one instrument as the engine holds it: level 2 (price,
//! displayed quantity, order count per level, best first) and, on request,
//! level 3 (every resting order in queue order, its owner, displayed and
//! leaves quantity).

use engine::{Engine, InstrumentId, Side};
use serde::{Deserialize, Serialize};

use crate::incident::names::Names;
use crate::incident::source::utc_us;

/// A resting order in its level's queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedOrder {
    /// Position in the queue, from 1 (first to trade).
    pub position: u32,
    /// The venue's OrderID.
    pub order_id: u64,
    /// The owner's name.
    pub participant: String,
    /// The owner's venue id.
    pub participant_id: u32,
    /// Displayed quantity (an iceberg's visible part).
    pub shown: String,
    /// Displayed quantity in lots.
    pub shown_lots: u64,
    /// Quantity still open (reserve included).
    pub leaves: String,
    /// Open quantity in lots.
    pub leaves_lots: u64,
}

/// One price level.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelView {
    /// Price (decimal).
    pub price: String,
    /// Price in ticks.
    pub price_ticks: i64,
    /// Displayed quantity (decimal).
    pub qty: String,
    /// Displayed quantity in lots.
    pub qty_lots: u64,
    /// Orders at the level.
    pub order_count: u32,
    /// The queue, front first (level 3 only; empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orders: Vec<QueuedOrder>,
}

/// One instrument's book after one input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookView {
    /// Right after this input.
    pub seq: u64,
    /// Its time (UTC, microseconds).
    pub time: String,
    /// Its time in ns.
    pub time_ns: u64,
    /// The instrument.
    pub symbol: String,
    /// The engine's state hash at that point.
    pub state_hash: String,
    /// Bids, best (highest) first.
    pub bids: Vec<LevelView>,
    /// Asks, best (lowest) first.
    pub asks: Vec<LevelView>,
}

impl BookView {
    /// The book of `instrument` in `engine` (which is at `seq`, `time_ns`),
    /// `depth` levels a side (0: all), with queues when `orders`.
    #[must_use]
    pub fn of(
        engine: &Engine,
        names: &Names,
        instrument: InstrumentId,
        (seq, time_ns): (u64, u64),
        depth: usize,
        orders: bool,
    ) -> BookView {
        let side = |side: Side| -> Vec<LevelView> {
            let levels = engine.book_levels(instrument, side);
            let take = if depth == 0 { levels.len() } else { depth };
            levels
                .into_iter()
                .take(take)
                .map(|l| LevelView {
                    price: names.price(instrument, l.price_ticks),
                    price_ticks: l.price_ticks,
                    qty: names.qty(instrument, l.qty_lots),
                    qty_lots: l.qty_lots,
                    order_count: l.order_count,
                    orders: if orders {
                        engine
                            .level_queue(instrument, side, l.price_ticks)
                            .into_iter()
                            .zip(1u32..)
                            .map(|((id, owner, shown, leaves), position)| QueuedOrder {
                                position,
                                order_id: id.0,
                                participant: names.participant(owner),
                                participant_id: owner.0,
                                shown: names.qty(instrument, shown),
                                shown_lots: shown,
                                leaves: names.qty(instrument, leaves),
                                leaves_lots: leaves,
                            })
                            .collect()
                    } else {
                        Vec::new()
                    },
                })
                .collect()
        };
        BookView {
            seq,
            time: utc_us(time_ns),
            time_ns,
            symbol: names.symbol(instrument),
            state_hash: format!("{:016x}", engine.state_hash()),
            bids: side(Side::Buy),
            asks: side(Side::Sell),
        }
    }
}
