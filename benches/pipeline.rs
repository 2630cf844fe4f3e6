//! The whole pipeline: a client thread (playing a gateway: it sends inputs
//! into the inbound ring and drains the outbound ring), the sequencer thread
//! with the journal in `process` durability and the engine.
//!
//! Workload: `common/workload.rs` (1,000,000 limit orders, ~30% marketable,
//! ~570,000 cancels; about 1.57 M inputs). The journal lives in a temporary
//! directory under `--dir` (default: the system temp dir; use a real disk).
//!
//! 1. Sustained throughput: the producer pushes as fast as the ring takes
//!    inputs; the figure is inputs per second from the first push until the
//!    consumer has seen an output of the last input.
//! 2. Latency, open loop: inputs are scheduled at a fixed rate (100k and 1M
//!    per second); each input's latency runs from its *intended* send time
//!    (not the actual one, so a stall is charged to every input it delayed:
//!    coordinated omission corrected) to the client seeing its first output.
//!    The first fifth of the inputs is warm-up and not recorded.
//!
//! 0. The loop alone: one thread pushes a ring's worth of inputs, runs duty
//!    cycles and drains the outputs, in turn: what an input costs the
//!    matching thread, with no second thread in the way (`--single-thread`
//!    stops after it; also the pass to run under callgrind).
//!
//! Run: `cargo bench --bench pipeline [-- --dir /work --orders N]`
//! (`--sustained-only` skips the latency runs). The
//! client thread sends and receives (as a gateway thread would), so two busy
//! threads share this machine's two cores; quote medians of several runs.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use engine::Engine;
use engine::sequencer::{Output, Sequencer, SequencerConfig};
use hdrhistogram::Histogram;
use journal::{Durability, Journal, JournalConfig};
use venue::runtime::{IdleStrategy, JournalLog, spawn};

#[path = "common/workload.rs"]
mod workload;

fn arg(name: &str) -> Option<String> {
    std::env::args().skip_while(|a| a != name).nth(1)
}

fn start(dir: &std::path::Path) -> Sequencer<JournalLog> {
    let journal = Journal::open(
        dir,
        JournalConfig {
            durability: Durability::Process,
            ..JournalConfig::default()
        },
    )
    .expect("journal opens");
    // A venue reserves its day's capacity at start-up, so that no index
    // grows (and pauses to rehash) while orders are being answered.
    let config = engine::EngineConfig {
        orders_capacity: 1 << 21,
        ..workload::config()
    };
    Sequencer::new(
        Engine::new(config).expect("valid config"),
        JournalLog::new(journal),
        SequencerConfig {
            inbound_capacity: 1 << 14,
            outbound_capacity: 1 << 14,
            batch_max: 256,
            gate_on_durable: false,
            tick_interval_ns: 0,
            checkpoint_every_inputs: 0,
            pending_max: 1 << 20,
        },
        0,
    )
}

/// The loop's own cost, on one thread: pushes a ring's worth of inputs,
/// runs duty cycles until they are all applied and released, drains the
/// outputs, and repeats. No second thread competes for the core or the
/// rings' cache lines, so this is what one input costs the matching thread
/// (journal in `process` mode, engine, outputs onto the outbound ring).
/// Returns inputs per second.
fn run_single_thread(base: &std::path::Path, inputs: &[engine::Input]) -> f64 {
    let dir = tempfile::tempdir_in(base).expect("temp dir");
    let mut seq = start(dir.path());
    let (tx, rx) = (seq.sender(), seq.receiver());
    let clock = Instant::now();
    let mut outputs = 0u64;
    let started = Instant::now();
    for chunk in inputs.chunks(1 << 13) {
        for input in chunk {
            assert!(tx.send(*input, 0).is_ok(), "the ring has room for a chunk");
        }
        while !tx.is_empty() {
            seq.do_work(clock.elapsed().as_nanos() as u64);
            while let Some(out) = rx.try_recv() {
                std::hint::black_box(&out);
                outputs += 1;
            }
        }
    }
    while seq.do_work(clock.elapsed().as_nanos() as u64) > 0 {}
    while rx.try_recv().is_some() {
        outputs += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    assert!(outputs >= inputs.len() as u64, "every input has an output");
    inputs.len() as f64 / secs
}

/// Runs the workload at `rate` inputs per second (`None`: as fast as
/// possible); returns (inputs per second, latency histogram in ns).
///
/// One client thread plays a gateway: it sends each input when due and, in
/// between, drains the outbound ring, as a gateway thread would between
/// socket reads and writes. With the sequencer thread, that is one busy thread
/// per core.
fn run(
    base: &std::path::Path,
    inputs: &[engine::Input],
    rate: Option<f64>,
) -> (f64, Histogram<u64>) {
    let dir = tempfile::tempdir_in(base).expect("temp dir");
    let mut seq = start(dir.path());
    let (tx, rx) = (seq.sender(), seq.receiver());
    let stop = Arc::new(AtomicBool::new(false));
    let handle = spawn(
        seq,
        None,
        IdleStrategy::BusySpin,
        Arc::clone(&stop),
        |_: &mut Sequencer<JournalLog>| {},
    )
    .expect("loop starts");
    let n = inputs.len();
    let mut intended = vec![0u64; n];
    let mut hist = Histogram::<u64>::new(3).expect("histogram");
    let epoch = Instant::now();
    let mut next_unseen = 1u64;
    // The first fifth is warm-up (first-touch page faults, the journal's
    // first segment): run, but not recorded.
    let warmup = n as u64 / 5;
    let drain = |intended: &[u64], hist: &mut Histogram<u64>, next_unseen: &mut u64| {
        while let Some(out) = rx.try_recv() {
            match out {
                Output::Event { seq, .. } if seq >= *next_unseen => {
                    let now = epoch.elapsed().as_nanos() as u64;
                    for s in (*next_unseen).max(warmup + 1)..=seq {
                        hist.record(now.saturating_sub(intended[(s - 1) as usize]))
                            .expect("record");
                    }
                    *next_unseen = seq + 1;
                }
                Output::Event { .. } => {}
                Output::Refused { refusal, .. } => panic!("refused: {refusal}"),
            }
        }
    };
    let started = epoch.elapsed();
    for (i, input) in inputs.iter().enumerate() {
        let due = match rate {
            Some(r) => Duration::from_secs_f64(i as f64 / r),
            None => epoch.elapsed(),
        };
        while epoch.elapsed() < due {
            drain(&intended, &mut hist, &mut next_unseen);
            std::hint::spin_loop();
        }
        intended[i] = due.as_nanos() as u64;
        let mut input = *input;
        loop {
            match tx.send(input, 0) {
                Ok(()) => break,
                Err(back) => {
                    input = back;
                    drain(&intended, &mut hist, &mut next_unseen);
                }
            }
        }
    }
    while next_unseen <= n as u64 {
        drain(&intended, &mut hist, &mut next_unseen);
        std::hint::spin_loop();
    }
    let finished = epoch.elapsed();
    stop.store(true, Ordering::Release);
    let seq = handle.join().expect("loop");
    drop(seq);
    let secs = (finished - started).as_secs_f64();
    (n as f64 / secs, hist)
}

/// Prints the median, min and max of a few runs' inputs per second.
fn print_rates(what: &str, mut rates: Vec<f64>) {
    rates.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{what}: median {:.2} M inputs/s over {} runs (min {:.2}, max {:.2})",
        rates[rates.len() / 2] / 1e6,
        rates.len(),
        rates[0] / 1e6,
        rates[rates.len() - 1] / 1e6
    );
}

fn main() {
    let base: PathBuf = arg("--dir").map_or_else(std::env::temp_dir, PathBuf::from);
    let orders = arg("--orders")
        .and_then(|s| s.parse().ok())
        .unwrap_or(workload::ORDERS);
    let inputs = workload::generate(orders);
    println!(
        "workload: {} inputs; journal under {}",
        inputs.len(),
        base.display()
    );
    let mut alone = Vec::new();
    for _ in 0..3 {
        alone.push(run_single_thread(&base, &inputs));
    }
    print_rates("loop alone (one thread: push, duty cycles, drain)", alone);
    if std::env::args().any(|a| a == "--single-thread") {
        return;
    }
    let mut rates = Vec::new();
    for _ in 0..3 {
        rates.push(run(&base, &inputs, None).0);
    }
    print_rates("sustained", rates);
    if std::env::args().any(|a| a == "--sustained-only") {
        return;
    }
    for rate in [100_000.0, 1_000_000.0] {
        let take = inputs.len().min((rate * 5.0) as usize).max(100_000);
        let (_, h) = run(&base, &inputs[..take], Some(rate));
        println!(
            "offered {:>9.0}/s, {take} inputs: input-to-output latency us p50 {:.1} p99 {:.1} p99.9 {:.1} max {:.1}",
            rate,
            h.value_at_quantile(0.5) as f64 / 1e3,
            h.value_at_quantile(0.99) as f64 / 1e3,
            h.value_at_quantile(0.999) as f64 / 1e3,
            h.max() as f64 / 1e3
        );
    }
}
