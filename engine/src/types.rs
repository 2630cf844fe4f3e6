//! The market's vocabulary: identifiers, sides, order types, time in force.
//!
//! Every type here is `Copy` and fixed-size so that inputs and events can be
//! moved through rings and journals without allocation. Names follow FIX 4.4
//! (`ClOrdId`, `OrdType`, `TimeInForce`, `ExecType`, `OrdStatus`) so that a FIX
//! developer recognises each one; the numeric FIX codes live in the gateway.

use std::fmt;

/// A price in integer ticks of the instrument's tick size. Signed: rates and
/// spreads can be negative.
pub type PriceTicks = i64;

/// A quantity in integer lots of the instrument's lot size.
pub type QtyLots = u64;

/// Nanoseconds since the Unix epoch, UTC. Time only ever enters the engine
/// with a sequenced input; the engine never reads a clock.
pub type TimeNs = u64;

/// The venue's id for an instrument, stable across restarts (it is journaled).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct InstrumentId(pub u32);

/// The venue's id for a participant (a firm trading on the venue), stable
/// across restarts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ParticipantId(pub u32);

/// The venue's id for an order: assigned at acceptance, strictly increasing,
/// never reused. `OrderId(0)` means "no order" (for example on the reject of
/// a new order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct OrderId(pub u64);

impl OrderId {
    /// "No order".
    pub const NONE: OrderId = OrderId(0);
}

/// The venue's id for a trade: strictly increasing, shared by both sides'
/// execution reports and the public trade print.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TradeId(pub u64);

/// The id of one execution report: the sequence number of the input that
/// caused it and its index among that input's execution reports. Unique
/// without any counter in the engine state, so even a reject (which must not
/// change state) carries a unique id. The gateway renders it as `SEQ-IDX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ExecId {
    /// Sequence number of the causing input.
    pub seq: u64,
    /// Index of this report among the input's execution reports, from 0.
    pub idx: u32,
}

impl fmt::Display for ExecId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.seq, self.idx)
    }
}

/// Buy or sell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Side {
    /// Buy (bid).
    Buy = 1,
    /// Sell (ask, offer).
    Sell = 2,
}

impl Side {
    /// The other side.
    #[must_use]
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// Decodes the wire value written by `as u8`.
    #[must_use]
    pub fn from_u8(v: u8) -> Option<Side> {
        match v {
            1 => Some(Side::Buy),
            2 => Some(Side::Sell),
            _ => None,
        }
    }
}

/// Order type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum OrdType {
    /// Trades at its limit price or better; the rest rests (per time in force).
    Limit = 1,
    /// Trades at the best prices available inside the collar; never rests.
    Market = 2,
    /// Becomes a market order when the last trade price reaches the stop price.
    Stop = 3,
    /// Becomes a limit order when the last trade price reaches the stop price.
    StopLimit = 4,
}

impl OrdType {
    /// Every order type, in wire order.
    pub const ALL: [OrdType; 4] = [
        OrdType::Limit,
        OrdType::Market,
        OrdType::Stop,
        OrdType::StopLimit,
    ];

    /// Decodes the wire value written by `as u8`.
    #[must_use]
    pub fn from_u8(v: u8) -> Option<OrdType> {
        OrdType::ALL.into_iter().find(|t| *t as u8 == v)
    }

    /// Whether the type needs a limit price.
    #[must_use]
    pub fn has_limit_price(self) -> bool {
        matches!(self, OrdType::Limit | OrdType::StopLimit)
    }

    /// Whether the type needs a stop price.
    #[must_use]
    pub fn has_stop_price(self) -> bool {
        matches!(self, OrdType::Stop | OrdType::StopLimit)
    }
}

/// Time in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum TimeInForce {
    /// Good till cancelled.
    Gtc = 1,
    /// Expires at the end of the trading day (the configured day end).
    Day = 2,
    /// Good till date: expires at the order's expire time.
    Gtd = 3,
    /// Immediate or cancel: what does not trade at once is cancelled.
    Ioc = 4,
    /// Fill or kill: trades in full at once, or not at all.
    Fok = 5,
}

impl TimeInForce {
    /// Every time in force, in wire order.
    pub const ALL: [TimeInForce; 5] = [
        TimeInForce::Gtc,
        TimeInForce::Day,
        TimeInForce::Gtd,
        TimeInForce::Ioc,
        TimeInForce::Fok,
    ];

    /// Decodes the wire value written by `as u8`.
    #[must_use]
    pub fn from_u8(v: u8) -> Option<TimeInForce> {
        TimeInForce::ALL.into_iter().find(|t| *t as u8 == v)
    }

    /// Whether an order with this time in force may rest on the book.
    #[must_use]
    pub fn may_rest(self) -> bool {
        matches!(self, TimeInForce::Gtc | TimeInForce::Day | TimeInForce::Gtd)
    }
}

/// The maximum length of a client order id, in bytes. A UUID in text (36
/// bytes) fits with room to spare.
pub const CL_ORD_ID_LEN_MAX: usize = 40;

/// A client order id: up to [`CL_ORD_ID_LEN_MAX`] bytes of printable ASCII,
/// stored inline so that orders and events never allocate.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClOrdId {
    len: u8,
    bytes: [u8; CL_ORD_ID_LEN_MAX],
}

impl ClOrdId {
    /// The empty id ("none"), used where an event has no such id.
    pub const EMPTY: ClOrdId = ClOrdId {
        len: 0,
        bytes: [0; CL_ORD_ID_LEN_MAX],
    };

    /// Builds an id from bytes.
    ///
    /// # Errors
    /// Returns `None` if the id is empty, longer than [`CL_ORD_ID_LEN_MAX`], or
    /// holds a byte outside printable ASCII (0x21..=0x7e).
    #[must_use]
    pub fn new(id: &[u8]) -> Option<ClOrdId> {
        if id.is_empty() || id.len() > CL_ORD_ID_LEN_MAX {
            return None;
        }
        if !id.iter().all(|b| (0x21..=0x7e).contains(b)) {
            return None;
        }
        let mut bytes = [0; CL_ORD_ID_LEN_MAX];
        bytes[..id.len()].copy_from_slice(id);
        Some(ClOrdId {
            len: id.len() as u8,
            bytes,
        })
    }

    /// The id's bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The id as text (always ASCII by construction).
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Construction admits printable ASCII only, which is valid UTF-8.
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// The id as five little-endian words. Every constructor zero-fills the
    /// bytes beyond the length, and an id holds no zero byte, so two ids are
    /// equal exactly when their words are: the ClOrdID index hashes and
    /// compares these, without a loop over the length.
    #[inline]
    pub(crate) fn words(&self) -> [u64; 5] {
        let mut w = [0u64; 5];
        for (w, c) in w.iter_mut().zip(self.bytes.chunks_exact(8)) {
            *w = u64::from_le_bytes(c.try_into().expect("chunks of 8 bytes"));
        }
        w
    }

    /// Whether this is [`ClOrdId::EMPTY`].
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for ClOrdId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClOrdId({:?})", self.as_str())
    }
}

impl fmt::Display for ClOrdId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Self-trade prevention mode of a participant: what happens when its
/// incoming order would trade against one of its own resting orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum StpMode {
    /// Opted out: the participant's own orders may trade with each other.
    None = 0,
    /// Cancel the resting order, keep matching the incoming one.
    CancelResting = 1,
    /// Cancel the rest of the incoming order.
    CancelAggressing = 2,
    /// Cancel both the resting order and the rest of the incoming order.
    CancelBoth = 3,
    /// Reduce both by the smaller leaves quantity; the smaller is cancelled,
    /// the larger is restated with its quantity reduced.
    DecrementBoth = 4,
}

impl StpMode {
    /// Decodes the wire value written by `as u8`.
    #[must_use]
    pub fn from_u8(v: u8) -> Option<StpMode> {
        match v {
            0 => Some(StpMode::None),
            1 => Some(StpMode::CancelResting),
            2 => Some(StpMode::CancelAggressing),
            3 => Some(StpMode::CancelBoth),
            4 => Some(StpMode::DecrementBoth),
            _ => None,
        }
    }
}

/// An instrument's trading phase.
///
/// - `Open`: continuous matching.
/// - `PreOpen`: orders are collected without matching: a limit order that
///   would cross the opposite side, and every market, IOC or FOK order, is
///   rejected; others rest. There is no opening auction, so the book is never
///   crossed when the phase turns to `Open`.
/// - `Halted` (by the operator, or by a volatility interruption): no new
///   orders or replaces; cancels are accepted.
/// - `Closed`: as `Halted`, outside trading hours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Phase {
    /// Continuous matching.
    Open = 1,
    /// Collecting orders without matching.
    PreOpen = 2,
    /// No new orders; cancels accepted.
    Halted = 3,
    /// No new orders; cancels accepted.
    Closed = 4,
}

impl Phase {
    /// Every phase, in code order.
    pub const ALL: [Phase; 4] = [Phase::Open, Phase::PreOpen, Phase::Halted, Phase::Closed];

    /// Decodes the wire value written by `as u8`.
    #[must_use]
    pub fn from_u8(v: u8) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| *p as u8 == v)
    }

    /// The configuration and API name: `open`, `pre_open`, `halted`, `closed`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Phase::Open => "open",
            Phase::PreOpen => "pre_open",
            Phase::Halted => "halted",
            Phase::Closed => "closed",
        }
    }

    /// The phase with that [`Phase::name`].
    #[must_use]
    pub fn from_name(name: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cl_ord_id_accepts_printable_ascii_only() {
        assert_eq!(ClOrdId::new(b"ABC-123").map(|c| c.len), Some(7));
        assert!(ClOrdId::new(b"").is_none());
        assert!(ClOrdId::new(b"a b").is_none());
        assert!(ClOrdId::new(b"a\x01b").is_none());
        assert!(ClOrdId::new(&[b'x'; CL_ORD_ID_LEN_MAX]).is_some());
        assert!(ClOrdId::new(&[b'x'; CL_ORD_ID_LEN_MAX + 1]).is_none());
        assert_eq!(ClOrdId::new(b"Z9").unwrap().as_str(), "Z9");
    }

    #[test]
    fn enums_round_trip_through_wire_values() {
        for t in OrdType::ALL {
            assert_eq!(OrdType::from_u8(t as u8), Some(t));
        }
        for t in TimeInForce::ALL {
            assert_eq!(TimeInForce::from_u8(t as u8), Some(t));
        }
        assert_eq!(Side::from_u8(Side::Sell as u8), Some(Side::Sell));
        assert_eq!(Side::from_u8(0), None);
        assert_eq!(OrdType::from_u8(9), None);
        assert_eq!(StpMode::from_u8(4), Some(StpMode::DecrementBoth));
        assert_eq!(StpMode::from_u8(5), None);
    }
}
