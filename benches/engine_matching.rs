//! Criterion benches of the matching engine.
//!
//! Workload (see `common/workload.rs`): one instrument, 1,000,000 GTC limit
//! orders of 1 to 10 lots from eight participants, ~30% marketable, the rest
//! within 50 ticks of a walking mid, interleaved with ~570,000 cancels by
//! ClOrdID of random live orders, ~10,000 orders resting; events included
//! (copied into a reused buffer), each input announced with `Engine::prefetch`
//! one ahead (`engine_replay`'s headline passes announce deeper, with
//! `Engine::prefetch_at`). The inputs are generated once, outside the
//! timed region; each iteration replays them into a fresh engine built in
//! `iter_batched`'s setup.
//!
//! - `replay/full`: the whole workload (~1.57 M inputs) per iteration.
//! - `replay/first_100k`: its first 100,000 inputs, for quicker comparisons.
//!
//! Run: `cargo bench --bench engine_matching`. The plain `engine_replay`
//! bench prints the same workload's throughput and latency percentiles.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use engine::{Engine, Event, EventSink, Input};

#[path = "common/workload.rs"]
mod workload;

struct CopySink(Vec<Event>);

impl EventSink for CopySink {
    #[inline]
    fn event(&mut self, event: &Event) {
        self.0.push(*event);
    }
}

fn replay(engine: &mut Engine, inputs: &[Input]) -> usize {
    let mut sink = CopySink(Vec::with_capacity(4096));
    let mut events = 0;
    for (i, input) in inputs.iter().enumerate() {
        sink.0.clear();
        if let Some(next) = inputs.get(i + 1) {
            engine.prefetch(next);
        }
        engine.apply(
            i as u64 + 1,
            workload::T0_NS + i as u64 * 1_000,
            input,
            &mut sink,
        );
        events += sink.0.len();
    }
    events
}

fn bench(c: &mut Criterion) {
    let inputs = workload::generate(workload::ORDERS);
    let mut group = c.benchmark_group("replay");
    group.sample_size(10);
    for (name, slice) in [("first_100k", &inputs[..100_000]), ("full", &inputs[..])] {
        group.throughput(Throughput::Elements(slice.len() as u64));
        group.bench_function(name, |b| {
            b.iter_batched(
                || Engine::new(workload::config()).expect("valid config"),
                |mut engine| replay(&mut engine, slice),
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
