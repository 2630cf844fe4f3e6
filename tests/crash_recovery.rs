//! Exactly once after a crash, in process: a seeded workload runs once
//! without interruption and once with crashes at random points, through the
//! real journal (`group` durability, events gated on durability). A crash
//! takes the on-disk image the process would leave (every appended byte, the
//! durable mark of the last sync); a power cut additionally loses everything
//! after the durable mark. After each crash the venue recovers from that image
//! and the driver resumes with the first input the journal does not hold (a
//! client retrying what was never acknowledged).
//!
//! Snapshots are taken now and then (of durable state only), and a crash
//! sometimes damages the newest one: recovery must then fall back to an older
//! snapshot or a full replay and still arrive at the same state.
//!
//! Checked: the final state hash equals the uninterrupted run's; no trade id is
//! ever released twice; every released trade is the uninterrupted run's trade
//! with that id; and nothing is released before its input is durable.
//!
//! `VENUE_CRASH_SEED=<n>` replays one seed; `VENUE_CRASH_SEEDS=<n>` runs more.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use engine::sequencer::{Output, OutputReceiver, Sequencer, SequencerConfig};
use engine::{
    Cancel, ClOrdId, EngineConfig, Event, Input, InstrumentId, InstrumentSpec, OrderRef,
    ParticipantId, ParticipantSpec, StpMode, TradePrint,
};
use journal::{Durability, JournalConfig};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use venue::runtime::{JournalLog, recover};
use venue::snapshot;

mod common;

const INPUTS: usize = 3_000;
const T0: u64 = 1_800_000_000_000_000_000;

fn engine_config() -> EngineConfig {
    EngineConfig {
        instruments: vec![InstrumentSpec::new(InstrumentId(1), "X")],
        participants: (1..=4)
            .map(|i| ParticipantSpec {
                id: ParticipantId(i),
                stp: StpMode::CancelResting,
            })
            .collect(),
        ..EngineConfig::default()
    }
}

fn journal_config() -> JournalConfig {
    JournalConfig {
        segment_size_bytes: 256 << 10,
        // Syncs happen where the driver asks (seeded), not on a timer, so
        // that what a power cut loses is the same on every run of a seed.
        durability: Durability::Group {
            flush_interval_us: 10_000_000,
            flush_threshold_bytes: 1 << 40,
        },
        ..JournalConfig::default()
    }
}

fn seq_config() -> SequencerConfig {
    SequencerConfig {
        inbound_capacity: 64,
        outbound_capacity: 1 << 16,
        batch_max: 16,
        gate_on_durable: true,
        tick_interval_ns: 0,
        // Checkpoints are journaled, and every restart verifies them.
        checkpoint_every_inputs: 97,
        pending_max: 1 << 20,
    }
}

fn workload(seed: u64) -> Vec<Input> {
    let mut rng = StdRng::seed_from_u64(seed);
    let id = |n: usize| ClOrdId::new(format!("k{n}").as_bytes()).expect("valid id");
    (0..INPUTS)
        .map(|n| {
            let participant = ParticipantId(rng.random_range(1..=4));
            if n > 10 && rng.random_bool(0.25) {
                Input::Cancel(Cancel {
                    participant,
                    cl_ord_id: id(n),
                    target: OrderRef::ClOrdId(id(rng.random_range(0..n))),
                })
            } else {
                let buy = rng.random_bool(0.5);
                let price = rng.random_range(95..=105);
                common::limit(participant, id(n), buy, price, rng.random_range(1..=10))
            }
        })
        .collect()
}

/// Everything the clients were told, checked as it arrives.
#[derive(Default)]
struct Released {
    trades: BTreeMap<u64, TradePrint>,
    /// The current sequencer's outbound ring (`None` after a crash, until
    /// the restarted one's is taken).
    rx: Option<OutputReceiver>,
}

impl Released {
    fn take(&mut self, seq: &mut Sequencer<JournalLog>) {
        let rx = self.rx.get_or_insert_with(|| seq.receiver());
        let durable = seq.log().journal().durable_seq();
        while let Some(out) = rx.try_recv() {
            match out {
                Output::Event { seq: s, event, .. } => {
                    assert!(
                        s <= durable,
                        "event of input {s} released before durable {durable}"
                    );
                    if let Event::Trade(t) = event {
                        let again = self.trades.insert(t.trade_id.0, t);
                        assert!(again.is_none(), "trade {} released twice", t.trade_id.0);
                    }
                }
                Output::Refused { refusal, .. } => panic!("refused: {refusal}"),
            }
        }
    }
}

/// How restarts went.
#[derive(Default, Debug)]
struct Restarts {
    from_snapshot: usize,
    warnings: usize,
}

fn start(dir: &Path, restarts: &mut Restarts) -> Sequencer<JournalLog> {
    let r = recover(
        &dir.join("journal"),
        Some(&dir.join("snapshots")),
        engine_config(),
        journal_config(),
    )
    .expect("recovers");
    restarts.from_snapshot += usize::from(r.from_snapshot.is_some());
    restarts.warnings += r.warnings.len();
    Sequencer::new(
        r.engine,
        JournalLog::new(r.journal),
        seq_config(),
        r.last_time_ns,
    )
}

/// Feeds inputs from the journal's next sequence number on, one duty cycle
/// each, until `until` inputs are journaled.
/// How many workload inputs (not checkpoints) the journal holds: where a
/// client resumes.
fn journaled_inputs(seq: &Sequencer<JournalLog>) -> usize {
    let mut reader = seq.log().journal().reader().unwrap();
    let mut n = 0;
    while let Some(f) = reader.next_frame().unwrap() {
        let input = engine::decode_input(f.payload).unwrap();
        n += usize::from(!matches!(input, Input::Checkpoint { .. }));
    }
    n
}

/// Where the driver is.
struct Driver<'a> {
    dir: &'a Path,
    inputs: &'a [Input],
    /// Workload inputs journaled so far.
    fed: usize,
}

/// Feeds workload inputs up to `until`, one duty cycle each.
fn feed(
    seq: &mut Sequencer<JournalLog>,
    d: &mut Driver<'_>,
    until: usize,
    out: &mut Released,
    rng: &mut StdRng,
) {
    let tx = seq.sender();
    while d.fed < until {
        let next = d.fed;
        tx.send(d.inputs[next], 1_000).expect("ring has room");
        seq.do_work(T0 + next as u64 * 1_000);
        d.fed += 1;
        if rng.random_bool(0.02) {
            seq.log_mut().journal_mut().sync().expect("sync");
            seq.do_work(T0 + next as u64 * 1_000);
            // The duty cycle may have journaled a checkpoint: sync again.
            let durable = seq.log_mut().journal_mut().sync().expect("sync");
            if rng.random_bool(0.3) {
                // Only durable state is snapshotted.
                assert_eq!(durable, seq.log().journal().last_seq());
                snapshot::write(
                    &d.dir.join("snapshots"),
                    seq.engine(),
                    durable,
                    seq.last_time_ns(),
                )
                .expect("snapshot");
            }
        }
        out.take(seq);
    }
}

/// Syncs and releases everything.
fn settle(seq: &mut Sequencer<JournalLog>, out: &mut Released) {
    seq.log_mut().journal_mut().sync().expect("sync");
    seq.do_work(T0);
    out.take(seq);
    assert_eq!(seq.pending_len(), 0);
}

/// The image a crash now would leave, in `to`: the snapshots (written and
/// synced whole), the newest one damaged if `damage_snapshot`, and the
/// journal; with `power_cut`, without what was not yet durable.
fn crash_image(from: &Path, to: &Path, power_cut: bool, damage_snapshot: bool) {
    let snaps = to.join("snapshots");
    fs::create_dir_all(&snaps).unwrap();
    let mut newest: Option<PathBuf> = None;
    if let Ok(entries) = fs::read_dir(from.join("snapshots")) {
        for entry in entries {
            let entry = entry.unwrap();
            let target = snaps.join(entry.file_name());
            fs::copy(entry.path(), &target).unwrap();
            if newest.as_ref().is_none_or(|n| target > *n) {
                newest = Some(target);
            }
        }
    }
    if damage_snapshot && let Some(n) = newest {
        let mut bytes = fs::read(&n).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x20;
        fs::write(&n, bytes).unwrap();
    }
    journal_image(&from.join("journal"), &to.join("journal"), power_cut);
}

fn journal_image(from: &Path, to: &Path, power_cut: bool) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "LOCK" {
            fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
    if !power_cut {
        return;
    }
    let Some(mark) = journal::read_mark(to).unwrap() else {
        // Nothing was ever synced: a power cut loses every segment.
        for entry in fs::read_dir(to).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "log") {
                fs::remove_file(p).unwrap();
            }
        }
        return;
    };
    // The frames after the mark were never synced: zero exactly them (their
    // blocks were allocated zeroed). Their sparse-index slots, if written, are
    // left as they are: a power cut may persist any subset of unsynced pages.
    let mut lost: Vec<(u64, u64, usize)> = Vec::new();
    {
        let mut reader = journal::Reader::open(to).unwrap();
        reader.seek_seq(mark.durable_seq + 1).unwrap();
        while let Some(f) = reader.next_frame().unwrap() {
            let len = (journal::FRAME_HEADER_SIZE + f.payload.len())
                .next_multiple_of(journal::FRAME_ALIGN);
            lost.push((f.segment_index, f.offset, len));
        }
    }
    let segment = |index: u64| to.join(format!("{index:08}.log"));
    for (index, offset, len) in lost {
        if index > mark.segment_index {
            continue;
        }
        let path = segment(index);
        let mut bytes = fs::read(&path).unwrap();
        bytes[offset as usize..offset as usize + len].fill(0);
        fs::write(&path, bytes).unwrap();
    }
    for entry in fs::read_dir(to).unwrap() {
        let p: PathBuf = entry.unwrap().path();
        let index = p
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse::<u64>().ok());
        if index.is_some_and(|i| i > mark.segment_index) {
            fs::remove_file(&p).unwrap();
        }
    }
}

fn run(seed: u64) {
    eprintln!("crash_recovery seed = {seed} (replay: VENUE_CRASH_SEED={seed})");
    let inputs = workload(seed);
    let tmp = tempfile::tempdir().unwrap();

    let calm_dir = tmp.path().join("calm");
    let mut calm = start(&calm_dir, &mut Restarts::default());
    let mut calm_out = Released::default();
    let mut calm_rng = StdRng::seed_from_u64(seed);
    let mut calm_driver = Driver {
        dir: &calm_dir,
        inputs: &inputs,
        fed: 0,
    };
    feed(
        &mut calm,
        &mut calm_driver,
        INPUTS,
        &mut calm_out,
        &mut calm_rng,
    );
    settle(&mut calm, &mut calm_out);
    let calm_hash = calm.engine().state_hash();

    let mut rng = StdRng::seed_from_u64(seed ^ 0xc4a5);
    let mut out = Released::default();
    let mut generation = 0;
    let mut dir = tmp.path().join("crash-0");
    let mut restarts = Restarts::default();
    let mut seq = start(&dir, &mut restarts);
    let mut crashes = 0;
    let mut lost_to_power_cuts = 0;
    let mut fed = 0;
    while fed < INPUTS {
        let until = (fed + rng.random_range(1..400)).min(INPUTS);
        let mut driver = Driver {
            dir: &dir,
            inputs: &inputs,
            fed,
        };
        feed(&mut seq, &mut driver, until, &mut out, &mut rng);
        if until == INPUTS {
            break;
        }
        generation += 1;
        let next = tmp.path().join(format!("crash-{generation}"));
        crash_image(&dir, &next, rng.random_bool(0.5), rng.random_bool(0.2));
        drop(seq);
        out.rx = None;
        dir = next;
        seq = start(&dir, &mut restarts);
        fed = journaled_inputs(&seq);
        lost_to_power_cuts += until - fed;
        crashes += 1;
    }
    eprintln!(
        "  {crashes} crashes; {lost_to_power_cuts} unsynced inputs lost and fed again; {restarts:?}"
    );
    assert!(
        lost_to_power_cuts > 0,
        "seed {seed}: no power cut lost anything"
    );
    assert!(
        restarts.from_snapshot > 0,
        "seed {seed}: no restart used a snapshot"
    );
    settle(&mut seq, &mut out);
    assert!(crashes >= 3, "seed {seed}: only {crashes} crashes");
    assert_eq!(
        seq.engine().state_hash(),
        calm_hash,
        "seed {seed}: state differs"
    );
    assert!(!out.trades.is_empty());
    for (id, t) in &out.trades {
        assert_eq!(
            calm_out.trades.get(id),
            Some(t),
            "seed {seed}: trade {id} differs"
        );
    }
}

#[test]
fn crashes_and_power_cuts_lose_nothing_acknowledged_and_do_nothing_twice() {
    if let Some(seed) = std::env::var("VENUE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return run(seed);
    }
    let seeds: u64 = std::env::var("VENUE_CRASH_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    for seed in 0..seeds {
        run(seed);
    }
}
