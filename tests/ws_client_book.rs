//! The Rust client library against a whole venue: its local book, built
//! from a snapshot and numbered updates, equals the book of the engine
//! rebuilt from the journal after a long random run; and when a message on
//! the way is dropped or two are swapped (by a proxy that tampers with the
//! server's frames), the client detects it and repairs its book, never
//! showing state out of order.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::ws_raw::demo_key;
use engine::{InstrumentId, Side};
use gateway::ws::client::{Client, ClientEvent, book_channel};
use gateway::ws::local_book::Level;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use venue::config::VenueConfig;
use venue::node::Node;

const CHANNEL_DEPTH: u32 = 100;

fn config() -> VenueConfig {
    common::example_config_for_tests()
}

/// The UST-10Y book of the engine rebuilt from the journal in `data`.
fn journal_book(config: &VenueConfig, data: &Path) -> (Vec<Level>, Vec<Level>) {
    let r = venue::runtime::recover_with(
        &data.join("journal"),
        None,
        config.engine.clone(),
        journal::JournalConfig::default(),
        u64::MAX,
        &mut |_, _, _| {},
    )
    .expect("the journal replays");
    let side = |s: Side| -> Vec<Level> {
        r.engine
            .book_levels(InstrumentId(1), s)
            .into_iter()
            .map(|l| Level {
                price_ticks: l.price_ticks,
                qty_lots: l.qty_lots,
                orders: l.order_count,
            })
            .take(CHANNEL_DEPTH as usize)
            .collect()
    };
    (side(Side::Buy), side(Side::Sell))
}

/// Two dealers send `n` random orders and cancels on UST-10Y, a few at a
/// time without waiting, then every answer (so that the venue publishes
/// many book states, not one per busy spell).
async fn random_trading(addr: SocketAddr, n: usize, seed: u64) {
    let mut dealers = Vec::new();
    for p in [1u32, 2] {
        let mut c = Client::connect(&format!("ws://{addr}/"))
            .await
            .expect("connects");
        c.login(p, &demo_key(p), None).await.expect("logs in");
        dealers.push(c);
    }
    let mut x = seed;
    let mut sent = [0usize; 2];
    let mut answered = [
        std::collections::BTreeSet::new(),
        std::collections::BTreeSet::new(),
    ];
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let d = i % 2;
        let c = &mut dealers[d];
        let buy = x & 1 == 0;
        let side = if buy {
            gateway::ws::client::Side::Buy
        } else {
            gateway::ws::client::Side::Sell
        };
        let offset = ((x >> 8) % 30) as i64 - 15;
        let px = 12800 + offset + if buy { -4 } else { 4 };
        let id = format!("d{d}-{i}");
        if (x >> 40) % 10 < 2 && i > 10 {
            let target = format!("d{d}-{}", i - 2 * (1 + (x >> 50) as usize % 4));
            c.cancel(&format!("{id}-c"), &target).await.expect("sends");
        } else {
            c.limit_order(&id, "UST-10Y", side, px, 1 + (x >> 20) % 7)
                .await
                .expect("sends");
        }
        sent[d] += 1;
        if i % 8 == 7 || i + 1 == n {
            for (d, c) in dealers.iter_mut().enumerate() {
                await_answers(c, d, sent[d], &mut answered[d]).await;
            }
        }
    }
}

/// Every request gets exactly one first answer: an exec (new, rejected,
/// canceled) or a cancel reject with the request's cl_ord_id.
async fn await_answers(
    c: &mut Client,
    d: usize,
    sent: usize,
    answered: &mut std::collections::BTreeSet<String>,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mine = format!("d{d}-");
    while answered.len() < sent {
        let Ok(ev) = tokio::time::timeout_at(deadline, c.next_event()).await else {
            panic!("dealer {d}: {} of {sent} requests answered", answered.len());
        };
        match ev.expect("no error").expect("open") {
            ClientEvent::Exec(x) if x.cl_ord_id.starts_with(&mine) => {
                answered.insert(x.cl_ord_id.clone());
            }
            ClientEvent::CancelReject(r) => {
                answered.insert(r.cl_ord_id.clone());
            }
            _ => {}
        }
    }
}

/// Reads the subscriber until its book has been in sync and unchanged over
/// two heartbeats (a lost last update would have shown up in the first).
async fn settle(sub: &mut Client, channel: &str) {
    let mut quiet = 0;
    let mut last = None;
    while quiet < 2 {
        let ev = tokio::time::timeout(Duration::from_secs(10), sub.next_event())
            .await
            .expect("heartbeats keep coming")
            .expect("no error")
            .expect("open");
        if let ClientEvent::Heartbeat { .. } = ev {
            let book = sub.book(channel).expect("subscribed");
            let now = book.seq();
            if book.is_synced() && now == last {
                quiet += 1;
            } else {
                quiet = 0;
            }
            last = now;
        }
    }
}

async fn subscriber(url: &str, channel: &str) -> Client {
    let mut sub = Client::connect(url).await.expect("connects");
    sub.subscribe_book("UST-10Y", CHANNEL_DEPTH)
        .await
        .expect("subscribes");
    // Until the snapshot is in.
    loop {
        if let Some(ClientEvent::Book { .. }) = sub.next_event().await.expect("reads") {
            break;
        }
    }
    assert!(sub.book(channel).is_some_and(|b| b.is_synced()));
    sub
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_book_equals_the_journal_replayed_book_after_a_long_random_run() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = config();
    let node = Node::start(&config, dir.path()).expect("starts");
    let addr = node.ws_addr;
    let channel = book_channel("UST-10Y");
    let mut sub = subscriber(&format!("ws://{addr}/"), &channel).await;
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done_r = Arc::clone(&done);
    let reader = tokio::spawn(async move {
        // Keep reading while the dealers trade, so nothing is conflated;
        // stop at the first quiet moment after they are done.
        let mut books = 0u64;
        loop {
            match tokio::time::timeout(Duration::from_millis(300), sub.next_event()).await {
                Ok(Ok(Some(ClientEvent::Book { .. }))) => books += 1,
                Ok(Ok(Some(_))) => {}
                Ok(other) => panic!("subscriber: {other:?}"),
                Err(_) if done_r.load(Ordering::SeqCst) => return (sub, books),
                Err(_) => {}
            }
        }
    });
    random_trading(addr, 3000, 0x2545_f491_4f6c_dd1d).await;
    done.store(true, Ordering::SeqCst);
    let (mut sub, books) = reader.await.expect("the reader ends");
    settle(&mut sub, &channel).await;
    let book = sub.book(&channel).expect("subscribed");
    assert_eq!(
        sub.resyncs(&channel),
        0,
        "nothing was lost on a clean connection"
    );
    assert!(books > 50, "{books} book events");
    let local = (book.bids().to_vec(), book.asks().to_vec());
    node.shutdown().expect("stops");
    let engine = journal_book(&config, dir.path());
    assert!(
        !engine.0.is_empty() && !engine.1.is_empty(),
        "a two-sided book: {engine:?}"
    );
    assert_eq!(local, engine);
}

/// What the tampering proxy does to the server's book updates.
#[derive(Clone, Copy)]
enum Tamper {
    /// Deliver update `n` after update `n + 1`.
    Swap(u64),
    /// Never deliver update `n`.
    Drop(u64),
}

/// A proxy between one client and the venue that passes bytes through,
/// except that it parses the server's WebSocket frames (unmasked) and
/// tampers with the book updates (not snapshots) as told.
async fn proxy(upstream: SocketAddr, tamper: Vec<Tamper>, updates: Arc<AtomicU64>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let (client, _) = listener.accept().await.expect("accepts");
        let server = TcpStream::connect(upstream).await.expect("connects");
        let (mut cr, mut cw) = client.into_split();
        let (mut sr, mut sw) = server.into_split();
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut cr, &mut sw).await;
        });
        // The HTTP upgrade response first: up to the blank line.
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            if sr.read_exact(&mut b).await.is_err() {
                return;
            }
            head.push(b[0]);
        }
        if cw.write_all(&head).await.is_err() {
            return;
        }
        let mut held: Option<Vec<u8>> = None;
        loop {
            let mut h = [0u8; 2];
            if sr.read_exact(&mut h).await.is_err() {
                return;
            }
            let mut frame = h.to_vec();
            let len = match h[1] & 0x7f {
                126 => {
                    let mut l = [0u8; 2];
                    if sr.read_exact(&mut l).await.is_err() {
                        return;
                    }
                    frame.extend_from_slice(&l);
                    u64::from(u16::from_be_bytes(l))
                }
                127 => {
                    let mut l = [0u8; 8];
                    if sr.read_exact(&mut l).await.is_err() {
                        return;
                    }
                    frame.extend_from_slice(&l);
                    u64::from_be_bytes(l)
                }
                n => u64::from(n),
            };
            let mut payload = vec![0u8; len as usize];
            if sr.read_exact(&mut payload).await.is_err() {
                return;
            }
            let text = String::from_utf8_lossy(&payload);
            let is_update =
                text.contains(r#""type":"book""#) && text.contains(r#""snapshot":false"#);
            frame.extend_from_slice(&payload);
            let mut out = vec![frame];
            if is_update {
                let n = updates.fetch_add(1, Ordering::SeqCst) + 1;
                for t in &tamper {
                    match *t {
                        Tamper::Swap(k) if k == n => {
                            held = out.pop();
                        }
                        Tamper::Swap(k) if k + 1 == n => {
                            out.extend(held.take());
                        }
                        Tamper::Drop(k) if k == n => out.clear(),
                        _ => {}
                    }
                }
            }
            for f in out {
                if cw.write_all(&f).await.is_err() {
                    return;
                }
            }
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_or_reordered_update_is_detected_and_the_book_repaired() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = config();
    let node = Node::start(&config, dir.path()).expect("starts");
    let channel = book_channel("UST-10Y");
    let updates = Arc::new(AtomicU64::new(0));
    let via = proxy(
        node.ws_addr,
        vec![Tamper::Swap(20), Tamper::Drop(200)],
        Arc::clone(&updates),
    )
    .await;
    let mut sub = subscriber(&format!("ws://{via}/"), &channel).await;
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done_r = Arc::clone(&done);
    let reader = tokio::spawn(async move {
        let mut resyncs = Vec::new();
        loop {
            match tokio::time::timeout(Duration::from_millis(300), sub.next_event()).await {
                Ok(Ok(Some(ClientEvent::BookResync { reason, .. }))) => resyncs.push(reason),
                Ok(Ok(Some(ClientEvent::Book { .. }))) => {
                    // Whatever the client shows is a book that passed its
                    // checksum: never crossed.
                    let b = sub.book(&book_channel("UST-10Y")).expect("subscribed");
                    if let (Some(bid), Some(ask)) = (b.best_bid(), b.best_ask()) {
                        assert!(bid.price_ticks < ask.price_ticks, "crossed book shown");
                    }
                }
                Ok(Ok(Some(_))) => {}
                Ok(other) => panic!("subscriber: {other:?}"),
                Err(_) if done_r.load(Ordering::SeqCst) => return (sub, resyncs),
                Err(_) => {}
            }
        }
    });
    random_trading(node.ws_addr, 3000, 0x9e37_79b9_7f4a_7c15).await;
    done.store(true, Ordering::SeqCst);
    let (mut sub, resyncs) = reader.await.expect("the reader ends");
    settle(&mut sub, &channel).await;
    assert!(
        updates.load(Ordering::SeqCst) > 200,
        "the proxy saw enough updates to tamper with"
    );
    // The swap was repaired by the reorder buffer; the drop needed one
    // resubscription.
    assert_eq!(resyncs.len(), 1, "{resyncs:?}");
    assert_eq!(sub.resyncs(&channel), 1);
    let book = sub.book(&channel).expect("subscribed");
    let local = (book.bids().to_vec(), book.asks().to_vec());
    node.shutdown().expect("stops");
    assert_eq!(local, journal_book(&config, dir.path()));
}
