//! `venue client`, the terminal, as a person or a script uses it: the real
//! binary against a whole venue started in-process (the example
//! configuration, both gateways on free ports of 127.0.0.1). A script piped
//! in whole; two terminals trading with each other line by line, one
//! watching the market; a refused logon, an unknown session and a venue
//! that is not there.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::ChildGuard;
use venue::node::Node;

/// How long any one expected line may take (generous: CI is a shared
/// 2-core machine).
const LINE_WAIT: Duration = Duration::from_secs(30);

fn start_venue() -> (Node, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut config = common::example_config_for_tests();
    config.segment_size_bytes = 4 << 20;
    let node = Node::start(&config, dir.path()).expect("the venue starts");
    (node, dir)
}

fn client_command(node: &Node, sender: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_venue"));
    cmd.args(["client", "--fix"])
        .arg(node.fix_addr.to_string())
        .arg("--ws")
        .arg(format!("ws://{}/", node.ws_addr))
        .args(["--sender-comp-id", sender, "--timeout-ms", "10000"])
        .args(extra);
    cmd
}

/// What a finished run printed.
#[derive(Debug)]
struct Run {
    status: ExitStatus,
    stdout: Vec<String>,
    stderr: String,
}

/// Runs `cmd` with `script` as its whole stdin; kills it if it has not
/// finished within a minute.
fn run_script(mut cmd: Command, script: &str) -> Run {
    let child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("venue client starts");
    let mut guard = ChildGuard(child);
    let mut stdin = guard.0.stdin.take().expect("piped");
    let mut stdout = guard.0.stdout.take().expect("piped");
    let mut stderr = guard.0.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    // The client may exit before reading it all (a refused logon).
    let _ = stdin.write_all(script.as_bytes());
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = guard.0.try_wait().expect("try_wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "venue client did not finish within a minute"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        status,
        stdout: out
            .join()
            .expect("stdout read")
            .lines()
            .map(str::to_owned)
            .collect(),
        stderr: err.join().expect("stderr read"),
    }
}

/// The index of the first line at or after `from` that contains `needle`.
fn position(lines: &[String], from: usize, needle: &str) -> usize {
    lines
        .iter()
        .skip(from)
        .position(|l| l.contains(needle))
        .map(|i| i + from)
        .unwrap_or_else(|| panic!("no {needle:?} after line {from} in {lines:#?}"))
}

/// A terminal driven line by line.
struct Terminal {
    guard: ChildGuard,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    /// Lines printed and not yet matched by [`Terminal::expect`].
    unmatched: Vec<String>,
    /// Everything printed, for failure messages.
    seen: Vec<String>,
}

impl Terminal {
    fn start(node: &Node, sender: &str) -> Terminal {
        let mut child: Child = client_command(node, sender, &[])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("venue client starts");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut t = Terminal {
            guard: ChildGuard(child),
            stdin,
            lines,
            unmatched: Vec::new(),
            seen: Vec::new(),
        };
        t.expect("logged on to");
        t
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("line written");
        stdin.flush().expect("flushed");
    }

    /// The first line not matched before that contains `needle`, waiting
    /// for it. Lines from the FIX session and from market data arrive in
    /// no fixed order between them, so lines skipped here stay available.
    fn expect(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + LINE_WAIT;
        loop {
            if let Some(i) = self.unmatched.iter().position(|l| l.contains(needle)) {
                return self.unmatched.remove(i);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {needle:?}; printed so far: {:#?}", self.seen));
            self.seen.push(line.clone());
            self.unmatched.push(line);
        }
    }

    /// Sends `quit` and waits for the process to end.
    fn quit(mut self) -> ExitStatus {
        self.send("quit");
        self.expect("logged out");
        self.stdin = None;
        let deadline = Instant::now() + LINE_WAIT;
        loop {
            if let Some(status) = self.guard.0.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "venue client did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn a_piped_script_orders_lists_cancels_and_logs_out() {
    let (node, _dir) = start_venue();
    let run = run_script(
        client_command(&node, "CLIENT1", &[]),
        "buy 5 ust10y 99.515625 gtc\n\
         buy 1 UST-10Y 99.5001\n\
         bogus command\n\
         buy five UST-10Y 1\n\
         orders\n\
         cancel 1\n\
         orders\n\
         orders all\n\
         quit\n",
    );
    let out = &run.stdout;
    assert!(run.status.success(), "{run:#?}");
    let instruments = position(out, 0, "instruments: UST-10Y, EUR/USD, USD-IRS-5Y");
    // The first accepted order on a new venue is OrderID 1.
    let new = position(
        out,
        instruments,
        "NEW       buy 5 UST-10Y @ 99.515625 GTC (order 1, ClOrdID ",
    );
    let off_tick = position(
        out,
        new,
        "REJECTED  buy 1 UST-10Y @ 99.5001 DAY: price 99.5001 is not a multiple of the tick size 0.0078125 of UST-10Y",
    );
    let unknown = position(
        out,
        off_tick,
        "unknown command `bogus command`; type `help` for the list",
    );
    let usage = position(
        out,
        unknown,
        "quantity `five` is not a decimal number; usage: buy QTY SYMBOL PRICE|market [day|gtc|ioc|fok]",
    );
    let header = position(out, usage, "ORDER  CLORDID");
    let row: Vec<&str> = out[header + 1].split_whitespace().collect();
    assert_eq!(
        (row[0], &row[2..]),
        (
            "1",
            &[
                "buy",
                "5",
                "UST-10Y",
                "99.515625",
                "GTC",
                "new",
                "5",
                "0",
                "0"
            ][..]
        ),
        "{out:#?}"
    );
    assert!(
        !out[header + 2].starts_with('-'),
        "the rejected order is not live, so not listed without `all`: {out:#?}"
    );
    let canceled = position(
        out,
        header,
        "CANCELED  buy 5 UST-10Y @ 99.515625 GTC: cancelled on request; filled 0 (order 1, ",
    );
    let none = position(out, canceled, "no live orders");
    let all = position(out, none, "ORDER  CLORDID");
    let statuses: Vec<String> = out[all + 1..all + 3]
        .iter()
        .map(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            cells[7].to_owned()
        })
        .collect();
    assert_eq!(statuses, ["canceled", "rejected"], "{out:#?}");
    assert_eq!(out.last().map(String::as_str), Some("logged out"));
    node.shutdown().expect("the venue stops");
}

#[test]
fn two_terminals_trade_and_the_resting_side_sees_its_fill() {
    let (node, _dir) = start_venue();
    let mut a = Terminal::start(&node, "CLIENT1");
    let mut b = Terminal::start(&node, "CLIENT2");

    a.send("watch UST-10Y");
    a.expect("watching UST-10Y");
    a.expect("TOP       UST-10Y bid none | ask none");
    a.send("buy 5 UST-10Y 99.515625 gtc");
    a.expect("NEW       buy 5 UST-10Y @ 99.515625 GTC (order 1, ");
    a.expect("TOP       UST-10Y bid 5 @ 99.515625 | ask none");

    b.send("sell 3 ust10y 99.515625");
    b.expect("NEW       sell 3 UST-10Y @ 99.515625 DAY (order 2, ");
    b.expect("FILLED    sell 3 UST-10Y @ 99.515625 (order 2, ");

    a.expect("PARTIAL   buy 3 UST-10Y @ 99.515625; leaves 2, cum 3, avg 99.515625 (order 1, ");
    a.expect("TRADE     UST-10Y 3 @ 99.515625 (sell aggressor, trade 1)");
    a.send("orders");
    let row = a.expect("partially filled");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        (cells[0], &cells[2..]),
        (
            "1",
            &[
                "buy",
                "5",
                "UST-10Y",
                "99.515625",
                "GTC",
                "partially",
                "filled",
                "2",
                "3",
                "99.515625"
            ][..]
        ),
        "{row}"
    );

    a.send("replace 1 4");
    a.expect("REPLACED  now buy 4 UST-10Y @ 99.515625 GTC; leaves 1, cum 3 (order 1, ");
    a.send("cancel 1");
    a.expect("CANCELED  buy 4 UST-10Y @ 99.515625 GTC: cancelled on request; filled 3 (order 1, ");
    a.send("cancel 1");
    a.expect("CANCEL REJECTED for order 1: order is no longer live");
    a.send("orders");
    a.expect("no live orders");
    a.send("status 1");
    a.expect("STATUS    canceled: buy 4 UST-10Y @ 99.515625 GTC; leaves 0, cum 3, avg 99.515625");

    b.send("orders all");
    let row = b.expect(" filled ");
    assert!(row.starts_with("2 "), "{row}");
    assert!(a.quit().success());
    assert!(b.quit().success());
    node.shutdown().expect("the venue stops");
}

#[test]
fn live_orders_from_an_earlier_session_are_listed_at_logon() {
    let (node, _dir) = start_venue();
    let first = run_script(
        client_command(&node, "CLIENT1", &[]),
        "buy 2 EURUSD 1.08 # not a whole lot\nbuy 2000 EURUSD 1.08 gtc\n",
    );
    assert!(first.status.success(), "{first:#?}");
    position(
        &first.stdout,
        0,
        "quantity 2 is not a multiple of the lot size 1000 of EUR/USD",
    );
    position(&first.stdout, 0, "NEW       buy 2000 EUR/USD @ 1.08 GTC");
    // End of input logs out like `quit`.
    assert_eq!(first.stdout.last().map(String::as_str), Some("logged out"));

    let second = run_script(client_command(&node, "CLIENT1", &[]), "cancel all\n");
    assert!(second.status.success(), "{second:#?}");
    let out = &second.stdout;
    let live = position(
        out,
        0,
        "1 live order of this participant from before this session:",
    );
    assert!(out[live + 2].contains("EUR/USD"), "{out:#?}");
    position(
        out,
        live,
        "CANCELED  buy 2000 EUR/USD @ 1.08 GTC: cancelled by mass cancel",
    );
    position(
        out,
        live,
        "MASS CANCEL (all instruments): 1 order cancelled",
    );
    node.shutdown().expect("the venue stops");
}

#[test]
fn a_refused_logon_or_a_missing_venue_is_a_clear_error() {
    let (node, _dir) = start_venue();

    let wrong = run_script(
        client_command(
            &node,
            "CLIENT4",
            &["--username", "dealer4", "--password", "not-it"],
        ),
        "quit\n",
    );
    assert!(!wrong.status.success(), "{wrong:#?}");
    assert!(
        wrong
            .stderr
            .contains("error: the venue refused the logon: invalid username or password"),
        "{wrong:#?}"
    );

    // Without a terminal, the password is the first line of stdin.
    let right = run_script(
        client_command(&node, "CLIENT4", &["--username", "dealer4"]),
        "demo-password-4\nquit\n",
    );
    assert!(right.status.success(), "{right:#?}");
    assert_eq!(right.stdout.last().map(String::as_str), Some("logged out"));

    let unknown = run_script(client_command(&node, "CLIENT9", &[]), "quit\n");
    assert!(!unknown.status.success(), "{unknown:#?}");
    assert!(
        unknown
            .stderr
            .contains("without answering the Logon: no session CLIENT9 -> VENUE is configured"),
        "{unknown:#?}"
    );

    // Market data unreachable: said, and the session goes on.
    let closed = TcpListener::bind("127.0.0.1:0").expect("binds");
    let closed_addr = closed.local_addr().expect("addr");
    drop(closed);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_venue"));
    cmd.args(["client", "--fix", &node.fix_addr.to_string()])
        .args(["--ws", &format!("ws://{closed_addr}/")]);
    let no_md = run_script(cmd, "book UST-10Y\nquit\n");
    assert!(no_md.status.success(), "{no_md:#?}");
    position(
        &no_md.stdout,
        0,
        &format!("cannot connect to the venue's WebSocket API at ws://{closed_addr}/"),
    );

    let fix_addr = node.fix_addr;
    node.shutdown().expect("the venue stops");

    // The venue is gone: nothing listens on its FIX address now.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_venue"));
    cmd.args(["client", "--fix", &fix_addr.to_string()]);
    let down = run_script(cmd, "quit\n");
    assert!(!down.status.success(), "{down:#?}");
    assert!(
        down.stderr.contains(&format!(
            "error: cannot connect to the venue's FIX acceptor at {fix_addr}"
        )),
        "{down:#?}"
    );
}
