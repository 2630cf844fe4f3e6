//! The sequencer on its own thread with the real journal: inputs sent from
//! another thread are journaled, applied and answered; stopping hands the
//! sequencer back; a restart continues the sequence; a journal holding
//! something other than engine inputs is refused with a clear error.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use engine::sequencer::{Output, Sequencer, SequencerConfig};
use engine::{
    ClOrdId, EngineConfig, Event, ExecType, Input, InstrumentId, InstrumentSpec, NewOrder, OrdType,
    ParticipantId, ParticipantSpec, Side, StpMode, TimeInForce,
};
use journal::{Durability, Journal, JournalConfig};
use venue::runtime::{IdleStrategy, JournalLog, recover, spawn};

fn engine_config() -> EngineConfig {
    EngineConfig {
        instruments: vec![InstrumentSpec::new(InstrumentId(1), "X")],
        participants: vec![ParticipantSpec {
            id: ParticipantId(1),
            stp: StpMode::None,
        }],
        ..EngineConfig::default()
    }
}

fn journal_config() -> JournalConfig {
    JournalConfig {
        segment_size_bytes: 256 << 10,
        durability: Durability::Group {
            flush_interval_us: 500,
            flush_threshold_bytes: 64 << 10,
        },
        ..JournalConfig::default()
    }
}

fn order(n: u32, side: Side) -> Input {
    Input::NewOrder(NewOrder {
        participant: ParticipantId(1),
        instrument: InstrumentId(1),
        cl_ord_id: ClOrdId::new(format!("t{n}").as_bytes()).unwrap(),
        side,
        ord_type: OrdType::Limit,
        tif: TimeInForce::Gtc,
        price_ticks: Some(100),
        stop_price_ticks: None,
        qty_lots: 1,
        display_qty_lots: 0,
        min_qty_lots: 0,
        post_only: false,
        expire_time_ns: None,
    })
}

#[test]
fn a_threaded_loop_journals_applies_answers_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let r = recover(dir.path(), None, engine_config(), journal_config()).unwrap();
    assert_eq!(r.replayed, 0);
    let mut seq = Sequencer::new(
        r.engine,
        JournalLog::new(r.journal),
        SequencerConfig::default(),
        r.last_time_ns,
    );
    let (tx, rx) = (seq.sender(), seq.receiver());
    let stop = Arc::new(AtomicBool::new(false));
    // Core 4096 does not exist: the loop warns and runs unpinned.
    let handle = spawn(
        seq,
        Some(4096),
        IdleStrategy::default(),
        Arc::clone(&stop),
        |_: &mut Sequencer<JournalLog>| {},
    )
    .unwrap();
    for n in 0..200 {
        let side = if n % 2 == 0 { Side::Sell } else { Side::Buy };
        tx.send(order(n, side), 10_000).unwrap();
    }
    // Every order is acknowledged (once durable), and every buy trades.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut acks, mut trades) = (0, 0);
    while (acks < 200 || trades < 100) && Instant::now() < deadline {
        match rx.try_recv() {
            Some(Output::Event {
                event: Event::Exec(x),
                ..
            }) if x.exec_type == ExecType::New => acks += 1,
            Some(Output::Event {
                event: Event::Trade(_),
                ..
            }) => trades += 1,
            Some(Output::Refused { refusal, .. }) => panic!("refused: {refusal}"),
            Some(_) => {}
            None => std::thread::sleep(Duration::from_micros(200)),
        }
    }
    assert_eq!((acks, trades), (200, 100));
    stop.store(true, Ordering::Release);
    let seq = handle.join().unwrap();
    let hash = seq.engine().state_hash();
    assert_eq!(seq.log().journal().last_seq(), 200);
    let (_, log) = seq.into_parts();
    log.into_journal().close().unwrap();

    let r = recover(dir.path(), None, engine_config(), journal_config()).unwrap();
    assert_eq!(r.replayed, 200);
    assert_eq!(
        r.engine.state_hash(),
        hash,
        "restart rebuilds the same state"
    );
    assert!(r.last_time_ns > 0);
}

#[test]
fn a_journal_of_something_else_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(dir.path(), journal_config()).unwrap();
    j.append(42, 1, 1, b"not an input").unwrap();
    j.close().unwrap();
    let err = recover(dir.path(), None, engine_config(), journal_config()).unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("payload type 42"), "{text}");
    // A frame of the right type with bytes that are not an input.
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(dir.path(), journal_config()).unwrap();
    j.append(venue::runtime::PAYLOAD_TYPE_INPUT, 1, 1, &[99, 1, 2])
        .unwrap();
    j.close().unwrap();
    let err = recover(dir.path(), None, engine_config(), journal_config()).unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("frame 1 is not a valid input"), "{text}");
}
