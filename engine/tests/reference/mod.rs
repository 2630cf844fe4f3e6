//! A reference model of the matching engine, and a random input generator.
//!
//! The model is written from the `# Semantics` section of the engine crate's
//! docs and its public types alone, without looking at the engine's code: its
//! value is that two independent readings of the same contract must agree
//! event for event. It is deliberately plain: every order lives in one
//! `BTreeMap` by `OrderId`, each price level is a `Vec` queue in a `BTreeMap`
//! by price, and every walk is in a deterministic order. Nothing here is
//! fast; everything here should be obviously what the contract says.
//!
//! Where the contract is silent or ambiguous, the reading chosen is marked
//! `AMBIGUITY:` in a comment, so that the differential test's report can
//! list them.

use std::collections::{BTreeMap, BTreeSet};

use engine::{
    BookLevel, CancelReason, CancelReject, ClOrdId, Collar, CxlRejResponseTo, EngineConfig, Event,
    ExecId, ExecType, ExecutionReport, InstrumentId, InstrumentSpec, MassCancelReport, OrdStatus,
    OrdType, OrdTypeSet, OrderId, OrderRef, ParticipantId, ParticipantSpec, PriceTicks, QtyLots,
    Reason, RejectReason, Side, StpMode, TifSet, TimeInForce, TimeNs, TradeId, TradePrint,
};
use engine::{Cancel, Input, MassCancel, MassStatusRequest, NewOrder, OrderStatusRequest, Replace};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const DAY_NS: u64 = 86_400 * 1_000_000_000;

/// The first day end strictly after `t` (written here again rather than
/// borrowed from the engine, so that the model shares no code with it).
fn day_end_after(t: TimeNs, day_end_ns_of_day: u64) -> TimeNs {
    let candidate = t - t % DAY_NS + day_end_ns_of_day;
    if candidate > t {
        candidate
    } else {
        candidate + DAY_NS
    }
}

/// Whether a `side` order with limit `price` reaches a level at `level_px`.
fn reaches(side: Side, price: PriceTicks, level_px: PriceTicks) -> bool {
    match side {
        Side::Buy => price >= level_px,
        Side::Sell => price <= level_px,
    }
}

fn in_band(band: Option<(PriceTicks, PriceTicks)>, px: PriceTicks) -> bool {
    band.is_none_or(|(low, high)| low <= px && px <= high)
}

/// Whether an incoming `side` order may trade at a level at `px`: not beyond
/// the band in the direction it sweeps (a buy up to the high edge, a sell down
/// to the low edge).
fn band_admits(band: Option<(PriceTicks, PriceTicks)>, side: Side, px: PriceTicks) -> bool {
    band.is_none_or(|(low, high)| match side {
        Side::Buy => px <= high,
        Side::Sell => px >= low,
    })
}

fn notional(px: PriceTicks, qty: QtyLots) -> u128 {
    u128::from(px.unsigned_abs()) * u128::from(qty)
}

/// Where an order is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// Being matched as an incoming order by the current input.
    Incoming,
    /// In a price level's queue.
    Resting,
    /// In the stop book, untriggered.
    Stop,
    /// Finished (filled, cancelled, expired); remembered until forgotten.
    Done,
}

#[derive(Clone, Debug)]
struct Order {
    id: OrderId,
    participant: ParticipantId,
    instrument: InstrumentId,
    side: Side,
    ord_type: OrdType,
    tif: TimeInForce,
    price: Option<PriceTicks>,
    stop_price: Option<PriceTicks>,
    order_qty: QtyLots,
    cum_qty: QtyLots,
    cum_notional: i128,
    /// Iceberg display quantity; 0 when fully displayed.
    display_qty: QtyLots,
    min_qty: QtyLots,
    post_only: bool,
    expire_time: Option<TimeNs>,
    /// The current ClOrdID.
    cl_ord_id: ClOrdId,
    /// Every ClOrdID the order has had (all of them are registered).
    cl_ord_ids: Vec<ClOrdId>,
    status: OrdStatus,
    place: Place,
    triggered: bool,
    /// The quantity shown in its level while resting.
    displayed: QtyLots,
    finished_ns: Option<TimeNs>,
    /// Why it was cancelled or expired; `Reason::None` otherwise.
    finish_reason: Reason,
}

impl Order {
    fn leaves(&self) -> QtyLots {
        if self.status.is_live() {
            self.order_qty - self.cum_qty
        } else {
            0
        }
    }

    fn expired_at(&self, now: TimeNs) -> bool {
        self.expire_time.is_some_and(|e| e <= now)
    }

    /// The limit that bounds its matching: none for a market order or a
    /// triggered stop.
    fn limit(&self) -> Option<PriceTicks> {
        if self.ord_type.has_limit_price() {
            self.price
        } else {
            None
        }
    }

    /// Quantity shown when it (re)joins the back of a level.
    fn fresh_display(&self) -> QtyLots {
        if self.display_qty > 0 {
            self.display_qty.min(self.leaves())
        } else {
            self.leaves()
        }
    }
}

#[derive(Clone, Debug)]
struct Book {
    spec: InstrumentSpec,
    last_trade_px: Option<PriceTicks>,
    bids: BTreeMap<PriceTicks, Vec<OrderId>>,
    asks: BTreeMap<PriceTicks, Vec<OrderId>>,
    stops: BTreeSet<OrderId>,
}

impl Book {
    fn levels(&self, side: Side) -> &BTreeMap<PriceTicks, Vec<OrderId>> {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    fn levels_mut(&mut self, side: Side) -> &mut BTreeMap<PriceTicks, Vec<OrderId>> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// Prices of `side`'s levels, best first.
    fn prices_best_first(&self, side: Side) -> Vec<PriceTicks> {
        let prices = self.levels(side).keys().copied();
        match side {
            Side::Buy => prices.rev().collect(),
            Side::Sell => prices.collect(),
        }
    }

    fn best(&self, side: Side) -> Option<PriceTicks> {
        self.prices_best_first(side).first().copied()
    }

    fn reference(&self) -> Option<PriceTicks> {
        self.last_trade_px.or(self.spec.reference_price_ticks)
    }

    fn band(&self) -> Option<(PriceTicks, PriceTicks)> {
        Some(self.spec.collar?.band(self.reference()?))
    }
}

/// How an incoming order's matching ended.
#[derive(Clone, Copy, Debug, Default)]
struct MatchEnd {
    /// Self-trade prevention cancelled the incoming order (already reported).
    stp_cancelled: bool,
    /// The band stopped it at a level it could otherwise have reached.
    band_stopped: bool,
}

/// Counters of things that leave no event of their own, for the coverage
/// assertions of the differential test.
#[derive(Clone, Debug, Default)]
pub(crate) struct ModelStats {
    /// How often each path where the contract is ambiguous was taken (the
    /// engine agreeing there confirms the reading).
    pub(crate) ambiguous_paths: BTreeMap<&'static str, u64>,
    pub(crate) iceberg_refreshes: u64,
    pub(crate) lazy_expiries: u64,
    pub(crate) tick_expiries: u64,
    pub(crate) forgotten_orders: u64,
    pub(crate) fok_prechecks_stp: u64,
    pub(crate) triggered_cascades: u64,
}

/// The reference model.
#[derive(Debug)]
pub(crate) struct Model {
    books: BTreeMap<InstrumentId, Book>,
    stp: BTreeMap<ParticipantId, StpMode>,
    day_end_ns_of_day: u64,
    orders: BTreeMap<OrderId, Order>,
    cl_ord_ids: BTreeMap<(ParticipantId, ClOrdId), OrderId>,
    next_order_id: u64,
    next_trade_id: u64,
    // The input being applied.
    seq: u64,
    now: TimeNs,
    exec_idx: u32,
    out: Vec<Event>,
    pub(crate) stats: ModelStats,
}

impl ModelStats {
    fn hit(&mut self, path: &'static str) {
        *self.ambiguous_paths.entry(path).or_default() += 1;
    }
}

impl Model {
    pub(crate) fn new(config: &EngineConfig) -> Model {
        Model {
            books: config
                .instruments
                .iter()
                .map(|spec| {
                    let book = Book {
                        spec: spec.clone(),
                        last_trade_px: None,
                        bids: BTreeMap::new(),
                        asks: BTreeMap::new(),
                        stops: BTreeSet::new(),
                    };
                    (spec.id, book)
                })
                .collect(),
            stp: config.participants.iter().map(|p| (p.id, p.stp)).collect(),
            day_end_ns_of_day: config.day_end_ns_of_day,
            orders: BTreeMap::new(),
            cl_ord_ids: BTreeMap::new(),
            next_order_id: 1,
            next_trade_id: 1,
            seq: 0,
            now: 0,
            exec_idx: 0,
            out: Vec::new(),
            stats: ModelStats::default(),
        }
    }

    /// Applies one input and returns its events, in order.
    pub(crate) fn apply(&mut self, seq: u64, time_ns: TimeNs, input: &Input) -> Vec<Event> {
        self.seq = seq;
        self.now = time_ns;
        self.exec_idx = 0;
        self.out.clear();
        match input {
            Input::NewOrder(o) => self.new_order(o),
            Input::Cancel(c) => self.cancel(c),
            Input::Replace(r) => self.replace(r),
            Input::MassCancel(m) => self.mass_cancel(m),
            Input::OrderStatus(s) => self.status(s),
            Input::MassStatus(m) => self.mass_status(m),
            Input::ClockTick => self.clock_tick(),
            // "Changes nothing and emits nothing."
            Input::Checkpoint { .. } => {}
            // The generator makes no operator actions: the model has none
            // (`tests/controls.rs` tests them against hand-written cases).
            Input::Admin(a) => panic!("the reference model has no operator controls: {a:?}"),
        }
        std::mem::take(&mut self.out)
    }

    /// A one-line view of an instrument's state, for debugging a mismatch.
    pub(crate) fn describe(&self, instrument: InstrumentId) -> String {
        let Some(b) = self.books.get(&instrument) else {
            return format!("{instrument:?}: unknown");
        };
        let side = |levels: &BTreeMap<PriceTicks, Vec<OrderId>>| {
            levels
                .iter()
                .map(|(px, q)| {
                    let orders: Vec<String> = q
                        .iter()
                        .map(|id| {
                            let o = &self.orders[id];
                            format!(
                                "#{}:p{}:{}/{}",
                                id.0,
                                o.participant.0,
                                o.displayed,
                                o.leaves()
                            )
                        })
                        .collect();
                    format!("{px}[{}]", orders.join(" "))
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        format!(
            "{instrument:?}: last {:?} band {:?} bids {} | asks {} | stops {:?}",
            b.last_trade_px,
            b.band(),
            side(&b.bids),
            side(&b.asks),
            b.stops.iter().map(|id| id.0).collect::<Vec<_>>()
        )
    }

    // ---------------------------------------------------------------------
    // Reports.

    fn next_exec_id(&mut self) -> ExecId {
        let id = ExecId {
            seq: self.seq,
            idx: self.exec_idx,
        };
        self.exec_idx += 1;
        id
    }

    /// An execution report of `id`'s current state.
    fn report(&mut self, id: OrderId, exec_type: ExecType, reason: Reason, orig: ClOrdId) {
        self.report_fill(id, exec_type, reason, orig, None);
    }

    fn report_fill(
        &mut self,
        id: OrderId,
        exec_type: ExecType,
        reason: Reason,
        orig: ClOrdId,
        fill: Option<(QtyLots, PriceTicks, TradeId, bool)>,
    ) {
        let exec_id = self.next_exec_id();
        let o = &self.orders[&id];
        let (last_qty, last_px, trade_id, aggressor) =
            fill.unwrap_or((0, 0, TradeId::default(), false));
        let report = ExecutionReport {
            exec_id,
            exec_type,
            ord_status: o.status,
            participant: o.participant,
            instrument: o.instrument,
            order_id: o.id,
            cl_ord_id: o.cl_ord_id,
            orig_cl_ord_id: orig,
            side: o.side,
            ord_type: o.ord_type,
            tif: o.tif,
            price_ticks: o.price,
            stop_price_ticks: o.stop_price,
            order_qty_lots: o.order_qty,
            leaves_qty_lots: o.leaves(),
            cum_qty_lots: o.cum_qty,
            cum_notional_tick_lots: o.cum_notional,
            last_qty_lots: last_qty,
            last_px_ticks: last_px,
            trade_id,
            aggressor,
            expire_time_ns: o.expire_time,
            reason,
        };
        self.out.push(Event::Exec(report));
    }

    fn report_level(&mut self, instrument: InstrumentId, side: Side, price: PriceTicks) {
        let book = &self.books[&instrument];
        let (qty, count) = match book.levels(side).get(&price) {
            Some(queue) => (
                queue.iter().map(|id| self.orders[id].displayed).sum(),
                queue.len() as u32,
            ),
            None => (0, 0),
        };
        self.out.push(Event::BookLevel(BookLevel {
            instrument,
            side,
            price_ticks: price,
            qty_lots: qty,
            order_count: count,
        }));
    }

    // ---------------------------------------------------------------------
    // Order state changes.

    /// Takes a resting order out of its level, or a stop out of the stop
    /// book. Returns the level's price if it was resting.
    fn unlink(&mut self, id: OrderId) -> Option<PriceTicks> {
        let o = &self.orders[&id];
        let (instrument, side, price, place) = (o.instrument, o.side, o.price, o.place);
        let book = self
            .books
            .get_mut(&instrument)
            .expect("order of a known instrument");
        let level_px = match place {
            Place::Resting => {
                let px = price.expect("a resting order has a price");
                let levels = book.levels_mut(side);
                let queue = levels.get_mut(&px).expect("resting order's level exists");
                let pos = queue
                    .iter()
                    .position(|q| *q == id)
                    .expect("order in its level");
                queue.remove(pos);
                if queue.is_empty() {
                    levels.remove(&px);
                }
                Some(px)
            }
            Place::Stop => {
                assert!(book.stops.remove(&id));
                None
            }
            Place::Incoming | Place::Done => None,
        };
        self.orders.get_mut(&id).expect("known order").place = Place::Incoming;
        level_px
    }

    /// Marks an (unlinked) order finished with `status`.
    fn finish(&mut self, id: OrderId, status: OrdStatus, reason: Reason) {
        let now = self.now;
        let o = self.orders.get_mut(&id).expect("known order");
        assert!(o.place == Place::Incoming, "finish an unlinked order");
        o.status = status;
        o.place = Place::Done;
        o.finished_ns = Some(now);
        o.finish_reason = reason;
    }

    /// Cancels an (unlinked) order and reports it.
    fn cancel_order(&mut self, id: OrderId, reason: CancelReason) {
        self.finish(id, OrdStatus::Canceled, Reason::Cancel(reason));
        self.report(
            id,
            ExecType::Canceled,
            Reason::Cancel(reason),
            ClOrdId::EMPTY,
        );
    }

    /// Expires an (unlinked) order and reports it.
    fn expire_order(&mut self, id: OrderId) {
        self.finish(
            id,
            OrdStatus::Expired,
            Reason::Cancel(CancelReason::Expired),
        );
        self.report(
            id,
            ExecType::Expired,
            Reason::Cancel(CancelReason::Expired),
            ClOrdId::EMPTY,
        );
    }

    /// Puts an order at the back of its level and reports the level.
    fn rest(&mut self, id: OrderId) {
        let o = self.orders.get_mut(&id).expect("known order");
        assert!(o.place == Place::Incoming);
        assert!(o.leaves() > 0);
        o.place = Place::Resting;
        o.displayed = o.fresh_display();
        let (instrument, side, px) = (o.instrument, o.side, o.price.expect("limit price"));
        let book = self.books.get_mut(&instrument).expect("known instrument");
        book.levels_mut(side).entry(px).or_default().push(id);
        self.report_level(instrument, side, px);
    }

    fn register_cl_ord_id(&mut self, id: OrderId, cl_ord_id: ClOrdId) -> ClOrdId {
        let o = self.orders.get_mut(&id).expect("known order");
        let previous = o.cl_ord_id;
        o.cl_ord_id = cl_ord_id;
        o.cl_ord_ids.push(cl_ord_id);
        let key = (o.participant, cl_ord_id);
        assert!(
            self.cl_ord_ids.insert(key, id).is_none(),
            "ClOrdID registered twice"
        );
        previous
    }

    // ---------------------------------------------------------------------
    // New order.

    fn check_new(&self, o: &NewOrder) -> Result<(), (RejectReason, OrderId)> {
        use RejectReason as R;
        let reject = |r: RejectReason| Err((r, OrderId::NONE));
        if !self.stp.contains_key(&o.participant) {
            return reject(R::UnknownParticipant);
        }
        let Some(book) = self.books.get(&o.instrument) else {
            return reject(R::UnknownInstrument);
        };
        let spec = &book.spec;
        if !spec.order_types.contains(o.ord_type) {
            return reject(R::OrdTypeNotAllowed);
        }
        if !spec.time_in_force.contains(o.tif) {
            return reject(R::TifNotAllowed);
        }
        if o.qty_lots == 0 {
            return reject(R::InvalidQty);
        }
        if o.qty_lots < spec.qty_min_lots {
            return reject(R::QtyBelowMin);
        }
        if o.qty_lots > spec.qty_max_lots {
            return reject(R::QtyAboveMax);
        }
        match (o.ord_type.has_limit_price(), o.price_ticks) {
            (true, None) => return reject(R::MissingPrice),
            (false, Some(_)) => return reject(R::UnexpectedPrice),
            _ => {}
        }
        match (o.ord_type.has_stop_price(), o.stop_price_ticks) {
            (true, None) => return reject(R::MissingStopPrice),
            (false, Some(_)) => return reject(R::UnexpectedStopPrice),
            _ => {}
        }
        if o.ord_type.has_stop_price() && matches!(o.tif, TimeInForce::Ioc | TimeInForce::Fok) {
            return reject(R::InvalidTifForOrder);
        }
        if o.tif == TimeInForce::Gtd {
            match o.expire_time_ns {
                None => return reject(R::MissingExpireTime),
                Some(t) if t <= self.now => return reject(R::ExpireTimeInPast),
                Some(_) => {}
            }
        }
        if o.display_qty_lots > 0 {
            // AMBIGUITY: the Semantics list one display check with three
            // cases and name no reason; `RejectReason::InvalidTifForOrder`'s
            // docs claim "an iceberg that cannot rest". Read (as the engine
            // does) as `InvalidDisplayQty` for all three.
            if !o.ord_type.has_limit_price()
                || !o.tif.may_rest()
                || o.display_qty_lots >= o.qty_lots
            {
                return reject(R::InvalidDisplayQty);
            }
        }
        if o.min_qty_lots > 0 && (o.tif != TimeInForce::Ioc || o.min_qty_lots > o.qty_lots) {
            return reject(R::InvalidMinQty);
        }
        if o.post_only {
            // AMBIGUITY: as for display: `InvalidTifForOrder`'s docs claim
            // "post-only with IOC/FOK"; read (as the engine does) as
            // `InvalidPostOnly` for both cases.
            if o.ord_type != OrdType::Limit || !o.tif.may_rest() {
                return reject(R::InvalidPostOnly);
            }
        }
        // AMBIGUITY: "a limit order's price outside the band" is read as
        // `OrdType::Limit` only; a stop-limit's limit is checked at trigger.
        if o.ord_type == OrdType::Limit
            && let Some(px) = o.price_ticks
            && !in_band(book.band(), px)
        {
            return reject(R::PriceOutsideCollar);
        }
        let notional_px = match o.ord_type {
            OrdType::Limit | OrdType::StopLimit => o.price_ticks,
            OrdType::Stop => o.stop_price_ticks,
            OrdType::Market => book.reference(),
        };
        if let (Some(max), Some(px)) = (spec.notional_max_tick_lots, notional_px)
            && notional(px, o.qty_lots) > max
        {
            return reject(R::NotionalAboveMax);
        }
        if let Some(&existing) = self.cl_ord_ids.get(&(o.participant, o.cl_ord_id)) {
            // A finished order of a past trading day is remembered until the
            // next clock tick forgets it.
            return Err((R::DuplicateClOrdId, existing));
        }
        if o.post_only
            && let Some(px) = o.price_ticks
            && let Some(best) = book.best(o.side.opposite())
            && reaches(o.side, px, best)
        {
            return reject(R::PostOnlyWouldTake);
        }
        Ok(())
    }

    fn new_order(&mut self, o: &NewOrder) {
        let checked = self.check_new(o);
        if checked.is_ok()
            && o.ord_type == OrdType::StopLimit
            && o.price_ticks
                .is_some_and(|px| !in_band(self.books[&o.instrument].band(), px))
        {
            self.stats
                .hit("new: stop-limit with its limit outside the band accepted");
        }
        if let Err((RejectReason::DuplicateClOrdId, existing)) = checked
            && self.orders[&existing]
                .finished_ns
                .is_some_and(|f| day_end_after(f, self.day_end_ns_of_day) <= self.now)
        {
            self.stats
                .hit("new: duplicate of a past day's ClOrdID not yet forgotten");
        }
        if let Err((reason, order_id)) = checked {
            let exec_id = self.next_exec_id();
            self.out.push(Event::Exec(ExecutionReport {
                exec_id,
                exec_type: ExecType::Rejected,
                ord_status: OrdStatus::Rejected,
                participant: o.participant,
                instrument: o.instrument,
                order_id,
                cl_ord_id: o.cl_ord_id,
                orig_cl_ord_id: ClOrdId::EMPTY,
                side: o.side,
                ord_type: o.ord_type,
                tif: o.tif,
                price_ticks: o.price_ticks,
                stop_price_ticks: o.stop_price_ticks,
                order_qty_lots: o.qty_lots,
                leaves_qty_lots: 0,
                cum_qty_lots: 0,
                cum_notional_tick_lots: 0,
                last_qty_lots: 0,
                last_px_ticks: 0,
                trade_id: TradeId::default(),
                aggressor: false,
                // AMBIGUITY: a reject echoes the input's expire time as
                // given, whatever the time in force (the engine's reading).
                expire_time_ns: o.expire_time_ns,
                reason: Reason::Reject(reason),
            }));
            return;
        }
        let id = OrderId(self.next_order_id);
        self.next_order_id += 1;
        let expire_time = match o.tif {
            TimeInForce::Day => Some(day_end_after(self.now, self.day_end_ns_of_day)),
            TimeInForce::Gtd => o.expire_time_ns,
            _ => None,
        };
        let order = Order {
            id,
            participant: o.participant,
            instrument: o.instrument,
            side: o.side,
            ord_type: o.ord_type,
            tif: o.tif,
            price: o.price_ticks,
            stop_price: o.stop_price_ticks,
            order_qty: o.qty_lots,
            cum_qty: 0,
            cum_notional: 0,
            display_qty: o.display_qty_lots,
            min_qty: o.min_qty_lots,
            post_only: o.post_only,
            expire_time,
            cl_ord_id: ClOrdId::EMPTY,
            cl_ord_ids: Vec::new(),
            status: OrdStatus::New,
            place: Place::Incoming,
            triggered: false,
            displayed: 0,
            finished_ns: None,
            finish_reason: Reason::None,
        };
        self.orders.insert(id, order);
        self.register_cl_ord_id(id, o.cl_ord_id);
        self.report(id, ExecType::New, Reason::None, ClOrdId::EMPTY);
        if o.ord_type.has_stop_price() {
            self.orders.get_mut(&id).expect("just inserted").place = Place::Stop;
            self.books
                .get_mut(&o.instrument)
                .expect("checked")
                .stops
                .insert(id);
        } else {
            self.run_incoming(id);
        }
        self.run_triggers(o.instrument);
    }

    // ---------------------------------------------------------------------
    // Matching.

    /// An incoming order (new, triggered, or replaced out of its place):
    /// prechecks, matching, then its rest is cancelled or rests.
    fn run_incoming(&mut self, id: OrderId) {
        let instrument = self.orders[&id].instrument;
        let band = self.books[&instrument].band();
        if let Some(reason) = self.precheck(id, band) {
            self.cancel_order(id, reason);
            return;
        }
        let end = self.match_order(id, band);
        let o = &self.orders[&id];
        if end.stp_cancelled || o.leaves() == 0 {
            return;
        }
        let is_market = !o.ord_type.has_limit_price();
        if is_market {
            let reason = if end.band_stopped {
                CancelReason::PriceCollar
            } else {
                CancelReason::IocRemainder
            };
            self.cancel_order(id, reason);
        } else if !o.tif.may_rest() {
            // A FOK that passed its precheck fills in full; should it not,
            // its rest goes the way of an IOC's.
            if o.tif == TimeInForce::Fok {
                self.stats
                    .hit("fok: remainder after a passed precheck (unexpected)");
            }
            self.cancel_order(id, CancelReason::IocRemainder);
        } else {
            self.rest(id);
        }
    }

    /// The fill-or-kill / minimum-quantity check before trading.
    fn precheck(
        &mut self,
        id: OrderId,
        band: Option<(PriceTicks, PriceTicks)>,
    ) -> Option<CancelReason> {
        let o = &self.orders[&id];
        let (needed, fail) = match o.tif {
            TimeInForce::Fok => (o.leaves(), CancelReason::FokNotFilled),
            // AMBIGUITY: for an IOC with a minimum, "the quantity needed"
            // in the STP part is read as the minimum.
            TimeInForce::Ioc if o.min_qty > 0 => (o.min_qty, CancelReason::MinQtyNotMet),
            _ => return None,
        };
        let stp = self.stp[&o.participant];
        let book = &self.books[&o.instrument];
        let mut covered: QtyLots = 0;
        for px in book.prices_best_first(o.side.opposite()) {
            if covered >= needed {
                break;
            }
            if o.limit().is_some_and(|limit| !reaches(o.side, limit, px))
                || !band_admits(band, o.side, px)
            {
                break;
            }
            let queue = &book.levels(o.side.opposite())[&px];
            let live: Vec<&Order> = queue
                .iter()
                .map(|q| &self.orders[q])
                .filter(|r| !r.expired_at(self.now))
                .collect();
            // AMBIGUITY: "a level holds" an own order is read literally:
            // anywhere in the level, even behind enough other quantity.
            let own_blocks = live.iter().any(|r| {
                r.participant == o.participant
                    && matches!(
                        stp,
                        StpMode::CancelAggressing | StpMode::CancelBoth | StpMode::DecrementBoth
                    )
            });
            if own_blocks {
                let ahead: QtyLots = live
                    .iter()
                    .take_while(|r| r.participant != o.participant)
                    .map(|r| r.leaves())
                    .sum();
                if covered + ahead >= needed {
                    self.stats
                        .hit("precheck: own order behind enough quantity in its level");
                }
                if o.tif == TimeInForce::Ioc {
                    self.stats.hit("precheck: IOC minimum STP cancel");
                }
                self.stats.fok_prechecks_stp += 1;
                return Some(CancelReason::SelfTradePrevention);
            }
            covered += live
                .iter()
                .filter(|r| !(r.participant == o.participant && stp == StpMode::CancelResting))
                .map(|r| r.leaves())
                .sum::<QtyLots>();
        }
        (covered < needed).then_some(fail)
    }

    /// Matches an incoming order against the opposite side.
    fn match_order(&mut self, id: OrderId, band: Option<(PriceTicks, PriceTicks)>) -> MatchEnd {
        let o = &self.orders[&id];
        let (instrument, side, participant, limit) =
            (o.instrument, o.side, o.participant, o.limit());
        let stp = self.stp[&participant];
        let opposite = side.opposite();
        let mut end = MatchEnd::default();
        while self.orders[&id].leaves() > 0 {
            let Some(px) = self.books[&instrument].best(opposite) else {
                break;
            };
            if limit.is_some_and(|limit| !reaches(side, limit, px)) {
                break;
            }
            if !band_admits(band, side, px) {
                end.band_stopped = true;
                break;
            }
            let stopped = self.match_level(id, px, stp, &mut end);
            self.report_level(instrument, opposite, px);
            if end.stp_cancelled {
                self.cancel_order(id, CancelReason::SelfTradePrevention);
            }
            if stopped {
                break;
            }
        }
        end
    }

    /// Works through one level from its front. Returns whether matching
    /// stopped (as opposed to the incoming order being done or the level
    /// emptied).
    fn match_level(
        &mut self,
        id: OrderId,
        px: PriceTicks,
        stp: StpMode,
        end: &mut MatchEnd,
    ) -> bool {
        let (instrument, side, participant) = {
            let o = &self.orders[&id];
            (o.instrument, o.side, o.participant)
        };
        let opposite = side.opposite();
        loop {
            if self.orders[&id].leaves() == 0 {
                return false;
            }
            let front = match self.books[&instrument].levels(opposite).get(&px) {
                Some(queue) => queue[0],
                None => return false,
            };
            let resting = &self.orders[&front];
            if resting.expired_at(self.now) {
                self.unlink(front);
                self.expire_order(front);
                self.stats.lazy_expiries += 1;
                continue;
            }
            if resting.participant == participant && stp != StpMode::None {
                match stp {
                    StpMode::None => unreachable!(),
                    StpMode::CancelResting => {
                        self.unlink(front);
                        self.cancel_order(front, CancelReason::SelfTradePrevention);
                    }
                    StpMode::CancelAggressing => {
                        self.stats
                            .hit("stp: cancel-aggressing reports the untouched level");
                        end.stp_cancelled = true;
                        return true;
                    }
                    StpMode::CancelBoth => {
                        self.unlink(front);
                        self.cancel_order(front, CancelReason::SelfTradePrevention);
                        end.stp_cancelled = true;
                        return true;
                    }
                    StpMode::DecrementBoth => {
                        let d = self.orders[&id].leaves().min(resting.leaves());
                        if self.decrement(front, d) {
                            self.unlink(front);
                            self.cancel_order(front, CancelReason::SelfTradePrevention);
                        }
                        if self.orders[&id].leaves() == d {
                            end.stp_cancelled = true;
                            return true;
                        }
                        self.decrement(id, d);
                    }
                }
                continue;
            }
            self.trade(id, front, px);
        }
    }

    /// STP decrement of `d` from `id`. Returns true when nothing is left (the
    /// caller cancels), and otherwise restates the order.
    fn decrement(&mut self, id: OrderId, d: QtyLots) -> bool {
        let o = self.orders.get_mut(&id).expect("known order");
        if o.leaves() == d {
            self.stats
                .hit("decrement: cancelled side keeps its order quantity");
            // AMBIGUITY: the side left with nothing is cancelled with its
            // order quantity as it was; only the restated side's order
            // quantity is reduced by d.
            return true;
        }
        if o.place == Place::Resting && o.leaves() > o.displayed {
            self.stats
                .hit("decrement: resting iceberg with reserve restated");
        }
        let o = self.orders.get_mut(&id).expect("known order");
        o.order_qty -= d;
        // AMBIGUITY: an iceberg's decrement comes off its reserve first; the
        // displayed part shrinks only to its new leaves.
        o.displayed = o.displayed.min(o.leaves());
        // AMBIGUITY: the restatement carries the STP reason (the engine's
        // reading; the contract names reasons for rejects, cancels and
        // expiries only).
        let reason = Reason::Cancel(CancelReason::SelfTradePrevention);
        self.report(id, ExecType::Restated, reason, ClOrdId::EMPTY);
        false
    }

    fn trade(&mut self, incoming: OrderId, resting: OrderId, px: PriceTicks) {
        let qty = self.orders[&incoming]
            .leaves()
            .min(self.orders[&resting].displayed);
        assert!(qty > 0);
        let trade_id = TradeId(self.next_trade_id);
        self.next_trade_id += 1;
        let (instrument, side) = {
            let o = &self.orders[&incoming];
            (o.instrument, o.side)
        };
        self.books
            .get_mut(&instrument)
            .expect("known")
            .last_trade_px = Some(px);
        for id in [incoming, resting] {
            let o = self.orders.get_mut(&id).expect("known order");
            o.cum_qty += qty;
            o.cum_notional += i128::from(px) * i128::from(qty);
            o.status = if o.cum_qty == o.order_qty {
                OrdStatus::Filled
            } else {
                OrdStatus::PartiallyFilled
            };
        }
        self.orders.get_mut(&resting).expect("known").displayed -= qty;
        let (buy, sell) = match side {
            Side::Buy => (incoming, resting),
            Side::Sell => (resting, incoming),
        };
        self.out.push(Event::Trade(TradePrint {
            instrument,
            trade_id,
            price_ticks: px,
            qty_lots: qty,
            aggressor_side: side,
            buy_order_id: buy,
            sell_order_id: sell,
            buyer: self.orders[&buy].participant,
            seller: self.orders[&sell].participant,
        }));
        if self.orders[&incoming].leaves() == 0 {
            let o = self.orders.get_mut(&incoming).expect("known");
            o.place = Place::Done;
            o.finished_ns = Some(self.now);
        }
        let fill = |aggressor| Some((qty, px, trade_id, aggressor));
        self.report_fill(
            incoming,
            ExecType::Trade,
            Reason::None,
            ClOrdId::EMPTY,
            fill(true),
        );
        let r = &self.orders[&resting];
        if r.leaves() == 0 {
            self.unlink(resting);
            let o = self.orders.get_mut(&resting).expect("known");
            o.place = Place::Done;
            o.finished_ns = Some(self.now);
        } else if r.displayed == 0 {
            // The iceberg shows its next part at the back of the level.
            let side = r.side;
            self.unlink(resting);
            let o = self.orders.get_mut(&resting).expect("known");
            o.place = Place::Resting;
            o.displayed = o.fresh_display();
            let book = self.books.get_mut(&instrument).expect("known");
            book.levels_mut(side).entry(px).or_default().push(resting);
            self.stats.iceberg_refreshes += 1;
        }
        self.report_fill(
            resting,
            ExecType::Trade,
            Reason::None,
            ClOrdId::EMPTY,
            fill(false),
        );
    }

    // ---------------------------------------------------------------------
    // Stops.

    fn scan_stops(&mut self, instrument: InstrumentId, triggered: &mut BTreeSet<OrderId>) {
        let book = &self.books[&instrument];
        let Some(last) = book.last_trade_px else {
            return;
        };
        let hits: Vec<OrderId> = book
            .stops
            .iter()
            .copied()
            .filter(|id| {
                let o = &self.orders[id];
                let stop = o.stop_price.expect("a stop has a stop price");
                match o.side {
                    Side::Buy => last >= stop,
                    Side::Sell => last <= stop,
                }
            })
            .collect();
        for id in hits {
            self.unlink(id);
            triggered.insert(id);
        }
    }

    /// Scans the instrument's stops and runs every triggered one, lowest
    /// `OrderId` first, rescanning after each.
    fn run_triggers(&mut self, instrument: InstrumentId) {
        let mut triggered = BTreeSet::new();
        self.scan_stops(instrument, &mut triggered);
        let mut ran = 0;
        while let Some(id) = triggered.pop_first() {
            ran += 1;
            self.orders.get_mut(&id).expect("known").triggered = true;
            if self.orders[&id].expired_at(self.now) {
                self.stats.hit("trigger: expired stop expired at trigger");
                self.expire_order(id);
            } else {
                self.report(id, ExecType::Triggered, Reason::None, ClOrdId::EMPTY);
                let o = &self.orders[&id];
                let band = self.books[&instrument].band();
                if o.ord_type == OrdType::StopLimit && o.price.is_some_and(|px| !in_band(band, px))
                {
                    self.cancel_order(id, CancelReason::PriceCollar);
                } else {
                    self.run_incoming(id);
                }
            }
            self.scan_stops(instrument, &mut triggered);
        }
        if ran > 1 {
            self.stats.triggered_cascades += 1;
        }
    }

    // ---------------------------------------------------------------------
    // Cancel, replace, mass cancel, status.

    /// Finds the participant's order: by ClOrdID among its remembered ones,
    /// or by OrderID if it is the participant's.
    fn lookup(&self, participant: ParticipantId, target: &OrderRef) -> Option<OrderId> {
        match *target {
            OrderRef::ClOrdId(c) => self.cl_ord_ids.get(&(participant, c)).copied(),
            OrderRef::OrderId(id) => self
                .orders
                .get(&id)
                .filter(|o| o.participant == participant)
                .map(|o| o.id),
        }
    }

    fn cancel_reject(
        &mut self,
        participant: ParticipantId,
        cl_ord_id: ClOrdId,
        target: &OrderRef,
        order: Option<OrderId>,
        response_to: CxlRejResponseTo,
        reason: RejectReason,
    ) {
        let orig = match *target {
            OrderRef::ClOrdId(c) => c,
            OrderRef::OrderId(_) => ClOrdId::EMPTY,
        };
        let (order_id, ord_status) = match order {
            Some(id) => (id, self.orders[&id].status),
            None => (OrderId::NONE, OrdStatus::Rejected),
        };
        self.out.push(Event::CancelReject(CancelReject {
            participant,
            cl_ord_id,
            orig_cl_ord_id: orig,
            order_id,
            ord_status,
            response_to,
            reason,
        }));
    }

    /// The checks cancel and replace share: participant, order, liveness.
    fn check_target(
        &self,
        participant: ParticipantId,
        target: &OrderRef,
    ) -> Result<OrderId, (RejectReason, Option<OrderId>)> {
        if !self.stp.contains_key(&participant) {
            return Err((RejectReason::UnknownParticipant, None));
        }
        let Some(id) = self.lookup(participant, target) else {
            return Err((RejectReason::UnknownOrder, None));
        };
        if !self.orders[&id].status.is_live() {
            return Err((RejectReason::TooLateToCancel, Some(id)));
        }
        Ok(id)
    }

    fn cancel(&mut self, c: &Cancel) {
        let checked = self.check_target(c.participant, &c.target).and_then(|id| {
            if self.cl_ord_ids.contains_key(&(c.participant, c.cl_ord_id)) {
                Err((RejectReason::DuplicateClOrdId, Some(id)))
            } else {
                Ok(id)
            }
        });
        let id = match checked {
            Ok(id) => id,
            Err((reason, order)) => {
                let response = CxlRejResponseTo::Cancel;
                self.cancel_reject(
                    c.participant,
                    c.cl_ord_id,
                    &c.target,
                    order,
                    response,
                    reason,
                );
                return;
            }
        };
        // AMBIGUITY: `orig_cl_ord_id` is the order's ClOrdID before this
        // request, whichever of its ClOrdIDs the request named.
        if matches!(c.target, OrderRef::ClOrdId(t) if t != self.orders[&id].cl_ord_id) {
            self.stats.hit("cancel: by an older ClOrdID");
        }
        if self.orders[&id].expired_at(self.now) {
            self.stats
                .hit("cancel: of an order past its expire time, before expiry");
        }
        let previous = self.register_cl_ord_id(id, c.cl_ord_id);
        let level = self.unlink(id);
        let reason = Reason::Cancel(CancelReason::ClientRequest);
        self.finish(id, OrdStatus::Canceled, reason);
        self.report(id, ExecType::Canceled, reason, previous);
        if let Some(px) = level {
            let o = &self.orders[&id];
            self.report_level(o.instrument, o.side, px);
        }
    }

    fn check_replace(&self, r: &Replace) -> Result<OrderId, (RejectReason, Option<OrderId>)> {
        use RejectReason as R;
        let id = self.check_target(r.participant, &r.target)?;
        let reject = |reason| Err((reason, Some(id)));
        let o = &self.orders[&id];
        let book = &self.books[&o.instrument];
        let spec = &book.spec;
        if r.qty_lots == 0 {
            return reject(R::InvalidQty);
        }
        if r.qty_lots < spec.qty_min_lots {
            return reject(R::QtyBelowMin);
        }
        if r.qty_lots > spec.qty_max_lots {
            return reject(R::QtyAboveMax);
        }
        if r.price_ticks.is_some() && !o.ord_type.has_limit_price() {
            return reject(R::UnexpectedPrice);
        }
        // AMBIGUITY: a stop price for a triggered stop(-limit) is rejected
        // with `UnexpectedStopPrice`, like one for a type without one.
        if r.stop_price_ticks.is_some() && (!o.ord_type.has_stop_price() || o.triggered) {
            return reject(R::UnexpectedStopPrice);
        }
        if r.qty_lots <= o.cum_qty {
            return reject(R::ReplaceQtyAtOrBelowFilled);
        }
        let new_price = r.price_ticks.or(o.price);
        let price_changed = r.price_ticks.is_some_and(|p| Some(p) != o.price);
        let acts_as_limit =
            o.ord_type == OrdType::Limit || (o.ord_type == OrdType::StopLimit && o.triggered);
        if acts_as_limit
            && price_changed
            && let Some(px) = new_price
            && !in_band(book.band(), px)
        {
            return reject(R::PriceOutsideCollar);
        }
        let notional_px = if o.ord_type.has_limit_price() {
            new_price
        } else {
            r.stop_price_ticks.or(o.stop_price)
        };
        if let (Some(max), Some(px)) = (spec.notional_max_tick_lots, notional_px)
            && notional(px, r.qty_lots) > max
        {
            return reject(R::NotionalAboveMax);
        }
        // AMBIGUITY: "as cancel" is read as participant, order and liveness;
        // the duplicate ClOrdID check is where the list names it, after the
        // notional check.
        if self.cl_ord_ids.contains_key(&(r.participant, r.cl_ord_id)) {
            return reject(R::DuplicateClOrdId);
        }
        // AMBIGUITY: the post-only check uses the price after the replace
        // (given or kept).
        if o.post_only
            && let Some(px) = new_price
            && let Some(best) = book.best(o.side.opposite())
            && reaches(o.side, px, best)
        {
            return reject(R::PostOnlyWouldTake);
        }
        Ok(id)
    }

    fn replace(&mut self, r: &Replace) {
        let checked = self.check_replace(r);
        self.count_replace_paths(r, &checked);
        let id = match checked {
            Ok(id) => id,
            Err((reason, order)) => {
                let response = CxlRejResponseTo::Replace;
                self.cancel_reject(
                    r.participant,
                    r.cl_ord_id,
                    &r.target,
                    order,
                    response,
                    reason,
                );
                return;
            }
        };
        let previous = self.register_cl_ord_id(id, r.cl_ord_id);
        let o = &self.orders[&id];
        let keeps_place =
            r.price_ticks.is_none_or(|p| Some(p) == o.price) && r.qty_lots <= o.order_qty;
        let (instrument, side, place) = (o.instrument, o.side, o.place);
        // An order that loses its place leaves its level before it changes.
        let old_level = if place == Place::Resting && !keeps_place {
            self.unlink(id)
        } else {
            None
        };
        let o = self.orders.get_mut(&id).expect("known");
        o.order_qty = r.qty_lots;
        if r.price_ticks.is_some() {
            o.price = r.price_ticks;
        }
        if r.stop_price_ticks.is_some() {
            o.stop_price = r.stop_price_ticks;
        }
        match (place, old_level) {
            (Place::Stop, _) => {
                self.report(id, ExecType::Replaced, Reason::None, previous);
                self.run_triggers(instrument);
            }
            (Place::Resting, None) => {
                // AMBIGUITY: a reduced iceberg keeps its displayed part, cut
                // to its new leaves.
                o.displayed = o.displayed.min(o.leaves());
                let px = o.price.expect("resting order has a price");
                self.report(id, ExecType::Replaced, Reason::None, previous);
                self.report_level(instrument, side, px);
            }
            (Place::Resting, Some(old_px)) => {
                self.report(id, ExecType::Replaced, Reason::None, previous);
                self.report_level(instrument, side, old_px);
                self.run_incoming(id);
                self.run_triggers(instrument);
            }
            (Place::Incoming | Place::Done, _) => unreachable!("a live order rests or waits"),
        }
    }

    fn count_replace_paths(
        &mut self,
        r: &Replace,
        checked: &Result<OrderId, (RejectReason, Option<OrderId>)>,
    ) {
        use RejectReason as R;
        let duplicate = self.cl_ord_ids.contains_key(&(r.participant, r.cl_ord_id));
        match checked {
            Err((R::UnexpectedStopPrice, Some(id))) if self.orders[id].triggered => {
                self.stats
                    .hit("replace: stop price for a triggered stop-limit");
            }
            Err((R::PostOnlyWouldTake, _)) if r.price_ticks.is_none() => {
                self.stats
                    .hit("replace: post-only reaching at its kept price");
            }
            Err((
                R::InvalidQty
                | R::QtyBelowMin
                | R::QtyAboveMax
                | R::UnexpectedPrice
                | R::UnexpectedStopPrice
                | R::ReplaceQtyAtOrBelowFilled
                | R::PriceOutsideCollar
                | R::NotionalAboveMax,
                Some(_),
            )) if duplicate => {
                self.stats
                    .hit("replace: duplicate ClOrdID behind an earlier failing check");
            }
            Ok(id) => {
                let o = &self.orders[id];
                if o.expired_at(self.now) {
                    self.stats
                        .hit("replace: of an order past its expire time, before expiry");
                }
                if matches!(r.target, OrderRef::ClOrdId(t) if t != o.cl_ord_id) {
                    self.stats.hit("replace: by an older ClOrdID");
                }
                let keeps =
                    r.price_ticks.is_none_or(|p| Some(p) == o.price) && r.qty_lots <= o.order_qty;
                if o.place == Place::Resting && keeps && o.displayed > r.qty_lots - o.cum_qty {
                    self.stats
                        .hit("replace: kept place, displayed cut to new leaves");
                }
            }
            Err(_) => {}
        }
    }

    fn mass_cancel(&mut self, m: &MassCancel) {
        let mut report = MassCancelReport {
            participant: m.participant,
            cl_ord_id: m.cl_ord_id,
            instrument: m.instrument,
            side: m.side,
            cancelled_count: 0,
            reject: None,
        };
        if !self.stp.contains_key(&m.participant) {
            report.reject = Some(RejectReason::UnknownParticipant);
        } else if m.instrument.is_some_and(|i| !self.books.contains_key(&i)) {
            report.reject = Some(RejectReason::UnknownInstrument);
        } else {
            let ids: Vec<OrderId> = self
                .orders
                .values()
                .filter(|o| {
                    o.participant == m.participant
                        && matches!(o.place, Place::Resting | Place::Stop)
                        && m.instrument.is_none_or(|i| i == o.instrument)
                        && m.side.is_none_or(|s| s == o.side)
                        && m.tif.is_none_or(|t| t == o.tif)
                })
                .map(|o| o.id)
                .collect();
            for id in ids {
                // AMBIGUITY: each report carries the order's own current
                // ClOrdID (the mass cancel's id is in the final report only),
                // and no orig ClOrdID.
                if self.orders[&id].expired_at(self.now) {
                    self.stats
                        .hit("mass cancel: of an order past its expire time");
                }
                let level = self.unlink(id);
                self.cancel_order(id, CancelReason::MassCancel);
                if let Some(px) = level {
                    let o = &self.orders[&id];
                    self.report_level(o.instrument, o.side, px);
                }
                report.cancelled_count += 1;
            }
        }
        self.out.push(Event::MassCancelReport(report));
    }

    fn status(&mut self, s: &OrderStatusRequest) {
        // AMBIGUITY: an unknown participant is answered `UnknownParticipant`,
        // as every other input is (the engine's reading; the contract names
        // only the unknown-order answer).
        let known_participant = self.stp.contains_key(&s.participant);
        if let Some(id) = self.lookup(s.participant, &s.target) {
            // AMBIGUITY: a status report carries the reason the order was
            // cancelled or expired, if it was (the engine's reading).
            let reason = self.orders[&id].finish_reason;
            self.report(id, ExecType::OrderStatus, reason, ClOrdId::EMPTY);
            return;
        }
        let reason = if known_participant {
            RejectReason::UnknownOrder
        } else {
            RejectReason::UnknownParticipant
        };
        self.status_unknown(s.participant, s.target, reason);
    }

    /// Mass status: a status report per live order of the participant that
    /// passes the filters, in OrderId order; nothing found is one
    /// "unknown" report.
    fn mass_status(&mut self, m: &MassStatusRequest) {
        let problem = if !self.stp.contains_key(&m.participant) {
            Some(RejectReason::UnknownParticipant)
        } else if m.instrument.is_some_and(|i| !self.books.contains_key(&i)) {
            Some(RejectReason::UnknownInstrument)
        } else {
            None
        };
        if problem.is_none() {
            let ids: Vec<OrderId> = self
                .orders
                .values()
                .filter(|o| {
                    o.participant == m.participant
                        && matches!(o.place, Place::Resting | Place::Stop)
                        && m.instrument.is_none_or(|i| i == o.instrument)
                        && m.side.is_none_or(|s| s == o.side)
                })
                .map(|o| o.id)
                .collect();
            if !ids.is_empty() {
                for id in ids {
                    let reason = self.orders[&id].finish_reason;
                    self.report(id, ExecType::OrderStatus, reason, ClOrdId::EMPTY);
                }
                return;
            }
        }
        let reason = problem.unwrap_or(RejectReason::UnknownOrder);
        self.status_unknown(m.participant, OrderRef::OrderId(OrderId::NONE), reason);
    }

    /// The answer to a status request that found nothing.
    fn status_unknown(
        &mut self,
        participant: ParticipantId,
        target: OrderRef,
        reason: RejectReason,
    ) {
        let exec_id = self.next_exec_id();
        // AMBIGUITY: the fields of an unknown order's status report are not
        // specified; the order's ClOrdID as given, otherwise neutral values.
        self.out.push(Event::Exec(ExecutionReport {
            exec_id,
            exec_type: ExecType::OrderStatus,
            ord_status: OrdStatus::Rejected,
            participant,
            instrument: InstrumentId::default(),
            // The OrderID asked for is echoed (NONE when asked by ClOrdID).
            order_id: match target {
                OrderRef::OrderId(id) => id,
                OrderRef::ClOrdId(_) => OrderId::NONE,
            },
            cl_ord_id: match target {
                OrderRef::ClOrdId(c) => c,
                OrderRef::OrderId(_) => ClOrdId::EMPTY,
            },
            orig_cl_ord_id: ClOrdId::EMPTY,
            side: Side::Buy,
            ord_type: OrdType::Limit,
            tif: TimeInForce::Gtc,
            price_ticks: None,
            stop_price_ticks: None,
            order_qty_lots: 0,
            leaves_qty_lots: 0,
            cum_qty_lots: 0,
            cum_notional_tick_lots: 0,
            last_qty_lots: 0,
            last_px_ticks: 0,
            trade_id: TradeId::default(),
            aggressor: false,
            expire_time_ns: None,
            reason: Reason::Reject(reason),
        }));
    }

    // ---------------------------------------------------------------------
    // Clock tick.

    fn clock_tick(&mut self) {
        let mut due: Vec<(TimeNs, OrderId)> = self
            .orders
            .values()
            .filter(|o| matches!(o.place, Place::Resting | Place::Stop) && o.expired_at(self.now))
            .map(|o| (o.expire_time.expect("expired_at"), o.id))
            .collect();
        due.sort();
        for (_, id) in due {
            let level = self.unlink(id);
            self.expire_order(id);
            self.stats.tick_expiries += 1;
            if let Some(px) = level {
                let o = &self.orders[&id];
                self.report_level(o.instrument, o.side, px);
            }
        }
        let forget: Vec<OrderId> = self
            .orders
            .values()
            .filter(|o| {
                o.finished_ns
                    .is_some_and(|f| day_end_after(f, self.day_end_ns_of_day) <= self.now)
            })
            .map(|o| o.id)
            .collect();
        for id in forget {
            let o = self.orders.remove(&id).expect("listed");
            assert!(o.place == Place::Done);
            for c in o.cl_ord_ids {
                assert_eq!(self.cl_ord_ids.remove(&(o.participant, c)), Some(id));
            }
            self.stats.forgotten_orders += 1;
        }
    }
}

// -------------------------------------------------------------------------
// Configuration and input generation.

pub(crate) const INSTRUMENT_TICKS: InstrumentId = InstrumentId(1);
pub(crate) const INSTRUMENT_BPS: InstrumentId = InstrumentId(2);
pub(crate) const INSTRUMENT_FREE: InstrumentId = InstrumentId(7);
const INSTRUMENT_UNKNOWN: InstrumentId = InstrumentId(5);
const PARTICIPANT_UNKNOWN: ParticipantId = ParticipantId(9);

/// Participants 1 to 5, one per STP mode.
pub(crate) const PARTICIPANTS: [(ParticipantId, StpMode); 5] = [
    (ParticipantId(1), StpMode::None),
    (ParticipantId(2), StpMode::CancelResting),
    (ParticipantId(3), StpMode::CancelAggressing),
    (ParticipantId(4), StpMode::CancelBoth),
    (ParticipantId(5), StpMode::DecrementBoth),
];

/// Three instruments: a ticks collar with a reference price; a bps collar
/// with a notional limit and restricted types; a permissive one.
pub(crate) fn config() -> EngineConfig {
    let mut ticks = InstrumentSpec::new(INSTRUMENT_TICKS, "TICKS");
    ticks.collar = Some(Collar::Ticks(5));
    ticks.reference_price_ticks = Some(100);
    ticks.qty_max_lots = 1_000;

    let mut bps = InstrumentSpec::new(INSTRUMENT_BPS, "BPS");
    bps.collar = Some(Collar::Bps(600));
    bps.reference_price_ticks = Some(100);
    bps.qty_min_lots = 2;
    bps.qty_max_lots = 60;
    bps.notional_max_tick_lots = Some(3_000);
    bps.order_types = OrdTypeSet::of(&[OrdType::Limit, OrdType::Market, OrdType::StopLimit]);
    bps.time_in_force = TifSet::of(&[
        TimeInForce::Gtc,
        TimeInForce::Gtd,
        TimeInForce::Ioc,
        TimeInForce::Fok,
    ]);

    let free = InstrumentSpec::new(INSTRUMENT_FREE, "FREE");

    EngineConfig {
        instruments: vec![ticks, bps, free],
        participants: PARTICIPANTS
            .iter()
            .map(|&(id, stp)| ParticipantSpec { id, stp })
            .collect(),
        day_end_ns_of_day: 22 * 3_600 * 1_000_000_000,
        orders_capacity: 1 << 12,
        credit_limits: Vec::new(),
        permissions: Vec::new(),
    }
}

/// What the generator knows of an order, from the events it has seen.
#[derive(Clone, Debug)]
struct KnownOrder {
    participant: ParticipantId,
    cl_ord_ids: Vec<ClOrdId>,
    ord_type: OrdType,
    live: bool,
    price: Option<PriceTicks>,
    stop_price: Option<PriceTicks>,
    order_qty: QtyLots,
    cum_qty: QtyLots,
}

/// A seeded generator of plausible, often crossing, sometimes invalid inputs.
/// It learns OrderIDs and ClOrdIDs from the events fed to [`InputGen::observe`].
#[derive(Debug)]
pub(crate) struct InputGen {
    rng: StdRng,
    seq: u64,
    time_ns: TimeNs,
    cl_ord_id_next: u64,
    cl_ord_ids_used: BTreeMap<ParticipantId, Vec<ClOrdId>>,
    orders: BTreeMap<OrderId, KnownOrder>,
    last_px: BTreeMap<InstrumentId, PriceTicks>,
    order_id_max: u64,
}

impl InputGen {
    pub(crate) fn new(seed: u64) -> InputGen {
        InputGen {
            rng: StdRng::seed_from_u64(seed),
            seq: 0,
            // Day 20,000 at 20:00 UTC: two hours before the first day end.
            time_ns: 20_000 * DAY_NS + 20 * 3_600 * 1_000_000_000,
            cl_ord_id_next: 1,
            cl_ord_ids_used: BTreeMap::new(),
            orders: BTreeMap::new(),
            last_px: BTreeMap::new(),
            order_id_max: 0,
        }
    }

    fn pct(&mut self, p: u32) -> bool {
        self.rng.random_range(0..100) < p
    }

    fn participant(&mut self) -> ParticipantId {
        if self.pct(2) {
            PARTICIPANT_UNKNOWN
        } else {
            PARTICIPANTS[self.rng.random_range(0..PARTICIPANTS.len())].0
        }
    }

    fn instrument(&mut self) -> InstrumentId {
        match self.rng.random_range(0..100) {
            0..45 => INSTRUMENT_TICKS,
            45..75 => INSTRUMENT_BPS,
            75..97 => INSTRUMENT_FREE,
            _ => INSTRUMENT_UNKNOWN,
        }
    }

    fn center(&self, instrument: InstrumentId) -> PriceTicks {
        self.last_px.get(&instrument).copied().unwrap_or(100)
    }

    fn price_near(&mut self, instrument: InstrumentId, spread: i64) -> PriceTicks {
        (self.center(instrument) + self.rng.random_range(-spread..=spread)).max(1)
    }

    fn fresh_cl_ord_id(&mut self, participant: ParticipantId) -> ClOrdId {
        let used = self.cl_ord_ids_used.entry(participant).or_default();
        if !used.is_empty() && self.rng.random_range(0..100) < 6 {
            // A reuse: a duplicate while the old order is remembered.
            let i = self
                .rng
                .random_range(used.len().saturating_sub(40)..used.len());
            return used[i];
        }
        let id = ClOrdId::new(format!("c{}", self.cl_ord_id_next).as_bytes()).expect("valid");
        self.cl_ord_id_next += 1;
        used.push(id);
        id
    }

    fn qty(&mut self) -> QtyLots {
        match self.rng.random_range(0..100) {
            0..3 => 0,
            3..6 => self.rng.random_range(1_001..5_000),
            6..16 => self.rng.random_range(21..80),
            _ => self.rng.random_range(1..=20),
        }
    }

    /// A target: mostly one of the participant's known orders (live more
    /// often than not), sometimes another's, sometimes nothing at all.
    fn target(&mut self, participant: ParticipantId) -> (OrderRef, Option<OrderId>) {
        let roll = self.rng.random_range(0..100);
        let want_live = self.pct(75);
        let candidates: Vec<OrderId> = self
            .orders
            .iter()
            .filter(|(_, k)| {
                (roll < 85) == (k.participant == participant) && (k.live == want_live || roll >= 85)
            })
            .map(|(id, _)| *id)
            .collect();
        if roll >= 95 || candidates.is_empty() {
            let r = if self.pct(50) {
                OrderRef::OrderId(OrderId(self.rng.random_range(0..=self.order_id_max + 2)))
            } else {
                let c = ClOrdId::new(
                    format!("c{}", self.rng.random_range(0..=self.cl_ord_id_next)).as_bytes(),
                );
                OrderRef::ClOrdId(c.expect("valid"))
            };
            return (r, None);
        }
        // Recent orders more often: the book's front lives there.
        let n = candidates.len();
        let i = if self.pct(60) {
            self.rng.random_range(n.saturating_sub(15)..n)
        } else {
            self.rng.random_range(0..n)
        };
        let id = candidates[i];
        let cl_ord_ids = self.orders[&id].cl_ord_ids.clone();
        let r = if self.pct(50) {
            OrderRef::OrderId(id)
        } else {
            OrderRef::ClOrdId(cl_ord_ids[self.rng.random_range(0..cl_ord_ids.len())])
        };
        (r, Some(id))
    }

    /// The next input, with its sequence number and time.
    pub(crate) fn next_input(&mut self) -> (u64, TimeNs, Input) {
        self.seq += 1;
        self.time_ns += self.rng.random_range(0..50_000_000);
        if self.pct(1) {
            // Time passes without a tick: expiries are then met by matching,
            // and yesterday's ClOrdIDs are still remembered.
            self.time_ns += self.rng.random_range(60_000_000_000..4 * 3_600_000_000_000);
        }
        let input = match self.rng.random_range(0..100) {
            0..56 => Input::NewOrder(self.new_order()),
            56..68 => {
                let participant = self.participant();
                let cl_ord_id = self.fresh_cl_ord_id(participant);
                let (target, _) = self.target(participant);
                Input::Cancel(Cancel {
                    participant,
                    cl_ord_id,
                    target,
                })
            }
            68..80 => Input::Replace(self.replace()),
            80..82 => {
                let participant = self.participant();
                let cl_ord_id = self.fresh_cl_ord_id(participant);
                let instrument = self.pct(50).then(|| self.instrument());
                let side = self.pct(40).then(|| self.side());
                let tif = self.pct(20).then_some(TimeInForce::Day);
                Input::MassCancel(MassCancel {
                    participant,
                    cl_ord_id,
                    instrument,
                    side,
                    tif,
                })
            }
            82..88 => {
                let participant = self.participant();
                let (target, _) = self.target(participant);
                Input::OrderStatus(OrderStatusRequest {
                    participant,
                    target,
                })
            }
            88..89 => {
                let participant = self.participant();
                let instrument = self.pct(30).then(|| self.instrument());
                let side = self.pct(30).then(|| self.side());
                Input::MassStatus(MassStatusRequest {
                    participant,
                    instrument,
                    side,
                })
            }
            _ => {
                let step_ns = match self.rng.random_range(0..100) {
                    0..70 => self.rng.random_range(0..2_000_000_000),
                    70..96 => self.rng.random_range(60_000_000_000..1_800_000_000_000),
                    _ => self
                        .rng
                        .random_range(3_600_000_000_000..8 * 3_600_000_000_000),
                };
                self.time_ns += step_ns;
                Input::ClockTick
            }
        };
        (self.seq, self.time_ns, input)
    }

    fn side(&mut self) -> Side {
        if self.pct(50) { Side::Buy } else { Side::Sell }
    }

    fn new_order(&mut self) -> NewOrder {
        let participant = self.participant();
        let instrument = self.instrument();
        let cl_ord_id = self.fresh_cl_ord_id(participant);
        let side = self.side();
        let ord_type = match self.rng.random_range(0..100) {
            0..55 => OrdType::Limit,
            55..67 => OrdType::Market,
            67..81 => OrdType::Stop,
            _ => OrdType::StopLimit,
        };
        let mut tif = match self.rng.random_range(0..100) {
            0..30 => TimeInForce::Gtc,
            30..55 => TimeInForce::Day,
            55..70 => TimeInForce::Gtd,
            70..88 => TimeInForce::Ioc,
            _ => TimeInForce::Fok,
        };
        if ord_type.has_stop_price() && !tif.may_rest() && self.pct(85) {
            tif = TimeInForce::Gtc;
        }
        let qty_lots = self.qty();
        let mut price_ticks = ord_type
            .has_limit_price()
            .then(|| self.price_near(instrument, 6));
        if self.pct(3) {
            price_ticks = match price_ticks {
                Some(_) => None,
                None => Some(self.price_near(instrument, 3)),
            };
        }
        let mut stop_price_ticks = ord_type.has_stop_price().then(|| {
            // Buy stops above the market, sell stops below, mostly.
            let offset = self.rng.random_range(-1..=4);
            let c = self.center(instrument);
            match side {
                Side::Buy => c + offset,
                Side::Sell => (c - offset).max(1),
            }
        });
        if let (Some(stop), Some(limit)) = (stop_price_ticks, price_ticks.as_mut())
            && self.pct(70)
        {
            // A stop-limit's limit a little through its stop.
            *limit = match side {
                Side::Buy => stop + self.rng.random_range(0..=3),
                Side::Sell => (stop - self.rng.random_range(0..=3)).max(1),
            };
        }
        if self.pct(3) {
            stop_price_ticks = match stop_price_ticks {
                Some(_) => None,
                None => Some(self.price_near(instrument, 3)),
            };
        }
        let expire_time_ns = match (tif, self.rng.random_range(0..100)) {
            (TimeInForce::Gtd, 0..3) => None,
            (TimeInForce::Gtd, 3..7) => Some(self.time_ns - self.rng.random_range(0..1_000_000)),
            // Some expire before the next clock tick, to be met by matching.
            (TimeInForce::Gtd, 7..50) => {
                Some(self.time_ns + self.rng.random_range(1_000_000..200_000_000))
            }
            (TimeInForce::Gtd, _) => {
                Some(self.time_ns + self.rng.random_range(1_000_000..1_800_000_000_000))
            }
            (_, 0..5) => Some(self.time_ns + 1),
            _ => None,
        };
        let display_qty_lots = if ord_type.has_limit_price() && tif.may_rest() && self.pct(22) {
            self.rng.random_range(1..=qty_lots.clamp(1, 30))
        } else if self.pct(2) {
            self.rng.random_range(1..=5)
        } else {
            0
        };
        let min_qty_lots = if tif == TimeInForce::Ioc && self.pct(35) {
            self.rng.random_range(1..=qty_lots.clamp(1, 30) + 2)
        } else if self.pct(2) {
            self.rng.random_range(1..=5)
        } else {
            0
        };
        let post_only = if ord_type == OrdType::Limit && tif.may_rest() {
            self.pct(12)
        } else {
            self.pct(2)
        };
        NewOrder {
            participant,
            instrument,
            cl_ord_id,
            side,
            ord_type,
            tif,
            price_ticks,
            stop_price_ticks,
            qty_lots,
            display_qty_lots,
            min_qty_lots,
            post_only,
            expire_time_ns,
        }
    }

    fn replace(&mut self) -> Replace {
        let participant = self.participant();
        let cl_ord_id = self.fresh_cl_ord_id(participant);
        let (target, known) = self.target(participant);
        let k = known.map(|id| self.orders[&id].clone());
        let (order_qty, cum_qty) = k.as_ref().map_or((10, 0), |k| (k.order_qty, k.cum_qty));
        let qty_lots = match self.rng.random_range(0..100) {
            0..35 => order_qty,
            35..60 => self
                .rng
                .random_range(cum_qty + 1..=order_qty.max(cum_qty + 1)),
            60..88 => order_qty + self.rng.random_range(1..=10),
            88..95 => self.rng.random_range(0..=cum_qty),
            95..98 => 0,
            _ => self.rng.random_range(1_001..5_000),
        };
        let has_limit = k.as_ref().is_none_or(|k| k.ord_type.has_limit_price());
        let price_ticks = if (has_limit && self.pct(50)) || self.pct(3) {
            let base = k.as_ref().and_then(|k| k.price).unwrap_or(100);
            Some((base + self.rng.random_range(-3..=3)).max(1))
        } else {
            None
        };
        let has_stop = k.as_ref().is_some_and(|k| k.ord_type.has_stop_price());
        let stop_price_ticks = if (has_stop && self.pct(35)) || self.pct(3) {
            let base = k.as_ref().and_then(|k| k.stop_price).unwrap_or(100);
            Some((base + self.rng.random_range(-3..=3)).max(1))
        } else {
            None
        };
        Replace {
            participant,
            cl_ord_id,
            target,
            qty_lots,
            price_ticks,
            stop_price_ticks,
        }
    }

    /// Learns from the events of the last input.
    pub(crate) fn observe(&mut self, events: &[Event]) {
        for e in events {
            match e {
                Event::Trade(t) => {
                    self.last_px.insert(t.instrument, t.price_ticks);
                }
                Event::Exec(r)
                    if r.order_id != OrderId::NONE
                        && !matches!(r.exec_type, ExecType::Rejected | ExecType::OrderStatus) =>
                {
                    self.order_id_max = self.order_id_max.max(r.order_id.0);
                    let k = self.orders.entry(r.order_id).or_insert_with(|| KnownOrder {
                        participant: r.participant,
                        cl_ord_ids: Vec::new(),
                        ord_type: r.ord_type,
                        live: true,
                        price: None,
                        stop_price: None,
                        order_qty: 0,
                        cum_qty: 0,
                    });
                    if !k.cl_ord_ids.contains(&r.cl_ord_id) {
                        k.cl_ord_ids.push(r.cl_ord_id);
                    }
                    k.live = r.ord_status.is_live();
                    k.price = r.price_ticks;
                    k.stop_price = r.stop_price_ticks;
                    k.order_qty = r.order_qty_lots;
                    k.cum_qty = r.cum_qty_lots;
                }
                _ => {}
            }
        }
        // Keep the memory bounded: drop the oldest finished orders.
        while self.orders.len() > 600 {
            let Some(id) = self.orders.iter().find(|(_, k)| !k.live).map(|(id, _)| *id) else {
                break;
            };
            self.orders.remove(&id);
        }
    }
}
