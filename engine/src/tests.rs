//! Scenario tests: one per rule of the crate docs, each asserting the exact
//! events or state the rule promises.

use crate::*;

const T0: u64 = 1_700_000_000_000_000_000; // 2023-11-14T22:13:20Z
const DAY_END: u64 = 22 * 3_600 * 1_000_000_000;

fn cfg() -> EngineConfig {
    let mut collared = InstrumentSpec::new(InstrumentId(2), "COLLAR");
    collared.collar = Some(Collar::Ticks(10));
    collared.reference_price_ticks = Some(100);
    collared.notional_max_tick_lots = Some(100_000);
    let mut restricted = InstrumentSpec::new(InstrumentId(3), "RESTRICTED");
    restricted.order_types = OrdTypeSet::of(&[OrdType::Limit]);
    restricted.time_in_force = TifSet::of(&[TimeInForce::Gtc, TimeInForce::Ioc]);
    restricted.qty_min_lots = 5;
    restricted.qty_max_lots = 1_000;
    let stp = [
        StpMode::CancelResting,
        StpMode::None,
        StpMode::CancelAggressing,
        StpMode::CancelBoth,
        StpMode::DecrementBoth,
    ];
    EngineConfig {
        instruments: vec![
            InstrumentSpec::new(InstrumentId(1), "FREE"),
            collared,
            restricted,
        ],
        participants: stp
            .iter()
            .enumerate()
            .map(|(i, s)| ParticipantSpec {
                id: ParticipantId(i as u32 + 1),
                stp: *s,
            })
            .collect(),
        day_end_ns_of_day: DAY_END,
        orders_capacity: 64,
        credit_limits: Vec::new(),
        permissions: Vec::new(),
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
            e: Engine::new(cfg()).unwrap(),
            seq: 0,
            now: T0,
        }
    }

    fn apply(&mut self, input: Input) -> Vec<Event> {
        self.seq += 1;
        let mut out = Vec::new();
        self.e.apply(self.seq, self.now, &input, &mut out);
        out
    }

    fn execs(&mut self, input: Input) -> Vec<ExecutionReport> {
        self.apply(input)
            .into_iter()
            .filter_map(|e| match e {
                Event::Exec(x) => Some(x),
                _ => None,
            })
            .collect()
    }
}

fn id(s: &str) -> ClOrdId {
    ClOrdId::new(s.as_bytes()).unwrap()
}

fn order(p: u32, inst: u32, cl: &str, side: Side, px: i64, qty: u64) -> NewOrder {
    NewOrder {
        participant: ParticipantId(p),
        instrument: InstrumentId(inst),
        cl_ord_id: id(cl),
        side,
        ord_type: OrdType::Limit,
        tif: TimeInForce::Gtc,
        price_ticks: Some(px),
        stop_price_ticks: None,
        qty_lots: qty,
        display_qty_lots: 0,
        min_qty_lots: 0,
        post_only: false,
        expire_time_ns: None,
    }
}

fn limit(p: u32, cl: &str, side: Side, px: i64, qty: u64) -> Input {
    Input::NewOrder(order(p, 1, cl, side, px, qty))
}

fn kinds(execs: &[ExecutionReport]) -> Vec<(ExecType, OrdStatus, u64)> {
    execs
        .iter()
        .map(|x| (x.exec_type, x.ord_status, x.order_id.0))
        .collect()
}

fn reject_reason(events: &[Event]) -> Option<RejectReason> {
    events.iter().find_map(|e| match e {
        Event::Exec(ExecutionReport {
            reason: Reason::Reject(r),
            ..
        }) => Some(*r),
        Event::CancelReject(c) => Some(c.reason),
        _ => None,
    })
}

#[test]
fn a_cross_trades_at_the_resting_price_with_both_sides_reported() {
    let mut v = Venue::new();
    v.apply(limit(1, "S1", Side::Sell, 101, 10));
    let ev = v.apply(limit(2, "B1", Side::Buy, 105, 4));
    let trades: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Trade(t) => Some(*t),
            _ => None,
        })
        .collect();
    assert_eq!(trades.len(), 1);
    assert_eq!((trades[0].price_ticks, trades[0].qty_lots), (101, 4));
    assert_eq!(trades[0].aggressor_side, Side::Buy);
    let x: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Exec(x) => Some(*x),
            _ => None,
        })
        .collect();
    assert_eq!(
        kinds(&x),
        [
            (ExecType::New, OrdStatus::New, 2),
            (ExecType::Trade, OrdStatus::Filled, 2),
            (ExecType::Trade, OrdStatus::PartiallyFilled, 1),
        ]
    );
    assert!(x[1].aggressor && !x[2].aggressor);
    assert_eq!((x[2].leaves_qty_lots, x[2].cum_qty_lots), (6, 4));
    assert_eq!(x[1].cum_notional_tick_lots, 404);
    assert_eq!(x[1].exec_id, ExecId { seq: 2, idx: 1 });
    assert_eq!(
        v.e.book_levels(InstrumentId(1), Side::Sell)[0].qty_lots,
        6,
        "level shows the rest"
    );
    assert!(matches!(ev.last(), Some(Event::BookLevel(l)) if l.qty_lots == 6));
}

#[test]
fn fifo_within_a_level() {
    let mut v = Venue::new();
    v.apply(limit(1, "S1", Side::Sell, 100, 5));
    v.apply(limit(2, "S2", Side::Sell, 100, 5));
    let x = v.execs(limit(3, "B1", Side::Buy, 100, 7));
    let filled: Vec<_> = x
        .iter()
        .filter(|x| x.exec_type == ExecType::Trade && !x.aggressor)
        .map(|x| (x.order_id.0, x.last_qty_lots))
        .collect();
    assert_eq!(filled, [(1, 5), (2, 2)]);
}

#[test]
fn iceberg_shows_display_and_refreshes_at_the_back() {
    let mut v = Venue::new();
    let mut ice = order(1, 1, "ICE", Side::Sell, 100, 25);
    ice.display_qty_lots = 10;
    v.apply(Input::NewOrder(ice));
    v.apply(limit(2, "S2", Side::Sell, 100, 3));
    assert_eq!(v.e.book_levels(InstrumentId(1), Side::Sell)[0].qty_lots, 13);
    let x = v.execs(limit(3, "B1", Side::Buy, 100, 12));
    let filled: Vec<_> = x
        .iter()
        .filter(|x| x.exec_type == ExecType::Trade && !x.aggressor)
        .map(|x| (x.order_id.0, x.last_qty_lots))
        .collect();
    // 10 from the iceberg's tranche, then S2 (ahead of the refreshed tranche), ...
    assert_eq!(filled, [(1, 10), (2, 2)]);
    let q = v.e.level_queue(InstrumentId(1), Side::Sell, 100);
    assert_eq!(
        q,
        [
            (OrderId(2), ParticipantId(2), 1, 1),
            (OrderId(1), ParticipantId(1), 10, 15)
        ]
    );
}

#[test]
fn market_order_stops_at_the_collar_and_cancels_the_rest() {
    let mut v = Venue::new();
    let put = |v: &mut Venue, p: u32, cl: &str, side: Side, px: i64, qty: u64| {
        let ev = v.apply(Input::NewOrder(order(p, 2, cl, side, px, qty)));
        assert_eq!(reject_reason(&ev), None, "{cl}");
    };
    put(&mut v, 1, "S0", Side::Sell, 105, 5);
    put(&mut v, 1, "S1", Side::Sell, 110, 5);
    put(&mut v, 2, "B0", Side::Buy, 110, 10); // last trade 110: band 100..=120
    put(&mut v, 1, "S2", Side::Sell, 115, 5);
    put(&mut v, 1, "S3", Side::Sell, 120, 5);
    put(&mut v, 2, "B1", Side::Buy, 105, 5);
    put(&mut v, 3, "S4", Side::Sell, 105, 5); // last trade 105: band 95..=115
    let mut m = order(2, 2, "M1", Side::Buy, 0, 20);
    m.ord_type = OrdType::Market;
    m.price_ticks = None;
    m.tif = TimeInForce::Ioc;
    let x = v.execs(Input::NewOrder(m));
    let last = x.last().unwrap();
    assert_eq!(last.exec_type, ExecType::Canceled);
    assert_eq!(last.reason, Reason::Cancel(CancelReason::PriceCollar));
    assert_eq!(last.cum_qty_lots, 5, "115 is inside the band, 120 is not");
    assert_eq!(
        v.e.book_levels(InstrumentId(2), Side::Sell)[0].price_ticks,
        120
    );
}

#[test]
fn limit_outside_collar_and_notional_are_rejected_without_state_change() {
    let mut v = Venue::new();
    let h = v.e.state_hash();
    let ev = v.apply(Input::NewOrder(order(1, 2, "X", Side::Buy, 111, 1)));
    assert_eq!(reject_reason(&ev), Some(RejectReason::PriceOutsideCollar));
    let ev = v.apply(Input::NewOrder(order(1, 2, "Y", Side::Buy, 100, 1_001)));
    assert_eq!(reject_reason(&ev), Some(RejectReason::NotionalAboveMax));
    let ev = v.apply(Input::NewOrder(order(1, 9, "Z", Side::Buy, 100, 1)));
    assert_eq!(reject_reason(&ev), Some(RejectReason::UnknownInstrument));
    let ev = v.apply(Input::NewOrder(order(1, 3, "Q", Side::Buy, 100, 4)));
    assert_eq!(reject_reason(&ev), Some(RejectReason::QtyBelowMin));
    let mut mk = order(1, 3, "MK", Side::Buy, 100, 5);
    mk.ord_type = OrdType::Market;
    mk.price_ticks = None;
    let ev = v.apply(Input::NewOrder(mk));
    assert_eq!(reject_reason(&ev), Some(RejectReason::OrdTypeNotAllowed));
    assert_eq!(v.e.state_hash(), h);
}

#[test]
fn duplicate_cl_ord_id_names_the_existing_order_and_creates_nothing() {
    let mut v = Venue::new();
    v.apply(limit(1, "A", Side::Buy, 99, 1));
    let h = v.e.state_hash();
    let x = v.execs(limit(1, "A", Side::Buy, 98, 1));
    assert_eq!(x.len(), 1);
    assert_eq!(x[0].reason, Reason::Reject(RejectReason::DuplicateClOrdId));
    assert_eq!(x[0].order_id, OrderId(1));
    assert_eq!(v.e.state_hash(), h);
    // Another participant may use the same ClOrdID.
    let x = v.execs(limit(2, "A", Side::Buy, 98, 1));
    assert_eq!(x[0].exec_type, ExecType::New);
}

#[test]
fn post_only_that_would_take_is_rejected() {
    let mut v = Venue::new();
    v.apply(limit(1, "S", Side::Sell, 100, 1));
    let mut po = order(2, 1, "P", Side::Buy, 100, 1);
    po.post_only = true;
    let ev = v.apply(Input::NewOrder(po));
    assert_eq!(reject_reason(&ev), Some(RejectReason::PostOnlyWouldTake));
    po.price_ticks = Some(99);
    let x = v.execs(Input::NewOrder(po));
    assert_eq!(x[0].exec_type, ExecType::New);
}

#[test]
fn fok_fills_fully_or_not_at_all() {
    let mut v = Venue::new();
    v.apply(limit(1, "S1", Side::Sell, 100, 5));
    v.apply(limit(1, "S2", Side::Sell, 101, 5));
    let mut fok = order(2, 1, "F1", Side::Buy, 101, 11);
    fok.tif = TimeInForce::Fok;
    let x = v.execs(Input::NewOrder(fok));
    assert_eq!(
        x.iter().map(|x| x.exec_type).collect::<Vec<_>>(),
        [ExecType::New, ExecType::Canceled]
    );
    assert_eq!(x[1].reason, Reason::Cancel(CancelReason::FokNotFilled));
    fok.cl_ord_id = id("F2");
    fok.qty_lots = 10;
    let x = v.execs(Input::NewOrder(fok));
    assert_eq!(x.last().unwrap().ord_status, OrdStatus::Filled);
}

#[test]
fn min_qty_ioc() {
    let mut v = Venue::new();
    v.apply(limit(1, "S1", Side::Sell, 100, 5));
    let mut ioc = order(2, 1, "I1", Side::Buy, 100, 10);
    ioc.tif = TimeInForce::Ioc;
    ioc.min_qty_lots = 6;
    let x = v.execs(Input::NewOrder(ioc));
    assert_eq!(x[1].reason, Reason::Cancel(CancelReason::MinQtyNotMet));
    ioc.cl_ord_id = id("I2");
    ioc.min_qty_lots = 5;
    let x = v.execs(Input::NewOrder(ioc));
    assert_eq!(
        x.iter().map(|x| x.exec_type).collect::<Vec<_>>(),
        [
            ExecType::New,
            ExecType::Trade,
            ExecType::Trade,
            ExecType::Canceled
        ]
    );
    assert_eq!(x[3].reason, Reason::Cancel(CancelReason::IocRemainder));
    ioc.cl_ord_id = id("I3");
    ioc.tif = TimeInForce::Gtc;
    let ev = v.apply(Input::NewOrder(ioc));
    assert_eq!(reject_reason(&ev), Some(RejectReason::InvalidMinQty));
}

#[test]
fn stp_modes() {
    // Participant 1 cancels resting; 3 cancels aggressing; 4 both; 5 decrements; 2 opted out.
    let cases = [
        (1, vec![(ExecType::Canceled, 1), (ExecType::New, 0)], 1),
        (3, vec![(ExecType::Canceled, 2)], 0),
        (4, vec![(ExecType::Canceled, 1), (ExecType::Canceled, 2)], 0),
        (2, vec![(ExecType::Trade, 2), (ExecType::Trade, 1)], 0),
    ];
    for (p, want, bids) in cases {
        let mut v = Venue::new();
        v.apply(limit(p, "S", Side::Sell, 100, 5));
        let x = v.execs(limit(p, "B", Side::Buy, 100, 5));
        let got: Vec<_> = x[1..].iter().map(|x| (x.exec_type, x.order_id.0)).collect();
        let want_tail: Vec<_> = want
            .iter()
            .copied()
            .filter(|(t, _)| *t != ExecType::New)
            .collect();
        assert_eq!(got, want_tail, "participant {p}");
        assert_eq!(
            v.e.book_levels(InstrumentId(1), Side::Buy).len(),
            bids,
            "participant {p}"
        );
    }
    // Decrement both: resting 5, incoming 8 -> resting cancelled, incoming restated to 3 and rests.
    let mut v = Venue::new();
    v.apply(limit(5, "S", Side::Sell, 100, 5));
    let x = v.execs(limit(5, "B", Side::Buy, 100, 8));
    assert_eq!(
        x.iter()
            .map(|x| (x.exec_type, x.order_qty_lots))
            .collect::<Vec<_>>(),
        [
            (ExecType::New, 8),
            (ExecType::Canceled, 5),
            (ExecType::Restated, 3)
        ]
    );
    assert_eq!(v.e.book_levels(InstrumentId(1), Side::Buy)[0].qty_lots, 3);
}

#[test]
fn stops_trigger_in_order_id_order_and_cascade() {
    let mut v = Venue::new();
    // Liquidity: asks at 101, 102, 103.
    for (i, px) in [101, 102, 103].into_iter().enumerate() {
        v.apply(limit(2, &format!("S{i}"), Side::Sell, px, 1));
    }
    let mut st = order(1, 1, "STOP-A", Side::Buy, 0, 1);
    st.ord_type = OrdType::Stop;
    st.price_ticks = None;
    st.stop_price_ticks = Some(102);
    v.apply(Input::NewOrder(st)); // order 4
    st.cl_ord_id = id("STOP-B");
    st.stop_price_ticks = Some(101);
    v.apply(Input::NewOrder(st)); // order 5
    // A trade at 101 triggers order 5 (stop 101); it buys at 102, which triggers order 4.
    let x = v.execs(limit(3, "B", Side::Buy, 101, 1));
    let triggered: Vec<_> = x
        .iter()
        .filter(|x| x.exec_type == ExecType::Triggered)
        .map(|x| x.order_id.0)
        .collect();
    assert_eq!(triggered, [5, 4]);
    assert_eq!(v.e.last_trade_ticks(InstrumentId(1)), Some(103));
    assert!(v.e.book_levels(InstrumentId(1), Side::Sell).is_empty());
}

#[test]
fn replace_keeps_priority_only_when_reducing() {
    let mut v = Venue::new();
    v.apply(limit(1, "A", Side::Buy, 100, 10));
    v.apply(limit(2, "B", Side::Buy, 100, 10));
    let rep = |cl: &str, target: &str, qty: u64, px: Option<i64>| {
        Input::Replace(Replace {
            participant: ParticipantId(1),
            cl_ord_id: id(cl),
            target: OrderRef::ClOrdId(id(target)),
            qty_lots: qty,
            price_ticks: px,
            stop_price_ticks: None,
        })
    };
    let x = v.execs(rep("A2", "A", 5, None));
    assert_eq!(x[0].exec_type, ExecType::Replaced);
    assert_eq!(x[0].orig_cl_ord_id, id("A"));
    let q = v.e.level_queue(InstrumentId(1), Side::Buy, 100);
    assert_eq!(q[0].0, OrderId(1), "a reduction keeps the front");
    v.execs(rep("A3", "A2", 6, None));
    let q = v.e.level_queue(InstrumentId(1), Side::Buy, 100);
    assert_eq!(q[1].0, OrderId(1), "an increase goes to the back");
    // A partial fill, then a replace at or below the filled quantity is refused.
    v.apply(limit(2, "S", Side::Sell, 100, 12));
    let ev = v.apply(rep("A4", "A3", 2, None));
    assert_eq!(
        reject_reason(&ev),
        Some(RejectReason::ReplaceQtyAtOrBelowFilled)
    );
    let x = v.execs(rep("A5", "A3", 4, None));
    assert_eq!((x[0].leaves_qty_lots, x[0].cum_qty_lots), (2, 2));
    // Old ClOrdIDs still find the order; the new one is its current id.
    let x = v.execs(Input::OrderStatus(OrderStatusRequest {
        participant: ParticipantId(1),
        target: OrderRef::ClOrdId(id("A")),
    }));
    assert_eq!((x[0].cl_ord_id, x[0].order_id), (id("A5"), OrderId(1)));
}

#[test]
fn cancel_isolation_and_too_late() {
    let mut v = Venue::new();
    v.apply(limit(1, "A", Side::Buy, 100, 10));
    let h = v.e.state_hash();
    let cancel = |p: u32, cl: &str, target: OrderRef| {
        Input::Cancel(Cancel {
            participant: ParticipantId(p),
            cl_ord_id: id(cl),
            target,
        })
    };
    // Another participant's order is simply unknown to it.
    let ev = v.apply(cancel(2, "C1", OrderRef::OrderId(OrderId(1))));
    assert_eq!(reject_reason(&ev), Some(RejectReason::UnknownOrder));
    let ev = v.apply(cancel(2, "C1", OrderRef::ClOrdId(id("A"))));
    assert_eq!(reject_reason(&ev), Some(RejectReason::UnknownOrder));
    let st = v.execs(Input::OrderStatus(OrderStatusRequest {
        participant: ParticipantId(2),
        target: OrderRef::OrderId(OrderId(1)),
    }));
    assert_eq!(st[0].ord_status, OrdStatus::Rejected);
    assert_eq!(v.e.state_hash(), h);
    let x = v.execs(cancel(1, "C1", OrderRef::OrderId(OrderId(1))));
    assert_eq!(
        (x[0].exec_type, x[0].cl_ord_id),
        (ExecType::Canceled, id("C1"))
    );
    let ev = v.apply(cancel(1, "C2", OrderRef::ClOrdId(id("A"))));
    assert_eq!(reject_reason(&ev), Some(RejectReason::TooLateToCancel));
    // The cancelled order still answers a status request.
    let st = v.execs(Input::OrderStatus(OrderStatusRequest {
        participant: ParticipantId(1),
        target: OrderRef::ClOrdId(id("A")),
    }));
    assert_eq!(st[0].ord_status, OrdStatus::Canceled);
}

#[test]
fn day_and_gtd_orders_expire_on_ticks_and_ids_are_forgotten_after_the_day() {
    let mut v = Venue::new();
    let mut day = order(1, 1, "D", Side::Buy, 100, 1);
    day.tif = TimeInForce::Day;
    let x = v.execs(Input::NewOrder(day));
    let day_end = x[0].expire_time_ns.unwrap();
    assert!(day_end > T0 && day_end - T0 <= config::DAY_NS);
    let mut gtd = order(1, 1, "G", Side::Buy, 99, 1);
    gtd.tif = TimeInForce::Gtd;
    gtd.expire_time_ns = Some(T0 + 1_000);
    v.apply(Input::NewOrder(gtd));
    v.now = T0 + 1_000;
    let x = v.execs(Input::ClockTick);
    assert_eq!(kinds(&x), [(ExecType::Expired, OrdStatus::Expired, 2)]);
    v.now = day_end;
    let x = v.execs(Input::ClockTick);
    assert_eq!(kinds(&x), [(ExecType::Expired, OrdStatus::Expired, 1)]);
    // Both finished before today's day end; the next tick after it forgets them.
    v.now = day_end + 1;
    v.apply(Input::ClockTick);
    let ev = v.apply(Input::NewOrder(order(1, 1, "G", Side::Buy, 99, 1)));
    assert_eq!(reject_reason(&ev), None, "G may be used again on a new day");
}

#[test]
fn mass_cancel_by_instrument_and_side() {
    let mut v = Venue::new();
    v.apply(limit(1, "A", Side::Buy, 100, 1));
    v.apply(limit(1, "B", Side::Sell, 110, 1));
    v.apply(Input::NewOrder(order(1, 2, "C", Side::Buy, 100, 1)));
    v.apply(limit(2, "D", Side::Buy, 100, 1));
    let ev = v.apply(Input::MassCancel(MassCancel {
        participant: ParticipantId(1),
        cl_ord_id: id("M"),
        instrument: Some(InstrumentId(1)),
        side: None,
        tif: None,
    }));
    let report = ev.iter().find_map(|e| match e {
        Event::MassCancelReport(r) => Some(*r),
        _ => None,
    });
    assert_eq!(
        report.map(|r| (r.cancelled_count, r.reject)),
        Some((2, None))
    );
    assert_eq!(v.e.live_order_count(), 2);
}

#[test]
fn a_copy_is_a_snapshot_of_the_moment_it_was_taken() {
    // The venue's periodic snapshots copy the engine on the matching thread
    // and encode the copy elsewhere, while the original goes on.
    let mut v = Venue::new();
    v.apply(limit(1, "S", Side::Sell, 100, 25));
    v.apply(limit(2, "B", Side::Buy, 100, 12));
    let copy = v.e.clone();
    let snap = v.e.snapshot();
    assert_eq!(copy.snapshot(), snap);
    v.apply(limit(2, "B2", Side::Buy, 100, 13));
    assert_ne!(v.e.snapshot(), snap, "the original moved on");
    assert_eq!(copy.snapshot(), snap, "the copy did not");
    // Refreshing the old copy in place gives the same as a new copy.
    let mut refreshed = copy;
    refreshed.clone_from(&v.e);
    assert_eq!(refreshed.snapshot(), v.e.snapshot());
    assert_eq!(refreshed.state_hash(), v.e.state_hash());
    // Also after the original shrank (orders gone) and grew again.
    v.apply(Input::MassCancel(MassCancel {
        participant: ParticipantId(2),
        cl_ord_id: id("M"),
        instrument: None,
        side: None,
        tif: None,
    }));
    refreshed.clone_from(&v.e);
    assert_eq!(refreshed.snapshot(), v.e.snapshot());
}

#[test]
fn the_encoding_hash_is_that_of_the_snapshot_however_large_the_state() {
    // `encoding_hash` hashes the encoding through a 64 KiB window instead of
    // encoding it whole: it must equal the hash of the whole encoding, for a
    // state many windows long (resting and finished orders, replaced ones
    // with their earlier ClOrdIDs).
    let mut v = Venue::new();
    for i in 0..3_000u32 {
        let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
        let price = if i % 2 == 0 {
            95 + i64::from(i % 5)
        } else {
            101 + i64::from(i % 5)
        };
        v.apply(limit(1 + i % 2, &format!("O{i}"), side, price, 10));
        if i % 7 == 0 {
            v.apply(limit(
                2 - i % 2,
                &format!("X{i}"),
                side.opposite(),
                price,
                4,
            ));
        }
        if i % 5 == 0 {
            v.apply(Input::Replace(Replace {
                participant: ParticipantId(1 + i % 2),
                cl_ord_id: id(&format!("R{i}")),
                target: OrderRef::ClOrdId(id(&format!("O{i}"))),
                qty_lots: 8,
                price_ticks: Some(price),
                stop_price_ticks: None,
            }));
        }
    }
    let snap = v.e.snapshot();
    assert!(
        snap.len() > 4 * 64 * 1024,
        "{} bytes: several windows",
        snap.len()
    );
    assert_eq!(v.e.encoding_hash(), crate::codec::state_hash_of(&snap));
    // The encoding itself is pinned: these are the length and hash the
    // encoder of state format 3 gave before the hash was streamed (recorded
    // at commit 2e06ed0). Journals' checkpoints carry such hashes (input
    // format 1) and snapshots record them, so a change here breaks every
    // journal written so far; a deliberate format change bumps
    // `STATE_FORMAT_VERSION` and records new figures.
    assert_eq!(snap.len(), 419_202);
    assert_eq!(v.e.encoding_hash(), 0xb3d3_1a8d_b75c_14e7);
    // So is the folded state hash that input format 2's checkpoints carry
    // (recorded when it was introduced).
    assert_eq!(v.e.state_hash(), FOLDED_HASH_PINNED);
    let restored = Engine::restore(cfg(), &snap).unwrap();
    assert_eq!(restored.encoding_hash(), v.e.encoding_hash());
    assert_eq!(restored.state_hash(), v.e.state_hash());
}

/// The folded state hash of `state_encoding_is_pinned`'s state.
const FOLDED_HASH_PINNED: u64 = 0x830e_232a_ff57_c1a3;

#[test]
fn folded_state_hash_is_the_same_however_often_it_was_folded() {
    // `folded` folds a few of its finished orders into the digest every few
    // inputs (and all of them now and then), `plain` never does: their state hashes must agree after every input,
    // across a day's end that forgets some finished orders and keeps those
    // finished after it, and with an engine restored from a snapshot.
    let mut folded = Venue::new();
    let mut plain = Venue::new();
    let mut hashes = std::collections::BTreeSet::new();
    let mut step = |inputs: Vec<Input>, now: u64, folded: &mut Venue, plain: &mut Venue| {
        for (n, input) in inputs.into_iter().enumerate() {
            folded.now = now;
            plain.now = now;
            folded.apply(input);
            plain.apply(input);
            if n % 3 == 0 {
                // A few at a time, as the idle loop does.
                let some = n % 5 + 1;
                let left = folded.e.store.done_len() - folded.e.finished_digest.folded;
                assert_eq!(folded.e.fold_finished_some(some), some.min(left));
            }
            assert_eq!(folded.e.state_hash(), plain.e.state_hash());
            hashes.insert(plain.e.state_hash());
        }
        let restored = Engine::restore(cfg(), &plain.e.snapshot()).unwrap();
        assert_eq!(restored.state_hash(), plain.e.state_hash());
    };
    let day = |tag: &str| -> Vec<Input> {
        let mut inputs = Vec::new();
        for i in 0..40u32 {
            let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
            inputs.push(limit(1 + i % 3, &format!("{tag}{i}"), side, 100, 5));
            if i % 4 == 1 {
                inputs.push(Input::Cancel(Cancel {
                    participant: ParticipantId(1 + i % 3),
                    cl_ord_id: id(&format!("{tag}C{i}")),
                    target: OrderRef::ClOrdId(id(&format!("{tag}{i}"))),
                }));
            }
        }
        inputs
    };
    step(day("A"), T0, &mut folded, &mut plain);
    let finished_first_day = plain.e.store.done_len();
    assert!(finished_first_day > 20, "{finished_first_day}");
    // After the day's end, before the tick that forgets: more orders finish
    // (and are folded), which the tick must keep.
    let day_end = config::next_day_end_ns(T0, DAY_END);
    step(day("B"), day_end + 1, &mut folded, &mut plain);
    folded.e.fold_finished();
    assert!(folded.e.finished_digest.folded > finished_first_day);
    let before_tick = plain.e.state_hash();
    let done_before_tick = plain.e.store.done_len();
    step(vec![Input::ClockTick], day_end + 2, &mut folded, &mut plain);
    assert_eq!(
        plain.e.store.done_len(),
        done_before_tick - finished_first_day,
        "the first day's are forgotten, the second's kept"
    );
    assert!(plain.e.store.done_len() > 0);
    assert_ne!(
        plain.e.state_hash(),
        before_tick,
        "forgetting changes the hash"
    );
    step(day("C"), day_end + 3, &mut folded, &mut plain);
    // Then a whole day forgotten, with everything folded.
    folded.e.fold_finished();
    let next_end = config::next_day_end_ns(day_end + 3, DAY_END);
    step(
        vec![Input::ClockTick],
        next_end + 1,
        &mut folded,
        &mut plain,
    );
    assert_eq!(plain.e.store.done_len(), 0);
    assert_eq!(folded.e.finished_digest.folded, 0);
    // The states seen are many and hash apart.
    assert!(hashes.len() > 100, "{}", hashes.len());
}

#[test]
fn snapshot_round_trips_and_bad_bytes_are_errors() {
    let mut v = Venue::new();
    let mut ice = order(1, 1, "ICE", Side::Sell, 100, 25);
    ice.display_qty_lots = 10;
    v.apply(Input::NewOrder(ice));
    v.apply(limit(2, "B", Side::Buy, 100, 12));
    v.apply(limit(2, "C", Side::Buy, 98, 3));
    let snap = v.e.snapshot();
    let restored = Engine::restore(cfg(), &snap).unwrap();
    assert_eq!(restored.state_hash(), v.e.state_hash());
    assert_eq!(restored.snapshot(), snap);
    for cut in 0..snap.len() {
        assert!(
            Engine::restore(cfg(), &snap[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    for i in 0..snap.len() {
        let mut bad = snap.clone();
        bad[i] ^= 0xff;
        // Any flipped byte either fails to decode or decodes to a consistent engine.
        if let Ok(e) = Engine::restore(cfg(), &bad) {
            let _ = e.state_hash();
        }
    }
}

#[test]
fn a_snapshot_that_names_a_clordid_twice_is_refused() {
    // Live L1 and L2 rest; F1 fills against participant 2's order and is
    // finished. Renaming L2, or the finished F1, to L1 in the snapshot's
    // bytes makes one ClOrdID two orders': refused, whichever part it is in.
    let mut v = Venue::new();
    v.apply(limit(1, "L1", Side::Buy, 99, 5));
    v.apply(limit(1, "L2", Side::Buy, 98, 5));
    v.apply(limit(1, "F1", Side::Sell, 120, 5));
    v.apply(limit(2, "X1", Side::Buy, 120, 5));
    assert_eq!(v.e.finished_order_count(), 2);
    let snap = v.e.snapshot();
    assert!(Engine::restore(cfg(), &snap).is_ok());
    for renamed in [&b"L2"[..], &b"F1"[..]] {
        let at = snap
            .windows(2)
            .position(|w| w == renamed)
            .expect("the ClOrdID is in the snapshot");
        let mut bad = snap.clone();
        bad[at..at + 2].copy_from_slice(b"L1");
        match Engine::restore(cfg(), &bad) {
            Err(SnapshotError::Decode(d)) => assert_eq!(d.problem, "ClOrdID used twice"),
            other => panic!("{:?}", other.map(|e| e.state_hash())),
        }
    }
}

#[test]
fn chunks_made_ahead_on_another_thread_change_nothing_stored() {
    // Two engines take the same 20,000 orders and cancels (finished orders
    // and ClOrdID entries over several 4,096-record chunks); one has its
    // chunks made ahead by a feeder thread running throughout.
    let inputs: Vec<Input> = (0..20_000u32)
        .map(|n| {
            let cl = format!("C{n}");
            if n % 3 == 2 {
                Input::Cancel(Cancel {
                    participant: ParticipantId(1 + n % 2),
                    cl_ord_id: id(&format!("X{n}")),
                    target: OrderRef::ClOrdId(id(&format!("C{}", n - 1))),
                })
            } else {
                let side = if n % 2 == 0 { Side::Buy } else { Side::Sell };
                let px = 100 + i64::from(n % 7) - 3;
                limit(1 + n % 2, &cl, side, px, 1 + u64::from(n % 4))
            }
        })
        .collect();
    let mut plain = Venue::new();
    let mut fed = Venue::new();
    let feeder = fed.e.chunk_feeder();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // The first input gives the pools their fill; filling them once here
    // (not only on the thread, which a loaded machine may not run in time)
    // makes sure ready chunks are there to be taken.
    assert_eq!(plain.apply(inputs[0]), fed.apply(inputs[0]));
    assert!(feeder.top_up(&mut || {}) > 0, "the pools were filled");
    std::thread::scope(|s| {
        let feeding = s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Acquire) {
                feeder.top_up(&mut || {});
                std::thread::yield_now();
            }
        });
        for input in &inputs[1..] {
            assert_eq!(plain.apply(*input), fed.apply(*input));
        }
        stop.store(true, std::sync::atomic::Ordering::Release);
        feeding.join().expect("feeder");
    });
    let finished = fed.e.finished_order_count();
    assert!(finished > 2 * 4_096, "{finished} finished");
    assert_eq!(plain.e.state_hash(), fed.e.state_hash());
    assert_eq!(plain.e.snapshot(), fed.e.snapshot());
}
