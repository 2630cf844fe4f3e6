//! Static reference data: instruments, participants and engine limits.
//!
//! The engine takes an [`EngineConfig`] at construction and validates it; the
//! TOML file format lives in the `venue` binary. Decimal tick and lot sizes are
//! kept exactly ([`Decimal`]) and used only at the edges, to turn a client's
//! decimal text into integer ticks and lots; inside, everything is integers.

use std::fmt;
use std::str::FromStr;

use crate::types::{
    InstrumentId, OrdType, ParticipantId, Phase, PriceTicks, QtyLots, StpMode, TimeInForce, TimeNs,
};

/// An exact, non-negative decimal number: `mantissa * 10^-scale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Decimal {
    /// The digits as an integer.
    pub mantissa: u64,
    /// How many of those digits are after the decimal point.
    pub scale: u8,
}

/// The largest scale a [`Decimal`] may have (10^18 still fits a `u64`).
pub const DECIMAL_SCALE_MAX: u8 = 18;

impl Decimal {
    /// Whether the value is zero.
    #[must_use]
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// How many whole units of `unit` make `self`, if that is an exact integer
    /// that fits an `i64`. This turns a decimal price into ticks of a tick size
    /// (or a decimal quantity into lots of a lot size) without rounding.
    #[must_use]
    pub fn units_of(&self, unit: &Decimal) -> Option<i64> {
        if unit.is_zero() {
            return None;
        }
        // Bring both to the same scale, in u128 so that nothing overflows.
        let scale = self.scale.max(unit.scale);
        let a = u128::from(self.mantissa) * 10u128.pow(u32::from(scale - self.scale));
        let b = u128::from(unit.mantissa) * 10u128.pow(u32::from(scale - unit.scale));
        if a % b != 0 {
            return None;
        }
        i64::try_from(a / b).ok()
    }
}

/// Why a decimal could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid decimal {text:?}: expected digits with at most one '.', at most 18 decimals, no sign"
)]
pub struct ParseDecimalError {
    /// The text that was rejected.
    pub text: String,
}

impl FromStr for Decimal {
    type Err = ParseDecimalError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseDecimalError { text: s.to_owned() };
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, f),
            None => (s, ""),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(err());
        }
        if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let scale = u8::try_from(frac.len()).map_err(|_| err())?;
        if scale > DECIMAL_SCALE_MAX {
            return Err(err());
        }
        let mut mantissa: u64 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(u64::from(b - b'0')))
                .ok_or_else(err)?;
        }
        Ok(Decimal { mantissa, scale })
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.scale == 0 {
            return write!(f, "{}", self.mantissa);
        }
        let p = 10u64.pow(u32::from(self.scale));
        write!(
            f,
            "{}.{:0width$}",
            self.mantissa / p,
            self.mantissa % p,
            width = usize::from(self.scale)
        )
    }
}

/// A price collar: the band around the reference price (the last trade, or
/// the configured reference before the first trade) inside which limit prices
/// are accepted and market orders may trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Collar {
    /// Half-width of the band in ticks.
    Ticks(PriceTicks),
    /// Half-width in basis points of the reference price (100 = 1%), rounded
    /// down to whole ticks.
    Bps(u32),
}

impl Collar {
    /// The band `[low, high]` around `reference`.
    #[must_use]
    pub fn band(&self, reference: PriceTicks) -> (PriceTicks, PriceTicks) {
        let half_width = match *self {
            Collar::Ticks(t) => t,
            Collar::Bps(bps) => {
                i64::try_from(bps_of(reference.unsigned_abs(), bps)).unwrap_or(i64::MAX)
            }
        };
        (
            reference.saturating_sub(half_width),
            reference.saturating_add(half_width),
        )
    }
}

/// `bps` basis points of `magnitude`, rounded down: exact, in 64-bit
/// arithmetic whenever the product fits (a multiply by the reciprocal of
/// 10,000; a 128-bit division is a library call of a hundred cycles), in
/// 128 bits otherwise. Every new order computes its collar with it.
#[inline]
pub(crate) fn bps_of(magnitude: u64, bps: u32) -> u128 {
    match magnitude.checked_mul(u64::from(bps)) {
        Some(p) => u128::from(p / 10_000),
        None => u128::from(magnitude) * u128::from(bps) / 10_000,
    }
}

/// A small set of order types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OrdTypeSet(u8);

impl OrdTypeSet {
    /// Every order type.
    pub const ALL: OrdTypeSet = OrdTypeSet(0b1111);

    /// The set of the given types.
    #[must_use]
    pub fn of(types: &[OrdType]) -> OrdTypeSet {
        OrdTypeSet(types.iter().fold(0, |m, t| m | 1 << (*t as u8 - 1)))
    }

    /// Whether `t` is in the set.
    #[must_use]
    pub fn contains(&self, t: OrdType) -> bool {
        self.0 & (1 << (t as u8 - 1)) != 0
    }
}

/// A small set of time-in-force values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TifSet(u8);

impl TifSet {
    /// Every time in force.
    pub const ALL: TifSet = TifSet(0b1_1111);

    /// The set of the given values.
    #[must_use]
    pub fn of(tifs: &[TimeInForce]) -> TifSet {
        TifSet(tifs.iter().fold(0, |m, t| m | 1 << (*t as u8 - 1)))
    }

    /// Whether `t` is in the set.
    #[must_use]
    pub fn contains(&self, t: TimeInForce) -> bool {
        self.0 & (1 << (t as u8 - 1)) != 0
    }
}

/// One instrument's static definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstrumentSpec {
    /// Stable id; inputs and journals refer to instruments by it.
    pub id: InstrumentId,
    /// Display symbol, used only at the edges.
    pub symbol: String,
    /// Price of one tick, exactly.
    pub tick_size: Decimal,
    /// Size of one lot, exactly.
    pub lot_size: Decimal,
    /// Smallest order quantity accepted.
    pub qty_min_lots: QtyLots,
    /// Largest order quantity accepted.
    pub qty_max_lots: QtyLots,
    /// Largest `|price_ticks| * qty_lots` accepted for one order; `None` for no
    /// limit. A market order is checked at the reference price when there is one.
    pub notional_max_tick_lots: Option<u128>,
    /// Price collar; `None` for none.
    pub collar: Option<Collar>,
    /// Reference price before the first trade.
    pub reference_price_ticks: Option<PriceTicks>,
    /// Order types accepted.
    pub order_types: OrdTypeSet,
    /// Time-in-force values accepted.
    pub time_in_force: TifSet,
    /// The phase at start (before any operator action).
    pub phase: Phase,
    /// The volatility interruption; `None` for none.
    pub volatility: Option<VolatilityGuard>,
    /// Trading hours; `None`: the phase changes only by operator action.
    pub hours: Option<TradingHours>,
}

/// Trading hours, in nanoseconds after midnight UTC: closed before
/// `pre_open` (or `open`, without one), pre-open until `open`, open until
/// `close`, closed after. At each clock tick whose scheduled phase differs
/// from the last tick's, the instrument takes the scheduled phase, unless it
/// is halted (an operator's or a volatility halt outlasts the schedule).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TradingHours {
    /// Start of pre-open, if there is one.
    pub pre_open_ns_of_day: Option<u64>,
    /// Start of continuous trading.
    pub open_ns_of_day: u64,
    /// End of trading.
    pub close_ns_of_day: u64,
}

impl TradingHours {
    /// The scheduled phase at time `t` (ns since the epoch).
    #[must_use]
    pub fn phase_at(&self, t: TimeNs) -> Phase {
        let tod = t % DAY_NS;
        if tod >= self.close_ns_of_day {
            Phase::Closed
        } else if tod >= self.open_ns_of_day {
            Phase::Open
        } else if self.pre_open_ns_of_day.is_some_and(|p| tod >= p) {
            Phase::PreOpen
        } else {
            Phase::Closed
        }
    }
}

/// Which instruments a participant may trade (a participant without an
/// entry may trade every instrument).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permissions {
    /// Whose.
    pub participant: ParticipantId,
    /// The instruments it may send orders for.
    pub instruments: Vec<InstrumentId>,
}

/// A volatility interruption: an order that would trade at a price more
/// than `band_bp` basis points away from any trade of the last `window_ns`
/// (or from the last trade, if none is that recent) does not trade: the rest
/// of it is cancelled and the instrument halts for `pause_ns`, then resumes
/// at the first clock tick after the pause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VolatilityGuard {
    /// Largest move allowed, in basis points of the reference trade's price
    /// (at least one tick).
    pub band_bp: u32,
    /// How far back trades count as references.
    pub window_ns: TimeNs,
    /// How long the halt lasts.
    pub pause_ns: TimeNs,
}

/// A participant's credit limit on one instrument: the largest open
/// notional (`|price| × leaves quantity` in tick-lots, over its resting
/// orders and parked stops, plus the order being checked) it may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreditLimit {
    /// Whose.
    pub participant: ParticipantId,
    /// On what.
    pub instrument: InstrumentId,
    /// Largest open notional, in tick-lots.
    pub max_open_notional_tick_lots: u64,
}

impl InstrumentSpec {
    /// An instrument with permissive defaults: tick and lot size 1, quantity
    /// 1 to `u64::MAX`, no notional limit, no collar, every type and time in force.
    #[must_use]
    pub fn new(id: InstrumentId, symbol: &str) -> InstrumentSpec {
        let one = Decimal {
            mantissa: 1,
            scale: 0,
        };
        InstrumentSpec {
            id,
            symbol: symbol.to_owned(),
            tick_size: one,
            lot_size: one,
            qty_min_lots: 1,
            qty_max_lots: QtyLots::MAX,
            notional_max_tick_lots: None,
            collar: None,
            reference_price_ticks: None,
            order_types: OrdTypeSet::ALL,
            time_in_force: TifSet::ALL,
            phase: Phase::Open,
            volatility: None,
            hours: None,
        }
    }
}

/// One participant's static definition, as far as matching is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParticipantSpec {
    /// Stable id; inputs and journals refer to participants by it.
    pub id: ParticipantId,
    /// Self-trade prevention mode.
    pub stp: StpMode,
}

/// Nanoseconds in a day.
pub const DAY_NS: u64 = 86_400 * 1_000_000_000;

/// Everything the engine needs to know before its first input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Instruments; ids must be unique.
    pub instruments: Vec<InstrumentSpec>,
    /// Participants; ids must be unique.
    pub participants: Vec<ParticipantSpec>,
    /// End of the trading day, in nanoseconds after midnight UTC. Day orders
    /// expire, and the ClOrdIDs of finished orders are forgotten, at the first
    /// clock tick at or after it. Default 22:00 UTC (17:00 New York in winter).
    pub day_end_ns_of_day: u64,
    /// Orders (live plus finished today) to reserve room for at start-up, so
    /// that the steady state does not allocate: the ClOrdID index is sized
    /// (and its memory touched) for two ClOrdIDs an order, so that a day of
    /// up to this many orders, each cancelled or replaced at most once on
    /// average, never grows it.
    pub orders_capacity: usize,
    /// Credit limits at start; the operator changes them during the day.
    pub credit_limits: Vec<CreditLimit>,
    /// Participants restricted to some instruments.
    pub permissions: Vec<Permissions>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            instruments: Vec::new(),
            participants: Vec::new(),
            day_end_ns_of_day: 22 * 3_600 * 1_000_000_000,
            orders_capacity: 1 << 16,
            credit_limits: Vec::new(),
            permissions: Vec::new(),
        }
    }
}

/// The end of the trading day that `t` belongs to: the first day end strictly
/// after `t`.
#[must_use]
pub fn next_day_end_ns(t: u64, day_end_ns_of_day: u64) -> u64 {
    let day_start = t - t % DAY_NS;
    let candidate = day_start + day_end_ns_of_day;
    if candidate > t {
        candidate
    } else {
        candidate + DAY_NS
    }
}

/// A configuration the engine cannot run with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Two instruments share an id.
    #[error("instrument id {id} is used twice (symbols {first:?} and {second:?})")]
    DuplicateInstrument {
        /// The id.
        id: u32,
        /// First symbol with it.
        first: String,
        /// Second symbol with it.
        second: String,
    },
    /// Two participants share an id.
    #[error("participant id {id} is used twice")]
    DuplicateParticipant {
        /// The id.
        id: u32,
    },
    /// An id is too large for the engine's direct lookup tables.
    #[error("{what} id {id} is above the maximum {max}")]
    IdTooLarge {
        /// "instrument" or "participant".
        what: &'static str,
        /// The id.
        id: u32,
        /// The largest id accepted.
        max: u32,
    },
    /// Something about one instrument is inconsistent.
    #[error("instrument {symbol:?}: {problem}")]
    Instrument {
        /// The instrument's symbol.
        symbol: String,
        /// What is wrong, as a sentence.
        problem: String,
    },
    /// A credit limit names an unknown participant or instrument, or is
    /// given twice.
    #[error("credit limit of participant {participant} on instrument {instrument}: {problem}")]
    CreditLimit {
        /// The participant id.
        participant: u32,
        /// The instrument id.
        instrument: u32,
        /// What is wrong.
        problem: &'static str,
    },
    /// The day end is not within a day.
    #[error("day_end_ns_of_day {value} is not below one day ({DAY_NS} ns)")]
    DayEnd {
        /// The configured value.
        value: u64,
    },
}

/// Largest instrument or participant id (ids index lookup tables directly).
pub const ID_MAX: u32 = 65_535;

impl EngineConfig {
    /// Checks the configuration for what the engine needs to be consistent.
    ///
    /// # Errors
    /// The first problem found, as a [`ConfigError`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.day_end_ns_of_day >= DAY_NS {
            return Err(ConfigError::DayEnd {
                value: self.day_end_ns_of_day,
            });
        }
        for (i, inst) in self.instruments.iter().enumerate() {
            if inst.id.0 > ID_MAX {
                return Err(ConfigError::IdTooLarge {
                    what: "instrument",
                    id: inst.id.0,
                    max: ID_MAX,
                });
            }
            if let Some(prev) = self.instruments[..i].iter().find(|p| p.id == inst.id) {
                return Err(ConfigError::DuplicateInstrument {
                    id: inst.id.0,
                    first: prev.symbol.clone(),
                    second: inst.symbol.clone(),
                });
            }
            let problem = |p: &str| ConfigError::Instrument {
                symbol: inst.symbol.clone(),
                problem: p.to_owned(),
            };
            if inst.tick_size.is_zero() {
                return Err(problem("tick size must be positive"));
            }
            if inst.lot_size.is_zero() {
                return Err(problem("lot size must be positive"));
            }
            if inst.qty_min_lots == 0 {
                return Err(problem("minimum quantity must be at least one lot"));
            }
            if inst.qty_min_lots > inst.qty_max_lots {
                return Err(problem("minimum quantity is above the maximum"));
            }
            match inst.collar {
                Some(Collar::Ticks(t)) if t < 1 => {
                    return Err(problem("a price collar in ticks must be at least one tick"));
                }
                Some(Collar::Bps(0)) => {
                    return Err(problem("a price collar in basis points must be positive"));
                }
                _ => {}
            }
            if inst.order_types == OrdTypeSet::of(&[]) {
                return Err(problem("no order type is allowed"));
            }
            if inst.time_in_force == TifSet::of(&[]) {
                return Err(problem("no time in force is allowed"));
            }
            if let Some(h) = inst.hours
                && (h.close_ns_of_day > DAY_NS
                    || h.open_ns_of_day >= h.close_ns_of_day
                    || h.pre_open_ns_of_day.is_some_and(|p| p > h.open_ns_of_day))
            {
                return Err(problem(
                    "trading hours must run pre-open <= open < close within one UTC day",
                ));
            }
            if let Some(v) = inst.volatility {
                if v.band_bp == 0 {
                    return Err(problem("a volatility band must be positive"));
                }
                if v.window_ns == 0 {
                    return Err(problem("a volatility window must be positive"));
                }
                if v.pause_ns == 0 {
                    return Err(problem("a volatility pause must be positive"));
                }
            }
        }
        for (i, p) in self.participants.iter().enumerate() {
            if p.id.0 > ID_MAX {
                return Err(ConfigError::IdTooLarge {
                    what: "participant",
                    id: p.id.0,
                    max: ID_MAX,
                });
            }
            if self.participants[..i].iter().any(|q| q.id == p.id) {
                return Err(ConfigError::DuplicateParticipant { id: p.id.0 });
            }
        }
        for (i, c) in self.credit_limits.iter().enumerate() {
            let problem = |problem| ConfigError::CreditLimit {
                participant: c.participant.0,
                instrument: c.instrument.0,
                problem,
            };
            if !self.participants.iter().any(|p| p.id == c.participant) {
                return Err(problem("unknown participant"));
            }
            if !self.instruments.iter().any(|x| x.id == c.instrument) {
                return Err(problem("unknown instrument"));
            }
            if self.credit_limits[..i]
                .iter()
                .any(|d| (d.participant, d.instrument) == (c.participant, c.instrument))
            {
                return Err(problem("given twice"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn decimal_parses_exactly() {
        assert_eq!(
            d("0.0001"),
            Decimal {
                mantissa: 1,
                scale: 4
            }
        );
        assert_eq!(d("12.50").to_string(), "12.50");
        assert_eq!(d("7").to_string(), "7");
        assert_eq!(d(".5").to_string(), "0.5");
        for bad in [
            "",
            ".",
            "-1",
            "1.2.3",
            "1e5",
            "abc",
            "0.0000000000000000001",
        ] {
            assert!(bad.parse::<Decimal>().is_err(), "{bad:?} parsed");
        }
        assert!("99999999999999999999".parse::<Decimal>().is_err());
    }

    #[test]
    fn units_of_is_exact() {
        assert_eq!(d("101.25").units_of(&d("0.25")), Some(405));
        assert_eq!(d("101.26").units_of(&d("0.25")), None);
        assert_eq!(d("1").units_of(&d("0.0001")), Some(10_000));
        // Basis points in 64 bits where the product fits, 128 where not:
        // the same as the 128-bit formula everywhere.
        for m in [0, 1, 9_999, 10_000, 123_456_789, u64::MAX / 7, u64::MAX] {
            for bps in [0, 1, 50, 10_000, 123_457, u32::MAX] {
                assert_eq!(
                    bps_of(m, bps),
                    u128::from(m) * u128::from(bps) / 10_000,
                    "{m} × {bps} bp"
                );
            }
        }
        assert_eq!(d("1.5").units_of(&d("0")), None);
    }

    #[test]
    fn collar_band() {
        assert_eq!(Collar::Ticks(5).band(100), (95, 105));
        assert_eq!(Collar::Bps(100).band(10_050), (9_950, 10_150));
        assert_eq!(Collar::Bps(100).band(-200), (-202, -198));
    }

    #[test]
    fn day_end_is_strictly_after() {
        let end = 22 * 3_600 * 1_000_000_000;
        assert_eq!(next_day_end_ns(0, end), end);
        assert_eq!(next_day_end_ns(end - 1, end), end);
        assert_eq!(next_day_end_ns(end, end), end + DAY_NS);
        assert_eq!(next_day_end_ns(DAY_NS + 5, end), DAY_NS + end);
    }

    #[test]
    fn validate_finds_problems() {
        let mut cfg = EngineConfig::default();
        cfg.instruments
            .push(InstrumentSpec::new(InstrumentId(1), "A"));
        assert_eq!(cfg.validate(), Ok(()));
        cfg.instruments
            .push(InstrumentSpec::new(InstrumentId(1), "B"));
        assert!(matches!(
            cfg.validate(),
            Err(ConfigError::DuplicateInstrument { id: 1, .. })
        ));
        cfg.instruments.pop();
        cfg.instruments[0].collar = Some(Collar::Ticks(0));
        assert!(matches!(
            cfg.validate(),
            Err(ConfigError::Instrument { .. })
        ));
        cfg.instruments[0].collar = None;
        cfg.instruments[0].qty_min_lots = 10;
        cfg.instruments[0].qty_max_lots = 5;
        assert!(matches!(
            cfg.validate(),
            Err(ConfigError::Instrument { .. })
        ));
    }
}
