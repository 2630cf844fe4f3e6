//! An async client for the venue's WebSocket API (`docs/websocket-api.md`)
//! on `tokio` and `tokio-tungstenite`.
//!
//! The client does the protocol's bookkeeping so an application sees only
//! in-order, complete streams:
//!
//! - **Private stream**: order events (`exec`, `cancel_reject`,
//!   `mass_cancel_report`, `mass_status_done`) come out in `pseq` order.
//!   Events that arrive ahead of a missing one wait in a bounded buffer; a
//!   hole that does not fill (the buffer overflows, or a heartbeat's `pseq`
//!   is beyond the last delivered) is reported as [`ClientEvent::PrivateGap`]
//!   and delivery goes on after it. [`Client::resume_point`] is what to pass
//!   as `resume` when logging in again after a reconnect.
//! - **Books**: each `book.SYMBOL` subscription has a [`LocalBook`]; a book
//!   message yields [`ClientEvent::Book`] only once that book advanced (read
//!   it with [`Client::book`]). On a gap or a checksum mismatch the client
//!   resubscribes by itself (`unsubscribe`, then `subscribe` at the same
//!   depth) and yields [`ClientEvent::BookResync`]; the book is empty until
//!   the new snapshot.
//! - **Trades**: in `seq` order per channel, with
//!   [`ClientEvent::TradeGap`] for trades that did not arrive (trades
//!   cannot be fetched again).
//! - Everything else the server says (errors, pongs, heartbeats, ...) is an
//!   event too; [`ClientEvent::Closed`] ends the stream.
//!
//! The connection is `ws://` only (the crate is built without a TLS
//! connector for `tokio-tungstenite`).
//!
//! ```no_run
//! use gateway::ws::client::{Client, ClientError, ClientEvent, Side, book_channel};
//!
//! # async fn run() -> Result<(), ClientError> {
//! // The participant's Ed25519 private key (its public key is in the
//! // venue's `[participant.websocket] public_keys`).
//! let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
//! let mut client = Client::connect("ws://127.0.0.1:9879/").await?;
//! let me = client.login(1, &key, None).await?;
//! println!("logged in as {} at pseq {}", me.name, me.pseq);
//!
//! client.subscribe_book("UST-10Y", 10).await?;
//! client.limit_order("o-1", "UST-10Y", Side::Buy, 12864, 5).await?;
//! let channel = book_channel("UST-10Y");
//! while let Some(event) = client.next_event().await? {
//!     match event {
//!         ClientEvent::Book { channel: ch, .. } if ch == channel => {
//!             if let Some(book) = client.book(&ch) {
//!                 println!("best bid {:?}, best ask {:?}", book.best_bid(), book.best_ask());
//!             }
//!         }
//!         ClientEvent::BookResync { reason, .. } => println!("resubscribed: {reason}"),
//!         ClientEvent::Exec(exec) => println!("{} {}", exec.cl_ord_id, exec.exec_type),
//!         ClientEvent::Error { code, message, .. } => println!("error {code}: {message}"),
//!         _ => {}
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Without a connection, [`Client::detached`] and [`Client::process_text`]
//! run the same processing over frames given by hand (tests, replays,
//! benchmarks); what it would have sent is in [`Client::take_outbox`].
#![warn(missing_docs)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::poll_fn;
use std::pin::Pin;
use std::time::{SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signer, SigningKey};
use futures_util::{Sink, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::local_book::{BookStatus, DEFAULT_REORDER_WINDOW, LocalBook, ResyncReason};
use super::protocol::{
    BookMsg, CancelAllAfterReq, CancelRejectMsg, CancelReq, ClientMsg, ExecMsg, InstrumentMsg,
    Login, MassCancelReportMsg, MassReq, MassStatusDoneMsg, NewOrderReq, Plain, ReplaceReq, ReqId,
    Resume, ServerMsg, StatusMsg, StatusReq, SubscribeReq, TradeMsg, login_payload,
};

/// The book depth the venue uses when `subscribe` gives none.
pub const DEFAULT_BOOK_DEPTH: u32 = 10;

/// Error codes that refuse a login (see the API document).
const LOGIN_ERRORS: [&str; 7] = [
    "bad_signature",
    "unknown_participant",
    "no_websocket_key",
    "stale_timestamp",
    "already_logged_in",
    "too_many_connections",
    "login_rate_limited",
];

/// Longest piece of an invalid frame kept in [`ClientError::InvalidMessage`].
const INVALID_TEXT_MAX: usize = 256;

/// The channel name of a symbol's book: `book.SYMBOL`.
#[must_use]
pub fn book_channel(symbol: &str) -> String {
    format!("book.{symbol}")
}

/// The channel name of a symbol's trades: `trades.SYMBOL`.
#[must_use]
pub fn trades_channel(symbol: &str) -> String {
    format!("trades.{symbol}")
}

/// Order side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// `buy`.
    Buy,
    /// `sell`.
    Sell,
}

impl Side {
    /// The side as the API spells it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

/// The server's greeting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The venue's name.
    pub venue: String,
    /// This connection's login challenge (64 hex digits).
    pub challenge: String,
    /// How often the server sends heartbeats.
    pub heartbeat_ms: u64,
    /// The venue's clock when it said hello, ms since the Unix epoch.
    pub time_ms: u64,
}

/// What came of a login's `resume`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResumeStatus {
    /// The login asked for no resume: the private stream starts with the
    /// next live event.
    NotRequested,
    /// Every private event after the requested `pseq` follows, in order.
    Ok,
    /// The venue cannot resume (it restarted, or the point is older than
    /// its buffer): rebuild the view of your orders with `mass_status`.
    Resync,
}

/// A successful login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedIn {
    /// The participant's id.
    pub participant: u32,
    /// The participant's name.
    pub name: String,
    /// The private stream's epoch.
    pub epoch: u64,
    /// The private stream's last `pseq` at login.
    pub pseq: u64,
    /// The participant's cancel-on-disconnect setting (`none`, `day`,
    /// `all`).
    pub cancel_on_disconnect: String,
    /// What came of the `resume` asked for.
    pub resume: ResumeStatus,
    /// The login's request id.
    pub req_id: Option<ReqId>,
}

/// Something the client read, in order (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// A `logged_in` outside [`Client::login`] (e.g. given to
    /// [`Client::process_text`]).
    LoggedIn(LoggedIn),
    /// An execution report, in `pseq` order.
    Exec(Box<ExecMsg>),
    /// A rejected cancel or replace, in `pseq` order.
    CancelReject(Box<CancelRejectMsg>),
    /// The result of a mass cancel, in `pseq` order.
    MassCancelReport(Box<MassCancelReportMsg>),
    /// The end of a `mass_status` answer, in `pseq` order.
    MassStatusDone(MassStatusDoneMsg),
    /// Private events `after_pseq + 1 ..= through_pseq` did not arrive;
    /// delivery goes on after them. Rebuild the order view with
    /// `mass_status`, or reconnect with [`Client::resume_point`].
    PrivateGap {
        /// The last `pseq` delivered before the hole.
        after_pseq: u64,
        /// The last `pseq` missing.
        through_pseq: u64,
    },
    /// The channel's [`LocalBook`] advanced to `seq`: read it with
    /// [`Client::book`].
    Book {
        /// `book.SYMBOL`.
        channel: String,
        /// The book's `seq` now.
        seq: u64,
    },
    /// The channel's book lost sync; the client has resubscribed and the book
    /// stays empty until the new snapshot.
    BookResync {
        /// `book.SYMBOL`.
        channel: String,
        /// Why.
        reason: ResyncReason,
    },
    /// A public trade, in `seq` order for its channel.
    Trade(Box<TradeMsg>),
    /// An instrument's trading phase changed (to subscribers of its trades).
    Status(StatusMsg),
    /// Trades `after_seq + 1 ..= through_seq` of the channel did not arrive.
    TradeGap {
        /// `trades.SYMBOL`.
        channel: String,
        /// The last `seq` delivered before the hole.
        after_seq: u64,
        /// The last `seq` missing.
        through_seq: u64,
    },
    /// A subscription is active.
    Subscribed {
        /// The channel.
        channel: String,
        /// The book depth, for a book channel.
        depth: Option<u32>,
        /// The channel's last `seq`, for a trades channel.
        seq: Option<u64>,
        /// The request's id.
        req_id: Option<ReqId>,
    },
    /// A subscription ended.
    Unsubscribed {
        /// The channel.
        channel: String,
        /// The request's id.
        req_id: Option<ReqId>,
    },
    /// The answer to `instruments`.
    Instruments {
        /// The venue's instruments.
        instruments: Vec<InstrumentMsg>,
        /// The request's id.
        req_id: Option<ReqId>,
    },
    /// The answer to `ping`.
    Pong {
        /// The request's id.
        req_id: Option<ReqId>,
    },
    /// The answer to `cancel_all_after`.
    CancelAllAfter {
        /// The timeout now armed (0: disarmed).
        timeout_ms: u64,
        /// The request's id.
        req_id: Option<ReqId>,
    },
    /// The dead-man's switch fired: the participant's orders are being
    /// cancelled.
    CancelAllAfterTriggered,
    /// A heartbeat (after the gaps it revealed, if any).
    Heartbeat {
        /// The venue's clock, ms since the Unix epoch.
        time_ms: u64,
        /// The private stream's last `pseq`, once logged in.
        pseq: Option<u64>,
    },
    /// An `error` from the gateway.
    Error {
        /// Stable code (`missing_field`, `venue_busy`, ...).
        code: String,
        /// A sentence for people.
        message: String,
        /// The failed request's id.
        req_id: Option<ReqId>,
        /// The refused request's `cl_ord_id` (`venue_busy`, `venue_halted`).
        cl_ord_id: Option<String>,
    },
    /// A `hello` after the first (not expected from a conforming server).
    Hello(Hello),
    /// The connection ended; [`Client::next_event`] gives `None` after
    /// this.
    Closed {
        /// The close code (1008: policy, e.g. `slow consumer`; 1009: frame
        /// too large), if the server sent a close frame.
        code: Option<u16>,
        /// The close reason.
        reason: String,
    },
}

/// Counters over the client's life.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// WebSocket frames read, control frames included.
    pub frames_received: u64,
    /// Server messages parsed (from frames or [`Client::process_text`]).
    pub messages_received: u64,
    /// Frames that were not a valid server message.
    pub invalid_messages: u64,
    /// Requests written to the connection.
    pub messages_sent: u64,
    /// Book messages received.
    pub book_messages: u64,
    /// Book messages ignored as duplicates.
    pub book_duplicates: u64,
    /// Automatic book resubscriptions.
    pub book_resyncs: u64,
    /// Trade messages received.
    pub trades: u64,
    /// Trade messages ignored as duplicates.
    pub trade_duplicates: u64,
    /// Trade gaps reported.
    pub trade_gaps: u64,
    /// Private events received.
    pub private_events: u64,
    /// Private events ignored as duplicates.
    pub private_duplicates: u64,
    /// Private gaps reported.
    pub private_gaps: u64,
    /// Book and trade messages for channels not subscribed (in flight when
    /// unsubscribing, typically); dropped.
    pub unrouted: u64,
}

/// Counters for one channel, kept after it is unsubscribed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelStats {
    /// Messages received on the channel.
    pub messages: u64,
    /// Messages ignored as duplicates.
    pub duplicates: u64,
    /// Automatic resubscriptions (books).
    pub resyncs: u64,
    /// Gaps reported (trades).
    pub gaps: u64,
}

/// What can go wrong. [`ClientError::is_fatal`] says whether the connection
/// is still usable.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The WebSocket connection failed.
    #[error("WebSocket: {0}")]
    WebSocket(Box<tungstenite::Error>),
    /// A frame was not a server message of the protocol (dropped; the
    /// client goes on).
    #[error("invalid message from the server ({error}): {text}")]
    InvalidMessage {
        /// The frame's text (its first 256 bytes or so).
        text: String,
        /// What is wrong with it.
        error: String,
    },
    /// The server broke the protocol (a binary frame, no `hello` first, ...).
    #[error("protocol: {0}")]
    Protocol(String),
    /// The login was refused (see the API document's error codes).
    #[error("login refused: {code}: {message}")]
    LoginRefused {
        /// `bad_signature`, `stale_timestamp`, ...
        code: String,
        /// The server's explanation.
        message: String,
    },
    /// The connection is closed.
    #[error("connection closed (code {code:?}): {reason}")]
    Closed {
        /// The close code, if any.
        code: Option<u16>,
        /// The close reason.
        reason: String,
    },
    /// The operation needs a connection and the client is detached.
    #[error("the client has no connection")]
    Detached,
    /// The system clock is before 1970 or beyond `u64` milliseconds.
    #[error("the system clock is unusable for a login timestamp")]
    Clock,
    /// A request could not be encoded as JSON.
    #[error("cannot encode a request: {0}")]
    Encode(#[source] serde_json::Error),
}

impl From<tungstenite::Error> for ClientError {
    fn from(e: tungstenite::Error) -> Self {
        match e {
            tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
                ClientError::Closed {
                    code: None,
                    reason: e.to_string(),
                }
            }
            e => ClientError::WebSocket(Box::new(e)),
        }
    }
}

impl ClientError {
    /// Whether the connection is unusable after this error. An invalid
    /// message or a refused login leaves it open; a transport failure or a
    /// close does not.
    #[must_use]
    pub fn is_fatal(&self) -> bool {
        match self {
            ClientError::InvalidMessage { .. }
            | ClientError::Protocol(_)
            | ClientError::LoginRefused { .. }
            | ClientError::Encode(_) => false,
            ClientError::WebSocket(_)
            | ClientError::Closed { .. }
            | ClientError::Detached
            | ClientError::Clock => true,
        }
    }
}

type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConnState {
    Open,
    /// The server's close frame arrived: read on until the stream ends, send
    /// nothing.
    Closing,
    Closed,
}

/// A connection to the venue's WebSocket API (see the module docs).
#[derive(Debug)]
pub struct Client {
    ws: Option<WsStream>,
    state: ConnState,
    hello: Option<Hello>,
    core: Core,
}

impl Client {
    /// Connects to `url` (`ws://host:port/`) and reads the server's `hello`.
    pub async fn connect(url: &str) -> Result<Self, ClientError> {
        let (ws, _response) = tokio_tungstenite::connect_async_with_config(url, None, true).await?;
        let mut client = Client {
            ws: Some(ws),
            state: ConnState::Open,
            hello: None,
            core: Core::new(),
        };
        client.read_hello().await?;
        Ok(client)
    }

    /// A client without a connection: [`Client::process_text`] feeds it
    /// server frames, requests pile up in [`Client::take_outbox`], and
    /// [`Client::next_event`] gives the events queued, then `None`.
    #[must_use]
    pub fn detached() -> Self {
        Client {
            ws: None,
            state: ConnState::Open,
            hello: None,
            core: Core::new(),
        }
    }

    /// The server's `hello` (`None` for a detached client).
    #[must_use]
    pub fn hello(&self) -> Option<&Hello> {
        self.hello.as_ref()
    }

    /// Sets how many out-of-order messages the client holds, per stream,
    /// while waiting for a missing one, before it takes that one as lost
    /// (default [`DEFAULT_REORDER_WINDOW`]). Applies to subscriptions and
    /// logins made afterwards.
    pub fn set_reorder_window(&mut self, window: usize) {
        self.core.window = window;
    }

    /// Logs in as `participant`, signing this connection's challenge with
    /// `key`, and waits for the answer. `resume` picks the private stream up
    /// after a previous connection's [`Client::resume_point`]. Other
    /// messages read meanwhile stay queued for [`Client::next_event`]. Wrap
    /// it in `tokio::time::timeout` to bound the wait; an answer that comes
    /// after the future is dropped is [`ClientEvent::LoggedIn`] (or
    /// [`ClientEvent::Error`]) from [`Client::next_event`].
    pub async fn login(
        &mut self,
        participant: u32,
        key: &SigningKey,
        resume: Option<Resume>,
    ) -> Result<LoggedIn, ClientError> {
        let challenge = self
            .hello
            .as_ref()
            .ok_or(ClientError::Detached)?
            .challenge
            .clone();
        let timestamp_ms = now_ms()?;
        let signature = key.sign(login_payload(participant, timestamp_ms, &challenge).as_bytes());
        let req_id = self.core.next_req_id();
        let login = Login {
            participant,
            timestamp_ms,
            signature: hex::encode(signature.to_bytes()),
            resume,
            req_id: Some(req_id.clone()),
        };
        let mut seen = self.core.events.len();
        self.send(&ClientMsg::Login(login)).await?;
        loop {
            while let Some(event) = self.core.events.get(seen) {
                match event {
                    ClientEvent::LoggedIn(_) => {
                        if let Some(ClientEvent::LoggedIn(done)) = self.core.events.remove(seen) {
                            return Ok(done);
                        }
                    }
                    ClientEvent::Error {
                        code,
                        message,
                        req_id: id,
                        ..
                    } if id.as_ref() == Some(&req_id)
                        || (id.is_none() && LOGIN_ERRORS.contains(&code.as_str())) =>
                    {
                        let err = ClientError::LoginRefused {
                            code: code.clone(),
                            message: message.clone(),
                        };
                        self.core.events.remove(seen);
                        return Err(err);
                    }
                    ClientEvent::Closed { code, reason } => {
                        return Err(ClientError::Closed {
                            code: *code,
                            reason: reason.clone(),
                        });
                    }
                    _ => seen += 1,
                }
            }
            match self.read_frame().await {
                Ok(true) => {}
                Ok(false) => {
                    return Err(ClientError::Closed {
                        code: None,
                        reason: "the connection ended during login".to_owned(),
                    });
                }
                // An invalid frame is counted and dropped; the answer may
                // still come.
                Err(e) if !e.is_fatal() => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends a request (after any the client queued itself, such as a
    /// resubscription). Subscriptions sent this way are tracked like those
    /// of [`Client::subscribe_book`] and [`Client::subscribe_trades`].
    pub async fn send(&mut self, msg: &ClientMsg) -> Result<(), ClientError> {
        if self.state != ConnState::Open {
            return Err(ClientError::Closed {
                code: None,
                reason: "the connection is closing".to_owned(),
            });
        }
        self.core.outgoing(msg.clone());
        self.flush().await
    }

    /// Writes the requests queued so far (a detached client keeps them for
    /// [`Client::take_outbox`]).
    pub async fn flush(&mut self) -> Result<(), ClientError> {
        let Client {
            ws: Some(ws),
            state: ConnState::Open,
            core,
            ..
        } = self
        else {
            return Ok(());
        };
        while let Some(msg) = core.outbox.front() {
            let text = serde_json::to_string(msg);
            let text = match text {
                Ok(text) => text,
                Err(e) => {
                    core.outbox.pop_front();
                    return Err(ClientError::Encode(e));
                }
            };
            // Nothing leaves the queue before the sink takes it, so a
            // cancelled call loses nothing.
            poll_fn(|cx| Pin::new(&mut *ws).poll_ready(cx)).await?;
            Pin::new(&mut *ws).start_send(Message::text(text))?;
            core.outbox.pop_front();
            core.stats.messages_sent += 1;
        }
        poll_fn(|cx| Pin::new(&mut *ws).poll_flush(cx)).await?;
        Ok(())
    }

    /// The next event, in order (see [`ClientEvent`]): queued events first,
    /// then frames read from the connection. `Ok(None)` once the connection
    /// has ended (after [`ClientEvent::Closed`]) or, detached, when the queue
    /// is empty. An error that is not [`ClientError::is_fatal`] (an invalid
    /// frame) leaves the client usable: call again. Cancel-safe: dropping
    /// the future loses no event and no request.
    pub async fn next_event(&mut self) -> Result<Option<ClientEvent>, ClientError> {
        loop {
            if let Err(e) = self.flush().await {
                if !e.is_fatal() {
                    return Err(e);
                }
                // The connection is gone: what was read still comes out,
                // then the close.
                self.core.outbox.clear();
                self.end(None, e.to_string());
            }
            if let Some(event) = self.core.events.pop_front() {
                return Ok(Some(event));
            }
            if !self.read_frame().await? {
                return Ok(None);
            }
        }
    }

    /// A queued event, without reading the connection.
    pub fn try_next_event(&mut self) -> Option<ClientEvent> {
        self.core.events.pop_front()
    }

    /// Runs one server text frame through the client as if read from the
    /// connection: its events are queued for [`Client::next_event`] and
    /// [`Client::try_next_event`], requests it causes (resubscriptions) are
    /// queued for the next write. For tests and replays: a dropped,
    /// duplicated or reordered message is just a frame not given, given
    /// twice, or given later.
    pub fn process_text(&mut self, text: &str) -> Result<(), ClientError> {
        self.core.process_text(text)
    }

    /// Takes the requests queued and not written: on a detached client,
    /// everything it would have sent.
    pub fn take_outbox(&mut self) -> Vec<ClientMsg> {
        self.core.outbox.drain(..).collect()
    }

    /// The local book of a subscribed `book.SYMBOL` channel.
    #[must_use]
    pub fn book(&self, channel: &str) -> Option<&LocalBook> {
        self.core.books.get(channel).map(|sub| &sub.book)
    }

    /// The client's counters.
    #[must_use]
    pub fn stats(&self) -> &ClientStats {
        &self.core.stats
    }

    /// A channel's counters (kept after unsubscribing).
    #[must_use]
    pub fn channel_stats(&self, channel: &str) -> Option<&ChannelStats> {
        self.core.channel_stats.get(channel)
    }

    /// Automatic resubscriptions of a book channel so far.
    #[must_use]
    pub fn resyncs(&self, channel: &str) -> u64 {
        self.channel_stats(channel).map_or(0, |s| s.resyncs)
    }

    /// Where the private stream stands: the epoch and the last `pseq` put in
    /// order (events still queued count), to pass as `resume` when logging
    /// in on a new connection. `None` before login. After a
    /// [`ClientEvent::PrivateGap`] it is past the hole; to have the venue
    /// send the missing events, resume from the gap's `after_pseq` instead
    /// (the events after the hole then come again).
    #[must_use]
    pub fn resume_point(&self) -> Option<Resume> {
        Some(Resume {
            epoch: self.core.epoch?,
            after_pseq: self.core.private.last()?,
        })
    }

    /// Starts closing the connection (a close frame); read on with
    /// [`Client::next_event`] until it gives `None`.
    pub async fn close(&mut self) -> Result<(), ClientError> {
        self.flush().await?;
        if let (Some(ws), ConnState::Open) = (self.ws.as_mut(), self.state) {
            self.state = ConnState::Closing;
            ws.close(None).await?;
        }
        Ok(())
    }

    // ---- Requests ---------------------------------------------------------

    /// Sends a `new_order`.
    pub async fn new_order(&mut self, order: NewOrderReq) -> Result<(), ClientError> {
        self.send(&ClientMsg::NewOrder(order)).await
    }

    /// Sends a Day limit order.
    pub async fn limit_order(
        &mut self,
        cl_ord_id: &str,
        symbol: &str,
        side: Side,
        price_ticks: i64,
        qty_lots: u64,
    ) -> Result<(), ClientError> {
        self.new_order(NewOrderReq {
            cl_ord_id: cl_ord_id.to_owned(),
            symbol: symbol.to_owned(),
            side: side.as_str().to_owned(),
            ord_type: Some("limit".to_owned()),
            price_ticks: Some(price_ticks),
            qty_lots: Some(qty_lots),
            ..NewOrderReq::default()
        })
        .await
    }

    /// Cancels the order whose `cl_ord_id` was `orig_cl_ord_id`.
    pub async fn cancel(
        &mut self,
        cl_ord_id: &str,
        orig_cl_ord_id: &str,
    ) -> Result<(), ClientError> {
        self.send(&ClientMsg::Cancel(CancelReq {
            cl_ord_id: cl_ord_id.to_owned(),
            orig_cl_ord_id: Some(orig_cl_ord_id.to_owned()),
            ..CancelReq::default()
        }))
        .await
    }

    /// Cancels an order by the venue's `order_id`.
    pub async fn cancel_order_id(
        &mut self,
        cl_ord_id: &str,
        order_id: u64,
    ) -> Result<(), ClientError> {
        self.send(&ClientMsg::Cancel(CancelReq {
            cl_ord_id: cl_ord_id.to_owned(),
            order_id: Some(order_id),
            ..CancelReq::default()
        }))
        .await
    }

    /// Sends a `replace`.
    pub async fn replace(&mut self, replace: ReplaceReq) -> Result<(), ClientError> {
        self.send(&ClientMsg::Replace(replace)).await
    }

    /// Asks for an order's status by its `cl_ord_id`.
    pub async fn status(&mut self, cl_ord_id: &str) -> Result<(), ClientError> {
        self.send(&ClientMsg::Status(StatusReq {
            cl_ord_id: Some(cl_ord_id.to_owned()),
            ..StatusReq::default()
        }))
        .await
    }

    /// Asks for the status of every live order, optionally of one symbol
    /// and side; the answer ends with [`ClientEvent::MassStatusDone`].
    pub async fn mass_status(
        &mut self,
        symbol: Option<&str>,
        side: Option<Side>,
    ) -> Result<(), ClientError> {
        self.send(&ClientMsg::MassStatus(MassReq {
            symbol: symbol.map(str::to_owned),
            side: side.map(|s| s.as_str().to_owned()),
            ..MassReq::default()
        }))
        .await
    }

    /// Cancels every order, optionally of one symbol and side.
    pub async fn mass_cancel(
        &mut self,
        cl_ord_id: &str,
        symbol: Option<&str>,
        side: Option<Side>,
    ) -> Result<(), ClientError> {
        self.send(&ClientMsg::MassCancel(MassReq {
            cl_ord_id: Some(cl_ord_id.to_owned()),
            symbol: symbol.map(str::to_owned),
            side: side.map(|s| s.as_str().to_owned()),
            ..MassReq::default()
        }))
        .await
    }

    /// Arms (or, with 0, disarms) the dead-man's switch.
    pub async fn cancel_all_after(&mut self, timeout_ms: u64) -> Result<(), ClientError> {
        self.send(&ClientMsg::CancelAllAfter(CancelAllAfterReq {
            timeout_ms,
            req_id: None,
        }))
        .await
    }

    /// Subscribes to `book.SYMBOL` at `depth` levels a side; the channel's
    /// book is [`Client::book`]`("book.SYMBOL")`.
    pub async fn subscribe_book(&mut self, symbol: &str, depth: u32) -> Result<(), ClientError> {
        self.send(&ClientMsg::Subscribe(SubscribeReq {
            channel: book_channel(symbol),
            depth: Some(depth),
            req_id: None,
        }))
        .await
    }

    /// Subscribes to `trades.SYMBOL`.
    pub async fn subscribe_trades(&mut self, symbol: &str) -> Result<(), ClientError> {
        self.send(&ClientMsg::Subscribe(SubscribeReq {
            channel: trades_channel(symbol),
            depth: None,
            req_id: None,
        }))
        .await
    }

    /// Unsubscribes from a channel (`book.SYMBOL` or `trades.SYMBOL`); its
    /// book is dropped at once.
    pub async fn unsubscribe(&mut self, channel: &str) -> Result<(), ClientError> {
        self.send(&ClientMsg::Unsubscribe(SubscribeReq {
            channel: channel.to_owned(),
            depth: None,
            req_id: None,
        }))
        .await
    }

    /// Sends a `ping` (answered by [`ClientEvent::Pong`]).
    pub async fn ping(&mut self) -> Result<(), ClientError> {
        self.send(&ClientMsg::Ping(Plain::default())).await
    }

    /// Asks for the instrument list (answered by
    /// [`ClientEvent::Instruments`]).
    pub async fn instruments(&mut self) -> Result<(), ClientError> {
        self.send(&ClientMsg::Instruments(Plain::default())).await
    }

    // ---- Reading ----------------------------------------------------------

    async fn read_hello(&mut self) -> Result<(), ClientError> {
        let ws = self.ws.as_mut().ok_or(ClientError::Detached)?;
        loop {
            let frame = ws.next().await.ok_or_else(|| ClientError::Closed {
                code: None,
                reason: "the connection ended before hello".to_owned(),
            })??;
            self.core.stats.frames_received += 1;
            match frame {
                Message::Text(text) => {
                    let msg = parse(text.as_str())
                        .inspect_err(|_| self.core.stats.invalid_messages += 1)?;
                    self.core.stats.messages_received += 1;
                    let ServerMsg::Hello {
                        venue,
                        challenge,
                        heartbeat_ms,
                        time_ms,
                    } = msg
                    else {
                        return Err(ClientError::Protocol(format!(
                            "expected hello first, got {}",
                            truncate(text.as_str())
                        )));
                    };
                    self.hello = Some(Hello {
                        venue,
                        challenge,
                        heartbeat_ms,
                        time_ms,
                    });
                    return Ok(());
                }
                Message::Close(frame) => {
                    self.state = ConnState::Closed;
                    return Err(ClientError::Closed {
                        code: frame.as_ref().map(|f| u16::from(f.code)),
                        reason: frame
                            .map(|f| f.reason.as_str().to_owned())
                            .unwrap_or_default(),
                    });
                }
                Message::Binary(_) => {
                    return Err(ClientError::Protocol(
                        "binary frame before hello".to_owned(),
                    ));
                }
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
        }
    }

    /// Reads and processes one frame; `false` once the connection is over.
    async fn read_frame(&mut self) -> Result<bool, ClientError> {
        if self.state == ConnState::Closed {
            return Ok(false);
        }
        let Some(ws) = self.ws.as_mut() else {
            return Ok(false);
        };
        let frame = match ws.next().await {
            Some(Ok(frame)) => frame,
            Some(Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed))
            | None => {
                self.end(None, String::new());
                return Ok(true);
            }
            Some(Err(e)) => {
                self.end(None, e.to_string());
                return Err(e.into());
            }
        };
        self.core.stats.frames_received += 1;
        match frame {
            Message::Text(text) => self.core.process_text(text.as_str())?,
            Message::Binary(_) => {
                self.core.stats.invalid_messages += 1;
                return Err(ClientError::Protocol("binary frame".to_owned()));
            }
            Message::Close(frame) => {
                // The library answers the close; read on until the stream
                // ends, which reports the close.
                self.state = ConnState::Closing;
                self.core.close = Some((
                    frame.as_ref().map(|f| u16::from(f.code)),
                    frame
                        .map(|f| f.reason.as_str().to_owned())
                        .unwrap_or_default(),
                ));
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
        Ok(true)
    }

    /// The connection is over: queue [`ClientEvent::Closed`] once.
    fn end(&mut self, code: Option<u16>, reason: String) {
        if self.state == ConnState::Closed {
            return;
        }
        self.state = ConnState::Closed;
        let (code, reason) = self.core.close.take().unwrap_or((code, reason));
        self.core
            .events
            .push_back(ClientEvent::Closed { code, reason });
    }
}

fn now_ms() -> Result<u64, ClientError> {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| ClientError::Clock)?;
    u64::try_from(since.as_millis()).map_err(|_| ClientError::Clock)
}

fn parse(text: &str) -> Result<ServerMsg, ClientError> {
    serde_json::from_str(text).map_err(|e| ClientError::InvalidMessage {
        text: truncate(text),
        error: e.to_string(),
    })
}

fn truncate(text: &str) -> String {
    let mut end = text.len().min(INVALID_TEXT_MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

// ---- The processing, without I/O ------------------------------------------

#[derive(Debug)]
struct BookSub {
    book: LocalBook,
    depth: u32,
}

#[derive(Debug)]
struct Core {
    events: VecDeque<ClientEvent>,
    outbox: VecDeque<ClientMsg>,
    books: HashMap<String, BookSub>,
    trades: HashMap<String, SeqGate<Box<TradeMsg>>>,
    private: SeqGate<ClientEvent>,
    epoch: Option<u64>,
    /// The `resume` of the last login sent.
    login_resume: Option<Resume>,
    /// The server's close frame, until the stream ends.
    close: Option<(Option<u16>, String)>,
    stats: ClientStats,
    channel_stats: HashMap<String, ChannelStats>,
    window: usize,
    req_ids: u64,
    gated: Vec<Gated<ClientEvent>>,
}

impl Core {
    fn new() -> Self {
        Core {
            events: VecDeque::new(),
            outbox: VecDeque::new(),
            books: HashMap::new(),
            trades: HashMap::new(),
            private: SeqGate::new(DEFAULT_REORDER_WINDOW),
            epoch: None,
            login_resume: None,
            close: None,
            stats: ClientStats::default(),
            channel_stats: HashMap::new(),
            window: DEFAULT_REORDER_WINDOW,
            req_ids: 0,
            gated: Vec::new(),
        }
    }

    fn next_req_id(&mut self) -> ReqId {
        self.req_ids += 1;
        ReqId::Num(self.req_ids)
    }

    /// Queues a request, noting what it means for the client's state.
    fn outgoing(&mut self, msg: ClientMsg) {
        match &msg {
            ClientMsg::Login(login) => {
                self.login_resume = login.resume.clone();
                self.private.window = self.window;
            }
            ClientMsg::Subscribe(sub) => {
                if sub.channel.starts_with("book.") {
                    let depth = sub.depth.unwrap_or(DEFAULT_BOOK_DEPTH);
                    self.books.insert(
                        sub.channel.clone(),
                        BookSub {
                            book: LocalBook::with_reorder_window(depth as usize, self.window),
                            depth,
                        },
                    );
                    self.channel_stats.entry(sub.channel.clone()).or_default();
                } else if sub.channel.starts_with("trades.") {
                    self.trades
                        .insert(sub.channel.clone(), SeqGate::new(self.window));
                    self.channel_stats.entry(sub.channel.clone()).or_default();
                }
            }
            ClientMsg::Unsubscribe(sub) => {
                self.books.remove(&sub.channel);
                self.trades.remove(&sub.channel);
            }
            _ => {}
        }
        self.outbox.push_back(msg);
    }

    fn process_text(&mut self, text: &str) -> Result<(), ClientError> {
        let msg = parse(text).inspect_err(|_| self.stats.invalid_messages += 1)?;
        self.stats.messages_received += 1;
        self.process(msg)
    }

    fn process(&mut self, msg: ServerMsg) -> Result<(), ClientError> {
        match msg {
            ServerMsg::Exec(m) => {
                self.private_event(m.prev_pseq, m.pseq, ClientEvent::Exec(Box::new(m)))
            }
            ServerMsg::CancelReject(m) => {
                self.private_event(m.prev_pseq, m.pseq, ClientEvent::CancelReject(Box::new(m)))
            }
            ServerMsg::MassCancelReport(m) => self.private_event(
                m.prev_pseq,
                m.pseq,
                ClientEvent::MassCancelReport(Box::new(m)),
            ),
            ServerMsg::MassStatusDone(m) => {
                self.private_event(m.prev_pseq, m.pseq, ClientEvent::MassStatusDone(m))
            }
            ServerMsg::Book(m) => {
                self.book(m);
                Ok(())
            }
            ServerMsg::Trade(m) => self.trade(Box::new(m)),
            ServerMsg::Status(m) => {
                self.events.push_back(ClientEvent::Status(m));
                Ok(())
            }
            ServerMsg::Heartbeat {
                time_ms,
                channels,
                pseq,
            } => {
                self.heartbeat(&channels, pseq);
                self.events
                    .push_back(ClientEvent::Heartbeat { time_ms, pseq });
                Ok(())
            }
            ServerMsg::LoggedIn {
                participant,
                name,
                epoch,
                pseq,
                cancel_on_disconnect,
                resume,
                req_id,
            } => {
                let asked = self.login_resume.take();
                let status = match (&asked, resume.as_deref()) {
                    (None, _) => ResumeStatus::NotRequested,
                    (Some(_), Some("ok")) => ResumeStatus::Ok,
                    (Some(_), _) => ResumeStatus::Resync,
                };
                let start = match (&asked, status) {
                    (Some(r), ResumeStatus::Ok) if r.epoch == epoch => r.after_pseq,
                    _ => pseq,
                };
                self.epoch = Some(epoch);
                self.private.set_baseline(Some(start), &mut self.gated);
                self.private_out();
                self.events.push_back(ClientEvent::LoggedIn(LoggedIn {
                    participant,
                    name,
                    epoch,
                    pseq,
                    cancel_on_disconnect,
                    resume: status,
                    req_id,
                }));
                Ok(())
            }
            ServerMsg::Subscribed {
                channel,
                depth,
                seq,
                req_id,
            } => {
                if let Some(sub) = self.books.get_mut(&channel) {
                    if let Some(d) = depth.filter(|&d| d != sub.depth) {
                        // The server chose another depth: a book of that one.
                        sub.depth = d;
                        sub.book =
                            LocalBook::with_reorder_window(d as usize, sub.book.reorder_window());
                    }
                } else if let Some(gate) = self.trades.get_mut(&channel) {
                    let mut out = Vec::new();
                    gate.set_baseline(seq, &mut out);
                    self.trades_out(&channel, out);
                }
                self.events.push_back(ClientEvent::Subscribed {
                    channel,
                    depth,
                    seq,
                    req_id,
                });
                Ok(())
            }
            ServerMsg::Unsubscribed { channel, req_id } => {
                self.events
                    .push_back(ClientEvent::Unsubscribed { channel, req_id });
                Ok(())
            }
            ServerMsg::Instruments {
                instruments,
                req_id,
            } => {
                self.events.push_back(ClientEvent::Instruments {
                    instruments,
                    req_id,
                });
                Ok(())
            }
            ServerMsg::Pong { req_id } => {
                self.events.push_back(ClientEvent::Pong { req_id });
                Ok(())
            }
            ServerMsg::CancelAllAfter { timeout_ms, req_id } => {
                self.events
                    .push_back(ClientEvent::CancelAllAfter { timeout_ms, req_id });
                Ok(())
            }
            ServerMsg::CancelAllAfterTriggered {} => {
                self.events.push_back(ClientEvent::CancelAllAfterTriggered);
                Ok(())
            }
            ServerMsg::Error {
                code,
                message,
                req_id,
                cl_ord_id,
            } => {
                self.events.push_back(ClientEvent::Error {
                    code,
                    message,
                    req_id,
                    cl_ord_id,
                });
                Ok(())
            }
            ServerMsg::Hello {
                venue,
                challenge,
                heartbeat_ms,
                time_ms,
            } => {
                self.events.push_back(ClientEvent::Hello(Hello {
                    venue,
                    challenge,
                    heartbeat_ms,
                    time_ms,
                }));
                Ok(())
            }
        }
    }

    fn private_event(
        &mut self,
        prev: u64,
        seq: u64,
        event: ClientEvent,
    ) -> Result<(), ClientError> {
        self.stats.private_events += 1;
        if seq <= prev {
            self.stats.invalid_messages += 1;
            return Err(ClientError::InvalidMessage {
                text: format!("{event:?}"),
                error: format!("pseq {seq} is not after prev_pseq {prev}"),
            });
        }
        if self.private.push(prev, seq, event, &mut self.gated) == Pushed::Duplicate {
            self.stats.private_duplicates += 1;
        }
        self.private_out();
        Ok(())
    }

    /// Moves what the private gate released to the event queue.
    fn private_out(&mut self) {
        for g in self.gated.drain(..) {
            match g {
                Gated::Item(event) => self.events.push_back(event),
                Gated::Gap { after, through } => {
                    self.stats.private_gaps += 1;
                    self.events.push_back(ClientEvent::PrivateGap {
                        after_pseq: after,
                        through_pseq: through,
                    });
                }
            }
        }
    }

    fn book(&mut self, mut msg: BookMsg) {
        self.stats.book_messages += 1;
        let channel = std::mem::take(&mut msg.channel);
        let Some(sub) = self.books.get_mut(&channel) else {
            self.stats.unrouted += 1;
            return;
        };
        let stats = self.channel_stats.get_mut(&channel);
        let status = sub.book.apply(msg);
        if let Some(s) = stats {
            s.messages += 1;
            if status == BookStatus::Duplicate {
                s.duplicates += 1;
            }
        }
        match status {
            BookStatus::Advanced { seq, .. } => {
                self.events.push_back(ClientEvent::Book { channel, seq })
            }
            BookStatus::Duplicate => self.stats.book_duplicates += 1,
            BookStatus::ResyncNeeded(reason) => self.resync(channel, reason),
            BookStatus::Buffered { .. } | BookStatus::AwaitingSnapshot | BookStatus::Unchanged => {}
        }
    }

    /// Resubscribes a book channel that lost sync. Its book (already cleared,
    /// keeping the reason) stays and takes the new snapshot.
    fn resync(&mut self, channel: String, reason: ResyncReason) {
        let depth = self
            .books
            .get(&channel)
            .map_or(DEFAULT_BOOK_DEPTH, |s| s.depth);
        self.stats.book_resyncs += 1;
        if let Some(s) = self.channel_stats.get_mut(&channel) {
            s.resyncs += 1;
        }
        self.outbox.push_back(ClientMsg::Unsubscribe(SubscribeReq {
            channel: channel.clone(),
            depth: None,
            req_id: None,
        }));
        self.outbox.push_back(ClientMsg::Subscribe(SubscribeReq {
            channel: channel.clone(),
            depth: Some(depth),
            req_id: None,
        }));
        self.events
            .push_back(ClientEvent::BookResync { channel, reason });
    }

    fn trade(&mut self, msg: Box<TradeMsg>) -> Result<(), ClientError> {
        self.stats.trades += 1;
        if msg.seq <= msg.prev_seq {
            self.stats.invalid_messages += 1;
            return Err(ClientError::InvalidMessage {
                text: format!("{msg:?}"),
                error: format!("seq {} is not after prev_seq {}", msg.seq, msg.prev_seq),
            });
        }
        let Some(gate) = self.trades.get_mut(&msg.channel) else {
            self.stats.unrouted += 1;
            return Ok(());
        };
        let channel = msg.channel.clone();
        let mut out = Vec::new();
        let pushed = gate.push(msg.prev_seq, msg.seq, msg, &mut out);
        if let Some(s) = self.channel_stats.get_mut(&channel) {
            s.messages += 1;
            if pushed == Pushed::Duplicate {
                s.duplicates += 1;
            }
        }
        if pushed == Pushed::Duplicate {
            self.stats.trade_duplicates += 1;
        }
        self.trades_out(&channel, out);
        Ok(())
    }

    fn trades_out(&mut self, channel: &str, out: Vec<Gated<Box<TradeMsg>>>) {
        for g in out {
            match g {
                Gated::Item(trade) => self.events.push_back(ClientEvent::Trade(trade)),
                Gated::Gap { after, through } => {
                    self.stats.trade_gaps += 1;
                    if let Some(s) = self.channel_stats.get_mut(channel) {
                        s.gaps += 1;
                    }
                    self.events.push_back(ClientEvent::TradeGap {
                        channel: channel.to_owned(),
                        after_seq: after,
                        through_seq: through,
                    });
                }
            }
        }
    }

    fn heartbeat(&mut self, channels: &BTreeMap<String, u64>, pseq: Option<u64>) {
        for (channel, &seq) in channels {
            if let Some(sub) = self.books.get_mut(channel) {
                if let BookStatus::ResyncNeeded(reason) = sub.book.on_heartbeat(seq) {
                    self.resync(channel.clone(), reason);
                }
            } else if let Some(gate) = self.trades.get_mut(channel) {
                let mut out = Vec::new();
                gate.heartbeat(seq, &mut out);
                self.trades_out(channel, out);
            }
        }
        if let Some(pseq) = pseq {
            self.private.heartbeat(pseq, &mut self.gated);
            self.private_out();
        }
    }
}

// ---- Putting a numbered stream in order -----------------------------------

/// Where a numbered stream stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Baseline {
    /// Not yet known (before `logged_in` or `subscribed`): hold messages.
    Unknown,
    /// The first message sets it (a `subscribed` without `seq`).
    FromFirst,
    /// The last `seq` delivered.
    Known(u64),
}

/// What a numbered stream released, in order.
#[derive(Debug)]
enum Gated<T> {
    Item(T),
    /// `after + 1 ..= through` are missing and skipped.
    Gap {
        after: u64,
        through: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pushed {
    Delivered,
    Buffered,
    Duplicate,
}

/// Delivers a stream of `(prev_seq, seq)`-numbered items in order, holding
/// at most `window` that arrive early; a hole that does not fill is skipped
/// and reported.
#[derive(Debug)]
struct SeqGate<T> {
    last: Baseline,
    /// Early items by `prev_seq`.
    pending: BTreeMap<u64, (u64, T)>,
    window: usize,
}

impl<T> SeqGate<T> {
    fn new(window: usize) -> Self {
        SeqGate {
            last: Baseline::Unknown,
            pending: BTreeMap::new(),
            window,
        }
    }

    fn last(&self) -> Option<u64> {
        match self.last {
            Baseline::Known(last) => Some(last),
            Baseline::Unknown | Baseline::FromFirst => None,
        }
    }

    /// The stream's last `seq` before the next item (`None`: the next item
    /// starts it).
    fn set_baseline(&mut self, last: Option<u64>, out: &mut Vec<Gated<T>>) {
        match last {
            Some(last) => {
                self.last = Baseline::Known(last);
                self.pending = self.pending.split_off(&last);
            }
            None => match self.pending.first_key_value() {
                Some((&first, _)) => self.last = Baseline::Known(first),
                None => self.last = Baseline::FromFirst,
            },
        }
        self.drain(out);
    }

    fn push(&mut self, prev: u64, seq: u64, item: T, out: &mut Vec<Gated<T>>) -> Pushed {
        let last = match self.last {
            Baseline::Known(last) => last,
            Baseline::FromFirst => {
                self.last = Baseline::Known(prev);
                prev
            }
            Baseline::Unknown => {
                if self.pending.contains_key(&prev) {
                    return Pushed::Duplicate;
                }
                self.pending.insert(prev, (seq, item));
                if self.pending.len() > self.window {
                    // No baseline is coming: start from the earliest held.
                    self.set_baseline(None, out);
                }
                return Pushed::Buffered;
            }
        };
        if seq <= last {
            return Pushed::Duplicate;
        }
        if prev <= last {
            // `prev < last` overlaps what was delivered, but the item is new:
            // deliver it rather than lose it.
            out.push(Gated::Item(item));
            self.last = Baseline::Known(seq);
            self.drain(out);
            return Pushed::Delivered;
        }
        if self.pending.contains_key(&prev) {
            return Pushed::Duplicate;
        }
        self.pending.insert(prev, (seq, item));
        if self.pending.len() > self.window {
            self.skip_hole(last, out);
        }
        Pushed::Buffered
    }

    /// A heartbeat's last `seq` of the stream: anything missing up to it is
    /// not coming (nothing held can follow the last delivered item, or it
    /// would have been delivered).
    fn heartbeat(&mut self, latest: u64, out: &mut Vec<Gated<T>>) {
        while let Baseline::Known(last) = self.last {
            if latest <= last {
                break;
            }
            match self.pending.first_key_value() {
                Some((&first, _)) if first > last && first <= latest => self.skip_hole(last, out),
                _ => {
                    out.push(Gated::Gap {
                        after: last,
                        through: latest,
                    });
                    self.last = Baseline::Known(latest);
                    self.drain(out);
                }
            }
        }
    }

    /// Gives up on the items between `last` and the earliest held one.
    fn skip_hole(&mut self, last: u64, out: &mut Vec<Gated<T>>) {
        if let Some((&first, _)) = self.pending.first_key_value() {
            out.push(Gated::Gap {
                after: last,
                through: first,
            });
            self.last = Baseline::Known(first);
            self.drain(out);
        }
    }

    fn drain(&mut self, out: &mut Vec<Gated<T>>) {
        while let Baseline::Known(last) = self.last {
            let Some((seq, item)) = self.pending.remove(&last) else {
                break;
            };
            out.push(Gated::Item(item));
            self.last = Baseline::Known(seq);
        }
        // Held items the stream has moved past can never be delivered.
        if let Baseline::Known(last) = self.last {
            if self
                .pending
                .first_key_value()
                .is_some_and(|(&k, _)| k < last)
            {
                self.pending = self.pending.split_off(&last);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use ed25519_dalek::{Signature, Verifier};
    use tokio::net::TcpListener;
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

    use super::*;
    use crate::ws::local_book::GapSource;
    use crate::ws::protocol::{LevelMsg, book_checksum};

    const BOOK: &str = "book.UST-10Y";
    const TRADES: &str = "trades.UST-10Y";

    fn logged_in(pseq: u64, resume: Option<&str>) -> String {
        ServerMsg::LoggedIn {
            participant: 1,
            name: "Dealer One".to_owned(),
            epoch: 77,
            pseq,
            cancel_on_disconnect: "none".to_owned(),
            resume: resume.map(str::to_owned),
            req_id: None,
        }
        .to_json()
    }

    fn exec(pseq: u64) -> String {
        ServerMsg::Exec(ExecMsg {
            pseq,
            prev_pseq: pseq - 1,
            engine_seq: 1000 + pseq,
            time_ns: 1,
            exec_id: format!("{pseq}-1"),
            exec_type: "new".to_owned(),
            ord_status: "new".to_owned(),
            order_id: pseq,
            cl_ord_id: format!("o-{pseq}"),
            orig_cl_ord_id: None,
            symbol: "UST-10Y".to_owned(),
            side: "buy".to_owned(),
            ord_type: "limit".to_owned(),
            tif: "day".to_owned(),
            price_ticks: Some(12864),
            stop_price_ticks: None,
            qty_lots: 5,
            leaves_qty_lots: 5,
            cum_qty_lots: 0,
            cum_notional: "0".to_owned(),
            last_qty_lots: 0,
            last_px_ticks: 0,
            trade_id: None,
            aggressor: false,
            expire_time_ns: None,
            reason: None,
        })
        .to_json()
    }

    fn book_msg(
        seq: u64,
        snapshot: bool,
        bids: &[LevelMsg],
        asks: &[LevelMsg],
        after: (&[LevelMsg], &[LevelMsg]),
    ) -> String {
        ServerMsg::Book(BookMsg {
            channel: BOOK.to_owned(),
            snapshot,
            seq,
            prev_seq: (!snapshot).then(|| seq - 1),
            engine_seq: seq,
            time_ns: 0,
            bids: bids.to_vec(),
            asks: asks.to_vec(),
            checksum: book_checksum(
                after.0.iter().map(|&(p, q, _)| (p, q)),
                after.1.iter().map(|&(p, q, _)| (p, q)),
            ),
        })
        .to_json()
    }

    fn snapshot(seq: u64, bids: &[LevelMsg], asks: &[LevelMsg]) -> String {
        book_msg(seq, true, bids, asks, (bids, asks))
    }

    fn trade(seq: u64) -> String {
        ServerMsg::Trade(TradeMsg {
            channel: TRADES.to_owned(),
            seq,
            prev_seq: seq - 1,
            engine_seq: seq,
            time_ns: 0,
            trade_id: seq,
            price_ticks: 12864,
            qty_lots: 2,
            aggressor: "sell".to_owned(),
        })
        .to_json()
    }

    fn heartbeat(channels: &[(&str, u64)], pseq: Option<u64>) -> String {
        ServerMsg::Heartbeat {
            time_ms: 5,
            channels: channels.iter().map(|&(c, s)| (c.to_owned(), s)).collect(),
            pseq,
        }
        .to_json()
    }

    fn subscribed(channel: &str, depth: Option<u32>, seq: Option<u64>) -> String {
        ServerMsg::Subscribed {
            channel: channel.to_owned(),
            depth,
            seq,
            req_id: None,
        }
        .to_json()
    }

    fn drain(client: &mut Client) -> Vec<ClientEvent> {
        std::iter::from_fn(|| client.try_next_event()).collect()
    }

    fn pseqs(events: &[ClientEvent]) -> Vec<u64> {
        events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Exec(x) => Some(x.pseq),
                _ => None,
            })
            .collect()
    }

    fn feed(client: &mut Client, frames: &[String]) -> Vec<ClientEvent> {
        for f in frames {
            client.process_text(f).unwrap();
        }
        drain(client)
    }

    /// A detached client with a subscribed depth-`depth` book, in sync at
    /// seq 10 with bid 100x5 and ask 101x7.
    async fn book_client(depth: u32) -> Client {
        let mut client = Client::detached();
        client.subscribe_book("UST-10Y", depth).await.unwrap();
        assert_eq!(
            client.take_outbox(),
            vec![ClientMsg::Subscribe(SubscribeReq {
                channel: BOOK.to_owned(),
                depth: Some(depth),
                req_id: None,
            })]
        );
        let events = feed(
            &mut client,
            &[
                subscribed(BOOK, Some(depth), None),
                snapshot(10, &[(100, 5, 1)], &[(101, 7, 2)]),
            ],
        );
        assert_eq!(
            events[1],
            ClientEvent::Book {
                channel: BOOK.to_owned(),
                seq: 10
            }
        );
        client
    }

    fn resubscribe(depth: u32) -> Vec<ClientMsg> {
        vec![
            ClientMsg::Unsubscribe(SubscribeReq {
                channel: BOOK.to_owned(),
                depth: None,
                req_id: None,
            }),
            ClientMsg::Subscribe(SubscribeReq {
                channel: BOOK.to_owned(),
                depth: Some(depth),
                req_id: None,
            }),
        ]
    }

    #[test]
    fn private_events_come_out_in_pseq_order() {
        let mut client = Client::detached();
        let events = feed(
            &mut client,
            &[logged_in(5, None), exec(8), exec(7), exec(6)],
        );
        assert!(
            matches!(&events[0], ClientEvent::LoggedIn(l) if l.pseq == 5 && l.resume == ResumeStatus::NotRequested)
        );
        assert_eq!(pseqs(&events), vec![6, 7, 8]);
        // Each waited for the one before it.
        assert_eq!(events.len(), 4);
        // Duplicates are dropped.
        assert!(feed(&mut client, &[exec(7), exec(8)]).is_empty());
        assert_eq!(client.stats().private_duplicates, 2);
        assert_eq!(pseqs(&feed(&mut client, &[exec(9)])), vec![9]);
        assert_eq!(
            client.resume_point(),
            Some(Resume {
                epoch: 77,
                after_pseq: 9
            })
        );
    }

    #[test]
    fn a_private_hole_that_does_not_fill_is_reported_and_skipped() {
        let mut client = Client::detached();
        client.set_reorder_window(2);
        // The window reaches the private stream at login.
        client.core.outgoing(ClientMsg::Login(Login {
            participant: 1,
            timestamp_ms: 0,
            signature: String::new(),
            resume: None,
            req_id: None,
        }));
        let events = feed(
            &mut client,
            &[logged_in(0, None), exec(1), exec(3), exec(4)],
        );
        assert_eq!(pseqs(&events), vec![1]);
        // A third early event overflows the window: 2 is given up.
        let events = feed(&mut client, &[exec(5)]);
        assert_eq!(
            events[0],
            ClientEvent::PrivateGap {
                after_pseq: 1,
                through_pseq: 2
            }
        );
        assert_eq!(pseqs(&events), vec![3, 4, 5]);
        // Late, it is a duplicate: delivery never goes backwards.
        assert!(feed(&mut client, &[exec(2)]).is_empty());
        assert_eq!(client.stats().private_gaps, 1);
    }

    #[test]
    fn a_heartbeat_reveals_a_lost_last_private_event() {
        let mut client = Client::detached();
        let events = feed(
            &mut client,
            &[logged_in(3, None), exec(4), heartbeat(&[], Some(4))],
        );
        assert_eq!(pseqs(&events), vec![4]);
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, ClientEvent::PrivateGap { .. }))
        );
        let events = feed(&mut client, &[heartbeat(&[], Some(6))]);
        assert_eq!(
            events,
            vec![
                ClientEvent::PrivateGap {
                    after_pseq: 4,
                    through_pseq: 6
                },
                ClientEvent::Heartbeat {
                    time_ms: 5,
                    pseq: Some(6)
                },
            ]
        );
        assert_eq!(pseqs(&feed(&mut client, &[exec(7)])), vec![7]);
    }

    #[test]
    fn resume_sets_where_the_private_stream_starts() {
        let mut client = Client::detached();
        client.core.outgoing(ClientMsg::Login(Login {
            participant: 1,
            timestamp_ms: 0,
            signature: String::new(),
            resume: Some(Resume {
                epoch: 77,
                after_pseq: 3,
            }),
            req_id: None,
        }));
        // The venue is at 6 and replays 4..=6.
        let events = feed(
            &mut client,
            &[logged_in(6, Some("ok")), exec(4), exec(5), exec(6)],
        );
        assert!(matches!(&events[0], ClientEvent::LoggedIn(l) if l.resume == ResumeStatus::Ok));
        assert_eq!(pseqs(&events), vec![4, 5, 6]);

        let mut client = Client::detached();
        client.core.outgoing(ClientMsg::Login(Login {
            participant: 1,
            timestamp_ms: 0,
            signature: String::new(),
            resume: Some(Resume {
                epoch: 1,
                after_pseq: 3,
            }),
            req_id: None,
        }));
        let events = feed(&mut client, &[logged_in(6, Some("resync")), exec(7)]);
        assert!(matches!(&events[0], ClientEvent::LoggedIn(l) if l.resume == ResumeStatus::Resync));
        assert_eq!(pseqs(&events), vec![7]);
    }

    #[tokio::test]
    async fn book_events_only_when_the_book_advances() {
        let mut client = book_client(10).await;
        let s11 = ([(100, 5, 1)], [(101, 3, 1)]);
        let s12 = ([(100, 5, 1), (99, 1, 1)], [(101, 3, 1)]);
        let u11 = book_msg(11, false, &[], &[(101, 3, 1)], (&s11.0, &s11.1));
        let u12 = book_msg(12, false, &[(99, 1, 1)], &[], (&s12.0, &s12.1));
        // 12 first: held, no event, the book still shows seq 10.
        assert!(feed(&mut client, std::slice::from_ref(&u12)).is_empty());
        let book = client.book(BOOK).unwrap();
        assert_eq!(book.seq(), Some(10));
        assert_eq!(book.asks()[0].qty_lots, 7);
        // 11 releases both: one event.
        assert_eq!(
            feed(&mut client, std::slice::from_ref(&u11)),
            vec![ClientEvent::Book {
                channel: BOOK.to_owned(),
                seq: 12
            }]
        );
        let book = client.book(BOOK).unwrap();
        assert_eq!(book.bids().len(), 2);
        assert_eq!(book.asks()[0].qty_lots, 3);
        // Duplicates: nothing.
        assert!(feed(&mut client, &[u11, u12]).is_empty());
        assert_eq!(client.stats().book_duplicates, 2);
        assert_eq!(client.channel_stats(BOOK).unwrap().messages, 5);
        assert_eq!(client.resyncs(BOOK), 0);
        assert!(client.take_outbox().is_empty());
    }

    #[tokio::test]
    async fn a_dropped_book_update_resubscribes_at_the_same_depth() {
        let mut client = book_client(3).await;
        let s11 = ([(100, 5, 1)], [(101, 3, 1)]);
        let s12 = ([(100, 5, 1), (99, 1, 1)], [(101, 3, 1)]);
        let _lost = book_msg(11, false, &[], &[(101, 3, 1)], (&s11.0, &s11.1));
        let u12 = book_msg(12, false, &[(99, 1, 1)], &[], (&s12.0, &s12.1));
        assert!(feed(&mut client, &[u12]).is_empty());
        let events = feed(&mut client, &[heartbeat(&[(BOOK, 12)], None)]);
        assert_eq!(
            events[0],
            ClientEvent::BookResync {
                channel: BOOK.to_owned(),
                reason: ResyncReason::Gap {
                    applied_seq: 10,
                    missing_through: 11,
                    detected_by: GapSource::Heartbeat,
                },
            }
        );
        assert!(matches!(events[1], ClientEvent::Heartbeat { .. }));
        assert_eq!(client.take_outbox(), resubscribe(3));
        assert_eq!(client.resyncs(BOOK), 1);
        assert_eq!(client.stats().book_resyncs, 1);
        let book = client.book(BOOK).unwrap();
        assert!(!book.is_synced());
        assert!(book.bids().is_empty());
        // The new subscription's snapshot puts it right.
        let events = feed(
            &mut client,
            &[
                ServerMsg::Unsubscribed {
                    channel: BOOK.to_owned(),
                    req_id: None,
                }
                .to_json(),
                subscribed(BOOK, Some(3), None),
                snapshot(14, &[(98, 1, 1)], &[]),
            ],
        );
        assert_eq!(
            events[2],
            ClientEvent::Book {
                channel: BOOK.to_owned(),
                seq: 14
            }
        );
        assert!(client.book(BOOK).unwrap().is_synced());
        assert_eq!(client.book(BOOK).unwrap().bids()[0].price_ticks, 98);
    }

    #[tokio::test]
    async fn a_wrong_checksum_resubscribes() {
        let mut client = book_client(5).await;
        // The checksum of a book that did not remove the bid.
        let bad = book_msg(
            11,
            false,
            &[(100, 0, 0)],
            &[],
            (&[(100, 5, 1)], &[(101, 7, 2)]),
        );
        let events = feed(&mut client, &[bad]);
        assert!(
            matches!(
                &events[..],
                [ClientEvent::BookResync {
                    reason: ResyncReason::ChecksumMismatch { seq: 11, .. },
                    ..
                }]
            ),
            "{events:?}"
        );
        assert_eq!(client.take_outbox(), resubscribe(5));
        assert_eq!(client.resyncs(BOOK), 1);
    }

    #[tokio::test]
    async fn the_server_depth_wins_and_unsubscribed_channels_are_dropped() {
        let mut client = Client::detached();
        client.subscribe_book("UST-10Y", 50).await.unwrap();
        feed(&mut client, &[subscribed(BOOK, Some(20), None)]);
        assert_eq!(client.book(BOOK).unwrap().depth(), 20);
        client.unsubscribe(BOOK).await.unwrap();
        assert!(client.book(BOOK).is_none());
        assert!(feed(&mut client, &[snapshot(1, &[], &[])]).is_empty());
        assert_eq!(client.stats().unrouted, 1);
        // A book message for a channel never subscribed is dropped the same.
        client
            .process_text(&snapshot(2, &[], &[]).replace("UST-10Y", "OTHER"))
            .unwrap();
        assert_eq!(client.stats().unrouted, 2);
    }

    #[tokio::test]
    async fn trades_come_out_in_order_with_gaps_reported() {
        let mut client = Client::detached();
        client.subscribe_trades("UST-10Y").await.unwrap();
        // Trades before `subscribed` wait for its seq.
        let events = feed(
            &mut client,
            &[trade(8), subscribed(TRADES, None, Some(6)), trade(7)],
        );
        let seqs: Vec<u64> = events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Trade(t) => Some(t.seq),
                _ => None,
            })
            .collect();
        assert_eq!(seqs, vec![7, 8]);
        assert!(feed(&mut client, &[trade(8)]).is_empty());
        let events = feed(&mut client, &[heartbeat(&[(TRADES, 10)], None)]);
        assert_eq!(
            events[0],
            ClientEvent::TradeGap {
                channel: TRADES.to_owned(),
                after_seq: 8,
                through_seq: 10
            }
        );
        assert_eq!(client.channel_stats(TRADES).unwrap().gaps, 1);
        assert_eq!(client.stats().trade_duplicates, 1);
        assert!(
            matches!(&feed(&mut client, &[trade(11)])[..], [ClientEvent::Trade(t)] if t.seq == 11)
        );
    }

    #[tokio::test]
    async fn trades_without_a_subscribed_seq_start_from_the_first() {
        let mut client = Client::detached();
        client.subscribe_trades("UST-10Y").await.unwrap();
        let events = feed(
            &mut client,
            &[subscribed(TRADES, None, None), trade(40), trade(41)],
        );
        assert_eq!(events.len(), 3);
    }

    #[test]
    fn the_documented_exec_parses() {
        // Verbatim from docs/websocket-api.md.
        let doc = r#"{"type":"exec","pseq":7,"prev_pseq":6,"engine_seq":1234,"time_ns":1764000000123456789,
 "exec_id":"1234-1","exec_type":"trade","ord_status":"partially_filled",
 "order_id":42,"cl_ord_id":"o-1","orig_cl_ord_id":null,"symbol":"UST-10Y",
 "side":"buy","ord_type":"limit","tif":"gtc","price_ticks":12864,"stop_price_ticks":null,
 "qty_lots":5,"leaves_qty_lots":3,"cum_qty_lots":2,"cum_notional":"25728",
 "last_qty_lots":2,"last_px_ticks":12864,"trade_id":9,"aggressor":false,
 "expire_time_ns":null,"reason":null}"#;
        let ServerMsg::Exec(exec) = parse(doc).unwrap() else {
            panic!("not an exec")
        };
        assert_eq!(exec.ord_type, "limit");
        assert_eq!(exec.cum_notional, "25728");
        assert_eq!(exec.time_ns, 1_764_000_000_123_456_789);
        // What `ServerMsg::to_json` writes reads back.
        let ServerMsg::Exec(again) = parse(&ServerMsg::Exec(exec.clone()).to_json()).unwrap()
        else {
            panic!("not an exec")
        };
        assert_eq!(again, exec);
        let broken = doc.replace(r#""qty_lots":5,"#, "");
        assert!(
            matches!(parse(&broken), Err(ClientError::InvalidMessage { error, .. }) if error.contains("qty_lots"))
        );
    }

    #[test]
    fn bad_frames_are_errors_and_the_client_goes_on() {
        let mut client = Client::detached();
        for bad in [
            "",
            "not json",
            "[]",
            r#"{"type":"nope"}"#,
            r#"{"type":"book","channel":"x"}"#,
            "{\"type\":\"exec\",\"pseq\":-1}",
        ] {
            let err = client.process_text(bad).unwrap_err();
            assert!(
                matches!(err, ClientError::InvalidMessage { .. }),
                "{bad}: {err}"
            );
            assert!(!err.is_fatal());
        }
        let long = format!("{{\"type\":\"{}é\"}}", "x".repeat(300));
        let Err(ClientError::InvalidMessage { text, .. }) = client.process_text(&long) else {
            panic!("accepted")
        };
        assert!(text.len() <= INVALID_TEXT_MAX);
        // A private event whose numbers go backwards.
        client.process_text(&logged_in(0, None)).unwrap();
        let backwards = exec(3).replace("\"prev_pseq\":2", "\"prev_pseq\":3");
        assert!(client.process_text(&backwards).is_err());
        assert_eq!(client.stats().invalid_messages, 8);
        client
            .process_text(&ServerMsg::Pong { req_id: None }.to_json())
            .unwrap();
        assert_eq!(
            drain(&mut client).last(),
            Some(&ClientEvent::Pong { req_id: None })
        );
    }

    #[tokio::test]
    async fn a_detached_client_gives_its_queue_then_none() {
        let mut client = Client::detached();
        client
            .process_text(&ServerMsg::CancelAllAfterTriggered {}.to_json())
            .unwrap();
        assert_eq!(
            client.next_event().await.unwrap(),
            Some(ClientEvent::CancelAllAfterTriggered)
        );
        assert_eq!(client.next_event().await.unwrap(), None);
        let key = SigningKey::from_bytes(&[1; 32]);
        assert!(matches!(
            client.login(1, &key, None).await,
            Err(ClientError::Detached)
        ));
    }

    // ---- Against a scripted server ------------------------------------------

    type ServerWs = WebSocketStream<TcpStream>;

    async fn listen() -> (TcpListener, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/", listener.local_addr().unwrap());
        (listener, url)
    }

    async fn accept(listener: &TcpListener, challenge: &str) -> ServerWs {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let hello = ServerMsg::Hello {
            venue: "Test Venue".to_owned(),
            challenge: challenge.to_owned(),
            heartbeat_ms: 1000,
            time_ms: 1,
        };
        send(&mut ws, &hello.to_json()).await;
        ws
    }

    async fn send(ws: &mut ServerWs, text: &str) {
        futures_util::SinkExt::send(ws, Message::text(text.to_owned()))
            .await
            .unwrap();
    }

    /// The next request, parsed as the server parses it (unknown fields
    /// refused).
    async fn recv(ws: &mut ServerWs) -> ClientMsg {
        loop {
            match ws.next().await.unwrap().unwrap() {
                Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }

    async fn within<T>(f: impl Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(10), f)
            .await
            .expect("timed out")
    }

    #[tokio::test]
    async fn logs_in_resubscribes_on_a_bad_checksum_and_reports_the_close() {
        within(async {
            let key = SigningKey::from_bytes(&[9; 32]);
            let public = key.verifying_key();
            let (listener, url) = listen().await;
            let server = tokio::spawn(async move {
                let challenge = "ab".repeat(32);
                let mut ws = accept(&listener, &challenge).await;
                let ClientMsg::Login(login) = recv(&mut ws).await else {
                    panic!("expected login")
                };
                let sig: [u8; 64] = hex::decode(&login.signature).unwrap().try_into().unwrap();
                public
                    .verify(
                        login_payload(login.participant, login.timestamp_ms, &challenge).as_bytes(),
                        &Signature::from_bytes(&sig),
                    )
                    .expect("signature over this connection's challenge");
                let now = now_ms().unwrap();
                assert!(login.timestamp_ms.abs_diff(now) < 5000);
                assert_eq!(login.participant, 1);
                // Something unrelated first: it must wait in the queue.
                send(&mut ws, &ServerMsg::Pong { req_id: None }.to_json()).await;
                send(
                    &mut ws,
                    &ServerMsg::LoggedIn {
                        participant: 1,
                        name: "Dealer One".to_owned(),
                        epoch: 77,
                        pseq: 2,
                        cancel_on_disconnect: "day".to_owned(),
                        resume: None,
                        req_id: login.req_id.clone(),
                    }
                    .to_json(),
                )
                .await;
                assert_eq!(
                    recv(&mut ws).await,
                    ClientMsg::Subscribe(SubscribeReq {
                        channel: BOOK.to_owned(),
                        depth: Some(4),
                        req_id: None,
                    })
                );
                send(&mut ws, &subscribed(BOOK, Some(4), None)).await;
                send(&mut ws, &snapshot(10, &[(100, 5, 1)], &[(101, 7, 2)])).await;
                send(&mut ws, &exec(3)).await;
                // A bad checksum.
                send(
                    &mut ws,
                    &book_msg(11, false, &[(100, 6, 2)], &[], (&[(100, 5, 1)], &[])),
                )
                .await;
                let mut requests = vec![recv(&mut ws).await, recv(&mut ws).await];
                assert_eq!(requests, resubscribe(4));
                send(
                    &mut ws,
                    &ServerMsg::Unsubscribed {
                        channel: BOOK.to_owned(),
                        req_id: None,
                    }
                    .to_json(),
                )
                .await;
                send(&mut ws, &subscribed(BOOK, Some(4), None)).await;
                send(&mut ws, &snapshot(12, &[(100, 6, 2)], &[])).await;
                requests.push(recv(&mut ws).await);
                ws.close(Some(CloseFrame {
                    code: CloseCode::Policy,
                    reason: "slow consumer".into(),
                }))
                .await
                .unwrap();
                // Read until the client answers the close.
                while let Some(Ok(_)) = ws.next().await {}
                requests
            });

            let mut client = Client::connect(&url).await.unwrap();
            assert_eq!(client.hello().unwrap().heartbeat_ms, 1000);
            let me = client.login(1, &key, None).await.unwrap();
            assert_eq!(me.name, "Dealer One");
            assert_eq!(me.pseq, 2);
            assert_eq!(me.req_id, Some(ReqId::Num(1)));
            client.subscribe_book("UST-10Y", 4).await.unwrap();
            let mut events = Vec::new();
            while let Some(event) = client.next_event().await.unwrap() {
                if event
                    == (ClientEvent::Book {
                        channel: BOOK.to_owned(),
                        seq: 12,
                    })
                {
                    let book = client.book(BOOK).unwrap();
                    assert_eq!(book.bids()[0].qty_lots, 6);
                    assert!(book.asks().is_empty());
                    client.ping().await.unwrap();
                }
                events.push(event);
            }
            let requests = server.await.unwrap();
            assert_eq!(requests[2], ClientMsg::Ping(Plain::default()));
            let kinds: Vec<String> = events
                .iter()
                .map(|e| {
                    format!("{e:?}")
                        .split([' ', '(', '{'])
                        .next()
                        .unwrap_or("")
                        .to_owned()
                })
                .collect();
            assert_eq!(
                kinds,
                [
                    "Pong",
                    "Subscribed",
                    "Book",
                    "Exec",
                    "BookResync",
                    "Unsubscribed",
                    "Subscribed",
                    "Book",
                    "Closed"
                ]
            );
            assert_eq!(
                events.last(),
                Some(&ClientEvent::Closed {
                    code: Some(1008),
                    reason: "slow consumer".to_owned()
                })
            );
            assert_eq!(client.resyncs(BOOK), 1);
            assert_eq!(client.stats().messages_received, 10);
            assert_eq!(client.stats().messages_sent, 5);
            assert_eq!(client.next_event().await.unwrap(), None);
            assert!(matches!(
                client.ping().await,
                Err(ClientError::Closed { .. })
            ));
        })
        .await;
    }

    #[tokio::test]
    async fn a_refused_login_is_an_error() {
        within(async {
            let (listener, url) = listen().await;
            let server = tokio::spawn(async move {
                let mut ws = accept(&listener, &"00".repeat(32)).await;
                let ClientMsg::Login(login) = recv(&mut ws).await else {
                    panic!("expected login")
                };
                // An unrelated error first (another request's): not the login's.
                let error = |code: &str, req_id| ServerMsg::Error {
                    code: code.to_owned(),
                    message: "no".to_owned(),
                    req_id,
                    cl_ord_id: None,
                };
                send(&mut ws, &error("invalid_field", Some(ReqId::Num(99))).to_json()).await;
                send(&mut ws, &error("bad_signature", login.req_id).to_json()).await;
                ws
            });
            let mut client = Client::connect(&url).await.unwrap();
            let err = client
                .login(1, &SigningKey::from_bytes(&[1; 32]), None)
                .await
                .unwrap_err();
            assert!(matches!(&err, ClientError::LoginRefused { code, .. } if code == "bad_signature"), "{err}");
            assert!(!err.is_fatal());
            // The other error is still there.
            assert!(matches!(client.try_next_event(), Some(ClientEvent::Error { code, .. }) if code == "invalid_field"));
            drop(server.await.unwrap());
        })
        .await;
    }

    #[tokio::test]
    async fn the_server_must_say_hello_first() {
        within(async {
            let (listener, url) = listen().await;
            let server = tokio::spawn(async move {
                let (tcp, _) = listener.accept().await.unwrap();
                let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
                send(&mut ws, &ServerMsg::Pong { req_id: None }.to_json()).await;
                ws
            });
            let err = Client::connect(&url).await.unwrap_err();
            assert!(matches!(err, ClientError::Protocol(_)), "{err}");
            drop(server.await.unwrap());
            // Nobody listening.
            let (listener, url) = listen().await;
            drop(listener);
            assert!(Client::connect(&url).await.unwrap_err().is_fatal());
        })
        .await;
    }
}
