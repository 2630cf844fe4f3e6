//! WebSocket market-data fan-out: many subscribers to one book while the
//! book changes at a fixed rate.
//!
//! A whole venue runs in-process (`venue::node::Node`, the example
//! configuration on free ports, the journal in `process` durability so that
//! no disk flush sits between matching and the gateway). `--subscribers`
//! connections (default 100) each use the client library
//! (`gateway::ws::client::Client`) to subscribe to `book.UST-10Y` at depth
//! 10, on one tokio runtime of `--workers` threads (default 1) in this
//! process.
//!
//! A driver thread sends inputs straight into the sequencer's inbound ring
//! (`Node::input_sender`), open loop: input `i` is due at `i / rate` seconds
//! and is sent in the first 100 µs slice at or after that, whatever the
//! venue or the subscribers are doing. Every input changes the top of the
//! book: a GTC limit order of participant 1 that becomes the new best bid
//! or ask (above the ten resting levels a side), then its cancel. The
//! driver's participant has no FIX session and no WebSocket key in this
//! bench, so its execution reports go to no gateway (the hub does only
//! market data); `--with-private` keeps them (the hub then also numbers and
//! encodes one `exec` a change, and the FIX gateway stores one).
//!
//! Measured over `--seconds` after `--warmup` seconds:
//! - inputs per second the driver achieved (offered: `--rate`);
//! - book messages delivered, summed over subscribers, per second, and per
//!   subscriber (min / median / max);
//! - how many inputs a message covers: under load the hub sends one message
//!   for all the inputs sequenced since its last (`engine_seq` is the last);
//! - the delay from the venue's stamp of an input (`time_ns`, wall clock,
//!   taken by the sequencer when it sequences the input, just before
//!   matching) to the moment the client library hands the subscriber the
//!   `ClientEvent::Book` for it (parsed, applied to the local book,
//!   checksum verified), in HDR percentiles merged over subscribers. For a
//!   message that covers several inputs it is the delay of the *last* one
//!   (the earlier ones waited longer);
//! - resyncs (client library) and conflations (gateway) over the run;
//! - CPU time by thread group over the window (`/proc/self/task/*/schedstat`)
//!   and the gateway's (hub + I/O thread) CPU per delivered message.
//!
//! Messages and delays count for inputs stamped inside the measured window;
//! after the driver stops, the bench waits (`--drain` seconds at most) for
//! every subscriber to receive the last input, and says how long that took.
//!
//! Run: `cargo bench --bench ws_fanout [-- --subscribers 100 --rate 50000
//! --seconds 10 --runs 3 --workers 1 --warmup 1]`; `--send-queue-max N` and
//! `--sndbuf BYTES` set the gateway's `send_queue_max` and
//! `socket_send_buffer_bytes` (how soon a subscriber that falls behind is
//! conflated instead of queued for). Everything (sequencer,
//! hub, server I/O thread, driver, subscribers) shares this machine's cores:
//! the figures are those of the whole loop on one box. On a 2-core machine
//! the subscribers (JSON decoding, local books, checksums) take the largest
//! share, and the backlog that makes the delay sits mostly in their
//! sockets' receive queues, which the gateway's `send_queue_max` does not
//! see; and the sequencer's `backoff` idle strategy, spinning and yielding
//! between inputs, takes a third of a core or more from the others.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use engine::input::{Cancel, OrderRef};
use engine::{ClOrdId, Input, InstrumentId, NewOrder, OrdType, ParticipantId, Side, TimeInForce};
use gateway::ws::client::{Client, ClientEvent, book_channel};
use hdrhistogram::Histogram;
use venue::config::VenueConfig;
use venue::node::Node;

const SYMBOL: &str = "UST-10Y";
const DEPTH: u32 = 10;
const DRIVER: ParticipantId = ParticipantId(1);
/// The instrument's reference price; its collar is +/- 64 ticks.
const MID: i64 = 12_800;
/// The price of the last input's order, above every other bid.
const MARKER_PX: i64 = MID - 5;

fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::args()
        .skip_while(|a| a != name)
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

#[derive(Clone, Copy, Debug)]
struct Params {
    subscribers: usize,
    rate: f64,
    seconds: f64,
    warmup: f64,
    drain: f64,
    workers: usize,
    with_private: bool,
    /// `[websocket] send_queue_max` (0: the example's).
    send_queue_max: usize,
    /// `[websocket] socket_send_buffer_bytes` (0: the kernel's autotuning).
    sndbuf: usize,
}

fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos() as u64
}

fn cl(prefix: char, n: u64) -> ClOrdId {
    ClOrdId::new(format!("{prefix}{n}").as_bytes()).expect("a valid ClOrdID")
}

fn order(cl_ord_id: ClOrdId, side: Side, price_ticks: i64, qty_lots: u64) -> Input {
    Input::NewOrder(NewOrder {
        participant: DRIVER,
        instrument: InstrumentId(1),
        cl_ord_id,
        side,
        ord_type: OrdType::Limit,
        tif: TimeInForce::Gtc,
        price_ticks: Some(price_ticks),
        stop_price_ticks: None,
        qty_lots,
        display_qty_lots: 0,
        min_qty_lots: 0,
        post_only: false,
        expire_time_ns: None,
    })
}

/// Ten resting levels a side, bids 12780..=12789 and asks 12811..=12820, so
/// that a depth-10 view is full and every change below moves its top.
fn resting() -> Vec<Input> {
    (0..10)
        .flat_map(|k| {
            [
                order(cl('s', 2 * k), Side::Buy, MID - 20 + k as i64, 10),
                order(cl('s', 2 * k + 1), Side::Sell, MID + 11 + k as i64, 10),
            ]
        })
        .collect()
}

/// Input `i` of the churn: even `i` adds an order that becomes the best bid
/// (12790..=12794) or best ask (12806..=12810), odd `i` cancels it.
fn churn(i: u64) -> Input {
    let pair = i / 2;
    if i % 2 == 0 {
        let off = (pair % 5) as i64;
        let qty = 1 + pair % 9;
        if pair % 2 == 0 {
            order(cl('d', pair), Side::Buy, MID - 10 + off, qty)
        } else {
            order(cl('d', pair), Side::Sell, MID + 10 - off, qty)
        }
    } else {
        Input::Cancel(Cancel {
            participant: DRIVER,
            cl_ord_id: cl('x', pair),
            target: OrderRef::ClOrdId(cl('d', pair)),
        })
    }
}

/// The last input: an order that stays, at a price no churn order uses, so
/// that its book message cannot cancel out within a batch.
fn marker() -> Input {
    order(cl('m', 0), Side::Buy, MARKER_PX, 1)
}

fn config(p: &Params, inputs: u64) -> VenueConfig {
    let mut config =
        venue::config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/venue.toml"))
            .expect("the example configuration loads");
    config.fix_listen = "127.0.0.1:0".parse().expect("addr");
    config.ws.listen = "127.0.0.1:0".parse().expect("addr");
    config.admin.listen = "127.0.0.1:0".parse().expect("addr");
    config.durability = journal::Durability::Process;
    config.snapshot_every_inputs = 0;
    config.ws.max_connections_per_address = p.subscribers as u32 + 10;
    if p.send_queue_max > 0 {
        config.ws.send_queue_max = p.send_queue_max;
    }
    config.ws.socket_send_buffer_bytes = p.sndbuf;
    // Every order of the run is live or finished today: reserve for all.
    config.engine.orders_capacity = (inputs as usize / 2 + 1024).next_power_of_two();
    if !p.with_private {
        config.fix_sessions.retain(|s| s.participant != DRIVER);
        config.ws.participants.retain(|w| w.id != DRIVER);
    }
    config
}

/// What one subscriber saw.
struct Seen {
    delays: Histogram<u64>,
    /// Book events for inputs stamped inside the window.
    messages: u64,
    /// `engine_seq` of the first and last of those.
    first_seq: u64,
    last_seq: u64,
    resyncs: u64,
    /// Wall ns when it received the marker (0: never).
    caught_up_ns: u64,
}

struct Window {
    /// Wall ns; 0 until set.
    start: AtomicU64,
    end: AtomicU64,
    /// Wall ns just before the marker was sent; 0 until then.
    marker: AtomicU64,
    stop: AtomicBool,
    /// Subscribers that have their snapshot.
    synced: AtomicU64,
    /// Subscribers that have the marker.
    caught_up: AtomicU64,
}

async fn subscriber(url: String, window: Arc<Window>) -> Seen {
    let mut client = Client::connect(&url).await.expect("connects");
    client
        .subscribe_book(SYMBOL, DEPTH)
        .await
        .expect("subscribes");
    let channel = book_channel(SYMBOL);
    let mut seen = Seen {
        delays: Histogram::new_with_bounds(1_000, 600_000_000_000, 3).expect("histogram"),
        messages: 0,
        first_seq: 0,
        last_seq: 0,
        resyncs: 0,
        caught_up_ns: 0,
    };
    let mut synced = false;
    // Until the venue shuts down and closes the connection: no timer per
    // event.
    loop {
        let event = match client.next_event().await {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(e) if e.is_fatal() => panic!("subscriber failed: {e}"),
            Err(_) => continue,
        };
        let ClientEvent::Book { channel: ch, .. } = event else {
            if let ClientEvent::Closed { code, reason } = event {
                assert!(
                    window.stop.load(Ordering::Relaxed),
                    "closed by the venue during the run: {code:?} {reason}"
                );
            }
            continue;
        };
        let now = wall_ns();
        let Some(book) = client.book(&ch).filter(|_| ch == channel) else {
            continue;
        };
        let (Some(t), Some(seq)) = (book.time_ns(), book.engine_seq()) else {
            continue;
        };
        if !synced {
            synced = true;
            window.synced.fetch_add(1, Ordering::Relaxed);
        }
        let (start, end) = (
            window.start.load(Ordering::Relaxed),
            window.end.load(Ordering::Relaxed),
        );
        if start != 0 && t >= start && (end == 0 || t < end) {
            seen.delays.saturating_record(now.saturating_sub(t));
            if seen.messages == 0 {
                seen.first_seq = seq;
            }
            seen.last_seq = seq;
            seen.messages += 1;
        }
        // The marker is the only order at its price, and it stays.
        let marker = window.marker.load(Ordering::Relaxed) != 0
            && book.best_bid().is_some_and(|l| l.price_ticks == MARKER_PX);
        if marker && seen.caught_up_ns == 0 {
            seen.caught_up_ns = now;
            window.caught_up.fetch_add(1, Ordering::Relaxed);
        }
    }
    seen.resyncs = client.resyncs(&channel);
    seen
}

/// Sends the churn at `rate` for `warmup + seconds`, open loop; returns
/// (inputs sent in the window, the window's length, sends that found the
/// ring full, CPU time by thread over the window).
fn drive(node: &Node, p: &Params, window: &Window) -> (u64, f64, u64, ThreadCpu) {
    let tx = node.input_sender();
    let mut ring_full = 0u64;
    let mut send = |input: Input| {
        if let Err(back) = tx.send(input, 0) {
            ring_full += 1;
            tx.send(back, u32::MAX).expect("the venue takes input");
        }
    };
    let slice = Duration::from_micros(100);
    let warm = Duration::from_secs_f64(p.warmup);
    let total = warm + Duration::from_secs_f64(p.seconds);
    let t0 = Instant::now();
    let mut i = 0u64;
    let mut start: Option<(Instant, u64)> = None;
    let mut cpu = ThreadCpu::new();
    let (ended, sent) = loop {
        let now = Instant::now();
        let elapsed = now - t0;
        if start.is_none() && elapsed >= warm {
            window.start.store(wall_ns(), Ordering::Relaxed);
            start = Some((now, i));
            cpu = thread_cpu();
        }
        if elapsed >= total {
            window.end.store(wall_ns(), Ordering::Relaxed);
            cpu = cpu_diff(&cpu, &thread_cpu());
            break (now, i);
        }
        let due = (elapsed.as_secs_f64() * p.rate) as u64;
        while i < due {
            send(churn(i));
            i += 1;
        }
        std::thread::sleep(slice.saturating_sub(now.elapsed()));
    };
    window.marker.store(wall_ns(), Ordering::Relaxed);
    send(marker());
    let (started, at_start) = start.unwrap_or((t0, 0));
    (
        sent - at_start,
        (ended - started).as_secs_f64(),
        ring_full,
        cpu,
    )
}

/// CPU time (ns) of this process's threads, by thread group: the time on
/// CPU the scheduler counted (`/proc/self/task/*/schedstat`, exact, unlike
/// the tick-sampled `stat`). Empty where there is no `/proc`.
type ThreadCpu = BTreeMap<String, u64>;

fn thread_cpu() -> ThreadCpu {
    let mut out = ThreadCpu::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in dir.flatten() {
        let (Ok(comm), Ok(sched)) = (
            std::fs::read_to_string(task.path().join("comm")),
            std::fs::read_to_string(task.path().join("schedstat")),
        ) else {
            continue;
        };
        let name = match comm.trim_end() {
            n if n.starts_with("tokio-rt") => "subscribers (tokio)",
            "venue-seq" | "journal-prep" | "journal-bg" => "sequencer+journal",
            "venue-ws-hub" => "ws hub",
            "venue-ws" => "ws I/O",
            "venue-fix" => "fix",
            _ => "driver+other",
        };
        let ns: u64 = sched
            .split_whitespace()
            .next()
            .and_then(|x| x.parse().ok())
            .unwrap_or(0);
        *out.entry(name.to_owned()).or_default() += ns;
    }
    out
}

fn cpu_diff(before: &ThreadCpu, after: &ThreadCpu) -> ThreadCpu {
    after
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.saturating_sub(before.get(k).copied().unwrap_or(0)),
            )
        })
        .collect()
}

struct RunResult {
    achieved: f64,
    delivered: f64,
    per_sub: (u64, u64, u64),
    inputs_per_msg: f64,
    resyncs: u64,
    conflations: u64,
    drain_ms: Option<f64>,
    ring_full: u64,
    delays: Histogram<u64>,
    /// CPU ns per thread group over the window.
    cpu: ThreadCpu,
    secs: f64,
}

fn run(p: &Params) -> RunResult {
    let inputs = ((p.warmup + p.seconds) * p.rate) as u64 + 64;
    let dir = tempfile::tempdir().expect("a temp dir");
    let node = Node::start(&config(p, inputs), dir.path()).expect("the venue starts");
    let tx = node.input_sender();
    for input in resting() {
        tx.send(input, u32::MAX).expect("the venue takes input");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(p.workers)
        .enable_all()
        .build()
        .expect("runtime");
    let window = Arc::new(Window {
        start: AtomicU64::new(0),
        end: AtomicU64::new(0),
        marker: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        synced: AtomicU64::new(0),
        caught_up: AtomicU64::new(0),
    });
    let url = format!("ws://{}/", node.ws_addr);
    let tasks: Vec<_> = (0..p.subscribers)
        .map(|_| rt.spawn(subscriber(url.clone(), Arc::clone(&window))))
        .collect();
    // Every subscriber has its snapshot.
    let t = Instant::now();
    while window.synced.load(Ordering::Relaxed) < p.subscribers as u64 {
        assert!(t.elapsed() < Duration::from_secs(60), "subscribers sync");
        std::thread::sleep(Duration::from_millis(10));
    }
    let (sent, secs, ring_full, cpu) = drive(&node, p, &window);
    let marker_at = window.marker.load(Ordering::Relaxed);
    // Drain: until every subscriber has the marker, or `--drain` seconds.
    let t = Instant::now();
    while window.caught_up.load(Ordering::Relaxed) < p.subscribers as u64
        && t.elapsed() < Duration::from_secs_f64(p.drain)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    window.stop.store(true, Ordering::Relaxed);
    let conflations = node.ws_metrics.conflations.load(Ordering::Relaxed);
    // Closing the venue closes every connection, which ends the subscribers.
    node.shutdown().expect("the venue stops");
    let seen: Vec<Seen> = rt.block_on(async {
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.expect("subscriber task"));
        }
        out
    });
    rt.shutdown_timeout(Duration::from_secs(2));
    let mut delays = Histogram::<u64>::new_with_bounds(1_000, 600_000_000_000, 3).expect("hist");
    let mut per: Vec<u64> = Vec::new();
    let (mut msgs, mut covered, mut resyncs) = (0u64, 0u64, 0u64);
    let mut drain_ns = Some(0u64);
    for s in &seen {
        delays.add(&s.delays).expect("merge");
        per.push(s.messages);
        msgs += s.messages;
        covered += s.last_seq.saturating_sub(s.first_seq);
        resyncs += s.resyncs;
        drain_ns = match (drain_ns, s.caught_up_ns) {
            (Some(d), c) if c != 0 => Some(d.max(c.saturating_sub(marker_at))),
            _ => None,
        };
    }
    per.sort_unstable();
    RunResult {
        achieved: sent as f64 / secs,
        delivered: msgs as f64 / secs,
        per_sub: (per[0], per[per.len() / 2], per[per.len() - 1]),
        inputs_per_msg: covered as f64 / msgs.saturating_sub(p.subscribers as u64).max(1) as f64,
        resyncs,
        conflations,
        drain_ms: drain_ns.map(|d| d as f64 / 1e6),
        ring_full,
        delays,
        cpu,
        secs,
    }
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1e3
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let p = Params {
        subscribers: arg("--subscribers", 100usize).max(1),
        rate: arg("--rate", 50_000.0f64),
        seconds: arg("--seconds", 10.0f64),
        warmup: arg("--warmup", 1.0f64),
        drain: arg("--drain", 10.0f64),
        workers: arg("--workers", 1usize).max(1),
        with_private: flag("--with-private"),
        send_queue_max: arg("--send-queue-max", 0usize),
        sndbuf: arg("--sndbuf", 0usize),
    };
    let runs = arg("--runs", 3usize).max(1);
    println!(
        "ws_fanout: {} subscribers to book.{SYMBOL} depth {DEPTH}; offered {:.0} changes/s for {}s \
         (+{}s warm-up); client runtime: tokio multi-thread, {} worker(s); journal: process; \
         driver's private stream: {}; send_queue_max {}; SO_SNDBUF {}; {} cores",
        p.subscribers,
        p.rate,
        p.seconds,
        p.warmup,
        p.workers,
        if p.with_private { "on" } else { "off" },
        if p.send_queue_max > 0 {
            p.send_queue_max.to_string()
        } else {
            "8192 (example)".to_owned()
        },
        if p.sndbuf > 0 {
            p.sndbuf.to_string()
        } else {
            "auto".to_owned()
        },
        std::thread::available_parallelism().map_or(0, usize::from),
    );
    println!(
        "delay: venue stamp of the last input a message covers -> ClientEvent::Book in the subscriber"
    );
    let mut cols: [Vec<f64>; 8] = Default::default();
    let mut gw = Vec::new();
    for r in 1..=runs {
        let x = run(&p);
        let h = &x.delays;
        let q = |v: f64| h.value_at_quantile(v);
        println!(
            "run {r}: inputs {:.0}/s (ring full {}), delivered {:.0} msg/s, per subscriber {}/{}/{} \
             (min/med/max), {:.2} inputs/msg, resyncs {}, conflations {}, drain {}; \
             delay us p50 {:.0} p90 {:.0} p99 {:.0} p99.9 {:.0} max {:.0}",
            x.achieved,
            x.ring_full,
            x.delivered,
            x.per_sub.0,
            x.per_sub.1,
            x.per_sub.2,
            x.inputs_per_msg,
            x.resyncs,
            x.conflations,
            x.drain_ms
                .map_or_else(|| "incomplete".to_owned(), |d| format!("{d:.0} ms")),
            us(q(0.5)),
            us(q(0.9)),
            us(q(0.99)),
            us(q(0.999)),
            us(h.max()),
        );
        let msgs = x.delivered * x.secs;
        let gateway: u64 = ["ws hub", "ws I/O"]
            .iter()
            .filter_map(|k| x.cpu.get(*k))
            .sum();
        let cores: Vec<String> = x
            .cpu
            .iter()
            .map(|(k, v)| format!("{k} {:.2}", *v as f64 / 1e9 / x.secs))
            .collect();
        println!(
            "       CPU in cores over the window: {}; gateway (hub + I/O) {:.2} us per delivered message",
            cores.join(", "),
            gateway as f64 / 1e3 / msgs.max(1.0)
        );
        gw.push(gateway as f64 / 1e3 / msgs.max(1.0));
        for (c, v) in cols.iter_mut().zip([
            x.achieved,
            x.delivered,
            x.inputs_per_msg,
            us(q(0.5)),
            us(q(0.9)),
            us(q(0.99)),
            us(q(0.999)),
            us(h.max()),
        ]) {
            c.push(v);
        }
    }
    let [a, d, ipm, p50, p90, p99, p999, max] = cols.map(median);
    println!(
        "median of {runs}: inputs {a:.0}/s, delivered {d:.0} msg/s ({:.0} per subscriber/s), \
         {ipm:.2} inputs/msg; delay us p50 {p50:.0} p90 {p90:.0} p99 {p99:.0} p99.9 {p999:.0} max {max:.0}; \
         gateway {:.2} us CPU per delivered message",
        d / p.subscribers as f64,
        median(gw)
    );
}
