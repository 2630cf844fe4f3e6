//! `--verify`: reconciles what loadgen saw against the venue's journal.
//!
//! The journal is the source of truth, and the engine is a deterministic
//! function of it: replaying the journal through a fresh engine (the
//! incident tools' [`Replay`]) gives exactly the execution reports the live
//! venue sent. This module replays it once, keeps what concerns the run, and
//! compares it with [`Observed`], what loadgen sent and received.
//!
//! The run's orders are the journal's new orders whose participant loadgen
//! drove and whose ClOrdID starts with the run's prefix (the journal may
//! hold earlier runs and other participants' orders). They are keyed by the
//! engine's OrderID, which survives the new ClOrdIDs a replace or a cancel
//! gives an order; an order rejected on entry has none and is known by its
//! reject's ExecID. Reports are matched one to one by ExecID (`SEQ-IDX`:
//! the causing input's sequence number and the report's index in it).
//!
//! Checks, each mismatch one sentence naming the order:
//! 1. orders: every order loadgen sent is in the journal as a new order
//!    exactly once, and every new order of the run in the journal was sent;
//! 2. terminal states: every order of the run reached exactly one terminal
//!    state in the journal (filled, cancelled, expired, rejected on entry)
//!    and loadgen saw that report; one still live at the end is "still open";
//! 3. fills: loadgen saw every fill of the run's orders in the journal
//!    exactly once ("missed", "reported twice");
//! 4. trades: every trade with a side in the run has exactly two fills in
//!    the journal, a buy and a sell on different orders, with the same
//!    quantity and price as the trade print; a side of an order outside the
//!    run that belongs to a participant loadgen drove must have been seen;
//! 5. reports: every report loadgen saw is in the journal (else an "unknown
//!    fill", or a report "not in the journal") with the same fields (a fill
//!    whose LastQty or LastPx differ "disagrees"), and none was seen twice;
//! 6. cancel rejects: the journal's cancel rejects of the run's requests are
//!    the ones loadgen saw.
//!
//! Status answers (`ExecType::OrderStatus`) change nothing and are ignored
//! on both sides. A reject that never reached the engine (the FIX gateway's
//! own, for a throttled or refused message; its ExecID is not `SEQ-IDX`,
//! `GW-N` in practice) explains a sent order that is not in the journal; a
//! cancel reject for a request that is not in the journal is counted as the
//! gateway's in the same way.
//!
//! Cost: one replay at the engine's speed, from the newest snapshot before
//! the run's first input, so that a journal of many earlier runs is not
//! replayed in full. That input is found by reading and decoding the
//! journal up to it, which skips the engine (`journal_bench`: a sequential
//! read with CRC, 27.7 M frames/s; `engine_replay`: 2.38 M inputs/s; the
//! decode of this pre-scan is not measured separately). Memory: the run's orders, fills,
//! trades and requests, and the journal's copy of each report loadgen saw.
//!
//! Known limitations: the replay needs the engine configuration the venue
//! ran with (a different one is an error where the journal has a
//! checkpoint after it matters, and wrong mismatches before); reports
//! that arrived after loadgen stopped listening count as not seen; a
//! journal read while the venue still runs ends at its last complete frame,
//! so an answer loadgen saw for a later input counts as "not in the
//! journal" (the message says where the journal ends).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::Path;

use anyhow::{Context, Result};
use engine::{
    ClOrdId, EngineConfig, Event, ExecId, ExecType, ExecutionReport, Input, OrdStatus, OrderId,
    Side, TradeId, TradePrint,
};
use venue::incident::replay::{Replay, Step};
use venue::incident::source::{Bounds, Frames, JournalPaths, Progress, decode};

use crate::record::{Observed, SeenReport};

/// Mismatches printed by [`Reconciliation`]'s `Display`; the rest are
/// counted ("... and N more") and kept in [`Reconciliation::mismatches`].
pub const MISMATCH_LINES_MAX: usize = 20;

/// What the reconciliation found: counts, and every mismatch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reconciliation {
    /// The first input replayed (the one after the snapshot the replay
    /// started from; 1 without one).
    pub journal_from_seq: u64,
    /// The last input in the journal (0 for an empty journal).
    pub journal_last_seq: u64,
    /// Why the journal's data ended early (a torn tail), if it did.
    pub journal_torn_tail: Option<String>,
    /// New orders loadgen sent.
    pub orders_sent: u64,
    /// New orders of the run in the journal.
    pub orders_in_journal: u64,
    /// Sent orders answered by a gateway's reject (never journaled).
    pub orders_rejected_by_gateway: u64,
    /// Orders of the run whose terminal state in the journal is Filled.
    pub orders_filled: u64,
    /// Orders of the run whose terminal state is Canceled.
    pub orders_canceled: u64,
    /// Orders of the run whose terminal state is Expired.
    pub orders_expired: u64,
    /// Orders of the run rejected on entry.
    pub orders_rejected: u64,
    /// Orders of the run still live at the end of the journal.
    pub orders_open: u64,
    /// Fills (`ExecType::Trade`) loadgen received, duplicates included.
    pub fills_seen: u64,
    /// Fills of the run's orders in the journal.
    pub fills_in_journal: u64,
    /// Fills loadgen received for orders outside the run (an earlier run's
    /// order of a participant loadgen drove), found in the journal.
    pub fills_outside_run: u64,
    /// Trades with at least one side in the run, checked.
    pub trades_checked: u64,
    /// Execution reports loadgen received, duplicates included.
    pub reports_seen: u64,
    /// Of them, status answers (not compared).
    pub reports_status: u64,
    /// Of them, reports about orders outside the run, found in the journal.
    pub reports_outside_run: u64,
    /// Cancel rejects loadgen received.
    pub cancel_rejects_seen: u64,
    /// Cancel rejects of the run's cancel and replace requests in the journal.
    pub cancel_rejects_in_journal: u64,
    /// Cancel rejects loadgen received for requests that are not in the
    /// journal (the gateway's own).
    pub cancel_rejects_by_gateway: u64,
    /// Every mismatch, one sentence each, in the order of the checks.
    pub mismatches: Vec<String>,
}

impl Reconciliation {
    /// Whether everything agrees.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.mismatches.is_empty()
    }
}

impl fmt::Display for Reconciliation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.journal_last_seq == 0 {
            writeln!(f, "journal         empty")?;
        } else {
            writeln!(
                f,
                "journal         sequence {} to {} replayed",
                self.journal_from_seq, self.journal_last_seq
            )?;
        }
        if let Some(t) = &self.journal_torn_tail {
            writeln!(f, "journal         ends early: {t}")?;
        }
        writeln!(
            f,
            "orders          sent {}, in the journal {}, rejected by the gateway {}",
            self.orders_sent, self.orders_in_journal, self.orders_rejected_by_gateway
        )?;
        writeln!(
            f,
            "terminal        filled {}, canceled {}, expired {}, rejected on entry {}, still open {}",
            self.orders_filled,
            self.orders_canceled,
            self.orders_expired,
            self.orders_rejected,
            self.orders_open
        )?;
        writeln!(
            f,
            "fills           seen {}, in the journal {}, of orders outside the run {}",
            self.fills_seen, self.fills_in_journal, self.fills_outside_run
        )?;
        writeln!(f, "trades          checked {}", self.trades_checked)?;
        writeln!(
            f,
            "reports         seen {} (status answers {}, not compared; about orders outside the run {})",
            self.reports_seen, self.reports_status, self.reports_outside_run
        )?;
        writeln!(
            f,
            "cancel rejects  seen {}, in the journal {}, by the gateway {}",
            self.cancel_rejects_seen,
            self.cancel_rejects_in_journal,
            self.cancel_rejects_by_gateway
        )?;
        if self.is_ok() {
            return writeln!(
                f,
                "ok: every order reached exactly one terminal state, no fill was missed or reported twice, both sides of every trade agree"
            );
        }
        writeln!(f, "MISMATCHES: {}", self.mismatches.len())?;
        for m in self.mismatches.iter().take(MISMATCH_LINES_MAX) {
            writeln!(f, "  {m}")?;
        }
        if self.mismatches.len() > MISMATCH_LINES_MAX {
            writeln!(
                f,
                "  ... and {} more",
                self.mismatches.len() - MISMATCH_LINES_MAX
            )?;
        }
        Ok(())
    }
}

/// Reconciles `observed` against the journal in `journal_dir` (a data
/// directory holding `journal/` and `snapshots/`, or a journal directory),
/// replayed with `engine_config` (the venue's:
/// `venue::config::load(path)?.engine`). See the module docs for the checks.
///
/// # Errors
/// The journal cannot be read (no journal, damaged durable data), the
/// engine configuration is invalid, or the replay diverges from the
/// journal's checkpoints (a different configuration or engine build).
/// Disagreements are not errors: they are in
/// [`Reconciliation::mismatches`].
pub fn reconcile(
    observed: &Observed,
    journal_dir: &Path,
    engine_config: &EngineConfig,
) -> Result<Reconciliation> {
    let seen = SeenIndex::of(observed);
    let mut scan = Scan::new(observed, &seen.counts);
    let paths = JournalPaths::resolve(journal_dir)?;
    let last_seq = Bounds::of(&paths.journal).map_or(0, |b| b.last_seq);
    // Start from the newest snapshot before the run: everything earlier is
    // outside it. Without snapshots there is nothing to skip.
    let start_seq = match &paths.snapshots {
        Some(_) => first_seq_of_run(&paths, &scan, seen.seq_min)?,
        None => 0,
    };
    let mut replay = Replay::start(
        &paths,
        engine_config,
        start_seq.saturating_sub(1),
        start_seq > 0,
    )
    .with_context(|| format!("cannot replay the journal in {}", paths.journal.display()))?;
    replay.collect_events = true;
    let from_seq = replay.seq + 1;
    let mut progress = Progress::new("reconcile", replay.seq, last_seq);
    replay
        .run_until(u64::MAX, &mut progress, |step, _| {
            scan.step(step);
            Ok(())
        })
        .with_context(|| format!("cannot replay the journal in {}", paths.journal.display()))?;
    progress.finish();
    let checks = Checks {
        observed,
        seen: &seen,
        scan,
        r: Reconciliation {
            journal_from_seq: from_seq,
            journal_last_seq: replay.seq,
            journal_torn_tail: replay.torn_tail().map(str::to_owned),
            ..Reconciliation::default()
        },
    };
    Ok(checks.all())
}

/// The sequence number of the run's first input in the journal: the first
/// input of a participant loadgen drove with a ClOrdID of the run, or the
/// first input loadgen saw an answer to, whichever is earlier; 0 when the
/// journal holds neither (then everything is replayed).
fn first_seq_of_run(paths: &JournalPaths, scan: &Scan<'_>, seen_seq_min: u64) -> Result<u64> {
    let mut frames = Frames::open(&paths.journal)?;
    while let Some(frame) = frames.next_frame()? {
        if frame.seq >= seen_seq_min {
            return Ok(seen_seq_min);
        }
        let input = decode(&frame)?;
        if let (Some(p), Some(cl)) = (input.participant(), input.cl_ord_id())
            && scan.in_scope(p.0, &cl)
        {
            return Ok(frame.seq);
        }
    }
    Ok(0)
}

/// What loadgen saw, indexed by ExecID.
struct SeenIndex {
    /// How often each engine ExecID was seen (status answers excluded).
    /// Only looked up, never iterated.
    counts: HashMap<ExecId, u32>,
    /// Each seen report's parsed ExecID (`None`: not `SEQ-IDX`), by index
    /// in `Observed::reports`.
    exec_ids: Vec<Option<ExecId>>,
    /// Rejects that never reached the engine, by (participant, ClOrdID).
    gateway_rejects: BTreeMap<(u32, String), u32>,
    /// The lowest sequence number among the seen ExecIDs (`u64::MAX` for none).
    seq_min: u64,
}

impl SeenIndex {
    fn of(observed: &Observed) -> SeenIndex {
        let mut s = SeenIndex {
            counts: HashMap::with_capacity(observed.reports.len()),
            exec_ids: Vec::with_capacity(observed.reports.len()),
            gateway_rejects: BTreeMap::new(),
            seq_min: u64::MAX,
        };
        for r in &observed.reports {
            let id = parse_exec_id(&r.exec_id);
            s.exec_ids.push(id);
            match id {
                Some(id) => {
                    s.seq_min = s.seq_min.min(id.seq);
                    if r.exec_type != ExecType::OrderStatus {
                        *s.counts.entry(id).or_default() += 1;
                    }
                }
                None if r.exec_type == ExecType::Rejected => {
                    *s.gateway_rejects
                        .entry((r.participant, r.cl_ord_id.clone()))
                        .or_default() += 1;
                }
                None => {}
            }
        }
        s
    }
}

/// Parses an engine ExecID, `SEQ-IDX` (both decimal).
fn parse_exec_id(s: &str) -> Option<ExecId> {
    let (seq, idx) = s.split_once('-')?;
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(seq) || !digits(idx) {
        return None;
    }
    Some(ExecId {
        seq: seq.parse().ok()?,
        idx: idx.parse().ok()?,
    })
}

/// One new order of the run, as the journal has it.
#[derive(Debug)]
struct JournalOrder {
    participant: u32,
    /// Its ClOrdID as entered.
    cl_ord_id: ClOrdId,
    /// Its ClOrdID after the last replace or cancel.
    current: ClOrdId,
    /// `NONE` when rejected on entry.
    order_id: OrderId,
    /// Its status after its last report.
    last_status: OrdStatus,
    /// Every report that left it not live: (ExecID, status).
    terminal: Vec<(ExecId, OrdStatus)>,
}

impl JournalOrder {
    /// "participant 1, ClOrdID A (now B), OrderID 7".
    fn label(&self) -> String {
        let mut s = format!(
            "participant {}, ClOrdID {}",
            self.participant, self.cl_ord_id
        );
        if self.current != self.cl_ord_id {
            s.push_str(&format!(" (now {})", self.current));
        }
        if self.order_id == OrderId::NONE {
            s.push_str(", rejected on entry");
        } else {
            s.push_str(&format!(", OrderID {}", self.order_id.0));
        }
        s
    }
}

/// A fill of one of the run's orders in the journal.
#[derive(Debug)]
struct JournalFill {
    order: usize,
    last_qty_lots: u64,
    last_px_ticks: i64,
    trade_id: TradeId,
}

/// One side of a trade in the journal.
#[derive(Clone, Copy, Debug)]
struct TradeSide {
    exec_id: ExecId,
    participant: u32,
    order_id: OrderId,
    cl_ord_id: ClOrdId,
    /// The run's order, if it is one.
    order: Option<usize>,
    side: Side,
    qty_lots: u64,
    px_ticks: i64,
}

/// A trade with a side in the run.
#[derive(Debug, Default)]
struct JournalTrade {
    print: Option<TradePrint>,
    sides: Vec<TradeSide>,
}

/// Cancel and replace requests of the run in the journal.
#[derive(Debug, Default)]
struct Request {
    journaled: u32,
    rejected: u32,
}

/// What the replay kept: the run's orders, fills, trades and requests, and
/// the journal's copy of every report loadgen saw.
struct Scan<'a> {
    prefix: &'a [u8],
    participants: BTreeSet<u32>,
    seen: &'a HashMap<ExecId, u32>,
    orders: Vec<JournalOrder>,
    /// Only looked up, never iterated.
    by_order_id: HashMap<OrderId, usize>,
    /// The run's new orders by (participant, ClOrdID).
    entries: BTreeMap<(u32, String), Vec<usize>>,
    fills: BTreeMap<ExecId, JournalFill>,
    trades: BTreeMap<TradeId, JournalTrade>,
    requests: BTreeMap<(u32, String), Request>,
    /// The journal's report for each ExecID loadgen saw, with the run's
    /// order it concerns. Only looked up, never iterated.
    reports: HashMap<ExecId, (ExecutionReport, Option<usize>)>,
    /// Problems inside the journal itself (an order without an answer).
    problems: Vec<String>,
    /// Trades of the current step, reused.
    step_trades: BTreeMap<TradeId, JournalTrade>,
}

impl<'a> Scan<'a> {
    fn new(observed: &'a Observed, seen: &'a HashMap<ExecId, u32>) -> Scan<'a> {
        Scan {
            prefix: observed.cl_ord_id_prefix.as_bytes(),
            participants: observed.participants.iter().copied().collect(),
            seen,
            orders: Vec::new(),
            by_order_id: HashMap::new(),
            entries: BTreeMap::new(),
            fills: BTreeMap::new(),
            trades: BTreeMap::new(),
            requests: BTreeMap::new(),
            reports: HashMap::with_capacity(seen.len()),
            problems: Vec::new(),
            step_trades: BTreeMap::new(),
        }
    }

    /// Whether an id of this participant belongs to the run.
    fn in_scope(&self, participant: u32, cl_ord_id: &ClOrdId) -> bool {
        self.participants.contains(&participant) && cl_ord_id.as_bytes().starts_with(self.prefix)
    }

    fn step(&mut self, step: &Step<'_>) {
        // The run's new order this input carries, until its acknowledgement
        // (New) or reject is found among the events.
        let mut entry = match step.input {
            Input::NewOrder(o) if self.in_scope(o.participant.0, &o.cl_ord_id) => {
                Some((o.participant.0, o.cl_ord_id))
            }
            _ => None,
        };
        let request = match step.input {
            Input::Cancel(c) if self.in_scope(c.participant.0, &c.cl_ord_id) => {
                Some((c.participant, c.cl_ord_id))
            }
            Input::Replace(r) if self.in_scope(r.participant.0, &r.cl_ord_id) => {
                Some((r.participant, r.cl_ord_id))
            }
            _ => None,
        };
        let mut rejected = false;
        for event in step.events {
            match event {
                Event::Exec(er) => self.exec(step.seq, er, &mut entry),
                Event::Trade(print) => {
                    self.step_trades.entry(print.trade_id).or_default().print = Some(*print);
                }
                Event::CancelReject(cr) => {
                    rejected |= request == Some((cr.participant, cr.cl_ord_id));
                }
                _ => {}
            }
        }
        if let Some((participant, cl_ord_id)) = entry {
            self.problems.push(format!(
                "participant {participant}, ClOrdID {cl_ord_id}: the journal's new order at sequence {} produced neither an acknowledgement nor a reject",
                step.seq
            ));
        }
        if let Some((participant, cl_ord_id)) = request {
            let r = self
                .requests
                .entry((participant.0, cl_ord_id.as_str().to_owned()))
                .or_default();
            r.journaled += 1;
            r.rejected += u32::from(rejected);
        }
        if !self.step_trades.is_empty() {
            for (id, t) in std::mem::take(&mut self.step_trades) {
                if t.sides.iter().any(|s| s.order.is_some()) {
                    let kept = self.trades.entry(id).or_default();
                    kept.print = kept.print.or(t.print);
                    kept.sides.extend(t.sides);
                }
            }
        }
    }

    fn exec(&mut self, seq: u64, er: &ExecutionReport, entry: &mut Option<(u32, ClOrdId)>) {
        let is_entry = matches!(er.exec_type, ExecType::New | ExecType::Rejected)
            && *entry == Some((er.participant.0, er.cl_ord_id));
        let order = if er.exec_type == ExecType::OrderStatus {
            None
        } else if is_entry {
            *entry = None;
            let idx = self.orders.len();
            let order_id = if er.exec_type == ExecType::New {
                self.by_order_id.insert(er.order_id, idx);
                er.order_id
            } else {
                // A DuplicateClOrdId reject names the existing order: not this one.
                OrderId::NONE
            };
            self.orders.push(JournalOrder {
                participant: er.participant.0,
                cl_ord_id: er.cl_ord_id,
                current: er.cl_ord_id,
                order_id,
                last_status: er.ord_status,
                terminal: Vec::new(),
            });
            self.entries
                .entry((er.participant.0, er.cl_ord_id.as_str().to_owned()))
                .or_default()
                .push(idx);
            Some(idx)
        } else if er.exec_type == ExecType::Rejected {
            // Another new order's reject (outside the run).
            None
        } else {
            self.by_order_id.get(&er.order_id).copied()
        };
        debug_assert!(er.exec_id.seq == seq);
        if let Some(idx) = order {
            let o = &mut self.orders[idx];
            o.current = er.cl_ord_id;
            o.last_status = er.ord_status;
            if !er.ord_status.is_live() {
                o.terminal.push((er.exec_id, er.ord_status));
            }
            if er.exec_type == ExecType::Trade {
                self.fills.insert(
                    er.exec_id,
                    JournalFill {
                        order: idx,
                        last_qty_lots: er.last_qty_lots,
                        last_px_ticks: er.last_px_ticks,
                        trade_id: er.trade_id,
                    },
                );
            }
        }
        if er.exec_type == ExecType::Trade {
            self.step_trades
                .entry(er.trade_id)
                .or_default()
                .sides
                .push(TradeSide {
                    exec_id: er.exec_id,
                    participant: er.participant.0,
                    order_id: er.order_id,
                    cl_ord_id: er.cl_ord_id,
                    order,
                    side: er.side,
                    qty_lots: er.last_qty_lots,
                    px_ticks: er.last_px_ticks,
                });
        }
        if self.seen.contains_key(&er.exec_id) {
            self.reports.insert(er.exec_id, (*er, order));
        }
    }
}

/// "participant 1, ClOrdID A, OrderID 7", from what loadgen saw.
fn seen_label(r: &SeenReport) -> String {
    if r.order_id == 0 {
        format!(
            "participant {}, ClOrdID {}, OrderID NONE",
            r.participant, r.cl_ord_id
        )
    } else {
        format!(
            "participant {}, ClOrdID {}, OrderID {}",
            r.participant, r.cl_ord_id, r.order_id
        )
    }
}

/// A terminal status as a state name.
fn state_name(s: OrdStatus) -> &'static str {
    match s {
        OrdStatus::Filled => "Filled",
        OrdStatus::Canceled => "Canceled",
        OrdStatus::Expired => "Expired",
        OrdStatus::Rejected => "Rejected",
        OrdStatus::New => "New",
        OrdStatus::PartiallyFilled => "PartiallyFilled",
    }
}

/// How the report loadgen saw differs from the journal's, field by field
/// ("LastQty 4 seen, 5 in the journal"); empty when they agree.
fn differences(seen: &SeenReport, journal: &ExecutionReport) -> Vec<String> {
    let mut d = Vec::new();
    let mut field = |name: &str, seen: String, journal: String| {
        if seen != journal {
            d.push(format!("{name} {seen} seen, {journal} in the journal"));
        }
    };
    field(
        "participant",
        seen.participant.to_string(),
        journal.participant.0.to_string(),
    );
    field(
        "OrderID",
        seen.order_id.to_string(),
        journal.order_id.0.to_string(),
    );
    field(
        "ClOrdID",
        seen.cl_ord_id.clone(),
        journal.cl_ord_id.to_string(),
    );
    field(
        "OrigClOrdID",
        seen.orig_cl_ord_id.clone(),
        journal.orig_cl_ord_id.to_string(),
    );
    field(
        "ExecType",
        format!("{:?}", seen.exec_type),
        format!("{:?}", journal.exec_type),
    );
    field(
        "OrdStatus",
        format!("{:?}", seen.ord_status),
        format!("{:?}", journal.ord_status),
    );
    field(
        "LastQty",
        seen.last_qty_lots.to_string(),
        journal.last_qty_lots.to_string(),
    );
    field(
        "LastPx",
        seen.last_px_ticks.to_string(),
        journal.last_px_ticks.to_string(),
    );
    field(
        "LeavesQty",
        seen.leaves_qty_lots.to_string(),
        journal.leaves_qty_lots.to_string(),
    );
    field(
        "CumQty",
        seen.cum_qty_lots.to_string(),
        journal.cum_qty_lots.to_string(),
    );
    d
}

/// "twice", or "N times".
fn times(n: u32) -> String {
    if n == 2 {
        "twice".to_owned()
    } else {
        format!("{n} times")
    }
}

/// The checks over what the replay kept, each adding its counts and
/// mismatches to the reconciliation.
struct Checks<'a> {
    observed: &'a Observed,
    seen: &'a SeenIndex,
    scan: Scan<'a>,
    r: Reconciliation,
}

impl Checks<'_> {
    /// How often loadgen saw an engine ExecID.
    fn count(&self, id: &ExecId) -> u32 {
        self.seen.counts.get(id).copied().unwrap_or(0)
    }

    /// The label of the run's order `order`, or else `other`.
    fn label_or(&self, order: Option<usize>, other: impl FnOnce() -> String) -> String {
        order.map_or_else(other, |i| self.scan.orders[i].label())
    }

    /// A hint when an ExecID lies beyond the end of the journal.
    fn beyond_journal(&self, id: &ExecId) -> String {
        if id.seq > self.r.journal_last_seq {
            format!(
                " (the journal ends at sequence {}: read while the venue was still writing?)",
                self.r.journal_last_seq
            )
        } else {
            String::new()
        }
    }

    fn all(mut self) -> Reconciliation {
        self.r.mismatches.append(&mut self.scan.problems);
        self.orders();
        self.terminal_states();
        self.fills();
        self.trades();
        self.reports();
        self.cancel_rejects();
        self.r
    }

    /// Check 1: every order sent is journaled once, every journaled one was sent.
    fn orders(&mut self) {
        let mut m = Vec::new();
        let mut sent: BTreeMap<(u32, String), u32> = BTreeMap::new();
        for o in &self.observed.orders {
            if !self.scan.participants.contains(&o.participant)
                || !o.cl_ord_id.starts_with(&self.observed.cl_ord_id_prefix)
            {
                m.push(format!(
                    "participant {}, ClOrdID {}: sent by loadgen but outside the run (participants {:?}, ClOrdID prefix {:?})",
                    o.participant,
                    o.cl_ord_id,
                    self.observed.participants,
                    self.observed.cl_ord_id_prefix
                ));
            }
            *sent
                .entry((o.participant, o.cl_ord_id.clone()))
                .or_default() += 1;
        }
        self.r.orders_sent = self.observed.orders.len() as u64;
        self.r.orders_in_journal = self.scan.orders.len() as u64;
        let keys: BTreeSet<&(u32, String)> = sent.keys().chain(self.scan.entries.keys()).collect();
        for key in keys {
            let (participant, cl_ord_id) = key;
            let n_sent = sent.get(key).copied().unwrap_or(0);
            let journaled = self.scan.entries.get(key).map_or(&[][..], Vec::as_slice);
            let n_gateway = self.seen.gateway_rejects.get(key).copied().unwrap_or(0);
            let label = self.label_or(journaled.first().copied(), || {
                format!("participant {participant}, ClOrdID {cl_ord_id}")
            });
            if n_sent > 1 {
                m.push(format!(
                    "{label}: loadgen sent this ClOrdID {}",
                    times(n_sent)
                ));
            }
            match (n_sent, journaled.len()) {
                (0, 1) => m.push(format!(
                    "{label}: a new order in the journal that loadgen did not send"
                )),
                (0, n) => m.push(format!(
                    "{label}: {n} new orders in the journal with this ClOrdID, which loadgen did not send"
                )),
                (_, 0) if n_gateway > 0 => self.r.orders_rejected_by_gateway += 1,
                (_, 0) => m.push(format!("{label}: sent by loadgen but not in the journal")),
                (_, 1) => {}
                (_, n) => m.push(format!("{label}: in the journal as a new order {n} times")),
            }
            if n_gateway > 0 && !journaled.is_empty() {
                m.push(format!(
                    "{label}: loadgen saw a gateway reject for it, but it is in the journal"
                ));
            }
        }
        self.r.mismatches.append(&mut m);
    }

    /// Check 2: exactly one terminal state per order in the journal, and loadgen
    /// saw it.
    fn terminal_states(&mut self) {
        let mut m = Vec::new();
        for o in &self.scan.orders {
            let Some(&(first_id, first_status)) = o.terminal.first() else {
                self.r.orders_open += 1;
                m.push(format!(
                    "{}: still open at the end of the journal ({})",
                    o.label(),
                    state_name(o.last_status)
                ));
                continue;
            };
            match first_status {
                OrdStatus::Filled => self.r.orders_filled += 1,
                OrdStatus::Canceled => self.r.orders_canceled += 1,
                OrdStatus::Expired => self.r.orders_expired += 1,
                _ => self.r.orders_rejected += 1,
            }
            if o.terminal.len() > 1 {
                let states: Vec<String> = o
                    .terminal
                    .iter()
                    .map(|(id, s)| format!("{} ({id})", state_name(*s)))
                    .collect();
                m.push(format!(
                    "{}: {} terminal states in the journal: {}",
                    o.label(),
                    o.terminal.len(),
                    states.join(", ")
                ));
            }
            if self.count(&first_id) == 0 {
                m.push(format!(
                    "{}: loadgen did not see its terminal state {} (ExecID {first_id})",
                    o.label(),
                    state_name(first_status)
                ));
            }
        }
        self.r.mismatches.append(&mut m);
    }

    /// Check 3: every fill of the run in the journal was seen exactly once.
    fn fills(&mut self) {
        let mut m = Vec::new();
        self.r.fills_in_journal = self.scan.fills.len() as u64;
        for (id, fill) in &self.scan.fills {
            let label = self.scan.orders[fill.order].label();
            match self.count(id) {
                0 => m.push(format!(
                    "{label}: fill {id} missed: in the journal ({} lots at {} ticks, trade {}), loadgen did not see it",
                    fill.last_qty_lots, fill.last_px_ticks, fill.trade_id.0
                )),
                1 => {}
                n => m.push(format!("{label}: fill {id} reported {}", times(n))),
            }
        }
        self.r.mismatches.append(&mut m);
    }

    /// Check 4: every trade with a side in the run has a buy and a sell that agree
    /// with each other and with the trade print; loadgen saw the sides of
    /// the participants it drove.
    fn trades(&mut self) {
        let mut m = Vec::new();
        self.r.trades_checked = self.scan.trades.len() as u64;
        for (trade_id, t) in &self.scan.trades {
            let trade_id = trade_id.0;
            let side_label = |s: &TradeSide| {
                self.label_or(s.order, || {
                    format!(
                        "participant {}, ClOrdID {}, OrderID {}",
                        s.participant, s.cl_ord_id, s.order_id.0
                    )
                })
            };
            let buy = t.sides.iter().find(|s| s.side == Side::Buy);
            let sell = t.sides.iter().find(|s| s.side == Side::Sell);
            let (2, Some(b), Some(s)) = (t.sides.len(), buy, sell) else {
                let sides: Vec<String> = t
                    .sides
                    .iter()
                    .map(|s| format!("{:?} fill {} ({})", s.side, s.exec_id, side_label(s)))
                    .collect();
                m.push(format!(
                    "trade {trade_id}: {} fills in the journal, expected a buy and a sell: {}",
                    t.sides.len(),
                    sides.join(", ")
                ));
                continue;
            };
            if b.qty_lots != s.qty_lots || b.px_ticks != s.px_ticks {
                m.push(format!(
                    "trade {trade_id}: the buy side ({}) has {} lots at {} ticks, the sell side ({}) {} lots at {} ticks",
                    side_label(b),
                    b.qty_lots,
                    b.px_ticks,
                    side_label(s),
                    s.qty_lots,
                    s.px_ticks
                ));
            }
            if b.order_id == s.order_id {
                m.push(format!(
                    "trade {trade_id}: both sides are the same order ({})",
                    side_label(b)
                ));
            }
            match t.print {
                None => m.push(format!(
                    "trade {trade_id}: no trade print in the journal (buy {}, sell {})",
                    side_label(b),
                    side_label(s)
                )),
                Some(p)
                    if p.qty_lots != b.qty_lots
                        || p.price_ticks != b.px_ticks
                        || p.buy_order_id != b.order_id
                        || p.sell_order_id != s.order_id =>
                {
                    m.push(format!(
                        "trade {trade_id}: the trade print ({} lots at {} ticks, buy OrderID {}, sell OrderID {}) disagrees with its fills ({} lots at {} ticks, buy OrderID {}, sell OrderID {})",
                        p.qty_lots,
                        p.price_ticks,
                        p.buy_order_id.0,
                        p.sell_order_id.0,
                        b.qty_lots,
                        b.px_ticks,
                        b.order_id.0,
                        s.order_id.0
                    ));
                }
                Some(_) => {}
            }
            // The side of an order outside the run, of a participant loadgen
            // drove, was sent to loadgen too (the run's sides are check 3's).
            for s in &t.sides {
                if s.order.is_none()
                    && self.scan.participants.contains(&s.participant)
                    && self.count(&s.exec_id) == 0
                {
                    m.push(format!(
                        "trade {trade_id}: loadgen drove participant {} but did not see its side, fill {} ({})",
                        s.participant,
                        s.exec_id,
                        side_label(s)
                    ));
                }
            }
        }
        self.r.mismatches.append(&mut m);
    }

    /// Check 5: every report loadgen saw is in the journal, with the same fields,
    /// once.
    fn reports(&mut self) {
        let mut m = Vec::new();
        let mut compared: BTreeSet<ExecId> = BTreeSet::new();
        for (i, s) in self.observed.reports.iter().enumerate() {
            self.r.reports_seen += 1;
            if s.exec_type == ExecType::OrderStatus {
                self.r.reports_status += 1;
                continue;
            }
            let is_fill = s.exec_type == ExecType::Trade;
            self.r.fills_seen += u64::from(is_fill);
            let Some(id) = self.seen.exec_ids[i] else {
                // A gateway's reject (check 1) has an ExecID of its own.
                if s.exec_type != ExecType::Rejected {
                    m.push(format!(
                        "{}: report with ExecID {:?} ({:?}) is not an engine ExecID (SEQ-IDX)",
                        seen_label(s),
                        s.exec_id,
                        s.exec_type
                    ));
                }
                continue;
            };
            if !compared.insert(id) {
                continue;
            }
            let Some((journal, order)) = self.scan.reports.get(&id) else {
                if is_fill {
                    m.push(format!(
                        "{}: unknown fill {id} ({} lots at {} ticks): not in the journal{}",
                        seen_label(s),
                        s.last_qty_lots,
                        s.last_px_ticks,
                        self.beyond_journal(&id)
                    ));
                } else {
                    m.push(format!(
                        "{}: report {id} ({:?}) is not in the journal{}",
                        seen_label(s),
                        s.exec_type,
                        self.beyond_journal(&id)
                    ));
                }
                continue;
            };
            let label = self.label_or(*order, || seen_label(s));
            if order.is_none() {
                self.r.reports_outside_run += 1;
                self.r.fills_outside_run += u64::from(journal.exec_type == ExecType::Trade);
            }
            let d = differences(s, journal);
            if !d.is_empty() {
                m.push(format!(
                    "{label}: {} {id} disagrees with the journal: {}",
                    if is_fill { "fill" } else { "report" },
                    d.join("; ")
                ));
            }
            // A fill of the run's seen more than once is check 3's.
            let n = self.count(&id);
            if n > 1 && !(order.is_some() && journal.exec_type == ExecType::Trade) {
                m.push(format!(
                    "{label}: report {id} ({:?}) reported {}",
                    journal.exec_type,
                    times(n)
                ));
            }
        }
        self.r.mismatches.append(&mut m);
    }

    /// Check 6: the journal's cancel rejects of the run are the ones loadgen saw.
    fn cancel_rejects(&mut self) {
        let mut m = Vec::new();
        let mut seen: BTreeMap<(u32, String), u32> = BTreeMap::new();
        for c in &self.observed.cancel_rejects {
            *seen
                .entry((c.participant, c.cl_ord_id.clone()))
                .or_default() += 1;
        }
        self.r.cancel_rejects_seen = self.observed.cancel_rejects.len() as u64;
        self.r.cancel_rejects_in_journal = self
            .scan
            .requests
            .values()
            .map(|q| u64::from(q.rejected))
            .sum();
        let rejected = self
            .scan
            .requests
            .iter()
            .filter(|(_, q)| q.rejected > 0)
            .map(|(k, _)| k);
        let keys: BTreeSet<&(u32, String)> = seen.keys().chain(rejected).collect();
        for key in keys {
            let (participant, cl_ord_id) = key;
            let n_seen = seen.get(key).copied().unwrap_or(0);
            let Some(q) = self.scan.requests.get(key) else {
                self.r.cancel_rejects_by_gateway += u64::from(n_seen);
                continue;
            };
            let what = format!("participant {participant}, cancel or replace request {cl_ord_id}");
            if n_seen == q.rejected {
                continue;
            }
            if q.rejected == 0 {
                m.push(format!(
                    "{what}: loadgen saw a cancel reject, but the venue accepted the request"
                ));
            } else if n_seen < q.rejected {
                m.push(format!(
                    "{what}: cancel reject missed: {} in the journal, {n_seen} seen",
                    q.rejected
                ));
            } else {
                m.push(format!(
                    "{what}: cancel reject reported {}, {} in the journal",
                    times(n_seen),
                    q.rejected
                ));
            }
        }
        self.r.mismatches.append(&mut m);
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use engine::sequencer::{Output, Sequencer, SequencerConfig};
    use engine::{
        Cancel, Engine, InstrumentId, MassCancel, NewOrder, OrdType, OrderRef, OrderStatusRequest,
        ParticipantId, Replace, TimeInForce,
    };
    use journal::{Durability, Journal, JournalConfig};
    use venue::runtime::JournalLog;

    use super::*;
    use crate::record::{SeenCancelReject, SentOrder};

    /// 2026-11-24T14:00:00Z.
    const T0: u64 = 1_795_528_800_000_000_000;
    const PREFIX: &str = "lg-";
    /// The participants loadgen drives; participant 3 trades too, outside the run.
    const DRIVEN: [u32; 2] = [1, 2];

    fn cl(s: &str) -> ClOrdId {
        ClOrdId::new(s.as_bytes()).expect("a valid ClOrdID")
    }

    fn order(participant: u32, id: &str, side: Side, tif: TimeInForce, px: i64, qty: u64) -> Input {
        Input::NewOrder(NewOrder {
            participant: ParticipantId(participant),
            instrument: InstrumentId(1),
            cl_ord_id: cl(id),
            side,
            ord_type: OrdType::Limit,
            tif,
            price_ticks: Some(px),
            stop_price_ticks: None,
            qty_lots: qty,
            display_qty_lots: 0,
            min_qty_lots: 0,
            post_only: false,
            expire_time_ns: None,
        })
    }

    fn limit(participant: u32, id: &str, side: Side, px: i64, qty: u64) -> Input {
        order(participant, id, side, TimeInForce::Gtc, px, qty)
    }

    fn cancel(participant: u32, id: &str, target: &str) -> Input {
        Input::Cancel(Cancel {
            participant: ParticipantId(participant),
            cl_ord_id: cl(id),
            target: OrderRef::ClOrdId(cl(target)),
        })
    }

    fn mass_cancel(participant: u32, id: &str) -> Input {
        Input::MassCancel(MassCancel {
            participant: ParticipantId(participant),
            cl_ord_id: cl(id),
            instrument: None,
            side: None,
            tif: None,
        })
    }

    /// Before the run: an earlier run's order of participant 1 (left
    /// resting) and an order of participant 3, whom loadgen does not drive.
    fn before() -> Vec<Input> {
        vec![
            limit(1, "old-1", Side::Buy, 12_780, 1),
            limit(3, "x-s2", Side::Sell, 12_812, 3),
        ]
    }

    /// The run; the comments say what each input does.
    fn script(mass_cancels: bool) -> Vec<Input> {
        use Side::{Buy, Sell};
        let mut s = vec![
            limit(1, "lg-b1", Buy, 12_790, 10),    // rests
            limit(1, "lg-b2", Buy, 12_795, 5),     // rests, best bid
            limit(2, "lg-s1", Sell, 12_810, 7),    // rests below x-s2
            limit(2, "lg-agg1", Sell, 12_790, 12), // fills b2 (5), then b1 (7 of 10)
            Input::Replace(Replace {
                // b1 -> b1r, 12 lots (leaves 5) at a new price
                participant: ParticipantId(1),
                cl_ord_id: cl("lg-b1r"),
                target: OrderRef::ClOrdId(cl("lg-b1")),
                qty_lots: 12,
                price_ticks: Some(12_792),
                stop_price_ticks: None,
            }),
            // Fills s1 (7) and participant 3's x-s2 (3); the other 5 are cancelled.
            order(1, "lg-ioc", Buy, TimeInForce::Ioc, 12_812, 15),
            cancel(2, "lg-c1", "lg-s1"), // too late: a cancel reject
            limit(2, "lg-s3", Sell, 12_800, 4), // rests
            cancel(2, "lg-s3c", "lg-s3"), // cancels s3
            limit(1, "lg-bad", Buy, 12_790, 0), // rejected (quantity zero)
            Input::OrderStatus(OrderStatusRequest {
                // a status answer, not a state change
                participant: ParticipantId(1),
                target: OrderRef::ClOrdId(cl("lg-b1")),
            }),
            limit(2, "lg-s4", Sell, 12_799, 2), // rests
        ];
        if mass_cancels {
            // Cancels old-1 (outside the run, but loadgen sees it) and b1r; then s4.
            s.push(mass_cancel(1, "lg-mc1"));
            s.push(mass_cancel(2, "lg-mc2"));
        }
        s
    }

    /// A journal made by a real sequencer, with a snapshot between the
    /// earlier inputs and the run, and what a perfect client saw of the run.
    struct Run {
        _tmp: tempfile::TempDir,
        data: PathBuf,
        snapshot_seq: u64,
        observed: Observed,
    }

    /// An execution report as a perfect client receives it.
    fn seen(er: &ExecutionReport) -> SeenReport {
        SeenReport {
            participant: er.participant.0,
            cl_ord_id: er.cl_ord_id.to_string(),
            orig_cl_ord_id: er.orig_cl_ord_id.to_string(),
            order_id: er.order_id.0,
            exec_id: er.exec_id.to_string(),
            exec_type: er.exec_type,
            ord_status: er.ord_status,
            last_qty_lots: er.last_qty_lots,
            last_px_ticks: er.last_px_ticks,
            leaves_qty_lots: er.leaves_qty_lots,
            cum_qty_lots: er.cum_qty_lots,
        }
    }

    fn run(mass_cancels: bool) -> Run {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let data = tmp.path().join("data");
        let journal = Journal::open(
            data.join("journal"),
            JournalConfig {
                segment_size_bytes: 64 << 10,
                index_interval_bytes: 1024,
                durability: Durability::Process,
                prefault_distance_bytes: 0,
            },
        )
        .expect("journal opens");
        let engine = Engine::new(venue::demo::engine_config()).expect("engine");
        let mut seq = Sequencer::new(
            engine,
            JournalLog::new(journal),
            SequencerConfig {
                batch_max: 1,
                gate_on_durable: false,
                tick_interval_ns: 0,
                // Checkpoints in the journal, which the replay verifies.
                checkpoint_every_inputs: 4,
                ..SequencerConfig::default()
            },
            0,
        );
        let sender = seq.sender();
        let rx = seq.receiver();
        let mut observed = Observed {
            cl_ord_id_prefix: PREFIX.to_owned(),
            participants: DRIVEN.to_vec(),
            ..Observed::default()
        };
        let mut snapshot_seq = 0;
        let mut now = T0;
        for (phase, inputs) in [before(), script(mass_cancels)].into_iter().enumerate() {
            let in_run = phase == 1;
            if in_run {
                snapshot_seq = seq.log().journal().last_seq();
                venue::snapshot::write(
                    &data.join("snapshots"),
                    seq.engine(),
                    snapshot_seq,
                    seq.last_time_ns(),
                )
                .expect("snapshot");
            }
            for input in inputs {
                if let Input::NewOrder(o) = &input
                    && in_run
                    && DRIVEN.contains(&o.participant.0)
                {
                    observed.orders.push(SentOrder {
                        participant: o.participant.0,
                        cl_ord_id: o.cl_ord_id.to_string(),
                    });
                }
                sender.send(input, 10).expect("room in the ring");
                now += 1_000_123;
                seq.do_work(now);
                while let Some(out) = rx.try_recv() {
                    let Output::Event { event, .. } = out else {
                        panic!("refused: {out:?}");
                    };
                    match event {
                        Event::Exec(er) if in_run && DRIVEN.contains(&er.participant.0) => {
                            observed.reports.push(seen(&er));
                        }
                        Event::CancelReject(cr) if in_run && DRIVEN.contains(&cr.participant.0) => {
                            observed.cancel_rejects.push(SeenCancelReject {
                                participant: cr.participant.0,
                                cl_ord_id: cr.cl_ord_id.to_string(),
                                orig_cl_ord_id: cr.orig_cl_ord_id.to_string(),
                            });
                        }
                        _ => {}
                    }
                }
            }
        }
        seq.log_mut().journal_mut().sync().expect("sync");
        let (_, log) = seq.into_parts();
        log.into_journal().close().expect("close");
        Run {
            _tmp: tmp,
            data,
            snapshot_seq,
            observed,
        }
    }

    fn reconcile_run(run: &Run, observed: &Observed) -> Reconciliation {
        reconcile(observed, &run.data, &venue::demo::engine_config()).expect("reconciles")
    }

    /// The index of the report loadgen saw for `cl_ord_id` with `exec_type`
    /// (the first such).
    fn find(observed: &Observed, cl_ord_id: &str, exec_type: ExecType) -> usize {
        observed
            .reports
            .iter()
            .position(|r| r.cl_ord_id == cl_ord_id && r.exec_type == exec_type)
            .unwrap_or_else(|| panic!("no {exec_type:?} report for {cl_ord_id}"))
    }

    /// The only mismatch, which must contain every one of `parts`.
    fn assert_one_mismatch(r: &Reconciliation, parts: &[&str]) {
        assert_eq!(r.mismatches.len(), 1, "{r}");
        let m = &r.mismatches[0];
        for p in parts {
            assert!(m.contains(p), "{m:?} does not contain {p:?}");
        }
        assert!(!r.is_ok());
        assert!(r.to_string().contains(m.as_str()), "{r}");
    }

    #[test]
    fn a_perfect_client_reconciles() {
        let run = run(true);
        let r = reconcile_run(&run, &run.observed);
        assert!(r.is_ok(), "{r}");
        // The replay started from the snapshot taken before the run.
        assert!(run.snapshot_seq > 0);
        assert_eq!(r.journal_from_seq, run.snapshot_seq + 1);
        assert!(r.journal_torn_tail.is_none());
        assert_eq!(r.orders_sent, 8);
        assert_eq!(r.orders_in_journal, 8);
        assert_eq!(r.orders_rejected_by_gateway, 0);
        // Filled: b2, s1, agg1; canceled: b1r, ioc (its remainder), s3, s4.
        assert_eq!(r.orders_filled, 3);
        assert_eq!(r.orders_canceled, 4);
        assert_eq!(r.orders_expired, 0);
        assert_eq!(r.orders_rejected, 1);
        assert_eq!(r.orders_open, 0);
        // Trades agg1/b2, agg1/b1, ioc/s1 (two sides each), ioc/x-s2 (one).
        assert_eq!(r.fills_in_journal, 7);
        assert_eq!(r.fills_seen, 7);
        assert_eq!(r.fills_outside_run, 0);
        assert_eq!(r.trades_checked, 4);
        assert_eq!(r.reports_seen, run.observed.reports.len() as u64);
        assert_eq!(r.reports_status, 1);
        // old-1's cancel by the mass cancel.
        assert_eq!(r.reports_outside_run, 1);
        assert_eq!(r.cancel_rejects_seen, 1);
        assert_eq!(r.cancel_rejects_in_journal, 1);
        assert_eq!(r.cancel_rejects_by_gateway, 0);
        let text = r.to_string();
        assert!(
            text.contains(
                "terminal        filled 3, canceled 4, expired 0, rejected on entry 1, still open 0"
            ),
            "{text}"
        );
        assert!(
            text.contains("\nok: every order reached exactly one terminal state"),
            "{text}"
        );
    }

    #[test]
    fn a_dropped_fill_is_missed() {
        let run = run(true);
        let mut observed = run.observed.clone();
        // b1's partial fill (7 of 10), not its terminal report.
        let i = find(&observed, "lg-b1", ExecType::Trade);
        let exec_id = observed.reports.remove(i).exec_id;
        let r = reconcile_run(&run, &observed);
        assert_one_mismatch(
            &r,
            &[
                "participant 1, ClOrdID lg-b1 (now lg-b1r), OrderID",
                &format!("fill {exec_id} missed"),
                "7 lots at 12790 ticks",
            ],
        );
        assert_eq!(r.fills_seen, 6);
        assert_eq!(r.fills_in_journal, 7);
    }

    #[test]
    fn a_duplicated_fill_is_reported_twice() {
        let run = run(true);
        let mut observed = run.observed.clone();
        let i = find(&observed, "lg-s1", ExecType::Trade);
        let fill = observed.reports[i].clone();
        observed.reports.push(fill.clone());
        let r = reconcile_run(&run, &observed);
        assert_one_mismatch(
            &r,
            &[
                "participant 2, ClOrdID lg-s1, OrderID",
                &format!("fill {} reported twice", fill.exec_id),
            ],
        );
    }

    #[test]
    fn a_report_seen_twice_is_reported_twice() {
        let run = run(true);
        let mut observed = run.observed.clone();
        let i = find(&observed, "lg-s3", ExecType::New);
        let report = observed.reports[i].clone();
        observed.reports.insert(i + 1, report.clone());
        let r = reconcile_run(&run, &observed);
        assert_one_mismatch(
            &r,
            &[
                "participant 2, ClOrdID lg-s3 (now lg-s3c)",
                &format!("report {} (New) reported twice", report.exec_id),
            ],
        );
    }

    #[test]
    fn a_changed_last_qty_disagrees() {
        let run = run(true);
        let mut observed = run.observed.clone();
        let i = find(&observed, "lg-agg1", ExecType::Trade);
        observed.reports[i].last_qty_lots -= 1;
        let exec_id = observed.reports[i].exec_id.clone();
        let r = reconcile_run(&run, &observed);
        assert_one_mismatch(
            &r,
            &[
                "participant 2, ClOrdID lg-agg1",
                &format!(
                    "fill {exec_id} disagrees with the journal: LastQty 4 seen, 5 in the journal"
                ),
            ],
        );
    }

    #[test]
    fn a_dropped_terminal_report_is_not_seen() {
        let run = run(true);
        let mut observed = run.observed.clone();
        let i = find(&observed, "lg-s3c", ExecType::Canceled);
        let exec_id = observed.reports.remove(i).exec_id;
        let r = reconcile_run(&run, &observed);
        assert_one_mismatch(
            &r,
            &[
                "participant 2, ClOrdID lg-s3 (now lg-s3c), OrderID",
                &format!("loadgen did not see its terminal state Canceled (ExecID {exec_id})"),
            ],
        );
    }

    #[test]
    fn an_order_that_never_reached_the_venue_is_not_in_the_journal() {
        let run = run(true);
        let mut observed = run.observed.clone();
        observed.orders.push(SentOrder {
            participant: 1,
            cl_ord_id: "lg-ghost".to_owned(),
        });
        let r = reconcile_run(&run, &observed);
        assert_one_mismatch(
            &r,
            &["participant 1, ClOrdID lg-ghost: sent by loadgen but not in the journal"],
        );
        assert_eq!(r.orders_sent, 9);
        assert_eq!(r.orders_in_journal, 8);

        // Answered by the gateway's own reject, it never was journaled: no mismatch.
        observed.reports.push(SeenReport {
            participant: 1,
            cl_ord_id: "lg-ghost".to_owned(),
            orig_cl_ord_id: String::new(),
            order_id: 0,
            exec_id: "GW-1".to_owned(),
            exec_type: ExecType::Rejected,
            ord_status: OrdStatus::Rejected,
            last_qty_lots: 0,
            last_px_ticks: 0,
            leaves_qty_lots: 0,
            cum_qty_lots: 0,
        });
        let r = reconcile_run(&run, &observed);
        assert!(r.is_ok(), "{r}");
        assert_eq!(r.orders_rejected_by_gateway, 1);
    }

    #[test]
    fn an_order_loadgen_did_not_record_was_not_sent() {
        let run = run(true);
        let mut observed = run.observed.clone();
        observed.orders.retain(|o| o.cl_ord_id != "lg-s4");
        let r = reconcile_run(&run, &observed);
        assert_one_mismatch(
            &r,
            &[
                "participant 2, ClOrdID lg-s4, OrderID",
                "a new order in the journal that loadgen did not send",
            ],
        );
    }

    #[test]
    fn orders_left_open_are_still_open() {
        let run = run(false);
        let r = reconcile_run(&run, &run.observed);
        assert_eq!(r.orders_open, 2, "{r}");
        assert_eq!(r.mismatches.len(), 2, "{r}");
        assert!(
            r.mismatches[0].starts_with("participant 1, ClOrdID lg-b1 (now lg-b1r), OrderID")
                && r.mismatches[0]
                    .ends_with(": still open at the end of the journal (PartiallyFilled)"),
            "{r}"
        );
        assert!(
            r.mismatches[1].starts_with("participant 2, ClOrdID lg-s4, OrderID")
                && r.mismatches[1].ends_with(": still open at the end of the journal (New)"),
            "{r}"
        );
    }

    #[test]
    fn a_fill_the_journal_does_not_have_is_unknown() {
        let run = run(true);
        let mut observed = run.observed.clone();
        let i = find(&observed, "lg-s1", ExecType::Trade);
        let mut fill = observed.reports[i].clone();
        fill.exec_id = "999-0".to_owned();
        observed.reports.push(fill);
        let r = reconcile_run(&run, &observed);
        assert_one_mismatch(
            &r,
            &[
                "participant 2, ClOrdID lg-s1, OrderID",
                "unknown fill 999-0 (7 lots at 12810 ticks): not in the journal (the journal ends at sequence",
            ],
        );
    }

    #[test]
    fn a_missed_cancel_reject_is_reported() {
        let run = run(true);
        let mut observed = run.observed.clone();
        observed.cancel_rejects.clear();
        let r = reconcile_run(&run, &observed);
        assert_one_mismatch(
            &r,
            &[
                "participant 2, cancel or replace request lg-c1: cancel reject missed: 1 in the journal, 0 seen",
            ],
        );
        // One for a request the venue never saw is the gateway's own.
        observed.cancel_rejects.push(SeenCancelReject {
            participant: 2,
            cl_ord_id: "lg-c1".to_owned(),
            orig_cl_ord_id: "lg-s1".to_owned(),
        });
        observed.cancel_rejects.push(SeenCancelReject {
            participant: 2,
            cl_ord_id: "lg-throttled".to_owned(),
            orig_cl_ord_id: "lg-s1".to_owned(),
        });
        let r = reconcile_run(&run, &observed);
        assert!(r.is_ok(), "{r}");
        assert_eq!(r.cancel_rejects_by_gateway, 1);
    }

    #[test]
    fn the_printed_list_is_capped() {
        let r = Reconciliation {
            mismatches: (0..MISMATCH_LINES_MAX + 5)
                .map(|i| format!("m{i}"))
                .collect(),
            ..Reconciliation::default()
        };
        let text = r.to_string();
        assert!(
            text.contains(&format!("MISMATCHES: {}", MISMATCH_LINES_MAX + 5)),
            "{text}"
        );
        assert!(
            text.contains(&format!("  m{}\n", MISMATCH_LINES_MAX - 1)),
            "{text}"
        );
        assert!(
            !text.contains(&format!("  m{}\n", MISMATCH_LINES_MAX)),
            "{text}"
        );
        assert!(text.ends_with("  ... and 5 more\n"), "{text}");
    }

    #[test]
    fn a_directory_without_a_journal_is_an_error() {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let e = reconcile(
            &Observed::default(),
            tmp.path(),
            &venue::demo::engine_config(),
        )
        .expect_err("no journal");
        assert!(format!("{e:#}").contains("is not a journal"), "{e:#}");
    }

    #[test]
    fn exec_ids_parse_as_seq_dash_idx_only() {
        assert_eq!(parse_exec_id("12-3"), Some(ExecId { seq: 12, idx: 3 }));
        assert_eq!(parse_exec_id("GW-1"), None);
        assert_eq!(parse_exec_id("12-"), None);
        assert_eq!(parse_exec_id("+1-2"), None);
        assert_eq!(parse_exec_id("12"), None);
    }
}
