//! The WebSocket server: a `tokio` runtime on one thread accepts
//! connections (plain or TLS), and for each runs a reader (parse, check,
//! authenticate, send inputs to the sequencer, commands to the hub) and a
//! writer (the connection's [`Outbox`] to the socket). The [`Hub`] runs on a
//! thread of its own.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ed25519_dalek::Signature;
use engine::input::{Input, MassCancel};
use engine::sequencer::{InputSender, OutputReceiver};
use engine::types::{ClOrdId, ParticipantId};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::ws::config::{Rates, WsConfig};
use crate::ws::convert::{Instruments, Refuse};
use crate::ws::hub::{
    Channel, Command, ConnId, Hub, HubWake, InitialBooks, WsMetrics, origin, wall_ms,
};
use crate::ws::outbox::{Outbox, Wakeups};
use crate::ws::protocol::{
    ClientMsg, InstrumentMsg, OPS, REQ_ID_LEN_MAX, ReqId, ServerMsg, login_payload,
};

/// How often a full inbound ring is retried before `venue_busy`.
const SEND_TRIES: u32 = 10_000;
/// Errors within [`ERROR_WINDOW`] that close a connection.
const ERRORS_MAX: usize = 10;
const ERROR_WINDOW: Duration = Duration::from_secs(10);

/// A running WebSocket gateway.
#[derive(Debug)]
pub struct WsServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// For the sequencer thread: wakes the hub when outputs are ready.
    pub wake: HubWake,
    /// Figures.
    pub metrics: Arc<WsMetrics>,
    /// Each participant's order entry rate now.
    pub rates: Arc<Rates>,
    threads: Vec<JoinHandle<()>>,
}

impl WsServer {
    /// Waits for the gateway's threads (after `stop` was set).
    pub fn join(self) {
        for t in self.threads {
            if t.join().is_err() {
                tracing::error!("a WebSocket gateway thread panicked");
            }
        }
    }
}

struct Shared {
    cfg: Arc<WsConfig>,
    instruments: Instruments,
    sender: InputSender,
    hub: Mutex<Sender<Command>>,
    wake: HubWake,
    metrics: Arc<WsMetrics>,
    rates: Arc<Rates>,
    next_conn: AtomicU64,
    per_address: Mutex<BTreeMap<IpAddr, u32>>,
    login_failures: Mutex<BTreeMap<IpAddr, VecDeque<Instant>>>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stop: Arc<AtomicBool>,
}

impl Shared {
    fn command(&self, c: Command) {
        let sent = self
            .hub
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send(c);
        if sent.is_ok() {
            self.wake.notify();
        }
    }
}

/// Starts the gateway: binds the listener (so that a port in use is an
/// error here), starts the hub and the I/O threads. `books` are the books
/// at `start`: the sequence number after which `outputs` begins, and that
/// input's time stamp.
///
/// # Errors
/// The listener cannot be bound, the TLS files cannot be read, or a thread
/// cannot be spawned.
#[allow(clippy::too_many_arguments, reason = "wired once, by `venue run`")]
pub fn start(
    cfg: WsConfig,
    sender: InputSender,
    outputs: OutputReceiver,
    books: &InitialBooks,
    start: (u64, u64),
    stop: Arc<AtomicBool>,
) -> io::Result<WsServer> {
    let tls = match &cfg.tls {
        Some(files) => Some(crate::ws::tls::acceptor(files)?),
        None => None,
    };
    let std_listener = std::net::TcpListener::bind(cfg.listen)?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let cfg = Arc::new(cfg);
    let metrics = Arc::new(WsMetrics::default());
    let rates = Arc::new(Rates::of(&cfg));
    let ws_rates = Arc::clone(&rates);
    let (tx, rx) = std::sync::mpsc::channel();
    let wakeups = Arc::new(Wakeups::default());
    let hub = Hub::new(
        Arc::clone(&cfg),
        outputs,
        sender.clone(),
        rx,
        Arc::clone(&metrics),
        Arc::clone(&rates),
        Arc::clone(&wakeups),
        wall_ms(),
        books,
        start,
    );
    let wake = hub.wake();
    let shared = Arc::new(Shared {
        instruments: Instruments::new(cfg.instruments.clone()),
        cfg,
        sender,
        hub: Mutex::new(tx),
        wake: wake.clone(),
        metrics: Arc::clone(&metrics),
        rates: Arc::clone(&rates),
        next_conn: AtomicU64::new(1),
        per_address: Mutex::new(BTreeMap::new()),
        login_failures: Mutex::new(BTreeMap::new()),
        tls,
        stop: Arc::clone(&stop),
    });
    let hub_thread = std::thread::Builder::new()
        .name("venue-ws-hub".to_owned())
        .spawn({
            let stop = Arc::clone(&stop);
            move || hub.run(&stop)
        })?;
    let io_thread = std::thread::Builder::new()
        .name("venue-ws".to_owned())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "cannot start the WebSocket runtime");
                    return;
                }
            };
            // The hub's writer wakes, from inside this runtime.
            rt.spawn(async move { wakeups.run().await });
            rt.block_on(accept_loop(std_listener, shared));
        })?;
    Ok(WsServer {
        addr,
        wake,
        metrics,
        rates: ws_rates,
        threads: vec![hub_thread, io_thread],
    })
}

async fn accept_loop(std_listener: std::net::TcpListener, shared: Arc<Shared>) {
    let listener = match TcpListener::from_std(std_listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "the WebSocket listener failed");
            return;
        }
    };
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "WebSocket accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                if shared.cfg.socket_send_buffer_bytes > 0 {
                    let _ = socket2::SockRef::from(&stream)
                        .set_send_buffer_size(shared.cfg.socket_send_buffer_bytes);
                }
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    match shared.tls.clone() {
                        Some(tls) => match tls.accept(stream).await {
                            Ok(s) => serve(s, peer, shared).await,
                            Err(e) => tracing::info!(%peer, error = %e, "WebSocket TLS handshake failed"),
                        },
                        None => serve(stream, peer, shared).await,
                    }
                });
            }
            _ = tick.tick() => {
                if shared.stop.load(Ordering::Acquire) {
                    // Give writers a moment to send their close frames.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    return;
                }
            }
        }
    }
}

/// Counts a connection against its address for as long as it lives.
struct AddressSlot {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut map = self
            .shared
            .per_address
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

async fn serve<S>(stream: S, peer: SocketAddr, shared: Arc<Shared>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(shared.cfg.max_frame_bytes))
        .max_frame_size(Some(shared.cfg.max_frame_bytes));
    let ws = match tokio_tungstenite::accept_async_with_config(stream, Some(ws_config)).await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::info!(%peer, error = %e, "WebSocket handshake failed");
            return;
        }
    };
    let (mut sink, mut source) = ws.split();
    let over_limit = {
        let mut map = shared
            .per_address
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = map.entry(peer.ip()).or_insert(0);
        *n += 1;
        *n > shared.cfg.max_connections_per_address
    };
    let _slot = AddressSlot {
        shared: Arc::clone(&shared),
        ip: peer.ip(),
    };
    if over_limit {
        let msg = error_json(
            "too_many_connections",
            format!(
                "at most {} connections from one address",
                shared.cfg.max_connections_per_address
            ),
            None,
        );
        let _ = sink.send(Message::Text(msg.into())).await;
        let _ = sink
            .send(close_msg(1008, "too many connections from this address"))
            .await;
        return;
    }
    let conn = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    let outbox = Arc::new(Outbox::default());
    shared.metrics.connections.fetch_add(1, Ordering::Relaxed);
    let challenge = match challenge() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "WebSocket: no randomness for a login challenge");
            let _ = sink.send(close_msg(1011, "internal error")).await;
            return;
        }
    };
    outbox.push_str(
        ServerMsg::Hello {
            venue: shared.cfg.venue_name.clone(),
            challenge: challenge.clone(),
            heartbeat_ms: shared.cfg.heartbeat_ms,
            time_ms: wall_ms(),
        }
        .to_json(),
    );
    shared.command(Command::Open {
        conn,
        outbox: Arc::clone(&outbox),
    });
    let writer = tokio::spawn({
        let outbox = Arc::clone(&outbox);
        async move {
            let mut batch = VecDeque::new();
            loop {
                let closing = outbox.take(&mut batch);
                let n = batch.len();
                for msg in batch.drain(..) {
                    if sink.feed(Message::Text(msg)).await.is_err() {
                        return;
                    }
                }
                if n > 0 && sink.flush().await.is_err() {
                    return;
                }
                if let Some(c) = closing {
                    let _ = sink.send(close_msg(c.code, &c.reason)).await;
                    let _ = sink.close().await;
                    return;
                }
                outbox.wait().await;
            }
        }
    });
    let mut reader = Reader {
        shared: Arc::clone(&shared),
        conn,
        peer,
        outbox: Arc::clone(&outbox),
        challenge,
        participant: None,
        errors: VecDeque::new(),
        requests: 0,
        dead_man: None,
        dead_man_ms: 0,
        bucket: None,
    };
    loop {
        if outbox.is_closing() {
            break;
        }
        let deadline = reader.dead_man;
        let frame = tokio::select! {
            f = source.next() => f,
            () = sleep_until(deadline) => {
                reader.dead_man_fired();
                continue;
            }
            () = outbox.wait_closing() => break,
        };
        match frame {
            None => break,
            Some(Err(WsError::Capacity(e))) => {
                outbox.close(1009, &format!("message too big: {e}"));
                break;
            }
            Some(Err(_)) => break,
            Some(Ok(Message::Text(text))) => reader.on_text(text.as_str()).await,
            Some(Ok(Message::Binary(_))) => {
                reader.error(
                    "binary_frame",
                    "binary frames are not accepted; send JSON text".to_owned(),
                    None,
                );
            }
            Some(Ok(Message::Close(_))) => {
                outbox.close(1000, "bye");
                break;
            }
            Some(Ok(_)) => {} // ping/pong are answered by tungstenite
        }
    }
    shared.command(Command::Close { conn });
    if !outbox.is_closing() {
        outbox.close(1000, "closed");
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
    shared.metrics.connections.fetch_sub(1, Ordering::Relaxed);
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn close_msg(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: reason.to_owned().into(),
    }))
}

fn challenge() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

fn error_json(code: &str, message: String, req_id: Option<ReqId>) -> String {
    ServerMsg::Error {
        code: code.to_owned(),
        message,
        req_id,
        cl_ord_id: None,
    }
    .to_json()
}

/// A token bucket that makes order entry wait, in order, instead of
/// dropping anything.
struct Bucket {
    per_second: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
    /// The (per second, burst) it was made for.
    made_for: (u32, u32),
}

impl Bucket {
    /// A full bucket for `rate` (per second, burst); `None` for no limit.
    fn new(rate: (u32, u32)) -> Option<Bucket> {
        if rate.0 == 0 {
            return None;
        }
        let burst = f64::from(rate.1.max(1));
        Some(Bucket {
            per_second: f64::from(rate.0),
            burst,
            tokens: burst,
            at: Instant::now(),
            made_for: rate,
        })
    }

    /// How long to wait before one more message may go.
    fn take(&mut self, now: Instant) -> Duration {
        let elapsed = now.duration_since(self.at).as_secs_f64();
        self.at = now;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.per_second)
        }
    }
}

struct Reader {
    shared: Arc<Shared>,
    conn: ConnId,
    peer: SocketAddr,
    outbox: Arc<Outbox>,
    challenge: String,
    participant: Option<ParticipantId>,
    errors: VecDeque<Instant>,
    requests: u32,
    dead_man: Option<tokio::time::Instant>,
    dead_man_ms: u64,
    bucket: Option<Bucket>,
}

impl Reader {
    fn reply(&self, msg: &ServerMsg) {
        self.outbox.push_str(msg.to_json());
    }

    /// Sends an error; too many close the connection.
    fn error(&mut self, code: &str, message: String, req_id: Option<ReqId>) {
        self.outbox.push_str(error_json(code, message, req_id));
        let now = Instant::now();
        self.errors.push_back(now);
        while self
            .errors
            .front()
            .is_some_and(|t| now.duration_since(*t) > ERROR_WINDOW)
        {
            self.errors.pop_front();
        }
        if self.errors.len() >= ERRORS_MAX {
            self.outbox.close(1008, "too many errors");
        }
    }

    async fn on_text(&mut self, text: &str) {
        let value: serde_json::Value = match serde_json::from_str(text) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            Ok(_) => {
                return self.error(
                    "invalid_json",
                    "a request is a JSON object".to_owned(),
                    None,
                );
            }
            Err(e) => return self.error("invalid_json", format!("not JSON: {e}"), None),
        };
        let req_id = match value.get("req_id") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Number(n)) if n.as_u64().is_some() => {
                n.as_u64().map(ReqId::Num)
            }
            Some(serde_json::Value::String(s)) if s.len() <= REQ_ID_LEN_MAX => {
                Some(ReqId::Str(s.clone()))
            }
            Some(_) => {
                return self.error(
                    "invalid_field",
                    format!("req_id must be a non-negative integer or a string of at most {REQ_ID_LEN_MAX} characters"),
                    None,
                );
            }
        };
        let op = match value.get("op").and_then(serde_json::Value::as_str) {
            Some(op) if OPS.contains(&op) => op.to_owned(),
            Some(op) => {
                return self.error("unknown_op", format!("unknown op {op:?}"), req_id);
            }
            None => {
                return self.error(
                    "unknown_op",
                    "a request needs \"op\" (a string)".to_owned(),
                    req_id,
                );
            }
        };
        let msg: ClientMsg = match serde_json::from_value(value) {
            Ok(m) => m,
            Err(e) => {
                let text = e.to_string();
                let code = if text.starts_with("missing field") {
                    "missing_field"
                } else {
                    "invalid_field"
                };
                return self.error(code, format!("{op}: {text}"), req_id);
            }
        };
        self.on_request(msg, &op, req_id).await;
    }

    async fn on_request(&mut self, msg: ClientMsg, op: &str, req_id: Option<ReqId>) {
        let shared = Arc::clone(&self.shared);
        let ins = &shared.instruments;
        match msg {
            ClientMsg::Login(l) => self.login(l, req_id).await,
            ClientMsg::Ping(_) => self.reply(&ServerMsg::Pong { req_id }),
            ClientMsg::Instruments(_) => self.reply(&ServerMsg::Instruments {
                instruments: ins
                    .list()
                    .iter()
                    .map(|i| InstrumentMsg {
                        symbol: i.symbol.clone(),
                        description: i.description.clone(),
                        tick_size: i.tick_size.to_string(),
                        lot_size: i.lot_size.to_string(),
                    })
                    .collect(),
                req_id,
            }),
            ClientMsg::Subscribe(s) => match self.channel(&s.channel, s.depth) {
                Ok(channel) => shared.command(Command::Subscribe {
                    conn: self.conn,
                    name: s.channel,
                    channel,
                    req_id,
                }),
                Err(r) => self.error(r.code, r.message, req_id),
            },
            ClientMsg::Unsubscribe(s) => shared.command(Command::Unsubscribe {
                conn: self.conn,
                name: s.channel,
                req_id,
            }),
            ClientMsg::CancelAllAfter(c) => {
                if self.participant.is_none() {
                    return self.not_logged_in(req_id);
                }
                self.dead_man_ms = c.timeout_ms;
                self.dead_man = (c.timeout_ms > 0)
                    .then(|| tokio::time::Instant::now() + Duration::from_millis(c.timeout_ms));
                self.reply(&ServerMsg::CancelAllAfter {
                    timeout_ms: c.timeout_ms,
                    req_id,
                });
            }
            order_entry => {
                let Some(p) = self.participant else {
                    return self.not_logged_in(req_id);
                };
                let mass_status = matches!(order_entry, ClientMsg::MassStatus(_));
                let input = match &order_entry {
                    ClientMsg::NewOrder(r) => ins.new_order(p, r),
                    ClientMsg::Cancel(r) => ins.cancel(p, r),
                    ClientMsg::Replace(r) => ins.replace(p, r),
                    ClientMsg::Status(r) => ins.status(p, r),
                    ClientMsg::MassStatus(r) => ins.mass_status(p, r),
                    ClientMsg::MassCancel(r) => ins.mass_cancel(p, r),
                    _ => Err(Refuse {
                        code: "unknown_op",
                        message: "not an order entry request".to_owned(),
                    }),
                };
                match input {
                    Ok(input) => {
                        self.pace().await;
                        self.submit(input, mass_status, req_id);
                    }
                    Err(r) => self.error(r.code, format!("{op}: {}", r.message), req_id),
                }
            }
        }
    }

    /// Waits for the participant's rate limit (as the operator last set it).
    async fn pace(&mut self) {
        if let Some(p) = self.participant
            && let Some(rate) = self.shared.rates.get(p)
            && self.bucket.as_ref().map_or((0, 0), |b| b.made_for) != rate
        {
            self.bucket = Bucket::new(rate);
        }
        if let Some(b) = &mut self.bucket {
            let wait = b.take(Instant::now());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
    }

    fn submit(&mut self, input: Input, mass_status: bool, req_id: Option<ReqId>) {
        self.requests = self.requests.wrapping_add(1);
        let origin = origin(self.conn, self.requests, mass_status);
        if let Err(input) = self.shared.sender.send_from(input, origin, SEND_TRIES) {
            let cl_ord_id = input.cl_ord_id();
            self.reply(&ServerMsg::Error {
                code: "venue_busy".to_owned(),
                message: "venue busy: input queue full, nothing was done; try again".to_owned(),
                req_id,
                cl_ord_id: cl_ord_id.map(|c| c.as_str().to_owned()),
            });
        } else {
            self.shared.wake.notify();
        }
    }

    fn not_logged_in(&mut self, req_id: Option<ReqId>) {
        self.error(
            "not_logged_in",
            "log in first: order entry needs an authenticated participant".to_owned(),
            req_id,
        );
    }

    fn dead_man_fired(&mut self) {
        self.dead_man = None;
        let Some(p) = self.participant else {
            return;
        };
        let input = Input::MassCancel(MassCancel {
            participant: p,
            cl_ord_id: ClOrdId::new(b"ws-cancel-all-after").unwrap_or(ClOrdId::EMPTY),
            instrument: None,
            side: None,
            tif: None,
        });
        self.submit(input, false, None);
        self.reply(&ServerMsg::CancelAllAfterTriggered {});
        tracing::info!(
            participant = p.0,
            dead_man_ms = self.dead_man_ms,
            peer = %self.peer,
            "WebSocket dead-man's switch fired: all the participant's orders cancelled"
        );
    }

    fn channel(&self, name: &str, depth: Option<u32>) -> Result<Channel, Refuse> {
        let unknown = || Refuse {
            code: "unknown_channel",
            message: format!("no channel {name:?}: channels are book.SYMBOL and trades.SYMBOL"),
        };
        let ins = &self.shared.instruments;
        if let Some(symbol) = name.strip_prefix("book.") {
            let inst = ins.by_symbol(symbol).ok_or_else(unknown)?;
            let max = self.shared.cfg.max_book_depth;
            let depth = depth.unwrap_or(10.min(max));
            if depth == 0 || depth > max {
                return Err(Refuse {
                    code: "invalid_field",
                    message: format!("depth must be 1 to {max}"),
                });
            }
            Ok(Channel::Book { inst, depth })
        } else if let Some(symbol) = name.strip_prefix("trades.") {
            if depth.is_some() {
                return Err(Refuse {
                    code: "invalid_field",
                    message: "a trades channel takes no depth".to_owned(),
                });
            }
            Ok(Channel::Trades {
                inst: ins.by_symbol(symbol).ok_or_else(unknown)?,
            })
        } else {
            Err(unknown())
        }
    }

    fn login_failures(&self, now: Instant) -> usize {
        let mut map = self
            .shared
            .login_failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let q = map.entry(self.peer.ip()).or_default();
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(60))
        {
            q.pop_front();
        }
        q.len()
    }

    fn login_failed(&mut self, code: &str, message: String, req_id: Option<ReqId>) {
        let now = Instant::now();
        self.shared
            .login_failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(self.peer.ip())
            .or_default()
            .push_back(now);
        tracing::info!(peer = %self.peer, %code, %message, "WebSocket login refused");
        self.error(code, message, req_id);
    }

    async fn login(&mut self, l: crate::ws::protocol::Login, req_id: Option<ReqId>) {
        if self.participant.is_some() {
            return self.error(
                "already_logged_in",
                "this connection is already logged in".to_owned(),
                req_id,
            );
        }
        let limit = self.shared.cfg.login_failures_per_minute as usize;
        if self.login_failures(Instant::now()) >= limit {
            self.outbox.push_str(error_json(
                "login_rate_limited",
                format!("more than {limit} failed logins from this address in a minute; wait"),
                req_id,
            ));
            self.outbox.close(1008, "too many failed logins");
            return;
        }
        let shared = Arc::clone(&self.shared);
        let Some(p) = shared.cfg.participant(l.participant) else {
            return self.login_failed(
                "unknown_participant",
                format!("no participant {}", l.participant),
                req_id,
            );
        };
        if p.keys.is_empty() {
            return self.login_failed(
                "no_websocket_key",
                format!(
                    "participant {} has no WebSocket public key configured",
                    l.participant
                ),
                req_id,
            );
        }
        let now = wall_ms();
        let skew = now.abs_diff(l.timestamp_ms);
        if skew > shared.cfg.login_skew_ms {
            return self.login_failed(
                "stale_timestamp",
                format!(
                    "timestamp_ms is {skew} ms from the venue's clock ({now}); at most {} allowed",
                    shared.cfg.login_skew_ms
                ),
                req_id,
            );
        }
        let signature = hex::decode(&l.signature)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .map(|b| Signature::from_bytes(&b));
        let Some(signature) = signature else {
            return self.login_failed(
                "bad_signature",
                "signature must be 64 bytes in hex (128 hex digits)".to_owned(),
                req_id,
            );
        };
        let payload = login_payload(l.participant, l.timestamp_ms, &self.challenge);
        if !p
            .keys
            .iter()
            .any(|k| k.verify_strict(payload.as_bytes(), &signature).is_ok())
        {
            return self.login_failed(
                "bad_signature",
                format!(
                    "the signature does not verify with participant {}'s keys over {payload:?}",
                    l.participant
                ),
                req_id,
            );
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        shared.command(Command::Login {
            conn: self.conn,
            participant: p.id,
            resume: l.resume,
            req_id: req_id.clone(),
            reply: tx,
        });
        match rx.await {
            Ok(Ok(())) => {
                self.participant = Some(p.id);
                let rate = self
                    .shared
                    .rates
                    .get(p.id)
                    .unwrap_or((p.rate_per_second, p.rate_burst));
                self.bucket = Bucket::new(rate);
                tracing::info!(
                    participant = p.id.0,
                    peer = %self.peer,
                    "WebSocket participant logged in"
                );
            }
            Ok(Err((code, message))) => self.error(code, message, req_id),
            Err(_) => self.error("internal", "the gateway is stopping".to_owned(), req_id),
        }
    }
}
