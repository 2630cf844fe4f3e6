//! Stable reason codes for rejects and cancels.
//!
//! The numeric values are part of the venue's external contract (they reach
//! clients in FIX `Text`/custom tags and in WebSocket error codes, and they are
//! written to journals and snapshots): never renumber, only append.

/// Why an input was rejected. A rejected input never changes engine state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum RejectReason {
    /// The instrument id is not configured.
    UnknownInstrument = 1,
    /// The participant id is not configured.
    UnknownParticipant = 2,
    /// No live or recent order of this participant has that id. Also the
    /// answer for another participant's order: tenants never learn of each
    /// other's orders.
    UnknownOrder = 3,
    /// The ClOrdID is already used by a live or today's order of this
    /// participant; the report names that order's OrderID.
    DuplicateClOrdId = 4,
    /// Quantity is zero.
    InvalidQty = 5,
    /// Quantity is below the instrument's minimum.
    QtyBelowMin = 6,
    /// Quantity is above the instrument's maximum.
    QtyAboveMax = 7,
    /// Price times quantity is above the instrument's maximum order notional.
    NotionalAboveMax = 8,
    /// The limit price is outside the instrument's price collar.
    PriceOutsideCollar = 9,
    /// The order type needs a limit price and none was given.
    MissingPrice = 10,
    /// A limit price was given for an order type that has none (market, stop).
    UnexpectedPrice = 11,
    /// The order type needs a stop price and none was given.
    MissingStopPrice = 12,
    /// The instrument does not allow this order type.
    OrdTypeNotAllowed = 13,
    /// The instrument does not allow this time in force.
    TifNotAllowed = 14,
    /// This time in force cannot be combined with this order type (a stop or
    /// stop-limit with IOC or FOK). Post-only and iceberg orders that cannot
    /// rest get `InvalidPostOnly` and `InvalidDisplayQty`.
    InvalidTifForOrder = 15,
    /// GTD without an expire time.
    MissingExpireTime = 16,
    /// GTD with an expire time at or before the input's time.
    ExpireTimeInPast = 17,
    /// Display quantity is zero or not below the order quantity, or given for
    /// an order type that cannot rest.
    InvalidDisplayQty = 18,
    /// Minimum quantity given without IOC, or above the order quantity.
    InvalidMinQty = 19,
    /// A post-only order would have taken liquidity.
    PostOnlyWouldTake = 20,
    /// Post-only on an order type other than limit.
    InvalidPostOnly = 21,
    /// The replace's new quantity is at or below the quantity already filled.
    ReplaceQtyAtOrBelowFilled = 22,
    /// The order is already filled, cancelled or expired.
    TooLateToCancel = 23,
    /// A stop price was given for an order type that has none.
    UnexpectedStopPrice = 24,
    /// The instrument is halted (by the operator or a volatility
    /// interruption): no new orders or replaces until it resumes.
    InstrumentHalted = 25,
    /// The instrument is closed: no new orders or replaces.
    InstrumentClosed = 26,
    /// In pre-open an order may only rest: a limit order that would cross,
    /// or a market, IOC or FOK order, is refused.
    PreOpenWouldMatch = 27,
    /// The operator engaged the participant's kill switch: no new orders or
    /// replaces until it is reset.
    KillSwitchEngaged = 28,
    /// The order would take the participant's open notional on this
    /// instrument above its credit limit.
    CreditLimitExceeded = 29,
    /// An operator request named an unknown participant or instrument, or
    /// asked for something the venue cannot do.
    InvalidAdminRequest = 30,
    /// The participant is not permitted to trade this instrument.
    InstrumentNotPermitted = 31,
}

impl RejectReason {
    /// Every reason, in code order.
    pub const ALL: [RejectReason; 31] = [
        RejectReason::UnknownInstrument,
        RejectReason::UnknownParticipant,
        RejectReason::UnknownOrder,
        RejectReason::DuplicateClOrdId,
        RejectReason::InvalidQty,
        RejectReason::QtyBelowMin,
        RejectReason::QtyAboveMax,
        RejectReason::NotionalAboveMax,
        RejectReason::PriceOutsideCollar,
        RejectReason::MissingPrice,
        RejectReason::UnexpectedPrice,
        RejectReason::MissingStopPrice,
        RejectReason::OrdTypeNotAllowed,
        RejectReason::TifNotAllowed,
        RejectReason::InvalidTifForOrder,
        RejectReason::MissingExpireTime,
        RejectReason::ExpireTimeInPast,
        RejectReason::InvalidDisplayQty,
        RejectReason::InvalidMinQty,
        RejectReason::PostOnlyWouldTake,
        RejectReason::InvalidPostOnly,
        RejectReason::ReplaceQtyAtOrBelowFilled,
        RejectReason::TooLateToCancel,
        RejectReason::UnexpectedStopPrice,
        RejectReason::InstrumentHalted,
        RejectReason::InstrumentClosed,
        RejectReason::PreOpenWouldMatch,
        RejectReason::KillSwitchEngaged,
        RejectReason::CreditLimitExceeded,
        RejectReason::InvalidAdminRequest,
        RejectReason::InstrumentNotPermitted,
    ];

    /// The stable numeric code.
    #[must_use]
    pub fn code(self) -> u16 {
        self as u16
    }

    /// Decodes a stable numeric code.
    #[must_use]
    pub fn from_code(code: u16) -> Option<RejectReason> {
        RejectReason::ALL.into_iter().find(|r| r.code() == code)
    }

    /// A human sentence for the reject, without identifiers.
    #[must_use]
    pub fn text(self) -> &'static str {
        match self {
            RejectReason::UnknownInstrument => "unknown instrument",
            RejectReason::UnknownParticipant => "unknown participant",
            RejectReason::UnknownOrder => "unknown order",
            RejectReason::DuplicateClOrdId => "duplicate ClOrdID",
            RejectReason::InvalidQty => "quantity must be positive",
            RejectReason::QtyBelowMin => "quantity below the instrument minimum",
            RejectReason::QtyAboveMax => "quantity above the instrument maximum",
            RejectReason::NotionalAboveMax => "notional above the instrument maximum",
            RejectReason::PriceOutsideCollar => "price outside the price collar",
            RejectReason::MissingPrice => "order type needs a limit price",
            RejectReason::UnexpectedPrice => "order type takes no limit price",
            RejectReason::MissingStopPrice => "order type needs a stop price",
            RejectReason::OrdTypeNotAllowed => "order type not allowed on this instrument",
            RejectReason::TifNotAllowed => "time in force not allowed on this instrument",
            RejectReason::InvalidTifForOrder => "time in force not valid for this order",
            RejectReason::MissingExpireTime => "GTD order needs an expire time",
            RejectReason::ExpireTimeInPast => "expire time is not in the future",
            RejectReason::InvalidDisplayQty => "display quantity invalid for this order",
            RejectReason::InvalidMinQty => {
                "minimum quantity needs IOC and at most the order quantity"
            }
            RejectReason::PostOnlyWouldTake => "post-only order would take liquidity",
            RejectReason::InvalidPostOnly => "post-only needs a limit order",
            RejectReason::ReplaceQtyAtOrBelowFilled => {
                "new quantity at or below the filled quantity"
            }
            RejectReason::TooLateToCancel => "order is no longer live",
            RejectReason::UnexpectedStopPrice => "order type takes no stop price",
            RejectReason::InstrumentHalted => "instrument halted",
            RejectReason::InstrumentClosed => "instrument closed",
            RejectReason::PreOpenWouldMatch => {
                "pre-open: only orders that rest without matching are accepted"
            }
            RejectReason::KillSwitchEngaged => "kill switch engaged for this participant",
            RejectReason::CreditLimitExceeded => "credit limit (open notional) exceeded",
            RejectReason::InvalidAdminRequest => "invalid operator request",
            RejectReason::InstrumentNotPermitted => "instrument not permitted for this participant",
        }
    }
}

/// Why a live order left the book without filling completely.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum CancelReason {
    /// The client cancelled it.
    ClientRequest = 1,
    /// The unfilled rest of an IOC order, or of a market order that ran out
    /// of liquidity.
    IocRemainder = 2,
    /// A fill-or-kill order could not be filled in full at once.
    FokNotFilled = 3,
    /// An IOC order with a minimum quantity could not fill that minimum.
    MinQtyNotMet = 4,
    /// Self-trade prevention.
    SelfTradePrevention = 5,
    /// Day or GTD expiry.
    Expired = 6,
    /// A market order (or triggered stop) reached the price collar, or a
    /// triggered stop-limit's limit was outside the collar.
    PriceCollar = 7,
    /// A mass cancel.
    MassCancel = 8,
    /// The operator engaged the participant's kill switch.
    KillSwitch = 9,
    /// The operator cancelled it (an operator mass cancel).
    Operator = 10,
    /// A volatility interruption: the order would have traded outside the
    /// instrument's volatility band, which halted the instrument.
    VolatilityInterruption = 11,
}

impl CancelReason {
    /// Every reason, in code order.
    pub const ALL: [CancelReason; 11] = [
        CancelReason::ClientRequest,
        CancelReason::IocRemainder,
        CancelReason::FokNotFilled,
        CancelReason::MinQtyNotMet,
        CancelReason::SelfTradePrevention,
        CancelReason::Expired,
        CancelReason::PriceCollar,
        CancelReason::MassCancel,
        CancelReason::KillSwitch,
        CancelReason::Operator,
        CancelReason::VolatilityInterruption,
    ];

    /// The stable numeric code.
    #[must_use]
    pub fn code(self) -> u16 {
        self as u16
    }

    /// Decodes a stable numeric code.
    #[must_use]
    pub fn from_code(code: u16) -> Option<CancelReason> {
        CancelReason::ALL.into_iter().find(|r| r.code() == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_round_trip() {
        assert_eq!(RejectReason::UnknownInstrument.code(), 1);
        assert_eq!(RejectReason::DuplicateClOrdId.code(), 4);
        assert_eq!(RejectReason::UnexpectedStopPrice.code(), 24);
        for (i, r) in RejectReason::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(r.code()), i + 1, "{r:?} out of order");
            assert_eq!(RejectReason::from_code(r.code()), Some(r));
            assert!(!r.text().is_empty());
        }
        for (i, r) in CancelReason::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(r.code()), i + 1, "{r:?} out of order");
            assert_eq!(CancelReason::from_code(r.code()), Some(r));
        }
        assert_eq!(RejectReason::from_code(0), None);
        assert_eq!(CancelReason::from_code(99), None);
    }
}
