//! The FIX application layer: application messages in, engine inputs out;
//! engine events in, execution reports out.
//!
//! Inbound, it turns NewOrderSingle, OrderCancelRequest,
//! OrderCancelReplaceRequest, OrderStatusRequest and OrderMassCancelRequest
//! into engine inputs, parsing prices and quantities as exact decimals and
//! checking them against the instrument's tick and lot (an off-tick price is
//! rejected here, with a readable Text, and never reaches the engine); it
//! answers SecurityListRequest from the configuration. Each input carries an
//! [`Origin`] naming the session and MsgSeqNum, so that the answer confirms
//! the message (see [`Session::confirm`]).
//!
//! Outbound, private events go to the session of the participant they
//! belong to, numbered by [`EnginePos`] so that a restart can tell which
//! ones the session already stored. Market data is not sent over FIX.
//!
//! A NewOrderSingle with PossResend(97)=Y or PossDupFlag(43)=Y whose ClOrdID
//! the participant already used is not a new order [19]: the engine's
//! duplicate reject is turned into an order status request, and the client
//! gets the order's current state (ExecType=I).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use engine::event::{
    CancelReject, CxlRejResponseTo, Event, ExecType, ExecutionReport, MassCancelReport, OrdStatus,
    Reason,
};
use engine::input::{
    Cancel, Input, MassCancel, MassStatusRequest, NewOrder, OrderRef, OrderStatusRequest, Replace,
};
use engine::reason::RejectReason;
use engine::sequencer::{InputSender, ORIGIN_NONE, Origin, Output, Refusal};
use engine::types::{ClOrdId, InstrumentId, OrdType, OrderId, ParticipantId, Side, TimeInForce};
use engine::{AdminAction, AdminReport, Decimal, InstrumentSpec};

use crate::fix::codec::{Encoder, Message};
use crate::fix::decimal::to_units;
use crate::fix::session::{Application, Session};
use crate::fix::store::EnginePos;
use crate::fix::tags;

/// How many times to retry a full inbound ring before answering "busy".
const SEND_TRIES: u32 = 10_000;

/// An instrument as the gateway sees it.
#[derive(Clone, Debug)]
pub struct InstrumentInfo {
    /// Engine id.
    pub id: InstrumentId,
    /// Symbol(55).
    pub symbol: String,
    /// SecurityDesc(107), if any.
    pub description: Option<String>,
    /// Tick size.
    pub tick_size: Decimal,
    /// Lot size.
    pub lot_size: Decimal,
}

impl InstrumentInfo {
    /// From the engine's definition.
    #[must_use]
    pub fn from_spec(spec: &InstrumentSpec, description: Option<String>) -> InstrumentInfo {
        InstrumentInfo {
            id: spec.id,
            symbol: spec.symbol.clone(),
            description,
            tick_size: spec.tick_size,
            lot_size: spec.lot_size,
        }
    }
}

/// Packs a session index and a MsgSeqNum into an input's origin.
#[must_use]
pub fn origin_of(session: usize, seq: u64) -> Origin {
    debug_assert!(seq < 1 << 48);
    ((session as u64 + 1) << 48) | (seq & ((1 << 48) - 1))
}

/// Unpacks [`origin_of`]: `(session index, MsgSeqNum)`.
#[must_use]
pub fn origin_parts(origin: Origin) -> Option<(usize, u64)> {
    // The top bit marks the WebSocket gateway's inputs; origins below 2^48
    // (none, the admin API's) name no session.
    let session = origin >> 48;
    if session == 0 || origin >> 63 != 0 {
        return None;
    }
    Some(((session - 1) as usize, origin & ((1 << 48) - 1)))
}

/// Counters for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppStats {
    /// Inputs sent to the engine.
    pub inputs: u64,
    /// Requests rejected at the gateway (bad fields, off-tick, unknown symbol).
    pub gateway_rejects: u64,
    /// Inputs the engine refused (busy, halted).
    pub refused: u64,
}

/// The application layer. See the module docs.
#[derive(Debug)]
pub struct FixApp {
    sender: InputSender,
    by_symbol: HashMap<String, usize>,
    instruments: BTreeMap<u32, Arc<InstrumentInfo>>,
    /// Shared, so that taking one per message costs no allocation.
    infos: Vec<Arc<InstrumentInfo>>,
    /// Requests sent with PossResend/PossDup: origin → the request.
    resends: HashSet<Origin>,
    /// Per participant: the engine sequence number of its last event and
    /// how many of that input's events it has had.
    event_counts: HashMap<ParticipantId, (u64, u32)>,
    stats: AppStats,
    /// Gateway-level rejects get ExecIDs of their own.
    gateway_exec_counter: u64,
    /// OrderMassStatusRequests in flight: origin → (MassStatusReqID, the
    /// engine sequence number of its input once seen).
    mass_status: HashMap<Origin, (Vec<u8>, u64)>,
}

impl FixApp {
    /// An application feeding `sender`, for `instruments`.
    #[must_use]
    pub fn new(sender: InputSender, instruments: Vec<InstrumentInfo>) -> FixApp {
        let by_symbol = instruments
            .iter()
            .enumerate()
            .map(|(i, info)| (info.symbol.clone(), i))
            .collect();
        let instruments: Vec<Arc<InstrumentInfo>> = instruments.into_iter().map(Arc::new).collect();
        let map = instruments
            .iter()
            .map(|i| (i.id.0, Arc::clone(i)))
            .collect();
        FixApp {
            sender,
            by_symbol,
            instruments: map,
            infos: instruments,
            resends: HashSet::new(),
            event_counts: HashMap::new(),
            stats: AppStats::default(),
            gateway_exec_counter: 0,
            mass_status: HashMap::new(),
        }
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> AppStats {
        self.stats
    }

    fn instrument(&self, id: InstrumentId) -> Option<&Arc<InstrumentInfo>> {
        self.instruments.get(&id.0)
    }

    /// The engine position of a private event for `participant` caused by
    /// input `seq` (events arrive in order).
    pub fn position(&mut self, participant: ParticipantId, seq: u64) -> EnginePos {
        let entry = self.event_counts.entry(participant).or_insert((0, 0));
        if entry.0 != seq {
            *entry = (seq, 0);
        } else {
            entry.1 += 1;
        }
        EnginePos { seq, idx: entry.1 }
    }

    /// Sends an input to the engine for message `seq` of `session`.
    fn submit(&mut self, session: &mut Session, seq: u64, input: Input, now_ns: u64) {
        let origin = origin_of(session.index(), seq);
        match self.sender.send_from(input, origin, SEND_TRIES) {
            Ok(()) => {
                self.stats.inputs += 1;
                session.mark_unconfirmed(seq);
            }
            Err(input) => {
                self.stats.refused += 1;
                self.answer_refusal(session, seq, &input, &Refusal::Busy, now_ns);
            }
        }
    }

    /// Handles one output of the sequencer: confirms the message that caused
    /// it and delivers private events to their participant's session.
    /// `session_of` maps a participant to its session index.
    pub fn on_output(
        &mut self,
        sessions: &mut [Session],
        session_of: &HashMap<ParticipantId, usize>,
        output: &Output,
        now_ns: u64,
    ) {
        match output {
            Output::Event {
                seq,
                time_ns,
                origin,
                event,
            } => {
                if let Some((index, msg_seq)) = origin_parts(*origin)
                    && let Some(s) = sessions.get_mut(index)
                {
                    let _ = s.confirm(msg_seq);
                    if self.resends.remove(origin)
                        && let Event::Exec(x) = event
                        && x.exec_type == ExecType::Rejected
                        && x.reason == Reason::Reject(RejectReason::DuplicateClOrdId)
                        && x.order_id != OrderId::NONE
                    {
                        // [19] A resent order we already have: its status.
                        let input = Input::OrderStatus(OrderStatusRequest {
                            participant: x.participant,
                            target: OrderRef::OrderId(x.order_id),
                        });
                        self.submit(s, msg_seq, input, now_ns);
                        return;
                    }
                }
                // The operator changed a participant's rate limit.
                if let Event::AdminReport(AdminReport {
                    action:
                        AdminAction::SetRateLimit {
                            participant,
                            per_second,
                            burst,
                        },
                    reject: None,
                    ..
                }) = event
                    && let Some(&i) = session_of.get(participant)
                    && let Some(s) = sessions.get_mut(i)
                {
                    s.set_rate(*per_second, *burst);
                }
                // A mass status answer's reports carry its MassStatusReqID;
                // requests whose input is behind us are done.
                let seq = *seq;
                self.mass_status.retain(|_, (_, s)| *s == 0 || *s >= seq);
                let req_id = self.mass_status.get_mut(origin).map(|(id, s)| {
                    *s = seq;
                    id.clone()
                });
                self.deliver_with(
                    sessions,
                    session_of,
                    seq,
                    *time_ns,
                    event,
                    now_ns,
                    req_id.as_deref(),
                );
            }
            Output::Refused {
                input,
                origin,
                refusal,
            } => {
                self.stats.refused += 1;
                if let Some((index, msg_seq)) = origin_parts(*origin)
                    && let Some(s) = sessions.get_mut(index)
                {
                    let _ = s.confirm(msg_seq);
                    self.answer_refusal(s, msg_seq, input, refusal, now_ns);
                }
            }
        }
    }

    /// Delivers one event (live, or re-derived by a replay after a crash) to
    /// its participant's session, as a FIX message. Public market data is
    /// not sent over FIX.
    pub fn deliver(
        &mut self,
        sessions: &mut [Session],
        session_of: &HashMap<ParticipantId, usize>,
        seq: u64,
        time_ns: u64,
        event: &Event,
        now_ns: u64,
    ) {
        self.deliver_with(sessions, session_of, seq, time_ns, event, now_ns, None);
    }

    #[allow(clippy::too_many_arguments, reason = "one call site besides deliver")]
    fn deliver_with(
        &mut self,
        sessions: &mut [Session],
        session_of: &HashMap<ParticipantId, usize>,
        seq: u64,
        time_ns: u64,
        event: &Event,
        now_ns: u64,
        mass_status_req_id: Option<&[u8]>,
    ) {
        let participant = match event {
            Event::Exec(x) => x.participant,
            Event::CancelReject(c) => c.participant,
            Event::MassCancelReport(m) => m.participant,
            Event::BookLevel(_)
            | Event::Trade(_)
            | Event::InstrumentStatus(_)
            | Event::AdminReport(_) => return,
        };
        let pos = self.position(participant, seq);
        let Some(&index) = session_of.get(&participant) else {
            return;
        };
        let Some(s) = sessions.get_mut(index) else {
            return;
        };
        if pos <= s.engine_pos() && pos.seq != 0 {
            // Already stored before a restart.
            return;
        }
        match event {
            Event::Exec(x) => {
                // A status answer for an order that does not exist names no
                // instrument.
                let info = self
                    .instrument(x.instrument)
                    .cloned()
                    .unwrap_or_else(|| Arc::new(unknown_instrument()));
                let _ = s.send_app(now_ns, b"8", Some(pos), |e| {
                    encode_exec_report(e, x, &info, time_ns);
                    if let Some(id) = mass_status_req_id {
                        e.str(tags::MASS_STATUS_REQ_ID, id);
                    }
                });
            }
            Event::CancelReject(c) => {
                let _ = s.send_app(now_ns, b"9", Some(pos), |e| encode_cancel_reject(e, c));
            }
            Event::MassCancelReport(m) => {
                let symbol = m
                    .instrument
                    .and_then(|i| self.instrument(i))
                    .map(|i| i.symbol.clone());
                let _ = s.send_app(now_ns, b"r", Some(pos), |e| {
                    encode_mass_cancel_report(e, m, symbol.as_deref(), time_ns);
                });
            }
            Event::BookLevel(_)
            | Event::Trade(_)
            | Event::InstrumentStatus(_)
            | Event::AdminReport(_) => {}
        }
    }

    /// Cancel-on-disconnect: cancels every live order of the session's
    /// participant, or only its orders with time in force `tif` (journaled
    /// like any mass cancel; the report is stored for the session's next
    /// logon).
    pub fn cancel_all(&mut self, s: &mut Session, tif: Option<TimeInForce>) {
        self.gateway_exec_counter += 1;
        let id = format!("COD-{}", self.gateway_exec_counter);
        let Some(cl_ord_id) = ClOrdId::new(id.as_bytes()) else {
            return;
        };
        let input = Input::MassCancel(MassCancel {
            participant: s.config().participant,
            cl_ord_id,
            instrument: None,
            side: None,
            tif,
        });
        if self
            .sender
            .send_from(input, ORIGIN_NONE, SEND_TRIES)
            .is_ok()
        {
            self.stats.inputs += 1;
        }
    }

    /// Answers input `input` of message `ref_seq` that the loop refused: an
    /// ExecutionReport (orders), an OrderCancelReject (cancels, replaces),
    /// else a BusinessMessageReject naming the message by RefSeqNum(45) and
    /// RefMsgType(372).
    fn answer_refusal(
        &mut self,
        s: &mut Session,
        ref_seq: u64,
        input: &Input,
        refusal: &Refusal,
        now_ns: u64,
    ) {
        let text = refusal.to_string();
        match input {
            Input::NewOrder(o) => {
                let symbol = self
                    .instrument(o.instrument)
                    .map_or_else(String::new, |i| i.symbol.clone());
                self.reject_order(
                    s,
                    now_ns,
                    o.cl_ord_id.as_str().as_bytes(),
                    &symbol,
                    o.side,
                    &text,
                );
            }
            Input::Cancel(Cancel {
                cl_ord_id, target, ..
            })
            | Input::Replace(Replace {
                cl_ord_id, target, ..
            }) => {
                let orig = match target {
                    OrderRef::ClOrdId(id) => *id,
                    OrderRef::OrderId(_) => ClOrdId::EMPTY,
                };
                let response_to = if matches!(input, Input::Cancel(_)) {
                    CxlRejResponseTo::Cancel
                } else {
                    CxlRejResponseTo::Replace
                };
                self.reject_cancel(
                    s,
                    now_ns,
                    cl_ord_id.as_str().as_bytes(),
                    orig.as_str().as_bytes(),
                    response_to,
                    &text,
                );
            }
            other => {
                let msg_type: &[u8] = match other {
                    Input::OrderStatus(_) => b"H",
                    Input::MassCancel(_) => b"q",
                    Input::MassStatus(_) => b"AF",
                    _ => b"",
                };
                s.send_business_reject(now_ns, ref_seq, msg_type, 4, &text);
            }
        }
    }

    fn next_gateway_exec_id(&mut self) -> String {
        self.gateway_exec_counter += 1;
        format!("GW-{}", self.gateway_exec_counter)
    }

    /// An ExecutionReport rejecting a new order at the gateway.
    fn reject_order(
        &mut self,
        s: &mut Session,
        now_ns: u64,
        cl_ord_id: &[u8],
        symbol: &str,
        side: Side,
        text: &str,
    ) {
        self.stats.gateway_rejects += 1;
        let exec_id = self.next_gateway_exec_id();
        let _ = s.send_app(now_ns, b"8", None, |e| {
            e.str(tags::ORDER_ID, b"NONE");
            e.str(tags::CL_ORD_ID, cl_ord_id);
            e.str(tags::EXEC_ID, exec_id.as_bytes());
            e.char(tags::EXEC_TYPE, b'8');
            e.char(tags::ORD_STATUS, b'8');
            e.u64(tags::ORD_REJ_REASON, 99);
            e.str(
                tags::SYMBOL,
                if symbol.is_empty() {
                    b"[N/A]"
                } else {
                    symbol.as_bytes()
                },
            );
            e.char(tags::SIDE, side_char(side));
            e.u64(tags::LEAVES_QTY, 0);
            e.u64(tags::CUM_QTY, 0);
            e.u64(tags::AVG_PX, 0);
            e.timestamp_us(tags::TRANSACT_TIME, now_ns);
            e.str(tags::TEXT, text.as_bytes());
        });
    }

    /// An OrderCancelReject issued at the gateway.
    fn reject_cancel(
        &mut self,
        s: &mut Session,
        now_ns: u64,
        cl_ord_id: &[u8],
        orig_cl_ord_id: &[u8],
        response_to: CxlRejResponseTo,
        text: &str,
    ) {
        self.stats.gateway_rejects += 1;
        let _ = s.send_app(now_ns, b"9", None, |e| {
            e.str(tags::ORDER_ID, b"NONE");
            e.str(tags::CL_ORD_ID, cl_ord_id);
            e.str(
                tags::ORIG_CL_ORD_ID,
                if orig_cl_ord_id.is_empty() {
                    b"NONE"
                } else {
                    orig_cl_ord_id
                },
            );
            e.char(tags::ORD_STATUS, b'8');
            e.char(tags::CXL_REJ_RESPONSE_TO, response_to_char(response_to));
            e.u64(tags::CXL_REJ_REASON, 99);
            e.str(tags::TEXT, text.as_bytes());
        });
    }

    fn on_new_order(&mut self, s: &mut Session, msg: &Message<'_>, seq: u64, now_ns: u64) {
        let cl_raw = msg.get(tags::CL_ORD_ID).unwrap_or(b"");
        let symbol = msg.get(tags::SYMBOL).unwrap_or(b"");
        let symbol_text = std::str::from_utf8(symbol).unwrap_or("?");
        let side = match msg.get(tags::SIDE) {
            Some(b"1") => Side::Buy,
            Some(b"2") => Side::Sell,
            _ => {
                return self.reject_order(
                    s,
                    now_ns,
                    cl_raw,
                    symbol_text,
                    Side::Buy,
                    "Side(54) must be 1 (buy) or 2 (sell)",
                );
            }
        };
        let reject = |app: &mut FixApp, s: &mut Session, text: &str| {
            app.reject_order(s, now_ns, cl_raw, symbol_text, side, text);
        };
        let Some(cl_ord_id) = ClOrdId::new(cl_raw) else {
            return reject(self, s, "ClOrdID(11) must be 1 to 40 printable characters");
        };
        let Some(&index) = self.by_symbol.get(symbol_text) else {
            return reject(self, s, &format!("unknown instrument {symbol_text}"));
        };
        let info = Arc::clone(&self.infos[index]);
        let ord_type = match msg.get(tags::ORD_TYPE) {
            Some(b"1") => OrdType::Market,
            Some(b"2") => OrdType::Limit,
            Some(b"3") => OrdType::Stop,
            Some(b"4") => OrdType::StopLimit,
            _ => return reject(self, s, "OrdType(40) must be 1, 2, 3 or 4"),
        };
        let tif = match msg.get(tags::TIME_IN_FORCE) {
            None | Some(b"0") => TimeInForce::Day,
            Some(b"1") => TimeInForce::Gtc,
            Some(b"3") => TimeInForce::Ioc,
            Some(b"4") => TimeInForce::Fok,
            Some(b"6") => TimeInForce::Gtd,
            _ => return reject(self, s, "TimeInForce(59) must be 0, 1, 3, 4 or 6"),
        };
        // Conditionally required fields: a BusinessMessageReject (380=5).
        let has = |tag| msg.get(tag).is_some();
        let missing = match ord_type {
            OrdType::Limit | OrdType::StopLimit if !has(tags::PRICE) => {
                Some("Price(44) is required for limit and stop-limit orders")
            }
            OrdType::Stop | OrdType::StopLimit if !has(tags::STOP_PX) => {
                Some("StopPx(99) is required for stop and stop-limit orders")
            }
            _ if tif == TimeInForce::Gtd && !has(tags::EXPIRE_TIME) => {
                Some("ExpireTime(126) is required for TimeInForce=6 (GTD)")
            }
            _ => None,
        };
        if let Some(text) = missing {
            s.send_business_reject(now_ns, seq, b"D", 5, text);
            return;
        }
        let price_ticks = match price_field(msg, tags::PRICE, &info) {
            Ok(p) => p,
            Err(text) => return reject(self, s, &text),
        };
        let stop_price_ticks = match price_field(msg, tags::STOP_PX, &info) {
            Ok(p) => p,
            Err(text) => return reject(self, s, &text),
        };
        let qty_lots = match qty_field(msg, tags::ORDER_QTY, &info) {
            Ok(Some(q)) => q,
            Ok(None) => return reject(self, s, "OrderQty(38) is required"),
            Err(text) => return reject(self, s, &text),
        };
        let display_qty_lots = match qty_field(msg, tags::MAX_FLOOR, &info) {
            Ok(q) => q.unwrap_or(0),
            Err(text) => return reject(self, s, &text),
        };
        let min_qty_lots = match qty_field(msg, tags::MIN_QTY, &info) {
            Ok(q) => q.unwrap_or(0),
            Err(text) => return reject(self, s, &text),
        };
        let expire_time_ns = match msg.get_utc_timestamp_ns(tags::EXPIRE_TIME) {
            Ok(t) => t,
            Err(_) => return reject(self, s, "ExpireTime(126) is not a UTCTimestamp"),
        };
        let post_only = msg
            .get(tags::EXEC_INST)
            .is_some_and(|v| v.split(|b| *b == b' ').any(|i| i == b"6"));
        let order = NewOrder {
            participant: s.config().participant,
            instrument: info.id,
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
        };
        let resend = matches!(msg.get_bool(tags::POSS_RESEND), Ok(Some(true)))
            || matches!(msg.get_bool(tags::POSS_DUP_FLAG), Ok(Some(true)));
        if resend {
            self.resends.insert(origin_of(s.index(), seq));
        }
        self.submit(s, seq, Input::NewOrder(order), now_ns);
    }

    /// The order a cancel, replace or status request names: by the venue's
    /// OrderID(37) when given (it cannot be ambiguous), else by
    /// OrigClOrdID(41).
    fn target_of(msg: &Message<'_>) -> Option<OrderRef> {
        if let Some(order_id) = msg.get(tags::ORDER_ID)
            && let Some(n) = std::str::from_utf8(order_id)
                .ok()
                .and_then(|t| t.parse::<u64>().ok())
        {
            return Some(OrderRef::OrderId(OrderId(n)));
        }
        let id = ClOrdId::new(msg.get(tags::ORIG_CL_ORD_ID)?)?;
        Some(OrderRef::ClOrdId(id))
    }

    fn on_cancel(
        &mut self,
        s: &mut Session,
        msg: &Message<'_>,
        seq: u64,
        now_ns: u64,
        replace: bool,
    ) {
        let cl_raw = msg.get(tags::CL_ORD_ID).unwrap_or(b"");
        let orig_raw = msg.get(tags::ORIG_CL_ORD_ID).unwrap_or(b"");
        let response_to = if replace {
            CxlRejResponseTo::Replace
        } else {
            CxlRejResponseTo::Cancel
        };
        let Some(cl_ord_id) = ClOrdId::new(cl_raw) else {
            return self.reject_cancel(
                s,
                now_ns,
                cl_raw,
                orig_raw,
                response_to,
                "ClOrdID(11) must be 1 to 40 printable characters",
            );
        };
        let Some(target) = Self::target_of(msg) else {
            return self.reject_cancel(
                s,
                now_ns,
                cl_raw,
                orig_raw,
                response_to,
                "OrigClOrdID(41) or OrderID(37) must name the order",
            );
        };
        let participant = s.config().participant;
        if !replace {
            let input = Input::Cancel(Cancel {
                participant,
                cl_ord_id,
                target,
            });
            return self.submit(s, seq, input, now_ns);
        }
        let symbol = String::from_utf8_lossy(msg.get(tags::SYMBOL).unwrap_or(b"")).into_owned();
        let Some(&index) = self.by_symbol.get(symbol.as_str()) else {
            return self.reject_cancel(
                s,
                now_ns,
                cl_raw,
                orig_raw,
                response_to,
                &format!("unknown instrument {symbol}"),
            );
        };
        let info = Arc::clone(&self.infos[index]);
        let qty_lots = match qty_field(msg, tags::ORDER_QTY, &info) {
            Ok(Some(q)) => q,
            Ok(None) => {
                return self.reject_cancel(
                    s,
                    now_ns,
                    cl_raw,
                    orig_raw,
                    response_to,
                    "OrderQty(38) is required",
                );
            }
            Err(text) => {
                return self.reject_cancel(s, now_ns, cl_raw, orig_raw, response_to, &text);
            }
        };
        let price_ticks = match price_field(msg, tags::PRICE, &info) {
            Ok(p) => p,
            Err(text) => {
                return self.reject_cancel(s, now_ns, cl_raw, orig_raw, response_to, &text);
            }
        };
        let stop_price_ticks = match price_field(msg, tags::STOP_PX, &info) {
            Ok(p) => p,
            Err(text) => {
                return self.reject_cancel(s, now_ns, cl_raw, orig_raw, response_to, &text);
            }
        };
        let input = Input::Replace(Replace {
            participant,
            cl_ord_id,
            target,
            qty_lots,
            price_ticks,
            stop_price_ticks,
        });
        self.submit(s, seq, input, now_ns);
    }

    fn on_status(&mut self, s: &mut Session, msg: &Message<'_>, seq: u64, now_ns: u64) {
        let target = if let Some(id) = msg.get(tags::CL_ORD_ID).and_then(ClOrdId::new) {
            Some(OrderRef::ClOrdId(id))
        } else {
            Self::target_of(msg)
        };
        let Some(target) = target else {
            s.send_business_reject(
                now_ns,
                seq,
                b"H",
                5,
                "ClOrdID(11) or OrderID(37) is required",
            );
            return;
        };
        let input = Input::OrderStatus(OrderStatusRequest {
            participant: s.config().participant,
            target,
        });
        self.submit(s, seq, input, now_ns);
    }

    fn on_mass_cancel(&mut self, s: &mut Session, msg: &Message<'_>, seq: u64, now_ns: u64) {
        let cl_raw = msg.get(tags::CL_ORD_ID).unwrap_or(b"");
        let request_type = msg.get(tags::MASS_CANCEL_REQUEST_TYPE).unwrap_or(b"");
        let side = match msg.get(tags::SIDE) {
            Some(b"1") => Some(Side::Buy),
            Some(b"2") => Some(Side::Sell),
            _ => None,
        };
        let reject = |s: &mut Session, text: &str| {
            let _ = s.send_app(now_ns, b"r", None, |e| {
                e.str(tags::CL_ORD_ID, cl_raw);
                e.str(tags::ORDER_ID, b"NONE");
                e.str(
                    tags::MASS_CANCEL_REQUEST_TYPE,
                    if request_type.is_empty() {
                        b"7"
                    } else {
                        request_type
                    },
                );
                e.char(tags::MASS_CANCEL_RESPONSE, b'0');
                e.u64(tags::MASS_CANCEL_REJECT_REASON, 99);
                e.str(tags::TEXT, text.as_bytes());
            });
        };
        let Some(cl_ord_id) = ClOrdId::new(cl_raw) else {
            return reject(s, "ClOrdID(11) must be 1 to 40 printable characters");
        };
        let instrument = match request_type {
            b"7" => None,
            b"1" => {
                let symbol =
                    String::from_utf8_lossy(msg.get(tags::SYMBOL).unwrap_or(b"")).into_owned();
                match self.by_symbol.get(symbol.as_str()) {
                    Some(&i) => Some(self.infos[i].id),
                    None => return reject(s, &format!("unknown instrument {symbol}")),
                }
            }
            _ => {
                return reject(
                    s,
                    "MassCancelRequestType(530) must be 1 (by security) or 7 (all orders)",
                );
            }
        };
        let input = Input::MassCancel(MassCancel {
            participant: s.config().participant,
            cl_ord_id,
            instrument,
            side,
            tif: None,
        });
        self.submit(s, seq, input, now_ns);
    }

    fn on_mass_status(&mut self, s: &mut Session, msg: &Message<'_>, seq: u64, now_ns: u64) {
        let req_id = msg.get(tags::MASS_STATUS_REQ_ID).unwrap_or(b"").to_vec();
        let side = match msg.get(tags::SIDE) {
            Some(b"1") => Some(Side::Buy),
            Some(b"2") => Some(Side::Sell),
            _ => None,
        };
        let instrument = match msg.get(tags::MASS_STATUS_REQ_TYPE) {
            // 1: orders of one security.
            Some(b"1") => {
                let symbol =
                    String::from_utf8_lossy(msg.get(tags::SYMBOL).unwrap_or(b"")).into_owned();
                match self.by_symbol.get(symbol.as_str()) {
                    Some(&i) => Some(self.infos[i].id),
                    None => {
                        let text = format!("unknown instrument {symbol}");
                        s.send_business_reject(now_ns, seq, b"AF", 2, &text);
                        return;
                    }
                }
            }
            // 7: all orders; 8: a party's orders (a session sees only its own).
            Some(b"7" | b"8") => None,
            _ => {
                s.send_business_reject(
                    now_ns,
                    seq,
                    b"AF",
                    0,
                    "MassStatusReqType(585) must be 1 (security), 7 (all orders) or 8 (party)",
                );
                return;
            }
        };
        self.mass_status
            .insert(origin_of(s.index(), seq), (req_id, 0));
        let input = Input::MassStatus(MassStatusRequest {
            participant: s.config().participant,
            instrument,
            side,
        });
        self.submit(s, seq, input, now_ns);
    }

    fn on_security_list(&mut self, s: &mut Session, msg: &Message<'_>, seq: u64, now_ns: u64) {
        let req_id = msg.get(tags::SECURITY_REQ_ID).unwrap_or(b"").to_vec();
        let wanted = msg.get(tags::SYMBOL).map(<[u8]>::to_vec);
        let list: Vec<Arc<InstrumentInfo>> = self
            .infos
            .iter()
            .filter(|i| wanted.as_deref().is_none_or(|w| w == i.symbol.as_bytes()))
            .cloned()
            .collect();
        let _ = seq;
        let _ = s.send_app(now_ns, b"y", None, |e| {
            e.str(tags::SECURITY_REQ_ID, &req_id);
            e.str(tags::SECURITY_RESPONSE_ID, &req_id);
            e.char(
                tags::SECURITY_REQUEST_RESULT,
                if list.is_empty() { b'2' } else { b'0' },
            );
            e.u64(tags::NO_RELATED_SYM, list.len() as u64);
            for i in &list {
                e.str(tags::SYMBOL, i.symbol.as_bytes());
                if let Some(d) = &i.description {
                    e.str(tags::SECURITY_DESC, d.as_bytes());
                }
            }
        });
    }
}

impl Application for FixApp {
    fn on_app(&mut self, session: &mut Session, msg: &Message<'_>, seq: u64, now_ns: u64) {
        match msg.msg_type() {
            b"D" => self.on_new_order(session, msg, seq, now_ns),
            b"F" => self.on_cancel(session, msg, seq, now_ns, false),
            b"G" => self.on_cancel(session, msg, seq, now_ns, true),
            b"H" => self.on_status(session, msg, seq, now_ns),
            b"q" => self.on_mass_cancel(session, msg, seq, now_ns),
            b"x" => self.on_security_list(session, msg, seq, now_ns),
            b"AF" => self.on_mass_status(session, msg, seq, now_ns),
            other => {
                let other = other.to_vec();
                session.send_business_reject(now_ns, seq, &other, 3, "Unsupported Message Type");
            }
        }
    }

    fn on_throttled(&mut self, session: &mut Session, msg: &Message<'_>, now_ns: u64) {
        let text = "throttle limit exceeded";
        let cl = msg.get(tags::CL_ORD_ID).unwrap_or(b"NONE");
        let orig = msg.get(tags::ORIG_CL_ORD_ID).unwrap_or(b"");
        match msg.msg_type() {
            b"D" => {
                let symbol =
                    String::from_utf8_lossy(msg.get(tags::SYMBOL).unwrap_or(b"")).into_owned();
                let side = if msg.get(tags::SIDE) == Some(b"2") {
                    Side::Sell
                } else {
                    Side::Buy
                };
                self.reject_order(session, now_ns, cl, &symbol, side, text);
            }
            b"F" => self.reject_cancel(session, now_ns, cl, orig, CxlRejResponseTo::Cancel, text),
            b"G" => self.reject_cancel(session, now_ns, cl, orig, CxlRejResponseTo::Replace, text),
            other => {
                let other = other.to_vec();
                let seq = msg.seq_num().unwrap_or(0);
                session.send_business_reject(now_ns, seq, &other, 0, text);
            }
        }
    }
}

/// A decimal field as given, with its sign and value; `None` if absent.
fn decimal_field<'m>(
    msg: &Message<'m>,
    tag: u32,
) -> Result<Option<(std::borrow::Cow<'m, str>, bool, Decimal)>, String> {
    let Some(raw) = msg.get(tag) else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(raw);
    match msg.get_decimal(tag) {
        Ok(Some((negative, value))) => Ok(Some((text, negative, value))),
        _ => Err(format!("tag {tag} value {text} is not a decimal number")),
    }
}

fn price_field(msg: &Message<'_>, tag: u32, info: &InstrumentInfo) -> Result<Option<i64>, String> {
    let Some((text, negative, value)) = decimal_field(msg, tag)? else {
        return Ok(None);
    };
    to_units(negative, value, info.tick_size)
        .map(Some)
        .ok_or_else(|| {
            format!(
                "price {text} is not a multiple of the tick size {} of {}",
                DecimalText(info.tick_size),
                info.symbol
            )
        })
}

fn qty_field(msg: &Message<'_>, tag: u32, info: &InstrumentInfo) -> Result<Option<u64>, String> {
    let Some((text, negative, value)) = decimal_field(msg, tag)? else {
        return Ok(None);
    };
    if negative {
        return Err(format!("quantity {text} must not be negative"));
    }
    let lots = to_units(false, value, info.lot_size).ok_or_else(|| {
        format!(
            "quantity {text} is not a multiple of the lot size {} of {}",
            DecimalText(info.lot_size),
            info.symbol
        )
    })?;
    Ok(Some(lots as u64))
}

/// A [`Decimal`] as text.
struct DecimalText(Decimal);

impl std::fmt::Display for DecimalText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = Vec::new();
        crate::fix::decimal::write_ticks(&mut out, 1, self.0);
        f.write_str(&String::from_utf8_lossy(&out))
    }
}

/// What a report for an order that does not exist is written with.
fn unknown_instrument() -> InstrumentInfo {
    let one = Decimal {
        mantissa: 1,
        scale: 0,
    };
    InstrumentInfo {
        id: InstrumentId(0),
        symbol: "[N/A]".to_owned(),
        description: None,
        tick_size: one,
        lot_size: one,
    }
}

/// FIX 4.4 Side(54).
#[must_use]
pub fn side_char(side: Side) -> u8 {
    match side {
        Side::Buy => b'1',
        Side::Sell => b'2',
    }
}

fn response_to_char(r: CxlRejResponseTo) -> u8 {
    match r {
        CxlRejResponseTo::Cancel => b'1',
        CxlRejResponseTo::Replace => b'2',
    }
}

/// FIX 4.4 ExecType(150).
#[must_use]
pub fn exec_type_char(t: ExecType) -> u8 {
    match t {
        ExecType::New => b'0',
        ExecType::Trade => b'F',
        ExecType::Canceled => b'4',
        ExecType::Replaced => b'5',
        ExecType::Rejected => b'8',
        ExecType::Expired => b'C',
        ExecType::Restated => b'D',
        ExecType::Triggered => b'L',
        ExecType::OrderStatus => b'I',
    }
}

/// FIX 4.4 OrdStatus(39).
#[must_use]
pub fn ord_status_char(s: OrdStatus) -> u8 {
    match s {
        OrdStatus::New => b'0',
        OrdStatus::PartiallyFilled => b'1',
        OrdStatus::Filled => b'2',
        OrdStatus::Canceled => b'4',
        OrdStatus::Expired => b'C',
        OrdStatus::Rejected => b'8',
    }
}

/// FIX 4.4 OrdType(40).
#[must_use]
pub fn ord_type_char(t: OrdType) -> u8 {
    match t {
        OrdType::Market => b'1',
        OrdType::Limit => b'2',
        OrdType::Stop => b'3',
        OrdType::StopLimit => b'4',
    }
}

/// FIX 4.4 TimeInForce(59).
#[must_use]
pub fn tif_char(t: TimeInForce) -> u8 {
    match t {
        TimeInForce::Day => b'0',
        TimeInForce::Gtc => b'1',
        TimeInForce::Ioc => b'3',
        TimeInForce::Fok => b'4',
        TimeInForce::Gtd => b'6',
    }
}

/// OrdRejReason(103) for an engine reject reason.
fn ord_rej_reason(r: RejectReason) -> u64 {
    match r {
        RejectReason::UnknownInstrument => 1,
        RejectReason::UnknownOrder => 5,
        RejectReason::DuplicateClOrdId => 6,
        RejectReason::QtyAboveMax | RejectReason::NotionalAboveMax => 3,
        RejectReason::InvalidQty | RejectReason::QtyBelowMin => 13,
        RejectReason::PriceOutsideCollar => 99,
        _ => 99,
    }
}

/// CxlRejReason(102) for an engine reject reason.
fn cxl_rej_reason(r: RejectReason) -> u64 {
    match r {
        RejectReason::TooLateToCancel => 0,
        RejectReason::UnknownOrder => 1,
        RejectReason::DuplicateClOrdId => 6,
        _ => 99,
    }
}

/// Writes an ExecutionReport's body.
pub fn encode_exec_report(
    e: &mut Encoder,
    x: &ExecutionReport,
    info: &InstrumentInfo,
    time_ns: u64,
) {
    let mut buf = itoa_buf();
    e.str(
        tags::ORDER_ID,
        if x.order_id == OrderId::NONE {
            b"NONE"
        } else {
            fmt_u64(&mut buf, x.order_id.0)
        },
    );
    if x.cl_ord_id != ClOrdId::EMPTY {
        e.str(tags::CL_ORD_ID, x.cl_ord_id.as_str().as_bytes());
    }
    if x.orig_cl_ord_id != ClOrdId::EMPTY {
        e.str(tags::ORIG_CL_ORD_ID, x.orig_cl_ord_id.as_str().as_bytes());
    }
    // ExecID "SEQ-IDX", written without allocating.
    let mut exec_id = [0u8; 41];
    let mut n = 0;
    for part in [
        fmt_u64(&mut itoa_buf(), x.exec_id.seq),
        b"-",
        fmt_u64(&mut itoa_buf(), u64::from(x.exec_id.idx)),
    ] {
        exec_id[n..n + part.len()].copy_from_slice(part);
        n += part.len();
    }
    e.str(tags::EXEC_ID, &exec_id[..n]);
    e.char(tags::EXEC_TYPE, exec_type_char(x.exec_type));
    e.char(tags::ORD_STATUS, ord_status_char(x.ord_status));
    if let Reason::Reject(r) = x.reason
        && x.exec_type == ExecType::Rejected
    {
        e.u64(tags::ORD_REJ_REASON, ord_rej_reason(r));
    }
    e.str(tags::SYMBOL, info.symbol.as_bytes());
    e.char(tags::SIDE, side_char(x.side));
    e.ticks(tags::ORDER_QTY, x.order_qty_lots as i64, info.lot_size);
    e.char(tags::ORD_TYPE, ord_type_char(x.ord_type));
    if let Some(p) = x.price_ticks {
        e.ticks(tags::PRICE, p, info.tick_size);
    }
    if let Some(p) = x.stop_price_ticks {
        e.ticks(tags::STOP_PX, p, info.tick_size);
    }
    e.char(tags::TIME_IN_FORCE, tif_char(x.tif));
    if x.tif == TimeInForce::Gtd
        && let Some(t) = x.expire_time_ns
    {
        e.timestamp_us(tags::EXPIRE_TIME, t);
    }
    if x.exec_type == ExecType::Trade {
        e.ticks(tags::LAST_QTY, x.last_qty_lots as i64, info.lot_size);
        e.ticks(tags::LAST_PX, x.last_px_ticks, info.tick_size);
    }
    e.ticks(tags::LEAVES_QTY, x.leaves_qty_lots as i64, info.lot_size);
    e.ticks(tags::CUM_QTY, x.cum_qty_lots as i64, info.lot_size);
    if x.cum_qty_lots == 0 {
        e.u64(tags::AVG_PX, 0);
    } else {
        // AvgPx = notional / qty in ticks, times the tick size; rounded to
        // four more decimals than the tick has.
        let decimals = info.tick_size.scale.saturating_add(4).min(18);
        if e.ratio(
            tags::AVG_PX,
            x.cum_notional_tick_lots,
            x.cum_qty_lots,
            info.tick_size,
            decimals,
        )
        .is_err()
        {
            // Out of range only for absurd notionals; the last price is the
            // honest fallback.
            e.ticks(tags::AVG_PX, x.last_px_ticks, info.tick_size);
        }
    }
    e.timestamp_us(tags::TRANSACT_TIME, time_ns);
    match x.reason {
        Reason::Reject(r) => e.str(tags::TEXT, r.text().as_bytes()),
        Reason::Cancel(c) => e.str(tags::TEXT, cancel_text(c).as_bytes()),
        Reason::None => {}
    }
}

fn encode_cancel_reject(e: &mut Encoder, c: &CancelReject) {
    let mut buf = itoa_buf();
    e.str(
        tags::ORDER_ID,
        if c.order_id == OrderId::NONE {
            b"NONE"
        } else {
            fmt_u64(&mut buf, c.order_id.0)
        },
    );
    e.str(tags::CL_ORD_ID, c.cl_ord_id.as_str().as_bytes());
    e.str(
        tags::ORIG_CL_ORD_ID,
        if c.orig_cl_ord_id == ClOrdId::EMPTY {
            b"NONE"
        } else {
            c.orig_cl_ord_id.as_str().as_bytes()
        },
    );
    e.char(tags::ORD_STATUS, ord_status_char(c.ord_status));
    e.char(tags::CXL_REJ_RESPONSE_TO, response_to_char(c.response_to));
    e.u64(tags::CXL_REJ_REASON, cxl_rej_reason(c.reason));
    e.str(tags::TEXT, c.reason.text().as_bytes());
}

fn encode_mass_cancel_report(
    e: &mut Encoder,
    m: &MassCancelReport,
    symbol: Option<&str>,
    time_ns: u64,
) {
    e.str(tags::CL_ORD_ID, m.cl_ord_id.as_str().as_bytes());
    e.str(tags::ORDER_ID, b"NONE");
    let request_type = if m.instrument.is_some() { b'1' } else { b'7' };
    e.char(tags::MASS_CANCEL_REQUEST_TYPE, request_type);
    match m.reject {
        Some(r) => {
            e.char(tags::MASS_CANCEL_RESPONSE, b'0');
            e.u64(tags::MASS_CANCEL_REJECT_REASON, 99);
            e.str(tags::TEXT, r.text().as_bytes());
        }
        None => {
            e.char(tags::MASS_CANCEL_RESPONSE, request_type);
            e.u64(tags::TOTAL_AFFECTED_ORDERS, u64::from(m.cancelled_count));
        }
    }
    if let Some(s) = symbol {
        e.str(tags::SYMBOL, s.as_bytes());
    }
    if let Some(side) = m.side {
        e.char(tags::SIDE, side_char(side));
    }
    e.timestamp_us(tags::TRANSACT_TIME, time_ns);
}

fn cancel_text(c: engine::reason::CancelReason) -> &'static str {
    use engine::reason::CancelReason as C;
    match c {
        C::ClientRequest => "cancelled on request",
        C::IocRemainder => "IOC remainder cancelled",
        C::FokNotFilled => "FOK order could not be filled in full",
        C::MinQtyNotMet => "minimum quantity not available",
        C::SelfTradePrevention => "cancelled by self-trade prevention",
        C::Expired => "expired",
        C::PriceCollar => "cancelled at the price collar",
        C::MassCancel => "cancelled by mass cancel",
        C::KillSwitch => "cancelled by the participant's kill switch",
        C::Operator => "cancelled by the venue operator",
        C::VolatilityInterruption => "cancelled by a volatility interruption; instrument halted",
    }
}

fn itoa_buf() -> [u8; 20] {
    [0; 20]
}

fn fmt_u64(buf: &mut [u8; 20], mut n: u64) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_round_trip_and_foreign_ones_name_no_session() {
        assert_eq!(origin_parts(origin_of(0, 7)), Some((0, 7)));
        assert_eq!(
            origin_parts(origin_of(41, (1 << 48) - 1)),
            Some((41, (1 << 48) - 1))
        );
        // None, the admin API's small counters, the WebSocket gateway's.
        for foreign in [ORIGIN_NONE, 1, 12_345, (1 << 48) - 1, 1 << 63 | 5] {
            assert_eq!(origin_parts(foreign), None, "{foreign:#x}");
        }
    }
}
