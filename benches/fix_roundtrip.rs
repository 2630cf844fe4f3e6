//! FIX end to end over loopback: a client on 127.0.0.1 and the venue
//! in-process (FIX acceptor thread, sequencer thread, journal, engine).
//!
//! 1. One at a time: the client sends a NewOrderSingle and waits for its
//!    ExecutionReport (ack) before the next; HDR percentiles of the round trip.
//! 2. Pipelined: the client sends every order as fast as the socket takes
//!    them and reads acks as they come; orders per second until the last ack.
//!
//! Both with the journal in `process` durability (durable against a process
//! crash; reports released at once) and in `group` durability (1 ms flush:
//! reports wait for the disk). For scale, from the issue: a QuickFIX C++
//! acceptor that only answers each order does ~50k orders/s pipelined here,
//! with a median round trip of ~115 µs one at a time.
//!
//! Run: `cargo bench --bench fix_roundtrip [-- --dir /work --orders N]`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use journal::Durability;

#[path = "../tests/common/fix_client.rs"]
mod fix_client;
#[path = "../tests/common/in_process.rs"]
mod in_process;

use fix_client::utc_now;
use in_process::InProcess;

fn arg(name: &str) -> Option<String> {
    std::env::args().skip_while(|a| a != name).nth(1)
}

fn message(seq: u64, msg_type: &str, body: &str, now: &str) -> Vec<u8> {
    let b = format!("35={msg_type}\x0149=CLIENT1\x0156=VENUE\x0134={seq}\x0152={now}\x01{body}");
    let mut m = format!("8=FIX.4.4\x019={}\x01{b}", b.len());
    let sum: u32 = m.bytes().map(u32::from).sum::<u32>() % 256;
    m.push_str(&format!("10={sum:03}\x01"));
    m.into_bytes()
}

fn order(seq: u64, id: u64, now: &str) -> Vec<u8> {
    // Alternating sides at prices that never cross: every order rests.
    let (side, price) = if id % 2 == 0 {
        ('1', "99.75")
    } else {
        ('2', "100.25")
    };
    let body = format!(
        "11=O{id}\x0155=UST-10Y\x0154={side}\x0160={now}\x0138=1\x0140=2\x0144={price}\x0159=1\x01"
    );
    message(seq, "D", &body, now)
}

/// Counts complete ExecutionReports in a byte stream.
struct Counter {
    buf: Vec<u8>,
}

impl Counter {
    /// Consumes complete messages; returns how many were 35=8.
    fn feed(&mut self, bytes: &[u8]) -> usize {
        self.buf.extend_from_slice(bytes);
        let mut n = 0;
        let mut start = 0;
        while let Some(p) = find(&self.buf[start..], b"\x0110=") {
            let end = start + p + 8;
            if end > self.buf.len() {
                break;
            }
            if find(&self.buf[start..end], b"\x0135=8\x01").is_some() {
                n += 1;
            }
            start = end;
        }
        self.buf.drain(..start);
        n
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn start(data: &Path, durability: Durability) -> InProcess {
    let sessions = venue::demo::fix_sessions()
        .into_iter()
        .map(|mut s| {
            // The bench measures the venue, not the rate limiter.
            s.rate.per_second = 10_000_000;
            s.rate.burst = 1_000_000;
            s
        })
        .collect();
    InProcess::start(data, sessions, durability)
}

fn logon(addr: SocketAddr) -> (TcpStream, Counter) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    let now = utc_now();
    s.write_all(&message(1, "A", "98=0\x01108=30\x01141=Y\x01", &now))
        .unwrap();
    let mut c = Counter { buf: Vec::new() };
    let mut chunk = [0u8; 4096];
    let n = s.read(&mut chunk).unwrap();
    assert!(
        find(&chunk[..n], b"\x0135=A\x01").is_some(),
        "logon answered"
    );
    c.feed(&[]);
    (s, c)
}

fn one_at_a_time(addr: SocketAddr, n: u64) -> Histogram<u64> {
    let (mut s, mut c) = logon(addr);
    let mut h = Histogram::<u64>::new(3).unwrap();
    let mut chunk = [0u8; 65536];
    let mut now = utc_now();
    let mut now_at = Instant::now();
    for i in 0..n {
        if now_at.elapsed() > Duration::from_secs(1) {
            now = utc_now();
            now_at = Instant::now();
        }
        let msg = order(i + 2, i, &now);
        let t0 = Instant::now();
        s.write_all(&msg).unwrap();
        let mut got = 0;
        while got == 0 {
            let k = s.read(&mut chunk).unwrap();
            assert!(k > 0, "venue closed the connection");
            got += c.feed(&chunk[..k]);
        }
        if i >= n / 10 {
            h.record(t0.elapsed().as_nanos() as u64).unwrap();
        }
    }
    h
}

fn pipelined(addr: SocketAddr, n: u64) -> f64 {
    let (s, mut c) = logon(addr);
    let mut reader = s.try_clone().unwrap();
    let done = std::thread::spawn(move || {
        let mut got = 0u64;
        let mut chunk = [0u8; 1 << 16];
        while got < n {
            let k = reader.read(&mut chunk).unwrap();
            assert!(k > 0, "venue closed the connection");
            got += c.feed(&chunk[..k]) as u64;
        }
        Instant::now()
    });
    let now = utc_now();
    let mut w = std::io::BufWriter::with_capacity(1 << 16, s);
    let t0 = Instant::now();
    for i in 0..n {
        w.write_all(&order(i + 2, i, &now)).unwrap();
    }
    w.flush().unwrap();
    let end = done.join().unwrap();
    n as f64 / (end - t0).as_secs_f64()
}

fn main() {
    let base: PathBuf = arg("--dir").map_or_else(std::env::temp_dir, PathBuf::from);
    let orders: u64 = arg("--orders")
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let pings: u64 = arg("--pings").and_then(|s| s.parse().ok()).unwrap_or(5_000);
    for (name, durability) in [
        ("process", Durability::Process),
        (
            "group 250us",
            Durability::Group {
                flush_interval_us: 250,
                flush_threshold_bytes: 4 << 20,
            },
        ),
    ] {
        let mut rates = Vec::new();
        let mut p50s = Vec::new();
        let mut line = String::new();
        for _ in 0..3 {
            let dir = tempfile::tempdir_in(&base).unwrap();
            let v = start(dir.path(), durability);
            let h = one_at_a_time(v.addr, pings);
            p50s.push(h.value_at_quantile(0.5));
            line = format!(
                "p50 {:.1} p99 {:.1} p99.9 {:.1}",
                h.value_at_quantile(0.5) as f64 / 1e3,
                h.value_at_quantile(0.99) as f64 / 1e3,
                h.value_at_quantile(0.999) as f64 / 1e3
            );
            drop(v);
            let dir = tempfile::tempdir_in(&base).unwrap();
            let v = start(dir.path(), durability);
            rates.push(pipelined(v.addr, orders));
            drop(v);
        }
        rates.sort_by(|a, b| a.total_cmp(b));
        p50s.sort_unstable();
        println!(
            "{name}: one at a time ({pings} orders): median p50 {:.1} us over 3 runs (last run: {line} us)",
            p50s[1] as f64 / 1e3
        );
        println!(
            "{name}: pipelined ({orders} orders): median {:.0} orders/s over 3 runs (min {:.0}, max {:.0})",
            rates[1], rates[0], rates[2]
        );
    }
}
