//! The order flow: when each request is due (the schedule) and what it is
//! (kind, instrument, side, price, quantity), drawn from a seeded generator.
//!
//! The schedule is open loop: it depends only on the scenario and the seed,
//! never on the venue's answers, so a slow venue cannot slow the requests
//! down (and every latency is measured from the request's slot in it). The
//! choice of which live order a cancel, replace or status request targets
//! is made later, against the orders acknowledged so far ([`crate::state`]).
//!
//! Prices are integer ticks around a moving mid per instrument: a bounded
//! random walk around the reference price, one step every `mid_step_ms` of
//! schedule time. Passive orders rest 1 to `depth_ticks` ticks away on their
//! own side; marketable ones cross by the same amount.

use anyhow::{Result, bail};
use engine::Decimal;
use engine::config::InstrumentSpec;
use engine::types::{InstrumentId, OrdType, Side, TimeInForce};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::scenario::{Arrival, Kind, Scenario};

/// One instrument as the generator sees it.
#[derive(Clone, Debug)]
pub struct Instrument {
    /// Engine id.
    pub id: InstrumentId,
    /// Symbol(55).
    pub symbol: String,
    /// Tick size, for FIX prices.
    pub tick_size: Decimal,
    /// Lot size, for FIX quantities.
    pub lot_size: Decimal,
    /// Where the mid starts, and what it wanders around.
    pub reference_ticks: i64,
    /// Quantity range in lots.
    pub qty_lots: [u64; 2],
    /// Relative weight.
    pub weight: u32,
    /// Market orders allowed.
    pub market: bool,
    /// Day orders allowed (else limit orders are GTC).
    pub day: bool,
    /// IOC allowed.
    pub ioc: bool,
    /// FOK allowed.
    pub fok: bool,
}

impl Instrument {
    /// From the venue's definition and the scenario's entry.
    ///
    /// # Errors
    /// The instrument has no reference price, or allows neither limit
    /// orders nor a time in force loadgen can use.
    pub fn new(spec: &InstrumentSpec, qty_lots: [u64; 2], weight: u32) -> Result<Instrument> {
        let Some(reference_ticks) = spec.reference_price_ticks else {
            bail!(
                "instrument {} has no reference_price in the venue's configuration; loadgen needs one to place prices",
                spec.symbol
            );
        };
        if !spec.order_types.contains(OrdType::Limit) {
            bail!(
                "instrument {} does not allow limit orders; loadgen needs them",
                spec.symbol
            );
        }
        let tif = |t| spec.time_in_force.contains(t);
        if !tif(TimeInForce::Day) && !tif(TimeInForce::Gtc) {
            bail!(
                "instrument {} allows neither Day nor GTC orders; loadgen's quotes need one",
                spec.symbol
            );
        }
        let lo = qty_lots[0].max(spec.qty_min_lots);
        let hi = qty_lots[1].min(spec.qty_max_lots);
        if lo > hi {
            bail!(
                "instrument {}: qty_lots [{}, {}] is outside the venue's quantity limits [{}, {}] lots",
                spec.symbol,
                qty_lots[0],
                qty_lots[1],
                spec.qty_min_lots,
                spec.qty_max_lots
            );
        }
        Ok(Instrument {
            id: spec.id,
            symbol: spec.symbol.clone(),
            tick_size: spec.tick_size,
            lot_size: spec.lot_size,
            reference_ticks,
            qty_lots: [lo, hi],
            weight,
            market: spec.order_types.contains(OrdType::Market) && tif(TimeInForce::Ioc),
            day: tif(TimeInForce::Day),
            ioc: tif(TimeInForce::Ioc),
            fok: tif(TimeInForce::Fok),
        })
    }
}

/// The times at which requests are due, in nanoseconds from the start.
///
/// Arrivals are spaced in "expected count" (the integral of the rate over
/// time, Λ(t)): one apart for constant arrivals, exponentially for a
/// Poisson process, and each is mapped back to a time through Λ⁻¹. With a
/// linear ramp of length R to rate r, Λ(t) = r·t²/(2R) during the ramp and
/// r·R/2 + r·(t − R) after it, so the ramp needs no step-wise
/// approximation (a long gap drawn at a low rate would stall the start).
#[derive(Debug)]
pub struct Schedule {
    rng: StdRng,
    arrival: Arrival,
    /// Λ of the next arrival.
    next_count: f64,
    end_ns: u64,
    rate: f64,
    ramp_up_s: f64,
}

impl Schedule {
    /// The schedule of `scenario`, scaled to `rate` requests per second.
    #[must_use]
    pub fn new(scenario: &Scenario, rate: f64) -> Schedule {
        let load = &scenario.file.load;
        Schedule {
            rng: StdRng::seed_from_u64(scenario.file.seed ^ 0x5c4e_d01e),
            arrival: load.arrival,
            next_count: 0.0,
            end_ns: (load.duration_s * 1e9) as u64,
            rate,
            ramp_up_s: load.ramp_up_s,
        }
    }

    /// Λ⁻¹: the time (s) by which `count` arrivals are expected.
    fn time_of(&self, count: f64) -> f64 {
        let (r, ramp) = (self.rate, self.ramp_up_s);
        let in_ramp = r * ramp / 2.0;
        if ramp > 0.0 && count < in_ramp {
            (2.0 * ramp * count / r).sqrt()
        } else {
            ramp + (count - in_ramp) / r
        }
    }
}

impl Iterator for Schedule {
    type Item = u64;

    /// The next due time, or `None` once the duration has passed.
    fn next(&mut self) -> Option<u64> {
        let t = (self.time_of(self.next_count) * 1e9).round() as u64;
        if t >= self.end_ns {
            return None;
        }
        self.next_count += match self.arrival {
            Arrival::Constant => 1.0,
            // Inverse transform of U in (0, 1]: never ln(0).
            Arrival::Poisson => -(1.0 - self.rng.random::<f64>()).ln(),
        };
        Some(t)
    }
}

/// What the generator drew for one request; [`crate::state`] makes it
/// concrete (which session, which live order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Draw {
    /// The kind of request.
    pub kind: Kind,
    /// Index into the instruments.
    pub instrument: usize,
    /// Side.
    pub side: Side,
    /// Order type of a new order (limit, or market).
    pub ord_type: OrdType,
    /// Time in force of a new order.
    pub tif: TimeInForce,
    /// Limit price; `None` for market orders. A cancel, replace or status
    /// draw carries a passive price too: a replace's new price, or the
    /// price of the new order sent instead when there is nothing to target.
    pub price_ticks: Option<i64>,
    /// Quantity in lots (new orders; added to the filled quantity on a
    /// replace).
    pub qty_lots: u64,
    /// Whether the order is meant to take liquidity.
    pub marketable: bool,
    /// A random number to pick a session or a live order with.
    pub pick: u64,
}

/// The seeded draws.
#[derive(Debug)]
pub struct Generator {
    rng: StdRng,
    mix: Vec<(Kind, u32)>,
    /// The instruments, with their current mid.
    pub instruments: Vec<Instrument>,
    mids: Vec<i64>,
    steps_done: u64,
    weights_total: u32,
    marketable_per_million: u32,
    depth: i64,
    step_ticks: i64,
    step_ns: u64,
    drift: i64,
}

impl Generator {
    /// A generator for `scenario` over `instruments` (in the scenario's
    /// order).
    #[must_use]
    pub fn new(scenario: &Scenario, instruments: Vec<Instrument>) -> Generator {
        let p = &scenario.file.prices;
        Generator {
            rng: StdRng::seed_from_u64(scenario.file.seed),
            mix: scenario.mix.clone(),
            mids: instruments.iter().map(|i| i.reference_ticks).collect(),
            weights_total: instruments.iter().map(|i| i.weight).sum(),
            instruments,
            steps_done: 0,
            marketable_per_million: (p.marketable_percent * 1e4).round() as u32,
            depth: p.depth_ticks,
            step_ticks: p.mid_step_ticks,
            step_ns: p.mid_step_ms * 1_000_000,
            drift: p.max_drift_ticks,
        }
    }

    /// The current mid of instrument `i`, in ticks.
    #[must_use]
    pub fn mid(&self, i: usize) -> i64 {
        self.mids[i]
    }

    /// The draw for a request due at `t_ns`.
    pub fn draw(&mut self, t_ns: u64) -> Draw {
        self.walk_to(t_ns);
        let r = self.rng.random_range(0..1_000_000u32);
        let kind = self
            .mix
            .iter()
            .find(|(_, upto)| r < *upto)
            .map_or(Kind::Limit, |(k, _)| *k);
        let mut w = self.rng.random_range(0..self.weights_total);
        let mut instrument = 0;
        for (i, inst) in self.instruments.iter().enumerate() {
            if w < inst.weight {
                instrument = i;
                break;
            }
            w -= inst.weight;
        }
        let inst = &self.instruments[instrument];
        let side = if self.rng.random::<bool>() {
            Side::Buy
        } else {
            Side::Sell
        };
        let qty_lots = self.rng.random_range(inst.qty_lots[0]..=inst.qty_lots[1]);
        let offset = self.rng.random_range(1..=self.depth);
        let pick = self.rng.random::<u64>();
        let mid = self.mids[instrument];
        let sign = if side == Side::Buy { 1 } else { -1 };
        let passive = (mid - sign * offset).max(1);
        let crossing = (mid + sign * offset).max(1);
        let limit_tif = if inst.day {
            TimeInForce::Day
        } else {
            TimeInForce::Gtc
        };
        let (kind, ord_type, tif, price, marketable) = match kind {
            Kind::Limit => {
                let marketable =
                    self.rng.random_range(0..1_000_000u32) < self.marketable_per_million;
                let price = if marketable { crossing } else { passive };
                (kind, OrdType::Limit, limit_tif, Some(price), marketable)
            }
            Kind::Market if inst.market => (kind, OrdType::Market, TimeInForce::Ioc, None, true),
            Kind::Market | Kind::Ioc if inst.ioc => (
                Kind::Ioc,
                OrdType::Limit,
                TimeInForce::Ioc,
                Some(crossing),
                true,
            ),
            Kind::Fok if inst.fok => (kind, OrdType::Limit, TimeInForce::Fok, Some(crossing), true),
            Kind::Fok if inst.ioc => (
                Kind::Ioc,
                OrdType::Limit,
                TimeInForce::Ioc,
                Some(crossing),
                true,
            ),
            // No IOC or FOK on this instrument: a marketable limit order.
            Kind::Market | Kind::Ioc | Kind::Fok => {
                (Kind::Limit, OrdType::Limit, limit_tif, Some(crossing), true)
            }
            // A passive price, for the new order sent instead when there is
            // no live order to target.
            Kind::Cancel | Kind::Status | Kind::Replace => {
                (kind, OrdType::Limit, limit_tif, Some(passive), false)
            }
        };
        Draw {
            kind,
            instrument,
            side,
            ord_type,
            tif,
            price_ticks: price,
            qty_lots,
            marketable,
            pick,
        }
    }

    /// Moves every mid by the steps due up to `t_ns`.
    fn walk_to(&mut self, t_ns: u64) {
        let due = t_ns / self.step_ns;
        while self.steps_done < due {
            self.steps_done += 1;
            for (mid, inst) in self.mids.iter_mut().zip(&self.instruments) {
                let step = self.rng.random_range(-self.step_ticks..=self.step_ticks);
                let lo = (inst.reference_ticks - self.drift).max(1);
                let hi = inst.reference_ticks + self.drift;
                *mid = (*mid + step).clamp(lo, hi);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn scenario(extra: &str) -> Scenario {
        let text = format!(
            r#"
venue_config = "venue.toml"
seed = 7
[load]
rate = 1000
duration_s = 2
arrival = "constant"
{extra}
[mix]
limit = 50
market = 10
fok = 10
cancel = 20
status = 10
[[session]]
sender_comp_id = "CLIENT1"
role = "dealer"
[[instrument]]
symbol = "UST-10Y"
"#
        );
        Scenario::parse(&text, Path::new("s.toml")).expect("parses")
    }

    fn example() -> engine::EngineConfig {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/venue.toml");
        venue::config::load(&path)
            .expect("the example loads")
            .engine
    }

    fn instruments() -> Vec<Instrument> {
        example()
            .instruments
            .iter()
            .map(|s| Instrument::new(s, [1, 10], 1).expect("usable"))
            .collect()
    }

    #[test]
    fn a_constant_schedule_is_evenly_spaced_and_ends_on_time() {
        let times: Vec<u64> = Schedule::new(&scenario(""), 1000.0).collect();
        assert_eq!(times.len(), 2000);
        assert_eq!(times[0], 0);
        assert!(
            times
                .windows(2)
                .all(|w| (w[1] - w[0]).abs_diff(1_000_000) <= 1)
        );
    }

    #[test]
    fn a_poisson_schedule_has_the_mean_rate_and_is_seeded() {
        let s = scenario("").clone();
        let mut s = s;
        s.file.load.arrival = Arrival::Poisson;
        let a: Vec<u64> = Schedule::new(&s, 1000.0).collect();
        let b: Vec<u64> = Schedule::new(&s, 1000.0).collect();
        assert_eq!(a, b, "same seed, same schedule");
        assert!((1800..2200).contains(&a.len()), "{} arrivals", a.len());
        let gaps: Vec<u64> = a.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(
            gaps.iter().any(|g| *g > 3_000_000) && gaps.iter().any(|g| *g < 300_000),
            "exponential gaps vary"
        );
    }

    #[test]
    fn a_ramp_sends_fewer_requests_early() {
        let s = scenario("ramp_up_s = 1");
        let times: Vec<u64> = Schedule::new(&s, 1000.0).collect();
        // Half the full rate's count in the ramp (a linear climb), and the
        // first half-second of it holds a quarter of that.
        let count = |lo: u64, hi: u64| times.iter().filter(|t| (lo..hi).contains(*t)).count();
        assert_eq!(count(0, 1_000_000_000), 500);
        assert_eq!(count(0, 500_000_000), 125);
        assert_eq!(count(1_000_000_000, 2_000_000_000), 1000);
    }

    #[test]
    fn draws_follow_the_mix_and_stay_near_the_mid() {
        let s = scenario("");
        let mut g = Generator::new(&s, instruments()[..1].to_vec());
        let reference = g.instruments[0].reference_ticks;
        let mut kinds = std::collections::BTreeMap::new();
        for (k, t) in Schedule::new(&s, 1000.0).enumerate() {
            let d = g.draw(t);
            *kinds.entry(d.kind).or_insert(0u32) += 1;
            if let Some(p) = d.price_ticks {
                assert!(
                    (p - reference).abs() <= 20 + 10,
                    "request {k}: {p} vs {reference}"
                );
            }
            if d.kind == Kind::Limit && !d.marketable {
                let mid = g.mid(d.instrument);
                let p = d.price_ticks.expect("a limit price");
                assert!(
                    if d.side == Side::Buy {
                        p < mid
                    } else {
                        p > mid
                    },
                    "a passive order does not cross the mid"
                );
            }
        }
        let share = |k| f64::from(kinds[&k]) / 2000.0;
        assert!((share(Kind::Limit) - 0.5).abs() < 0.05, "{kinds:?}");
        assert!((share(Kind::Cancel) - 0.2).abs() < 0.04, "{kinds:?}");
        assert!(kinds.contains_key(&Kind::Market) && kinds.contains_key(&Kind::Fok));
    }

    #[test]
    fn kinds_an_instrument_does_not_allow_become_ones_it_does() {
        let s = scenario("");
        let swap = example()
            .instruments
            .iter()
            .find(|i| !i.order_types.contains(OrdType::Market))
            .map(|spec| Instrument::new(spec, [1, 2], 1).expect("usable"));
        let Some(swap) = swap else {
            panic!("the example venue has an instrument without market orders")
        };
        let fok = swap.fok;
        let mut g = Generator::new(&s, vec![swap]);
        for t in Schedule::new(&s, 1000.0) {
            let d = g.draw(t);
            assert_ne!(d.ord_type, OrdType::Market);
            if !fok {
                assert_ne!(d.tif, TimeInForce::Fok);
            }
        }
    }
}
