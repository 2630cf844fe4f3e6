//! The venue's matching core: instruments, order books, price-time matching,
//! pre-trade checks and the state they live in. No I/O, no clock, no
//! randomness, no iteration over hash maps: the same inputs always give the
//! same events and the same [`Engine::state_hash`].
//!
//! One entry point, [`Engine::apply`], takes a sequenced, timestamped
//! [`Input`] and writes [`Event`]s into a caller's [`EventSink`]. The caller
//! (the sequencer loop) journals the input before applying it.
//!
//! # Semantics
//!
//! This section is the contract; the differential test's reference model is
//! written from it alone.
//!
//! ## Identifiers and counters
//! - `OrderId`s are assigned at acceptance from 1, strictly increasing.
//! - `TradeId`s are assigned per trade from 1, strictly increasing.
//! - Each [`ExecutionReport`] gets `ExecId { seq, idx }`: the input's sequence
//!   number and a counter of execution reports within that input, from 0.
//!   Other events do not use an index.
//! - The reference price of an instrument is its last trade price, or the
//!   configured reference price before the first trade. The collar band is
//!   `Collar::band(reference)`; with no collar or no reference there is no band.
//!
//! ## New order
//! Checks, in this order; the first that fails rejects with an execution
//! report `ExecType::Rejected`/`OrdStatus::Rejected` and changes nothing:
//! unknown participant; unknown instrument; order type not allowed; time in
//! force not allowed; quantity zero, below minimum, above maximum; limit price
//! missing (limit, stop-limit) or unexpected (market, stop); stop price
//! missing (stop, stop-limit) or unexpected (limit, market); a stop type with
//! IOC or FOK (`InvalidTifForOrder`); GTD without expire time, or with one at
//! or before the input's time; display quantity given for a type other than
//! limit and stop-limit, a time in force that cannot rest, or not below the
//! order quantity; minimum quantity given without IOC or above the order
//! quantity; post-only on a type other than limit or with a time in force that
//! cannot rest; a limit order's price outside the band; notional
//! (`|price| * qty` at the limit price, the stop price for a stop, the
//! reference price for a market order, unchecked without one) above the
//! maximum; a ClOrdID already used by a live or today's order of the
//! participant (the report's `order_id` names that order); a post-only order
//! whose price reaches the best opposite level. A reject's fields echo the
//! input (prices, quantity as order quantity, expire time as given), with
//! leaves and cumulative quantity zero.
//!
//! An accepted order gets the next `OrderId`, its ClOrdID is registered, and
//! `ExecType::New` is reported. Day orders expire at the first configured day
//! end strictly after the input's time; GTD at their expire time. Then:
//! - stop and stop-limit orders wait in the instrument's stop book, and the
//!   stop triggers are scanned (below);
//! - other orders match (below), then: a market order's rest is cancelled
//!   (`PriceCollar` if the band stopped it, else `IocRemainder`); an IOC's rest
//!   is cancelled (`IocRemainder`); a limit order that may rest joins the back
//!   of its price level and that level is reported; then the stop triggers are
//!   scanned.
//!
//! ## Matching an incoming order
//! The band is taken once, when the order starts matching. The order trades
//! against the opposite side's best level while that level's price is within
//! its limit (if any) and does not lie beyond the band in the direction the
//! order sweeps: a buy trades up to the band's high edge, a sell down to its
//! low edge (a market order stopped there remembers it for its cancel
//! reason). A level beyond the near edge (a bid above the band, say, left
//! there when the band moved) is a better price for the incoming order and
//! trades: stopping there would freeze the book, since no trade could move the
//! band back. Within a level, orders are taken from
//! the front of the queue:
//! - a resting order whose expire time is at or before the input's time is
//!   expired first (`ExecType::Expired`, reason `Expired`);
//! - a resting order of the same participant, unless the participant's STP
//!   mode is `None`: `CancelResting` cancels the resting order (reason
//!   `SelfTradePrevention`) and goes on; `CancelAggressing` stops matching and
//!   the incoming order is cancelled; `CancelBoth` cancels the resting order,
//!   stops matching and cancels the incoming one; `DecrementBoth` takes
//!   `d = min(both leaves)` off both: a side left with nothing is cancelled
//!   (resting first), a side left with something is restated
//!   (`ExecType::Restated`, order quantity reduced by `d`); if the incoming
//!   order was cancelled, matching stops;
//! - otherwise a trade of `min(incoming leaves, resting displayed quantity)`
//!   at the level's price, reported as [`TradePrint`], then the incoming
//!   order's `ExecType::Trade` (aggressor), then the resting order's. A
//!   resting iceberg whose displayed part is used up but has more reserve
//!   shows `min(display, leaves)` again at the back of the level.
//!
//! When the incoming order leaves a level (its leaves are done, matching
//! stopped, or the level emptied), that level's new aggregate is reported as
//! [`BookLevel`]. An incoming order cancelled by STP is reported after that.
//!
//! Fill-or-kill orders, and IOC orders with a minimum quantity, are checked
//! before they trade: walking the opposite levels best first within limit and
//! band (as above: up to the far edge), if a level holds a not-yet-expired order of the same participant
//! whose STP mode would cancel or decrement the incoming order, and the
//! quantity needed is not already covered by better levels, the order is
//! cancelled (`SelfTradePrevention`); otherwise the levels' leaves (iceberg
//! reserves included, expired orders and own orders under `CancelResting`
//! excluded) are summed, and if they do not cover the full quantity (FOK) or
//! the minimum (IOC), the order is cancelled (`FokNotFilled`, `MinQtyNotMet`)
//! without trading.
//!
//! ## Stops
//! A buy stop triggers when the last trade price is at or above its stop
//! price, a sell stop at or below. After an order is accepted or replaced,
//! and after each triggered order's matching, every stop of that instrument
//! whose condition holds is moved to the triggered set. Triggered stops run
//! one at a time, lowest `OrderId` first: an expired one is expired instead;
//! otherwise `ExecType::Triggered` is reported, a stop becomes a market order
//! and a stop-limit a limit order (cancelled with `PriceCollar` if its limit is
//! outside the band), and it matches as an incoming order would.
//!
//! ## Cancel, replace, mass cancel, status
//! - Cancel checks: unknown participant, unknown order (another participant's
//!   order is unknown), order no longer live (`TooLateToCancel`), duplicate
//!   ClOrdID; each answered with a [`CancelReject`]. On success the request's
//!   ClOrdID becomes the order's, `ExecType::Canceled` (reason
//!   `ClientRequest`) is reported, then the level if the order was resting.
//! - Replace checks: as cancel, then quantity zero, below minimum, above
//!   maximum; a limit price for a type without one; a stop price for a type
//!   without one or for a stop already triggered; new quantity at or below
//!   the filled quantity; a changed limit price of a limit (or triggered
//!   stop-limit) order outside the band; notional at the new values; duplicate
//!   ClOrdID; post-only whose new price reaches the best opposite level.
//!   Leaves become `new quantity - filled`. A resting order whose price is
//!   unchanged and whose quantity is not increased keeps its place:
//!   `ExecType::Replaced`, then its level. Otherwise it leaves its level:
//!   `ExecType::Replaced`, the old level, then it matches as an incoming
//!   order and rests at the back of its new level (reported), then stop
//!   triggers are scanned. An untriggered stop is updated in place,
//!   `ExecType::Replaced` is reported, then triggers are scanned.
//! - Mass cancel: the participant's live orders (resting and untriggered
//!   stops), filtered by instrument, side and time in force (each optional),
//!   in `OrderId` order: each
//!   `ExecType::Canceled` (reason `MassCancel`) then its level if it was
//!   resting; finally a [`MassCancelReport`] with the count (or the reject
//!   reason for an unknown participant or instrument).
//! - Status: an `ExecType::OrderStatus` report of the order's current state,
//!   live or finished today (its reason is the cancel or expiry reason of a
//!   finished order, `Reason::None` otherwise). An unknown order (or
//!   participant) gets `OrdStatus::Rejected` with reason `UnknownOrder`
//!   (`UnknownParticipant`), the ClOrdID or OrderID asked for (the other one
//!   empty or `OrderId::NONE`), instrument 0, side buy, type limit, GTC, no
//!   prices and zero quantities.
//! - Mass status: one `ExecType::OrderStatus` report per live order of the
//!   participant (optionally of one instrument and one side), by OrderId.
//!   None found, an unknown participant or an unknown instrument gives one
//!   report as for an unknown order, with `OrderId::NONE` and reason
//!   `UnknownOrder`, `UnknownParticipant` or `UnknownInstrument`. Changes
//!   nothing.
//!
//! ## Checkpoint
//! Changes nothing and emits nothing. It carries the live engine's
//! `state_hash()` before it (or, in journals written before input format 2,
//! its `encoding_hash()`: see `HashScheme`), for replays to compare.
//!
//! ## Clock tick
//! Live orders (resting or stops) whose expire time is at or before the tick's
//! time expire in (expire time, `OrderId`) order: `ExecType::Expired`, then the
//! level if resting. Then finished orders whose trading day has ended (the
//! first day end strictly after the time they finished is at or before the
//! tick) are forgotten, with their ClOrdIDs: a later status request for them
//! answers `UnknownOrder`, and their ClOrdIDs may be used again.
//!
//! # Complexity
//! Price levels are kept per side in a sorted vector with the best price at
//! the end: finding a level is a binary search, adding or removing one near
//! the top of the book is a short move. Orders at a level form an intrusive
//! doubly linked list in a slab, so cancelling any order is O(1) after the
//! level search. ClOrdID and OrderID lookups are hash lookups (no iteration).
//!
//! # Known limitations
//! - Day orders expire at one configured UTC time of day; trading calendars
//!   and time zones belong to the configuration issue.
//! - Expiry happens on clock ticks and, lazily, when an incoming order meets
//!   an expired resting order; between ticks an expired order can still be
//!   cancelled or replaced.

// `unsafe` is allowed in three modules alone: the prefetch hint in
// `prefetch.rs`, the huge-page advice in `hugepage.rs` and the outbound
// ring's slots in `ring.rs` (each block with its safety argument).
#![deny(unsafe_code)]

mod book;
mod chunked;
pub mod codec;
pub mod config;
mod controls;
mod engine;
pub mod event;
mod hugepage;
pub mod inbound;
pub mod input;
pub mod metrics;
mod prefetch;
pub mod reason;
pub mod ring;
pub mod sequencer;
mod store;
pub mod types;

#[cfg(test)]
mod tests;

pub use crate::codec::{DecodeError, InputBuf, SnapshotError, decode_input, encode_input};
pub use crate::config::{
    Collar, ConfigError, CreditLimit, Decimal, EngineConfig, InstrumentSpec, OrdTypeSet,
    ParticipantSpec, Permissions, TifSet, TradingHours, VolatilityGuard,
};
pub use crate::engine::{ChunkFeeder, Engine, Lookahead, PREFETCH_DISTANCE};
pub use crate::event::{
    AdminReport, BookLevel, CancelReject, CxlRejResponseTo, Event, EventSink, ExecType,
    ExecutionReport, InstrumentStatus, MassCancelReport, NullSink, OrdStatus, Reason, StatusCause,
    TradePrint,
};
pub use crate::input::{
    AdminAction, Cancel, HashScheme, Input, MassCancel, MassStatusRequest, NewOrder, OrderRef,
    OrderStatusRequest, Replace,
};
pub use crate::reason::{CancelReason, RejectReason};
pub use crate::types::{
    ClOrdId, ExecId, InstrumentId, OrdType, OrderId, ParticipantId, Phase, PriceTicks, QtyLots,
    Side, StpMode, TimeInForce, TimeNs, TradeId,
};

/// The engine crate's version, printed by `venue run`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
