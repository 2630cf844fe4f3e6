//! Events: what the engine emits while applying an input.
//!
//! Events go into a caller-provided [`EventSink`] in a defined order (see the
//! crate docs). They are self-contained (an execution report carries the
//! ClOrdIDs, quantities and prices a FIX `ExecutionReport` needs) so that the
//! gateways never have to look into the engine. Private events (execution
//! reports, cancel rejects, mass cancel reports) belong to one participant;
//! [`BookLevel`] and [`TradePrint`] are public market data, and carry no
//! participant.

use crate::input::AdminAction;
use crate::reason::{CancelReason, RejectReason};
use crate::types::{
    ClOrdId, ExecId, InstrumentId, OrdType, OrderId, ParticipantId, Phase, PriceTicks, QtyLots,
    Side, TimeInForce, TimeNs, TradeId,
};

/// Execution report type (FIX `ExecType`, tag 150).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ExecType {
    /// Order accepted.
    New = 1,
    /// A fill (partial or full; see [`OrdStatus`]).
    Trade = 2,
    /// Order cancelled (by request, IOC/FOK remainder, STP, collar, mass cancel).
    Canceled = 3,
    /// Order replaced.
    Replaced = 4,
    /// Input rejected.
    Rejected = 5,
    /// Order expired (Day or GTD).
    Expired = 6,
    /// Order quantity reduced by the venue (self-trade prevention's decrement).
    Restated = 7,
    /// A stop order was triggered.
    Triggered = 8,
    /// Answer to a status request.
    OrderStatus = 9,
}

/// Order status (FIX `OrdStatus`, tag 39).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OrdStatus {
    /// Live, nothing filled.
    New = 1,
    /// Live, partly filled.
    PartiallyFilled = 2,
    /// Filled in full.
    Filled = 3,
    /// Cancelled.
    Canceled = 4,
    /// Expired.
    Expired = 5,
    /// Rejected (or unknown, in answer to a status request).
    Rejected = 6,
}

impl OrdStatus {
    /// Every status, in code order.
    pub const ALL: [OrdStatus; 6] = [
        OrdStatus::New,
        OrdStatus::PartiallyFilled,
        OrdStatus::Filled,
        OrdStatus::Canceled,
        OrdStatus::Expired,
        OrdStatus::Rejected,
    ];

    /// Whether the order can still trade.
    #[must_use]
    pub fn is_live(self) -> bool {
        matches!(self, OrdStatus::New | OrdStatus::PartiallyFilled)
    }
}

/// Why a report was sent, where there is a why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// No reason applies.
    None,
    /// The input was rejected.
    Reject(RejectReason),
    /// The order was cancelled or expired.
    Cancel(CancelReason),
}

/// An execution report to the order's owner (FIX `ExecutionReport`, 35=8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExecutionReport {
    /// Unique id of this report.
    pub exec_id: ExecId,
    /// What happened.
    pub exec_type: ExecType,
    /// The order's status after it happened.
    pub ord_status: OrdStatus,
    /// The order's owner.
    pub participant: ParticipantId,
    /// The order's instrument.
    pub instrument: InstrumentId,
    /// The venue's id; [`OrderId::NONE`] on a rejected new order, except that
    /// a `DuplicateClOrdId` reject names the existing order. A status answer
    /// for an unknown order echoes the OrderID asked for (`NONE` when it was
    /// asked for by ClOrdID).
    pub order_id: OrderId,
    /// The ClOrdID of the input that caused this report (the order's current one).
    pub cl_ord_id: ClOrdId,
    /// The previous ClOrdID, on a replace or cancel; empty otherwise.
    pub orig_cl_ord_id: ClOrdId,
    /// Side.
    pub side: Side,
    /// The order type as entered.
    pub ord_type: OrdType,
    /// Time in force.
    pub tif: TimeInForce,
    /// Limit price, if the order has one.
    pub price_ticks: Option<PriceTicks>,
    /// Stop price, if the order has one.
    pub stop_price_ticks: Option<PriceTicks>,
    /// Order quantity (reduced by a replace or an STP decrement).
    pub order_qty_lots: QtyLots,
    /// Quantity still open; 0 once the order is done.
    pub leaves_qty_lots: QtyLots,
    /// Quantity filled so far.
    pub cum_qty_lots: QtyLots,
    /// Sum over fills of price times quantity, for the gateway to compute the
    /// average price exactly.
    pub cum_notional_tick_lots: i128,
    /// This fill's quantity (0 unless a trade).
    pub last_qty_lots: QtyLots,
    /// This fill's price (0 unless a trade).
    pub last_px_ticks: PriceTicks,
    /// This fill's trade (none unless a trade).
    pub trade_id: TradeId,
    /// Whether this fill took liquidity (the order was the aggressor).
    pub aggressor: bool,
    /// Expire time of a GTD or Day order.
    pub expire_time_ns: Option<TimeNs>,
    /// Why, for rejects, cancels and expiries.
    pub reason: Reason,
}

/// Which request a [`CancelReject`] answers (FIX `CxlRejResponseTo`, tag 434).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CxlRejResponseTo {
    /// An order cancel request.
    Cancel = 1,
    /// An order cancel/replace request.
    Replace = 2,
}

/// A rejected cancel or replace (FIX `OrderCancelReject`, 35=9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CancelReject {
    /// The requester.
    pub participant: ParticipantId,
    /// The request's ClOrdID.
    pub cl_ord_id: ClOrdId,
    /// The target's ClOrdID as given, or empty when the target was an OrderID.
    pub orig_cl_ord_id: ClOrdId,
    /// The target order, when it is known to this participant.
    pub order_id: OrderId,
    /// Its status, when known; `Rejected` when unknown.
    pub ord_status: OrdStatus,
    /// Which request this answers.
    pub response_to: CxlRejResponseTo,
    /// Why.
    pub reason: RejectReason,
}

/// The result of a mass cancel (FIX `OrderMassCancelReport`, 35=r).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MassCancelReport {
    /// Whose orders.
    pub participant: ParticipantId,
    /// The request's id.
    pub cl_ord_id: ClOrdId,
    /// The instrument filter, if any.
    pub instrument: Option<InstrumentId>,
    /// The side filter, if any.
    pub side: Option<Side>,
    /// How many orders were cancelled.
    pub cancelled_count: u32,
    /// Why the request was refused (unknown participant or instrument), if it was.
    pub reject: Option<RejectReason>,
}

/// Why an instrument's phase changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusCause {
    /// The operator set it.
    Operator,
    /// A volatility interruption halted it.
    VolatilityInterruption,
    /// The volatility pause ended.
    PauseEnded,
    /// The trading hours' schedule.
    Schedule,
}

/// An instrument's phase changed (public: FIX and WebSocket clients are told).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InstrumentStatus {
    /// Which instrument.
    pub instrument: InstrumentId,
    /// Its phase now.
    pub phase: Phase,
    /// Why.
    pub cause: StatusCause,
    /// When a volatility halt ends by itself (ns since the epoch); 0 if it
    /// does not.
    pub resume_at_ns: TimeNs,
}

/// The answer to an operator's action, to the operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AdminReport {
    /// The action.
    pub action: AdminAction,
    /// Why it was refused, if it was; a refused action changed nothing.
    pub reject: Option<RejectReason>,
    /// Orders it cancelled.
    pub cancelled_count: u32,
}

/// A change of one price level's aggregate (level-2 market data): the level's
/// displayed quantity and order count after the change; both 0 when the level
/// is gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BookLevel {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Side of the book.
    pub side: Side,
    /// Level price.
    pub price_ticks: PriceTicks,
    /// Displayed quantity at the level (iceberg reserves excluded).
    pub qty_lots: QtyLots,
    /// Orders at the level.
    pub order_count: u32,
}

/// A trade (public print, with both sides for the audit trail; the gateway
/// strips the sides before publishing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TradePrint {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Trade id.
    pub trade_id: TradeId,
    /// Price (the resting order's).
    pub price_ticks: PriceTicks,
    /// Quantity.
    pub qty_lots: QtyLots,
    /// Side of the incoming (aggressing) order.
    pub aggressor_side: Side,
    /// Buy order.
    pub buy_order_id: OrderId,
    /// Sell order.
    pub sell_order_id: OrderId,
    /// Buyer.
    pub buyer: ParticipantId,
    /// Seller.
    pub seller: ParticipantId,
}

/// Everything the engine emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// To the order's owner.
    Exec(ExecutionReport),
    /// To the requester.
    CancelReject(CancelReject),
    /// To the requester.
    MassCancelReport(MassCancelReport),
    /// Public level-2 change.
    BookLevel(BookLevel),
    /// Public trade (sides for the audit trail only).
    Trade(TradePrint),
    /// Public: an instrument's phase changed.
    InstrumentStatus(InstrumentStatus),
    /// To the operator.
    AdminReport(AdminReport),
}

/// Where the engine puts events. Called synchronously, in order, during
/// [`crate::Engine::apply`]; the sink must not fail (it copies into a buffer
/// or a ring that was sized for it).
pub trait EventSink {
    /// Takes one event.
    fn event(&mut self, event: &Event);
}

impl EventSink for Vec<Event> {
    fn event(&mut self, event: &Event) {
        self.push(*event);
    }
}

/// A sink that drops everything; for callers that only want the state.
#[derive(Clone, Copy, Debug, Default)]
pub struct NullSink;

impl EventSink for NullSink {
    fn event(&mut self, _event: &Event) {}
}
