//! The whole pipeline: a producer thread, the inbound ring, the sequencer
//! thread with the journal in `process` durability and the engine, the
//! outbound ring, and a consumer thread draining outputs.
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
//!    coordinated omission corrected) to the consumer seeing its first output.
//!
//! Run: `cargo bench --bench pipeline [-- --dir /work --orders N]`. Three
//! busy threads share this machine's two cores, so the producer and consumer
//! yield when idle; quote medians of several runs.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    Sequencer::new(
        Engine::new(workload::config()).expect("valid config"),
        JournalLog::new(journal),
        SequencerConfig {
            inbound_capacity: 1 << 14,
            outbound_capacity: 1 << 18,
            batch_max: 256,
            gate_on_durable: false,
            tick_interval_ns: 0,
            checkpoint_every_inputs: 0,
        },
        0,
    )
}

/// Runs the workload at `rate` inputs per second (`None`: as fast as
/// possible); returns (inputs per second, latency histogram in ns).
fn run(
    base: &std::path::Path,
    inputs: &[engine::Input],
    rate: Option<f64>,
) -> (f64, Histogram<u64>) {
    let dir = tempfile::tempdir_in(base).expect("temp dir");
    let seq = start(dir.path());
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
    let intended: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let epoch = Instant::now();
    let consumer = {
        let intended = Arc::clone(&intended);
        std::thread::spawn(move || {
            let mut hist = Histogram::<u64>::new(3).expect("histogram");
            // Two cores, three threads: the consumer must not spin forever.
            let mut idler = venue::runtime::Idler::new(IdleStrategy::Backoff {
                spins: 2_000,
                yields: 0,
                park_us: 20,
            });
            let mut next_unseen = 1u64;
            loop {
                match rx.try_recv() {
                    Some(Output::Event { seq, .. }) => {
                        idler.idle(1);
                        if seq >= next_unseen {
                            let now = epoch.elapsed().as_nanos() as u64;
                            for s in next_unseen..=seq {
                                let t = intended[(s - 1) as usize].load(Ordering::Acquire);
                                hist.record(now.saturating_sub(t)).expect("record");
                            }
                            next_unseen = seq + 1;
                            if next_unseen > n as u64 {
                                return (hist, epoch.elapsed());
                            }
                        }
                    }
                    Some(Output::Refused { refusal, .. }) => panic!("refused: {refusal}"),
                    None => idler.idle(0),
                }
            }
        })
    };
    let started = epoch.elapsed();
    for (i, input) in inputs.iter().enumerate() {
        let due = match rate {
            Some(r) => Duration::from_secs_f64(i as f64 / r),
            None => epoch.elapsed(),
        };
        // Sleep until just before the due time, then spin: the producer
        // must leave the cores to the loop between sends.
        let now = epoch.elapsed();
        if due > now + Duration::from_micros(200) {
            std::thread::sleep(due - now - Duration::from_micros(100));
        }
        while epoch.elapsed() < due {
            std::hint::spin_loop();
        }
        intended[i].store(due.as_nanos() as u64, Ordering::Release);
        let mut input = *input;
        loop {
            match tx.send(input, 1_000) {
                Ok(()) => break,
                Err(back) => input = back,
            }
        }
    }
    let (hist, finished) = consumer.join().expect("consumer");
    stop.store(true, Ordering::Release);
    let seq = handle.join().expect("loop");
    drop(seq);
    let secs = (finished - started).as_secs_f64();
    (n as f64 / secs, hist)
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
    let mut rates = Vec::new();
    for _ in 0..3 {
        rates.push(run(&base, &inputs, None).0);
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    println!(
        "sustained: median {:.2} M inputs/s over 3 runs (min {:.2}, max {:.2})",
        rates[1] / 1e6,
        rates[0] / 1e6,
        rates[2] / 1e6
    );
    for rate in [100_000.0, 1_000_000.0] {
        let take = inputs.len().min((rate * 2.0) as usize).max(100_000);
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
