//! The engine: state, the `apply` entry point, validation and matching.
//!
//! State lives in a few flat structures (see the crate docs for the rules):
//! an order slab (`orders`, reused through a free list, never shrunk), hash
//! indexes from OrderID and from (participant, ClOrdID) to slab slot, one
//! [`BookSide`] pair and two stop books per instrument, an expiry index, and
//! the queue of finished orders kept for status requests until their trading
//! day ends. Nothing iterates a hash map. Scratch vectors are reused across
//! inputs so that the steady state does not allocate.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::book::{BookSide, Level, Linked, NIL};
use crate::chunked::ChunkPool;
use crate::codec::SnapshotError;
use crate::config::{Collar, ConfigError, EngineConfig, InstrumentSpec, next_day_end_ns};
use crate::controls::{Credit, VolWindow, order_notional};
use crate::event::{
    BookLevel, CancelReject, CxlRejResponseTo, Event, EventSink, ExecType, ExecutionReport,
    MassCancelReport, OrdStatus, Reason, TradePrint,
};
use crate::input::{
    Cancel, HashScheme, Input, MassCancel, MassStatusRequest, NewOrder, OrderRef,
    OrderStatusRequest, Replace,
};
use crate::reason::{CancelReason, RejectReason};
use crate::store::{ClEntry, ClOrdIndex, DONE, DoneOrder, Loc, OrderStore, Vacant};
use crate::types::{
    ClOrdId, ExecId, InstrumentId, OrdType, OrderId, ParticipantId, Phase, PriceTicks, QtyLots,
    Side, StpMode, TimeInForce, TimeNs, TradeId,
};

/// Where an order is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// Being processed as an incoming order (only inside `apply`).
    Incoming,
    /// In a price level's queue.
    Resting,
    /// In a stop book, not yet triggered.
    Stop,
    /// Finished (filled, cancelled, expired), kept for status until its day ends.
    Done,
    /// A free slab slot.
    Free,
}

/// One order, live or finished today.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Order {
    pub(crate) id: OrderId,
    pub(crate) participant: ParticipantId,
    pub(crate) instrument: InstrumentId,
    /// Index into `Engine::instruments`.
    pub(crate) inst: u32,
    pub(crate) side: Side,
    pub(crate) ord_type: OrdType,
    pub(crate) tif: TimeInForce,
    pub(crate) place: Place,
    pub(crate) status: OrdStatus,
    pub(crate) post_only: bool,
    /// A stop or stop-limit that has been triggered.
    pub(crate) triggered: bool,
    pub(crate) price_ticks: Option<PriceTicks>,
    pub(crate) stop_price_ticks: Option<PriceTicks>,
    pub(crate) qty_lots: QtyLots,
    pub(crate) cum_qty_lots: QtyLots,
    pub(crate) leaves_qty_lots: QtyLots,
    /// Displayed part of the leaves while resting.
    pub(crate) visible_qty_lots: QtyLots,
    /// Iceberg display quantity; 0 for fully displayed.
    pub(crate) display_qty_lots: QtyLots,
    pub(crate) min_qty_lots: QtyLots,
    pub(crate) expire_time_ns: Option<TimeNs>,
    pub(crate) cum_notional_tick_lots: i128,
    pub(crate) cl_ord_id: ClOrdId,
    /// Entry of the current ClOrdID in the ClOrdID index (its chain leads to
    /// the earlier ones).
    pub(crate) cl_entry: u32,
    pub(crate) reason: Reason,
    /// Time the order finished (valid when `place == Done`).
    pub(crate) done_time_ns: TimeNs,
    pub(crate) prev: u32,
    pub(crate) next: u32,
}

impl Linked for Order {
    #[inline]
    fn prev(&self) -> u32 {
        self.prev
    }
    #[inline]
    fn next(&self) -> u32 {
        self.next
    }
    #[inline]
    fn set_prev(&mut self, prev: u32) {
        self.prev = prev;
    }
    #[inline]
    fn set_next(&mut self, next: u32) {
        self.next = next;
    }
}

impl Order {
    /// Whether the order can still trade.
    #[inline]
    pub(crate) fn is_live(&self) -> bool {
        matches!(self.place, Place::Incoming | Place::Resting | Place::Stop)
    }

    /// Whether an expired-by-time check applies at `now`.
    #[inline]
    fn is_expired_at(&self, now: TimeNs) -> bool {
        matches!(self.expire_time_ns, Some(e) if e <= now)
    }

    /// Whether, once matching is over, its rest is cancelled as a market order's.
    #[inline]
    fn trades_as_market(&self) -> bool {
        self.ord_type == OrdType::Market || (self.ord_type == OrdType::Stop && self.triggered)
    }

    /// The limit it matches with: none for market orders and triggered stops.
    #[inline]
    fn matching_limit(&self) -> Option<PriceTicks> {
        match self.ord_type {
            OrdType::Limit | OrdType::StopLimit => self.price_ticks,
            OrdType::Market | OrdType::Stop => None,
        }
    }

    /// The displayed quantity when (re)joining a level.
    #[inline]
    fn tranche(&self) -> QtyLots {
        if self.display_qty_lots == 0 {
            self.leaves_qty_lots
        } else {
            self.display_qty_lots.min(self.leaves_qty_lots)
        }
    }

    fn live_status(&self) -> OrdStatus {
        if self.cum_qty_lots > 0 {
            OrdStatus::PartiallyFilled
        } else {
            OrdStatus::New
        }
    }
}

/// Per-instrument state.
#[derive(Clone, Debug)]
pub(crate) struct Instrument {
    pub(crate) spec: InstrumentSpec,
    pub(crate) bids: BookSide,
    pub(crate) asks: BookSide,
    /// Untriggered buy stops by (stop price, OrderId) → slot.
    pub(crate) buy_stops: BTreeMap<(PriceTicks, OrderId), u32>,
    /// Untriggered sell stops by (stop price, OrderId) → slot.
    pub(crate) sell_stops: BTreeMap<(PriceTicks, OrderId), u32>,
    pub(crate) last_trade_ticks: Option<PriceTicks>,
    /// Trading phase.
    pub(crate) phase: Phase,
    /// When a volatility halt ends; 0 if none.
    pub(crate) resume_at_ns: TimeNs,
    /// Reference trades for the volatility band (empty without one).
    pub(crate) vol: VolWindow,
    /// The phase the trading hours gave at the last clock tick.
    pub(crate) scheduled: Option<Phase>,
}

impl Instrument {
    pub(crate) fn new(spec: InstrumentSpec) -> Instrument {
        Instrument {
            bids: BookSide::new(Side::Buy),
            asks: BookSide::new(Side::Sell),
            buy_stops: BTreeMap::new(),
            sell_stops: BTreeMap::new(),
            last_trade_ticks: None,
            phase: spec.phase,
            resume_at_ns: 0,
            vol: VolWindow::default(),
            scheduled: None,
            spec,
        }
    }

    #[inline]
    pub(crate) fn book(&self, side: Side) -> &BookSide {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    #[inline]
    pub(crate) fn book_mut(&mut self, side: Side) -> &mut BookSide {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    #[inline]
    fn reference_ticks(&self) -> Option<PriceTicks> {
        self.last_trade_ticks.or(self.spec.reference_price_ticks)
    }

    /// The collar band around the current reference, if there is one.
    #[inline]
    fn band(&self) -> Option<(PriceTicks, PriceTicks)> {
        let collar: Collar = self.spec.collar?;
        Some(collar.band(self.reference_ticks()?))
    }

    /// Whether a post-only order at `price` on `side` would take liquidity.
    fn crosses(&self, side: Side, price: PriceTicks) -> bool {
        match self.book(side.opposite()).best() {
            Some(l) => match side {
                Side::Buy => l.price_ticks <= price,
                Side::Sell => l.price_ticks >= price,
            },
            None => false,
        }
    }

    #[inline]
    fn notional_ok(&self, price: Option<PriceTicks>, qty: QtyLots) -> bool {
        match (self.spec.notional_max_tick_lots, price) {
            (Some(max), Some(p)) => u128::from(p.unsigned_abs()) * u128::from(qty) <= max,
            _ => true,
        }
    }
}

fn in_band(band: Option<(PriceTicks, PriceTicks)>, price: PriceTicks) -> bool {
    band.is_none_or(|(lo, hi)| lo <= price && price <= hi)
}

/// The prices within both bands.
fn intersect(
    a: Option<(PriceTicks, PriceTicks)>,
    b: Option<(PriceTicks, PriceTicks)>,
) -> Option<(PriceTicks, PriceTicks)> {
    match (a, b) {
        (Some((alo, ahi)), Some((blo, bhi))) => Some((alo.max(blo), ahi.min(bhi))),
        (x, None) | (None, x) => x,
    }
}

/// The execution report of order `o` after `exec_type` happened to it.
#[inline]
fn execution_report(
    exec_id: ExecId,
    o: &Order,
    exec_type: ExecType,
    orig: ClOrdId,
    fill: Fill,
) -> ExecutionReport {
    ExecutionReport {
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
        price_ticks: o.price_ticks,
        stop_price_ticks: o.stop_price_ticks,
        order_qty_lots: o.qty_lots,
        leaves_qty_lots: o.leaves_qty_lots,
        cum_qty_lots: o.cum_qty_lots,
        cum_notional_tick_lots: o.cum_notional_tick_lots,
        last_qty_lots: fill.qty_lots,
        last_px_ticks: fill.px_ticks,
        trade_id: fill.trade_id,
        aggressor: fill.aggressor,
        expire_time_ns: o.expire_time_ns,
        reason: match exec_type {
            ExecType::Canceled | ExecType::Expired | ExecType::Restated | ExecType::OrderStatus => {
                o.reason
            }
            _ => Reason::None,
        },
    }
}

/// Fill details of an execution report.
#[derive(Clone, Copy)]
struct Fill {
    qty_lots: QtyLots,
    px_ticks: PriceTicks,
    trade_id: TradeId,
    aggressor: bool,
}

const NO_FILL: Fill = Fill {
    qty_lots: 0,
    px_ticks: 0,
    trade_id: TradeId(0),
    aggressor: false,
};

/// The identifiers of a cancel or replace request, for its reject.
#[derive(Clone, Copy)]
struct CxlRequest<'a> {
    participant: ParticipantId,
    cl_ord_id: ClOrdId,
    target: &'a OrderRef,
    response_to: CxlRejResponseTo,
}

/// What stopped an incoming order's matching.
#[derive(Clone, Copy, Default)]
struct MatchEnd {
    collar_hit: bool,
    stp_cancel: bool,
    /// The next trade would have been outside the volatility band.
    vol_hit: bool,
}

/// ClOrdIDs the index is sized for, per order of `orders_capacity`: the
/// order's own and one cancel's or replace's. A day within that never grows
/// the table (a doubling past a million entries is a 25–40 ms pause).
const CL_ORD_IDS_PER_ORDER: usize = 2;

/// Makes an engine's next store chunks ahead of need; see
/// [`Engine::chunk_feeder`]. Cheap to clone; any thread.
#[derive(Clone, Debug)]
pub struct ChunkFeeder {
    done: Arc<ChunkPool<DoneOrder>>,
    entries: Arc<ChunkPool<ClEntry>>,
}

impl ChunkFeeder {
    /// Makes chunks until each pool holds its few; returns how many it
    /// made (each up to a few milliseconds of page faults, on the calling
    /// thread). `pace` runs after every 2 MiB written: a caller that sleeps
    /// there never holds a CPU for long, which matters where the helper
    /// shares cores with busy-spinning threads. Call it every millisecond
    /// or so.
    pub fn top_up(&self, pace: &mut dyn FnMut()) -> usize {
        self.done.top_up(pace) + self.entries.top_up(pace)
    }
}

/// How many inputs ahead of its turn a caller announces each input to
/// [`Engine::prefetch_at`] (the sequencer, replay and recovery do): one
/// distance for each link of a cancel's chain of reads.
pub const PREFETCH_DISTANCE: usize = 4;

/// How many inputs' announcements a [`Lookahead`] remembers: more than
/// [`PREFETCH_DISTANCE`], a power of two.
const LOOKAHEAD_SLOTS: usize = 8;
const _: () = assert!(LOOKAHEAD_SLOTS > PREFETCH_DISTANCE && LOOKAHEAD_SLOTS.is_power_of_two());

/// What announcing each input of a look-ahead window has found so far (see
/// [`Engine::prefetch_ahead`]); kept by the caller, one per stream of
/// inputs. Holds hints only: any content, stale or from another engine,
/// changes nothing but which memory is loaded early.
#[derive(Clone, Debug)]
pub struct Lookahead {
    memo: [Memo; LOOKAHEAD_SLOTS],
}

impl Default for Lookahead {
    fn default() -> Self {
        Lookahead {
            memo: [Memo::EMPTY; LOOKAHEAD_SLOTS],
        }
    }
}

impl Lookahead {
    #[inline]
    fn memo_mut(&mut self, pos: u64) -> &mut Memo {
        &mut self.memo[pos as usize & (LOOKAHEAD_SLOTS - 1)]
    }
}

/// One input's announcements so far: the link found at the last distance.
#[derive(Clone, Copy, Debug)]
struct Memo {
    /// The input's position in the caller's stream (`u64::MAX`: none).
    pos: u64,
    /// The distance this memo serves next (3, 2 or 1), 0 if the chain
    /// ended.
    next: u8,
    /// The cancel's or replace's target ClOrdID's table hash (from 4).
    hash: u32,
    /// The entry number its table line tagged with that hash (from 3).
    entry: u32,
    /// Where that entry's order was (from 2).
    loc: Loc,
}

impl Memo {
    const EMPTY: Memo = Memo {
        pos: u64::MAX,
        next: 0,
        hash: 0,
        entry: 0,
        loc: 0,
    };
}

/// The matching engine. See the crate docs for its rules.
///
/// `Clone` copies the whole state (the venue's periodic snapshots copy the
/// engine on the matching thread and encode the copy elsewhere);
/// `clone_from` refreshes an earlier copy in place, reusing its memory, so
/// a snapshot's pause is a memory copy without page faults.
#[derive(Debug)]
pub struct Engine {
    pub(crate) config: EngineConfig,
    pub(crate) instruments: Vec<Instrument>,
    /// Instrument id → index into `instruments`, or `NIL`.
    pub(crate) instrument_index: Vec<u32>,
    /// Participant id → STP mode, `None` if unknown.
    pub(crate) participants: Vec<Option<StpMode>>,
    /// Participant id → dense index (config order) into `killed` and
    /// `credit`, or `u32::MAX`.
    pub(crate) account_index: Vec<u32>,
    /// Kill switches, by dense participant index.
    pub(crate) killed: Vec<bool>,
    /// Rate limits the operator set (per second, burst), by dense
    /// participant index; `None`: the configuration's.
    pub(crate) rates: Vec<Option<(u32, u32)>>,
    /// Credit, by dense participant index × instruments + instrument index.
    pub(crate) credit: Vec<Credit>,
    /// Whether the participant may trade the instrument, indexed as `credit`.
    pub(crate) permitted: Vec<bool>,
    pub(crate) store: OrderStore,
    pub(crate) cl_index: ClOrdIndex,
    /// Live Day and GTD orders by (expire time, OrderId) → slot.
    pub(crate) expiries: BTreeMap<(TimeNs, OrderId), u32>,
    pub(crate) next_order_id: u64,
    pub(crate) next_trade_id: u64,
    /// The finished orders' part of [`Engine::state_hash`], kept as it goes
    /// (a cache of a function of the state, not state itself).
    pub(crate) finished_digest: FinishedDigest,
    // Per-input context and scratch; not state.
    seq: u64,
    pub(crate) now: TimeNs,
    exec_idx: u32,
    triggered: Vec<(OrderId, u32)>,
    pub(crate) scratch: Vec<(OrderId, u32)>,
    /// Slots of orders finished during this input, moved to the finished
    /// queue once the input's events are out.
    to_retire: Vec<u32>,
}

/// The finished orders' part of [`Engine::state_hash`]: the xxh3 state
/// after the encoding of the first `folded` records of the finished queue,
/// in queue order. Finished orders never change until a day's end forgets
/// them, oldest first; so a checkpoint hashes only the orders finished
/// since the last fold ([`Engine::fold_finished`]; the sequencer also folds
/// a few at a time when it is idle), and a day's end folds again what it
/// kept.
#[derive(Clone)]
pub(crate) struct FinishedDigest {
    pub(crate) hasher: xxhash_rust::xxh3::Xxh3,
    pub(crate) folded: usize,
}

impl Default for FinishedDigest {
    fn default() -> Self {
        FinishedDigest {
            hasher: xxhash_rust::xxh3::Xxh3::new(),
            folded: 0,
        }
    }
}

impl std::fmt::Debug for FinishedDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FinishedDigest")
            .field("folded", &self.folded)
            .finish_non_exhaustive()
    }
}

impl Clone for Engine {
    fn clone(&self) -> Self {
        let mut copy = Engine {
            config: self.config.clone(),
            instruments: Vec::new(),
            instrument_index: Vec::new(),
            participants: Vec::new(),
            account_index: Vec::new(),
            killed: Vec::new(),
            rates: Vec::new(),
            credit: Vec::new(),
            permitted: Vec::new(),
            store: OrderStore::default(),
            cl_index: ClOrdIndex::default(),
            expiries: BTreeMap::new(),
            next_order_id: 0,
            next_trade_id: 0,
            finished_digest: FinishedDigest::default(),
            seq: 0,
            now: 0,
            exec_idx: 0,
            triggered: Vec::new(),
            scratch: Vec::new(),
            to_retire: Vec::new(),
        };
        copy.clone_from(self);
        copy
    }

    /// Every field (the destructuring makes a new field a compile error
    /// here until it is copied), reusing this engine's memory.
    fn clone_from(&mut self, source: &Self) {
        let Engine {
            config,
            instruments,
            instrument_index,
            participants,
            account_index,
            killed,
            rates,
            credit,
            permitted,
            store,
            cl_index,
            expiries,
            next_order_id,
            next_trade_id,
            finished_digest,
            seq,
            now,
            exec_idx,
            triggered,
            scratch,
            to_retire,
        } = source;
        self.config.clone_from(config);
        self.instruments.clone_from(instruments);
        self.instrument_index.clone_from(instrument_index);
        self.participants.clone_from(participants);
        self.account_index.clone_from(account_index);
        self.killed.clone_from(killed);
        self.rates.clone_from(rates);
        self.credit.clone_from(credit);
        self.permitted.clone_from(permitted);
        self.store.clone_from(store);
        self.cl_index.clone_from(cl_index);
        self.expiries.clone_from(expiries);
        self.next_order_id = *next_order_id;
        self.next_trade_id = *next_trade_id;
        self.finished_digest.clone_from(finished_digest);
        self.seq = *seq;
        self.now = *now;
        self.exec_idx = *exec_idx;
        self.triggered.clone_from(triggered);
        self.scratch.clone_from(scratch);
        self.to_retire.clone_from(to_retire);
    }
}

impl Engine {
    /// Builds an engine with empty books.
    ///
    /// # Errors
    /// The first problem [`EngineConfig::validate`] finds.
    pub fn new(config: EngineConfig) -> Result<Engine, ConfigError> {
        config.validate()?;
        let max_inst = config.instruments.iter().map(|i| i.id.0).max().unwrap_or(0);
        let mut instrument_index = vec![NIL; max_inst as usize + 1];
        let mut instruments = Vec::with_capacity(config.instruments.len());
        for (i, spec) in config.instruments.iter().enumerate() {
            instrument_index[spec.id.0 as usize] = i as u32;
            instruments.push(Instrument::new(spec.clone()));
        }
        let max_part = config
            .participants
            .iter()
            .map(|p| p.id.0)
            .max()
            .unwrap_or(0);
        let mut participants = vec![None; max_part as usize + 1];
        let mut account_index = vec![u32::MAX; max_part as usize + 1];
        for (i, p) in config.participants.iter().enumerate() {
            participants[p.id.0 as usize] = Some(p.stp);
            account_index[p.id.0 as usize] = i as u32;
        }
        let n_inst = instruments.len();
        let mut credit = vec![Credit::default(); config.participants.len() * n_inst];
        for c in &config.credit_limits {
            let (Some(&a), Some(&ii)) = (
                account_index.get(c.participant.0 as usize),
                instrument_index.get(c.instrument.0 as usize),
            ) else {
                continue;
            };
            if a != u32::MAX && ii != NIL {
                credit[a as usize * n_inst + ii as usize].limit =
                    Some(c.max_open_notional_tick_lots);
            }
        }
        let killed = vec![false; config.participants.len()];
        let mut permitted = vec![true; config.participants.len() * n_inst];
        for p in &config.permissions {
            let Some(&a) = account_index.get(p.participant.0 as usize) else {
                continue;
            };
            if a == u32::MAX {
                continue;
            }
            let row = &mut permitted[a as usize * n_inst..(a as usize + 1) * n_inst];
            row.fill(false);
            for i in &p.instruments {
                if let Some(&ii) = instrument_index.get(i.0 as usize)
                    && ii != NIL
                {
                    row[ii as usize] = true;
                }
            }
        }
        let cap = config.orders_capacity;
        Ok(Engine {
            config,
            instruments,
            instrument_index,
            participants,
            account_index,
            rates: vec![None; killed.len()],
            killed,
            credit,
            permitted,
            store: OrderStore::with_capacity(cap.min(1 << 16), cap),
            cl_index: ClOrdIndex::with_capacity(cap.saturating_mul(CL_ORD_IDS_PER_ORDER)),
            expiries: BTreeMap::new(),
            next_order_id: 1,
            next_trade_id: 1,
            finished_digest: FinishedDigest::default(),
            seq: 0,
            now: 0,
            exec_idx: 0,
            triggered: Vec::new(),
            scratch: Vec::new(),
            to_retire: Vec::new(),
        })
    }

    /// The configuration the engine was built with.
    #[must_use]
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Applies one sequenced input, writing its events into `sink` in order.
    ///
    /// `seq` must increase from one call to the next and `time_ns` should not
    /// decrease; both come from the sequencer, which journals the input first.
    pub fn apply(&mut self, seq: u64, time_ns: TimeNs, input: &Input, sink: &mut impl EventSink) {
        self.seq = seq;
        self.now = time_ns;
        self.exec_idx = 0;
        match input {
            Input::NewOrder(o) => self.new_order(o, sink),
            Input::Cancel(c) => self.cancel(c, sink),
            Input::Replace(r) => self.replace(r, sink),
            Input::MassCancel(m) => self.mass_cancel(m, sink),
            Input::OrderStatus(s) => self.status(s, sink),
            Input::MassStatus(m) => self.mass_status(m, sink),
            Input::ClockTick => self.clock_tick(sink),
            Input::Admin(a) => self.admin(a, sink),
            // Verified by whoever replays; the live engine has nothing to do.
            Input::Checkpoint { .. } => {}
        }
        debug_assert!(self.triggered.is_empty());
        for i in 0..self.to_retire.len() {
            let slot = self.to_retire[i];
            let head = self.store.live(slot).cl_entry;
            let loc = self.store.retire(slot);
            self.cl_index.relocate(head, loc);
        }
        self.to_retire.clear();
    }

    /// The handle that makes this engine's next store chunks ahead of need
    /// (finished orders and ClOrdID entries), for a thread of the caller's
    /// to run: with it, opening a chunk on the matching thread takes a
    /// ready one (already faulted in) instead of writing megabytes. Where
    /// chunks come from changes nothing stored; without it, or when it
    /// falls behind, the engine makes its own. Take it from the engine
    /// that will run (after a restore and replay): a copy or a restored
    /// engine has pools of its own.
    pub fn chunk_feeder(&mut self) -> ChunkFeeder {
        ChunkFeeder {
            done: self.store.done_pool(),
            entries: self.cl_index.entries_pool(),
        }
    }

    /// A hint that `input` is the next to be applied: starts loading, without
    /// waiting, the memory its ClOrdID lookups will read first, so that the
    /// loads overlap the work of the input applied before it. Changes no
    /// state; calling it or not never changes what `apply` does.
    #[inline]
    pub fn prefetch(&self, input: &Input) {
        self.prefetch_first_link(input);
    }

    /// [`Engine::prefetch`]; returns the table hash of a cancel's or
    /// replace's target ClOrdID, the start of the chain the deeper
    /// distances follow.
    #[inline]
    fn prefetch_first_link(&self, input: &Input) -> Option<u32> {
        match input {
            Input::NewOrder(o) => {
                self.cl_index.prefetch(o.participant, &o.cl_ord_id);
                None
            }
            Input::Cancel(Cancel {
                participant,
                cl_ord_id,
                target,
            })
            | Input::Replace(Replace {
                participant,
                cl_ord_id,
                target,
                ..
            }) => {
                self.cl_index.prefetch(*participant, cl_ord_id);
                match target {
                    OrderRef::ClOrdId(t) => {
                        let hash = ClOrdIndex::hash_of(*participant, t);
                        self.cl_index.prefetch_hashed(hash);
                        Some(hash)
                    }
                    OrderRef::OrderId(_) => None,
                }
            }
            _ => None,
        }
    }

    /// A deeper hint than [`Engine::prefetch`], for an input `distance`
    /// places before its turn (1: the next to be applied). A cancel or
    /// replace by ClOrdID reads four things one after the other: the
    /// table line of its target's id, the entry that line points to, the
    /// order that entry locates, and that order's neighbours in its queue
    /// (to unlink it); each distance starts loading one link of that
    /// chain, assuming the previous link was asked for at the distance
    /// before (so announce each input at [`PREFETCH_DISTANCE`] down to 1
    /// in turn): 4 or more the table lines (as `prefetch`), 3 the entries,
    /// 2 the live order, 1 its neighbours. Changes no state; any call or
    /// none leaves `apply`'s results unchanged.
    #[inline]
    pub fn prefetch_at(&self, input: &Input, distance: usize) {
        if distance >= PREFETCH_DISTANCE {
            return self.prefetch(input);
        }
        let (Input::Cancel(Cancel {
            participant,
            target: OrderRef::ClOrdId(target),
            ..
        })
        | Input::Replace(Replace {
            participant,
            target: OrderRef::ClOrdId(target),
            ..
        })) = input
        else {
            return;
        };
        if distance == 3 {
            return self.cl_index.prefetch_candidate(*participant, target);
        }
        let Some(e) = self.cl_index.find(*participant, target) else {
            return;
        };
        if e.loc & DONE != 0 {
            return;
        }
        if distance == 2 {
            self.store.prefetch_live(e.loc);
        } else {
            self.store.prefetch_live_neighbours(e.loc);
        }
    }

    /// [`Engine::prefetch_at`] with a memory: `ahead` keeps what announcing
    /// the input at position `pos` of the caller's stream (any number that
    /// grows by one per input: a sequence number, a ring position) found
    /// at the distance before, so each distance starts loading its link of
    /// the chain from there instead of hashing and probing from the
    /// ClOrdID again. An input first announced below
    /// [`PREFETCH_DISTANCE`] (nothing kept for `pos`) is announced as
    /// `prefetch_at` does. What is kept may have gone stale by the next
    /// distance (the inputs applied between may move or finish orders):
    /// that only wastes a hint. Changes no state; `apply`'s results are the
    /// same with any calls or none.
    #[inline]
    pub fn prefetch_ahead(&self, ahead: &mut Lookahead, pos: u64, input: &Input, distance: usize) {
        let memo = ahead.memo_mut(pos);
        if distance >= PREFETCH_DISTANCE {
            let target = self.prefetch_first_link(input);
            *memo = Memo {
                pos,
                next: if target.is_some() { 3 } else { 0 },
                hash: target.unwrap_or(0),
                ..Memo::EMPTY
            };
            return;
        }
        if memo.pos != pos {
            return self.prefetch_at(input, distance);
        }
        if memo.next == 0 {
            // The chain ended at an earlier link: a new order, no
            // candidate, a finished order.
            return;
        }
        if usize::from(memo.next) != distance {
            // A distance was skipped (the sequencer's batch ended, a
            // producer's slot was not written yet): this distance and the
            // later ones from the ClOrdID.
            *memo = Memo::EMPTY;
            return self.prefetch_at(input, distance);
        }
        memo.next = 0;
        match distance {
            3 => {
                if let Some(entry) = self.cl_index.prefetch_candidate_hashed(memo.hash) {
                    memo.entry = entry;
                    memo.next = 2;
                }
            }
            2 => {
                if let Some(loc) = self.cl_index.loc_of_entry(memo.entry)
                    && loc & DONE == 0
                {
                    self.store.prefetch_live(loc);
                    memo.loc = loc;
                    memo.next = 1;
                }
            }
            _ => self.store.prefetch_live_neighbours(memo.loc),
        }
    }

    /// A deterministic hash of the whole state: books, orders (live and
    /// finished today), ClOrdIDs, counters, controls. Equal states hash
    /// equal. It is the hash of the canonical state encoding
    /// ([`Engine::snapshot`]) with the finished orders' records replaced by
    /// their count and the hash of their encoding; that hash is carried
    /// forward as orders finish ([`Engine::fold_finished`]), so the state
    /// hash costs the live state and the orders finished since the last
    /// fold, not a whole day's orders. What the sequencer's checkpoints
    /// carry.
    #[must_use]
    pub fn state_hash(&self) -> u64 {
        crate::codec::hash_state_folded(self)
    }

    /// The hash of the whole canonical state encoding: equal to
    /// [`crate::codec::state_hash_of`] of [`Engine::snapshot`], computed
    /// without holding the encoding. What a snapshot file records, and what
    /// checkpoints journaled before input format 2 carry. It costs every
    /// order finished today.
    #[must_use]
    pub fn encoding_hash(&self) -> u64 {
        crate::codec::hash_state(self)
    }

    /// Carries the finished-order part of [`Engine::state_hash`] forward
    /// over every order finished since the last fold. Changes no state and
    /// no hash: only how much the next `state_hash` has to compute.
    pub fn fold_finished(&mut self) {
        self.fold_finished_some(usize::MAX);
    }

    /// As [`Engine::fold_finished`], over at most `max` orders (for a loop
    /// with a moment to spare); returns how many it folded.
    pub fn fold_finished_some(&mut self, max: usize) -> usize {
        let from = self.finished_digest.folded;
        debug_assert!(from <= self.store.done_len(), "folded beyond the queue");
        let to = self.store.done_len().min(from.saturating_add(max));
        if to > from {
            let mut hasher = std::mem::take(&mut self.finished_digest).hasher;
            crate::codec::fold_finished(self, from..to, &mut hasher);
            self.finished_digest = FinishedDigest { hasher, folded: to };
        }
        to - from
    }

    /// The hash a checkpoint of `scheme` carries for the current state
    /// (folding finished orders first, for the current scheme).
    pub fn checkpoint_hash(&mut self, scheme: HashScheme) -> u64 {
        match scheme {
            HashScheme::Encoding => self.encoding_hash(),
            HashScheme::Folded => {
                self.fold_finished();
                self.state_hash()
            }
        }
    }

    /// The whole state in its canonical, versioned binary encoding (see
    /// [`crate::codec`]).
    #[must_use]
    pub fn snapshot(&self) -> Vec<u8> {
        let mut out = Vec::new();
        crate::codec::encode_state(self, &mut out);
        out
    }

    /// Rebuilds an engine from a [`Engine::snapshot`] and its configuration.
    ///
    /// # Errors
    /// The bytes do not decode, do not describe a consistent state, or name an
    /// instrument the configuration lacks.
    pub fn restore(config: EngineConfig, snapshot: &[u8]) -> Result<Engine, SnapshotError> {
        crate::codec::decode_state(config, snapshot)
    }

    /// The levels of one side of an instrument's book, best first.
    #[must_use]
    pub fn book_levels(&self, instrument: InstrumentId, side: Side) -> Vec<BookLevel> {
        let Some(ii) = self.instrument_idx(instrument) else {
            return Vec::new();
        };
        self.instruments[ii]
            .book(side)
            .levels_best_first()
            .map(|l| BookLevel {
                instrument,
                side,
                price_ticks: l.price_ticks,
                qty_lots: l.qty_lots,
                order_count: l.order_count,
            })
            .collect()
    }

    /// The queue at one price level, front first: (order, owner, displayed
    /// quantity, leaves quantity).
    #[must_use]
    pub fn level_queue(
        &self,
        instrument: InstrumentId,
        side: Side,
        price_ticks: PriceTicks,
    ) -> Vec<(OrderId, ParticipantId, QtyLots, QtyLots)> {
        let mut out = Vec::new();
        let Some(ii) = self.instrument_idx(instrument) else {
            return out;
        };
        if let Some(level) = self.instruments[ii].book(side).level(price_ticks) {
            let mut s = level.head;
            while s != NIL {
                let o = self.store.live(s);
                out.push((o.id, o.participant, o.visible_qty_lots, o.leaves_qty_lots));
                s = o.next;
            }
        }
        out
    }

    /// The last trade price of an instrument.
    #[must_use]
    pub fn last_trade_ticks(&self, instrument: InstrumentId) -> Option<PriceTicks> {
        let ii = self.instrument_idx(instrument)?;
        self.instruments[ii].last_trade_ticks
    }

    /// How many orders are live (resting or waiting stops).
    #[must_use]
    pub fn live_order_count(&self) -> usize {
        self.store.live_count()
    }

    /// How many finished orders the engine still remembers (those of the
    /// current trading day, and any the next day end has not forgotten).
    #[must_use]
    pub fn finished_order_count(&self) -> usize {
        self.store.done_len()
    }

    // ----- lookups -------------------------------------------------------

    #[inline]
    pub(crate) fn instrument_idx(&self, id: InstrumentId) -> Option<usize> {
        match self.instrument_index.get(id.0 as usize) {
            Some(&i) if i != NIL => Some(i as usize),
            _ => None,
        }
    }

    #[inline]
    fn stp_mode(&self, p: ParticipantId) -> Option<StpMode> {
        self.participants.get(p.0 as usize).copied().flatten()
    }

    /// Where `target` is, if it is an order of `participant` known today.
    fn resolve(&self, participant: ParticipantId, target: &OrderRef) -> Option<Loc> {
        match target {
            OrderRef::ClOrdId(id) => self.cl_index.find(participant, id).map(|e| e.loc),
            OrderRef::OrderId(id) => {
                let loc = self.store.find(*id)?;
                (self.store.summary(loc).1 == participant).then_some(loc)
            }
        }
    }

    /// Where (participant, id) goes in the ClOrdID index, or the order that
    /// already uses it.
    #[inline]
    fn cl_ord_id_free(&self, participant: ParticipantId, id: &ClOrdId) -> Result<Vacant, OrderId> {
        match self.cl_index.lookup(participant, id) {
            Ok(e) => Err(self.store.summary(e.loc).0),
            Err(v) => Ok(v),
        }
    }

    // ----- events ----------------------------------------------------------

    fn next_exec_id(&mut self) -> ExecId {
        let id = ExecId {
            seq: self.seq,
            idx: self.exec_idx,
        };
        self.exec_idx += 1;
        id
    }

    /// Reports the state of the order in `slot`.
    fn report(
        &mut self,
        sink: &mut impl EventSink,
        slot: u32,
        exec_type: ExecType,
        orig: ClOrdId,
        fill: Fill,
    ) {
        let exec_id = self.next_exec_id();
        if slot & DONE != 0 {
            return self.report_finished(sink, slot, exec_id, exec_type, orig, fill);
        }
        let er = execution_report(exec_id, self.store.live(slot), exec_type, orig, fill);
        sink.event(&Event::Exec(er));
    }

    /// Reports a finished order (only status requests do), rebuilt from
    /// what the finished queue keeps; apart from the common path, so that the
    /// rebuilt record does not weigh on it.
    #[cold]
    #[inline(never)]
    fn report_finished(
        &self,
        sink: &mut impl EventSink,
        loc: Loc,
        exec_id: ExecId,
        exec_type: ExecType,
        orig: ClOrdId,
        fill: Fill,
    ) {
        let d = self.store.done(loc);
        let o = d.into_order(
            self.cl_index.entry(d.cl_entry).cl_ord_id,
            self.instruments[d.inst as usize].spec.id,
        );
        let er = execution_report(exec_id, &o, exec_type, orig, fill);
        sink.event(&Event::Exec(er));
    }

    fn reject_new(
        &mut self,
        sink: &mut impl EventSink,
        o: &NewOrder,
        reason: RejectReason,
        existing: OrderId,
    ) {
        let exec_id = self.next_exec_id();
        sink.event(&Event::Exec(ExecutionReport {
            exec_id,
            exec_type: ExecType::Rejected,
            ord_status: OrdStatus::Rejected,
            participant: o.participant,
            instrument: o.instrument,
            order_id: existing,
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
            trade_id: TradeId(0),
            aggressor: false,
            expire_time_ns: o.expire_time_ns,
            reason: Reason::Reject(reason),
        }));
    }

    fn level_event_from(&self, sink: &mut impl EventSink, inst: usize, side: Side, l: &Level) {
        sink.event(&Event::BookLevel(BookLevel {
            instrument: self.instruments[inst].spec.id,
            side,
            price_ticks: l.price_ticks,
            qty_lots: l.qty_lots,
            order_count: l.order_count,
        }));
    }

    // ----- order lifecycle ---------------------------------------------------

    /// Gives the order in `slot` a new current ClOrdID (found free at
    /// `vacant`), keeping the old one in its chain; returns the old one.
    fn change_cl_ord_id(&mut self, slot: u32, new: ClOrdId, vacant: Vacant) -> ClOrdId {
        let o = self.store.live(slot);
        let (participant, old, head) = (o.participant, o.cl_ord_id, o.cl_entry);
        let entry = self
            .cl_index
            .insert_vacant(vacant, participant, new, slot, head);
        let o = self.store.live_mut(slot);
        o.cl_entry = entry;
        o.cl_ord_id = new;
        old
    }

    /// Marks the order finished. The caller has taken it off the book.
    #[inline]
    fn finish(&mut self, slot: u32, status: OrdStatus, reason: Reason) {
        debug_assert!(!status.is_live());
        let now = self.now;
        let o = self.store.live_mut(slot);
        debug_assert!(o.is_live());
        o.status = status;
        o.reason = reason;
        o.leaves_qty_lots = 0;
        o.visible_qty_lots = 0;
        o.place = Place::Done;
        o.done_time_ns = now;
        if let Some(e) = o.expire_time_ns {
            let removed = self.expiries.remove(&(e, o.id));
            debug_assert!(removed.is_some());
        }
        self.to_retire.push(slot);
    }

    /// Cancels (or expires) a live order wherever it is and reports it; the
    /// level event follows if it was resting.
    pub(crate) fn cancel_live(
        &mut self,
        sink: &mut impl EventSink,
        slot: u32,
        reason: CancelReason,
        orig: ClOrdId,
    ) {
        let level = self.take_off_book(slot);
        let (status, exec_type) = if reason == CancelReason::Expired {
            (OrdStatus::Expired, ExecType::Expired)
        } else {
            (OrdStatus::Canceled, ExecType::Canceled)
        };
        self.finish(slot, status, Reason::Cancel(reason));
        self.report(sink, slot, exec_type, orig, NO_FILL);
        if let Some(level) = level {
            sink.event(&Event::BookLevel(level));
        }
    }

    /// Takes a live order out of its level or stop book; returns the level it
    /// left as a market data event, if it was resting (an emptied level is
    /// removed, and reported with zero quantity).
    fn take_off_book(&mut self, slot: u32) -> Option<BookLevel> {
        let o = self.store.live(slot);
        let (ii, place, side, id) = (o.inst as usize, o.place, o.side, o.id);
        let (price, stop, visible) = (o.price_ticks, o.stop_price_ticks, o.visible_qty_lots);
        let leaves = o.leaves_qty_lots;
        let inst = &mut self.instruments[ii];
        match place {
            Place::Resting => {
                let price = price.expect("a resting order has a price");
                let instrument = inst.spec.id;
                let book = inst.book_mut(side);
                let level = book.unlink(self.store.slab_mut(), price, slot, visible);
                self.store.live_mut(slot).place = Place::Incoming;
                self.open_change(slot, leaves, false);
                Some(BookLevel {
                    instrument,
                    side,
                    price_ticks: price,
                    qty_lots: level.qty_lots,
                    order_count: level.order_count,
                })
            }
            Place::Stop => {
                let stop = stop.expect("a stop has a stop price");
                let stops = match side {
                    Side::Buy => &mut inst.buy_stops,
                    Side::Sell => &mut inst.sell_stops,
                };
                let removed = stops.remove(&(stop, id));
                debug_assert_eq!(removed, Some(slot));
                self.store.live_mut(slot).place = Place::Incoming;
                self.open_change(slot, leaves, false);
                None
            }
            Place::Incoming => None,
            Place::Done | Place::Free => unreachable!("take_off_book on a finished order"),
        }
    }

    /// Puts an incoming order at the back of its price level and reports the level.
    fn rest(&mut self, sink: &mut impl EventSink, slot: u32) {
        let o = self.store.live_mut(slot);
        debug_assert!(o.place == Place::Incoming);
        debug_assert!(o.leaves_qty_lots > 0);
        let price = o.price_ticks.expect("a resting order has a price");
        let (inst, side) = (o.inst as usize, o.side);
        let tranche = o.tranche();
        o.visible_qty_lots = tranche;
        o.place = Place::Resting;
        let leaves = o.leaves_qty_lots;
        let level = self.instruments[inst].book_mut(side).level_or_insert(price);
        level.push_back(self.store.slab_mut(), slot, tranche);
        let l = *level;
        self.open_change(slot, leaves, true);
        self.level_event_from(sink, inst, side, &l);
    }

    // ----- new orders ----------------------------------------------------------

    /// Checks a new order; returns its instrument's index and where its
    /// ClOrdID goes in the index.
    fn validate_new(&self, o: &NewOrder) -> Result<(usize, Vacant), (RejectReason, OrderId)> {
        use RejectReason as R;
        let err = |r| Err((r, OrderId::NONE));
        if self.stp_mode(o.participant).is_none() {
            return err(R::UnknownParticipant);
        }
        let Some(ii) = self.instrument_idx(o.instrument) else {
            return err(R::UnknownInstrument);
        };
        if !self.permitted(o.participant, ii) {
            return err(R::InstrumentNotPermitted);
        }
        let inst = &self.instruments[ii];
        let spec = &inst.spec;
        if !spec.order_types.contains(o.ord_type) {
            return err(R::OrdTypeNotAllowed);
        }
        if !spec.time_in_force.contains(o.tif) {
            return err(R::TifNotAllowed);
        }
        if o.qty_lots == 0 {
            return err(R::InvalidQty);
        }
        if o.qty_lots < spec.qty_min_lots {
            return err(R::QtyBelowMin);
        }
        if o.qty_lots > spec.qty_max_lots {
            return err(R::QtyAboveMax);
        }
        match (o.ord_type.has_limit_price(), o.price_ticks) {
            (true, None) => return err(R::MissingPrice),
            (false, Some(_)) => return err(R::UnexpectedPrice),
            _ => {}
        }
        match (o.ord_type.has_stop_price(), o.stop_price_ticks) {
            (true, None) => return err(R::MissingStopPrice),
            (false, Some(_)) => return err(R::UnexpectedStopPrice),
            _ => {}
        }
        if o.ord_type.has_stop_price() && matches!(o.tif, TimeInForce::Ioc | TimeInForce::Fok) {
            return err(R::InvalidTifForOrder);
        }
        if o.tif == TimeInForce::Gtd {
            match o.expire_time_ns {
                None => return err(R::MissingExpireTime),
                Some(e) if e <= self.now => return err(R::ExpireTimeInPast),
                Some(_) => {}
            }
        }
        if o.display_qty_lots > 0
            && (!o.ord_type.has_limit_price()
                || !o.tif.may_rest()
                || o.display_qty_lots >= o.qty_lots)
        {
            return err(R::InvalidDisplayQty);
        }
        if o.min_qty_lots > 0 && (o.tif != TimeInForce::Ioc || o.min_qty_lots > o.qty_lots) {
            return err(R::InvalidMinQty);
        }
        if o.post_only && (o.ord_type != OrdType::Limit || !o.tif.may_rest()) {
            return err(R::InvalidPostOnly);
        }
        if o.ord_type == OrdType::Limit
            && let Some(p) = o.price_ticks
            && !in_band(inst.band(), p)
        {
            return err(R::PriceOutsideCollar);
        }
        let notional_price = match o.ord_type {
            OrdType::Limit | OrdType::StopLimit => o.price_ticks,
            OrdType::Stop => o.stop_price_ticks,
            OrdType::Market => inst.reference_ticks(),
        };
        if !inst.notional_ok(notional_price, o.qty_lots) {
            return err(R::NotionalAboveMax);
        }
        let vacant = self
            .cl_ord_id_free(o.participant, &o.cl_ord_id)
            .map_err(|existing| (R::DuplicateClOrdId, existing))?;
        if let Some(r) = self.gate(o.participant, ii) {
            return err(r);
        }
        if inst.phase == Phase::PreOpen
            && (o.ord_type == OrdType::Market
                || matches!(o.tif, TimeInForce::Ioc | TimeInForce::Fok)
                || (o.ord_type == OrdType::Limit
                    && o.price_ticks.is_some_and(|p| inst.crosses(o.side, p))))
        {
            return err(R::PreOpenWouldMatch);
        }
        let need = u128::from(notional_price.unwrap_or(0).unsigned_abs()) * u128::from(o.qty_lots);
        if !self.credit_ok(o.participant, ii, need, 0) {
            return err(R::CreditLimitExceeded);
        }
        if o.post_only
            && let Some(p) = o.price_ticks
            && inst.crosses(o.side, p)
        {
            return err(R::PostOnlyWouldTake);
        }
        Ok((ii, vacant))
    }

    fn new_order(&mut self, o: &NewOrder, sink: &mut impl EventSink) {
        let (ii, vacant) = match self.validate_new(o) {
            Ok(x) => x,
            Err((reason, existing)) => return self.reject_new(sink, o, reason, existing),
        };
        let id = OrderId(self.next_order_id);
        self.next_order_id += 1;
        let expire_time_ns = match o.tif {
            TimeInForce::Day => Some(next_day_end_ns(self.now, self.config.day_end_ns_of_day)),
            TimeInForce::Gtd => o.expire_time_ns,
            _ => None,
        };
        let slot = self.store.insert_with(id, || Order {
            id,
            participant: o.participant,
            instrument: o.instrument,
            inst: ii as u32,
            side: o.side,
            ord_type: o.ord_type,
            tif: o.tif,
            place: Place::Incoming,
            status: OrdStatus::New,
            post_only: o.post_only,
            triggered: false,
            price_ticks: o.price_ticks,
            stop_price_ticks: o.stop_price_ticks,
            qty_lots: o.qty_lots,
            cum_qty_lots: 0,
            leaves_qty_lots: o.qty_lots,
            visible_qty_lots: 0,
            display_qty_lots: o.display_qty_lots,
            min_qty_lots: o.min_qty_lots,
            expire_time_ns,
            cum_notional_tick_lots: 0,
            cl_ord_id: o.cl_ord_id,
            cl_entry: NIL,
            reason: Reason::None,
            done_time_ns: 0,
            prev: NIL,
            next: NIL,
        });
        let entry = self
            .cl_index
            .insert_vacant(vacant, o.participant, o.cl_ord_id, slot, NIL);
        self.store.live_mut(slot).cl_entry = entry;
        if let Some(e) = expire_time_ns {
            self.expiries.insert((e, id), slot);
        }
        self.report(sink, slot, ExecType::New, ClOrdId::EMPTY, NO_FILL);
        if o.ord_type.has_stop_price() {
            self.park_stop(slot);
        } else {
            self.execute_incoming(sink, slot);
        }
        self.scan_triggers(ii);
        self.run_triggers(sink, ii);
    }

    fn park_stop(&mut self, slot: u32) {
        let o = self.store.live_mut(slot);
        debug_assert!(o.place == Place::Incoming);
        o.place = Place::Stop;
        let key = (o.stop_price_ticks.expect("a stop has a stop price"), o.id);
        let inst = &mut self.instruments[o.inst as usize];
        let stops = match o.side {
            Side::Buy => &mut inst.buy_stops,
            Side::Sell => &mut inst.sell_stops,
        };
        stops.insert(key, slot);
        let leaves = self.store.live(slot).leaves_qty_lots;
        self.open_change(slot, leaves, true);
    }

    /// Matches an incoming order, then cancels its rest or rests it.
    fn execute_incoming(&mut self, sink: &mut impl EventSink, a: u32) {
        let o = self.store.live(a);
        let ii = o.inst as usize;
        let needed = if o.tif == TimeInForce::Fok {
            o.leaves_qty_lots
        } else {
            o.min_qty_lots
        };
        let band = self.instruments[ii].band();
        let vband = self.vol_band(ii);
        if needed > 0 {
            if let Err(reason) = self.precheck(a, intersect(band, vband), needed) {
                return self.cancel_live(sink, a, reason, ClOrdId::EMPTY);
            }
        }
        let end = self.match_incoming(sink, a, band, vband);
        let o = self.store.live(a);
        if end.stp_cancel {
            self.cancel_live(sink, a, CancelReason::SelfTradePrevention, ClOrdId::EMPTY);
        } else if end.vol_hit {
            self.cancel_live(
                sink,
                a,
                CancelReason::VolatilityInterruption,
                ClOrdId::EMPTY,
            );
            self.volatility_halt(sink, ii);
        } else if o.leaves_qty_lots == 0 {
            debug_assert!(o.place == Place::Done);
        } else if o.trades_as_market() {
            let reason = if end.collar_hit {
                CancelReason::PriceCollar
            } else {
                CancelReason::IocRemainder
            };
            self.cancel_live(sink, a, reason, ClOrdId::EMPTY);
        } else if o.tif == TimeInForce::Ioc {
            self.cancel_live(sink, a, CancelReason::IocRemainder, ClOrdId::EMPTY);
        } else if o.tif == TimeInForce::Fok {
            debug_assert!(false, "a FOK order passed its check but did not fill");
            self.cancel_live(sink, a, CancelReason::FokNotFilled, ClOrdId::EMPTY);
        } else {
            self.rest(sink, a);
        }
    }

    /// Whether `level_price` is acceptable to an incoming order on `side`.
    #[inline]
    fn within_limit(side: Side, limit: Option<PriceTicks>, level_price: PriceTicks) -> bool {
        match (side, limit) {
            (_, None) => true,
            (Side::Buy, Some(l)) => level_price <= l,
            (Side::Sell, Some(l)) => level_price >= l,
        }
    }

    #[inline]
    fn within_band(side: Side, band: Option<(PriceTicks, PriceTicks)>, p: PriceTicks) -> bool {
        match (side, band) {
            (_, None) => true,
            (Side::Buy, Some((_, hi))) => p <= hi,
            (Side::Sell, Some((lo, _))) => p >= lo,
        }
    }

    /// The FOK / minimum quantity check (see the crate docs).
    fn precheck(
        &self,
        a: u32,
        band: Option<(PriceTicks, PriceTicks)>,
        needed: QtyLots,
    ) -> Result<(), CancelReason> {
        let o = self.store.live(a);
        let stp = self.stp_mode(o.participant).unwrap_or(StpMode::None);
        let limit = o.matching_limit();
        let book = self.instruments[o.inst as usize].book(o.side.opposite());
        let mut covered: QtyLots = 0;
        for level in book.levels_best_first() {
            if covered >= needed {
                return Ok(());
            }
            let p = level.price_ticks;
            if !Self::within_limit(o.side, limit, p) || !Self::within_band(o.side, band, p) {
                break;
            }
            let mut s = level.head;
            while s != NIL {
                let r = self.store.live(s);
                s = r.next;
                if r.is_expired_at(self.now) {
                    continue;
                }
                if r.participant == o.participant && stp != StpMode::None {
                    if stp == StpMode::CancelResting {
                        continue;
                    }
                    return Err(CancelReason::SelfTradePrevention);
                }
                covered += r.leaves_qty_lots;
            }
        }
        if covered >= needed {
            Ok(())
        } else if o.tif == TimeInForce::Fok {
            Err(CancelReason::FokNotFilled)
        } else {
            Err(CancelReason::MinQtyNotMet)
        }
    }

    /// Matches the incoming order in slot `a` against the opposite side.
    fn match_incoming(
        &mut self,
        sink: &mut impl EventSink,
        a: u32,
        band: Option<(PriceTicks, PriceTicks)>,
        vband: Option<(PriceTicks, PriceTicks)>,
    ) -> MatchEnd {
        let (side, limit, participant, ii) = {
            let o = self.store.live(a);
            (o.side, o.matching_limit(), o.participant, o.inst as usize)
        };
        let stp = self.stp_mode(participant).unwrap_or(StpMode::None);
        let opp = side.opposite();
        let mut end = MatchEnd::default();
        while self.store.live(a).leaves_qty_lots > 0 {
            let Some(level) = self.instruments[ii].book(opp).best() else {
                break;
            };
            let price = level.price_ticks;
            if !Self::within_limit(side, limit, price) {
                break;
            }
            if !Self::within_band(side, band, price) {
                end.collar_hit = true;
                break;
            }
            if !in_band(vband, price) {
                end.vol_hit = true;
                break;
            }
            self.match_level(sink, a, ii, price, stp, &mut end);
            let book = self.instruments[ii].book_mut(opp);
            let level = *book.best().expect("the matched level is still there");
            debug_assert!(level.price_ticks == price);
            if level.is_empty() {
                book.pop_best_empty();
            }
            self.level_event_from(sink, ii, opp, &level);
            if end.stp_cancel {
                break;
            }
        }
        end
    }

    /// Matches against the best level (at `price`) until the incoming order
    /// is done, the level is empty, or STP stops it.
    fn match_level(
        &mut self,
        sink: &mut impl EventSink,
        a: u32,
        ii: usize,
        price: PriceTicks,
        stp: StpMode,
        end: &mut MatchEnd,
    ) {
        let opp = self.store.live(a).side.opposite();
        let participant = self.store.live(a).participant;
        while self.store.live(a).leaves_qty_lots > 0 {
            let head = match self.instruments[ii].book(opp).best() {
                Some(l) if l.head != NIL => l.head,
                _ => return,
            };
            let r = self.store.live(head);
            let (r_expired, r_participant, r_leaves) =
                (r.is_expired_at(self.now), r.participant, r.leaves_qty_lots);
            if r_expired {
                self.unlink_best(ii, opp, head);
                self.finish(
                    head,
                    OrdStatus::Expired,
                    Reason::Cancel(CancelReason::Expired),
                );
                self.report(sink, head, ExecType::Expired, ClOrdId::EMPTY, NO_FILL);
                continue;
            }
            if r_participant == participant && stp != StpMode::None {
                let stp_reason = Reason::Cancel(CancelReason::SelfTradePrevention);
                match stp {
                    StpMode::CancelResting | StpMode::CancelBoth => {
                        self.unlink_best(ii, opp, head);
                        self.finish(head, OrdStatus::Canceled, stp_reason);
                        self.report(sink, head, ExecType::Canceled, ClOrdId::EMPTY, NO_FILL);
                        if stp == StpMode::CancelBoth {
                            end.stp_cancel = true;
                            return;
                        }
                        continue;
                    }
                    StpMode::CancelAggressing => {
                        end.stp_cancel = true;
                        return;
                    }
                    StpMode::DecrementBoth => {
                        let d = r_leaves.min(self.store.live(a).leaves_qty_lots);
                        if r_leaves == d {
                            self.unlink_best(ii, opp, head);
                            self.finish(head, OrdStatus::Canceled, stp_reason);
                            self.report(sink, head, ExecType::Canceled, ClOrdId::EMPTY, NO_FILL);
                        } else {
                            self.open_change(head, d, false);
                            let ro = self.store.live_mut(head);
                            ro.qty_lots -= d;
                            ro.leaves_qty_lots -= d;
                            let shown = ro.visible_qty_lots.min(ro.leaves_qty_lots);
                            let hidden_cut = ro.visible_qty_lots - shown;
                            ro.visible_qty_lots = shown;
                            ro.reason = stp_reason;
                            let level = self.instruments[ii]
                                .book_mut(opp)
                                .best_mut()
                                .expect("level exists");
                            level.qty_lots -= hidden_cut;
                            self.report(sink, head, ExecType::Restated, ClOrdId::EMPTY, NO_FILL);
                            self.store.live_mut(head).reason = Reason::None;
                        }
                        if self.store.live_mut(a).leaves_qty_lots == d {
                            end.stp_cancel = true;
                            return;
                        }
                        let ao = self.store.live_mut(a);
                        ao.qty_lots -= d;
                        ao.leaves_qty_lots -= d;
                        ao.reason = stp_reason;
                        self.report(sink, a, ExecType::Restated, ClOrdId::EMPTY, NO_FILL);
                        self.store.live_mut(a).reason = Reason::None;
                        continue;
                    }
                    StpMode::None => unreachable!(),
                }
            }
            self.trade(sink, a, head, ii, price);
        }
    }

    /// Unlinks the order in `slot` from the best level of `side` (the level
    /// stays, even if empty: the caller reports it when it leaves it).
    fn unlink_best(&mut self, ii: usize, side: Side, slot: u32) {
        let (visible, leaves) = {
            let o = self.store.live(slot);
            (o.visible_qty_lots, o.leaves_qty_lots)
        };
        self.open_change(slot, leaves, false);
        let level = self.instruments[ii]
            .book_mut(side)
            .best_mut()
            .expect("level exists");
        level.unlink(self.store.slab_mut(), slot, visible);
        self.store.live_mut(slot).place = Place::Incoming;
    }

    /// One trade between incoming `a` and resting `r` (the head of the best level).
    fn trade(&mut self, sink: &mut impl EventSink, a: u32, r: u32, ii: usize, price: PriceTicks) {
        let q = {
            let ao = self.store.live(a);
            let ro = self.store.live(r);
            debug_assert!(ro.visible_qty_lots > 0);
            ao.leaves_qty_lots.min(ro.visible_qty_lots)
        };
        debug_assert!(q > 0);
        let notional = i128::from(price) * i128::from(q);
        let trade_id = TradeId(self.next_trade_id);
        self.next_trade_id += 1;
        let opp = self.store.live(r).side;
        // Resting side.
        {
            let ro = self.store.live_mut(r);
            ro.visible_qty_lots -= q;
            ro.leaves_qty_lots -= q;
            ro.cum_qty_lots += q;
            ro.cum_notional_tick_lots += notional;
            let level = self.instruments[ii]
                .book_mut(opp)
                .best_mut()
                .expect("level exists");
            level.qty_lots -= q;
            self.open_change(r, q, false);
        }
        // Incoming side.
        {
            let ao = self.store.live_mut(a);
            ao.leaves_qty_lots -= q;
            ao.cum_qty_lots += q;
            ao.cum_notional_tick_lots += notional;
            ao.status = ao.live_status();
        }
        let inst = &mut self.instruments[ii];
        inst.last_trade_ticks = Some(price);
        if inst.spec.volatility.is_some() {
            inst.vol.push(self.now, price);
        }
        let (a_done, r_left, r_shown) = {
            let ro = self.store.live(r);
            (
                self.store.live(a).leaves_qty_lots == 0,
                ro.leaves_qty_lots,
                ro.visible_qty_lots,
            )
        };
        if r_left == 0 {
            self.unlink_best(ii, opp, r);
            self.finish(r, OrdStatus::Filled, Reason::None);
        } else {
            self.store.live_mut(r).status = OrdStatus::PartiallyFilled;
            if r_shown == 0 {
                // Iceberg refresh: a new tranche at the back of the queue
                // (still open for all its leaves).
                self.unlink_best(ii, opp, r);
                self.open_change(r, r_left, true);
                let ro = self.store.live_mut(r);
                let tranche = ro.tranche();
                ro.visible_qty_lots = tranche;
                ro.place = Place::Resting;
                let level = self.instruments[ii]
                    .book_mut(opp)
                    .best_mut()
                    .expect("level exists");
                level.push_back(self.store.slab_mut(), r, tranche);
            }
        }
        if a_done {
            self.finish(a, OrdStatus::Filled, Reason::None);
        }
        let (ao, ro) = (self.store.live(a), self.store.live(r));
        let (buy, sell) = match ao.side {
            Side::Buy => (ao, ro),
            Side::Sell => (ro, ao),
        };
        sink.event(&Event::Trade(TradePrint {
            instrument: self.instruments[ii].spec.id,
            trade_id,
            price_ticks: price,
            qty_lots: q,
            aggressor_side: ao.side,
            buy_order_id: buy.id,
            sell_order_id: sell.id,
            buyer: buy.participant,
            seller: sell.participant,
        }));
        let fill = Fill {
            qty_lots: q,
            px_ticks: price,
            trade_id,
            aggressor: true,
        };
        self.report(sink, a, ExecType::Trade, ClOrdId::EMPTY, fill);
        let fill = Fill {
            aggressor: false,
            ..fill
        };
        self.report(sink, r, ExecType::Trade, ClOrdId::EMPTY, fill);
    }

    // ----- stops -------------------------------------------------------------

    /// Moves every stop of instrument `ii` whose condition holds into the
    /// triggered set (kept sorted so that `pop` gives the lowest OrderId).
    /// Runs after every order; the test for no stops at all is inlined.
    #[inline]
    pub(crate) fn scan_triggers(&mut self, ii: usize) {
        let inst = &self.instruments[ii];
        if (inst.buy_stops.is_empty() && inst.sell_stops.is_empty()) || inst.phase != Phase::Open {
            return;
        }
        self.scan_stop_books(ii);
    }

    #[inline(never)]
    fn scan_stop_books(&mut self, ii: usize) {
        let inst = &mut self.instruments[ii];
        let Some(last) = inst.last_trade_ticks else {
            return;
        };
        let before = self.triggered.len();
        self.scratch.clear();
        for (&(_, id), &slot) in inst.buy_stops.range(..=(last, OrderId(u64::MAX))) {
            self.scratch.push((id, slot));
        }
        for &(id, slot) in &self.scratch {
            let stop = self.store.live(slot).stop_price_ticks.unwrap_or(last);
            inst.buy_stops.remove(&(stop, id));
        }
        self.triggered.extend_from_slice(&self.scratch);
        self.scratch.clear();
        for (&(_, id), &slot) in inst.sell_stops.range((last, OrderId(0))..) {
            self.scratch.push((id, slot));
        }
        for &(id, slot) in &self.scratch {
            let stop = self.store.live(slot).stop_price_ticks.unwrap_or(last);
            inst.sell_stops.remove(&(stop, id));
        }
        self.triggered.extend_from_slice(&self.scratch);
        if self.triggered.len() != before {
            for i in before..self.triggered.len() {
                let slot = self.triggered[i].1;
                self.store.live_mut(slot).place = Place::Incoming;
                let leaves = self.store.live(slot).leaves_qty_lots;
                self.open_change(slot, leaves, false);
            }
            self.triggered
                .sort_unstable_by_key(|x| std::cmp::Reverse(x.0));
        }
    }

    /// Runs triggered stops, lowest OrderId first, until none is left.
    #[inline]
    pub(crate) fn run_triggers(&mut self, sink: &mut impl EventSink, ii: usize) {
        if !self.triggered.is_empty() {
            self.run_triggered_stops(sink, ii);
        }
    }

    #[inline(never)]
    fn run_triggered_stops(&mut self, sink: &mut impl EventSink, ii: usize) {
        while let Some((_, slot)) = self.triggered.pop() {
            let o = *self.store.live(slot);
            debug_assert!(o.place == Place::Incoming);
            if o.is_expired_at(self.now) {
                self.cancel_live(sink, slot, CancelReason::Expired, ClOrdId::EMPTY);
                continue;
            }
            if self.instruments[ii].phase != Phase::Open {
                // A volatility interruption halted the instrument during
                // this chain: the stop waits, untriggered, for the resume.
                self.park_stop(slot);
                continue;
            }
            self.store.live_mut(slot).triggered = true;
            self.report(sink, slot, ExecType::Triggered, ClOrdId::EMPTY, NO_FILL);
            if o.ord_type == OrdType::StopLimit {
                let band = self.instruments[ii].band();
                if !in_band(band, o.price_ticks.expect("a stop-limit has a price")) {
                    self.cancel_live(sink, slot, CancelReason::PriceCollar, ClOrdId::EMPTY);
                    continue;
                }
            }
            self.execute_incoming(sink, slot);
            self.scan_triggers(ii);
        }
    }

    // ----- cancel / replace -------------------------------------------------

    fn cancel_reject(
        &self,
        sink: &mut impl EventSink,
        req: &CxlRequest<'_>,
        slot: Option<u32>,
        reason: RejectReason,
    ) {
        let CxlRequest {
            participant,
            cl_ord_id,
            target,
            response_to,
        } = *req;
        let (order_id, ord_status) = match slot {
            Some(loc) => {
                let (id, _, status) = self.store.summary(loc);
                (id, status)
            }
            None => (OrderId::NONE, OrdStatus::Rejected),
        };
        sink.event(&Event::CancelReject(CancelReject {
            participant,
            cl_ord_id,
            orig_cl_ord_id: match target {
                OrderRef::ClOrdId(id) => *id,
                OrderRef::OrderId(_) => ClOrdId::EMPTY,
            },
            order_id,
            ord_status,
            response_to,
            reason,
        }));
    }

    /// The checks shared by cancel and replace: participant, order, liveness.
    fn resolve_live(
        &self,
        participant: ParticipantId,
        target: &OrderRef,
    ) -> Result<u32, (RejectReason, Option<u32>)> {
        if self.stp_mode(participant).is_none() {
            return Err((RejectReason::UnknownParticipant, None));
        }
        let Some(loc) = self.resolve(participant, target) else {
            return Err((RejectReason::UnknownOrder, None));
        };
        // A finished order is either in the finished queue or, if it finished
        // during this input, still in its live slot marked done.
        if loc & DONE != 0 || !self.store.live(loc).is_live() {
            return Err((RejectReason::TooLateToCancel, Some(loc)));
        }
        Ok(loc)
    }

    fn cancel(&mut self, c: &Cancel, sink: &mut impl EventSink) {
        let req = CxlRequest {
            participant: c.participant,
            cl_ord_id: c.cl_ord_id,
            target: &c.target,
            response_to: CxlRejResponseTo::Cancel,
        };
        let reject = |this: &Self, sink: &mut _, reason, slot| {
            this.cancel_reject(sink, &req, slot, reason);
        };
        let slot = match self.resolve_live(c.participant, &c.target) {
            Ok(s) => s,
            Err((reason, slot)) => return reject(self, sink, reason, slot),
        };
        let Ok(vacant) = self.cl_ord_id_free(c.participant, &c.cl_ord_id) else {
            return reject(self, sink, RejectReason::DuplicateClOrdId, Some(slot));
        };
        let orig = self.change_cl_ord_id(slot, c.cl_ord_id, vacant);
        self.cancel_live(sink, slot, CancelReason::ClientRequest, orig);
    }

    /// Checks a replace of the order in `slot`; returns where the request's
    /// ClOrdID goes in the index.
    fn validate_replace(&self, r: &Replace, slot: u32) -> Result<Vacant, RejectReason> {
        use RejectReason as R;
        let o = self.store.live(slot);
        let inst = &self.instruments[o.inst as usize];
        let spec = &inst.spec;
        if r.qty_lots == 0 {
            return Err(R::InvalidQty);
        }
        if r.qty_lots < spec.qty_min_lots {
            return Err(R::QtyBelowMin);
        }
        if r.qty_lots > spec.qty_max_lots {
            return Err(R::QtyAboveMax);
        }
        if r.price_ticks.is_some() && !o.ord_type.has_limit_price() {
            return Err(R::UnexpectedPrice);
        }
        if r.stop_price_ticks.is_some() && (!o.ord_type.has_stop_price() || o.triggered) {
            return Err(R::UnexpectedStopPrice);
        }
        if r.qty_lots <= o.cum_qty_lots {
            return Err(R::ReplaceQtyAtOrBelowFilled);
        }
        let price = r.price_ticks.or(o.price_ticks);
        let stop = r.stop_price_ticks.or(o.stop_price_ticks);
        let acts_as_limit =
            o.ord_type == OrdType::Limit || (o.ord_type == OrdType::StopLimit && o.triggered);
        if acts_as_limit
            && price != o.price_ticks
            && let Some(p) = price
            && !in_band(inst.band(), p)
        {
            return Err(R::PriceOutsideCollar);
        }
        let notional_price = match o.ord_type {
            OrdType::Stop => stop,
            _ => price,
        };
        if !inst.notional_ok(notional_price, r.qty_lots) {
            return Err(R::NotionalAboveMax);
        }
        let vacant = self
            .cl_ord_id_free(r.participant, &r.cl_ord_id)
            .map_err(|_| R::DuplicateClOrdId)?;
        if let Some(reason) = self.gate(o.participant, o.inst as usize) {
            return Err(reason);
        }
        if inst.phase == Phase::PreOpen
            && acts_as_limit
            && price.is_some_and(|p| inst.crosses(o.side, p))
        {
            return Err(R::PreOpenWouldMatch);
        }
        let open_now = order_notional(o, o.leaves_qty_lots);
        let open_new = u128::from(notional_price.unwrap_or(0).unsigned_abs())
            * u128::from(r.qty_lots - o.cum_qty_lots);
        if open_new > open_now
            && !self.credit_ok(o.participant, o.inst as usize, open_new, open_now)
        {
            return Err(R::CreditLimitExceeded);
        }
        if o.post_only
            && let Some(p) = price
            && inst.crosses(o.side, p)
        {
            return Err(R::PostOnlyWouldTake);
        }
        Ok(vacant)
    }

    fn replace(&mut self, r: &Replace, sink: &mut impl EventSink) {
        let req = CxlRequest {
            participant: r.participant,
            cl_ord_id: r.cl_ord_id,
            target: &r.target,
            response_to: CxlRejResponseTo::Replace,
        };
        let reject = |this: &Self, sink: &mut _, reason, slot| {
            this.cancel_reject(sink, &req, slot, reason);
        };
        let slot = match self.resolve_live(r.participant, &r.target) {
            Ok(s) => s,
            Err((reason, slot)) => return reject(self, sink, reason, slot),
        };
        let vacant = match self.validate_replace(r, slot) {
            Ok(v) => v,
            Err(reason) => return reject(self, sink, reason, Some(slot)),
        };
        let orig = self.change_cl_ord_id(slot, r.cl_ord_id, vacant);
        let o = *self.store.live(slot);
        let ii = o.inst as usize;
        let new_price = r.price_ticks.or(o.price_ticks);
        let new_stop = r.stop_price_ticks.or(o.stop_price_ticks);
        let new_leaves = r.qty_lots - o.cum_qty_lots;
        match o.place {
            Place::Stop => {
                self.take_off_book(slot);
                let om = self.store.live_mut(slot);
                om.qty_lots = r.qty_lots;
                om.leaves_qty_lots = new_leaves;
                om.price_ticks = new_price;
                om.stop_price_ticks = new_stop;
                self.park_stop(slot);
                self.report(sink, slot, ExecType::Replaced, orig, NO_FILL);
            }
            Place::Resting => {
                let price = o.price_ticks.expect("a resting order has a price");
                let keeps_priority = new_price == o.price_ticks && r.qty_lots <= o.qty_lots;
                if keeps_priority {
                    self.open_change(slot, o.leaves_qty_lots - new_leaves, false);
                    let om = self.store.live_mut(slot);
                    om.qty_lots = r.qty_lots;
                    om.leaves_qty_lots = new_leaves;
                    let shown = om.visible_qty_lots.min(new_leaves);
                    let cut = om.visible_qty_lots - shown;
                    om.visible_qty_lots = shown;
                    let level = self.instruments[ii]
                        .book_mut(o.side)
                        .level_mut(price)
                        .expect("a resting order's level exists");
                    level.qty_lots -= cut;
                    let l = *level;
                    self.report(sink, slot, ExecType::Replaced, orig, NO_FILL);
                    self.level_event_from(sink, ii, o.side, &l);
                    return;
                }
                let left = self.take_off_book(slot);
                let om = self.store.live_mut(slot);
                om.qty_lots = r.qty_lots;
                om.leaves_qty_lots = new_leaves;
                om.price_ticks = new_price;
                om.visible_qty_lots = 0;
                self.report(sink, slot, ExecType::Replaced, orig, NO_FILL);
                if let Some(level) = left {
                    sink.event(&Event::BookLevel(level));
                }
                self.execute_incoming(sink, slot);
            }
            Place::Incoming | Place::Done | Place::Free => {
                unreachable!("replace of an order that is not resting or parked")
            }
        }
        self.scan_triggers(ii);
        self.run_triggers(sink, ii);
    }

    fn mass_cancel(&mut self, m: &MassCancel, sink: &mut impl EventSink) {
        let mut report = MassCancelReport {
            participant: m.participant,
            cl_ord_id: m.cl_ord_id,
            instrument: m.instrument,
            side: m.side,
            cancelled_count: 0,
            reject: None,
        };
        let inst_filter = match m.instrument {
            Some(id) => match self.instrument_idx(id) {
                Some(i) => Some(i as u32),
                None => {
                    report.reject = Some(RejectReason::UnknownInstrument);
                    None
                }
            },
            None => None,
        };
        if self.stp_mode(m.participant).is_none() {
            report.reject = Some(RejectReason::UnknownParticipant);
        }
        if report.reject.is_none() {
            report.cancelled_count = self.cancel_where(sink, CancelReason::MassCancel, |o| {
                o.participant == m.participant
                    && inst_filter.is_none_or(|i| o.inst == i)
                    && m.side.is_none_or(|s| o.side == s)
                    && m.tif.is_none_or(|t| o.tif == t)
            });
        }
        sink.event(&Event::MassCancelReport(report));
    }

    /// A status report for every live order of the participant that
    /// passes the filters, by OrderId; none found (or an unknown
    /// participant or instrument) is one report with status Rejected.
    fn mass_status(&mut self, m: &MassStatusRequest, sink: &mut impl EventSink) {
        let mut problem = None;
        if self.stp_mode(m.participant).is_none() {
            problem = Some(RejectReason::UnknownParticipant);
        }
        let inst_filter = match m.instrument {
            Some(id) => match self.instrument_idx(id) {
                Some(i) => Some(i as u32),
                None => {
                    problem = problem.or(Some(RejectReason::UnknownInstrument));
                    None
                }
            },
            None => None,
        };
        if problem.is_none() {
            let mut found = std::mem::take(&mut self.scratch);
            found.clear();
            found.extend(
                self.store
                    .live_orders()
                    .filter(|(_, o)| {
                        o.participant == m.participant
                            && inst_filter.is_none_or(|i| o.inst == i)
                            && m.side.is_none_or(|s| o.side == s)
                    })
                    .map(|(slot, o)| (o.id, slot)),
            );
            found.sort_unstable();
            for &(_, slot) in &found {
                self.report(sink, slot, ExecType::OrderStatus, ClOrdId::EMPTY, NO_FILL);
            }
            let any = !found.is_empty();
            found.clear();
            self.scratch = found;
            if any {
                return;
            }
            problem = Some(RejectReason::UnknownOrder);
        }
        let reason = problem.unwrap_or(RejectReason::UnknownOrder);
        self.status_unknown(
            sink,
            m.participant,
            OrderRef::OrderId(OrderId::NONE),
            reason,
        );
    }

    fn status(&mut self, s: &OrderStatusRequest, sink: &mut impl EventSink) {
        let found = if self.stp_mode(s.participant).is_none() {
            Err(RejectReason::UnknownParticipant)
        } else {
            self.resolve(s.participant, &s.target)
                .ok_or(RejectReason::UnknownOrder)
        };
        match found {
            Ok(slot) => self.report(sink, slot, ExecType::OrderStatus, ClOrdId::EMPTY, NO_FILL),
            Err(reason) => self.status_unknown(sink, s.participant, s.target, reason),
        }
    }

    /// The answer to a status request that found nothing.
    fn status_unknown(
        &mut self,
        sink: &mut impl EventSink,
        participant: ParticipantId,
        target: OrderRef,
        reason: RejectReason,
    ) {
        let exec_id = self.next_exec_id();
        let (cl_ord_id, order_id) = match target {
            OrderRef::ClOrdId(c) => (c, OrderId::NONE),
            OrderRef::OrderId(id) => (ClOrdId::EMPTY, id),
        };
        sink.event(&Event::Exec(ExecutionReport {
            exec_id,
            exec_type: ExecType::OrderStatus,
            ord_status: OrdStatus::Rejected,
            participant,
            instrument: InstrumentId(0),
            order_id,
            cl_ord_id,
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
            trade_id: TradeId(0),
            aggressor: false,
            expire_time_ns: None,
            reason: Reason::Reject(reason),
        }));
    }

    // ----- time --------------------------------------------------------------

    fn clock_tick(&mut self, sink: &mut impl EventSink) {
        self.run_schedule(sink);
        self.end_pauses(sink);
        while let Some((&(t, _), &slot)) = self.expiries.first_key_value() {
            if t > self.now {
                break;
            }
            self.cancel_live(sink, slot, CancelReason::Expired, ClOrdId::EMPTY);
        }
        let day_end = self.config.day_end_ns_of_day;
        // A day's end forgets a day's orders and their ClOrdIDs: the
        // orders from the front of the finished queue, the ClOrdIDs all
        // together (`ClOrdIndex::remove_chains`: for a day's worth, one
        // pass over the table).
        let mut forgot = 0;
        while self
            .store
            .done_at(forgot)
            .is_some_and(|o| next_day_end_ns(o.done_time_ns, day_end) <= self.now)
        {
            forgot += 1;
        }
        if forgot > 0 {
            // `forgot` were counted in the queue just above.
            let heads: Vec<u32> = (0..forgot)
                .map_while(|_| self.store.forget_oldest().map(|o| o.cl_entry))
                .collect();
            self.cl_index.remove_chains(&heads);
            self.store.compact_locator();
            self.forget_folded(forgot);
        }
    }

    /// The finished-order digest after the oldest `forgot` records left the
    /// queue: nothing folded if they were all the folded ones (a day's end
    /// forgets the day: the common case), else the rest of the folded
    /// records folded again (those finished after the day's end and before
    /// the last fold: few).
    fn forget_folded(&mut self, forgot: usize) {
        let kept = self.finished_digest.folded.saturating_sub(forgot);
        self.finished_digest = FinishedDigest::default();
        self.fold_finished_some(kept);
    }
}
