//! The FIX transport: one TCP connection per session, on the venue's own
//! codec (`gateway::fix::codec`).
//!
//! Each session logs on with ResetSeqNumFlag(141)=Y (both sides start at
//! 1; loadgen keeps no message store). The sending thread encodes requests
//! into each session's buffer under its lock and writes them out in
//! batches; one reader thread per session frames and parses what the venue
//! sends and hands execution reports, cancel rejects and mass cancel
//! reports to [`State`]. A TestRequest is answered with a Heartbeat and a
//! ResendRequest with a gap fill (loadgen never resends a request: a
//! request that is lost shows up as unanswered, which is the point).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use engine::Decimal;
use engine::event::{ExecType, OrdStatus};
use engine::types::OrdType;
use gateway::fix::app::{exec_type_char, ord_status_char, ord_type_char, side_char, tif_char};
use gateway::fix::codec::{Encoder, FieldBuf, Framing, Message, frame, parse};
use gateway::fix::decimal::to_units;
use gateway::fix::tags;

use crate::generator::Instrument;
use crate::record::{SeenCancelReject, SeenReport};
use crate::state::{Body, Request, State};

const BEGIN_STRING: &[u8] = b"FIX.4.4";
const MESSAGE_LEN_MAX: usize = 1 << 20;
/// How long a write may wait for the venue to read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// HeartBtInt(108) loadgen asks for.
const HEARTBEAT_S: u64 = 30;

/// Nanoseconds since the Unix epoch (for SendingTime and TransactTime).
fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// How to log on as one session.
#[derive(Clone, Debug)]
pub struct Logon {
    /// SenderCompID.
    pub sender: String,
    /// TargetCompID (the venue's CompID).
    pub target: String,
    /// Username(553).
    pub username: Option<String>,
    /// Password(554).
    pub password: Option<String>,
}

/// The sending side of one session.
#[derive(Debug)]
struct Out {
    stream: TcpStream,
    enc: Encoder,
    buf: Vec<u8>,
    next_seq: u64,
    sender: String,
    target: String,
    last_write: Instant,
    /// The connection broke: stop writing to it.
    broken: bool,
    /// The request number each MsgSeqNum carried (`NO_REQUEST` for session
    /// messages), so that a session Reject or a BusinessMessageReject, which
    /// names a message by RefSeqNum(45), settles its request.
    requests: Vec<u64>,
}

/// [`Out::requests`] entry of a message that is not a request.
const NO_REQUEST: u64 = u64::MAX;

impl Out {
    /// Encodes one message into the buffer (written by [`Out::flush`]).
    fn push(&mut self, msg_type: &[u8], wall: u64, body: impl FnOnce(&mut Encoder)) {
        self.push_request(NO_REQUEST, msg_type, wall, body);
    }

    /// As [`Out::push`], for request number `n`.
    fn push_request(
        &mut self,
        n: u64,
        msg_type: &[u8],
        wall: u64,
        body: impl FnOnce(&mut Encoder),
    ) {
        let seq = self.next_seq;
        self.push_seq(msg_type, seq, false, wall, body);
        let i = seq as usize;
        if self.requests.len() <= i {
            self.requests.resize(i + 1, NO_REQUEST);
        }
        self.requests[i] = n;
        self.next_seq += 1;
    }

    /// The request message `seq` carried, if it was one.
    fn request_of(&self, seq: u64) -> Option<u64> {
        self.requests
            .get(usize::try_from(seq).ok()?)
            .copied()
            .filter(|n| *n != NO_REQUEST)
    }

    fn push_seq(
        &mut self,
        msg_type: &[u8],
        seq: u64,
        poss_dup: bool,
        wall: u64,
        body: impl FnOnce(&mut Encoder),
    ) {
        let e = &mut self.enc;
        e.start(BEGIN_STRING, msg_type);
        e.str(tags::SENDER_COMP_ID, self.sender.as_bytes());
        e.str(tags::TARGET_COMP_ID, self.target.as_bytes());
        e.u64(tags::MSG_SEQ_NUM, seq);
        if poss_dup {
            e.bool(tags::POSS_DUP_FLAG, true);
        }
        e.timestamp_ms(tags::SENDING_TIME, wall);
        if poss_dup {
            e.timestamp_ms(tags::ORIG_SENDING_TIME, wall);
        }
        body(e);
        self.buf.extend_from_slice(e.finish());
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() || self.broken {
            self.buf.clear();
            return Ok(());
        }
        let r = self.stream.write_all(&self.buf);
        self.buf.clear();
        self.last_write = Instant::now();
        if r.is_err() {
            self.broken = true;
        }
        r
    }
}

/// One connected, logged-on session.
#[derive(Debug)]
struct Conn {
    out: Mutex<Out>,
    /// The reader saw the connection end.
    closed: AtomicBool,
    /// Loadgen sent its Logout: a close is expected.
    logging_out: AtomicBool,
}

/// Every session's connection.
#[derive(Debug)]
pub struct FixTransport {
    conns: Vec<Arc<Conn>>,
    readers: Vec<JoinHandle<()>>,
    instruments: Arc<Vec<Instrument>>,
    prefix: String,
}

/// A received message, copied out of the read buffer.
struct Msg<'a> {
    m: Message<'a>,
}

impl Msg<'_> {
    fn str(&self, tag: u32) -> &str {
        self.m.get_str(tag).ok().flatten().unwrap_or("")
    }
    fn u64(&self, tag: u32) -> u64 {
        self.m.get_u64(tag).ok().flatten().unwrap_or(0)
    }
    fn char(&self, tag: u32) -> u8 {
        self.m.get_char(tag).ok().flatten().unwrap_or(0)
    }
    fn units(&self, tag: u32, unit: Decimal) -> i64 {
        match self.m.get_decimal(tag) {
            Ok(Some((neg, v))) => to_units(neg, v, unit).unwrap_or(0),
            _ => 0,
        }
    }
}

/// ExecType(150) read back: the inverse of the gateway's encoding (and the
/// older partial-fill and fill values, 1 and 2, as a fill).
fn exec_type(c: u8) -> Option<ExecType> {
    const ALL: [ExecType; 9] = [
        ExecType::New,
        ExecType::Trade,
        ExecType::Canceled,
        ExecType::Replaced,
        ExecType::Rejected,
        ExecType::Expired,
        ExecType::Restated,
        ExecType::Triggered,
        ExecType::OrderStatus,
    ];
    if c == b'1' || c == b'2' {
        return Some(ExecType::Trade);
    }
    ALL.into_iter().find(|t| exec_type_char(*t) == c)
}

/// OrdStatus(39) read back (anything unknown as rejected).
fn ord_status(c: u8) -> OrdStatus {
    OrdStatus::ALL
        .into_iter()
        .find(|s| ord_status_char(*s) == c)
        .unwrap_or(OrdStatus::Rejected)
}

/// Reads until one whole message is framed (during logon only).
fn read_one(stream: &mut TcpStream, buf: &mut Vec<u8>, deadline: Instant) -> Result<usize> {
    loop {
        match frame(buf, MESSAGE_LEN_MAX) {
            Framing::Complete { len } => return Ok(len),
            Framing::Garbled { skip, .. } => {
                buf.drain(..skip.min(buf.len()));
            }
            Framing::TooLarge { declared } => bail!("the venue sent a message of {declared} bytes"),
            Framing::Incomplete => {}
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("no answer to the logon within the timeout");
        }
        stream.set_read_timeout(Some(left))?;
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk) {
            Ok(0) => bail!("the venue closed the connection"),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}

impl FixTransport {
    /// Connects and logs on every session (in order), then starts their
    /// readers, which report to `state` with times from `start`.
    ///
    /// # Errors
    /// A connection is refused or a logon is refused or unanswered: the
    /// message names the session and the venue's reason.
    pub fn connect(
        addr: SocketAddr,
        logons: &[Logon],
        instruments: Arc<Vec<Instrument>>,
        state: &Arc<Mutex<State>>,
        start: Instant,
        timeout: Duration,
    ) -> Result<FixTransport> {
        let prefix = state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .prefix()
            .to_owned();
        let mut conns = Vec::new();
        let mut readers = Vec::new();
        for (i, l) in logons.iter().enumerate() {
            let stream = TcpStream::connect_timeout(&addr, timeout).with_context(|| {
                format!(
                    "{}: cannot connect to the venue's FIX acceptor at {addr} (is `venue run` running, and listening there?)",
                    l.sender
                )
            })?;
            stream.set_nodelay(true)?;
            // A venue that stops reading must not hang loadgen: a write
            // that cannot finish in this time breaks the session instead.
            stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
            let mut read_half = stream.try_clone()?;
            let mut out = Out {
                stream,
                enc: Encoder::new(),
                buf: Vec::with_capacity(1 << 16),
                next_seq: 1,
                sender: l.sender.clone(),
                target: l.target.clone(),
                last_write: Instant::now(),
                broken: false,
                requests: Vec::new(),
            };
            out.push(b"A", wall_ns(), |e| {
                e.u64(tags::ENCRYPT_METHOD, 0);
                e.u64(tags::HEART_BT_INT, HEARTBEAT_S);
                e.bool(tags::RESET_SEQ_NUM_FLAG, true);
                if let Some(u) = &l.username {
                    e.str(tags::USERNAME, u.as_bytes());
                }
                if let Some(p) = &l.password {
                    e.str(tags::PASSWORD, p.as_bytes());
                }
            });
            out.flush()
                .with_context(|| format!("{}: cannot send the logon", l.sender))?;
            let mut buf = Vec::with_capacity(1 << 16);
            let len = read_one(&mut read_half, &mut buf, Instant::now() + timeout)
                .with_context(|| format!("{}: logon failed", l.sender))?;
            let mut fields = FieldBuf::with_capacity(64);
            let m = parse(&buf[..len], &mut fields)
                .map_err(|e| anyhow::anyhow!("{}: unreadable logon answer ({e:?})", l.sender))?;
            let msg = Msg { m };
            match msg.m.msg_type() {
                b"A" => {}
                b"5" => bail!(
                    "{}: the venue refused the logon: {}",
                    l.sender,
                    match msg.str(tags::TEXT) {
                        "" => "no reason given",
                        t => t,
                    }
                ),
                other => bail!(
                    "{}: the venue answered the logon with MsgType {}",
                    l.sender,
                    String::from_utf8_lossy(other)
                ),
            }
            buf.drain(..len);
            read_half.set_read_timeout(None)?;
            let conn = Arc::new(Conn {
                out: Mutex::new(out),
                closed: AtomicBool::new(false),
                logging_out: AtomicBool::new(false),
            });
            conns.push(Arc::clone(&conn));
            let state = Arc::clone(state);
            let instruments = Arc::clone(&instruments);
            let name = l.sender.clone();
            readers.push(
                std::thread::Builder::new()
                    .name(format!("loadgen-rd-{i}"))
                    .spawn(move || {
                        read_loop(i, &name, read_half, buf, &conn, &state, &instruments, start);
                    })?,
            );
        }
        Ok(FixTransport {
            conns,
            readers,
            instruments,
            prefix,
        })
    }

    /// The ClOrdID of request `n`: the run's prefix and the number.
    fn cl_ord_id(&self, n: u64) -> Vec<u8> {
        let mut id = Vec::with_capacity(self.prefix.len() + 20);
        id.extend_from_slice(self.prefix.as_bytes());
        id.extend_from_slice(n.to_string().as_bytes());
        id
    }

    /// Encodes `req` into its session's buffer (sent by [`FixTransport::flush`]).
    pub fn push(&self, req: &Request, wall: u64) {
        let conn = &self.conns[req.session];
        let mut out = conn.out.lock().unwrap_or_else(PoisonError::into_inner);
        let cl = self.cl_ord_id(req.n);
        match req.body {
            Body::New {
                instrument,
                side,
                ord_type,
                tif,
                price_ticks,
                qty_lots,
            } => {
                let i = &self.instruments[instrument];
                out.push_request(req.n, b"D", wall, |e| {
                    e.str(tags::CL_ORD_ID, &cl);
                    e.str(tags::SYMBOL, i.symbol.as_bytes());
                    e.char(tags::SIDE, side_char(side));
                    e.timestamp_ms(tags::TRANSACT_TIME, wall);
                    e.ticks(tags::ORDER_QTY, qty_lots as i64, i.lot_size);
                    e.char(tags::ORD_TYPE, ord_type_char(ord_type));
                    if let Some(p) = price_ticks {
                        e.ticks(tags::PRICE, p, i.tick_size);
                    }
                    e.char(tags::TIME_IN_FORCE, tif_char(tif));
                });
            }
            Body::Cancel {
                orig,
                instrument,
                side,
                qty_lots,
            }
            | Body::Replace {
                orig,
                instrument,
                side,
                qty_lots,
                ..
            } => {
                let i = &self.instruments[instrument];
                let orig = self.cl_ord_id(orig);
                let (msg_type, replace) = match req.body {
                    Body::Replace {
                        tif, price_ticks, ..
                    } => (b"G", Some((tif, price_ticks))),
                    _ => (b"F", None),
                };
                out.push_request(req.n, msg_type, wall, |e| {
                    e.str(tags::ORIG_CL_ORD_ID, &orig);
                    e.str(tags::CL_ORD_ID, &cl);
                    e.str(tags::SYMBOL, i.symbol.as_bytes());
                    e.char(tags::SIDE, side_char(side));
                    e.timestamp_ms(tags::TRANSACT_TIME, wall);
                    e.ticks(tags::ORDER_QTY, qty_lots as i64, i.lot_size);
                    if let Some((tif, price_ticks)) = replace {
                        e.char(tags::ORD_TYPE, ord_type_char(OrdType::Limit));
                        e.ticks(tags::PRICE, price_ticks, i.tick_size);
                        e.char(tags::TIME_IN_FORCE, tif_char(tif));
                    }
                });
            }
            Body::Status {
                orig,
                instrument,
                side,
            } => {
                let i = &self.instruments[instrument];
                // A status request names the order by its current ClOrdID.
                let orig = self.cl_ord_id(orig);
                out.push_request(req.n, b"H", wall, |e| {
                    e.str(tags::CL_ORD_ID, &orig);
                    e.str(tags::SYMBOL, i.symbol.as_bytes());
                    e.char(tags::SIDE, side_char(side));
                });
            }
        }
    }

    /// Writes every session's buffered messages, and a Heartbeat where a
    /// session has been quiet for its heartbeat interval. Returns the
    /// sessions whose connection broke.
    pub fn flush(&self) -> Vec<(usize, String)> {
        let mut broken = Vec::new();
        for (i, c) in self.conns.iter().enumerate() {
            let mut out = c.out.lock().unwrap_or_else(PoisonError::into_inner);
            if out.broken {
                continue;
            }
            if out.buf.is_empty() && out.last_write.elapsed() >= Duration::from_secs(HEARTBEAT_S) {
                out.push(b"0", wall_ns(), |_| {});
            }
            if let Err(e) = out.flush() {
                broken.push((i, format!("write failed ({e})")));
            }
        }
        broken
    }

    /// Sends each session's end-of-run OrderMassCancelRequest (all orders).
    pub fn mass_cancel(&self) {
        let wall = wall_ns();
        for (i, c) in self.conns.iter().enumerate() {
            let mut out = c.out.lock().unwrap_or_else(PoisonError::into_inner);
            let id = format!("{}MC{i}", self.prefix);
            out.push(b"q", wall, |e| {
                e.str(tags::CL_ORD_ID, id.as_bytes());
                e.char(tags::MASS_CANCEL_REQUEST_TYPE, b'7');
                e.timestamp_ms(tags::TRANSACT_TIME, wall);
            });
            let _ = out.flush();
        }
    }

    /// Whether session `i`'s connection is gone.
    #[must_use]
    pub fn is_closed(&self, i: usize) -> bool {
        self.conns[i].closed.load(Ordering::Acquire) || {
            let out = self.conns[i]
                .out
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            out.broken
        }
    }

    /// Logs every session out and waits (briefly) for the readers to end.
    pub fn logout(self, wait: Duration) {
        let wall = wall_ns();
        for c in &self.conns {
            c.logging_out.store(true, Ordering::Release);
            let mut out = c.out.lock().unwrap_or_else(PoisonError::into_inner);
            out.push(b"5", wall, |_| {});
            let _ = out.flush();
        }
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline && self.readers.iter().any(|r| !r.is_finished()) {
            std::thread::sleep(Duration::from_millis(10));
        }
        for c in &self.conns {
            let out = c.out.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = out.stream.shutdown(std::net::Shutdown::Both);
        }
        for r in self.readers {
            let _ = r.join();
        }
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "one reader thread's whole context"
)]
fn read_loop(
    session: usize,
    name: &str,
    mut stream: TcpStream,
    mut buf: Vec<u8>,
    conn: &Conn,
    state: &Mutex<State>,
    instruments: &[Instrument],
    start: Instant,
) {
    let mut fields = FieldBuf::with_capacity(64);
    let mut chunk = vec![0u8; 1 << 16];
    let why = 'conn: loop {
        loop {
            match frame(&buf, MESSAGE_LEN_MAX) {
                Framing::Incomplete => break,
                Framing::TooLarge { declared } => {
                    break 'conn format!("the venue sent a message of {declared} bytes");
                }
                Framing::Garbled { skip, .. } => {
                    buf.drain(..skip.min(buf.len()));
                }
                Framing::Complete { len } => {
                    let now = start.elapsed().as_nanos() as u64;
                    match parse(&buf[..len], &mut fields) {
                        Ok(m) => {
                            if let Some(why) =
                                on_message(session, &Msg { m }, conn, state, instruments, now)
                            {
                                break 'conn why;
                            }
                        }
                        Err(e) => {
                            // Its request, if it answered one, stays
                            // unanswered; say why.
                            let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
                            s.error(format!(
                                "{name}: an unreadable message from the venue ({e:?}) was skipped"
                            ));
                        }
                    }
                    buf.drain(..len);
                }
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) => break "the venue closed the connection".to_owned(),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break format!("read failed ({e})"),
        }
    };
    conn.closed.store(true, Ordering::Release);
    if !conn.logging_out.load(Ordering::Acquire) {
        let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
        s.disconnected(session, &why);
    }
}

/// Handles one message; `Some(why)` ends the connection.
fn on_message(
    session: usize,
    msg: &Msg<'_>,
    conn: &Conn,
    state: &Mutex<State>,
    instruments: &[Instrument],
    now: u64,
) -> Option<String> {
    match msg.m.msg_type() {
        b"8" => {
            let symbol = msg.str(tags::SYMBOL);
            let inst = instruments.iter().find(|i| i.symbol == symbol);
            let (tick, lot) = inst.map_or(
                (
                    Decimal {
                        mantissa: 1,
                        scale: 0,
                    },
                    Decimal {
                        mantissa: 1,
                        scale: 0,
                    },
                ),
                |i| (i.tick_size, i.lot_size),
            );
            // An ExecType loadgen does not know is not one of its answers.
            let exec_type = exec_type(msg.char(tags::EXEC_TYPE))?;
            let order_id = msg
                .m
                .get(tags::ORDER_ID)
                .and_then(|v| std::str::from_utf8(v).ok()?.parse().ok());
            let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
            let participant = s.sessions()[session].participant;
            let report = SeenReport {
                participant,
                cl_ord_id: msg.str(tags::CL_ORD_ID).to_owned(),
                orig_cl_ord_id: msg.str(tags::ORIG_CL_ORD_ID).to_owned(),
                order_id: order_id.unwrap_or(0),
                exec_id: msg.str(tags::EXEC_ID).to_owned(),
                exec_type,
                ord_status: ord_status(msg.char(tags::ORD_STATUS)),
                last_qty_lots: msg.units(tags::LAST_QTY, lot).max(0) as u64,
                last_px_ticks: msg.units(tags::LAST_PX, tick),
                leaves_qty_lots: msg.units(tags::LEAVES_QTY, lot).max(0) as u64,
                cum_qty_lots: msg.units(tags::CUM_QTY, lot).max(0) as u64,
            };
            s.on_report(session, report, msg.str(tags::TEXT), now);
        }
        b"9" => {
            let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
            let participant = s.sessions()[session].participant;
            let reject = SeenCancelReject {
                participant,
                cl_ord_id: msg.str(tags::CL_ORD_ID).to_owned(),
                orig_cl_ord_id: msg.str(tags::ORIG_CL_ORD_ID).to_owned(),
            };
            let reason = match msg.str(tags::TEXT) {
                "" => "no reason given",
                t => t,
            }
            .to_owned();
            s.on_cancel_reject(session, reject, &reason, now);
        }
        b"r" => {
            let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
            s.mass_cancel_answered(session);
        }
        b"j" | b"3" => {
            let what = if msg.m.msg_type() == b"j" {
                "business reject"
            } else {
                "session reject"
            };
            let reason = format!("{what}: {}", msg.str(tags::TEXT));
            // The request the rejected message carried, by RefSeqNum(45);
            // the session's lock is let go before the state's is taken.
            let n = conn
                .out
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .request_of(msg.u64(tags::REF_SEQ_NUM));
            let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
            match n {
                Some(n) => s.on_refused_request(n, &reason, now),
                None => s.on_refused(None, &reason, now),
            }
        }
        b"1" => {
            let id = msg.str(tags::TEST_REQ_ID).to_owned();
            let mut out = conn.out.lock().unwrap_or_else(PoisonError::into_inner);
            out.push(b"0", wall_ns(), |e| e.str(tags::TEST_REQ_ID, id.as_bytes()));
            let _ = out.flush();
        }
        b"2" => {
            // Nothing is ever resent: gap-fill from the first asked for.
            let begin = msg.u64(tags::BEGIN_SEQ_NO).max(1);
            let mut out = conn.out.lock().unwrap_or_else(PoisonError::into_inner);
            let new_seq = out.next_seq;
            out.push_seq(b"4", begin.min(new_seq), true, wall_ns(), |e| {
                e.bool(tags::GAP_FILL_FLAG, true);
                e.u64(tags::NEW_SEQ_NO, new_seq);
            });
            let _ = out.flush();
        }
        b"5" => {
            if conn.logging_out.load(Ordering::Acquire) {
                return Some("logged out".to_owned());
            }
            // Answer the venue's Logout, as the session layer expects.
            let mut out = conn.out.lock().unwrap_or_else(PoisonError::into_inner);
            out.push(b"5", wall_ns(), |_| {});
            let _ = out.flush();
            drop(out);
            return Some(format!(
                "the venue logged the session out: {}",
                match msg.str(tags::TEXT) {
                    "" => "no reason given",
                    t => t,
                }
            ));
        }
        _ => {}
    }
    None
}
