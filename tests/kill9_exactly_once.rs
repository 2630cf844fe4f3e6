//! Exactly once across processes. This test binary runs itself as a child
//! venue: the child recovers from the data directory, runs the real sequencer
//! loop on the real journal (`group` durability), and a client thread drives
//! orders into it and appends every acknowledgement and fill it is sent to a
//! client log (one `write` per line, in append mode). The parent kills the
//! child with SIGKILL at random moments, many times, restarting it each time
//! (the client resumes with the first order the journal does not hold, as a
//! client retrying what was never acknowledged would).
//!
//! At the end, checked against the client log and the journal:
//! - no fill (trade id) was sent twice;
//! - every acknowledged order exists in the final state, and no order was
//!   sent more fill quantity than the final state says it has filled;
//! - both sides of every fill the client saw agree (same trade, quantity,
//!   price from both orders' point of view);
//! - the state a restarted child recovers has the same hash as a fresh replay
//!   of the journal in this (separate) process.
//!
//! `VENUE_KILLS=<n>` sets the number of kills (default 50); the seed of the
//! kill timing is printed (`VENUE_KILL_SEED=<n>` replays it).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use engine::sequencer::{Output, Sequencer, SequencerConfig};
use engine::{
    Cancel, ClOrdId, Event, ExecType, Input, OrdStatus, OrderRef, OrderStatusRequest, ParticipantId,
};
use journal::{Durability, JournalConfig};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use venue::runtime::{IdleStrategy, JournalLog, recover, spawn};

mod common;
use common::ChildGuard;

const WORKLOAD: usize = 200_000;

fn journal_config() -> JournalConfig {
    JournalConfig {
        segment_size_bytes: 4 << 20,
        durability: Durability::Group {
            flush_interval_us: 500,
            flush_threshold_bytes: 256 << 10,
        },
        ..JournalConfig::default()
    }
}

fn cl(n: usize) -> ClOrdId {
    ClOrdId::new(format!("w{n}").as_bytes()).expect("valid id")
}

/// The workload: input `n` is the same in every process.
fn input(n: usize) -> Input {
    let mut rng = StdRng::seed_from_u64(n as u64);
    let participant = ParticipantId(rng.random_range(1..=4));
    if n > 10 && rng.random_bool(0.2) {
        return Input::Cancel(Cancel {
            participant,
            cl_ord_id: cl(n),
            target: OrderRef::ClOrdId(cl(rng.random_range(n - 10..n))),
        });
    }
    let buy = rng.random_bool(0.5);
    let price = rng.random_range(12_795..=12_805);
    common::limit(participant, cl(n), buy, price, rng.random_range(1..=10))
}

fn recover_dir(data: &Path) -> venue::runtime::Recovered {
    recover(
        &data.join("journal"),
        Some(&data.join("snapshots")),
        venue::demo::engine_config(),
        journal_config(),
    )
    .expect("recovers")
}

/// Workload inputs the journal holds (checkpoints and ticks are not).
fn journaled_inputs(r: &venue::runtime::Recovered) -> usize {
    let mut reader = r.journal.reader().expect("reader");
    let mut n = 0;
    while let Some(f) = reader.next_frame().expect("frame") {
        let i = engine::decode_input(f.payload).expect("input");
        n += usize::from(matches!(i, Input::NewOrder(_) | Input::Cancel(_)));
    }
    n
}

/// The child: a venue plus a client, until killed.
fn child(data: &Path) -> ! {
    let r = recover_dir(data);
    let resume_at = journaled_inputs(&r);
    println!("hash {:016x}", r.engine.state_hash());
    let mut seq = Sequencer::new(
        r.engine,
        JournalLog::new(r.journal),
        SequencerConfig {
            tick_interval_ns: 0,
            checkpoint_every_inputs: 5_000,
            ..SequencerConfig::default()
        },
        r.last_time_ns,
    );
    let (tx, rx) = (seq.sender(), seq.receiver());
    let stop = Arc::new(AtomicBool::new(false));
    let snapshots = data.join("snapshots");
    let mut since = 0u64;
    let _loop = spawn(
        seq,
        None,
        IdleStrategy::default(),
        Arc::clone(&stop),
        move |s: &mut Sequencer<JournalLog>| {
            since += 1;
            if since % 20_000 == 0 {
                let _ = venue::runtime::take_snapshot(s, &snapshots);
            }
        },
    )
    .expect("loop");
    // A kill can tear the line being written (a write is cut at a page
    // boundary when SIGKILL arrives); as a crashed client would, drop the
    // torn tail before appending, so that it cannot glue onto a new line.
    let log_path = data.join("client.log");
    if let Ok(text) = fs::read(&log_path) {
        let keep = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        if keep < text.len() {
            OpenOptions::new()
                .write(true)
                .open(&log_path)
                .and_then(|f| f.set_len(keep as u64))
                .expect("client log truncate");
        }
    }
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .expect("client log");
    println!("running from input {resume_at}");
    std::io::stdout().flush().expect("stdout");
    let mut next = resume_at;
    loop {
        // Keep a modest number of inputs in flight.
        for _ in 0..64 {
            if next < WORKLOAD && tx.send(input(next), 0).is_ok() {
                next += 1;
            }
        }
        let mut lines = String::new();
        while let Some(out) = rx.try_recv() {
            match out {
                Output::Event {
                    event: Event::Exec(x),
                    ..
                } if x.exec_type == ExecType::New => {
                    lines.push_str(&format!("ack {} {}\n", x.participant.0, x.cl_ord_id));
                }
                Output::Event {
                    event: Event::Exec(x),
                    ..
                } if x.exec_type == ExecType::Trade => {
                    lines.push_str(&format!(
                        "fill {} {} {} {} {}\n",
                        x.trade_id.0, x.order_id.0, x.side as u8, x.last_qty_lots, x.last_px_ticks
                    ));
                }
                Output::Refused { refusal, .. } => panic!("refused: {refusal}"),
                Output::Event { .. } => {}
            }
        }
        if !lines.is_empty() {
            // One write per batch of whole lines; a kill can only tear the
            // last line, which the next life or the parent drops.
            log.write_all(lines.as_bytes()).expect("client log write");
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

#[test]
#[ignore = "helper: the child venue, run by the kill -9 test below"]
fn kill9_child() {
    let data = PathBuf::from(std::env::var("VENUE_KILL_CHILD").expect("data dir"));
    child(&data);
}

fn spawn_child(data: &Path) -> (ChildGuard, std::sync::mpsc::Receiver<String>) {
    let mut c = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "kill9_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("VENUE_KILL_CHILD", data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("child starts");
    let out = c.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (ChildGuard(c), rx)
}

fn wait_line(rx: &std::sync::mpsc::Receiver<String>, prefix: &str) -> String {
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("child never printed {prefix:?}"));
        // The test harness may print its own words before ours on a line.
        if let Some(at) = line.find(prefix) {
            return line[at..].to_owned();
        }
    }
}

#[test]
fn kill_9_many_times_loses_nothing_acknowledged_and_sends_nothing_twice() {
    let kills: u32 = std::env::var("VENUE_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let seed: u64 = std::env::var("VENUE_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x9_1711);
    eprintln!("kill -9 test: {kills} kills, seed {seed} (replay: VENUE_KILL_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    let log_len = || fs::metadata(data.join("client.log")).map_or(0, |m| m.len());
    for _ in 0..kills {
        let (mut c, rx) = spawn_child(data);
        wait_line(&rx, "running");
        // Each life makes some progress however loaded the machine is (the
        // client has logged something new), then dies at a random moment.
        let before = log_len();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while log_len() == before && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..100)));
        c.kill();
    }
    // This process replays the journal on its own, then a child recovers
    // the same journal: the two hashes must agree (the child reports its hash
    // before it appends anything).
    let mine = recover_dir(data);
    let mine_hash = format!("hash {:016x}", mine.engine.state_hash());
    drop(mine);
    let (mut c, rx) = spawn_child(data);
    let child_hash = wait_line(&rx, "hash ");
    wait_line(&rx, "running");
    c.kill();
    assert_eq!(
        child_hash, mine_hash,
        "a restarted child and a fresh replay disagree"
    );

    // The client's view.
    let text = fs::read_to_string(data.join("client.log")).unwrap();
    let complete = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => "",
    };
    let mut fills: BTreeMap<u64, Vec<(u64, u8, u64, i64)>> = BTreeMap::new();
    let mut acks: BTreeSet<(u32, String)> = BTreeSet::new();
    let mut seen_fill_lines: BTreeSet<(u64, u64)> = BTreeSet::new();
    for line in complete.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        match f[0] {
            "ack" => {
                acks.insert((f[1].parse().unwrap(), f[2].to_owned()));
            }
            "fill" => {
                let (trade, order): (u64, u64) = (f[1].parse().unwrap(), f[2].parse().unwrap());
                assert!(
                    seen_fill_lines.insert((trade, order)),
                    "fill of trade {trade} to order {order} sent twice"
                );
                fills.entry(trade).or_default().push((
                    order,
                    f[3].parse().unwrap(),
                    f[4].parse().unwrap(),
                    f[5].parse().unwrap(),
                ));
            }
            other => panic!("unexpected client log line {other:?}"),
        }
    }
    assert!(
        acks.len() >= 10 * kills as usize,
        "the workload barely ran: {} acks over {kills} lives",
        acks.len()
    );
    assert!(!fills.is_empty());
    for (trade, sides) in &fills {
        assert!(sides.len() <= 2, "trade {trade} has {} fills", sides.len());
        if let [a, b] = sides[..] {
            assert_ne!(a.1, b.1, "trade {trade}: both fills on one side");
            assert_eq!((a.2, a.3), (b.2, b.3), "trade {trade}: sides disagree");
        }
    }
    // Every acknowledged order is known to the final state, and no order was
    // told of more fill quantity than it has.
    let mut engine = recover_dir(data).engine;
    let mut told: BTreeMap<u64, u64> = BTreeMap::new();
    for sides in fills.values() {
        for (order, _, qty, _) in sides {
            *told.entry(*order).or_default() += qty;
        }
    }
    let mut events = Vec::new();
    let mut seq = u64::MAX / 2;
    for (participant, id) in &acks {
        events.clear();
        seq += 1;
        engine.apply(
            seq,
            u64::MAX / 2,
            &Input::OrderStatus(OrderStatusRequest {
                participant: ParticipantId(*participant),
                target: OrderRef::ClOrdId(ClOrdId::new(id.as_bytes()).unwrap()),
            }),
            &mut events,
        );
        let Some(Event::Exec(x)) = events.first() else {
            panic!("no status for {id}");
        };
        assert_ne!(
            x.ord_status,
            OrdStatus::Rejected,
            "acknowledged order {id} is unknown"
        );
        let told = told.get(&x.order_id.0).copied().unwrap_or(0);
        assert!(
            told <= x.cum_qty_lots,
            "order {id} was told of {told} lots filled but has {}",
            x.cum_qty_lots
        );
    }
    eprintln!(
        "  {} acks, {} trades seen by the client, final state {}",
        acks.len(),
        fills.len(),
        mine_hash
    );
}
