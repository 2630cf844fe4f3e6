//! Plain replay bench: throughput and per-input latency of the matching
//! engine on the workload in `common/workload.rs` (1,000,000 limit orders on
//! one instrument, ~30% marketable, interleaved with 572,585 cancels of random
//! live orders by ClOrdID: 1,572,585 inputs, ~12,000 orders resting), events
//! included (every event is copied into a buffer cleared per input, as the
//! sequencer copies them into its output rings).
//!
//! Run: `cargo bench --bench engine_replay` (optionally `-- --runs N --orders N`;
//! `--only-engine` makes engine passes only, one unless `--runs` is given,
//! for valgrind or `perf record`; with `--stateless`, `--prefetch-one` or
//! `--no-prefetch` those passes announce inputs deep without a memory, one
//! ahead or not at all).
//!
//! What each printed number measures:
//!
//! - **throughput**: inputs / wall time of one whole untimed pass (no clock
//!   read, no histogram per input) over the pre-generated inputs into an
//!   engine built before the clock starts; median (min, max) of `--runs`.
//!   Each input is announced at every distance from `PREFETCH_DISTANCE`
//!   down to one input before its turn (`Engine::prefetch_ahead`, each
//!   distance starting from the link found at the one before), as the
//!   sequencer does from its inbound ring; passes announcing the same
//!   distances from scratch each time (`Engine::prefetch_at`), one ahead
//!   (`Engine::prefetch` alone) and not at all run in turn with these,
//!   and their medians are printed as ratios.
//! - **baseline, plain book**: the same measure for the yardstick
//!   (`common/baseline.rs`): `BTreeMap` levels of `VecDeque` FIFOs, an order
//!   id → quantity map, lazy cancels, no events, on the workload translated
//!   beforehand (untimed) to numeric order ids. The engine/baseline ratio is
//!   the figure to quote: the machine is shared, and each run of the three
//!   passes is interleaved so that a noisy neighbour slows all alike.
//! - **baseline + ClOrdID map**: the same book fed the engine's own `Input`s,
//!   resolving each (participant, ClOrdID) through a hash map of live orders:
//!   the part of the gap that is the client ids' cost.
//! - **latency**: a separate pass into a fresh engine that reads the clock
//!   before and after every input (a clock read, ~30 ns here, is inside each
//!   figure; its own distribution is printed beside), recorded in an HDR
//!   histogram. Its inputs/s are not reported: timing every input slows it.
//!
//! The workload is generated (and translated for the plain book) before any
//! timing. Allocation of the engine's stores happens inside the timed passes
//! as it would live (chunks faulted in as the day's records grow).

use std::time::Instant;

use engine::{Engine, Event, EventSink};
use hdrhistogram::Histogram;

#[path = "common/baseline.rs"]
mod baseline;
#[path = "common/workload.rs"]
mod workload;

/// Copies events into a buffer that is cleared per input: the work a real
/// sink does, without letting the optimiser drop the events.
struct CopySink {
    buf: Vec<Event>,
    total: u64,
}

impl EventSink for CopySink {
    #[inline]
    fn event(&mut self, event: &Event) {
        self.buf.push(*event);
    }
}

/// How far ahead inputs are announced to the engine.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ahead {
    /// Not at all.
    None,
    /// `Engine::prefetch` one input ahead (the first link alone).
    One,
    /// `Engine::prefetch_ahead` from `PREFETCH_DISTANCE` inputs ahead down
    /// to one, each announcement starting from the link the one before
    /// found (the sequencer, from its inbound ring; replay; recovery).
    Deep,
    /// The same distances through `Engine::prefetch_at`, which starts every
    /// announcement from the ClOrdID (what session 9 landed).
    DeepStateless,
}

/// Announces the inputs after input `i` as `ahead` says.
#[inline]
fn announce(
    e: &Engine,
    inputs: &[engine::Input],
    i: usize,
    ahead: Ahead,
    memo: &mut engine::Lookahead,
) {
    match ahead {
        Ahead::None => {}
        Ahead::One => {
            if let Some(next) = inputs.get(i + 1) {
                e.prefetch(next);
            }
        }
        Ahead::Deep => {
            for d in 1..=engine::PREFETCH_DISTANCE {
                if let Some(later) = inputs.get(i + d) {
                    e.prefetch_ahead(memo, (i + d) as u64, later, d);
                }
            }
        }
        Ahead::DeepStateless => {
            for d in 1..=engine::PREFETCH_DISTANCE {
                if let Some(later) = inputs.get(i + d) {
                    e.prefetch_at(later, d);
                }
            }
        }
    }
}

/// Applies every input to `e`; returns the number of events emitted, each
/// input announced as `ahead` says. Never inlined: a symbol of its own for
/// `valgrind --toggle-collect='*engine_replay::replay*'`.
#[inline(never)]
fn replay(e: &mut Engine, inputs: &[engine::Input], ahead: Ahead) -> u64 {
    let mut sink = CopySink {
        buf: Vec::with_capacity(4096),
        total: 0,
    };
    let mut memo = engine::Lookahead::default();
    for (i, input) in inputs.iter().enumerate() {
        sink.buf.clear();
        announce(e, inputs, i, ahead, &mut memo);
        e.apply(
            i as u64 + 1,
            workload::T0_NS + i as u64 * 1_000,
            input,
            &mut sink,
        );
        sink.total += sink.buf.len() as u64;
    }
    sink.total
}

/// Inputs per second of one untimed pass: whole-run wall time over inputs.
fn rate(inputs: usize, run: impl FnOnce()) -> f64 {
    let start = Instant::now();
    run();
    inputs as f64 / start.elapsed().as_secs_f64()
}

fn median(mut rates: Vec<f64>) -> f64 {
    rates.sort_by(|a, b| a.total_cmp(b));
    rates[rates.len() / 2]
}

fn main() {
    let arg = |name: &str, default: usize| -> usize {
        std::env::args()
            .skip_while(|a| a != name)
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(default)
    };
    let runs = arg("--runs", 5);
    let orders = arg("--orders", workload::ORDERS);
    let t = Instant::now();
    let inputs = workload::generate(orders);
    let plain = baseline::plain_inputs(&inputs);
    let new_orders = inputs
        .iter()
        .filter(|i| matches!(i, engine::Input::NewOrder(_)))
        .count();
    println!(
        "workload: {} inputs ({} new orders, {} cancels), generated in {:.1}s",
        inputs.len(),
        new_orders,
        inputs.len() - new_orders,
        t.elapsed().as_secs_f64()
    );

    // `--only-engine`: engine passes and nothing else (one unless `--runs`
    // says more), for instruction counting under valgrind or a profiler.
    if std::env::args().any(|a| a == "--only-engine") {
        let ahead = if std::env::args().any(|a| a == "--no-prefetch") {
            Ahead::None
        } else if std::env::args().any(|a| a == "--prefetch-one") {
            Ahead::One
        } else if std::env::args().any(|a| a == "--stateless") {
            Ahead::DeepStateless
        } else {
            Ahead::Deep
        };
        let passes = if std::env::args().any(|a| a == "--runs") {
            runs
        } else {
            1
        };
        for _ in 0..passes {
            let mut e = Engine::new(workload::config_for(orders)).expect("valid config");
            let start = Instant::now();
            let events = replay(&mut e, &inputs, ahead);
            let secs = start.elapsed().as_secs_f64();
            // A checkpoint at the end (folding every order finished in
            // the pass), one right after it (nothing to fold: the live
            // state's part), and the whole encoding's hash (what a
            // checkpoint of input format 1 cost).
            let timed = |f: &mut dyn FnMut()| {
                let start = Instant::now();
                f();
                start.elapsed().as_secs_f64() * 1e3
            };
            let first = timed(&mut || {
                std::hint::black_box(e.checkpoint_hash(engine::HashScheme::Folded));
            });
            let again = timed(&mut || {
                std::hint::black_box(e.checkpoint_hash(engine::HashScheme::Folded));
            });
            let encoding = timed(&mut || {
                std::hint::black_box(e.encoding_hash());
            });
            println!(
                "{} inputs, {events} events, {:.2} M inputs/s; checkpoint at the end {first:.1} ms \
                 ({} finished orders folded), then {again:.1} ms; the whole encoding's hash {encoding:.1} ms",
                inputs.len(),
                inputs.len() as f64 / secs / 1e6,
                e.finished_order_count(),
            );
        }
        return;
    }

    // Throughput: untimed passes (no clock read per input), the engine and
    // the two baselines interleaved run by run so that a noisy neighbour
    // slows all three alike. Construction and drop are outside the timing.
    let (mut rates, mut plain_rates, mut cl_rates) = (Vec::new(), Vec::new(), Vec::new());
    let (mut one_ahead_rates, mut unprefetched_rates) = (Vec::new(), Vec::new());
    let mut stateless_rates = Vec::new();
    let mut events_per_run = 0;
    let mut resting = 0;
    for run in 0..runs {
        // The passes announcing inputs deep (the headline, as the
        // sequencer does), one ahead and not at all take turns in first
        // place, so that none always follows another.
        let mut order = [Ahead::Deep, Ahead::DeepStateless, Ahead::One, Ahead::None];
        order.rotate_left(run % 4);
        for ahead in order {
            let mut e = Engine::new(workload::config_for(orders)).expect("valid config");
            let r = rate(inputs.len(), || {
                events_per_run = replay(&mut e, &inputs, ahead);
            });
            match ahead {
                Ahead::Deep => {
                    rates.push(r);
                    resting = e.live_order_count();
                }
                Ahead::DeepStateless => stateless_rates.push(r),
                Ahead::One => one_ahead_rates.push(r),
                Ahead::None => unprefetched_rates.push(r),
            }
        }

        let mut book = baseline::PlainBook::default();
        plain_rates.push(rate(inputs.len(), || {
            for input in &plain {
                book.apply(input);
            }
        }));
        std::hint::black_box(book.filled_lots);
        drop(book);

        let mut book = baseline::ClOrdIdBook::default();
        cl_rates.push(rate(inputs.len(), || {
            for input in &inputs {
                book.apply(input);
            }
        }));
        std::hint::black_box(book.book.filled_lots);
    }
    let (min, max) = (
        rates.iter().copied().fold(f64::MAX, f64::min),
        rates.iter().copied().fold(0.0, f64::max),
    );
    let (engine_median, plain_median, cl_median) =
        (median(rates), median(plain_rates), median(cl_rates));
    let unprefetched_median = median(unprefetched_rates);
    let one_ahead_median = median(one_ahead_rates);
    let stateless_median = median(stateless_rates);
    println!(
        "baseline, plain book (BTreeMap + VecDeque, order ids, lazy cancels, no events): median {:.2} M inputs/s; engine/baseline = {:.2}",
        plain_median / 1e6,
        engine_median / plain_median
    );
    println!(
        "baseline + ClOrdID map (same book resolving (participant, ClOrdID) per input): median {:.2} M inputs/s; engine/this = {:.2}",
        cl_median / 1e6,
        engine_median / cl_median
    );
    println!(
        "engine announcing as deep, each distance from the ClOrdID (Engine::prefetch_at): median {:.2} M inputs/s; deep/this = {:.3}",
        stateless_median / 1e6,
        engine_median / stateless_median
    );
    println!(
        "engine announcing inputs one ahead (Engine::prefetch): median {:.2} M inputs/s; deep/this = {:.3}",
        one_ahead_median / 1e6,
        engine_median / one_ahead_median
    );
    println!(
        "engine without prefetch: median {:.2} M inputs/s; deep/this = {:.3}",
        unprefetched_median / 1e6,
        engine_median / unprefetched_median
    );
    println!(
        "throughput: median {:.2} M inputs/s over {runs} runs (min {:.2}, max {:.2}); {:.2} M events/s; {events_per_run} events per run; {resting} orders resting at the end",
        engine_median / 1e6,
        min / 1e6,
        max / 1e6,
        engine_median * events_per_run as f64 / inputs.len() as f64 / 1e6,
    );

    // Latency pass.
    let mut clock = Histogram::<u64>::new(3).expect("histogram");
    for _ in 0..100_000 {
        let a = Instant::now();
        let b = Instant::now();
        clock.record((b - a).as_nanos() as u64).expect("record");
    }
    let mut hist = Histogram::<u64>::new(3).expect("histogram");
    let mut e = Engine::new(workload::config_for(orders)).expect("valid config");
    let mut sink = CopySink {
        buf: Vec::with_capacity(4096),
        total: 0,
    };
    let mut memo = engine::Lookahead::default();
    for (i, input) in inputs.iter().enumerate() {
        sink.buf.clear();
        let a = Instant::now();
        announce(&e, &inputs, i, Ahead::Deep, &mut memo);
        e.apply(
            i as u64 + 1,
            workload::T0_NS + i as u64 * 1_000,
            input,
            &mut sink,
        );
        let ns = a.elapsed().as_nanos() as u64;
        hist.record(ns).expect("record");
    }
    println!(
        "latency per input (ns, includes one clock read): p50 {} p90 {} p99 {} p99.9 {} p99.99 {} max {}",
        hist.value_at_quantile(0.5),
        hist.value_at_quantile(0.9),
        hist.value_at_quantile(0.99),
        hist.value_at_quantile(0.999),
        hist.value_at_quantile(0.9999),
        hist.max()
    );
    println!(
        "clock read itself (ns): p50 {} p99 {}",
        clock.value_at_quantile(0.5),
        clock.value_at_quantile(0.99)
    );
}
