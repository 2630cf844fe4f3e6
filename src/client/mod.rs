//! `venue client`: a trading terminal on one FIX 4.4 session. A person (or a
//! script on stdin) types orders, cancels and replaces; every message from
//! the venue is printed as it arrives, in one readable line.
//!
//! # Threads
//! - The main thread reads commands (from a stdin thread, through a
//!   channel that also carries the end of the session), sends requests and,
//!   for each, waits up to `--timeout-ms` for the venue's first answer, so a
//!   script's output comes out in the order it was typed (`buy` then
//!   `orders` shows the order acknowledged).
//! - The reader thread frames and parses what the venue sends (the
//!   venue's own codec, `gateway::fix::codec`), keeps the session alive
//!   (Heartbeat, TestRequest, a gap fill for a ResendRequest), updates the
//!   order table and prints each report, then marks the request it answers.
//! - A market data thread, started on the first `book` or `watch`
//!   ([`market`]).
//!
//! Lock order: the [`fix::Writer`] before the [`State`]; the reader thread
//! never holds the state while it writes. A request is registered as
//! pending under the writer's lock with the MsgSeqNum it is about to get,
//! so its answer can never arrive before the terminal waits for it.
//!
//! # The session
//! The terminal keeps no message store, so it logs on with
//! ResetSeqNumFlag(141)=Y: both sides start at 1, and reports the venue
//! stored for the session while nobody was logged on are not resent. To
//! show what is still live it asks, right after logon, for the status of
//! every live order of its participant (OrderMassStatusRequest), then for
//! the status of an id it never uses: that answer comes after the mass
//! status answers (the engine answers in order), so it marks their end.
//!
//! # Known limitations
//! No stop orders, GTD, icebergs, minimum quantity or post-only from the
//! command line; `status ID` by OrderID only for orders this terminal has
//! seen (FIX's OrderStatusRequest requires a ClOrdID, which the venue looks
//! up first).

mod command;
mod fix;
mod market;
mod orders;

use std::io::{BufRead, IsTerminal, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use gateway::fix::codec::Encoder;
use gateway::fix::tags;

use command::{Command, NewOrder};
use fix::{FixMsg, Incoming, Reader, Writer, now_ns};
use market::MarketData;
use orders::Orders;

/// FIX's placeholder for a Symbol(55) that does not apply: a status or
/// cancel of an order this terminal has not seen, which the venue finds by
/// its id (it ignores Symbol and Side on those requests).
const SYMBOL_NOT_APPLICABLE: &str = "[N/A]";

/// `venue client`'s flags.
#[derive(Debug, clap::Args)]
pub(crate) struct ClientArgs {
    /// The venue's FIX acceptor (`[fix] listen`).
    #[arg(long, default_value = "127.0.0.1:9878")]
    fix: String,
    /// Your SenderCompID (the configuration's `sender_comp_id` of a
    /// participant; the example's CLIENT1 to CLIENT4).
    #[arg(long, default_value = "CLIENT1")]
    sender_comp_id: String,
    /// The venue's CompID, your TargetCompID (`[fix] comp_id`).
    #[arg(long, default_value = "VENUE")]
    target_comp_id: String,
    /// Username(553), for a session that has one (the example's CLIENT4:
    /// dealer4). A password is asked for if none is given.
    #[arg(long)]
    username: Option<String>,
    /// Password(554). Other users of this machine can read it in the
    /// process list: prefer --ask-password.
    #[arg(long)]
    password: Option<String>,
    /// Ask for the password: from the terminal without echo, or, when
    /// stdin is not a terminal, from the first line of stdin.
    #[arg(long)]
    ask_password: bool,
    /// HeartBtInt(108) in seconds.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3600))]
    heartbeat_s: u32,
    /// The venue's WebSocket API, for `book` and `watch` (public market
    /// data: no login, no key).
    #[arg(long, default_value = "ws://127.0.0.1:9879/")]
    ws: String,
    /// How long to wait for the venue: connecting, logging on and out, and
    /// the first answer to each request.
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
}

/// The prompt shown to a person at a terminal.
const PROMPT: &str = "venue> ";

/// Whether the prompt is on the screen waiting for a line (only ever set
/// when stdin and stdout are both terminals).
static PROMPT_SHOWN: AtomicBool = AtomicBool::new(false);

/// Shows the prompt.
fn prompt() {
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{PROMPT}");
    let _ = out.flush();
    PROMPT_SHOWN.store(true, Ordering::SeqCst);
}

/// Prints one line at once (a closed stdout is not an error worth dying
/// for: the session still logs out cleanly). A line that arrives while the
/// prompt waits replaces the prompt, which is drawn again below it.
pub(crate) fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    if PROMPT_SHOWN.load(Ordering::SeqCst) {
        // Carriage return, then erase to the end of the line.
        let _ = write!(out, "\r\x1b[K{line}\n{PROMPT}");
    } else {
        let _ = writeln!(out, "{line}");
    }
    let _ = out.flush();
}

/// A request waiting for its first answer.
#[derive(Debug)]
struct Pending {
    /// The MsgSeqNum it went out with (session and business rejects name it).
    seq: u64,
    /// The id its answer carries: ClOrdID(11), or SecurityReqID(320).
    key: String,
}

/// What the reader thread and the main thread share.
#[derive(Debug, Default)]
struct State {
    orders: Orders,
    pending: Vec<Pending>,
    /// The venue's symbols, once its SecurityList has come.
    symbols: Option<Vec<String>>,
    /// MassStatusReqID(584) of the logon's status request, and the ClOrdID
    /// whose status marks the end of its answer: both read silently.
    quiet_mass_status: Option<String>,
    quiet_status: Option<String>,
    /// We sent a Logout.
    logging_out: bool,
    /// The venue answered it.
    logout_answered: bool,
    /// Why the session ended, once it has.
    ended: Option<String>,
    /// The MsgSeqNum expected next from the venue.
    expected_in: u64,
}

impl State {
    /// Marks the requests that `msg` answers.
    fn answered(&mut self, key: Option<&str>, ref_seq: Option<u64>) {
        self.pending
            .retain(|p| Some(p.key.as_str()) != key && Some(p.seq) != ref_seq);
    }
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn lock_writer(w: &Mutex<Writer>) -> MutexGuard<'_, Writer> {
    w.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the main loop waits for.
#[derive(Debug)]
enum Line {
    Text(String),
    Eof,
    /// The session ended (the reader thread says why).
    Ended(String),
}

/// ClOrdIDs unique across runs: the start time in milliseconds, base 36
/// (8 characters until the year 2059), then a counter.
#[derive(Debug)]
struct Ids {
    prefix: String,
    n: u64,
}

impl Ids {
    fn new() -> Ids {
        let mut ms = now_ns() / 1_000_000;
        let mut digits = Vec::new();
        loop {
            digits.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[(ms % 36) as usize]);
            ms /= 36;
            if ms == 0 {
                break;
            }
        }
        digits.reverse();
        Ids {
            prefix: String::from_utf8_lossy(&digits).into_owned(),
            n: 0,
        }
    }

    fn next(&mut self) -> String {
        self.n += 1;
        format!("{}-{}", self.prefix, self.n)
    }

    /// An id never handed out by [`Ids::next`].
    fn unused(&self, what: &str) -> String {
        format!("{}-{what}", self.prefix)
    }
}

/// The symbol the venue calls what a person typed: exact, or the one whose
/// letters and digits match regardless of case (`ust10y` is `UST-10Y`).
fn resolve_symbol(symbols: Option<&[String]>, typed: &str) -> Result<String, String> {
    let Some(list) = symbols else {
        return Ok(typed.to_owned());
    };
    if list.iter().any(|s| s == typed) {
        return Ok(typed.to_owned());
    }
    let norm = |s: &str| -> String {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .collect()
    };
    let want = norm(typed);
    let found: Vec<&String> = list.iter().filter(|s| norm(s) == want).collect();
    match found[..] {
        [one] => Ok(one.clone()),
        [] => Err(format!(
            "unknown symbol {typed}; the venue lists {}",
            list.join(", ")
        )),
        _ => Err(format!(
            "{typed} could be any of {}; type it exactly",
            found
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Runs `venue client` until `quit`, the end of stdin, or the end of the
/// session.
///
/// # Errors
/// The venue is unreachable, refused the logon, ended the session, or did
/// not answer the Logout.
pub(crate) fn run(args: &ClientArgs) -> Result<()> {
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    let password = password(args)?;
    let stream = connect(&args.fix, timeout)?;
    let (writer, reader, expected_in) = logon(stream, args, password.as_deref(), timeout)?;
    say(&format!(
        "logged on to {} as {} -> {} (sequence numbers reset; heartbeat {} s); type `help` for commands",
        args.fix, args.sender_comp_id, args.target_comp_id, args.heartbeat_s
    ));
    let writer = Arc::new(Mutex::new(writer));
    let shared = Arc::new(Shared::default());
    shared.lock().expected_in = expected_in;
    let (tx, rx) = mpsc::channel();
    {
        let (writer, shared, tx) = (Arc::clone(&writer), Arc::clone(&shared), tx.clone());
        let heartbeat = Duration::from_secs(u64::from(args.heartbeat_s));
        std::thread::Builder::new()
            .name("client-fix-reader".to_owned())
            .spawn(move || read_loop(reader, &writer, &shared, heartbeat, &tx))
            .context("cannot start the reader thread")?;
    }
    {
        // Ctrl-C (or SIGTERM) logs out as `quit` does; a second one exits
        // at once.
        let tx = tx.clone();
        let pressed = AtomicBool::new(false);
        ctrlc::set_handler(move || {
            if pressed.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            let _ = tx.send(Line::Eof);
        })
        .context("cannot install the Ctrl-C handler")?;
    }
    std::thread::Builder::new()
        .name("client-stdin".to_owned())
        .spawn(move || {
            for line in std::io::stdin().lock().lines() {
                match line {
                    Ok(l) => {
                        if tx.send(Line::Text(l)).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        say(&format!("cannot read stdin: {e}"));
                        break;
                    }
                }
            }
            let _ = tx.send(Line::Eof);
        })
        .context("cannot start the stdin thread")?;
    let mut terminal = Terminal {
        writer,
        shared,
        ids: Ids::new(),
        market: None,
        ws_url: args.ws.clone(),
        timeout,
    };
    terminal.start();
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    loop {
        if interactive {
            prompt();
        }
        let next = rx.recv();
        PROMPT_SHOWN.store(false, Ordering::SeqCst);
        match next {
            Ok(Line::Text(text)) => match command::parse(&text) {
                Ok(Command::Quit) => return terminal.quit(),
                Ok(cmd) => {
                    if let Err(e) = terminal.execute(cmd) {
                        say(&e);
                    }
                }
                Err(usage) => say(&usage.0),
            },
            Ok(Line::Eof) | Err(_) => return terminal.quit(),
            Ok(Line::Ended(reason)) => {
                terminal.stop_market();
                bail!("the session ended: {reason}");
            }
        }
    }
}

/// The password to send, if any: given, or asked for.
fn password(args: &ClientArgs) -> Result<Option<String>> {
    if args.password.is_some() {
        return Ok(args.password.clone());
    }
    if !args.ask_password && args.username.is_none() {
        return Ok(None);
    }
    let prompt = format!("password for {}: ", args.sender_comp_id);
    let password = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt).context("cannot read the password")?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    Ok(Some(password))
}

fn connect(addr: &str, timeout: Duration) -> Result<TcpStream> {
    let addrs: Vec<_> = addr
        .to_socket_addrs()
        .with_context(|| format!("{addr} is not an address (HOST:PORT)"))?
        .collect();
    let mut last = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(s) => {
                s.set_nodelay(true)
                    .with_context(|| format!("cannot set TCP_NODELAY on {a}"))?;
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    match last {
        Some(e) => bail!(
            "cannot connect to the venue's FIX acceptor at {addr}: {e} (is `venue run` running, and is --fix its [fix] listen address?)"
        ),
        None => bail!("{addr} names no address"),
    }
}

/// Sends the Logon and waits for the answer. Returns the two halves and
/// the MsgSeqNum expected next from the venue.
fn logon(
    stream: TcpStream,
    args: &ClientArgs,
    password: Option<&str>,
    timeout: Duration,
) -> Result<(Writer, Reader, u64)> {
    let write_half = stream
        .try_clone()
        .context("cannot share the connection between two threads")?;
    let mut writer = Writer::new(write_half, &args.sender_comp_id, &args.target_comp_id);
    let mut reader = Reader::new(stream);
    writer
        .send(b"A", |e| {
            e.u64(tags::ENCRYPT_METHOD, 0);
            e.u64(tags::HEART_BT_INT, u64::from(args.heartbeat_s));
            e.bool(tags::RESET_SEQ_NUM_FLAG, true);
            if let Some(u) = &args.username {
                e.str(tags::USERNAME, u.as_bytes());
            }
            if let Some(p) = password {
                e.str(tags::PASSWORD, p.as_bytes());
            }
        })
        .context("cannot send the Logon")?;
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match reader.next(left) {
            Incoming::Message(m) if m.msg_type == "A" => {
                return Ok((writer, reader, m.seq().unwrap_or(1).saturating_add(1)));
            }
            Incoming::Message(m) if m.msg_type == "5" => {
                let text = m.get(tags::TEXT).unwrap_or("no reason given");
                let hint = if password.is_none() && text.contains("password") {
                    " (this session needs a password: --username and --password, or --ask-password)"
                } else {
                    ""
                };
                bail!("the venue refused the logon: {text}{hint}");
            }
            Incoming::Message(_) => {}
            Incoming::Quiet => bail!(
                "no answer to the Logon from {} within {} ms",
                args.fix,
                timeout.as_millis()
            ),
            Incoming::Closed(reason) => bail!(
                "{reason} without answering the Logon: no session {} -> {} is configured there, or it is already logged on from elsewhere",
                args.sender_comp_id,
                args.target_comp_id
            ),
        }
    }
}

/// The reader thread: see the module docs.
fn read_loop(
    mut reader: Reader,
    writer: &Mutex<Writer>,
    shared: &Shared,
    heartbeat: Duration,
    events: &mpsc::Sender<Line>,
) {
    let mut last_rx = Instant::now();
    let mut test_request: Option<Instant> = None;
    let mut test_requests = 0u64;
    let end = loop {
        match reader.next(Duration::from_millis(250)) {
            Incoming::Message(m) => {
                last_rx = Instant::now();
                test_request = None;
                if let Some(end) = on_message(&m, writer, shared) {
                    break end;
                }
            }
            Incoming::Quiet => {}
            Incoming::Closed(reason) => break reason,
        }
        let mut w = lock_writer(writer);
        if w.last_sent().elapsed() >= heartbeat
            && let Err(e) = w.send(b"0", |_| {})
        {
            break format!("cannot send a Heartbeat: {e}");
        }
        if test_request.is_none() && last_rx.elapsed() > heartbeat + heartbeat / 2 {
            test_requests += 1;
            let id = format!("TEST-{test_requests}");
            if let Err(e) = w.send(b"1", |e| e.str(tags::TEST_REQ_ID, id.as_bytes())) {
                break format!("cannot send a TestRequest: {e}");
            }
            test_request = Some(Instant::now());
        }
        if test_request.is_some_and(|t| t.elapsed() > heartbeat) {
            break format!(
                "the venue has sent nothing for {} s, not even an answer to a TestRequest",
                last_rx.elapsed().as_secs()
            );
        }
    };
    let mut st = shared.lock();
    let normal = st.logout_answered;
    if st.ended.is_none() {
        st.ended = Some(end.clone());
    }
    shared.changed.notify_all();
    drop(st);
    if !normal {
        let _ = events.send(Line::Ended(end));
    }
}

/// Handles one message from the venue; `Some(reason)` ends the session.
fn on_message(m: &FixMsg, writer: &Mutex<Writer>, shared: &Shared) -> Option<String> {
    // Sequence numbers: in order, a gap (asked for again), or a resend.
    let mut gap = None;
    {
        let mut st = shared.lock();
        match m.seq() {
            Some(s) if s == st.expected_in => st.expected_in = s.saturating_add(1),
            Some(s) if s > st.expected_in => {
                if m.msg_type != "4" {
                    gap = Some((st.expected_in, s - 1));
                }
                st.expected_in = s.saturating_add(1);
            }
            // A message resent at our request.
            Some(_) if m.poss_dup() => {}
            Some(s) => {
                say(&format!(
                    "(ignored a message from the venue numbered {s}; expected {})",
                    st.expected_in
                ));
                return None;
            }
            None => {
                say("(ignored a message from the venue without MsgSeqNum)");
                return None;
            }
        }
    }
    if let Some((begin, end)) = gap {
        say(&format!(
            "(messages {begin} to {end} from the venue did not arrive; asking for them again)"
        ));
        let sent = lock_writer(writer).send(b"2", |e| {
            e.u64(tags::BEGIN_SEQ_NO, begin);
            e.u64(tags::END_SEQ_NO, end);
        });
        if let Err(e) = sent {
            return Some(format!("cannot send a ResendRequest: {e}"));
        }
    }
    let answered = |st: &mut State, key: Option<&str>, ref_seq: Option<u64>| {
        st.answered(key, ref_seq);
        shared.changed.notify_all();
    };
    match m.msg_type.as_str() {
        "0" | "A" => {}
        "1" => {
            let id = m.get(tags::TEST_REQ_ID).unwrap_or("").to_owned();
            if let Err(e) =
                lock_writer(writer).send(b"0", |e| e.str(tags::TEST_REQ_ID, id.as_bytes()))
            {
                return Some(format!("cannot answer a TestRequest: {e}"));
            }
        }
        "2" => {
            let begin = m.get_u64(tags::BEGIN_SEQ_NO).unwrap_or(1);
            if let Err(e) = lock_writer(writer).gap_fill(begin) {
                return Some(format!("cannot answer a ResendRequest: {e}"));
            }
        }
        "3" => {
            let mut st = shared.lock();
            say(&orders::describe_session_reject(m));
            answered(&mut st, None, m.get_u64(tags::REF_SEQ_NUM));
        }
        "4" => {
            if let Some(n) = m.get_u64(tags::NEW_SEQ_NO) {
                let mut st = shared.lock();
                st.expected_in = st.expected_in.max(n);
            }
        }
        "5" => {
            let mut st = shared.lock();
            if st.logging_out {
                st.logout_answered = true;
                shared.changed.notify_all();
                return Some("logged out".to_owned());
            }
            drop(st);
            let text = m.get(tags::TEXT).unwrap_or("no reason given").to_owned();
            let _ = lock_writer(writer).send(b"5", |_| {});
            return Some(format!("the venue logged this session out: {text}"));
        }
        "8" => {
            let mut st = shared.lock();
            let quiet = (st.quiet_mass_status.is_some()
                && m.get(tags::MASS_STATUS_REQ_ID) == st.quiet_mass_status.as_deref())
                || (st.quiet_status.is_some()
                    && m.get(tags::CL_ORD_ID) == st.quiet_status.as_deref());
            if !quiet {
                say(&orders::describe_exec(m, st.orders.known(m)));
            }
            let end_marker =
                st.quiet_status.is_some() && m.get(tags::CL_ORD_ID) == st.quiet_status.as_deref();
            if !end_marker {
                st.orders.apply(m);
            }
            answered(&mut st, m.get(tags::CL_ORD_ID), None);
        }
        "9" => {
            let mut st = shared.lock();
            say(&orders::describe_cancel_reject(m));
            answered(&mut st, m.get(tags::CL_ORD_ID), None);
        }
        "j" => {
            let mut st = shared.lock();
            say(&orders::describe_business_reject(m));
            answered(&mut st, None, m.get_u64(tags::REF_SEQ_NUM));
        }
        "r" => {
            let mut st = shared.lock();
            say(&orders::describe_mass_cancel(m));
            answered(&mut st, m.get(tags::CL_ORD_ID), None);
        }
        "y" => {
            let mut st = shared.lock();
            st.symbols = Some(m.all(tags::SYMBOL).map(str::to_owned).collect());
            answered(&mut st, m.get(tags::SECURITY_REQ_ID), None);
        }
        other => say(&format!(
            "(a message of type 35={other} from the venue, not shown)"
        )),
    }
    None
}

/// The main thread's side of the session.
#[derive(Debug)]
struct Terminal {
    writer: Arc<Mutex<Writer>>,
    shared: Arc<Shared>,
    ids: Ids,
    market: Option<MarketData>,
    ws_url: String,
    timeout: Duration,
}

impl Terminal {
    /// Sends a request and waits for its first answer (see the module docs).
    fn request(
        &mut self,
        msg_type: &[u8],
        key: &str,
        body: impl FnOnce(&mut Encoder),
    ) -> Result<(), String> {
        let mut w = lock_writer(&self.writer);
        let seq = w.next_seq();
        self.shared.lock().pending.push(Pending {
            seq,
            key: key.to_owned(),
        });
        if let Err(e) = w.send(msg_type, body) {
            self.shared.lock().pending.retain(|p| p.seq != seq);
            return Err(format!("cannot send to the venue: {e}"));
        }
        drop(w);
        self.wait_for_answer(seq)
    }

    fn wait_for_answer(&self, seq: u64) -> Result<(), String> {
        let deadline = Instant::now() + self.timeout;
        let mut st = self.shared.lock();
        loop {
            if !st.pending.iter().any(|p| p.seq == seq) {
                return Ok(());
            }
            if let Some(reason) = &st.ended {
                return Err(format!("the session ended: {reason}"));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                st.pending.retain(|p| p.seq != seq);
                return Err(format!(
                    "(no answer from the venue within {} ms; it will be printed when it comes)",
                    self.timeout.as_millis()
                ));
            }
            st = self
                .shared
                .changed
                .wait_timeout(st, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// After logon: the venue's symbols, then the participant's live orders.
    fn start(&mut self) {
        let req = self.ids.unused("symbols");
        let asked = self.request(b"x", &req, |e| {
            e.str(tags::SECURITY_REQ_ID, req.as_bytes());
            e.u64(tags::SECURITY_LIST_REQUEST_TYPE, 4);
        });
        match (asked, &self.shared.lock().symbols) {
            (Ok(()), Some(list)) => say(&format!("instruments: {}", list.join(", "))),
            (Err(e), _) => say(&format!("the venue did not list its instruments: {e}")),
            (Ok(()), None) => say("the venue did not list its instruments"),
        }
        let mass = self.ids.unused("live");
        let end = self.ids.unused("0");
        {
            let mut st = self.shared.lock();
            st.quiet_mass_status = Some(mass.clone());
            st.quiet_status = Some(end.clone());
        }
        let sent = lock_writer(&self.writer).send(b"AF", |e| {
            e.str(tags::MASS_STATUS_REQ_ID, mass.as_bytes());
            e.u64(tags::MASS_STATUS_REQ_TYPE, 7);
        });
        let answered = sent.map_err(|e| e.to_string()).and_then(|_| {
            self.request(b"H", &end, |e| {
                e.str(tags::CL_ORD_ID, end.as_bytes());
                e.str(tags::SYMBOL, SYMBOL_NOT_APPLICABLE.as_bytes());
                e.char(tags::SIDE, b'1');
            })
        });
        if let Err(e) = answered {
            say(&format!("cannot list the live orders: {e}"));
        }
        let st = self.shared.lock();
        let live = st.orders.all().iter().filter(|o| o.is_live()).count();
        if live > 0 {
            say(&format!(
                "{live} live order{} of this participant from before this session:",
                if live == 1 { "" } else { "s" }
            ));
            for line in orders::render(st.orders.all(), false) {
                say(&format!("  {line}"));
            }
        }
    }

    fn symbol(&self, typed: &str) -> Result<String, String> {
        resolve_symbol(self.shared.lock().symbols.as_deref(), typed)
    }

    fn execute(&mut self, cmd: Command) -> Result<(), String> {
        match cmd {
            Command::Nothing | Command::Quit => Ok(()),
            Command::Help => {
                say(command::HELP);
                Ok(())
            }
            Command::New(o) => self.new_order(&o),
            Command::Cancel { id } => self.cancel(&id),
            Command::CancelAll { symbol } => {
                let symbol = symbol.map(|s| self.symbol(&s)).transpose()?;
                let cl = self.ids.next();
                self.request(b"q", &cl, |e| {
                    e.str(tags::CL_ORD_ID, cl.as_bytes());
                    e.char(
                        tags::MASS_CANCEL_REQUEST_TYPE,
                        if symbol.is_some() { b'1' } else { b'7' },
                    );
                    if let Some(s) = &symbol {
                        e.str(tags::SYMBOL, s.as_bytes());
                    }
                    e.timestamp_ms(tags::TRANSACT_TIME, now_ns());
                })
            }
            Command::Replace { id, qty, price } => self.replace(&id, &qty, price.as_deref()),
            Command::Orders { all } => {
                let st = self.shared.lock();
                for line in orders::render(st.orders.all(), all) {
                    say(&line);
                }
                Ok(())
            }
            Command::Status { id } => {
                let known = self.shared.lock().orders.find(&id).cloned();
                let (cl, order_id, symbol, side) = match &known {
                    Some(o) => (
                        o.cl_ord_id.clone(),
                        o.order_id.clone(),
                        o.symbol.clone(),
                        o.side.bytes().next().unwrap_or(b'1'),
                    ),
                    None => (id.clone(), None, SYMBOL_NOT_APPLICABLE.to_owned(), b'1'),
                };
                self.request(b"H", &cl, |e| {
                    if let Some(oid) = &order_id {
                        e.str(tags::ORDER_ID, oid.as_bytes());
                    }
                    e.str(tags::CL_ORD_ID, cl.as_bytes());
                    e.str(tags::SYMBOL, symbol.as_bytes());
                    e.char(tags::SIDE, side);
                })
            }
            Command::Symbols => {
                match &self.shared.lock().symbols {
                    Some(list) => say(&format!("instruments: {}", list.join(", "))),
                    None => say("the venue did not list its instruments"),
                }
                Ok(())
            }
            Command::Book { symbol } => {
                let symbol = self.symbol(&symbol)?;
                for line in self.market()?.book(&symbol)? {
                    say(&line);
                }
                Ok(())
            }
            Command::Watch { symbol } => {
                let symbol = self.symbol(&symbol)?;
                self.market()?.watch(&symbol)
            }
            Command::Unwatch { symbol } => {
                let symbol = self.symbol(&symbol)?;
                say(&self.market()?.unwatch(&symbol)?);
                Ok(())
            }
        }
    }

    fn new_order(&mut self, o: &NewOrder) -> Result<(), String> {
        let symbol = self.symbol(&o.symbol)?;
        let cl = self.ids.next();
        let side = o.side.fix();
        let ord_type = if o.price.is_some() { b'2' } else { b'1' };
        let tif = o.tif.unwrap_or(command::Tif::Day).fix();
        self.shared.lock().orders.sent(
            &cl,
            &symbol,
            side,
            ord_type,
            tif,
            o.price.as_deref(),
            &o.qty,
        );
        self.request(b"D", &cl, |e| {
            e.str(tags::CL_ORD_ID, cl.as_bytes());
            e.char(tags::HANDL_INST, b'1');
            e.str(tags::SYMBOL, symbol.as_bytes());
            e.char(tags::SIDE, side);
            e.timestamp_ms(tags::TRANSACT_TIME, now_ns());
            e.str(tags::ORDER_QTY, o.qty.as_bytes());
            e.char(tags::ORD_TYPE, ord_type);
            if let Some(p) = &o.price {
                e.str(tags::PRICE, p.as_bytes());
            }
            e.char(tags::TIME_IN_FORCE, tif);
        })
    }

    fn cancel(&mut self, id: &str) -> Result<(), String> {
        let known = self.shared.lock().orders.find(id).cloned();
        let cl = self.ids.next();
        // An order this terminal has not seen: by OrderID if the id is a
        // number (the venue uses OrderID(37) first), else by ClOrdID.
        let (orig, order_id, symbol, side, qty) = match &known {
            Some(o) => (
                o.cl_ord_id.clone(),
                o.order_id.clone(),
                o.symbol.clone(),
                o.side.bytes().next().unwrap_or(b'1'),
                Some(o.qty.clone()).filter(|q| !q.is_empty()),
            ),
            None => (
                id.to_owned(),
                id.parse::<u64>().is_ok().then(|| id.to_owned()),
                SYMBOL_NOT_APPLICABLE.to_owned(),
                b'1',
                None,
            ),
        };
        self.request(b"F", &cl, |e| {
            e.str(tags::ORIG_CL_ORD_ID, orig.as_bytes());
            if let Some(oid) = &order_id {
                e.str(tags::ORDER_ID, oid.as_bytes());
            }
            e.str(tags::CL_ORD_ID, cl.as_bytes());
            e.str(tags::SYMBOL, symbol.as_bytes());
            e.char(tags::SIDE, side);
            e.timestamp_ms(tags::TRANSACT_TIME, now_ns());
            if let Some(q) = &qty {
                e.str(tags::ORDER_QTY, q.as_bytes());
            }
        })
    }

    fn replace(&mut self, id: &str, qty: &str, price: Option<&str>) -> Result<(), String> {
        let Some(o) = self.shared.lock().orders.find(id).cloned() else {
            return Err(format!(
                "unknown order {id}: a replace names the order's instrument and side, so it needs an order this terminal has seen (`status {id}` asks the venue; `orders all` lists what it has seen)"
            ));
        };
        let price = price.map(str::to_owned).or_else(|| o.price.clone());
        let cl = self.ids.next();
        let side = o.side.bytes().next().unwrap_or(b'1');
        let ord_type = o.ord_type.bytes().next().unwrap_or(b'2');
        let tif = o.tif.bytes().next().unwrap_or(b'0');
        self.request(b"G", &cl, |e| {
            if let Some(oid) = &o.order_id {
                e.str(tags::ORDER_ID, oid.as_bytes());
            }
            e.str(tags::ORIG_CL_ORD_ID, o.cl_ord_id.as_bytes());
            e.str(tags::CL_ORD_ID, cl.as_bytes());
            e.char(tags::HANDL_INST, b'1');
            e.str(tags::SYMBOL, o.symbol.as_bytes());
            e.char(tags::SIDE, side);
            e.timestamp_ms(tags::TRANSACT_TIME, now_ns());
            e.str(tags::ORDER_QTY, qty.as_bytes());
            e.char(tags::ORD_TYPE, ord_type);
            if let Some(p) = &price {
                e.str(tags::PRICE, p.as_bytes());
            }
            e.char(tags::TIME_IN_FORCE, tif);
        })
    }

    /// The market data connection, opened on first use (and again after
    /// it closed).
    fn market(&mut self) -> Result<&MarketData, String> {
        if self.market.as_ref().is_some_and(|m| !m.is_open()) {
            self.market = None;
        }
        if self.market.is_none() {
            let md = MarketData::connect(&self.ws_url, self.timeout).map_err(|e| {
                format!("{e}; `book` and `watch` read the venue's WebSocket API (--ws URL)")
            })?;
            self.market = Some(md);
        }
        self.market
            .as_ref()
            .ok_or_else(|| "no market data connection".to_owned())
    }

    fn stop_market(&mut self) {
        if let Some(md) = self.market.take() {
            md.stop();
        }
    }

    /// Waits for answers still due, logs out, and waits for the venue's
    /// Logout.
    fn quit(&mut self) -> Result<()> {
        self.stop_market();
        let deadline = Instant::now() + self.timeout;
        let mut st = self.shared.lock();
        while !st.pending.is_empty() && st.ended.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            st = self
                .shared
                .changed
                .wait_timeout(st, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        if let Some(reason) = &st.ended {
            bail!("the session ended: {reason}");
        }
        st.logging_out = true;
        drop(st);
        {
            let mut w = lock_writer(&self.writer);
            w.send(b"5", |_| {}).context("cannot send the Logout")?;
        }
        let deadline = Instant::now() + self.timeout;
        let mut st = self.shared.lock();
        while !st.logout_answered && st.ended.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            st = self
                .shared
                .changed
                .wait_timeout(st, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        let answered = st.logout_answered;
        let ended = st.ended.clone();
        drop(st);
        lock_writer(&self.writer).shutdown();
        if answered {
            say("logged out");
            return Ok(());
        }
        match ended {
            Some(reason) => {
                bail!("the connection ended before the venue answered the Logout: {reason}")
            }
            None => bail!(
                "no answer to the Logout within {} ms",
                self.timeout.as_millis()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_match_without_punctuation_or_case() {
        let list: Vec<String> = ["UST-10Y", "EUR/USD", "USD-IRS-5Y"]
            .map(str::to_owned)
            .to_vec();
        let r = |typed: &str| resolve_symbol(Some(&list), typed);
        assert_eq!(r("UST-10Y"), Ok("UST-10Y".to_owned()));
        assert_eq!(r("ust10y"), Ok("UST-10Y".to_owned()));
        assert_eq!(r("EURUSD"), Ok("EUR/USD".to_owned()));
        assert_eq!(r("usd_irs_5y"), Ok("USD-IRS-5Y".to_owned()));
        assert_eq!(
            r("GILT"),
            Err("unknown symbol GILT; the venue lists UST-10Y, EUR/USD, USD-IRS-5Y".to_owned())
        );
        let twins: Vec<String> = ["AB-C", "A-BC"].map(str::to_owned).to_vec();
        assert_eq!(
            resolve_symbol(Some(&twins), "abc"),
            Err("abc could be any of AB-C, A-BC; type it exactly".to_owned())
        );
        assert_eq!(resolve_symbol(Some(&twins), "A-BC"), Ok("A-BC".to_owned()));
        // No list from the venue: as typed, and the venue judges.
        assert_eq!(resolve_symbol(None, "x"), Ok("x".to_owned()));
    }

    #[test]
    fn client_order_ids_are_unique_and_fit_fix() {
        let mut ids = Ids::new();
        let a = ids.next();
        let b = ids.next();
        assert_ne!(a, b);
        assert!(
            a.len() <= 40 && a.bytes().all(|c| c.is_ascii_graphic()),
            "{a}"
        );
        assert_ne!(ids.unused("0"), a);
        assert!(!ids.unused("0").ends_with("-1"));
    }

    #[test]
    fn an_answer_clears_the_requests_it_answers() {
        let mut st = State::default();
        st.pending.push(Pending {
            seq: 4,
            key: "a-1".to_owned(),
        });
        st.pending.push(Pending {
            seq: 5,
            key: "a-2".to_owned(),
        });
        st.answered(Some("a-1"), None);
        assert_eq!(st.pending.len(), 1);
        st.answered(None, Some(5));
        assert!(st.pending.is_empty());
    }
}
