//! Restart: replay speed, and the time to restart from a journal with and
//! without a snapshot.
//!
//! Writes the workload of `common/workload.rs` (by default 6,400,000 orders,
//! about 10 million inputs) to a journal under `--dir`, with a snapshot taken
//! at 90% of it, then times `venue::runtime::recover` (open the journal with
//! its recovery scan, load the snapshot if asked, replay the rest):
//! - without a snapshot: every input replayed (the replay rate);
//! - with the snapshot: the last 10% replayed.
//!
//! Like the live loop, it journals a checkpoint (the folded state hash)
//! every `SequencerConfig::default().checkpoint_every_inputs` inputs, which
//! both restarts verify, and prints what each checkpoint cost.
//!
//! Run: `cargo bench --bench restart [-- --dir /work --orders N]`.

use std::path::PathBuf;
use std::time::Instant;

use engine::codec::{INPUT_FORMAT_VERSION, encode_input};
use engine::sequencer::SequencerConfig;
use engine::{Engine, HashScheme, Input, NullSink};
use journal::{Durability, Journal, JournalConfig};
use venue::runtime::{PAYLOAD_TYPE_INPUT, recover};

#[path = "common/workload.rs"]
mod workload;

fn arg(name: &str) -> Option<String> {
    std::env::args().skip_while(|a| a != name).nth(1)
}

fn main() {
    let base: PathBuf = arg("--dir").map_or_else(std::env::temp_dir, PathBuf::from);
    let orders = arg("--orders")
        .and_then(|s| s.parse().ok())
        .unwrap_or(workload::ORDERS * 64 / 10);
    let t = Instant::now();
    let inputs = workload::generate(orders);
    println!(
        "workload: {} inputs, generated in {:.1}s",
        inputs.len(),
        t.elapsed().as_secs_f64()
    );
    let tmp = tempfile::tempdir_in(&base).expect("temp dir");
    let (jdir, sdir) = (tmp.path().join("journal"), tmp.path().join("snapshots"));
    let config = JournalConfig {
        durability: Durability::Process,
        ..JournalConfig::default()
    };
    let mut journal = Journal::open(&jdir, config.clone()).expect("journal");
    let mut engine = Engine::new(workload::config()).expect("config");
    let mut buf = Vec::new();
    let cut = inputs.len() * 9 / 10;
    let every = SequencerConfig::default().checkpoint_every_inputs as usize;
    let mut checkpoint_secs = Vec::new();
    let t = Instant::now();
    for (i, input) in inputs.iter().enumerate() {
        let time_ns = workload::T0_NS + i as u64 * 1_000;
        if i > 0 && i % every == 0 {
            // What the sequencer does every `every` inputs, on the matching
            // thread.
            let started = Instant::now();
            let scheme = HashScheme::Folded;
            let state_hash = engine.checkpoint_hash(scheme);
            checkpoint_secs.push(started.elapsed().as_secs_f64());
            let checkpoint = Input::Checkpoint { state_hash, scheme };
            buf.clear();
            encode_input(&checkpoint, &mut buf);
            let seq = journal
                .append(PAYLOAD_TYPE_INPUT, INPUT_FORMAT_VERSION, time_ns, &buf)
                .expect("append");
            engine.apply(seq, time_ns, &checkpoint, &mut NullSink);
        }
        buf.clear();
        encode_input(input, &mut buf);
        let seq = journal
            .append(PAYLOAD_TYPE_INPUT, INPUT_FORMAT_VERSION, time_ns, &buf)
            .expect("append");
        engine.apply(seq, time_ns, input, &mut NullSink);
        if i + 1 == cut {
            venue::snapshot::write(&sdir, &engine, seq, time_ns).expect("snapshot");
        }
    }
    journal.close().expect("close");
    let bytes: u64 = std::fs::read_dir(&jdir)
        .expect("dir")
        .map(|e| e.expect("entry").metadata().expect("meta").len())
        .sum();
    println!(
        "journal written in {:.1}s ({:.0} MiB of segments); snapshot at input {cut}",
        t.elapsed().as_secs_f64(),
        bytes as f64 / (1 << 20) as f64
    );
    // What the checkpoints cost the matching thread: each one hashes the
    // live state and folds the orders finished since the previous one.
    // Against it, the hash of the whole encoding (what a checkpoint of input
    // format 1 cost: every order finished today), median of three.
    checkpoint_secs.sort_by(f64::total_cmp);
    let mut encoding_secs: Vec<f64> = (0..3)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(engine.encoding_hash());
            t.elapsed().as_secs_f64()
        })
        .collect();
    encoding_secs.sort_by(f64::total_cmp);
    let hash = engine.state_hash();
    if let (Some(median), Some(max)) = (
        checkpoint_secs.get(checkpoint_secs.len() / 2),
        checkpoint_secs.last(),
    ) {
        println!(
            "checkpoints: {} journaled, one every {every} inputs; each took median {:.1} ms, max {:.1} ms",
            checkpoint_secs.len(),
            median * 1e3,
            max * 1e3
        );
    }
    println!(
        "the whole encoding's hash of the final state ({} live orders, {} finished, {} MiB encoded) takes {:.1} ms",
        engine.live_order_count(),
        engine.finished_order_count(),
        engine.snapshot().len() >> 20,
        encoding_secs[1] * 1e3
    );
    drop(engine);

    for (label, snaps) in [
        ("without a snapshot", None),
        ("with the snapshot", Some(sdir.as_path())),
    ] {
        let t = Instant::now();
        let r = recover(&jdir, snaps, workload::config(), config.clone()).expect("recover");
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(
            r.engine.state_hash(),
            hash,
            "restart must rebuild the same state"
        );
        println!(
            "restart {label}: {:.2}s in all ({} inputs replayed, {:.2} M inputs/s over the whole restart)",
            secs,
            r.replayed,
            r.replayed as f64 / secs / 1e6
        );
    }
}
