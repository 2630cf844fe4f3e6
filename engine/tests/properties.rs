//! Property tests of the book's invariants, over random input sequences on
//! small price and id ranges (so that orders cross, collide and cancel
//! often). Failures shrink to a minimal sequence and are recorded under
//! `engine/tests/properties.proptest-regressions`, which is committed.
//!
//! After every input:
//! - the book is never crossed at rest;
//! - every trade is reported to both sides with equal quantity and price, and
//!   never between two orders of a participant whose STP mode forbids it;
//! - every execution report of a live order has leaves + cumulative = order
//!   quantity, and a finished one has no leaves;
//! - no fill is at a price worse than the order's limit;
//! - within a price level, resting orders fill in queue (FIFO) order;
//! - an input answered only by rejects (or a status request) leaves
//!   `state_hash()` unchanged;
//! - a snapshot restores to an engine with the same hash, and the same open
//!   notional per participant and instrument (kept incrementally live,
//!   recomputed from the orders on restore).
//!
//! Operator actions (phases, kill switches, mass cancels, credit limits)
//! are among the inputs, and instrument B has a volatility interruption.

use std::collections::BTreeMap;

use engine::*;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

const T0: u64 = 1_700_000_000_000_000_000;

fn config() -> EngineConfig {
    let mut b = InstrumentSpec::new(InstrumentId(2), "B");
    b.collar = Some(Collar::Ticks(4));
    b.reference_price_ticks = Some(100);
    b.volatility = Some(VolatilityGuard {
        band_bp: 200,
        window_ns: 2_000_000,
        pause_ns: 3_000_000,
    });
    let stp = [
        StpMode::None,
        StpMode::CancelResting,
        StpMode::CancelAggressing,
        StpMode::CancelBoth,
        StpMode::DecrementBoth,
    ];
    EngineConfig {
        instruments: vec![InstrumentSpec::new(InstrumentId(1), "A"), b],
        participants: (1..=5)
            .map(|i| ParticipantSpec {
                id: ParticipantId(i),
                stp: stp[i as usize - 1],
            })
            .collect(),
        orders_capacity: 256,
        ..EngineConfig::default()
    }
}

fn stp_of(p: ParticipantId) -> StpMode {
    config()
        .participants
        .iter()
        .find(|s| s.id == p)
        .map_or(StpMode::None, |s| s.stp)
}

fn cl(n: u8) -> ClOrdId {
    ClOrdId::new(format!("c{n}").as_bytes()).expect("valid id")
}

fn order_ref() -> impl Strategy<Value = OrderRef> {
    prop_oneof![
        (0u8..40).prop_map(|n| OrderRef::ClOrdId(cl(n))),
        (0u64..40).prop_map(|n| OrderRef::OrderId(OrderId(n))),
    ]
}

prop_compose! {
    fn new_order()(
        participant in 1u32..=5,
        instrument in 1u32..=2,
        id in 0u8..40,
        buy in any::<bool>(),
        kind in 0u8..10,
        tif in 0u8..5,
        price in 96i64..=104,
        stop in 96i64..=104,
        qty in 1u64..=12,
        display in prop_oneof![Just(0u64), 1u64..=4],
        min_qty in prop_oneof![4 => Just(0u64), 1 => 1u64..=6],
        post_only in prop::bool::weighted(0.1),
        expire_in in 1u64..=3,
    ) -> Input {
        let ord_type = match kind {
            0..=5 => OrdType::Limit,
            6 | 7 => OrdType::Market,
            8 => OrdType::Stop,
            _ => OrdType::StopLimit,
        };
        Input::NewOrder(NewOrder {
            participant: ParticipantId(participant),
            instrument: InstrumentId(instrument),
            cl_ord_id: cl(id),
            side: if buy { Side::Buy } else { Side::Sell },
            ord_type,
            tif: TimeInForce::ALL[tif as usize],
            price_ticks: ord_type.has_limit_price().then_some(price),
            stop_price_ticks: ord_type.has_stop_price().then_some(stop),
            qty_lots: qty,
            display_qty_lots: display,
            min_qty_lots: min_qty,
            post_only,
            expire_time_ns: Some(T0 + expire_in * 1_000_000),
        })
    }
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        8 => new_order(),
        2 => (1u32..=5, 0u8..40, order_ref()).prop_map(|(p, id, target)| Input::Cancel(Cancel {
            participant: ParticipantId(p),
            cl_ord_id: cl(id),
            target,
        })),
        2 => (1u32..=5, 0u8..40, order_ref(), 1u64..=12, prop::option::of(96i64..=104))
            .prop_map(|(p, id, target, qty, price)| Input::Replace(Replace {
                participant: ParticipantId(p),
                cl_ord_id: cl(id),
                target,
                qty_lots: qty,
                price_ticks: price,
                stop_price_ticks: None,
            })),
        1 => (1u32..=5, prop::option::of(1u32..=2)).prop_map(|(p, i)| Input::MassCancel(MassCancel {
            participant: ParticipantId(p),
            cl_ord_id: ClOrdId::EMPTY,
            instrument: i.map(InstrumentId),
            side: None,
            tif: None,
        })),
        1 => (1u32..=5, order_ref()).prop_map(|(p, target)| Input::OrderStatus(OrderStatusRequest {
            participant: ParticipantId(p),
            target,
        })),
        1 => (1u32..=5, prop::option::of(1u32..=2)).prop_map(|(p, i)| Input::MassStatus(MassStatusRequest {
            participant: ParticipantId(p),
            instrument: i.map(InstrumentId),
            side: None,
        })),
        1 => Just(Input::ClockTick),
        1 => (any::<u64>(), any::<bool>()).prop_map(|(state_hash, folded)| Input::Checkpoint {
            state_hash,
            scheme: if folded { HashScheme::Folded } else { HashScheme::Encoding },
        }),
        1 => admin(),
    ]
}

fn admin() -> impl Strategy<Value = Input> {
    prop_oneof![
        (1u32..=3, 0usize..4).prop_map(|(i, ph)| AdminAction::SetPhase {
            instrument: InstrumentId(i),
            phase: Phase::ALL[ph],
        }),
        (1u32..=6, prop::bool::weighted(0.3)).prop_map(|(p, engaged)| AdminAction::KillSwitch {
            participant: ParticipantId(p),
            engaged,
        }),
        (prop::option::of(1u32..=5), prop::option::of(1u32..=2)).prop_map(|(p, i)| {
            AdminAction::MassCancel {
                participant: p.map(ParticipantId),
                instrument: i.map(InstrumentId),
                side: None,
            }
        }),
        (1u32..=5, 1u32..=2, prop::option::of(0u64..3_000)).prop_map(|(p, i, l)| {
            AdminAction::SetCreditLimit {
                participant: ParticipantId(p),
                instrument: InstrumentId(i),
                max_open_notional_tick_lots: l,
            }
        }),
        (1u32..=6, 0u32..4, 0u32..4).prop_map(|(p, per_second, burst)| AdminAction::SetRateLimit {
            participant: ParticipantId(p),
            per_second,
            burst,
        }),
    ]
    .prop_map(Input::Admin)
}

/// Queue positions of resting orders before an input, by (instrument, side, price).
fn queues(e: &Engine) -> BTreeMap<(u32, u8, i64), Vec<OrderId>> {
    let mut out = BTreeMap::new();
    for inst in [InstrumentId(1), InstrumentId(2)] {
        for side in [Side::Buy, Side::Sell] {
            for level in e.book_levels(inst, side) {
                let q = e.level_queue(inst, side, level.price_ticks);
                out.insert(
                    (inst.0, side as u8, level.price_ticks),
                    q.into_iter().map(|(id, ..)| id).collect(),
                );
            }
        }
    }
    out
}

fn check_input(
    e: &Engine,
    before_hash: u64,
    before_queues: &BTreeMap<(u32, u8, i64), Vec<OrderId>>,
    input: &Input,
    events: &[Event],
) -> Result<(), TestCaseError> {
    // Never crossed at rest.
    for inst in [InstrumentId(1), InstrumentId(2)] {
        let bid = e
            .book_levels(inst, Side::Buy)
            .first()
            .map(|l| l.price_ticks);
        let ask = e
            .book_levels(inst, Side::Sell)
            .first()
            .map(|l| l.price_ticks);
        if let (Some(b), Some(a)) = (bid, ask) {
            prop_assert!(b < a, "crossed book on {inst:?}: bid {b} ask {a}");
        }
    }
    let mut fills: BTreeMap<u64, Vec<&ExecutionReport>> = BTreeMap::new();
    let mut first_fill_pos: BTreeMap<(u32, u8, i64), Vec<OrderId>> = BTreeMap::new();
    for ev in events {
        match ev {
            Event::Exec(x) => {
                if x.ord_status.is_live() {
                    prop_assert_eq!(
                        x.leaves_qty_lots + x.cum_qty_lots,
                        x.order_qty_lots,
                        "leaves + cum != qty: {:?}",
                        x
                    );
                } else {
                    prop_assert_eq!(x.leaves_qty_lots, 0, "finished with leaves: {:?}", x);
                }
                if x.exec_type == ExecType::Trade {
                    if let Some(limit) = x.price_ticks {
                        let ok = match x.side {
                            Side::Buy => x.last_px_ticks <= limit,
                            Side::Sell => x.last_px_ticks >= limit,
                        };
                        prop_assert!(ok, "fill worse than limit: {:?}", x);
                    }
                    fills.entry(x.trade_id.0).or_default().push(x);
                    if !x.aggressor {
                        let key = (x.instrument.0, x.side as u8, x.last_px_ticks);
                        let seen = first_fill_pos.entry(key).or_default();
                        if !seen.contains(&x.order_id) {
                            seen.push(x.order_id);
                        }
                    }
                }
            }
            Event::Trade(t) if t.buyer == t.seller => {
                prop_assert_eq!(stp_of(t.buyer), StpMode::None, "self-trade: {:?}", t);
            }
            _ => {}
        }
    }
    for ev in events {
        if let Event::Trade(t) = ev {
            let sides = fills.get(&t.trade_id.0).cloned().unwrap_or_default();
            prop_assert_eq!(sides.len(), 2, "trade {:?} not reported to both sides", t);
            for x in sides {
                prop_assert_eq!(x.last_qty_lots, t.qty_lots);
                prop_assert_eq!(x.last_px_ticks, t.price_ticks);
            }
        }
    }
    // FIFO: resting orders at a level fill in the order they were queued
    // (orders that joined during this input, e.g. refreshed icebergs, are
    // already behind everyone who was queued before).
    for (key, filled) in &first_fill_pos {
        let queued: Vec<OrderId> = before_queues
            .get(key)
            .map(|q| q.iter().copied().filter(|id| filled.contains(id)).collect())
            .unwrap_or_default();
        let filled_queued: Vec<OrderId> = filled
            .iter()
            .copied()
            .filter(|id| queued.contains(id))
            .collect();
        prop_assert_eq!(&filled_queued, &queued, "FIFO broken at {:?}", key);
    }
    // Rejected inputs and status requests change nothing.
    let only_rejects = !events.is_empty()
        && events.iter().all(|ev| match ev {
            Event::Exec(x) => {
                x.exec_type == ExecType::Rejected || x.exec_type == ExecType::OrderStatus
            }
            Event::CancelReject(_) => true,
            Event::MassCancelReport(r) => r.reject.is_some(),
            _ => false,
        });
    if only_rejects
        || matches!(
            input,
            Input::OrderStatus(_) | Input::MassStatus(_) | Input::Checkpoint { .. }
        )
    {
        prop_assert_eq!(
            e.state_hash(),
            before_hash,
            "a reject changed state: {:?}",
            input
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::SourceParallel(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn book_invariants_hold(inputs in prop::collection::vec(input(), 1..120)) {
        let mut e = Engine::new(config()).expect("valid config");
        let mut events = Vec::new();
        for (i, input) in inputs.iter().enumerate() {
            let before_hash = e.state_hash();
            let before_queues = queues(&e);
            events.clear();
            // Time advances by a millisecond per input, so GTD orders expire.
            e.apply(i as u64 + 1, T0 + i as u64 * 1_000_000, input, &mut events);
            check_input(&e, before_hash, &before_queues, input, &events)?;
        }
        let restored = Engine::restore(config(), &e.snapshot()).expect("snapshot restores");
        prop_assert_eq!(restored.state_hash(), e.state_hash());
        for p in 1..=5 {
            for i in 1..=2 {
                let (p, i) = (ParticipantId(p), InstrumentId(i));
                prop_assert_eq!(e.credit(p, i), restored.credit(p, i), "open notional of {:?} on {:?}", p, i);
            }
        }
    }

    #[test]
    fn announcing_inputs_ahead_changes_nothing(
        inputs in prop::collection::vec(input(), 1..120),
        skipped in prop::collection::vec(0..6usize, 120),
    ) {
        // The sequencer announces each input at every distance from
        // `PREFETCH_DISTANCE` down to one place before its turn; the
        // announcements read the state as it is then (it changes before
        // the input's turn) and must never panic or change what any input
        // does (both take `&self`, so what this mostly guards is that no
        // announcement panics or indexes out of bounds, whatever state it
        // meets). One engine is announced to from scratch at each distance
        // (`prefetch_at`), one with a memory (`prefetch_ahead`) where some
        // distances are skipped (`skipped[i]` names one, or none above 4)
        // and every eighth input is given a wrong position, so that some
        // memories are missing, stale or another input's.
        let mut plain = Engine::new(config()).expect("valid config");
        let mut announced = Engine::new(config()).expect("valid config");
        let mut remembered = Engine::new(config()).expect("valid config");
        let mut memo = engine::Lookahead::default();
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        for (i, input) in inputs.iter().enumerate() {
            for d in (1..=engine::PREFETCH_DISTANCE).rev() {
                if let Some(later) = inputs.get(i + d) {
                    announced.prefetch_at(later, d);
                    if skipped[i + d] != d {
                        let pos = if (i + d) % 8 == 0 { i + d + 3 } else { i + d };
                        remembered.prefetch_ahead(&mut memo, pos as u64, later, d);
                    }
                }
            }
            announced.prefetch(input);
            let (seq, time) = (i as u64 + 1, T0 + i as u64 * 1_000_000);
            plain.apply(seq, time, input, &mut a);
            announced.apply(seq, time, input, &mut b);
            remembered.apply(seq, time, input, &mut c);
        }
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(&a, &c);
        prop_assert_eq!(plain.state_hash(), announced.state_hash());
        prop_assert_eq!(plain.state_hash(), remembered.state_hash());
    }

    #[test]
    fn decoding_garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_input(&bytes);
        let _ = Engine::restore(config(), &bytes);
    }

    #[test]
    fn inputs_round_trip_through_the_codec(input in input()) {
        let mut buf = Vec::new();
        encode_input(&input, &mut buf);
        prop_assert_eq!(decode_input(&buf), Ok(input));
        // The loop's fixed buffer makes the same bytes.
        let mut fixed = InputBuf::default();
        prop_assert_eq!(fixed.encode(&input), Some(&buf[..]));
        // Every strict prefix is refused.
        for cut in 0..buf.len() {
            prop_assert!(decode_input(&buf[..cut]).is_err());
        }
    }
}
