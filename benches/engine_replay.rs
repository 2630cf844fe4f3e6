//! Plain replay bench: throughput and per-input latency percentiles of the
//! matching engine on the workload in `common/workload.rs` (1,000,000 limit
//! orders, ~30% marketable, interleaved with ~440,000 cancels of random live
//! orders, ~10,000 resting), events included (every event is copied into a
//! reused buffer, as the sequencer will copy them into its output rings).
//!
//! A plain `BTreeMap` + `VecDeque` book (`common/baseline.rs`) runs the same
//! inputs in the same process, and the ratio is printed.
//!
//! Run: `cargo bench --bench engine_replay` (optionally `-- --runs N --orders N`).
//! Throughput is measured on passes with no per-input timing; latency on a
//! separate pass that reads the clock around every input, with the clock's own
//! cost measured and reported beside it.

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

/// Applies every input to a fresh engine; returns it and the events emitted.
fn replay(inputs: &[engine::Input]) -> (Engine, u64) {
    let mut e = Engine::new(workload::config()).expect("valid config");
    let mut sink = CopySink {
        buf: Vec::with_capacity(4096),
        total: 0,
    };
    for (i, input) in inputs.iter().enumerate() {
        sink.buf.clear();
        e.apply(
            i as u64 + 1,
            workload::T0_NS + i as u64 * 1_000,
            input,
            &mut sink,
        );
        sink.total += sink.buf.len() as u64;
    }
    (e, sink.total)
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

    // `--only-engine`: one pass of the engine and nothing else, for
    // instruction counting under valgrind.
    if std::env::args().any(|a| a == "--only-engine") {
        let (_, events) = replay(&inputs);
        println!("{} inputs, {events} events", inputs.len());
        return;
    }

    let mut rates = Vec::new();
    let mut events_per_run = 0;
    let mut resting = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let (e, events) = replay(&inputs);
        let secs = start.elapsed().as_secs_f64();
        rates.push(inputs.len() as f64 / secs);
        events_per_run = events;
        resting = e.live_order_count();
    }
    // The baseline, interleaved run by run with the engine above would be
    // fairer still; measured right after it, in the same process.
    let mut base_rates = Vec::new();
    for _ in 0..runs {
        let mut book = baseline::PlainBook::default();
        let start = Instant::now();
        for input in &inputs {
            book.apply(input);
        }
        let secs = start.elapsed().as_secs_f64();
        std::hint::black_box(book.filled_lots);
        base_rates.push(inputs.len() as f64 / secs);
    }
    base_rates.sort_by(|a, b| a.total_cmp(b));
    rates.sort_by(|a, b| a.total_cmp(b));
    let median = rates[rates.len() / 2];
    let base_median = base_rates[base_rates.len() / 2];
    println!(
        "baseline (BTreeMap + VecDeque book, no events, no validation, no per-day ClOrdID memory): median {:.2} M inputs/s; engine/baseline = {:.2}",
        base_median / 1e6,
        median / base_median
    );
    println!(
        "throughput: median {:.2} M inputs/s over {runs} runs (min {:.2}, max {:.2}); {:.2} M events/s; {events_per_run} events per run; {resting} orders resting at the end",
        median / 1e6,
        rates[0] / 1e6,
        rates[rates.len() - 1] / 1e6,
        median * events_per_run as f64 / inputs.len() as f64 / 1e6,
    );

    // Latency pass.
    let mut clock = Histogram::<u64>::new(3).expect("histogram");
    for _ in 0..100_000 {
        let a = Instant::now();
        let b = Instant::now();
        clock.record((b - a).as_nanos() as u64).expect("record");
    }
    let mut hist = Histogram::<u64>::new(3).expect("histogram");
    let mut e = Engine::new(workload::config()).expect("valid config");
    let mut sink = CopySink {
        buf: Vec::with_capacity(4096),
        total: 0,
    };
    for (i, input) in inputs.iter().enumerate() {
        sink.buf.clear();
        let a = Instant::now();
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
