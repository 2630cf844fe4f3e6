//! The FIX acceptor: one thread, non-blocking sockets (mio), every session.
//!
//! Each turn of [`Acceptor::run_once`]: accept new connections; read what the
//! sockets have, frame it and hand each message to its session (the first
//! message of a connection must be a Logon whose CompIDs name a configured
//! session that is not already connected); drain a bounded batch of the
//! sequencer's outputs and deliver them; run the sessions' timers; write
//! outboxes. Memory is bounded everywhere: a read buffer never exceeds
//! twice the largest message, an outbox past the session's
//! `outbox_max_bytes` (a client that stops reading) ends the connection.
//!
//! Connections, logons, disconnects and garbled messages are logged as
//! `tracing` events (target `gateway::fix::acceptor`) with the session and
//! the peer as fields.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use engine::sequencer::OutputReceiver;
use engine::types::ParticipantId;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::fix::app::FixApp;
use crate::fix::codec::{FieldBuf, Framing, frame, parse};
use crate::fix::config::CancelOnDisconnect;
use crate::fix::metrics::SessionMetrics;
use crate::fix::session::{Flow, Session};
use crate::fix::tags;
use engine::types::TimeInForce;
use tracing::{info, warn};

/// Outputs taken from the sequencer per turn.
const OUTPUT_BATCH: usize = 4096;
const LISTENER: Token = Token(usize::MAX);
const WAKER: Token = Token(usize::MAX - 1);

/// Wakes the acceptor from a blocking poll when the sequencer publishes
/// outputs. The acceptor sets `parked` before it blocks (and checks the ring
/// once more); the sequencer wakes it only if it is parked, so a busy
/// acceptor costs the sequencer one atomic swap per duty cycle.
#[derive(Debug, Clone)]
pub struct WakeHandle {
    waker: Arc<Waker>,
    parked: Arc<AtomicBool>,
}

impl WakeHandle {
    /// Called by the sequencer thread after it published outputs.
    pub fn notify(&self) {
        if self.parked.swap(false, Ordering::SeqCst) {
            let _ = self.waker.wake();
        }
    }
}

#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    rbuf: Vec<u8>,
    session: Option<usize>,
    accepted_ns: u64,
    closing: Option<String>,
}

/// The acceptor. See the module docs.
pub struct Acceptor {
    poll: Poll,
    events: Events,
    listener: TcpListener,
    conns: HashMap<usize, Conn>,
    next_token: usize,
    sessions: Vec<Session>,
    by_comp_ids: HashMap<(Vec<u8>, Vec<u8>), usize>,
    session_of: HashMap<ParticipantId, usize>,
    app: FixApp,
    outputs: OutputReceiver,
    fields: FieldBuf,
    max_message_size: usize,
    logon_timeout_ns: u64,
    /// The engine sequence number through which every output has been
    /// handled (for the delivery watermark).
    handled_through: u64,
    wake: WakeHandle,
    metrics: Vec<Arc<SessionMetrics>>,
    metrics_refreshed_ns: u64,
}

impl std::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acceptor")
            .field("connections", &self.conns.len())
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

impl Acceptor {
    /// Binds `addr` and serves `sessions`.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub fn bind(
        addr: SocketAddr,
        sessions: Vec<Session>,
        app: FixApp,
        outputs: OutputReceiver,
    ) -> io::Result<Acceptor> {
        let poll = Poll::new()?;
        let mut listener = TcpListener::bind(addr)?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let session_count = sessions.len();
        let wake = WakeHandle {
            waker: Arc::new(Waker::new(poll.registry(), WAKER)?),
            parked: Arc::new(AtomicBool::new(false)),
        };
        let by_comp_ids = sessions
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let c = s.config();
                (
                    (
                        c.target_comp_id.as_bytes().to_vec(),
                        c.sender_comp_id.as_bytes().to_vec(),
                    ),
                    i,
                )
            })
            .collect();
        let session_of = sessions
            .iter()
            .enumerate()
            .map(|(i, s)| (s.config().participant, i))
            .collect();
        let max_message_size = sessions
            .iter()
            .map(|s| s.config().max_message_size)
            .max()
            .unwrap_or(8 << 10);
        let logon_timeout_ns = sessions
            .iter()
            .map(|s| s.config().logon_timeout_ms)
            .max()
            .unwrap_or(10_000)
            * 1_000_000;
        Ok(Acceptor {
            poll,
            events: Events::with_capacity(256),
            listener,
            conns: HashMap::new(),
            next_token: 0,
            sessions,
            by_comp_ids,
            session_of,
            app,
            outputs,
            fields: FieldBuf::with_capacity(64),
            max_message_size,
            logon_timeout_ns,
            handled_through: 0,
            wake,
            metrics: (0..session_count)
                .map(|_| Arc::new(SessionMetrics::default()))
                .collect(),
            metrics_refreshed_ns: 0,
        })
    }

    /// Each session's figures (in session order), refreshed about once a
    /// millisecond by the acceptor's thread, readable from any thread.
    #[must_use]
    pub fn metrics(&self) -> Vec<(String, Arc<SessionMetrics>)> {
        self.sessions
            .iter()
            .zip(&self.metrics)
            .map(|(s, m)| (s.config().name(), Arc::clone(m)))
            .collect()
    }

    /// A handle for the sequencer thread to wake this acceptor.
    #[must_use]
    pub fn wake_handle(&self) -> WakeHandle {
        self.wake.clone()
    }

    /// One turn that may block up to `timeout` when there is nothing to do:
    /// it marks itself parked, checks the output ring once more (so that a
    /// notification cannot be lost between the check and the poll), then
    /// polls.
    ///
    /// # Errors
    /// The poller failed.
    pub fn run_once_parked(&mut self, now_ns: u64, timeout: Duration) -> io::Result<usize> {
        self.wake.parked.store(true, Ordering::SeqCst);
        let timeout = if self.outputs.is_empty() && !self.has_backlog() {
            timeout
        } else {
            Duration::ZERO
        };
        let work = self.run_once(now_ns, Some(timeout));
        self.wake.parked.store(false, Ordering::SeqCst);
        work
    }

    fn has_backlog(&self) -> bool {
        self.sessions
            .iter()
            .any(|s| s.has_backlog() || !s.outbox_is_empty())
    }

    /// The bound address (useful with port 0).
    ///
    /// # Errors
    /// The socket has no address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The sessions.
    #[must_use]
    pub fn sessions(&self) -> &[Session] {
        &self.sessions
    }

    /// The sessions, mutably (to deliver replayed events at start-up).
    pub fn sessions_mut(&mut self) -> &mut [Session] {
        &mut self.sessions
    }

    /// The application layer.
    pub fn app_mut(&mut self) -> &mut FixApp {
        &mut self.app
    }

    /// The participant → session map.
    #[must_use]
    pub fn session_of(&self) -> &HashMap<ParticipantId, usize> {
        &self.session_of
    }

    /// Delivers an event re-derived by replay at start-up (see
    /// ARCHITECTURE.md, "exactly-once execution reports").
    pub fn deliver_replayed(
        &mut self,
        seq: u64,
        time_ns: u64,
        event: &engine::event::Event,
        now_ns: u64,
    ) {
        let session_of = &self.session_of;
        self.app
            .deliver(&mut self.sessions, session_of, seq, time_ns, event, now_ns);
    }

    /// The engine sequence number through which every output was handled.
    #[must_use]
    pub fn handled_through(&self) -> u64 {
        self.handled_through
    }

    /// One turn; `timeout` bounds the wait for socket events. Returns how
    /// much work it did (0 = idle).
    ///
    /// # Errors
    /// The poller failed.
    pub fn run_once(&mut self, now_ns: u64, timeout: Option<Duration>) -> io::Result<usize> {
        let mut work = 0;
        self.poll.poll(&mut self.events, timeout)?;
        let mut readable = Vec::new();
        let mut listener_ready = false;
        for ev in &self.events {
            if ev.token() == WAKER {
                work += 1;
            } else if ev.token() == LISTENER {
                listener_ready = true;
            } else if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                readable.push(ev.token().0);
            }
        }
        if listener_ready {
            work += self.accept(now_ns)?;
        }
        for token in readable {
            work += self.read(token, now_ns);
        }
        work += self.drain_outputs(now_ns);
        for i in 0..self.sessions.len() {
            let flow = self.sessions[i].poll(now_ns, &mut self.app);
            if let Flow::Disconnect(reason) = flow {
                self.close_session(i, &reason);
            }
        }
        self.expire_logons(now_ns);
        work += self.flush();
        if now_ns.saturating_sub(self.metrics_refreshed_ns) >= 1_000_000 {
            self.metrics_refreshed_ns = now_ns;
            for (s, m) in self.sessions.iter().zip(&self.metrics) {
                m.refresh(s);
            }
        }
        Ok(work)
    }

    fn accept(&mut self, now_ns: u64) -> io::Result<usize> {
        let mut n = 0;
        loop {
            match self.listener.accept() {
                Ok((mut stream, peer)) => {
                    let token = self.next_token;
                    self.next_token += 1;
                    let _ = stream.set_nodelay(true);
                    self.poll.registry().register(
                        &mut stream,
                        Token(token),
                        Interest::READABLE | Interest::WRITABLE,
                    )?;
                    self.conns.insert(
                        token,
                        Conn {
                            stream,
                            peer,
                            rbuf: Vec::with_capacity(16 << 10),
                            session: None,
                            accepted_ns: now_ns,
                            closing: None,
                        },
                    );
                    n += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(n),
                Err(e) => {
                    warn!(error = %e, "FIX accept failed");
                    return Ok(n);
                }
            }
        }
    }

    fn read(&mut self, token: usize, now_ns: u64) -> usize {
        let cap = self.max_message_size * 2 + (64 << 10);
        let mut work = 0;
        let mut chunk = [0u8; 64 << 10];
        loop {
            let Some(conn) = self.conns.get_mut(&token) else {
                return work;
            };
            if conn.closing.is_some() {
                return work;
            }
            let room = cap.saturating_sub(conn.rbuf.len()).min(chunk.len());
            if room == 0 {
                // A message larger than the buffer: framing reports it.
                self.process(token, now_ns);
                let Some(conn) = self.conns.get(&token) else {
                    return work;
                };
                if conn.rbuf.len() >= cap {
                    self.close(token, "read buffer full without a complete message");
                }
                return work;
            }
            match conn.stream.read(&mut chunk[..room]) {
                Ok(0) => {
                    self.process(token, now_ns);
                    self.close(token, "connection closed by peer");
                    return work;
                }
                Ok(n) => {
                    conn.rbuf.extend_from_slice(&chunk[..n]);
                    work += 1;
                    self.process(token, now_ns);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return work,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.close(token, &format!("read failed: {e}"));
                    return work;
                }
            }
        }
    }

    /// Frames and handles every complete message in a connection's buffer.
    fn process(&mut self, token: usize, now_ns: u64) {
        let mut consumed = 0;
        loop {
            let Some(conn) = self.conns.get_mut(&token) else {
                return;
            };
            if conn.closing.is_some() {
                break;
            }
            let buf = &conn.rbuf[consumed..];
            if buf.is_empty() {
                break;
            }
            match frame(buf, self.max_message_size) {
                Framing::Incomplete => break,
                Framing::TooLarge { declared } => {
                    let reason = format!(
                        "message of {declared} bytes is over the limit of {}",
                        self.max_message_size
                    );
                    self.close(token, &reason);
                    return;
                }
                Framing::Garbled { skip, reason } => {
                    consumed += skip.max(1);
                    match conn.session {
                        Some(i) => {
                            warn!(
                                session = %self.sessions[i].config().name(),
                                %reason,
                                "FIX garbled message ignored"
                            );
                            self.sessions[i].on_garbled();
                        }
                        None => {
                            self.close(token, &format!("garbled first message: {reason}"));
                            return;
                        }
                    }
                }
                Framing::Complete { len } => {
                    let start = consumed;
                    consumed += len;
                    let raw = conn.rbuf[start..start + len].to_vec();
                    match conn.session {
                        Some(i) => {
                            let flow = self.sessions[i].on_message(&raw, now_ns, &mut self.app);
                            if let Flow::Disconnect(reason) = flow {
                                self.close_session(i, &reason);
                                break;
                            }
                        }
                        None => {
                            if !self.bind_logon(token, &raw, now_ns) {
                                break;
                            }
                        }
                    }
                }
            }
        }
        if let Some(conn) = self.conns.get_mut(&token) {
            conn.rbuf.drain(..consumed.min(conn.rbuf.len()));
        }
    }

    /// The first message of a connection: must be a Logon for a known,
    /// free session. Returns whether the connection lives on.
    fn bind_logon(&mut self, token: usize, raw: &[u8], now_ns: u64) -> bool {
        let (msg_type, sender, target) = match parse(raw, &mut self.fields) {
            Ok(m) => (
                m.msg_type().to_vec(),
                m.get(tags::SENDER_COMP_ID).unwrap_or(b"").to_vec(),
                m.get(tags::TARGET_COMP_ID).unwrap_or(b"").to_vec(),
            ),
            Err(_) => {
                self.close(token, "unparseable first message");
                return false;
            }
        };
        if msg_type != b"A" {
            // [2S] First message not a Logon.
            self.close(token, "first message is not a Logon");
            return false;
        }
        let Some(&index) = self.by_comp_ids.get(&(sender.clone(), target.clone())) else {
            // Unknown CompIDs: no reply at all.
            let reason = format!(
                "Logon from unknown CompIDs {}->{}",
                String::from_utf8_lossy(&sender),
                String::from_utf8_lossy(&target)
            );
            self.close(token, &reason);
            return false;
        };
        if self.conns.values().any(|c| c.session == Some(index)) {
            // [1S] Already logged on: drop the newcomer, keep the first.
            let reason = format!(
                "second connection for {} dropped; the first stays",
                self.sessions[index].config().name()
            );
            self.close(token, &reason);
            return false;
        }
        let flow = self.sessions[index].on_logon(raw, now_ns);
        if let Some(conn) = self.conns.get_mut(&token) {
            conn.session = Some(index);
            info!(
                session = %self.sessions[index].config().name(),
                peer = %conn.peer,
                "FIX session logged on"
            );
        }
        if let Flow::Disconnect(reason) = flow {
            self.close_session(index, &reason);
            return false;
        }
        true
    }

    fn drain_outputs(&mut self, now_ns: u64) -> usize {
        let mut n = 0;
        while n < OUTPUT_BATCH {
            // Read before finding the ring empty: everything through it has
            // been handled (this ring may take nothing for a while when
            // other gateways' participants trade).
            let released = self.outputs.released_through();
            let Some(out) = self.outputs.try_recv() else {
                self.handled_through = self.handled_through.max(released);
                break;
            };
            if let engine::sequencer::Output::Event { seq, .. } = &out {
                // Everything before this input is fully handled.
                self.handled_through = self.handled_through.max(seq.saturating_sub(1));
            }
            let session_of = &self.session_of;
            self.app
                .on_output(&mut self.sessions, session_of, &out, now_ns);
            n += 1;
        }
        n
    }

    fn expire_logons(&mut self, now_ns: u64) {
        let expired: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                c.session.is_none()
                    && c.closing.is_none()
                    && now_ns.saturating_sub(c.accepted_ns) > self.logon_timeout_ns
            })
            .map(|(t, _)| *t)
            .collect();
        for token in expired {
            self.close(token, "no Logon within the logon timeout");
        }
    }

    /// Writes outboxes; closes connections marked closing once written.
    fn flush(&mut self) -> usize {
        let mut work = 0;
        let tokens: Vec<usize> = self.conns.keys().copied().collect();
        for token in tokens {
            let Some(conn) = self.conns.get_mut(&token) else {
                continue;
            };
            let Some(i) = conn.session else {
                if conn.closing.is_some() {
                    self.drop_conn(token);
                }
                continue;
            };
            let outbox_max = self.sessions[i].config().outbox_max_bytes;
            let outbox = self.sessions[i].outbox();
            let mut failed = None;
            while !outbox.is_empty() {
                match conn.stream.write(outbox) {
                    Ok(0) => {
                        failed = Some("write returned 0".to_owned());
                        break;
                    }
                    Ok(n) => {
                        outbox.drain(..n);
                        work += 1;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        failed = Some(format!("write failed: {e}"));
                        break;
                    }
                }
            }
            let pending = outbox.len();
            if let Some(reason) = failed {
                self.close_session(i, &reason);
                self.drop_conn(token);
            } else if conn.closing.is_some() && (pending == 0 || pending > outbox_max) {
                self.drop_conn(token);
            } else if pending > outbox_max {
                self.close_session(i, "client is not reading (outbox over the limit)");
                self.drop_conn(token);
            }
        }
        work
    }

    /// Ends the session's connection after its outbox is written.
    fn close_session(&mut self, index: usize, reason: &str) {
        let token = self
            .conns
            .iter()
            .find(|(_, c)| c.session == Some(index) && c.closing.is_none())
            .map(|(t, _)| *t);
        if let Some(token) = token {
            self.close(token, reason);
        }
    }

    /// Marks a connection for closing (after its outbox is written).
    fn close(&mut self, token: usize, reason: &str) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        if conn.closing.is_some() {
            return;
        }
        match conn.session {
            Some(i) => info!(
                session = %self.sessions[i].config().name(),
                peer = %conn.peer,
                reason,
                "FIX disconnect"
            ),
            None => info!(peer = %conn.peer, reason, "FIX disconnect before logon"),
        }
        conn.closing = Some(reason.to_owned());
    }

    fn drop_conn(&mut self, token: usize) {
        if let Some(mut conn) = self.conns.remove(&token) {
            let _ = self.poll.registry().deregister(&mut conn.stream);
            let _ = conn.stream.shutdown(std::net::Shutdown::Both);
            if let Some(i) = conn.session {
                let on_disconnect = self.sessions[i].config().cancel_on_disconnect;
                self.sessions[i].on_disconnect();
                match on_disconnect {
                    CancelOnDisconnect::None => {}
                    CancelOnDisconnect::Day => {
                        self.app
                            .cancel_all(&mut self.sessions[i], Some(TimeInForce::Day));
                    }
                    CancelOnDisconnect::All => self.app.cancel_all(&mut self.sessions[i], None),
                }
            }
        }
    }

    /// Logs every session out (graceful shutdown); call [`Self::run_once`]
    /// a few more times to let the Logouts go out.
    pub fn logout_all(&mut self, now_ns: u64, text: &str) {
        for s in &mut self.sessions {
            s.begin_logout(now_ns, text);
        }
    }
}
