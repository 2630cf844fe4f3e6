//! Incident analysis on a journal made by a scripted scenario: the journal
//! tools (`venue journal verify|dump|book|order|replay|export`) against what
//! the live engine held and what its clients were sent.
//!
//! The scenario drives a real `Sequencer` over a real journal (small
//! segments, so the journal spans several) with the example configuration's
//! engine: a scripted opening (resting orders on several levels, a sweep
//! with partial fills, a replace that moves an order, a cancel, a cancel
//! that comes too late, a mass cancel, a rejected order), then seeded random
//! orders and cancels. After every duty cycle it records the live book
//! (level 3) under the journal's last sequence number, and every output the
//! clients were sent. Snapshots are written now and then, as the venue does.
//!
//! `big_journal` (ignored) writes a 10-million-input journal for the speed
//! figures in the README: `VENUE_BIG_DIR=/tmp/venue-big cargo test --release
//! -p venue --test incident_tools -- --ignored big_journal --nocapture`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use engine::sequencer::{Output as SeqOutput, Sequencer, SequencerConfig};
use engine::{
    Cancel, ClOrdId, Engine, Event, HashScheme, Input, InstrumentId, MassCancel, NewOrder, OrdType,
    OrderId, OrderRef, OrderStatusRequest, ParticipantId, Replace, Side, TimeInForce,
};
use journal::{Durability, Journal, JournalConfig};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use venue::incident::book::BookView;
use venue::incident::export::{Exporter, OrderRecord};
use venue::incident::names::Names;
use venue::incident::order::{OrderKey, OrderQuery, order_life};
use venue::incident::replay::{Replay, verify};
use venue::incident::source::{JournalPaths, Progress};
use venue::runtime::JournalLog;

mod common;

/// 2026-11-24T14:00:00Z.
const T0: u64 = 1_795_528_800_000_000_000;
const UST: InstrumentId = InstrumentId(1);
const RANDOM_INPUTS: usize = 1_500;
const SNAPSHOT_EVERY: u64 = 400;

fn cl(s: &str) -> ClOrdId {
    ClOrdId::new(s.as_bytes()).expect("a valid ClOrdID")
}

fn p(n: u32) -> ParticipantId {
    ParticipantId(n)
}

fn limit(participant: u32, id: &str, side: Side, price_ticks: i64, qty_lots: u64) -> Input {
    Input::NewOrder(NewOrder {
        participant: p(participant),
        instrument: UST,
        cl_ord_id: cl(id),
        side,
        ord_type: OrdType::Limit,
        tif: TimeInForce::Gtc,
        price_ticks: Some(price_ticks),
        stop_price_ticks: None,
        qty_lots,
        display_qty_lots: 0,
        min_qty_lots: 0,
        post_only: false,
        expire_time_ns: None,
    })
}

fn cancel(participant: u32, id: &str, target: &str) -> Input {
    Input::Cancel(Cancel {
        participant: p(participant),
        cl_ord_id: cl(id),
        target: OrderRef::ClOrdId(cl(target)),
    })
}

/// The scripted opening; the comments say what each input does.
fn script() -> Vec<Input> {
    use Side::{Buy, Sell};
    vec![
        limit(1, "b1", Buy, 12_790, 10),    // 1: rests
        limit(1, "b2", Buy, 12_795, 5),     // 2: rests, best bid
        limit(2, "s1", Sell, 12_810, 7),    // 3: rests
        limit(3, "s2", Sell, 12_810, 3),    // 4: rests behind s1
        limit(2, "b3", Buy, 12_790, 4),     // 5: rests behind b1
        limit(2, "agg1", Sell, 12_790, 12), // 6: fills b2 (5), then b1 (7 of 10)
        Input::Replace(Replace {
            // 7: b1 -> b1r, 12 lots (leaves 5) at a new price: moves
            participant: p(1),
            cl_ord_id: cl("b1r"),
            target: OrderRef::ClOrdId(cl("b1")),
            qty_lots: 12,
            price_ticks: Some(12_792),
            stop_price_ticks: None,
        }),
        limit(4, "b4", Buy, 12_810, 2), // 8: fills 2 of s1
        cancel(2, "s1c", "s1"),         // 9: cancels s1
        cancel(2, "s1c2", "s1"),        // 10: too late: a cancel reject
        Input::OrderStatus(OrderStatusRequest {
            // 11: status of b1r by its first ClOrdID
            participant: p(1),
            target: OrderRef::ClOrdId(cl("b1")),
        }),
        Input::MassCancel(MassCancel {
            // 12: cancels s2
            participant: p(3),
            cl_ord_id: cl("mc1"),
            instrument: None,
            side: None,
            tif: None,
        }),
        limit(1, "bad1", Buy, 12_790, 0), // 13: rejected (quantity zero)
        limit(2, "b5", Buy, 12_812, 20),  // 14: rests
        limit(3, "s3", Sell, 12_792, 6),  // 15: fills b5 (6) at 12812
    ]
}

fn random_inputs(seed: u64, n: usize) -> Vec<Input> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let participant = rng.random_range(1..=4);
            if i > 10 && rng.random_bool(0.3) {
                let target = format!("r{}", rng.random_range(0..i));
                cancel(participant, &format!("rc{i}"), &target)
            } else {
                let side = if rng.random_bool(0.5) {
                    Side::Buy
                } else {
                    Side::Sell
                };
                let price = rng.random_range(12_780..=12_820);
                limit(
                    participant,
                    &format!("r{i}"),
                    side,
                    price,
                    rng.random_range(1..=9),
                )
            }
        })
        .collect()
}

/// A book as the live engine held it: per side, levels best first with
/// their queues.
type LiveBook = Vec<(Side, i64, u64, u32, Vec<(OrderId, ParticipantId, u64, u64)>)>;

fn live_book(engine: &Engine) -> LiveBook {
    let mut out = Vec::new();
    for side in [Side::Buy, Side::Sell] {
        for l in engine.book_levels(UST, side) {
            out.push((
                side,
                l.price_ticks,
                l.qty_lots,
                l.order_count,
                engine.level_queue(UST, side, l.price_ticks),
            ));
        }
    }
    out
}

fn view_as_live(v: &BookView) -> LiveBook {
    let mut out = Vec::new();
    for (side, levels) in [(Side::Buy, &v.bids), (Side::Sell, &v.asks)] {
        for l in levels {
            out.push((
                side,
                l.price_ticks,
                l.qty_lots,
                l.order_count,
                l.orders
                    .iter()
                    .map(|o| {
                        (
                            OrderId(o.order_id),
                            ParticipantId(o.participant_id),
                            o.shown_lots,
                            o.leaves_lots,
                        )
                    })
                    .collect(),
            ));
        }
    }
    out
}

/// What the scenario left: a data directory and what was seen live.
struct Scenario {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    /// Every event released to clients: (input seq, time, event).
    received: Vec<(u64, u64, Event)>,
    /// The live book after each duty cycle, by the journal's last seq.
    books: BTreeMap<u64, LiveBook>,
    /// Each input's time.
    times: BTreeMap<u64, u64>,
    last_seq: u64,
}

fn journal_config() -> JournalConfig {
    JournalConfig {
        segment_size_bytes: 64 << 10,
        index_interval_bytes: 1024,
        durability: Durability::Process,
        prefault_distance_bytes: 0,
    }
}

fn config_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/venue.toml")
}

fn run_scenario() -> Scenario {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let data = tmp.path().join("data");
    let config = common::example_config_for_tests();
    let journal = Journal::open(data.join("journal"), journal_config()).expect("journal opens");
    let engine = Engine::new(config.engine.clone()).expect("engine");
    let mut seq = Sequencer::new(
        engine,
        JournalLog::new(journal),
        SequencerConfig {
            batch_max: 1,
            gate_on_durable: false,
            tick_interval_ns: 0,
            checkpoint_every_inputs: 50,
            ..SequencerConfig::default()
        },
        0,
    );
    let sender = seq.sender();
    let rx = seq.receiver();
    let mut s = Scenario {
        data: data.clone(),
        _tmp: tmp,
        received: Vec::new(),
        books: BTreeMap::new(),
        times: BTreeMap::new(),
        last_seq: 0,
    };
    let mut last_snapshot = 0;
    let inputs: Vec<Input> = script()
        .into_iter()
        .chain(random_inputs(7, RANDOM_INPUTS))
        .collect();
    for (i, input) in inputs.into_iter().enumerate() {
        sender.send(input, 10).expect("room in the ring");
        // 1.000123 ms apart: every input has its own microsecond.
        let now = T0 + i as u64 * 1_000_123;
        seq.do_work(now);
        while let Some(out) = rx.try_recv() {
            if let SeqOutput::Event {
                seq: s_,
                time_ns,
                event,
                ..
            } = out
            {
                s.received.push((s_, time_ns, event));
            }
        }
        let last = seq.log().journal().last_seq();
        s.times.insert(last, seq.last_time_ns());
        s.books.insert(last, live_book(seq.engine()));
        if last - last_snapshot >= SNAPSHOT_EVERY {
            venue::snapshot::write(
                &data.join("snapshots"),
                seq.engine(),
                last,
                seq.last_time_ns(),
            )
            .expect("snapshot");
            last_snapshot = last;
        }
    }
    s.last_seq = seq.log().journal().last_seq();
    // Make everything durable, so that damage anywhere is damage to durable
    // data (not a torn tail).
    seq.log_mut().journal_mut().sync().expect("sync");
    let (_, log) = seq.into_parts();
    log.into_journal().close().expect("close");
    s
}

fn venue_journal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_venue"))
        .arg("journal")
        .args(args)
        .output()
        .expect("venue runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn book_at(s: &Scenario, seq: u64) -> BookView {
    let config = common::example_config_for_tests();
    let paths = JournalPaths::resolve(&s.data).expect("paths");
    let mut replay = Replay::start(&paths, &config.engine, seq, true).expect("start");
    let ended = replay
        .run_until(seq, &mut Progress::new("t", 0, 0), |_, _| Ok(()))
        .expect("replays");
    assert!(!ended);
    BookView::of(
        &replay.engine,
        &Names::new(&config),
        UST,
        (replay.seq, replay.time_ns),
        0,
        true,
    )
}

#[test]
fn book_at_several_points_equals_the_live_book() {
    let s = run_scenario();
    let config = config_path();
    let config = config.to_str().expect("utf-8 path");
    let data = s.data.to_str().expect("utf-8 path");
    // The scripted points, the points around each snapshot, the last.
    let mut points: Vec<u64> = (1..=15).collect();
    for k in 1..=3 {
        let snap = k * SNAPSHOT_EVERY;
        points.extend([snap - 1, snap, snap + 1, snap + 17]);
    }
    points.push(s.last_seq);
    for &seq in &points {
        // The live book after the duty cycle that ended at `seq`, or, for
        // a sequence number inside a cycle (a checkpoint follows its
        // input in the same cycle and changes nothing), the next one.
        let (_, live) = s.books.range(seq..).next().expect("a live book");
        assert_eq!(&view_as_live(&book_at(&s, seq)), live, "book at {seq}");
    }
    // The binary, in JSON, at a sequence number and at a time, from the data
    // directory and from the journal directory.
    for at in [6, 15, 2 * SNAPSHOT_EVERY + 1] {
        let o = venue_journal(&[
            "book",
            data,
            "--at",
            &at.to_string(),
            "--symbol",
            "UST-10Y",
            "--orders",
            "--depth",
            "0",
            "--json",
            "--config",
            config,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: BookView = serde_json::from_str(&stdout(&o)).expect("JSON book");
        assert_eq!(v.seq, at);
        let (_, live) = s.books.range(at..).next().expect("a live book");
        assert_eq!(&view_as_live(&v), live, "binary book at {at}");
    }
    // At a time: 6's time plus half a millisecond is still "after 6".
    let t6 = s.times[&6];
    let at = venue::incident::source::utc_us(t6 + 500_000);
    let journal_dir = s.data.join("journal");
    let o = venue_journal(&[
        "book",
        journal_dir.to_str().expect("utf-8"),
        "--at",
        &at,
        "--symbol",
        "ust-10y",
        "--orders",
        "--config",
        config,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.starts_with("UST-10Y after sequence 6 at "), "{text}");
    // After 6: b1 has 3 left at 99.921875 (12790 ticks), b3 behind it.
    assert!(text.contains("99.921875"), "{text}");
    assert!(
        text.contains("#1   OrderID 1          Dealer One       shown            3"),
        "{text}"
    );
    assert!(
        text.contains("#2   OrderID 5          Dealer Two"),
        "{text}"
    );
    // Outside the journal, an unknown symbol: a message, not a panic.
    for (at, symbol, needle) in [
        ("2020-01-01T00:00:00Z", "UST-10Y", "is outside the journal"),
        ("999999", "UST-10Y", "is outside the journal"),
        ("5", "NOPE", "unknown symbol"),
    ] {
        let o = venue_journal(&[
            "book", data, "--at", at, "--symbol", symbol, "--config", config,
        ]);
        assert!(!o.status.success());
        assert!(stderr(&o).contains(needle), "{}", stderr(&o));
    }
}

/// The private events about `order` that its owner was sent, in order.
fn client_saw(s: &Scenario, owner: ParticipantId, order: OrderId) -> Vec<(u64, Event)> {
    s.received
        .iter()
        .filter(|(_, _, e)| match e {
            Event::Exec(x) => x.participant == owner && x.order_id == order,
            Event::CancelReject(r) => r.participant == owner && r.order_id == order,
            _ => false,
        })
        .map(|(seq, _, e)| (*seq, *e))
        .collect()
}

#[test]
fn order_shows_exactly_what_the_client_received() {
    let s = run_scenario();
    let config = common::example_config_for_tests();
    let names = Names::new(&config);
    let paths = JournalPaths::resolve(&s.data).expect("paths");
    for (query, participant, owner, oid) in [
        // b1: partly filled, replaced (new ClOrdID and price), status asked.
        ("b1", Some(p(1)), p(1), OrderId(1)),
        ("b1r", None, p(1), OrderId(1)),
        ("1", Some(p(1)), p(1), OrderId(1)),
        // s1: partly filled, cancelled, then a cancel too late.
        ("s1", None, p(2), OrderId(3)),
        // s2: cancelled by a mass cancel.
        ("s2", None, p(3), OrderId(4)),
    ] {
        let q = OrderQuery {
            id: query.to_owned(),
            participant,
        };
        let life = order_life(&paths, &config.engine, &names, &q, s.last_seq).expect("found");
        assert_eq!(life.key, OrderKey::Order(oid), "{query}");
        let shown: Vec<(u64, Event)> = life
            .entries
            .iter()
            .flat_map(|e| e.events.iter().map(move |ev| (e.seq, *ev)))
            .filter(|(_, e)| matches!(e, Event::Exec(_) | Event::CancelReject(_)))
            .collect();
        let saw = client_saw(&s, owner, oid);
        assert!(saw.len() >= 2, "{query}: {saw:?}");
        assert_eq!(shown, saw, "{query}");
    }
    // b1's fills name their counterparty (the trade print is in its life),
    // its replace and its ClOrdIDs.
    let config_path = config_path();
    let o = venue_journal(&[
        "order",
        s.data.to_str().expect("utf-8"),
        "b1",
        "--participant",
        "dealer one",
        "--config",
        config_path.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.starts_with("OrderID 1 of Dealer One on UST-10Y, ClOrdID b1 -> b1r"),
        "{text}"
    );
    for needle in [
        "seq 1 at 2026-11-24T14:00:00.000000Z  new Dealer One buy 10 UST-10Y @ 99.921875",
        "ExecutionReport new",
        "ExecutionReport trade     partially_filled",
        "seller Dealer Two (OrderID 6)",
        "ExecutionReport replaced",
        "ExecutionReport order_status",
    ] {
        assert!(text.contains(needle), "{needle:?} not in\n{text}");
    }
    for (seq, e) in client_saw(&s, p(1), OrderId(1)) {
        let Event::Exec(x) = e else { continue };
        assert!(
            text.contains(&format!("ExecID {}", x.exec_id)),
            "{seq}: {text}"
        );
    }
    // s1's too-late cancel is there, with why.
    let o = venue_journal(&[
        "order",
        s.data.to_str().expect("utf-8"),
        "s1",
        "--config",
        config_path.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o)
            .contains("OrderCancelReject (cancel) ClOrdID s1c2 OrderID 3: order is no longer live"),
        "{}",
        stdout(&o)
    );
    // A rejected new order has a life of one input.
    let o = venue_journal(&[
        "order",
        s.data.to_str().expect("utf-8"),
        "bad1",
        "--config",
        config_path.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("ExecutionReport rejected"),
        "{}",
        stdout(&o)
    );
    // Unknown: a message and a non-zero exit.
    let o = venue_journal(&[
        "order",
        s.data.to_str().expect("utf-8"),
        "no-such-order",
        "--config",
        config_path.to_str().expect("utf-8"),
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no order with ClOrdID or OrderID \"no-such-order\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn verify_passes_a_clean_journal_and_catches_a_flipped_byte() {
    let s = run_scenario();
    let config = config_path();
    let config = config.to_str().expect("utf-8");
    let o = venue_journal(&[
        "verify",
        s.data.to_str().expect("utf-8"),
        "--config",
        config,
    ]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("matches the replay"), "{text}");
    let checkpoints: u64 = text
        .split(" checkpoints verified")
        .next()
        .and_then(|t| t.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("a checkpoint count");
    assert!(checkpoints >= s.last_seq / 60, "{text}");

    // A flipped byte in the second segment's first frame.
    let seg = s.data.join("journal/00000001.log");
    let mut bytes = std::fs::read(&seg).expect("segment");
    bytes[64 + 40] ^= 0x10;
    std::fs::write(&seg, bytes).expect("write");
    let o = venue_journal(&[
        "verify",
        s.data.to_str().expect("utf-8"),
        "--config",
        config,
    ]);
    assert!(!o.status.success());
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(out.contains("frames       CORRUPT"), "{out}");
    assert!(
        err.contains("00000001.log is corrupt at offset 64 (sequence"),
        "{err}"
    );
    assert!(err.contains("crc mismatch"), "{err}");
    // It still replayed and reports what precedes the damage.
    assert!(out.contains("replay       "), "{out}");
    // The other tools refuse the damaged journal with the same message.
    let o = venue_journal(&["dump", s.data.to_str().expect("utf-8"), "--config", config]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("is corrupt at offset 64"),
        "{}",
        stderr(&o)
    );
    // Not a journal at all.
    let o = venue_journal(&[
        "verify",
        s._tmp.path().to_str().expect("utf-8"),
        "--config",
        config,
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("is not a journal"), "{}", stderr(&o));
}

#[test]
fn verify_catches_a_divergent_replay() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("journal");
    let mut j = Journal::open(&dir, journal_config()).expect("journal");
    let mut buf = Vec::new();
    let mut append_as = |j: &mut Journal, version: u16, time: u64, input: &Input| {
        buf.clear();
        engine::encode_input(input, &mut buf);
        j.append(venue::runtime::PAYLOAD_TYPE_INPUT, version, time, &buf)
            .expect("append")
    };
    let v = engine::codec::INPUT_FORMAT_VERSION;
    let config = common::example_config_for_tests();
    let mut engine = Engine::new(config.engine.clone()).expect("engine");
    let inputs = script();
    for (i, input) in inputs.iter().take(5).enumerate() {
        let seq = append_as(&mut j, v, T0 + i as u64, input);
        engine.apply(seq, T0 + i as u64, input, &mut Vec::new());
    }
    // Checkpoints that match: one of the whole encoding's hash, in a frame
    // of input format 1 (as a journal written before format 2 has them),
    // and one of the folded state hash; then one that does not match.
    append_as(
        &mut j,
        1,
        T0 + 9,
        &Input::Checkpoint {
            state_hash: engine.encoding_hash(),
            scheme: HashScheme::Encoding,
        },
    );
    append_as(
        &mut j,
        v,
        T0 + 10,
        &Input::Checkpoint {
            state_hash: engine.state_hash(),
            scheme: HashScheme::Folded,
        },
    );
    append_as(&mut j, v, T0 + 11, &inputs[5]);
    let bad = append_as(
        &mut j,
        v,
        T0 + 12,
        &Input::Checkpoint {
            state_hash: 0xbad,
            scheme: HashScheme::Folded,
        },
    );
    append_as(&mut j, v, T0 + 13, &inputs[6]);
    j.close().expect("close");

    let paths = JournalPaths::resolve(&dir).expect("a journal directory");
    let report = verify(&paths, &config.engine).expect("verifies");
    assert!(!report.ok());
    assert_eq!(report.frames.problem, None);
    assert_eq!(report.checkpoints, 2);
    let d = report.divergence.expect("a divergence");
    assert_eq!((d.seq, d.time_ns, d.expected), (bad, T0 + 12, 0xbad));

    let config = config_path();
    let o = venue_journal(&[
        "verify",
        dir.to_str().expect("utf-8"),
        "--config",
        config.to_str().expect("utf-8"),
    ]);
    assert!(!o.status.success());
    assert!(stdout(&o).contains("frames       ok"), "{}", stdout(&o));
    assert!(
        stderr(&o).contains(&format!(
            "diverges from the live venue at sequence {bad} (2026-11-24T14:00:00.000000Z)"
        )),
        "{}",
        stderr(&o)
    );
}

#[test]
fn export_round_trips_through_a_csv_reader() {
    let s = run_scenario();
    let config = common::example_config_for_tests();
    let names = Names::new(&config);
    // What the clients were sent, as records (status answers are not order
    // events).
    let mut expected = Vec::new();
    let mut exporter = Exporter::default();
    let mut by_seq: BTreeMap<u64, (u64, Vec<Event>)> = BTreeMap::new();
    for (seq, time, e) in &s.received {
        by_seq.entry(*seq).or_insert((*time, Vec::new())).1.push(*e);
    }
    for (seq, (time_ns, events)) in &by_seq {
        let step = venue::incident::replay::Step {
            seq: *seq,
            time_ns: *time_ns,
            input: &Input::ClockTick,
            events,
        };
        exporter
            .step(&names, &step, |r| -> Result<(), ()> {
                expected.push(r.clone());
                Ok(())
            })
            .expect("infallible");
    }
    let out = s._tmp.path().join("orders.csv");
    let config_file = config_path();
    let o = venue_journal(&[
        "export",
        s.data.to_str().expect("utf-8"),
        "--format",
        "csv",
        "--out",
        out.to_str().expect("utf-8"),
        "--config",
        config_file.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut reader = csv::Reader::from_path(&out).expect("CSV");
    let read: Vec<OrderRecord> = reader
        .deserialize()
        .collect::<Result<_, _>>()
        .expect("every row parses");
    assert_eq!(read.len(), expected.len());
    assert_eq!(read, expected);
    // A fill, with everything a regulator asks for.
    let fill = read
        .iter()
        .find(|r| r.event_type == "trade" && r.client_order_id == "b2")
        .expect("b2 filled");
    assert_eq!(fill.participant, "Dealer One");
    assert_eq!(fill.instrument.as_deref(), Some("UST-10Y"));
    assert_eq!(fill.side.as_deref(), Some("buy"));
    assert_eq!(fill.order_type.as_deref(), Some("limit"));
    assert_eq!(fill.time_in_force.as_deref(), Some("gtc"));
    assert_eq!(fill.price.as_deref(), Some("99.9609375"));
    assert_eq!(fill.last_quantity.as_deref(), Some("5"));
    assert_eq!(fill.venue_time, "2026-11-24T14:00:00.005000Z");
    assert_eq!(fill.seq, 6);
    assert_eq!(fill.venue_order_id, Some(2));
    assert_eq!(fill.trade_id, Some(1));
    assert_eq!(fill.counterparty.as_deref(), Some("Dealer Two"));
    assert!(read.iter().any(|r| r.event_type == "cancel_rejected"));
    assert!(!read.iter().any(|r| r.event_type == "order_status"));
    // JSON lines carry the same records.
    let out = s._tmp.path().join("orders.jsonl");
    let o = venue_journal(&[
        "export",
        s.data.to_str().expect("utf-8"),
        "--format",
        "jsonl",
        "--out",
        out.to_str().expect("utf-8"),
        "--config",
        config_file.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).expect("written");
    let json: Vec<OrderRecord> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a record"))
        .collect();
    assert_eq!(json, expected);
}

#[test]
fn dump_decodes_and_filters_inputs() {
    let s = run_scenario();
    let config = config_path();
    let config = config.to_str().expect("utf-8");
    let data = s.data.to_str().expect("utf-8");
    let rows = |args: &[&str]| -> Vec<serde_json::Value> {
        let mut all = vec!["dump", data, "--json", "--config", config];
        all.extend_from_slice(args);
        let o = venue_journal(&all);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON"))
            .collect()
    };
    let seqs = |rows: &[serde_json::Value]| -> Vec<u64> {
        rows.iter()
            .map(|r| r["seq"].as_u64().expect("seq"))
            .collect()
    };
    let all = rows(&[]);
    assert_eq!(all.len() as u64, s.last_seq);
    assert_eq!(all[0]["type"], "new");
    assert_eq!(all[0]["participant"], "Dealer One");
    assert_eq!(all[0]["price"], "99.921875");
    assert_eq!(all[0]["time"], "2026-11-24T14:00:00.000000Z");
    // By sequence and time range (RFC 3339 and ns).
    assert_eq!(
        seqs(&rows(&["--from-seq", "3", "--to-seq", "5"])),
        [3, 4, 5]
    );
    let from = venue::incident::source::utc_us(s.times[&3]);
    let to = (s.times[&5]).to_string();
    assert_eq!(
        seqs(&rows(&["--from-time", &from, "--to-time", &to])),
        [3, 4, 5]
    );
    // By ClOrdID: the order, the replace naming it, the status request.
    assert_eq!(seqs(&rows(&["--cl-ord-id", "s1"])), [3, 9, 10]);
    // By OrderID (replaying): b1's whole life, the fills against it too.
    assert_eq!(
        seqs(&rows(&["--order-id", "1", "--to-seq", "15"])),
        [1, 6, 7, 11]
    );
    // By participant and type.
    let cancels = rows(&[
        "--participant",
        "Dealer Two",
        "--type",
        "cancel",
        "--to-seq",
        "15",
    ]);
    assert_eq!(seqs(&cancels), [9, 10]);
    // By symbol: cancels found through their events.
    let by_symbol = rows(&["--symbol", "UST-10Y", "--to-seq", "15", "--events"]);
    // All but the too-late cancel (its reject names no instrument).
    assert_eq!(
        seqs(&by_symbol),
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15]
    );
    let events = by_symbol[5]["events"].as_array().expect("events");
    assert!(
        events.iter().any(|e| e
            .as_str()
            .is_some_and(|t| t.starts_with("trade 1 UST-10Y 5 @ 99.9609375"))),
        "{events:?}"
    );
    // The table.
    let o = venue_journal(&["dump", data, "--to-seq", "2", "--config", config]);
    let text = stdout(&o);
    assert!(
        text.lines()
            .next()
            .expect("a header")
            .trim_start()
            .starts_with("seq"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 3, "{text}");
    // The raw hex form needs no configuration.
    let o = venue_journal(&["dump", data, "--raw", "--to-seq", "1"]);
    assert!(stdout(&o).starts_with("seq=1 time_ns="), "{}", stdout(&o));
    // Bad filters: messages.
    let o = venue_journal(&["dump", data, "--type", "bogus", "--config", config]);
    assert!(
        stderr(&o).contains("unknown input type \"bogus\""),
        "{}",
        stderr(&o)
    );
    let o = venue_journal(&["dump", data, "--from-time", "noon", "--config", config]);
    assert!(!o.status.success());
}

#[test]
fn replay_writes_a_snapshot_that_recovery_starts_from() {
    let s = run_scenario();
    let config = config_path();
    let out = s._tmp.path().join("out");
    let o = venue_journal(&[
        "replay",
        s.data.to_str().expect("utf-8"),
        "--until",
        "15",
        "--snapshot",
        out.to_str().expect("utf-8"),
        "--config",
        config.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.starts_with("state after sequence 15 at 2026-11-24T14:00:00.014001Z"),
        "{text}"
    );
    // Recovery from that snapshot, over the whole journal, reaches the
    // live end state.
    let c = common::example_config_for_tests();
    let r = venue::runtime::recover(
        &s.data.join("journal"),
        Some(&out),
        c.engine.clone(),
        journal_config(),
    )
    .expect("recovers");
    assert_eq!(r.from_snapshot, Some(15));
    assert_eq!(live_book(&r.engine), s.books[&s.last_seq]);
}

#[test]
fn tools_read_a_journal_that_is_still_being_written() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("journal");
    let mut j = Journal::open(&dir, journal_config()).expect("journal");
    let mut buf = Vec::new();
    for (i, input) in script().iter().enumerate() {
        buf.clear();
        engine::encode_input(input, &mut buf);
        j.append(
            venue::runtime::PAYLOAD_TYPE_INPUT,
            engine::codec::INPUT_FORMAT_VERSION,
            T0 + i as u64,
            &buf,
        )
        .expect("append");
    }
    // The writer is still open (and holds its lock); nothing was synced.
    let config = config_path();
    let o = venue_journal(&[
        "dump",
        dir.to_str().expect("utf-8"),
        "--json",
        "--config",
        config.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), script().len());
    let o = venue_journal(&[
        "book",
        dir.to_str().expect("utf-8"),
        "--at",
        "15",
        "--symbol",
        "UST-10Y",
        "--config",
        config.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    drop(j);
}

/// Writes a journal of `VENUE_BIG_INPUTS` (default 10,000,000) inputs into
/// `VENUE_BIG_DIR` (default `/tmp/venue-big`), a data directory, with a
/// snapshot every million inputs (all kept) and the venue's default
/// checkpoint interval. About 1.3 GB of journal. For the speed figures in
/// the README; not part of the default run.
#[test]
#[ignore = "writes ~1.3 GB; run by hand for the speed figures"]
fn big_journal() {
    let data = PathBuf::from(std::env::var("VENUE_BIG_DIR").unwrap_or("/tmp/venue-big".into()));
    let n: u64 = std::env::var("VENUE_BIG_INPUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    assert!(!data.exists(), "{} exists: remove it first", data.display());
    let config = common::example_config_for_tests();
    let journal = Journal::open(
        data.join("journal"),
        JournalConfig {
            durability: Durability::Process,
            ..JournalConfig::default()
        },
    )
    .expect("journal opens");
    let engine = Engine::new(config.engine.clone()).expect("engine");
    let mut seq = Sequencer::new(
        engine,
        JournalLog::new(journal),
        SequencerConfig {
            gate_on_durable: false,
            // Inputs 100 ms apart and a clock tick a minute: the journal
            // spans about twelve trading days, so finished orders are
            // forgotten at each day's end as on a real venue (and snapshots
            // stay the size of one day's orders).
            tick_interval_ns: 60_000_000_000,
            ..SequencerConfig::default()
        },
        0,
    );
    let sender = seq.sender();
    let rx = seq.receiver();
    let mut rng = StdRng::seed_from_u64(1);
    let started = std::time::Instant::now();
    let mut i = 0u64;
    let mut next_snapshot = 1_000_000;
    // Each order's owner, so that a cancel comes from the order's owner
    // (a stranger's cancel is only a reject, and the book would grow
    // without bound).
    let mut owners: Vec<u8> = Vec::new();
    while seq.log().journal().last_seq() < n {
        for _ in 0..256 {
            let input = if owners.len() > 100 && rng.random_bool(0.4) {
                let back = rng.random_range(1..=owners.len().min(2_000));
                let target = owners.len() - back;
                let participant = u32::from(owners[target]);
                cancel(participant, &format!("c{i}"), &format!("o{target}"))
            } else {
                let participant = rng.random_range(1..=4u8);
                let side = if rng.random_bool(0.5) {
                    Side::Buy
                } else {
                    Side::Sell
                };
                let price = rng.random_range(12_770..=12_830);
                let order = limit(
                    u32::from(participant),
                    &format!("o{}", owners.len()),
                    side,
                    price,
                    rng.random_range(1..=20),
                );
                owners.push(participant);
                order
            };
            sender.send(input, 1000).expect("room");
            i += 1;
        }
        seq.do_work(T0 + i * 100_000_000);
        while rx.try_recv().is_some() {}
        let last = seq.log().journal().last_seq();
        if last >= next_snapshot {
            venue::snapshot::write(
                &data.join("snapshots"),
                seq.engine(),
                last,
                seq.last_time_ns(),
            )
            .expect("snapshot");
            next_snapshot += 1_000_000;
        }
    }
    let last = seq.log().journal().last_seq();
    let (_, log) = seq.into_parts();
    log.into_journal().close().expect("close");
    println!(
        "{last} inputs in {} ({:.1} s)",
        data.display(),
        started.elapsed().as_secs_f64()
    );
}
