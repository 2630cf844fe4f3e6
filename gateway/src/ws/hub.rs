//! The hub: one thread that owns everything shared between connections. It
//! drains the sequencer's outbound ring for the WebSocket gateway, keeps a
//! level-2 mirror of every book, numbers every channel and every
//! participant's private stream, and puts each message on the send queues
//! of the connections that should get it, in order. Connections talk to it
//! through [`Command`]s.
//!
//! Ordering: the hub is the only writer of numbered messages, and it writes
//! each to a connection's queue in number order, so a connection's socket
//! carries every stream in order. Book messages are built only at input
//! boundaries ([`OutputReceiver::released_through`] says when the last input
//! seen is complete), so a client never sees the middle of an input.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::thread::Thread;
use std::time::{Duration, Instant};

use engine::event::{BookLevel, ExecType};
use engine::input::{Input, MassCancel};
use engine::sequencer::{InputSender, Origin, Output, OutputReceiver, Refusal};
use engine::types::{ClOrdId, InstrumentId, ParticipantId, Side, TimeInForce};
use engine::{AdminAction, AdminReport, Event, StatusCause};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::fix::config::CancelOnDisconnect;
use crate::ws::config::{Rates, WsConfig};
use crate::ws::convert::{self, Stamp, side_name};
use crate::ws::outbox::{Outbox, Wakeups};
use crate::ws::protocol::{
    BookMsg, MassStatusDoneMsg, ReqId, Resume, ServerMsg, StatusMsg, TradeMsg, book_checksum,
};

/// Origins of WebSocket inputs have this bit set (FIX origins never do).
pub const WS_ORIGIN: Origin = 1 << 63;
/// Set on the origin of a `mass_status`, so the hub can say when it is done.
pub const WS_MASS_STATUS: Origin = 1 << 31;

/// Most outputs taken per turn; a busy turn publishes books at least this
/// often.
const OUTPUTS_PER_TURN: usize = 1024;

/// A connection's number.
pub type ConnId = u64;

/// The origin of an input sent by connection `conn`.
#[must_use]
pub fn origin(conn: ConnId, request: u32, mass_status: bool) -> Origin {
    WS_ORIGIN
        | ((conn & 0x7fff_ffff) << 32)
        | u64::from(request & 0x7fff_ffff)
        | if mass_status { WS_MASS_STATUS } else { 0 }
}

fn origin_conn(origin: Origin) -> Option<ConnId> {
    (origin & WS_ORIGIN != 0).then_some((origin >> 32) & 0x7fff_ffff)
}

/// A subscription request, already checked against the instruments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// `book.SYMBOL` at a depth.
    Book {
        /// Instrument index.
        inst: usize,
        /// Levels per side.
        depth: u32,
    },
    /// `trades.SYMBOL`.
    Trades {
        /// Instrument index.
        inst: usize,
    },
}

/// What a login's answer is.
pub type LoginReply = oneshot::Sender<Result<(), (&'static str, String)>>;

/// From connections to the hub.
#[derive(Debug)]
pub enum Command {
    /// A new connection.
    Open {
        /// Its number.
        conn: ConnId,
        /// Its send queue.
        outbox: Arc<Outbox>,
    },
    /// A login whose signature checked out.
    Login {
        /// The connection.
        conn: ConnId,
        /// As whom.
        participant: ParticipantId,
        /// Where to resume the private stream.
        resume: Option<Resume>,
        /// Echoed.
        req_id: Option<ReqId>,
        /// Ok, or the error code and sentence.
        reply: LoginReply,
    },
    /// Subscribe.
    Subscribe {
        /// The connection.
        conn: ConnId,
        /// The channel's name as the client gave it.
        name: String,
        /// What it is.
        channel: Channel,
        /// Echoed.
        req_id: Option<ReqId>,
    },
    /// Unsubscribe.
    Unsubscribe {
        /// The connection.
        conn: ConnId,
        /// The channel's name.
        name: String,
        /// Echoed.
        req_id: Option<ReqId>,
    },
    /// The connection closed.
    Close {
        /// The connection.
        conn: ConnId,
    },
}

/// Wakes the hub thread when it is parked.
#[derive(Clone, Debug)]
pub struct HubWake {
    parked: Arc<AtomicBool>,
    thread: Arc<std::sync::OnceLock<Thread>>,
}

impl HubWake {
    fn new() -> HubWake {
        HubWake {
            parked: Arc::new(AtomicBool::new(false)),
            thread: Arc::new(std::sync::OnceLock::new()),
        }
    }

    /// Called after publishing outputs or sending a command.
    pub fn notify(&self) {
        if self.parked.swap(false, Ordering::SeqCst)
            && let Some(t) = self.thread.get()
        {
            t.unpark();
        }
    }
}

/// The gateway's figures, readable from any thread.
#[derive(Debug, Default)]
pub struct WsMetrics {
    /// Connections open.
    pub connections: AtomicU64,
    /// Connections logged in.
    pub logged_in: AtomicU64,
    /// Market data messages queued (summed over subscribers).
    pub md_messages: AtomicU64,
    /// Private messages queued (summed over connections).
    pub private_messages: AtomicU64,
    /// Times a book subscription was conflated.
    pub conflations: AtomicU64,
    /// Connections closed for not reading.
    pub slow_closes: AtomicU64,
}

type Level = (i64, u64, u32);

struct BookSub {
    conn: ConnId,
    /// Conflated: its updates are dropped until a fresh snapshot.
    stale: bool,
    /// The number of the last message queued to it (what its heartbeat
    /// says, so that a conflated reader waits for its snapshot instead of
    /// seeing a gap).
    last_sent: u64,
}

struct Stream {
    depth: u32,
    seq: u64,
    bids: Vec<Level>,
    asks: Vec<Level>,
    subs: Vec<BookSub>,
}

struct Mirror {
    id: InstrumentId,
    symbol: String,
    book_channel: String,
    trades_channel: String,
    /// Keyed by price; bids best is the last, asks best the first.
    bids: BTreeMap<i64, (u64, u32)>,
    asks: BTreeMap<i64, (u64, u32)>,
    dirty: bool,
    streams: Vec<Stream>,
    trade_seq: u64,
    trade_subs: Vec<ConnId>,
}

impl Mirror {
    fn top(&self, depth: u32) -> (Vec<Level>, Vec<Level>) {
        let d = depth as usize;
        let bids = self
            .bids
            .iter()
            .rev()
            .take(d)
            .map(|(&p, &(q, n))| (p, q, n))
            .collect();
        let asks = self
            .asks
            .iter()
            .take(d)
            .map(|(&p, &(q, n))| (p, q, n))
            .collect();
        (bids, asks)
    }

    fn apply(&mut self, l: &BookLevel) {
        let side = match l.side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        if l.qty_lots == 0 {
            side.remove(&l.price_ticks);
        } else {
            side.insert(l.price_ticks, (l.qty_lots, l.order_count));
        }
        self.dirty = true;
    }
}

/// Changes from `old` to `new` (both best first on one side): levels that
/// are new or differ, and removed levels with quantity 0.
fn diff(old: &[Level], new: &[Level], better: impl Fn(i64, i64) -> bool) -> Vec<Level> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        match (old.get(i), new.get(j)) {
            (Some(o), Some(n)) if o.0 == n.0 => {
                if o != n {
                    out.push(*n);
                }
                i += 1;
                j += 1;
            }
            (Some(o), Some(n)) if better(o.0, n.0) => {
                out.push((o.0, 0, 0));
                i += 1;
            }
            (Some(_), Some(n)) => {
                out.push(*n);
                j += 1;
            }
            (Some(o), None) => {
                out.push((o.0, 0, 0));
                i += 1;
            }
            (None, Some(n)) => {
                out.push(*n);
                j += 1;
            }
            (None, None) => break,
        }
    }
    out
}

fn checksum(bids: &[Level], asks: &[Level]) -> u32 {
    book_checksum(
        bids.iter().map(|l| (l.0, l.1)),
        asks.iter().map(|l| (l.0, l.1)),
    )
}

struct Private {
    pseq: u64,
    buffer: VecDeque<(u64, Utf8Bytes)>,
    conns: Vec<ConnId>,
}

struct Conn {
    outbox: Arc<Outbox>,
    participant: Option<ParticipantId>,
    /// Subscribed channels: name → channel.
    subs: BTreeMap<String, Channel>,
}

struct MassStatus {
    seq: u64,
    time_ns: u64,
    participant: ParticipantId,
    count: u32,
}

/// See the module docs.
pub struct Hub {
    cfg: Arc<WsConfig>,
    outputs: OutputReceiver,
    sender: InputSender,
    commands: Receiver<Command>,
    wake: HubWake,
    metrics: Arc<WsMetrics>,
    /// Order entry rates, which the operator may change.
    rates: Arc<Rates>,
    /// Wakes the writers of fanned-out messages, once per turn.
    wakeups: Arc<Wakeups>,
    /// Outboxes queued to since the last [`Wakeups::submit`] whose writers
    /// need a wake.
    to_wake: Vec<Arc<Outbox>>,
    epoch: u64,
    conns: BTreeMap<ConnId, Conn>,
    mirrors: Vec<Mirror>,
    privates: BTreeMap<ParticipantId, Private>,
    mass_status: BTreeMap<Origin, MassStatus>,
    last_seq: u64,
    last_time_ns: u64,
    next_heartbeat: Instant,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("connections", &self.conns.len())
            .field("last_seq", &self.last_seq)
            .finish_non_exhaustive()
    }
}

/// The books as they stand when the gateway starts: per instrument, bids
/// and asks (price, quantity, orders), any order.
pub type InitialBooks = Vec<(InstrumentId, Vec<BookLevel>)>;

impl Hub {
    /// A hub over the gateway's ring; `books` are the books at `start`
    /// (the last input's sequence number and time stamp), where the ring
    /// starts.
    #[allow(clippy::too_many_arguments, reason = "wired once, by the server")]
    pub(crate) fn new(
        cfg: Arc<WsConfig>,
        outputs: OutputReceiver,
        sender: InputSender,
        commands: Receiver<Command>,
        metrics: Arc<WsMetrics>,
        rates: Arc<Rates>,
        wakeups: Arc<Wakeups>,
        epoch: u64,
        books: &InitialBooks,
        start: (u64, u64),
    ) -> Hub {
        let mirrors = cfg
            .instruments
            .iter()
            .map(|i| {
                let mut m = Mirror {
                    id: i.id,
                    symbol: i.symbol.clone(),
                    book_channel: format!("book.{}", i.symbol),
                    trades_channel: format!("trades.{}", i.symbol),
                    bids: BTreeMap::new(),
                    asks: BTreeMap::new(),
                    dirty: false,
                    streams: Vec::new(),
                    trade_seq: 0,
                    trade_subs: Vec::new(),
                };
                for (id, levels) in books {
                    if *id == i.id {
                        for l in levels {
                            m.apply(l);
                        }
                    }
                }
                m.dirty = false;
                m
            })
            .collect();
        Hub {
            cfg,
            outputs,
            sender,
            commands,
            wake: HubWake::new(),
            metrics,
            rates,
            wakeups,
            to_wake: Vec::new(),
            epoch,
            conns: BTreeMap::new(),
            mirrors,
            privates: BTreeMap::new(),
            mass_status: BTreeMap::new(),
            last_seq: start.0,
            last_time_ns: start.1,
            next_heartbeat: Instant::now(),
        }
    }

    /// Its wake handle.
    #[must_use]
    pub fn wake(&self) -> HubWake {
        self.wake.clone()
    }

    /// Runs until `stop`, then closes every connection ("going away").
    pub fn run(mut self, stop: &AtomicBool) {
        let _ = self.wake.thread.set(std::thread::current());
        let mut idle = 0u32;
        while !stop.load(Ordering::Acquire) {
            let work = self.turn(Instant::now());
            if work > 0 {
                idle = 0;
                continue;
            }
            idle += 1;
            if idle < 64 {
                std::hint::spin_loop();
            } else if idle < 128 {
                std::thread::yield_now();
            } else {
                self.wake.parked.store(true, Ordering::SeqCst);
                // Look again after saying we park: a notify in between
                // unparks us at once.
                if self.outputs.is_empty() {
                    std::thread::park_timeout(Duration::from_millis(20));
                }
                self.wake.parked.store(false, Ordering::SeqCst);
            }
        }
        for c in self.conns.values() {
            c.outbox.close(1001, "venue shutting down");
        }
    }

    /// One turn: outputs, with book messages and commands at an input
    /// boundary (once a turn while outputs keep coming, so that a busy
    /// venue still publishes its books and takes subscriptions), then
    /// heartbeats. Returns how much it did.
    pub fn turn(&mut self, now: Instant) -> usize {
        let mut work = 0;
        let mut applied = 0usize;
        let mut boundary_done = false;
        for _ in 0..OUTPUTS_PER_TURN {
            let released = self.outputs.released_through();
            match self.outputs.try_recv() {
                Some(out) => {
                    // The first output of a new input: everything before it
                    // is complete, a boundary to publish at.
                    if applied > 0
                        && !boundary_done
                        && let Output::Event { seq, .. } = &out
                        && *seq != self.last_seq
                    {
                        work += self.at_boundary();
                        boundary_done = true;
                    }
                    self.on_output(&out);
                    applied += 1;
                    work += 1;
                }
                None => {
                    if released >= self.last_seq {
                        work += self.at_boundary();
                    }
                    break;
                }
            }
        }
        if now >= self.next_heartbeat {
            self.heartbeats();
            self.next_heartbeat = now + Duration::from_millis(self.cfg.heartbeat_ms.max(1));
        }
        // One cross-thread wake for all the writers this turn fed.
        self.wakeups.submit(&mut self.to_wake);
        work
    }

    /// At an input boundary: book updates, finished mass status answers,
    /// commands (subscriptions see a book that is whole), snapshots for
    /// conflated subscribers that caught up.
    fn at_boundary(&mut self) -> usize {
        let mut work = self.flush_books();
        self.finish_mass_status(u64::MAX);
        while let Ok(c) = self.commands.try_recv() {
            self.on_command(c);
            work += 1;
        }
        work + self.refresh_stale()
    }

    fn on_output(&mut self, out: &Output) {
        match out {
            Output::Event {
                seq,
                time_ns,
                origin,
                event,
            } => {
                if *seq != self.last_seq {
                    // The previous input is complete.
                    self.finish_mass_status(*seq);
                }
                self.last_seq = *seq;
                self.last_time_ns = *time_ns;
                match event {
                    Event::BookLevel(l) => {
                        if let Some(m) = self.mirrors.iter_mut().find(|m| m.id == l.instrument) {
                            m.apply(l);
                        }
                    }
                    Event::Trade(t) => self.trade(t, *seq, *time_ns),
                    Event::Exec(x) => {
                        if x.exec_type == ExecType::OrderStatus && *origin & WS_MASS_STATUS != 0 {
                            let ms = self.mass_status.entry(*origin).or_insert(MassStatus {
                                seq: *seq,
                                time_ns: *time_ns,
                                participant: x.participant,
                                count: 0,
                            });
                            if x.ord_status.is_live() {
                                ms.count += 1;
                            }
                        }
                        if x.exec_type == ExecType::OrderStatus
                            && *origin & WS_MASS_STATUS != 0
                            && x.order_id.0 == 0
                        {
                            // "No orders": mass_status_done says count 0.
                            return;
                        }
                        let symbol = self.symbol(x.instrument);
                        self.private(x.participant, *seq, *time_ns, |st| {
                            ServerMsg::Exec(convert::exec_msg(x, &symbol, st))
                        });
                    }
                    Event::CancelReject(c) => {
                        self.private(c.participant, *seq, *time_ns, |st| {
                            ServerMsg::CancelReject(convert::cancel_reject_msg(c, st))
                        });
                    }
                    Event::MassCancelReport(m) => {
                        let symbol = m.instrument.map(|i| self.symbol(i));
                        self.private(m.participant, *seq, *time_ns, |st| {
                            ServerMsg::MassCancelReport(convert::mass_cancel_msg(
                                m,
                                symbol.as_deref(),
                                st,
                            ))
                        });
                    }
                    // Halts reach clients as rejects naming the phase; the
                    // operator's answers go to the admin API.
                    Event::AdminReport(AdminReport {
                        action:
                            AdminAction::SetRateLimit {
                                participant,
                                per_second,
                                burst,
                            },
                        reject: None,
                        ..
                    }) => {
                        self.rates.set(*participant, *per_second, *burst);
                    }
                    Event::InstrumentStatus(s) => self.status(s, *seq, *time_ns),
                    Event::AdminReport(_) => {}
                }
            }
            Output::Refused {
                input,
                origin,
                refusal,
            } => {
                let Some(conn) = origin_conn(*origin).and_then(|c| self.conns.get(&c)) else {
                    return;
                };
                let code = match refusal {
                    Refusal::Busy => "venue_busy",
                    Refusal::JournalFailed { .. } => "venue_halted",
                };
                let cl_ord_id = input.cl_ord_id();
                conn.outbox.push_str(
                    ServerMsg::Error {
                        code: code.to_owned(),
                        message: refusal.to_string(),
                        req_id: None,
                        cl_ord_id: cl_ord_id.map(|c| c.as_str().to_owned()),
                    }
                    .to_json(),
                );
            }
        }
    }

    fn symbol(&self, id: InstrumentId) -> String {
        self.mirrors
            .iter()
            .find(|m| m.id == id)
            .map_or_else(|| format!("#{}", id.0), |m| m.symbol.clone())
    }

    /// Numbers a private message, keeps it for `resume`, and queues it to
    /// every connection of the participant.
    fn private(
        &mut self,
        participant: ParticipantId,
        seq: u64,
        time_ns: u64,
        build: impl FnOnce(Stamp) -> ServerMsg,
    ) {
        let p = self.privates.entry(participant).or_insert_with(|| Private {
            pseq: 0,
            buffer: VecDeque::new(),
            conns: Vec::new(),
        });
        p.pseq += 1;
        let msg = Utf8Bytes::from(
            build(Stamp {
                pseq: p.pseq,
                engine_seq: seq,
                time_ns,
            })
            .to_json(),
        );
        let cap = self.cfg.private_buffer_events;
        if cap > 0 {
            if p.buffer.len() >= cap {
                p.buffer.pop_front();
            }
            p.buffer.push_back((p.pseq, msg.clone()));
        }
        let hard = self.cfg.send_queue_max.saturating_mul(2).max(1);
        for c in &p.conns {
            if let Some(conn) = self.conns.get(c) {
                if conn.outbox.push(msg.clone()) > hard {
                    self.metrics.slow_closes.fetch_add(1, Ordering::Relaxed);
                    conn.outbox.close(1008, "slow consumer");
                }
                self.metrics
                    .private_messages
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn trade(&mut self, t: &engine::event::TradePrint, seq: u64, time_ns: u64) {
        let Some(m) = self.mirrors.iter_mut().find(|m| m.id == t.instrument) else {
            return;
        };
        m.trade_seq += 1;
        if m.trade_subs.is_empty() {
            return;
        }
        let msg = Utf8Bytes::from(
            ServerMsg::Trade(TradeMsg {
                channel: m.trades_channel.clone(),
                seq: m.trade_seq,
                prev_seq: m.trade_seq - 1,
                engine_seq: seq,
                time_ns,
                trade_id: t.trade_id.0,
                price_ticks: t.price_ticks,
                qty_lots: t.qty_lots,
                aggressor: side_name(t.aggressor_side).to_owned(),
            })
            .to_json(),
        );
        let subs = std::mem::take(&mut m.trade_subs);
        self.fan_out(&subs, &msg);
        self.put_back_trade_subs(t.instrument, subs);
    }

    fn put_back_trade_subs(&mut self, instrument: InstrumentId, subs: Vec<ConnId>) {
        if let Some(m) = self.mirrors.iter_mut().find(|m| m.id == instrument) {
            m.trade_subs = subs;
        }
    }

    /// A phase change, on the instrument's trades channel.
    fn status(&mut self, s: &engine::event::InstrumentStatus, seq: u64, time_ns: u64) {
        let Some(m) = self.mirrors.iter_mut().find(|m| m.id == s.instrument) else {
            return;
        };
        let msg = Utf8Bytes::from(
            ServerMsg::Status(StatusMsg {
                engine_seq: seq,
                time_ns,
                symbol: m.symbol.clone(),
                phase: s.phase.name().to_owned(),
                cause: match s.cause {
                    StatusCause::Operator => "operator",
                    StatusCause::VolatilityInterruption => "volatility_interruption",
                    StatusCause::PauseEnded => "pause_ended",
                    StatusCause::Schedule => "schedule",
                }
                .to_owned(),
                resume_at_ns: (s.resume_at_ns != 0).then_some(s.resume_at_ns),
            })
            .to_json(),
        );
        if m.trade_subs.is_empty() {
            return;
        }
        let subs = std::mem::take(&mut m.trade_subs);
        self.fan_out(&subs, &msg);
        self.put_back_trade_subs(s.instrument, subs);
    }

    /// Queues a public message to each connection in `subs`; closes those
    /// too far behind.
    fn fan_out(&mut self, subs: &[ConnId], msg: &Utf8Bytes) {
        let hard = self.cfg.send_queue_max.saturating_mul(2).max(1);
        for c in subs {
            if let Some(conn) = self.conns.get(c) {
                let (n, wake) = conn.outbox.push_deferred(msg.clone());
                if wake {
                    self.to_wake.push(Arc::clone(&conn.outbox));
                }
                if n > hard {
                    self.metrics.slow_closes.fetch_add(1, Ordering::Relaxed);
                    conn.outbox.close(1008, "slow consumer");
                }
                self.metrics.md_messages.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Mass status requests whose input is before `seq` are done.
    fn finish_mass_status(&mut self, seq: u64) {
        if self.mass_status.is_empty() {
            return;
        }
        let done: Vec<Origin> = self
            .mass_status
            .iter()
            .filter(|(_, m)| m.seq < seq)
            .map(|(o, _)| *o)
            .collect();
        for o in done {
            if let Some(m) = self.mass_status.remove(&o) {
                self.private(m.participant, m.seq, m.time_ns, |st| {
                    ServerMsg::MassStatusDone(MassStatusDoneMsg {
                        pseq: st.pseq,
                        prev_pseq: st.pseq - 1,
                        engine_seq: st.engine_seq,
                        time_ns: st.time_ns,
                        count: m.count,
                    })
                });
            }
        }
    }

    /// Sends every changed book's updates to its subscribers.
    fn flush_books(&mut self) -> usize {
        let mut sent = 0;
        let limit = self.cfg.send_queue_max.max(1);
        for m in &mut self.mirrors {
            if !m.dirty {
                continue;
            }
            m.dirty = false;
            for si in 0..m.streams.len() {
                if m.streams[si].subs.is_empty() {
                    // Caught up when someone subscribes again.
                    continue;
                }
                let (bids, asks) = m.top(m.streams[si].depth);
                let s = &mut m.streams[si];
                let bid_changes = diff(&s.bids, &bids, |a, b| a > b);
                let ask_changes = diff(&s.asks, &asks, |a, b| a < b);
                if bid_changes.is_empty() && ask_changes.is_empty() {
                    continue;
                }
                s.seq += 1;
                let msg = Utf8Bytes::from(
                    ServerMsg::Book(BookMsg {
                        channel: m.book_channel.clone(),
                        snapshot: false,
                        seq: s.seq,
                        prev_seq: Some(s.seq - 1),
                        engine_seq: self.last_seq,
                        time_ns: self.last_time_ns,
                        bids: bid_changes,
                        asks: ask_changes,
                        checksum: checksum(&bids, &asks),
                    })
                    .to_json(),
                );
                s.bids = bids;
                s.asks = asks;
                for sub in &mut s.subs {
                    if sub.stale {
                        continue;
                    }
                    let Some(conn) = self.conns.get(&sub.conn) else {
                        continue;
                    };
                    if conn.outbox.len() >= limit {
                        // Behind: drop its updates, send a snapshot later.
                        sub.stale = true;
                        self.metrics.conflations.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    if conn.outbox.push_deferred(msg.clone()).1 {
                        self.to_wake.push(Arc::clone(&conn.outbox));
                    }
                    sub.last_sent = s.seq;
                    sent += 1;
                }
            }
        }
        self.metrics
            .md_messages
            .fetch_add(sent as u64, Ordering::Relaxed);
        sent
    }

    /// Conflated subscribers that caught up get a fresh snapshot.
    fn refresh_stale(&mut self) -> usize {
        let mut n = 0;
        let low = (self.cfg.send_queue_max / 2).max(1);
        for m in &mut self.mirrors {
            for s in &mut m.streams {
                let mut snap: Option<Utf8Bytes> = None;
                for i in 0..s.subs.len() {
                    if !s.subs[i].stale {
                        continue;
                    }
                    let Some(conn) = self.conns.get(&s.subs[i].conn) else {
                        continue;
                    };
                    if conn.outbox.len() < low {
                        let msg = snap
                            .get_or_insert_with(|| {
                                Utf8Bytes::from(
                                    snapshot(&m.book_channel, s, self.last_seq, self.last_time_ns)
                                        .to_json(),
                                )
                            })
                            .clone();
                        if conn.outbox.push_deferred(msg).1 {
                            self.to_wake.push(Arc::clone(&conn.outbox));
                        }
                        s.subs[i].stale = false;
                        s.subs[i].last_sent = s.seq;
                        n += 1;
                    }
                }
            }
        }
        n
    }

    fn heartbeats(&mut self) {
        let time_ms = wall_ms();
        for (id, conn) in &self.conns {
            let mut channels = BTreeMap::new();
            for (name, ch) in &conn.subs {
                let seq = match *ch {
                    Channel::Book { inst, depth } => self.mirrors[inst]
                        .streams
                        .iter()
                        .find(|s| s.depth == depth)
                        .and_then(|s| s.subs.iter().find(|b| b.conn == *id))
                        .map_or(0, |b| b.last_sent),
                    Channel::Trades { inst } => self.mirrors[inst].trade_seq,
                };
                channels.insert(name.clone(), seq);
            }
            let pseq = conn
                .participant
                .map(|p| self.privates.get(&p).map_or(0, |x| x.pseq));
            let msg = ServerMsg::Heartbeat {
                time_ms,
                channels,
                pseq,
            }
            .to_json();
            if conn.outbox.push_deferred(Utf8Bytes::from(msg)).1 {
                self.to_wake.push(Arc::clone(&conn.outbox));
            }
        }
    }

    fn on_command(&mut self, c: Command) {
        match c {
            Command::Open { conn, outbox } => {
                self.conns.insert(
                    conn,
                    Conn {
                        outbox,
                        participant: None,
                        subs: BTreeMap::new(),
                    },
                );
            }
            Command::Login {
                conn,
                participant,
                resume,
                req_id,
                reply,
            } => {
                let _ = reply.send(self.login(conn, participant, resume, req_id));
            }
            Command::Subscribe {
                conn,
                name,
                channel,
                req_id,
            } => self.subscribe(conn, name, channel, req_id),
            Command::Unsubscribe { conn, name, req_id } => {
                let Some(c) = self.conns.get_mut(&conn) else {
                    return;
                };
                match c.subs.remove(&name) {
                    Some(ch) => {
                        self.detach(conn, ch);
                        if let Some(c) = self.conns.get(&conn) {
                            c.outbox.push_str(
                                ServerMsg::Unsubscribed {
                                    channel: name,
                                    req_id,
                                }
                                .to_json(),
                            );
                        }
                    }
                    None => {
                        c.outbox.push_str(
                            ServerMsg::Error {
                                code: "not_subscribed".to_owned(),
                                message: format!("not subscribed to {name}"),
                                req_id,
                                cl_ord_id: None,
                            }
                            .to_json(),
                        );
                    }
                }
            }
            Command::Close { conn } => self.close(conn),
        }
    }

    fn login(
        &mut self,
        conn: ConnId,
        participant: ParticipantId,
        resume: Option<Resume>,
        req_id: Option<ReqId>,
    ) -> Result<(), (&'static str, String)> {
        let Some(cfg) = self.cfg.participant(participant.0) else {
            return Err(("unknown_participant", "no such participant".to_owned()));
        };
        let (name, cod, max) = (
            cfg.name.clone(),
            cfg.cancel_on_disconnect,
            cfg.max_connections,
        );
        let open = self
            .conns
            .values()
            .filter(|c| c.participant == Some(participant))
            .count();
        if open >= max as usize {
            return Err((
                "too_many_connections",
                format!(
                    "participant {} already has {open} connections (the most allowed)",
                    participant.0
                ),
            ));
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            return Err(("not_logged_in", "the connection is gone".to_owned()));
        };
        c.participant = Some(participant);
        let outbox = Arc::clone(&c.outbox);
        let p = self.privates.entry(participant).or_insert_with(|| Private {
            pseq: 0,
            buffer: VecDeque::new(),
            conns: Vec::new(),
        });
        p.conns.push(conn);
        let resumed = resume.as_ref().map(|r| {
            let oldest = p.buffer.front().map_or(p.pseq + 1, |(s, _)| *s);
            if r.epoch == self.epoch && r.after_pseq <= p.pseq && r.after_pseq + 1 >= oldest {
                "ok"
            } else {
                "resync"
            }
        });
        outbox.push_str(
            ServerMsg::LoggedIn {
                participant: participant.0,
                name,
                epoch: self.epoch,
                pseq: p.pseq,
                cancel_on_disconnect: match cod {
                    CancelOnDisconnect::None => "none",
                    CancelOnDisconnect::Day => "day",
                    CancelOnDisconnect::All => "all",
                }
                .to_owned(),
                resume: resumed.map(str::to_owned),
                req_id,
            }
            .to_json(),
        );
        if let (Some("ok"), Some(r)) = (resumed, resume) {
            for (s, msg) in &p.buffer {
                if *s > r.after_pseq {
                    outbox.push(msg.clone());
                }
            }
        }
        self.metrics.logged_in.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn subscribe(&mut self, conn: ConnId, name: String, channel: Channel, req_id: Option<ReqId>) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let error = |code: &str, message: String| {
            ServerMsg::Error {
                code: code.to_owned(),
                message,
                req_id: req_id.clone(),
                cl_ord_id: None,
            }
            .to_json()
        };
        if let Some(existing) = c.subs.get(&name) {
            if *existing == channel {
                c.outbox.push_str(error(
                    "already_subscribed",
                    format!("already subscribed to {name}"),
                ));
                return;
            }
        } else if c.subs.len() >= self.cfg.max_subscriptions {
            c.outbox.push_str(error(
                "too_many_subscriptions",
                format!(
                    "at most {} subscriptions per connection",
                    self.cfg.max_subscriptions
                ),
            ));
            return;
        }
        // A new depth on the same channel replaces the old subscription.
        if let Some(old) = c.subs.insert(name.clone(), channel) {
            self.detach(conn, old);
        }
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        match channel {
            Channel::Book { inst, depth } => {
                let m = &mut self.mirrors[inst];
                let si = match m.streams.iter().position(|s| s.depth == depth) {
                    Some(i) => {
                        // A stream nobody read for a while: what changed
                        // meanwhile counts as one update nobody was sent,
                        // so its numbers never go back.
                        let (bids, asks) = m.top(depth);
                        let s = &mut m.streams[i];
                        if s.bids != bids || s.asks != asks {
                            s.seq += 1;
                            s.bids = bids;
                            s.asks = asks;
                        }
                        i
                    }
                    None => {
                        let (bids, asks) = m.top(depth);
                        m.streams.push(Stream {
                            depth,
                            seq: 0,
                            bids,
                            asks,
                            subs: Vec::new(),
                        });
                        m.streams.len() - 1
                    }
                };
                let s = &mut m.streams[si];
                s.subs.push(BookSub {
                    conn,
                    stale: false,
                    last_sent: s.seq,
                });
                c.outbox.push_str(
                    ServerMsg::Subscribed {
                        channel: name,
                        depth: Some(depth),
                        seq: None,
                        req_id,
                    }
                    .to_json(),
                );
                c.outbox.push_str(
                    snapshot(&m.book_channel, s, self.last_seq, self.last_time_ns).to_json(),
                );
            }
            Channel::Trades { inst } => {
                let m = &mut self.mirrors[inst];
                m.trade_subs.push(conn);
                c.outbox.push_str(
                    ServerMsg::Subscribed {
                        channel: name,
                        depth: None,
                        seq: Some(m.trade_seq),
                        req_id,
                    }
                    .to_json(),
                );
            }
        }
    }

    fn detach(&mut self, conn: ConnId, channel: Channel) {
        match channel {
            Channel::Book { inst, depth } => {
                let m = &mut self.mirrors[inst];
                // The stream stays (with its numbers) for the next subscriber.
                if let Some(i) = m.streams.iter().position(|s| s.depth == depth) {
                    m.streams[i].subs.retain(|s| s.conn != conn);
                }
            }
            Channel::Trades { inst } => self.mirrors[inst].trade_subs.retain(|c| *c != conn),
        }
    }

    fn close(&mut self, conn: ConnId) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        for ch in c.subs.values() {
            self.detach(conn, *ch);
        }
        let Some(p) = c.participant else {
            return;
        };
        self.metrics.logged_in.fetch_sub(1, Ordering::Relaxed);
        let last = if let Some(x) = self.privates.get_mut(&p) {
            x.conns.retain(|x| *x != conn);
            x.conns.is_empty()
        } else {
            true
        };
        let cod = self
            .cfg
            .participant(p.0)
            .map_or(CancelOnDisconnect::None, |x| x.cancel_on_disconnect);
        if last && cod != CancelOnDisconnect::None {
            let input = Input::MassCancel(MassCancel {
                participant: p,
                cl_ord_id: ClOrdId::new(b"ws-cancel-on-disconnect").unwrap_or(ClOrdId::EMPTY),
                instrument: None,
                side: None,
                tif: (cod == CancelOnDisconnect::Day).then_some(TimeInForce::Day),
            });
            if self
                .sender
                .send_from(input, origin(0, 0, false), 100_000)
                .is_err()
            {
                tracing::error!(
                    participant = p.0,
                    "WebSocket cancel-on-disconnect not sent: the venue is busy"
                );
            }
        }
    }
}

fn snapshot(channel: &str, s: &Stream, engine_seq: u64, time_ns: u64) -> ServerMsg {
    ServerMsg::Book(BookMsg {
        channel: channel.to_owned(),
        snapshot: true,
        seq: s.seq,
        prev_seq: None,
        engine_seq,
        time_ns,
        bids: s.bids.clone(),
        asks: s.asks.clone(),
        checksum: checksum(&s.bids, &s.asks),
    })
}

/// Wall clock in ms (for heartbeats and hello; never inside the engine).
#[must_use]
pub fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_reports_changes_additions_and_removals_best_first() {
        let better_bid = |a: i64, b: i64| a > b;
        let old = [(100, 5, 1), (99, 3, 1), (97, 1, 1)];
        let new = [(101, 2, 1), (100, 5, 1), (99, 4, 2), (98, 1, 1)];
        assert_eq!(
            diff(&old, &new, better_bid),
            vec![(101, 2, 1), (99, 4, 2), (98, 1, 1), (97, 0, 0)]
        );
        assert!(diff(&new, &new, better_bid).is_empty());
        let better_ask = |a: i64, b: i64| a < b;
        assert_eq!(
            diff(&[(10, 1, 1), (11, 1, 1)], &[(11, 1, 1)], better_ask),
            vec![(10, 0, 0)]
        );
    }

    #[test]
    fn origins_name_their_connection_and_never_look_like_fix() {
        let o = origin(12345, 7, true);
        assert_eq!(origin_conn(o), Some(12345));
        assert_ne!(o & WS_MASS_STATUS, 0);
        assert_eq!(origin(12345, 7, false) & WS_MASS_STATUS, 0);
        assert_eq!(origin_conn(crate::fix::app::origin_of(3, 99)), None);
    }
}
