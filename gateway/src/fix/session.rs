//! The FIX 4.4 session layer: logon, sequence numbers, gap detection and
//! resend, heartbeats, logout, session-level rejects.
//!
//! A [`Session`] is one configured CompID pair. It outlives connections: its
//! sequence numbers and outbound messages live in its [`MessageStore`], and
//! application messages for it (execution reports) are stored and numbered
//! even while it is disconnected, so that the client can ask for them again
//! after its next Logon. It does no I/O itself: bytes to send go to
//! [`Session::outbox`], which the acceptor writes to the socket, and
//! application messages that pass the session checks are handed to an
//! [`Application`] in sequence, through the session's rate limiter.
//!
//! The rules follow the FIX session-level test cases (FIX Trading Community
//! numbering in brackets in the code). In order, for a message on a
//! logged-on session: garbled bytes are dropped by the acceptor without
//! touching sequence numbers; a wrong BeginString ends the session [2i]; a
//! wrong CompID [2k] or a SendingTime outside the tolerance [2o] is rejected
//! and ends it; a PossDup message is checked for OrigSendingTime [2f, 2g];
//! then the sequence number: too low without PossDup ends the session [2c],
//! too low with PossDup is ignored [2e], too high is queued and a
//! ResendRequest sent [2b]; a message in sequence is validated against the
//! dictionary (a session Reject consumes its sequence number) and handled.
//!
//! Inbound sequence numbers are persisted conservatively: the store holds
//! the lowest sequence number whose effect is not yet known to be journaled
//! (an order waiting in the rate limiter or in the engine's ring counts as
//! not journaled). After a crash the client is therefore asked to resend
//! anything that might not have reached the journal; a resent order whose
//! ClOrdID the venue already has is answered with its status, never entered
//! twice.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;

use crate::fix::codec::{Encoder, FieldBuf, Message, parse};
use crate::fix::config::SessionConfig;
use crate::fix::dict::{SessionRejectReason, Validation, validate};
use crate::fix::store::{EnginePos, MessageStore, StoreError, Stored};
use crate::fix::tags;

/// The FIX version spoken.
pub const BEGIN_STRING: &[u8] = b"FIX.4.4";

/// Most messages held while waiting for a resend to fill a gap.
const QUEUED_MAX: usize = 10_000;
/// Most messages resent per call to [`Session::poll`].
const RESEND_CHUNK: usize = 256;
/// Bytes waiting to be written past which a resend pauses.
const RESEND_OUTBOX_PAUSE: usize = 256 << 10;

/// Where a session stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// No connection.
    Disconnected,
    /// Logged on.
    LoggedOn,
    /// We sent a Logout and wait for the answer until the deadline.
    LogoutSent {
        /// When to give up and disconnect.
        deadline_ns: u64,
    },
}

/// What the acceptor must do after a session handled input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Keep the connection.
    Continue,
    /// Write the outbox, then close the connection; the reason is logged.
    Disconnect(String),
}

/// The priority classes of the rate limiter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// New orders, cancels and replaces.
    Orders = 0,
    /// Status requests.
    Status = 1,
    /// Everything else.
    Other = 2,
}

impl Priority {
    /// The class of a MsgType.
    #[must_use]
    pub fn of(msg_type: &[u8]) -> Priority {
        match msg_type {
            b"D" | b"F" | b"G" => Priority::Orders,
            b"H" | b"AF" => Priority::Status,
            _ => Priority::Other,
        }
    }
}

/// The application behind the sessions: turns application messages into
/// engine inputs and answers what the engine does not.
pub trait Application {
    /// An application message that passed the session checks, in sequence
    /// (and through the rate limiter). `seq` is its MsgSeqNum.
    fn on_app(&mut self, session: &mut Session, msg: &Message<'_>, seq: u64, now_ns: u64);

    /// An application message refused by the rate limiter (its queue is
    /// full): the application answers it with an explicit reject.
    fn on_throttled(&mut self, session: &mut Session, msg: &Message<'_>, now_ns: u64);
}

/// A token bucket in integer nanoseconds.
#[derive(Debug)]
struct Bucket {
    /// Nanoseconds of credit, at most `burst * ns_per_token`.
    credit_ns: u64,
    cap_ns: u64,
    ns_per_token: u64,
    last_ns: u64,
    /// The most of the bucket ever in use right after a take, in
    /// thousandths: unlike [`Bucket::used`] it does not depend on when it
    /// is read.
    peak_permille: u32,
}

impl Bucket {
    fn new(per_second: u32, burst: u32) -> Bucket {
        let ns_per_token = 1_000_000_000 / u64::from(per_second.max(1));
        let cap_ns = ns_per_token * u64::from(burst.max(1));
        Bucket {
            credit_ns: cap_ns,
            cap_ns,
            ns_per_token,
            last_ns: 0,
            peak_permille: 0,
        }
    }

    fn refill(&mut self, now_ns: u64) {
        if now_ns > self.last_ns {
            self.credit_ns = (self.credit_ns + (now_ns - self.last_ns)).min(self.cap_ns);
            self.last_ns = now_ns;
        }
    }

    fn try_take(&mut self, now_ns: u64) -> bool {
        self.refill(now_ns);
        if self.credit_ns >= self.ns_per_token {
            self.credit_ns -= self.ns_per_token;
            let used = 1000 - self.credit_ns * 1000 / self.cap_ns;
            self.peak_permille = self.peak_permille.max(used as u32);
            true
        } else {
            false
        }
    }

    /// The fraction of the bucket in use, 0.0 (full) to 1.0 (empty), for
    /// metrics.
    fn used(&self) -> f64 {
        1.0 - self.credit_ns as f64 / self.cap_ns as f64
    }
}

/// Counters for metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Garbled messages dropped.
    pub garbled: u64,
    /// Session-level Rejects sent.
    pub rejects_sent: u64,
    /// Messages resent.
    pub resent: u64,
    /// Application messages rejected by the rate limiter.
    pub throttled: u64,
    /// Application messages that waited in the rate limiter.
    pub queued_by_rate: u64,
}

/// One FIX session. See the module docs.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    index: usize,
    store: MessageStore,
    state: State,
    next_in: u64,
    heartbeat_ns: u64,
    last_rx_ns: u64,
    last_tx_ns: u64,
    test_request: Option<(u64, u64)>,
    test_request_counter: u64,
    /// Messages received ahead of a gap, by MsgSeqNum.
    queued: BTreeMap<u64, Vec<u8>>,
    /// The end of the gap we asked to be resent (exclusive), if we did.
    resend_target: Option<u64>,
    /// Our resend in progress: next MsgSeqNum and the last one.
    resending: Option<(u64, u64)>,
    /// Application messages waiting for tokens, by priority class.
    rate_queues: [VecDeque<(u64, Vec<u8>)>; 3],
    bucket: Bucket,
    /// Application messages not yet known to be journaled, by MsgSeqNum.
    unconfirmed: BTreeSet<u64>,
    outbox: Vec<u8>,
    encoder: Encoder,
    fields: FieldBuf,
    stats: SessionStats,
    /// The last engine position stored (events are stored in order).
    pos: EnginePos,
    /// The wall clock at the last call in.
    now_ns: u64,
    /// When the weekly schedule was last looked at.
    schedule_checked_ns: u64,
}

impl Session {
    /// A session over its store. `index` is its place in the gateway's list
    /// (it goes into the origin of its inputs).
    #[must_use]
    pub fn new(config: SessionConfig, index: usize, store: MessageStore) -> Session {
        let next_in = store.next_in_seq();
        let pos = store.last_pos();
        let bucket = Bucket::new(config.rate.per_second, config.rate.burst);
        Session {
            config,
            index,
            store,
            state: State::Disconnected,
            next_in,
            heartbeat_ns: 30_000_000_000,
            last_rx_ns: 0,
            last_tx_ns: 0,
            test_request: None,
            test_request_counter: 0,
            queued: BTreeMap::new(),
            resend_target: None,
            resending: None,
            rate_queues: [VecDeque::new(), VecDeque::new(), VecDeque::new()],
            bucket,
            unconfirmed: BTreeSet::new(),
            outbox: Vec::with_capacity(64 << 10),
            encoder: Encoder::new(),
            fields: FieldBuf::with_capacity(64),
            stats: SessionStats::default(),
            pos,
            now_ns: 0,
            schedule_checked_ns: 0,
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The index given at construction.
    #[must_use]
    pub fn index(&self) -> usize {
        self.index
    }

    /// Where it stands.
    #[must_use]
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether a connection is logged on.
    #[must_use]
    pub fn is_logged_on(&self) -> bool {
        self.state == State::LoggedOn
    }

    /// The next inbound MsgSeqNum expected.
    #[must_use]
    pub fn next_in_seq(&self) -> u64 {
        self.next_in
    }

    /// The next outbound MsgSeqNum.
    #[must_use]
    pub fn next_out_seq(&self) -> u64 {
        self.store.next_out_seq()
    }

    /// The last engine position stored.
    #[must_use]
    pub fn engine_pos(&self) -> EnginePos {
        self.pos
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> SessionStats {
        self.stats
    }

    /// Rate-limit use, 0.0 to 1.0.
    #[must_use]
    pub fn quota_used(&self) -> f64 {
        self.bucket.used()
    }

    /// Changes the rate limit (the operator's `SetRateLimit`): a fresh
    /// bucket at the new rate; messages already waiting stay queued, in
    /// order, and go at the new rate.
    pub fn set_rate(&mut self, per_second: u32, burst: u32) {
        self.config.rate.per_second = per_second;
        self.config.rate.burst = burst;
        let peak = self.bucket.peak_permille;
        self.bucket = Bucket::new(per_second, burst);
        self.bucket.last_ns = self.now_ns;
        self.bucket.peak_permille = peak;
    }

    /// The rate limit now: (per second, burst).
    #[must_use]
    pub fn rate(&self) -> (u32, u32) {
        (self.config.rate.per_second, self.config.rate.burst)
    }

    /// The highest rate-limit use since the session was made, in
    /// thousandths, measured right after each message took its token.
    #[must_use]
    pub fn quota_peak_permille(&self) -> u32 {
        self.bucket.peak_permille
    }

    /// Whether nothing waits for the socket.
    #[must_use]
    pub fn outbox_is_empty(&self) -> bool {
        self.outbox.is_empty()
    }

    /// Bytes waiting for the socket.
    pub fn outbox(&mut self) -> &mut Vec<u8> {
        &mut self.outbox
    }

    /// Whether the session has work for [`Session::poll`] beyond timers (a
    /// resend in progress, messages waiting for tokens).
    #[must_use]
    pub fn has_backlog(&self) -> bool {
        self.resending.is_some() || self.rate_queues.iter().any(|q| !q.is_empty())
    }

    // ---------------------------------------------------------------
    // Logon

    /// Handles the first message of a new connection, a Logon whose CompIDs
    /// named this session [1S]. The acceptor has checked that the session
    /// has no other connection.
    pub fn on_logon(&mut self, raw: &[u8], now_ns: u64) -> Flow {
        self.now_ns = now_ns;
        self.last_rx_ns = now_ns;
        self.last_tx_ns = now_ns;
        self.test_request = None;
        self.queued.clear();
        self.resend_target = None;
        self.resending = None;
        let mut fields = std::mem::take(&mut self.fields);
        let flow = self.logon(raw, &mut fields, now_ns);
        self.fields = fields;
        if let Flow::Disconnect(_) = &flow {
            self.state = State::Disconnected;
        }
        flow
    }

    fn logon(&mut self, raw: &[u8], fields: &mut FieldBuf, now_ns: u64) -> Flow {
        let msg = match parse(raw, fields) {
            Ok(m) => m,
            Err(e) => return Flow::Disconnect(format!("unparseable Logon: {e}")),
        };
        if msg.begin_string() != BEGIN_STRING {
            // No session to speak for: the client speaks another version.
            return Flow::Disconnect(format!(
                "Logon with BeginString {}",
                String::from_utf8_lossy(msg.begin_string())
            ));
        }
        let Some(seq) = msg.seq_num() else {
            return self.logout_and_disconnect(now_ns, "MsgSeqNum(34) missing or invalid");
        };
        if let Validation::Reject(r) = validate(&msg) {
            return self.logout_and_disconnect(now_ns, &format!("invalid Logon: {}", r.text));
        }
        match msg.get_u64(tags::HEART_BT_INT) {
            Ok(Some(hb)) if (1..=3600).contains(&hb) => self.heartbeat_ns = hb * 1_000_000_000,
            _ => {
                return self.logout_and_disconnect(now_ns, "HeartBtInt(108) must be 1 to 3600");
            }
        }
        if !matches!(msg.get(tags::ENCRYPT_METHOD), Some(b"0")) {
            return self.logout_and_disconnect(now_ns, "EncryptMethod(98) must be 0");
        }
        if let Some(reason) = self.check_credentials(&msg) {
            return self.logout_and_disconnect(now_ns, reason);
        }
        if let Some(reason) = self.check_sending_time(&msg, now_ns) {
            return self.logout_and_disconnect(now_ns, reason);
        }
        if self.weekly_reset_due(now_ns)
            && let Err(e) = self.reset_sequences()
        {
            return Flow::Disconnect(format!("message store failed: {e}"));
        }
        let reset = matches!(msg.get_bool(tags::RESET_SEQ_NUM_FLAG), Ok(Some(true)));
        if reset || self.config.reset_on_logon {
            if let Err(e) = self.reset_sequences() {
                return Flow::Disconnect(format!("message store failed: {e}"));
            }
            if seq != 1 {
                return self.logout_and_disconnect(
                    now_ns,
                    &format!("MsgSeqNum must be 1 with ResetSeqNumFlag, received {seq}"),
                );
            }
        }
        if seq < self.next_in {
            let text = format!(
                "MsgSeqNum too low, expecting {} but received {seq}",
                self.next_in
            );
            return self.logout_and_disconnect(now_ns, &text);
        }
        self.state = State::LoggedOn;
        let heartbeat_s = self.heartbeat_ns / 1_000_000_000;
        let reply_reset = reset || self.config.reset_on_logon;
        let sent = self.send_admin(now_ns, b"A", |e| {
            e.u64(tags::ENCRYPT_METHOD, 0);
            e.u64(tags::HEART_BT_INT, heartbeat_s);
            if reply_reset {
                e.bool(tags::RESET_SEQ_NUM_FLAG, true);
            }
        });
        if let Err(e) = sent {
            return Flow::Disconnect(format!("message store failed: {e}"));
        }
        if seq > self.next_in {
            // [1S, 2b] Logon ahead of what we expect: ask for the gap; the
            // Logon itself counts as received.
            self.send_resend_request(now_ns, seq + 1);
            self.queued.insert(seq, Vec::new());
            Flow::Continue
        } else {
            self.advance_in(seq + 1)
        }
    }

    /// Whether a weekly reset fell due since the last reset (a store that
    /// was never reset counts as due: it is empty or from before schedules).
    fn weekly_reset_due(&self, now_ns: u64) -> bool {
        let Some(schedule) = &self.config.weekly_reset else {
            return false;
        };
        let Some(boundary) = crate::fix::schedule::last_boundary_ns(schedule, now_ns) else {
            return false;
        };
        self.store.last_reset_ns().is_none_or(|t| t < boundary)
    }

    fn check_credentials(&self, msg: &Message<'_>) -> Option<&'static str> {
        let hash = self.config.password_hash.as_deref()?;
        let bad = "invalid username or password";
        if let Some(user) = &self.config.username
            && msg.get(tags::USERNAME) != Some(user.as_bytes())
        {
            return Some(bad);
        }
        let Some(password) = msg.get(tags::PASSWORD) else {
            return Some(bad);
        };
        if crate::fix::auth::verify_password(password, hash) {
            None
        } else {
            Some(bad)
        }
    }

    fn check_sending_time(&self, msg: &Message<'_>, now_ns: u64) -> Option<&'static str> {
        let tolerance_ns = self.config.sending_time_tolerance_ms * 1_000_000;
        match msg.get_utc_timestamp_ns(tags::SENDING_TIME) {
            Ok(Some(t)) if t.abs_diff(now_ns) <= tolerance_ns => None,
            Ok(Some(_)) => Some("SendingTime accuracy problem"),
            _ => Some("SendingTime(52) missing or invalid"),
        }
    }

    // ---------------------------------------------------------------
    // Inbound

    /// Handles one framed message from the session's connection.
    pub fn on_message<A: Application>(&mut self, raw: &[u8], now_ns: u64, app: &mut A) -> Flow {
        self.now_ns = now_ns;
        self.last_rx_ns = now_ns;
        let flow = self.handle(raw, now_ns, app, false);
        if flow != Flow::Continue {
            return flow;
        }
        // Messages queued behind a gap that the last one closed.
        while let Some(entry) = self.queued.first_entry() {
            if *entry.key() > self.next_in {
                break;
            }
            let (seq, raw) = entry.remove_entry();
            if seq < self.next_in {
                continue;
            }
            if raw.is_empty() {
                // The Logon that opened the gap.
                let flow = self.advance_in(seq + 1);
                if flow != Flow::Continue {
                    return flow;
                }
                continue;
            }
            let flow = self.handle(&raw, now_ns, app, true);
            if flow != Flow::Continue {
                return flow;
            }
        }
        if let Some(target) = self.resend_target
            && self.next_in >= target
        {
            self.resend_target = None;
        }
        Flow::Continue
    }

    /// Notes a garbled message (dropped by the acceptor) [2d, 2m, 2t, 3].
    pub fn on_garbled(&mut self) {
        self.stats.garbled += 1;
    }

    fn handle<A: Application>(
        &mut self,
        raw: &[u8],
        now_ns: u64,
        app: &mut A,
        from_queue: bool,
    ) -> Flow {
        let mut fields = std::mem::take(&mut self.fields);
        let flow = self.handle_with(raw, &mut fields, now_ns, app, from_queue);
        self.fields = fields;
        flow
    }

    fn handle_with<A: Application>(
        &mut self,
        raw: &[u8],
        fields: &mut FieldBuf,
        now_ns: u64,
        app: &mut A,
        from_queue: bool,
    ) -> Flow {
        let msg = match parse(raw, fields) {
            Ok(m) => m,
            Err(_) => {
                // Unparseable beyond framing: treat as garbled.
                self.stats.garbled += 1;
                return Flow::Continue;
            }
        };
        // [2i]
        if msg.begin_string() != BEGIN_STRING {
            return self.logout_and_disconnect(now_ns, "incorrect BeginString");
        }
        let Some(seq) = msg.seq_num() else {
            // Without a usable MsgSeqNum the message cannot be placed.
            return self.logout_and_disconnect(now_ns, "MsgSeqNum(34) missing or invalid");
        };
        let msg_type = msg.msg_type();
        // [2k]
        if msg.get(tags::SENDER_COMP_ID) != Some(self.config.target_comp_id.as_bytes())
            || msg.get(tags::TARGET_COMP_ID) != Some(self.config.sender_comp_id.as_bytes())
        {
            self.send_reject(
                now_ns,
                seq,
                msg_type,
                Some(tags::SENDER_COMP_ID),
                SessionRejectReason::CompIdProblem,
                "CompID problem",
            );
            return self.logout_and_disconnect(now_ns, "CompID problem");
        }
        let poss_dup = matches!(msg.get_bool(tags::POSS_DUP_FLAG), Ok(Some(true)));
        let is_seq_reset = msg_type == b"4";
        let is_reset_mode =
            is_seq_reset && !matches!(msg.get_bool(tags::GAP_FILL_FLAG), Ok(Some(true)));
        // [2o] (a resent message is judged by OrigSendingTime below)
        if !from_queue && let Some(reason) = self.check_sending_time(&msg, now_ns) {
            self.send_reject(
                now_ns,
                seq,
                msg_type,
                Some(tags::SENDING_TIME),
                SessionRejectReason::SendingTimeAccuracy,
                reason,
            );
            return self.logout_and_disconnect(now_ns, reason);
        }
        // [2f, 2g]
        if poss_dup && !is_seq_reset {
            let sending = msg.get_utc_timestamp_ns(tags::SENDING_TIME);
            match msg.get_utc_timestamp_ns(tags::ORIG_SENDING_TIME) {
                Ok(Some(orig)) => {
                    if let Ok(Some(sending)) = sending
                        && orig > sending
                    {
                        self.send_reject(
                            now_ns,
                            seq,
                            msg_type,
                            Some(tags::ORIG_SENDING_TIME),
                            SessionRejectReason::SendingTimeAccuracy,
                            "OrigSendingTime later than SendingTime",
                        );
                        return self.accept_seq(seq);
                    }
                }
                Ok(None) => {
                    self.send_reject(
                        now_ns,
                        seq,
                        msg_type,
                        Some(tags::ORIG_SENDING_TIME),
                        SessionRejectReason::RequiredTagMissing,
                        "OrigSendingTime(122) required with PossDupFlag=Y",
                    );
                    return self.accept_seq(seq);
                }
                Err(_) => {
                    self.send_reject(
                        now_ns,
                        seq,
                        msg_type,
                        Some(tags::ORIG_SENDING_TIME),
                        SessionRejectReason::IncorrectDataFormat,
                        "OrigSendingTime(122) is not a UTCTimestamp",
                    );
                    return self.accept_seq(seq);
                }
            }
        }
        // [11] SequenceReset-Reset ignores MsgSeqNum.
        if is_reset_mode {
            return self.on_sequence_reset(&msg, seq, now_ns, false);
        }
        // [2c, 2e]
        if seq < self.next_in {
            if poss_dup {
                return Flow::Continue;
            }
            let text = format!(
                "MsgSeqNum too low, expecting {} but received {seq}",
                self.next_in
            );
            return self.logout_and_disconnect(now_ns, &text);
        }
        // [2b]
        if seq > self.next_in {
            if msg_type == b"2" {
                // Serve their resend at once [20]; our own request stays.
                self.on_resend_request(&msg, seq, now_ns);
            }
            if self.queued.len() >= QUEUED_MAX {
                return self.logout_and_disconnect(now_ns, "too many messages ahead of a gap");
            }
            self.queued.insert(seq, raw.to_vec());
            if self.resend_target.is_none() {
                self.send_resend_request(now_ns, seq + 1);
            } else if let Some(target) = self.resend_target.as_mut() {
                *target = (*target).max(seq + 1);
            }
            return Flow::Continue;
        }
        // In sequence.
        match validate(&msg) {
            Validation::Ok => {}
            Validation::Reject(r) => {
                self.send_reject(now_ns, seq, msg_type, r.ref_tag, r.reason, r.text);
                return self.accept_seq(seq);
            }
            Validation::UnsupportedMsgType => {
                self.send_business_reject(now_ns, seq, msg_type, 3, "Unsupported Message Type");
                return self.accept_seq(seq);
            }
        }
        match msg_type {
            b"0" => {
                if let Some((id, _)) = self.test_request
                    && msg.get(tags::TEST_REQ_ID) == Some(test_req_id(id).as_bytes())
                {
                    self.test_request = None;
                }
                self.accept_seq(seq)
            }
            b"1" => {
                let id = msg.get(tags::TEST_REQ_ID).unwrap_or(b"").to_vec();
                let flow = self.accept_seq(seq);
                let sent = self.send_admin(now_ns, b"0", |e| e.str(tags::TEST_REQ_ID, &id));
                match sent {
                    Ok(()) => flow,
                    Err(e) => Flow::Disconnect(format!("message store failed: {e}")),
                }
            }
            b"2" => {
                let flow = self.accept_seq(seq);
                // One that waited behind a gap was served when it arrived.
                if !from_queue {
                    self.on_resend_request(&msg, seq, now_ns);
                }
                flow
            }
            // [7] An inbound Reject only advances the sequence.
            b"3" => self.accept_seq(seq),
            b"4" => self.on_sequence_reset(&msg, seq, now_ns, true),
            b"5" => self.on_logout(&msg, seq, now_ns),
            b"A" => {
                // A second Logon on a logged-on session.
                self.send_reject(
                    now_ns,
                    seq,
                    msg_type,
                    None,
                    SessionRejectReason::Other,
                    "already logged on",
                );
                self.accept_seq(seq)
            }
            _ => {
                let flow = self.accept_seq(seq);
                self.dispatch_app(&msg, seq, now_ns, app);
                flow
            }
        }
    }

    /// Runs an application message through the rate limiter.
    fn dispatch_app<A: Application>(
        &mut self,
        msg: &Message<'_>,
        seq: u64,
        now_ns: u64,
        app: &mut A,
    ) {
        let class = Priority::of(msg.msg_type()) as usize;
        let waiting: usize = self.rate_queues.iter().map(VecDeque::len).sum();
        if waiting == 0 && self.bucket.try_take(now_ns) {
            app.on_app(self, msg, seq, now_ns);
            return;
        }
        if waiting >= self.config.rate.queue_max {
            self.stats.throttled += 1;
            app.on_throttled(self, msg, now_ns);
            return;
        }
        self.stats.queued_by_rate += 1;
        self.unconfirmed.insert(seq);
        self.rate_queues[class].push_back((seq, msg.raw().to_vec()));
    }

    /// Application messages the rate limiter now lets through.
    fn drain_rate_queues<A: Application>(&mut self, now_ns: u64, app: &mut A) {
        loop {
            let Some(class) = self.rate_queues.iter().position(|q| !q.is_empty()) else {
                return;
            };
            if !self.bucket.try_take(now_ns) {
                return;
            }
            let Some((seq, raw)) = self.rate_queues[class].pop_front() else {
                return;
            };
            // The wait is over; if the application sends an input it marks
            // the message unconfirmed again itself.
            self.unconfirmed.remove(&seq);
            let mut fields = std::mem::take(&mut self.fields);
            if let Ok(msg) = parse(&raw, &mut fields) {
                app.on_app(self, &msg, seq, now_ns);
            }
            self.fields = fields;
            let _ = self.persist_in();
        }
    }

    fn on_sequence_reset(
        &mut self,
        msg: &Message<'_>,
        seq: u64,
        now_ns: u64,
        gap_fill: bool,
    ) -> Flow {
        let new_seq = match msg.get_u64(tags::NEW_SEQ_NO) {
            Ok(Some(n)) => n,
            _ => {
                self.send_reject(
                    now_ns,
                    seq,
                    b"4",
                    Some(tags::NEW_SEQ_NO),
                    SessionRejectReason::RequiredTagMissing,
                    "NewSeqNo(36) missing",
                );
                return if gap_fill {
                    self.accept_seq(seq)
                } else {
                    Flow::Continue
                };
            }
        };
        if new_seq < self.next_in || (gap_fill && new_seq <= seq) {
            // [10, 11] NewSeqNo would move the sequence backwards.
            let text = format!(
                "Attempt to lower sequence number, invalid value NewSeqNo={new_seq}, expected {}",
                self.next_in
            );
            self.send_reject(
                now_ns,
                seq,
                b"4",
                Some(tags::NEW_SEQ_NO),
                SessionRejectReason::ValueOutOfRange,
                &text,
            );
            return if gap_fill {
                self.accept_seq(seq)
            } else {
                Flow::Continue
            };
        }
        self.advance_in(new_seq)
    }

    fn on_logout(&mut self, msg: &Message<'_>, seq: u64, now_ns: u64) -> Flow {
        let flow = self.accept_seq(seq);
        if flow != Flow::Continue {
            return flow;
        }
        let text = msg
            .get(tags::TEXT)
            .map(|t| String::from_utf8_lossy(t).into_owned());
        let reason = match self.state {
            // [13] The answer to ours.
            State::LogoutSent { .. } => "logout confirmed".to_owned(),
            // [12] Theirs: confirm, then disconnect.
            _ => {
                if let Err(e) = self.send_admin(now_ns, b"5", |_| {}) {
                    return Flow::Disconnect(format!("message store failed: {e}"));
                }
                format!(
                    "client logged out ({})",
                    text.as_deref().unwrap_or("no text")
                )
            }
        };
        if self.config.reset_on_logout
            && let Err(e) = self.reset_sequences()
        {
            return Flow::Disconnect(format!("message store failed: {e}"));
        }
        Flow::Disconnect(reason)
    }

    fn on_resend_request(&mut self, msg: &Message<'_>, seq: u64, now_ns: u64) {
        let (Ok(Some(begin)), Ok(Some(end))) = (
            msg.get_u64(tags::BEGIN_SEQ_NO),
            msg.get_u64(tags::END_SEQ_NO),
        ) else {
            self.send_reject(
                now_ns,
                seq,
                b"2",
                Some(tags::BEGIN_SEQ_NO),
                SessionRejectReason::RequiredTagMissing,
                "BeginSeqNo(7) and EndSeqNo(16) are required",
            );
            return;
        };
        let last = self.store.next_out_seq() - 1;
        // EndSeqNo 0 means "to the end" (and so does anything past it).
        let end = if end == 0 || end > last { last } else { end };
        let begin = begin.max(1);
        if begin > end {
            // Nothing we sent is in that range: a gap fill to our next.
            self.resending = None;
            let next = self.store.next_out_seq();
            self.send_gap_fill(now_ns, begin.min(next), next);
            return;
        }
        self.resending = Some((begin, end));
        self.continue_resend(now_ns);
    }

    /// Sends the next chunk of a resend in progress.
    fn continue_resend(&mut self, now_ns: u64) {
        let Some((mut next, end)) = self.resending else {
            return;
        };
        let mut sent = 0;
        let mut gap_start: Option<u64> = None;
        while next <= end && sent < RESEND_CHUNK && self.outbox.len() < RESEND_OUTBOX_PAUSE {
            let stored = match self.store.stored(next) {
                Stored::App(bytes) => Some(bytes.to_vec()),
                Stored::Admin | Stored::Missing => None,
            };
            match stored {
                Some(bytes) => {
                    if let Some(start) = gap_start.take() {
                        self.send_gap_fill(now_ns, start, next);
                    }
                    self.resend_one(&bytes, now_ns);
                    sent += 1;
                }
                None => {
                    gap_start.get_or_insert(next);
                }
            }
            next += 1;
        }
        if let Some(start) = gap_start {
            self.send_gap_fill(now_ns, start, next);
        }
        self.resending = if next > end { None } else { Some((next, end)) };
    }

    /// Sends a stored application message again: same MsgSeqNum,
    /// PossDupFlag=Y, OrigSendingTime = its SendingTime, a new SendingTime.
    fn resend_one(&mut self, stored: &[u8], now_ns: u64) {
        let mut fields = std::mem::take(&mut self.fields);
        if let Ok(msg) = parse(stored, &mut fields) {
            let e = &mut self.encoder;
            e.start(BEGIN_STRING, msg.msg_type());
            e.str(tags::SENDER_COMP_ID, self.config.sender_comp_id.as_bytes());
            e.str(tags::TARGET_COMP_ID, self.config.target_comp_id.as_bytes());
            e.u64(tags::MSG_SEQ_NUM, msg.seq_num().unwrap_or(0));
            e.bool(tags::POSS_DUP_FLAG, true);
            e.timestamp_us(tags::SENDING_TIME, now_ns);
            if let Some(orig) = msg.get(tags::SENDING_TIME) {
                e.str(tags::ORIG_SENDING_TIME, orig);
            }
            for (tag, value) in msg.fields() {
                if !is_header_or_trailer(tag) {
                    e.str(tag, value);
                }
            }
            let bytes = e.finish();
            self.outbox.extend_from_slice(bytes);
            self.last_tx_ns = now_ns;
            self.stats.resent += 1;
        }
        self.fields = fields;
    }

    /// A SequenceReset-GapFill numbered `from`, moving the client to `to`.
    fn send_gap_fill(&mut self, now_ns: u64, from: u64, to: u64) {
        let e = &mut self.encoder;
        e.start(BEGIN_STRING, b"4");
        e.str(tags::SENDER_COMP_ID, self.config.sender_comp_id.as_bytes());
        e.str(tags::TARGET_COMP_ID, self.config.target_comp_id.as_bytes());
        e.u64(tags::MSG_SEQ_NUM, from);
        e.bool(tags::POSS_DUP_FLAG, true);
        e.timestamp_us(tags::SENDING_TIME, now_ns);
        e.timestamp_us(tags::ORIG_SENDING_TIME, now_ns);
        e.bool(tags::GAP_FILL_FLAG, true);
        e.u64(tags::NEW_SEQ_NO, to);
        let bytes = e.finish();
        self.outbox.extend_from_slice(bytes);
        self.last_tx_ns = now_ns;
    }

    // ---------------------------------------------------------------
    // Sequence bookkeeping

    /// A message with the expected MsgSeqNum was handled.
    fn accept_seq(&mut self, seq: u64) -> Flow {
        debug_assert!(seq >= self.next_in);
        self.advance_in(seq + 1)
    }

    fn advance_in(&mut self, next: u64) -> Flow {
        if next > self.next_in {
            self.next_in = next;
        }
        match self.persist_in() {
            Ok(()) => Flow::Continue,
            Err(e) => Flow::Disconnect(format!("message store failed: {e}")),
        }
    }

    /// Writes the inbound MsgSeqNum that is safe to resume from.
    fn persist_in(&mut self) -> Result<(), StoreError> {
        let safe = self
            .unconfirmed
            .first()
            .copied()
            .unwrap_or(self.next_in)
            .min(self.next_in);
        self.store.set_next_in_seq(safe)
    }

    /// The application sent the engine an input for message `seq`; it stays
    /// unconfirmed until [`Session::confirm`].
    pub fn mark_unconfirmed(&mut self, seq: u64) {
        self.unconfirmed.insert(seq);
    }

    /// The engine answered the input for message `seq`: it is journaled.
    ///
    /// # Errors
    /// The store could not record it.
    pub fn confirm(&mut self, seq: u64) -> Result<(), StoreError> {
        if self.unconfirmed.remove(&seq) {
            self.persist_in()?;
        }
        Ok(())
    }

    fn reset_sequences(&mut self) -> Result<(), StoreError> {
        self.store.reset(self.now_ns)?;
        self.next_in = 1;
        self.unconfirmed.clear();
        self.queued.clear();
        self.resend_target = None;
        self.resending = None;
        Ok(())
    }

    // ---------------------------------------------------------------
    // Outbound

    /// Sends (or, while disconnected, stores for a later resend) an
    /// application message: `body` writes the fields after the standard
    /// header. `pos` is the engine event it carries, if any.
    ///
    /// # Errors
    /// The store failed: nothing was sent.
    pub fn send_app(
        &mut self,
        now_ns: u64,
        msg_type: &[u8],
        pos: Option<EnginePos>,
        body: impl FnOnce(&mut Encoder),
    ) -> Result<(), StoreError> {
        let seq = self.store.next_out_seq();
        self.encode(now_ns, msg_type, seq, body);
        let pos = pos.unwrap_or(self.pos);
        let bytes = self.encoder.message();
        self.store.append_out(seq, Some(bytes), pos)?;
        self.pos = pos.max(self.pos);
        if self.state != State::Disconnected {
            self.outbox.extend_from_slice(bytes);
            self.last_tx_ns = now_ns;
        }
        Ok(())
    }

    fn send_admin(
        &mut self,
        now_ns: u64,
        msg_type: &[u8],
        body: impl FnOnce(&mut Encoder),
    ) -> Result<(), StoreError> {
        let seq = self.store.next_out_seq();
        self.encode(now_ns, msg_type, seq, body);
        self.store.append_out(seq, None, self.pos)?;
        self.outbox.extend_from_slice(self.encoder.message());
        self.last_tx_ns = now_ns;
        Ok(())
    }

    fn encode(&mut self, now_ns: u64, msg_type: &[u8], seq: u64, body: impl FnOnce(&mut Encoder)) {
        let e = &mut self.encoder;
        e.start(BEGIN_STRING, msg_type);
        e.str(tags::SENDER_COMP_ID, self.config.sender_comp_id.as_bytes());
        e.str(tags::TARGET_COMP_ID, self.config.target_comp_id.as_bytes());
        e.u64(tags::MSG_SEQ_NUM, seq);
        e.timestamp_us(tags::SENDING_TIME, now_ns);
        body(e);
        e.finish();
    }

    fn send_reject(
        &mut self,
        now_ns: u64,
        ref_seq: u64,
        ref_msg_type: &[u8],
        ref_tag: Option<u32>,
        reason: SessionRejectReason,
        text: &str,
    ) {
        self.stats.rejects_sent += 1;
        let _ = self.send_admin(now_ns, b"3", |e| {
            e.u64(tags::REF_SEQ_NUM, ref_seq);
            if let Some(tag) = ref_tag {
                e.u64(tags::REF_TAG_ID, u64::from(tag));
            }
            if !ref_msg_type.is_empty() {
                e.str(tags::REF_MSG_TYPE, ref_msg_type);
            }
            e.u64(tags::SESSION_REJECT_REASON, reason as u64);
            e.str(tags::TEXT, text.as_bytes());
        });
    }

    /// A BusinessMessageReject (35=j) for message `ref_seq`.
    pub fn send_business_reject(
        &mut self,
        now_ns: u64,
        ref_seq: u64,
        ref_msg_type: &[u8],
        reason: u64,
        text: &str,
    ) {
        let _ = self.send_app(now_ns, b"j", None, |e| {
            e.u64(tags::REF_SEQ_NUM, ref_seq);
            e.str(tags::REF_MSG_TYPE, ref_msg_type);
            e.u64(tags::BUSINESS_REJECT_REASON, reason);
            e.str(tags::TEXT, text.as_bytes());
        });
    }

    fn send_resend_request(&mut self, now_ns: u64, target: u64) {
        let begin = self.next_in;
        self.resend_target = Some(target);
        let _ = self.send_admin(now_ns, b"2", |e| {
            e.u64(tags::BEGIN_SEQ_NO, begin);
            e.u64(tags::END_SEQ_NO, 0);
        });
    }

    /// Sends a Logout with `text` and ends the session (after the outbox is
    /// written).
    fn logout_and_disconnect(&mut self, now_ns: u64, text: &str) -> Flow {
        let _ = self.send_admin(now_ns, b"5", |e| e.str(tags::TEXT, text.as_bytes()));
        Flow::Disconnect(text.to_owned())
    }

    /// Starts a Logout from our side (shutdown, end of the week): the
    /// connection closes when the client answers or after the timeout.
    pub fn begin_logout(&mut self, now_ns: u64, text: &str) {
        if self.state != State::LoggedOn {
            return;
        }
        let _ = self.send_admin(now_ns, b"5", |e| e.str(tags::TEXT, text.as_bytes()));
        self.state = State::LogoutSent {
            deadline_ns: now_ns + self.config.logout_timeout_ms * 1_000_000,
        };
    }

    /// The connection is gone (closed by either side).
    pub fn on_disconnect(&mut self) {
        self.state = State::Disconnected;
        self.test_request = None;
        self.resending = None;
        self.queued.clear();
        self.resend_target = None;
        self.outbox.clear();
        if self.config.reset_on_disconnect {
            let _ = self.reset_sequences();
        }
    }

    /// Timers and backlogs: heartbeats and test requests [4, 5, 6], the
    /// logout timeout, a resend in progress, the rate limiter's queue.
    pub fn poll<A: Application>(&mut self, now_ns: u64, app: &mut A) -> Flow {
        self.now_ns = now_ns;
        // Keep the quota figure current while the client is quiet.
        self.bucket.refill(now_ns);
        if self.state == State::LoggedOn
            && now_ns.saturating_sub(self.schedule_checked_ns) >= 1_000_000_000
        {
            self.schedule_checked_ns = now_ns;
            if self.weekly_reset_due(now_ns) {
                // The next Logon starts both sequences at 1.
                self.begin_logout(now_ns, "weekly sequence reset");
            }
        }
        match self.state {
            State::Disconnected => {
                // Execution reports are still stored while disconnected;
                // queued application messages die with the connection.
                for q in &mut self.rate_queues {
                    q.clear();
                }
                return Flow::Continue;
            }
            State::LogoutSent { deadline_ns } => {
                if now_ns >= deadline_ns {
                    return Flow::Disconnect("no answer to our Logout".to_owned());
                }
                return Flow::Continue;
            }
            State::LoggedOn => {}
        }
        self.drain_rate_queues(now_ns, app);
        self.continue_resend(now_ns);
        if let Some((_, sent_ns)) = self.test_request {
            if now_ns.saturating_sub(sent_ns) >= self.heartbeat_ns {
                return Flow::Disconnect("no answer to TestRequest".to_owned());
            }
        } else if now_ns.saturating_sub(self.last_rx_ns) >= self.heartbeat_ns * 6 / 5 {
            self.test_request_counter += 1;
            let id = test_req_id(self.test_request_counter);
            let _ = self.send_admin(now_ns, b"1", |e| e.str(tags::TEST_REQ_ID, id.as_bytes()));
            self.test_request = Some((self.test_request_counter, now_ns));
        }
        if now_ns.saturating_sub(self.last_tx_ns) >= self.heartbeat_ns {
            let _ = self.send_admin(now_ns, b"0", |_| {});
        }
        Flow::Continue
    }
}

fn test_req_id(n: u64) -> String {
    let mut s = String::with_capacity(16);
    let _ = write!(s, "TEST{n}");
    s
}

/// Tags that belong to the standard header or trailer (which a resend
/// writes anew).
fn is_header_or_trailer(tag: u32) -> bool {
    matches!(
        tag,
        tags::BEGIN_STRING
            | tags::BODY_LENGTH
            | tags::MSG_TYPE
            | tags::SENDER_COMP_ID
            | tags::TARGET_COMP_ID
            | tags::MSG_SEQ_NUM
            | tags::SENDING_TIME
            | tags::POSS_DUP_FLAG
            | tags::POSS_RESEND
            | tags::ORIG_SENDING_TIME
            | tags::CHECK_SUM
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::config::WeeklyReset;
    use engine::types::ParticipantId;

    struct NoApp;
    impl Application for NoApp {
        fn on_app(&mut self, _: &mut Session, _: &Message<'_>, _: u64, _: u64) {}
        fn on_throttled(&mut self, _: &mut Session, _: &Message<'_>, _: u64) {}
    }

    fn ns(s: &str) -> u64 {
        s.parse::<jiff::Timestamp>().unwrap().as_nanosecond() as u64
    }

    fn logon(seq: u64, now_ns: u64) -> Vec<u8> {
        let mut e = Encoder::new();
        e.start(BEGIN_STRING, b"A");
        e.str(tags::SENDER_COMP_ID, b"C");
        e.str(tags::TARGET_COMP_ID, b"V");
        e.u64(tags::MSG_SEQ_NUM, seq);
        e.timestamp_us(tags::SENDING_TIME, now_ns);
        e.u64(tags::ENCRYPT_METHOD, 0);
        e.u64(tags::HEART_BT_INT, 30);
        e.finish().to_vec()
    }

    #[test]
    fn the_weekly_reset_starts_both_sequences_again_at_the_first_logon_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let created = ns("2026-11-20T12:00:00Z"); // a Friday
        let store = MessageStore::open(&dir.path().join("s.log"), created).unwrap();
        let mut config = SessionConfig::new("V", "C", ParticipantId(1));
        config.weekly_reset = Some(WeeklyReset::default());
        let mut s = Session::new(config, 0, store);
        // Saturday: no reset due; sequences move on.
        let sat = ns("2026-11-21T12:00:00Z");
        assert_eq!(s.on_logon(&logon(1, sat), sat), Flow::Continue);
        assert_eq!((s.next_in_seq(), s.next_out_seq()), (2, 2));
        s.on_disconnect();
        let sat2 = sat + 60_000_000_000;
        assert_eq!(s.on_logon(&logon(2, sat2), sat2), Flow::Continue);
        assert_eq!((s.next_in_seq(), s.next_out_seq()), (3, 3));
        // While logged on, Sunday 17:00 New York passes: we log out...
        let sun = ns("2026-11-22T22:00:01Z");
        let _ = s.poll(sun, &mut NoApp);
        assert!(matches!(s.state(), State::LogoutSent { .. }));
        s.on_disconnect();
        // ...and the next Logon starts at 1 on both sides.
        assert_eq!(s.on_logon(&logon(1, sun), sun), Flow::Continue);
        assert_eq!((s.next_in_seq(), s.next_out_seq()), (2, 2));
    }
}
