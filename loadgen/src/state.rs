//! What a run knows while it runs, shared by the sending thread and the
//! threads that read answers (behind one mutex): every request sent (its
//! intended time, what it targets, whether it was answered), the orders
//! still live per session (the targets of cancels, replaces and status
//! requests), the latency histograms and the per-second counts.
//!
//! Every ClOrdID loadgen sends is `PREFIX` followed by the request's number
//! `n`, an index into the request table, so an answer finds its request in
//! O(1). A cancel/replace request's number becomes the order's ClOrdID once
//! it is confirmed, and maps back to the order's first request.

use std::collections::BTreeMap;

use engine::event::{ExecType, OrdStatus};
use engine::types::{OrdType, Side, TimeInForce};
use hdrhistogram::Histogram;

use crate::generator::Draw;
use crate::record::{
    Metric, Observed, Second, SeenCancelReject, SeenReport, SentOrder, latency_histogram,
};
use crate::scenario::{Kind, Role};

/// A session loadgen drives.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    /// SenderCompID.
    pub name: String,
    /// The engine's participant id.
    pub participant: u32,
    /// Dealer or taker.
    pub role: Role,
}

/// One request, ready for a transport to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// Its number (the ClOrdID suffix).
    pub n: u64,
    /// The session that sends it.
    pub session: usize,
    /// Its intended send time, ns from the start.
    pub intended_ns: u64,
    /// What it is.
    pub body: Body,
}

/// What a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// A new order.
    New {
        /// Index into the instruments.
        instrument: usize,
        /// Side.
        side: Side,
        /// Limit or market.
        ord_type: OrdType,
        /// Time in force.
        tif: TimeInForce,
        /// Limit price in ticks.
        price_ticks: Option<i64>,
        /// Quantity in lots.
        qty_lots: u64,
    },
    /// Cancel the order whose current ClOrdID is request `orig`.
    Cancel {
        /// The order's current ClOrdID number.
        orig: u64,
        /// Its instrument.
        instrument: usize,
        /// Its side.
        side: Side,
        /// Its quantity (OrderQty is required on a FIX cancel).
        qty_lots: u64,
    },
    /// Replace it with a new price and quantity.
    Replace {
        /// The order's current ClOrdID number.
        orig: u64,
        /// Its instrument.
        instrument: usize,
        /// Its side.
        side: Side,
        /// Its time in force (unchanged).
        tif: TimeInForce,
        /// The new limit price.
        price_ticks: i64,
        /// The new total quantity.
        qty_lots: u64,
    },
    /// Ask for its status.
    Status {
        /// The order's current ClOrdID number.
        orig: u64,
        /// Its instrument.
        instrument: usize,
        /// Its side.
        side: Side,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReqKind {
    New,
    Cancel,
    Replace,
    Status,
}

/// One row of the request table. For a new order it also holds the
/// order's state as loadgen last saw it.
#[derive(Clone, Copy, Debug)]
struct Req {
    kind: ReqKind,
    session: u16,
    instrument: u16,
    side: Side,
    tif: TimeInForce,
    answered: bool,
    marketable: bool,
    filled: bool,
    live: bool,
    /// A cancel or replace of this order is in flight.
    busy: bool,
    intended_ns: u64,
    /// The order's first request (itself for a new order).
    order: u64,
    /// For an order: its current ClOrdID number.
    current: u64,
    price_ticks: i64,
    qty_lots: u64,
    cum_lots: u64,
    /// For an order: the status request for it in flight (0: none).
    status_req: u64,
    /// For an order: the sequence number of the input that acknowledged
    /// it (the `SEQ` of its first ExecID), 0 before that.
    ack_seq: u64,
}

/// The shared state of a run.
#[derive(Debug)]
pub struct State {
    prefix: String,
    sessions: Vec<SessionInfo>,
    dealers: Vec<usize>,
    takers: Vec<usize>,
    warmup_ns: u64,
    reqs: Vec<Req>,
    live: Vec<Vec<u64>>,
    histograms: BTreeMap<Metric, Histogram<u64>>,
    interval: Histogram<u64>,
    per_second: Vec<Second>,
    rejects: BTreeMap<String, u64>,
    errors: Vec<String>,
    disconnects: u64,
    sent_total: u64,
    sent_measured: u64,
    answered: u64,
    collect: bool,
    observed: Observed,
    mass_cancel_answered: Vec<bool>,
    /// When the last request was sent, ns from the start.
    pub last_sent_ns: u64,
    /// When sending began, ns from the start: the schedule's zero.
    zero_ns: u64,
    refusals: u64,
}

impl State {
    /// A run over `sessions` with ClOrdIDs `prefix` + number; requests due
    /// before `warmup_ns` are left out of the latencies; `collect` keeps
    /// every report for `--verify`.
    #[must_use]
    pub fn new(prefix: &str, sessions: Vec<SessionInfo>, warmup_ns: u64, collect: bool) -> State {
        let dealers: Vec<usize> = (0..sessions.len())
            .filter(|i| sessions[*i].role == Role::Dealer)
            .collect();
        let takers: Vec<usize> = (0..sessions.len())
            .filter(|i| sessions[*i].role == Role::Taker)
            .collect();
        let all: Vec<usize> = (0..sessions.len()).collect();
        State {
            prefix: prefix.to_owned(),
            dealers: if dealers.is_empty() {
                all.clone()
            } else {
                dealers
            },
            takers: if takers.is_empty() { all } else { takers },
            live: vec![Vec::new(); sessions.len()],
            mass_cancel_answered: vec![false; sessions.len()],
            observed: Observed {
                cl_ord_id_prefix: prefix.to_owned(),
                participants: sessions.iter().map(|s| s.participant).collect(),
                ..Observed::default()
            },
            sessions,
            warmup_ns,
            reqs: Vec::new(),
            histograms: BTreeMap::new(),
            interval: latency_histogram(),
            per_second: Vec::new(),
            rejects: BTreeMap::new(),
            errors: Vec::new(),
            disconnects: 0,
            sent_total: 0,
            sent_measured: 0,
            answered: 0,
            collect,
            last_sent_ns: 0,
            zero_ns: 0,
            refusals: 0,
        }
    }

    /// Sending begins at `now_ns` (ns from the start the transports
    /// measure from): the zero of the schedule, the warm-up and the
    /// per-second counts.
    pub fn begin(&mut self, now_ns: u64) {
        self.zero_ns = now_ns;
    }

    /// The schedule's zero (see [`State::begin`]).
    #[must_use]
    pub fn zero_ns(&self) -> u64 {
        self.zero_ns
    }

    /// The sessions.
    #[must_use]
    pub fn sessions(&self) -> &[SessionInfo] {
        &self.sessions
    }

    /// The ClOrdID prefix.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Turns a draw into a request: picks the session, and for a cancel,
    /// replace or status request a live order of it (a new limit order
    /// instead when there is none), and records it as sent at `now_ns`.
    /// Times are ns from the transports' start; `intended_ns` is the
    /// request's slot in the schedule plus [`State::zero_ns`].
    pub fn plan(&mut self, d: &Draw, intended_ns: u64, now_ns: u64) -> Request {
        let n = self.reqs.len() as u64;
        let body = match d.kind {
            Kind::Cancel | Kind::Replace | Kind::Status => self.target(d),
            _ => None,
        };
        let (session, body, kind, order) = match body {
            Some((session, order, body)) => {
                let kind = match body {
                    Body::Cancel { .. } => ReqKind::Cancel,
                    Body::Replace { .. } => ReqKind::Replace,
                    _ => ReqKind::Status,
                };
                (session, body, kind, order)
            }
            None => {
                let pool = if matches!(d.kind, Kind::Market | Kind::Ioc | Kind::Fok) {
                    &self.takers
                } else {
                    &self.dealers
                };
                let session = pool[(d.pick % pool.len() as u64) as usize];
                let body = Body::New {
                    instrument: d.instrument,
                    side: d.side,
                    ord_type: d.ord_type,
                    tif: d.tif,
                    price_ticks: d.price_ticks,
                    qty_lots: d.qty_lots,
                };
                (session, body, ReqKind::New, n)
            }
        };
        let (instrument, side, price, qty, tif) = match body {
            Body::New {
                instrument,
                side,
                price_ticks,
                qty_lots,
                tif,
                ..
            } => (instrument, side, price_ticks.unwrap_or(0), qty_lots, tif),
            Body::Replace {
                instrument,
                side,
                price_ticks,
                qty_lots,
                tif,
                ..
            } => (instrument, side, price_ticks, qty_lots, tif),
            Body::Cancel {
                instrument, side, ..
            }
            | Body::Status {
                instrument, side, ..
            } => (instrument, side, 0, 0, d.tif),
        };
        self.reqs.push(Req {
            kind,
            session: session as u16,
            instrument: instrument as u16,
            side,
            tif,
            answered: false,
            marketable: kind == ReqKind::New && d.marketable,
            filled: false,
            live: false,
            busy: false,
            intended_ns,
            order,
            current: n,
            price_ticks: price,
            qty_lots: qty,
            cum_lots: 0,
            status_req: 0,
            ack_seq: 0,
        });
        if kind == ReqKind::Status {
            self.reqs[order as usize].status_req = n;
        }
        if kind == ReqKind::New && self.collect {
            self.observed.orders.push(SentOrder {
                participant: self.sessions[session].participant,
                cl_ord_id: format!("{}{n}", self.prefix),
            });
        }
        self.sent_total += 1;
        if intended_ns >= self.zero_ns + self.warmup_ns {
            self.sent_measured += 1;
        }
        self.second(now_ns).sent += 1;
        self.last_sent_ns = now_ns;
        Request {
            n,
            session,
            intended_ns,
            body,
        }
    }

    /// A live order of a dealer for a cancel, replace or status request.
    fn target(&mut self, d: &Draw) -> Option<(usize, u64, Body)> {
        let first = (d.pick % self.dealers.len() as u64) as usize;
        for k in 0..self.dealers.len() {
            let session = self.dealers[(first + k) % self.dealers.len()];
            let live = &mut self.live[session];
            // Orders that ended stay in the list until they are drawn.
            while !live.is_empty() {
                let i = ((d.pick >> 16) % live.len() as u64) as usize;
                let order = live[i];
                let r = self.reqs[order as usize];
                if !r.live {
                    live.swap_remove(i);
                    continue;
                }
                // One cancel or replace at a time per order; one status
                // request at a time (which may ask about an order being
                // cancelled).
                let held = if d.kind == Kind::Status {
                    r.status_req != 0
                } else {
                    r.busy
                };
                if held {
                    break;
                }
                let orig = r.current;
                let instrument = usize::from(r.instrument);
                let body = match d.kind {
                    Kind::Cancel => Body::Cancel {
                        orig,
                        instrument,
                        side: r.side,
                        qty_lots: r.qty_lots,
                    },
                    Kind::Replace => Body::Replace {
                        orig,
                        instrument,
                        side: r.side,
                        tif: r.tif,
                        // A quote update: one tick either way, or none.
                        price_ticks: (r.price_ticks + ((d.pick >> 40) % 3) as i64 - 1).max(1),
                        qty_lots: r.cum_lots + d.qty_lots,
                    },
                    _ => Body::Status {
                        orig,
                        instrument,
                        side: r.side,
                    },
                };
                if d.kind != Kind::Status {
                    self.reqs[order as usize].busy = true;
                }
                return Some((session, order, body));
            }
        }
        None
    }

    fn second(&mut self, now_ns: u64) -> &mut Second {
        let s = (now_ns.saturating_sub(self.zero_ns) / 1_000_000_000) as usize;
        while self.per_second.len() <= s {
            let second = self.per_second.len() as u64;
            self.per_second.push(Second {
                second,
                ..Second::default()
            });
        }
        &mut self.per_second[s]
    }

    fn number(&self, cl_ord_id: &str) -> Option<u64> {
        let n: u64 = cl_ord_id.strip_prefix(&self.prefix)?.parse().ok()?;
        (n < self.reqs.len() as u64).then_some(n)
    }

    fn record(&mut self, metric: Metric, intended_ns: u64, now_ns: u64) {
        if intended_ns < self.zero_ns + self.warmup_ns {
            return;
        }
        let v = now_ns.saturating_sub(intended_ns).max(1);
        self.histograms
            .entry(metric)
            .or_insert_with(latency_histogram)
            .saturating_record(v);
        if metric == Metric::OrderAck {
            self.interval.saturating_record(v);
        }
    }

    fn answer(&mut self, n: u64, metric: Metric, now_ns: u64) {
        let r = &mut self.reqs[n as usize];
        if r.answered {
            return;
        }
        r.answered = true;
        let intended = r.intended_ns;
        self.answered += 1;
        self.second(now_ns).answered += 1;
        self.record(metric, intended, now_ns);
    }

    /// An execution report arrived for `session` at `now_ns`; `text` is
    /// its reason, counted when it is a reject.
    pub fn on_report(&mut self, session: usize, report: SeenReport, text: &str, now_ns: u64) {
        if report.exec_type == ExecType::Rejected {
            self.count_reject(text);
        }
        if let Some(n) = self.number(&report.cl_ord_id) {
            self.apply_report(session, n, &report, now_ns);
        }
        if self.collect && report.cl_ord_id.starts_with(&self.prefix) {
            self.observed.reports.push(report);
        }
    }

    fn apply_report(&mut self, _session: usize, n: u64, x: &SeenReport, now_ns: u64) {
        let kind = self.reqs[n as usize].kind;
        let order = self.reqs[n as usize].order;
        let o = order as usize;
        let seq = exec_seq(&x.exec_id);
        if kind == ReqKind::New && self.reqs[o].ack_seq == 0 {
            self.reqs[o].ack_seq = seq;
        }
        match x.exec_type {
            ExecType::Rejected => {
                self.second(now_ns).rejects += 1;
                if kind == ReqKind::New {
                    self.answer(n, Metric::OrderAck, now_ns);
                }
            }
            ExecType::New => {
                self.answer(n, Metric::OrderAck, now_ns);
                let r = &mut self.reqs[o];
                if !r.live && x.ord_status.is_live() {
                    r.live = true;
                    let s = usize::from(r.session);
                    self.live[s].push(order);
                }
            }
            ExecType::Trade => {
                self.second(now_ns).fills += 1;
                if kind == ReqKind::New {
                    self.answer(n, Metric::OrderAck, now_ns);
                }
                let r = self.reqs[o];
                // Only a fill on arrival (caused by the order's own input)
                // measures how fast an aggressive order executes; a
                // marketable order that found nothing and rested is filled
                // when someone else comes.
                if r.marketable && !r.filled && seq == r.ack_seq {
                    self.reqs[o].filled = true;
                    self.record(Metric::FirstFill, r.intended_ns, now_ns);
                }
                self.reqs[o].filled = true;
                self.reqs[o].cum_lots = x.cum_qty_lots;
                if !x.ord_status.is_live() {
                    self.reqs[o].live = false;
                } else if !r.live && kind == ReqKind::New {
                    let s = usize::from(r.session);
                    self.reqs[o].live = true;
                    self.live[s].push(order);
                }
            }
            ExecType::Canceled | ExecType::Expired => {
                match kind {
                    ReqKind::Cancel => self.answer(n, Metric::CancelAck, now_ns),
                    ReqKind::Replace => self.answer(n, Metric::ReplaceAck, now_ns),
                    ReqKind::New => self.answer(n, Metric::OrderAck, now_ns),
                    ReqKind::Status => {}
                }
                let r = &mut self.reqs[o];
                r.live = false;
                r.busy = false;
            }
            ExecType::Replaced => {
                if kind == ReqKind::Replace {
                    self.answer(n, Metric::ReplaceAck, now_ns);
                }
                let (qty, price) = (
                    self.reqs[n as usize].qty_lots,
                    self.reqs[n as usize].price_ticks,
                );
                let r = &mut self.reqs[o];
                r.current = n;
                r.busy = false;
                r.qty_lots = qty;
                r.price_ticks = price;
                r.live = x.ord_status.is_live();
            }
            ExecType::OrderStatus => {
                // The answer names the order, not the request.
                let status = self.reqs[o].status_req;
                if status != 0 {
                    self.reqs[o].status_req = 0;
                    self.answer(status, Metric::StatusAck, now_ns);
                }
            }
            ExecType::Restated | ExecType::Triggered => {
                self.reqs[o].qty_lots = x.leaves_qty_lots + x.cum_qty_lots;
                if !x.ord_status.is_live() {
                    self.reqs[o].live = false;
                }
            }
        }
        if !matches!(x.ord_status, OrdStatus::New | OrdStatus::PartiallyFilled)
            && x.exec_type != ExecType::OrderStatus
        {
            self.reqs[o].live = false;
        }
    }

    /// A cancel reject (OrderCancelReject, or the engine's equivalent)
    /// arrived for request `cl_ord_id`.
    pub fn on_cancel_reject(
        &mut self,
        session: usize,
        reject: SeenCancelReject,
        reason: &str,
        now_ns: u64,
    ) {
        if let Some(n) = self.number(&reject.cl_ord_id) {
            let r = self.reqs[n as usize];
            let metric = if r.kind == ReqKind::Replace {
                Metric::ReplaceAck
            } else {
                Metric::CancelAck
            };
            self.answer(n, metric, now_ns);
            self.reqs[r.order as usize].busy = false;
            self.second(now_ns).rejects += 1;
            *self
                .rejects
                .entry(format!("cancel reject: {reason}"))
                .or_insert(0) += 1;
        }
        let _ = session;
        if self.collect && reject.cl_ord_id.starts_with(&self.prefix) {
            self.observed.cancel_rejects.push(reject);
        }
    }

    /// An ExecID for a request refused before the journal (`REFUSED-n`):
    /// not the engine's `SEQ-IDX`, so the reconciliation does not look for
    /// it there.
    pub fn next_refusal_id(&mut self) -> String {
        self.refusals += 1;
        format!("REFUSED-{}", self.refusals)
    }

    /// Counts a reject by its reason text.
    pub fn count_reject(&mut self, reason: &str) {
        *self.rejects.entry(reason.to_owned()).or_insert(0) += 1;
    }

    /// A request loadgen sent was refused before the engine answered it (a
    /// session Reject, a BusinessMessageReject, a refusal of the loop):
    /// it is answered, as a reject. `cl_ord_id` names it when known.
    pub fn on_refused(&mut self, cl_ord_id: Option<&str>, reason: &str, now_ns: u64) {
        let n = cl_ord_id.and_then(|c| self.number(c));
        self.refuse(n, reason, now_ns);
    }

    /// As [`State::on_refused`], for request number `n` (found by the
    /// MsgSeqNum it went out with).
    pub fn on_refused_request(&mut self, n: u64, reason: &str, now_ns: u64) {
        let n = (n < self.reqs.len() as u64).then_some(n);
        self.refuse(n, reason, now_ns);
    }

    /// A status request for the order whose current ClOrdID is
    /// `orig_cl_ord_id` was refused.
    pub fn on_refused_status(&mut self, orig_cl_ord_id: &str, reason: &str, now_ns: u64) {
        let status = self
            .number(orig_cl_ord_id)
            .map(|n| self.reqs[n as usize].order)
            .map(|o| self.reqs[o as usize].status_req)
            .filter(|s| *s != 0);
        self.refuse(status, reason, now_ns);
    }

    fn refuse(&mut self, n: Option<u64>, reason: &str, now_ns: u64) {
        if let Some(n) = n {
            let r = self.reqs[n as usize];
            let order = &mut self.reqs[r.order as usize];
            let metric = match r.kind {
                ReqKind::New => Metric::OrderAck,
                ReqKind::Cancel => {
                    order.busy = false;
                    Metric::CancelAck
                }
                ReqKind::Replace => {
                    order.busy = false;
                    Metric::ReplaceAck
                }
                ReqKind::Status => {
                    if order.status_req == n {
                        order.status_req = 0;
                    }
                    Metric::StatusAck
                }
            };
            self.answer(n, metric, now_ns);
        }
        self.second(now_ns).rejects += 1;
        self.count_reject(reason);
    }

    /// An error worth reporting.
    pub fn error(&mut self, message: String) {
        self.errors.push(message);
    }

    /// A session's connection was lost.
    pub fn disconnected(&mut self, session: usize, why: &str) {
        self.disconnects += 1;
        let name = self.sessions[session].name.clone();
        self.errors.push(format!("{name}: disconnected: {why}"));
    }

    /// A session's end-of-run mass cancel was answered.
    pub fn mass_cancel_answered(&mut self, session: usize) {
        self.mass_cancel_answered[session] = true;
    }

    /// Whether every session's end-of-run mass cancel was answered.
    #[must_use]
    pub fn all_mass_cancels_answered(&self) -> bool {
        self.mass_cancel_answered.iter().all(|a| *a)
    }

    /// Requests sent and not answered yet.
    #[must_use]
    pub fn in_flight(&self) -> u64 {
        self.sent_total - self.answered
    }

    /// Requests sent in all.
    #[must_use]
    pub fn sent_total(&self) -> u64 {
        self.sent_total
    }

    /// Orders loadgen still sees as live.
    #[must_use]
    pub fn live_orders(&self) -> usize {
        self.reqs.iter().filter(|r| r.live).count()
    }

    /// The order-to-ack p99 (ns) since the last call, and resets it.
    pub fn take_interval_p99(&mut self) -> Option<u64> {
        if self.interval.is_empty() {
            return None;
        }
        let p = self.interval.value_at_quantile(0.99);
        self.interval.reset();
        Some(p)
    }

    /// Rejects by reason so far.
    #[must_use]
    pub fn rejects(&self) -> &BTreeMap<String, u64> {
        &self.rejects
    }

    /// Errors so far.
    #[must_use]
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// The measured figures, for [`crate::record::Results`]: histograms,
    /// per-second counts, rejects, errors, disconnects, sent (measured,
    /// total), unanswered.
    #[must_use]
    pub fn figures(&self) -> Figures {
        Figures {
            histograms: self.histograms.clone(),
            per_second: self.per_second.clone(),
            rejects: self.rejects.clone(),
            errors: self.errors.clone(),
            disconnects: self.disconnects,
            sent_measured: self.sent_measured,
            sent_total: self.sent_total,
            unanswered: self.in_flight(),
        }
    }

    /// What loadgen sent and saw (for `--verify`; empty unless collected).
    #[must_use]
    pub fn take_observed(&mut self) -> Observed {
        std::mem::take(&mut self.observed)
    }
}

/// The `SEQ` of an ExecID `SEQ-IDX` (0 for one that is not the engine's).
fn exec_seq(exec_id: &str) -> u64 {
    exec_id
        .split_once('-')
        .and_then(|(s, _)| s.parse().ok())
        .unwrap_or(0)
}

/// The measured figures at the end of a run.
#[derive(Clone, Debug)]
pub struct Figures {
    /// Latency histograms by metric.
    pub histograms: BTreeMap<Metric, Histogram<u64>>,
    /// Per-second counts.
    pub per_second: Vec<Second>,
    /// Rejects by reason.
    pub rejects: BTreeMap<String, u64>,
    /// Errors.
    pub errors: Vec<String>,
    /// Connections lost.
    pub disconnects: u64,
    /// Requests sent in the measured window.
    pub sent_measured: u64,
    /// Requests sent in all.
    pub sent_total: u64,
    /// Requests never answered.
    pub unanswered: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draw(kind: Kind) -> Draw {
        Draw {
            kind,
            instrument: 0,
            side: Side::Buy,
            ord_type: OrdType::Limit,
            tif: TimeInForce::Day,
            price_ticks: Some(100),
            qty_lots: 5,
            marketable: false,
            pick: 0,
        }
    }

    fn ack(state: &State, n: u64) -> SeenReport {
        SeenReport {
            participant: 1,
            cl_ord_id: format!("{}{n}", state.prefix()),
            orig_cl_ord_id: String::new(),
            order_id: 1,
            exec_id: "7-0".to_owned(),
            exec_type: ExecType::New,
            ord_status: OrdStatus::New,
            last_qty_lots: 0,
            last_px_ticks: 0,
            leaves_qty_lots: 5,
            cum_qty_lots: 0,
        }
    }

    #[test]
    fn a_refused_request_is_answered_and_frees_only_what_it_held() {
        let sessions = vec![SessionInfo {
            name: "CLIENT1".to_owned(),
            participant: 1,
            role: Role::Dealer,
        }];
        let mut s = State::new("T-", sessions, 0, false);
        let order = s.plan(&draw(Kind::Limit), 10, 10);
        let a = ack(&s, order.n);
        s.on_report(0, a, "", 20);
        assert_eq!(s.in_flight(), 0);
        let cancel = s.plan(&draw(Kind::Cancel), 30, 30);
        assert!(matches!(cancel.body, Body::Cancel { orig, .. } if orig == order.n));
        let status = s.plan(&draw(Kind::Status), 40, 40);
        assert!(matches!(status.body, Body::Status { .. }));
        assert_eq!(s.in_flight(), 2);
        // The status request is refused (a BusinessMessageReject found by
        // its MsgSeqNum): answered, and the cancel still holds the order.
        s.on_refused_request(status.n, "business reject: venue busy", 50);
        assert_eq!(s.in_flight(), 1);
        let other = s.plan(&draw(Kind::Replace), 60, 60);
        assert!(
            matches!(other.body, Body::New { .. }),
            "no second cancel or replace while one is in flight"
        );
        // A status request may go again: the refused one no longer blocks it.
        let again = s.plan(&draw(Kind::Status), 70, 70);
        assert!(matches!(again.body, Body::Status { .. }));
        // Refusing the cancel frees the order for the next one.
        s.on_refused_request(cancel.n, "session reject: x", 80);
        let replace = s.plan(&draw(Kind::Replace), 90, 90);
        assert!(matches!(replace.body, Body::Replace { .. }));
        assert_eq!(s.rejects().values().sum::<u64>(), 2);
        // Out-of-range numbers are ignored, never a panic.
        s.on_refused_request(u64::MAX, "late", 100);
    }
}
