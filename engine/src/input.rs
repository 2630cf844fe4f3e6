//! Inputs: everything the matching loop acts on.
//!
//! An input is journaled before it is applied, so every variant is `Copy`,
//! fixed-size and has a compact binary encoding ([`crate::codec`]). The
//! sequence number and time are not part of the input: the sequencer assigns
//! them and passes them to [`crate::Engine::apply`] beside it.

use crate::types::{
    ClOrdId, InstrumentId, OrdType, OrderId, ParticipantId, Phase, PriceTicks, QtyLots, Side,
    TimeInForce, TimeNs,
};

/// A reference to an existing order of the requesting participant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderRef {
    /// By any ClOrdID the order has had today (the original, or one given by a
    /// replace or cancel request).
    ClOrdId(ClOrdId),
    /// By the venue's OrderID.
    OrderId(OrderId),
}

/// A new order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NewOrder {
    /// Who sends it.
    pub participant: ParticipantId,
    /// What it trades.
    pub instrument: InstrumentId,
    /// The client's id, unique among the participant's live and today's orders.
    pub cl_ord_id: ClOrdId,
    /// Buy or sell.
    pub side: Side,
    /// Limit, market, stop or stop-limit.
    pub ord_type: OrdType,
    /// Time in force.
    pub tif: TimeInForce,
    /// Limit price: required for limit and stop-limit, refused otherwise.
    pub price_ticks: Option<PriceTicks>,
    /// Stop price: required for stop and stop-limit, refused otherwise.
    pub stop_price_ticks: Option<PriceTicks>,
    /// Order quantity.
    pub qty_lots: QtyLots,
    /// Iceberg display quantity; 0 for a fully displayed order.
    pub display_qty_lots: QtyLots,
    /// Minimum quantity to fill at once (IOC only); 0 for none.
    pub min_qty_lots: QtyLots,
    /// Post-only: rejected if it would take liquidity.
    pub post_only: bool,
    /// Expire time for GTD; ignored otherwise.
    pub expire_time_ns: Option<TimeNs>,
}

/// Cancel a live order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cancel {
    /// Who sends it (only its own orders can be cancelled).
    pub participant: ParticipantId,
    /// The cancel request's own ClOrdID; on success it becomes the order's
    /// ClOrdID, as in FIX.
    pub cl_ord_id: ClOrdId,
    /// The order to cancel.
    pub target: OrderRef,
}

/// Cancel/replace a live order: new quantity, and new prices where given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Replace {
    /// Who sends it (only its own orders can be replaced).
    pub participant: ParticipantId,
    /// The replace request's own ClOrdID; it becomes the order's ClOrdID.
    pub cl_ord_id: ClOrdId,
    /// The order to replace.
    pub target: OrderRef,
    /// New total order quantity (filled quantity included).
    pub qty_lots: QtyLots,
    /// New limit price; `None` keeps the current one.
    pub price_ticks: Option<PriceTicks>,
    /// New stop price (untriggered stops only); `None` keeps the current one.
    pub stop_price_ticks: Option<PriceTicks>,
}

/// Cancel every live order of a participant, optionally of one instrument
/// and one side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MassCancel {
    /// Whose orders.
    pub participant: ParticipantId,
    /// The request's id, echoed in the report (not checked for uniqueness: a
    /// mass cancel is idempotent by nature).
    pub cl_ord_id: ClOrdId,
    /// Only this instrument, if given.
    pub instrument: Option<InstrumentId>,
    /// Only this side, if given.
    pub side: Option<Side>,
    /// Only orders with this time in force, if given (cancel-on-disconnect
    /// of Day orders).
    pub tif: Option<TimeInForce>,
}

/// Ask for the current state of an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OrderStatusRequest {
    /// Who asks (only its own orders are visible).
    pub participant: ParticipantId,
    /// The order.
    pub target: OrderRef,
}

/// Ask for the current state of every live order of a participant,
/// optionally of one instrument and one side (FIX OrderMassStatusRequest).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MassStatusRequest {
    /// Whose orders (only its own are visible).
    pub participant: ParticipantId,
    /// Only this instrument, if given.
    pub instrument: Option<InstrumentId>,
    /// Only this side, if given.
    pub side: Option<Side>,
}

/// An operator's action (the admin API). Journaled like any input, so the
/// audit trail and a replay include it; answered with an
/// [`crate::Event::AdminReport`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AdminAction {
    /// Put an instrument in a phase (halt: `Halted`; resume: `Open`). Ends a
    /// volatility pause early.
    SetPhase {
        /// Which instrument.
        instrument: InstrumentId,
        /// The new phase.
        phase: Phase,
    },
    /// Engage (cancel every live order of the participant and refuse new
    /// ones) or reset a participant's kill switch.
    KillSwitch {
        /// Whose.
        participant: ParticipantId,
        /// Engage (`true`) or reset (`false`).
        engaged: bool,
    },
    /// Cancel every live order that passes the filters (all participants'
    /// when none is given).
    MassCancel {
        /// Only this participant's orders, if given.
        participant: Option<ParticipantId>,
        /// Only this instrument's, if given.
        instrument: Option<InstrumentId>,
        /// Only this side's, if given.
        side: Option<Side>,
    },
    /// Change a participant's credit limit on one instrument (`None`: no
    /// limit). Orders already open stay; new ones are checked against it.
    SetCreditLimit {
        /// Whose.
        participant: ParticipantId,
        /// On what.
        instrument: InstrumentId,
        /// Largest open notional in tick-lots, or `None` for no limit.
        max_open_notional_tick_lots: Option<u64>,
    },
    /// Change a participant's message rate limit (the gateways apply it to
    /// every session and connection of the participant; the engine keeps it
    /// so that it outlives restarts).
    SetRateLimit {
        /// Whose.
        participant: ParticipantId,
        /// Messages per second (at least 1).
        per_second: u32,
        /// Burst above the rate (at least 1).
        burst: u32,
    },
    /// Write a snapshot now. The engine only acknowledges it; the matching
    /// loop writes the snapshot right after this input.
    SnapshotNow,
}

/// Everything the engine acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Input {
    /// A new order.
    NewOrder(NewOrder),
    /// Cancel an order.
    Cancel(Cancel),
    /// Cancel/replace an order.
    Replace(Replace),
    /// Cancel many orders.
    MassCancel(MassCancel),
    /// Ask for an order's status.
    OrderStatus(OrderStatusRequest),
    /// Ask for the status of many orders.
    MassStatus(MassStatusRequest),
    /// Time passes: expire Day and GTD orders whose time has come, and forget
    /// the previous trading day's finished orders. The time is the input's.
    ClockTick,
    /// A checkpoint: the engine's state hash just before this input, as
    /// the sequencer computed it live. Applying it changes nothing; a replay
    /// computes the same hash at this point and reports a divergence.
    Checkpoint {
        /// The live engine's hash before this input.
        state_hash: u64,
        /// Which hash it is.
        scheme: HashScheme,
    },
    /// An operator's action.
    Admin(AdminAction),
}

/// Which state hash a [`Input::Checkpoint`] carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashScheme {
    /// [`crate::Engine::encoding_hash`]: the hash of the whole state
    /// encoding. What journals written before input format 2 carry.
    Encoding,
    /// [`crate::Engine::state_hash`]: finished orders enter through a
    /// running hash carried forward (when the loop is idle, and at each
    /// checkpoint). What the sequencer writes.
    Folded,
}

impl Input {
    /// The participant that sent the input, if any.
    #[must_use]
    pub fn participant(&self) -> Option<ParticipantId> {
        match self {
            Input::NewOrder(o) => Some(o.participant),
            Input::Cancel(c) => Some(c.participant),
            Input::Replace(r) => Some(r.participant),
            Input::MassCancel(m) => Some(m.participant),
            Input::OrderStatus(s) => Some(s.participant),
            Input::MassStatus(s) => Some(s.participant),
            Input::ClockTick | Input::Checkpoint { .. } | Input::Admin(_) => None,
        }
    }

    /// The request's own client id, for the inputs that carry one.
    #[must_use]
    pub fn cl_ord_id(&self) -> Option<ClOrdId> {
        match self {
            Input::NewOrder(o) => Some(o.cl_ord_id),
            Input::Cancel(c) => Some(c.cl_ord_id),
            Input::Replace(r) => Some(r.cl_ord_id),
            Input::MassCancel(m) => Some(m.cl_ord_id),
            Input::OrderStatus(_)
            | Input::MassStatus(_)
            | Input::ClockTick
            | Input::Checkpoint { .. }
            | Input::Admin(_) => None,
        }
    }
}
