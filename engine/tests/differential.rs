//! Differential test: the engine against an independent reference model.
//!
//! The model (`tests/reference/mod.rs`) is written from the `# Semantics`
//! section of the crate docs alone. A seeded generator produces long random
//! input sequences over three differently configured instruments and five
//! participants (one per STP mode), with time running across day ends; each
//! input goes through both, and their events must be identical, input by
//! input. The first mismatch panics with the seed, the input's index, the
//! recent inputs and both event lists, so that any failure replays:
//!
//! ```text
//! VENUE_DIFF_SEED=7 VENUE_DIFF_INPUTS=20000 cargo test -p engine --test differential
//! ```
//!
//! `VENUE_DIFF_SEEDS=<n>` runs seeds 0 to n instead of the default 20.
//!
//! Coverage counters (trades, every reject and cancel reason, STP, triggers,
//! expiries, iceberg refreshes, forgotten orders) are asserted over the run,
//! so that the comparison cannot pass by exercising nothing.

mod reference;

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};

use engine::{
    CancelReason, ClOrdId, Engine, Event, ExecType, Input, InstrumentId, NewOrder, OrdType,
    ParticipantId, PriceTicks, QtyLots, Reason, RejectReason, Side, TimeInForce,
};
use reference::{InputGen, Model, ModelStats};

/// Seeds run by default (0 to this, exclusive).
const SEEDS_DEFAULT: u64 = 20;
/// Inputs per seed by default.
const INPUTS_DEFAULT: usize = 5_000;
/// Inputs shown before the mismatching one.
const HISTORY_LEN: usize = 12;

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    Some(
        text.parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
    )
}

/// What the run exercised, from the events (and the model's own counters for
/// what leaves no event, such as an iceberg refresh).
#[derive(Debug, Default)]
struct Coverage {
    inputs: u64,
    trades: u64,
    book_levels: u64,
    exec_types: BTreeMap<u8, u64>,
    rejects: BTreeMap<u16, u64>,
    cancels: BTreeMap<u16, u64>,
    restated: u64,
    triggered: u64,
    mass_cancelled: u64,
    model: Vec<ModelStats>,
}

impl Coverage {
    fn observe(&mut self, events: &[Event]) {
        self.inputs += 1;
        for e in events {
            match e {
                Event::Exec(r) => {
                    *self.exec_types.entry(r.exec_type as u8).or_default() += 1;
                    match r.reason {
                        Reason::Reject(why) => *self.rejects.entry(why.code()).or_default() += 1,
                        Reason::Cancel(why) => *self.cancels.entry(why.code()).or_default() += 1,
                        Reason::None => {}
                    }
                    self.restated += u64::from(r.exec_type == ExecType::Restated);
                    self.triggered += u64::from(r.exec_type == ExecType::Triggered);
                }
                Event::CancelReject(c) => *self.rejects.entry(c.reason.code()).or_default() += 1,
                Event::MassCancelReport(m) => {
                    if let Some(why) = m.reject {
                        *self.rejects.entry(why.code()).or_default() += 1;
                    }
                    self.mass_cancelled += u64::from(m.cancelled_count);
                }
                Event::BookLevel(_) => self.book_levels += 1,
                Event::Trade(_) => self.trades += 1,
                Event::InstrumentStatus(_) | Event::AdminReport(_) => {
                    panic!("the generator makes no operator actions and no volatility guard")
                }
            }
        }
    }

    fn print(&self) {
        let mut paths: BTreeMap<&str, u64> = BTreeMap::new();
        for m in &self.model {
            for (path, n) in &m.ambiguous_paths {
                *paths.entry(path).or_default() += n;
            }
        }
        eprintln!(
            "differential coverage: {} inputs, {} trades, {} book levels, {} restated, {} triggered, {} mass-cancelled",
            self.inputs,
            self.trades,
            self.book_levels,
            self.restated,
            self.triggered,
            self.mass_cancelled
        );
        eprintln!("  exec types by code: {:?}", self.exec_types);
        eprintln!("  reject reasons by code: {:?}", self.rejects);
        eprintln!("  cancel reasons by code: {:?}", self.cancels);
        let sum = |f: fn(&ModelStats) -> u64| self.model_sum(f);
        eprintln!(
            "  iceberg refreshes {}, expiries lazy {} / tick {}, forgotten {}, STP prechecks {}, cascades {}",
            sum(|s| s.iceberg_refreshes),
            sum(|s| s.lazy_expiries),
            sum(|s| s.tick_expiries),
            sum(|s| s.forgotten_orders),
            sum(|s| s.fok_prechecks_stp),
            sum(|s| s.triggered_cascades)
        );
        for (path, n) in paths {
            eprintln!("  ambiguous path {n:>6}  {path}");
        }
    }

    fn model_sum(&self, f: impl Fn(&ModelStats) -> u64) -> u64 {
        self.model.iter().map(f).sum()
    }

    /// Asserts that every kind of behaviour the comparison is meant to cover
    /// happened at least once.
    fn assert_covered(&self) {
        self.print();
        assert!(self.trades > 0, "no trades");
        assert!(self.book_levels > 0, "no book levels");
        assert!(self.mass_cancelled > 0, "no mass-cancelled orders");
        // Operator and venue controls are not in the reference model;
        // `tests/controls.rs` and the property tests cover them.
        let controls = [
            RejectReason::InstrumentHalted,
            RejectReason::InstrumentClosed,
            RejectReason::PreOpenWouldMatch,
            RejectReason::KillSwitchEngaged,
            RejectReason::CreditLimitExceeded,
            RejectReason::InvalidAdminRequest,
            RejectReason::InstrumentNotPermitted,
        ];
        for r in RejectReason::ALL
            .into_iter()
            .filter(|r| !controls.contains(r))
        {
            assert!(
                self.rejects.contains_key(&r.code()),
                "reject reason {r:?} never seen"
            );
        }
        let controls = [
            CancelReason::KillSwitch,
            CancelReason::Operator,
            CancelReason::VolatilityInterruption,
        ];
        for c in CancelReason::ALL
            .into_iter()
            .filter(|c| !controls.contains(c))
        {
            assert!(
                self.cancels.contains_key(&c.code()),
                "cancel reason {c:?} never seen"
            );
        }
        for t in 1..=9u8 {
            assert!(self.exec_types.contains_key(&t), "exec type {t} never seen");
        }
        assert!(self.restated > 0, "no STP decrement restatement");
        assert!(self.triggered > 0, "no stop triggered");
        assert!(
            self.model_sum(|s| s.iceberg_refreshes) > 0,
            "no iceberg refresh"
        );
        assert!(
            self.model_sum(|s| s.lazy_expiries) > 0,
            "no expiry during matching"
        );
        assert!(
            self.model_sum(|s| s.tick_expiries) > 0,
            "no expiry on a clock tick"
        );
        assert!(
            self.model_sum(|s| s.forgotten_orders) > 0,
            "no order forgotten at day end"
        );
        assert!(
            self.model_sum(|s| s.fok_prechecks_stp) > 0,
            "no FOK/min-qty STP precheck cancel"
        );
        assert!(
            self.model_sum(|s| s.triggered_cascades) > 0,
            "no stop cascade"
        );
    }
}

fn event_lines(events: &[Event]) -> String {
    let mut s = String::new();
    for (i, e) in events.iter().enumerate() {
        let _ = writeln!(s, "  [{i}] {e:?}");
    }
    s
}

fn mismatch_report(
    seed: u64,
    index: usize,
    history: &VecDeque<(u64, u64, Input)>,
    input: &(u64, u64, Input),
    expected: &[Event],
    got: &[Event],
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "engine and reference model disagree");
    let _ = writeln!(
        s,
        "replay: VENUE_DIFF_SEED={seed} VENUE_DIFF_INPUTS={} cargo test -p engine --test differential",
        index + 1
    );
    let _ = writeln!(
        s,
        "seed {seed}, input index {index} (seq {}, time_ns {})",
        input.0, input.1
    );
    let _ = writeln!(s, "previous inputs:");
    for (seq, time, i) in history {
        let _ = writeln!(s, "  seq {seq} t {time}: {i:?}");
    }
    let _ = writeln!(s, "input: {:#?}", input.2);
    let first = expected
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(got.len()));
    let _ = writeln!(s, "first difference at event {first}");
    if let (Some(a), Some(b)) = (expected.get(first), got.get(first)) {
        let _ = writeln!(s, "model:  {a:#?}\nengine: {b:#?}");
    }
    let _ = writeln!(
        s,
        "model events ({}):\n{}",
        expected.len(),
        event_lines(expected)
    );
    let _ = writeln!(s, "engine events ({}):\n{}", got.len(), event_lines(got));
    s
}

/// The model's books just before input `index` of `seed`, replayed from the
/// start (only on a mismatch, so the run itself keeps no copies).
fn model_state_before(seed: u64, index: usize) -> String {
    let mut model = Model::new(&reference::config());
    let mut generator = InputGen::new(seed);
    for _ in 0..index {
        let (seq, time_ns, input) = generator.next_input();
        generator.observe(&model.apply(seq, time_ns, &input));
    }
    let instruments = [reference::INSTRUMENT_TICKS, reference::INSTRUMENT_BPS, FREE];
    instruments
        .iter()
        .map(|i| format!("  {}\n", model.describe(*i)))
        .collect()
}

fn run_seed(seed: u64, inputs: usize, coverage: &mut Coverage) {
    eprintln!("differential: seed {seed}, {inputs} inputs");
    let config = reference::config();
    let mut engine = Engine::new(config.clone()).expect("the test configuration is valid");
    let mut model = Model::new(&config);
    let mut generator = InputGen::new(seed);
    let mut history = VecDeque::with_capacity(HISTORY_LEN);
    let mut got = Vec::new();
    for index in 0..inputs {
        let step = generator.next_input();
        let (seq, time_ns, input) = step;
        let expected = model.apply(seq, time_ns, &input);
        got.clear();
        // An engine panic is a mismatch too: report it with what replays it.
        let applied = panic::catch_unwind(AssertUnwindSafe(|| {
            engine.apply(seq, time_ns, &input, &mut got);
        }));
        if let Err(payload) = applied {
            let why = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            let report = mismatch_report(seed, index, &history, &step, &expected, &got);
            panic!("the engine panicked: {why}\n{report}");
        }
        if got != expected {
            let state = model_state_before(seed, index);
            let report = mismatch_report(seed, index, &history, &step, &expected, &got);
            panic!("{report}model state before the input:\n{state}");
        }
        coverage.observe(&expected);
        generator.observe(&expected);
        if history.len() == HISTORY_LEN {
            history.pop_front();
        }
        history.push_back(step);
    }
    coverage.model.push(model.stats.clone());
}

#[test]
fn engine_matches_reference_model() {
    let inputs = env_u64("VENUE_DIFF_INPUTS").map_or(INPUTS_DEFAULT, |n| n as usize);
    let mut coverage = Coverage::default();
    match env_u64("VENUE_DIFF_SEED") {
        Some(seed) => {
            run_seed(seed, inputs, &mut coverage);
            // One replayed seed need not cover everything; show what it did.
            coverage.print();
        }
        None => {
            for seed in 0..env_u64("VENUE_DIFF_SEEDS").unwrap_or(SEEDS_DEFAULT) {
                run_seed(seed, inputs, &mut coverage);
            }
            coverage.assert_covered();
        }
    }
}

// -------------------------------------------------------------------------
// The model alone, on hand-written scenarios: a model that is wrong in the
// same way as the engine would hide a bug, so the basics are pinned here.

const T0: u64 = 20_000 * 86_400 * 1_000_000_000;
const TICKS: InstrumentId = reference::INSTRUMENT_TICKS;
const FREE: InstrumentId = reference::INSTRUMENT_FREE;
const P1: ParticipantId = ParticipantId(1);
const P2: ParticipantId = ParticipantId(2);
const P5: ParticipantId = ParticipantId(5);

fn cl(s: &str) -> ClOrdId {
    ClOrdId::new(s.as_bytes()).expect("valid ClOrdID")
}

fn limit(
    participant: ParticipantId,
    instrument: InstrumentId,
    id: &str,
    side: Side,
    price: PriceTicks,
    qty: QtyLots,
) -> NewOrder {
    NewOrder {
        participant,
        instrument,
        cl_ord_id: cl(id),
        side,
        ord_type: OrdType::Limit,
        tif: TimeInForce::Gtc,
        price_ticks: Some(price),
        stop_price_ticks: None,
        qty_lots: qty,
        display_qty_lots: 0,
        min_qty_lots: 0,
        post_only: false,
        expire_time_ns: None,
    }
}

/// Applies inputs one by one from seq 1; returns the last input's events.
fn run(model: &mut Model, inputs: &[Input]) -> Vec<Event> {
    let mut last = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        last = model.apply(i as u64 + 1, T0 + i as u64, input);
    }
    last
}

/// A compact view of an event list, for asserting a scenario's shape.
fn shape(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            Event::Exec(r) => format!(
                "exec {:?} #{} {:?} {:?} leaves {} cum {} last {}@{} idx {}",
                r.exec_type,
                r.order_id.0,
                r.ord_status,
                r.reason,
                r.leaves_qty_lots,
                r.cum_qty_lots,
                r.last_qty_lots,
                r.last_px_ticks,
                r.exec_id.idx
            ),
            Event::Trade(t) => format!(
                "trade {} {}@{} buy #{} sell #{}",
                t.trade_id.0, t.qty_lots, t.price_ticks, t.buy_order_id.0, t.sell_order_id.0
            ),
            Event::BookLevel(l) => format!(
                "level {:?} {} qty {} n {}",
                l.side, l.price_ticks, l.qty_lots, l.order_count
            ),
            Event::CancelReject(c) => format!("cxlrej {:?} {:?}", c.reason, c.ord_status),
            Event::MassCancelReport(m) => format!("mass {} {:?}", m.cancelled_count, m.reject),
            Event::InstrumentStatus(x) => format!("status {:?} {:?}", x.phase, x.cause),
            Event::AdminReport(a) => format!("admin {:?} {:?}", a.reject, a.cancelled_count),
        })
        .collect()
}

#[test]
fn model_crossing_order_trades_at_the_resting_price() {
    let mut m = Model::new(&reference::config());
    let events = run(
        &mut m,
        &[
            Input::NewOrder(limit(P1, FREE, "s", Side::Sell, 100, 10)),
            Input::NewOrder(limit(P2, FREE, "b", Side::Buy, 101, 4)),
        ],
    );
    assert_eq!(
        shape(&events),
        [
            "exec New #2 New None leaves 4 cum 0 last 0@0 idx 0",
            "trade 1 4@100 buy #2 sell #1",
            "exec Trade #2 Filled None leaves 0 cum 4 last 4@100 idx 1",
            "exec Trade #1 PartiallyFilled None leaves 6 cum 4 last 4@100 idx 2",
            "level Sell 100 qty 6 n 1",
        ]
    );
    let Event::Exec(r) = events[2] else { panic!() };
    assert!(r.aggressor);
    assert_eq!(r.cum_notional_tick_lots, 400);
}

#[test]
fn model_fills_a_level_first_in_first_out() {
    let mut m = Model::new(&reference::config());
    let events = run(
        &mut m,
        &[
            Input::NewOrder(limit(P1, FREE, "a", Side::Sell, 100, 10)),
            Input::NewOrder(limit(P2, FREE, "b", Side::Sell, 100, 10)),
            Input::NewOrder(limit(P5, FREE, "c", Side::Sell, 99, 2)),
            Input::NewOrder(limit(P2, FREE, "d", Side::Buy, 100, 15)),
        ],
    );
    // Participant 2's own order at 100 is cancelled by its CancelResting STP.
    assert_eq!(
        shape(&events),
        [
            "exec New #4 New None leaves 15 cum 0 last 0@0 idx 0",
            "trade 1 2@99 buy #4 sell #3",
            "exec Trade #4 PartiallyFilled None leaves 13 cum 2 last 2@99 idx 1",
            "exec Trade #3 Filled None leaves 0 cum 2 last 2@99 idx 2",
            "level Sell 99 qty 0 n 0",
            "trade 2 10@100 buy #4 sell #1",
            "exec Trade #4 PartiallyFilled None leaves 3 cum 12 last 10@100 idx 3",
            "exec Trade #1 Filled None leaves 0 cum 10 last 10@100 idx 4",
            "exec Canceled #2 Canceled Cancel(SelfTradePrevention) leaves 0 cum 0 last 0@0 idx 5",
            "level Sell 100 qty 0 n 0",
            "level Buy 100 qty 3 n 1",
        ]
    );
}

#[test]
fn model_iceberg_shows_its_next_part_at_the_back() {
    let mut m = Model::new(&reference::config());
    let mut ice = limit(P1, FREE, "ice", Side::Sell, 100, 10);
    ice.display_qty_lots = 3;
    let events = run(
        &mut m,
        &[
            Input::NewOrder(ice),
            Input::NewOrder(limit(P1, FREE, "plain", Side::Sell, 100, 5)),
            Input::NewOrder(limit(P2, FREE, "buy", Side::Buy, 100, 4)),
        ],
    );
    assert_eq!(
        shape(&events),
        [
            "exec New #3 New None leaves 4 cum 0 last 0@0 idx 0",
            "trade 1 3@100 buy #3 sell #1",
            "exec Trade #3 PartiallyFilled None leaves 1 cum 3 last 3@100 idx 1",
            "exec Trade #1 PartiallyFilled None leaves 7 cum 3 last 3@100 idx 2",
            "trade 2 1@100 buy #3 sell #2",
            "exec Trade #3 Filled None leaves 0 cum 4 last 1@100 idx 3",
            "exec Trade #2 PartiallyFilled None leaves 4 cum 1 last 1@100 idx 4",
            "level Sell 100 qty 7 n 2",
        ]
    );
    assert_eq!(m.stats.iceberg_refreshes, 1);
}

#[test]
fn model_decrement_both_restates_the_larger_and_cancels_the_smaller() {
    let mut m = Model::new(&reference::config());
    let events = run(
        &mut m,
        &[
            Input::NewOrder(limit(P5, FREE, "s", Side::Sell, 100, 10)),
            Input::NewOrder(limit(P5, FREE, "b", Side::Buy, 100, 4)),
        ],
    );
    assert_eq!(
        shape(&events),
        [
            "exec New #2 New None leaves 4 cum 0 last 0@0 idx 0",
            "exec Restated #1 New Cancel(SelfTradePrevention) leaves 6 cum 0 last 0@0 idx 1",
            "level Sell 100 qty 6 n 1",
            "exec Canceled #2 Canceled Cancel(SelfTradePrevention) leaves 0 cum 0 last 0@0 idx 2",
        ]
    );
    let Event::Exec(r) = events[1] else { panic!() };
    assert_eq!(r.order_qty_lots, 6);
}

#[test]
fn model_market_order_stops_at_the_collar() {
    let mut m = Model::new(&reference::config());
    let mut market = limit(P2, TICKS, "m", Side::Buy, 0, 10);
    market.ord_type = OrdType::Market;
    market.price_ticks = None;
    let events = run(
        &mut m,
        &[
            Input::NewOrder(limit(P1, TICKS, "a", Side::Sell, 104, 3)),
            Input::NewOrder(limit(P1, TICKS, "b", Side::Sell, 105, 3)),
            Input::NewOrder(market),
        ],
    );
    // The band is [95, 105] around the reference 100, taken once: the trade
    // at 104 does not widen it for this order, and nothing is left beyond.
    assert_eq!(
        shape(&events),
        [
            "exec New #3 New None leaves 10 cum 0 last 0@0 idx 0",
            "trade 1 3@104 buy #3 sell #1",
            "exec Trade #3 PartiallyFilled None leaves 7 cum 3 last 3@104 idx 1",
            "exec Trade #1 Filled None leaves 0 cum 3 last 3@104 idx 2",
            "level Sell 104 qty 0 n 0",
            "trade 2 3@105 buy #3 sell #2",
            "exec Trade #3 PartiallyFilled None leaves 4 cum 6 last 3@105 idx 3",
            "exec Trade #2 Filled None leaves 0 cum 3 last 3@105 idx 4",
            "level Sell 105 qty 0 n 0",
            "exec Canceled #3 Canceled Cancel(IocRemainder) leaves 0 cum 6 last 0@0 idx 5",
        ]
    );
}

#[test]
fn model_stop_triggers_on_the_last_trade_and_cascades() {
    let mut m = Model::new(&reference::config());
    let stop = |id: &str, stop_px| {
        let mut o = limit(P2, FREE, id, Side::Buy, 0, 1);
        o.ord_type = OrdType::Stop;
        o.price_ticks = None;
        o.stop_price_ticks = Some(stop_px);
        o
    };
    let events = run(
        &mut m,
        &[
            Input::NewOrder(stop("st1", 101)),
            Input::NewOrder(stop("st2", 100)),
            Input::NewOrder(limit(P1, FREE, "a", Side::Sell, 100, 1)),
            Input::NewOrder(limit(P1, FREE, "b", Side::Sell, 101, 1)),
            Input::NewOrder(limit(P1, FREE, "c", Side::Sell, 102, 5)),
            Input::NewOrder(limit(P1, FREE, "d", Side::Buy, 100, 1)),
        ],
    );
    // The trade at 100 triggers stop #2; its trade at 101 triggers stop #1.
    assert_eq!(
        shape(&events),
        [
            "exec New #6 New None leaves 1 cum 0 last 0@0 idx 0",
            "trade 1 1@100 buy #6 sell #3",
            "exec Trade #6 Filled None leaves 0 cum 1 last 1@100 idx 1",
            "exec Trade #3 Filled None leaves 0 cum 1 last 1@100 idx 2",
            "level Sell 100 qty 0 n 0",
            "exec Triggered #2 New None leaves 1 cum 0 last 0@0 idx 3",
            "trade 2 1@101 buy #2 sell #4",
            "exec Trade #2 Filled None leaves 0 cum 1 last 1@101 idx 4",
            "exec Trade #4 Filled None leaves 0 cum 1 last 1@101 idx 5",
            "level Sell 101 qty 0 n 0",
            "exec Triggered #1 New None leaves 1 cum 0 last 0@0 idx 6",
            "trade 3 1@102 buy #1 sell #5",
            "exec Trade #1 Filled None leaves 0 cum 1 last 1@102 idx 7",
            "exec Trade #5 PartiallyFilled None leaves 4 cum 1 last 1@102 idx 8",
            "level Sell 102 qty 4 n 1",
        ]
    );
}
