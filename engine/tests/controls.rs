//! Operator and pre-trade controls, by hand-written cases: phases, the kill
//! switch, operator mass cancels, credit limits and the volatility
//! interruption, each with the events a client and the operator see.

use engine::config::DAY_NS;
use engine::*;

const T0: u64 = 1_700_000_000_000_000_000;
const MS: u64 = 1_000_000;
const INST: InstrumentId = InstrumentId(1);
const P1: ParticipantId = ParticipantId(1);
const P2: ParticipantId = ParticipantId(2);

fn config() -> EngineConfig {
    let mut i = InstrumentSpec::new(INST, "X");
    i.reference_price_ticks = Some(100);
    i.volatility = Some(VolatilityGuard {
        band_bp: 500,
        window_ns: 1_000 * MS,
        pause_ns: 5_000 * MS,
    });
    EngineConfig {
        instruments: vec![i, InstrumentSpec::new(InstrumentId(2), "Y")],
        participants: [P1, P2]
            .map(|id| ParticipantSpec {
                id,
                stp: StpMode::None,
            })
            .to_vec(),
        credit_limits: vec![CreditLimit {
            participant: P2,
            instrument: INST,
            max_open_notional_tick_lots: 1_000,
        }],
        ..EngineConfig::default()
    }
}

struct Venue {
    e: Engine,
    seq: u64,
    now: u64,
}

impl Venue {
    fn new() -> Venue {
        Venue {
            e: Engine::new(config()).expect("valid config"),
            seq: 0,
            now: T0,
        }
    }

    fn apply(&mut self, input: Input) -> Vec<Event> {
        self.seq += 1;
        self.now += MS;
        let mut out = Vec::new();
        self.e.apply(self.seq, self.now, &input, &mut out);
        out
    }

    fn order(
        &mut self,
        p: ParticipantId,
        id: &str,
        side: Side,
        price: i64,
        qty: u64,
    ) -> Vec<Event> {
        self.order_tif(p, id, side, price, qty, TimeInForce::Gtc)
    }

    fn order_tif(
        &mut self,
        p: ParticipantId,
        id: &str,
        side: Side,
        price: i64,
        qty: u64,
        tif: TimeInForce,
    ) -> Vec<Event> {
        self.apply(Input::NewOrder(NewOrder {
            participant: p,
            instrument: INST,
            cl_ord_id: ClOrdId::new(id.as_bytes()).expect("id"),
            side,
            ord_type: OrdType::Limit,
            tif,
            price_ticks: Some(price),
            stop_price_ticks: None,
            qty_lots: qty,
            display_qty_lots: 0,
            min_qty_lots: 0,
            post_only: false,
            expire_time_ns: None,
        }))
    }

    fn admin(&mut self, a: AdminAction) -> (AdminReport, Vec<Event>) {
        let events = self.apply(Input::Admin(a));
        let Some(Event::AdminReport(r)) = events.last() else {
            panic!("no admin report last: {events:?}");
        };
        (*r, events)
    }
}

fn rejected(events: &[Event]) -> Option<RejectReason> {
    events.iter().find_map(|e| match e {
        Event::Exec(x) if x.exec_type == ExecType::Rejected => match x.reason {
            Reason::Reject(r) => Some(r),
            _ => None,
        },
        _ => None,
    })
}

fn cancels(events: &[Event]) -> Vec<(OrderId, CancelReason)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Exec(x) if x.exec_type == ExecType::Canceled => match x.reason {
                Reason::Cancel(c) => Some((x.order_id, c)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn trades(events: &[Event]) -> Vec<(i64, u64)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Trade(t) => Some((t.price_ticks, t.qty_lots)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_halt_refuses_orders_but_not_cancels_and_a_resume_reopens() {
    let mut v = Venue::new();
    assert_eq!(rejected(&v.order(P1, "a", Side::Buy, 99, 5)), None);
    let (r, events) = v.admin(AdminAction::SetPhase {
        instrument: INST,
        phase: Phase::Halted,
    });
    assert_eq!(r.reject, None);
    assert!(events.iter().any(|e| matches!(e,
        Event::InstrumentStatus(s) if s.phase == Phase::Halted && s.cause == StatusCause::Operator)));
    assert_eq!(v.e.phase(INST), Some((Phase::Halted, 0)));
    assert_eq!(
        rejected(&v.order(P1, "b", Side::Buy, 99, 5)),
        Some(RejectReason::InstrumentHalted)
    );
    let cancel = v.apply(Input::Cancel(Cancel {
        participant: P1,
        cl_ord_id: ClOrdId::new(b"a2").expect("id"),
        target: OrderRef::ClOrdId(ClOrdId::new(b"a").expect("id")),
    }));
    assert_eq!(cancels(&cancel).len(), 1, "cancels pass a halt: {cancel:?}");
    v.admin(AdminAction::SetPhase {
        instrument: INST,
        phase: Phase::Open,
    });
    assert_eq!(rejected(&v.order(P1, "c", Side::Buy, 99, 5)), None);
    v.admin(AdminAction::SetPhase {
        instrument: INST,
        phase: Phase::Closed,
    });
    assert_eq!(
        rejected(&v.order(P1, "d", Side::Buy, 99, 5)),
        Some(RejectReason::InstrumentClosed)
    );
    let (r, _) = v.admin(AdminAction::SetPhase {
        instrument: InstrumentId(77),
        phase: Phase::Open,
    });
    assert_eq!(r.reject, Some(RejectReason::InvalidAdminRequest));
}

#[test]
fn pre_open_collects_orders_that_rest_and_refuses_those_that_would_match() {
    let mut v = Venue::new();
    v.admin(AdminAction::SetPhase {
        instrument: INST,
        phase: Phase::PreOpen,
    });
    assert_eq!(rejected(&v.order(P1, "s", Side::Sell, 101, 5)), None);
    assert_eq!(rejected(&v.order(P2, "b", Side::Buy, 100, 5)), None);
    assert_eq!(
        rejected(&v.order(P2, "x", Side::Buy, 101, 1)),
        Some(RejectReason::PreOpenWouldMatch),
        "a crossing limit"
    );
    assert_eq!(
        rejected(&v.order_tif(P2, "y", Side::Buy, 99, 1, TimeInForce::Ioc)),
        Some(RejectReason::PreOpenWouldMatch),
        "IOC cannot rest"
    );
    let (_, events) = v.admin(AdminAction::SetPhase {
        instrument: INST,
        phase: Phase::Open,
    });
    assert!(trades(&events).is_empty());
    assert_eq!(trades(&v.order(P2, "z", Side::Buy, 101, 2)), [(101, 2)]);
}

#[test]
fn the_kill_switch_cancels_everything_and_refuses_new_orders_until_reset() {
    let mut v = Venue::new();
    v.order(P1, "a", Side::Buy, 99, 5);
    v.order(P1, "b", Side::Sell, 103, 5);
    v.order(P2, "c", Side::Buy, 98, 1);
    let (r, events) = v.admin(AdminAction::KillSwitch {
        participant: P1,
        engaged: true,
    });
    assert_eq!(r.cancelled_count, 2);
    let c = cancels(&events);
    assert_eq!(c.len(), 2);
    assert!(c.iter().all(|(_, why)| *why == CancelReason::KillSwitch));
    assert!(v.e.kill_switch_engaged(P1));
    assert_eq!(
        rejected(&v.order(P1, "d", Side::Buy, 99, 5)),
        Some(RejectReason::KillSwitchEngaged)
    );
    assert_eq!(
        rejected(&v.order(P2, "e", Side::Buy, 99, 1)),
        None,
        "others trade on"
    );
    v.admin(AdminAction::KillSwitch {
        participant: P1,
        engaged: false,
    });
    assert_eq!(rejected(&v.order(P1, "f", Side::Buy, 99, 5)), None);
}

#[test]
fn an_operator_mass_cancel_takes_every_participants_orders_that_match() {
    let mut v = Venue::new();
    v.order(P1, "a", Side::Buy, 99, 5);
    v.order(P2, "b", Side::Buy, 98, 1);
    v.order(P2, "c", Side::Sell, 103, 1);
    let (r, events) = v.admin(AdminAction::MassCancel {
        participant: None,
        instrument: Some(INST),
        side: Some(Side::Buy),
    });
    assert_eq!(r.cancelled_count, 2);
    assert!(
        cancels(&events)
            .iter()
            .all(|(_, why)| *why == CancelReason::Operator)
    );
    assert_eq!(v.e.live_order_count(), 1);
}

#[test]
fn credit_limits_count_resting_notional_and_free_it_on_fills() {
    let mut v = Venue::new();
    // P2 may have 1000 tick-lots open on X: 9 lots at 100 fit, 11 do not.
    assert_eq!(rejected(&v.order(P2, "a", Side::Buy, 100, 9)), None);
    assert_eq!(v.e.credit(P2, INST), Some((900, Some(1_000))));
    assert_eq!(
        rejected(&v.order(P2, "b", Side::Buy, 100, 2)),
        Some(RejectReason::CreditLimitExceeded)
    );
    // A fill of 5 frees 500.
    v.order(P1, "s", Side::Sell, 100, 5);
    assert_eq!(v.e.credit(P2, INST), Some((400, Some(1_000))));
    assert_eq!(rejected(&v.order(P2, "b", Side::Buy, 99, 6)), None);
    assert_eq!(v.e.credit(P2, INST), Some((994, Some(1_000))));
    // The operator raises the limit during the day.
    let (r, _) = v.admin(AdminAction::SetCreditLimit {
        participant: P2,
        instrument: INST,
        max_open_notional_tick_lots: Some(5_000),
    });
    assert_eq!(r.reject, None);
    assert_eq!(rejected(&v.order(P2, "c", Side::Buy, 99, 20)), None);
    // Replacing up past it is refused; down is always fine.
    let replace = |qty| {
        Input::Replace(Replace {
            participant: P2,
            cl_ord_id: ClOrdId::new(format!("r{qty}").as_bytes()).expect("id"),
            target: OrderRef::ClOrdId(ClOrdId::new(b"c").expect("id")),
            qty_lots: qty,
            price_ticks: None,
            stop_price_ticks: None,
        })
    };
    let events = v.apply(replace(60));
    assert!(
        matches!(
            events[..],
            [Event::CancelReject(CancelReject {
                reason: RejectReason::CreditLimitExceeded,
                ..
            })]
        ),
        "{events:?}"
    );
    let events = v.apply(replace(10));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Exec(x) if x.exec_type == ExecType::Replaced))
    );
    // Restored state counts the same.
    let restored = Engine::restore(config(), &v.e.snapshot()).expect("restores");
    assert_eq!(restored.credit(P2, INST), v.e.credit(P2, INST));
    assert_eq!(restored.state_hash(), v.e.state_hash());
}

#[test]
fn a_move_beyond_the_band_halts_the_instrument_and_the_pause_ends_at_a_clock_tick() {
    let mut v = Venue::new();
    // Asks at 100, 104 and 110; the band is 5% of the last trade.
    v.order(P1, "a1", Side::Sell, 100, 1);
    v.order(P1, "a2", Side::Sell, 104, 1);
    v.order(P1, "a3", Side::Sell, 108, 1);
    let events = v.order(P2, "sweep", Side::Buy, 120, 3);
    assert_eq!(
        trades(&events),
        [(100, 1), (104, 1)],
        "108 is beyond 100 + 5%"
    );
    let c = cancels(&events);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].1, CancelReason::VolatilityInterruption);
    let status = events.iter().find_map(|e| match e {
        Event::InstrumentStatus(s) => Some(*s),
        _ => None,
    });
    let status = status.expect("a status event");
    assert_eq!(status.phase, Phase::Halted);
    assert_eq!(status.cause, StatusCause::VolatilityInterruption);
    assert_eq!(status.resume_at_ns, v.now + 5_000 * MS);
    assert_eq!(
        rejected(&v.order(P2, "again", Side::Buy, 120, 1)),
        Some(RejectReason::InstrumentHalted)
    );
    // The snapshot keeps the halt and the references.
    let restored = Engine::restore(config(), &v.e.snapshot()).expect("restores");
    assert_eq!(restored.phase(INST), v.e.phase(INST));
    assert_eq!(restored.state_hash(), v.e.state_hash());
    // A tick before the pause ends changes nothing; one after resumes.
    assert!(v.apply(Input::ClockTick).is_empty());
    v.now += 5_000 * MS;
    let events = v.apply(Input::ClockTick);
    assert!(events.iter().any(|e| matches!(e,
        Event::InstrumentStatus(s) if s.phase == Phase::Open && s.cause == StatusCause::PauseEnded)));
    // Old references have left the window: 108 is within 5% of 104.
    assert_eq!(trades(&v.order(P2, "after", Side::Buy, 120, 1)), [(108, 1)]);
}

#[test]
fn admin_inputs_round_trip_through_the_codec() {
    let actions = [
        AdminAction::SetPhase {
            instrument: INST,
            phase: Phase::PreOpen,
        },
        AdminAction::KillSwitch {
            participant: P2,
            engaged: true,
        },
        AdminAction::MassCancel {
            participant: None,
            instrument: Some(INST),
            side: Some(Side::Sell),
        },
        AdminAction::MassCancel {
            participant: Some(P1),
            instrument: None,
            side: None,
        },
        AdminAction::SetCreditLimit {
            participant: P1,
            instrument: INST,
            max_open_notional_tick_lots: Some(u64::MAX),
        },
        AdminAction::SetCreditLimit {
            participant: P1,
            instrument: INST,
            max_open_notional_tick_lots: None,
        },
        AdminAction::SnapshotNow,
        AdminAction::SetRateLimit {
            participant: P2,
            per_second: 50,
            burst: u32::MAX,
        },
    ];
    for a in actions {
        let mut bytes = Vec::new();
        encode_input(&Input::Admin(a), &mut bytes);
        assert_eq!(decode_input(&bytes), Ok(Input::Admin(a)));
        assert_eq!(
            InputBuf::default().encode(&Input::Admin(a)),
            Some(&bytes[..])
        );
        for cut in 1..bytes.len() {
            assert!(decode_input(&bytes[..cut]).is_err(), "{a:?} cut at {cut}");
        }
    }
}

#[test]
fn a_participant_trades_only_the_instruments_it_is_permitted() {
    let mut config = config();
    config.permissions = vec![Permissions {
        participant: P2,
        instruments: vec![InstrumentId(2)],
    }];
    let mut e = Engine::new(config).expect("valid config");
    let order = |instrument| {
        Input::NewOrder(NewOrder {
            participant: P2,
            instrument,
            cl_ord_id: ClOrdId::new(format!("o{}", instrument.0).as_bytes()).expect("id"),
            side: Side::Buy,
            ord_type: OrdType::Limit,
            tif: TimeInForce::Gtc,
            price_ticks: Some(99),
            stop_price_ticks: None,
            qty_lots: 1,
            display_qty_lots: 0,
            min_qty_lots: 0,
            post_only: false,
            expire_time_ns: None,
        })
    };
    let mut out = Vec::new();
    e.apply(1, T0, &order(INST), &mut out);
    assert_eq!(rejected(&out), Some(RejectReason::InstrumentNotPermitted));
    out.clear();
    e.apply(2, T0 + 1, &order(InstrumentId(2)), &mut out);
    assert_eq!(rejected(&out), None);
}

#[test]
fn trading_hours_move_the_phase_at_clock_ticks_but_never_lift_a_halt() {
    const H: u64 = 3_600 * 1_000_000_000;
    let day = T0 - T0 % DAY_NS + DAY_NS;
    let mut config = config();
    config.instruments[0].hours = Some(TradingHours {
        pre_open_ns_of_day: Some(6 * H + H / 2),
        open_ns_of_day: 7 * H,
        close_ns_of_day: 21 * H,
    });
    let mut e = Engine::new(config).expect("valid config");
    let mut seq = 0;
    let tick = |e: &mut Engine, seq: &mut u64, at: u64| {
        *seq += 1;
        let mut out = Vec::new();
        e.apply(*seq, day + at, &Input::ClockTick, &mut out);
        out.iter()
            .filter_map(|ev| match ev {
                Event::InstrumentStatus(s) => Some((s.phase, s.cause)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let sched = StatusCause::Schedule;
    assert_eq!(
        tick(&mut e, &mut seq, 3 * H),
        [(Phase::Closed, sched)],
        "night"
    );
    assert_eq!(tick(&mut e, &mut seq, 4 * H), [], "no change, no event");
    assert_eq!(
        tick(&mut e, &mut seq, 6 * H + H / 2),
        [(Phase::PreOpen, sched)]
    );
    assert_eq!(tick(&mut e, &mut seq, 7 * H), [(Phase::Open, sched)]);
    // An operator's halt outlasts the close and the next morning's open.
    let mut out = Vec::new();
    seq += 1;
    e.apply(
        seq,
        day + 12 * H,
        &Input::Admin(AdminAction::SetPhase {
            instrument: INST,
            phase: Phase::Halted,
        }),
        &mut out,
    );
    assert_eq!(tick(&mut e, &mut seq, 21 * H), []);
    assert_eq!(e.phase(INST), Some((Phase::Halted, 0)));
    // The snapshot keeps the last scheduled phase.
    let restored = Engine::restore(e.config().clone(), &e.snapshot()).expect("restores");
    assert_eq!(restored.state_hash(), e.state_hash());
}
