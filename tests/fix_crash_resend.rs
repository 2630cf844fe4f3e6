//! Crash and resend over FIX: the real `venue run` binary is killed with
//! SIGKILL while two FIX clients trade through it, and restarted, again and
//! again. The clients behave as FIX engines do: they keep their sequence
//! numbers and every message they sent, log on again with their own
//! numbers, ask for what they missed (ResendRequest from the last MsgSeqNum
//! they saw) and answer the venue's ResendRequests by resending their orders
//! with PossDupFlag=Y. At the end:
//! - no execution report arrives twice unless marked PossDupFlag=Y;
//! - the maker's fills and the taker's fills add up to the same quantity
//!   (both sides of every trade were delivered);
//! - every order either client sent is known to the venue (an order status
//!   request finds it), and none was entered twice.
//!
//! `VENUE_FIX_KILLS=<n>` sets the number of SIGKILL rounds (default 8);
//! `VENUE_FIX_SEED` the seed (printed).

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use common::fix_client::{Client, Msg, build, utc_now};
use common::{fix_addr, signal, venue, wait_for};
use rand::{RngExt, SeedableRng};

fn s(v: &str) -> String {
    v.to_owned()
}

/// A message we sent: MsgType, the fields after the header, SendingTime.
type Sent = (String, Vec<(u32, String)>, String);

/// A FIX client that survives the venue's restarts.
struct Peer {
    name: String,
    next_out: u64,
    /// Every message we sent: MsgSeqNum -> (MsgType, fields after the header, SendingTime).
    sent: BTreeMap<u64, Sent>,
    /// The highest MsgSeqNum received from the venue.
    max_seen: u64,
    /// ExecID -> how many times received without PossDupFlag.
    exec_ids: HashMap<String, u32>,
    /// Unique fills: ExecID -> LastQty.
    fills: HashMap<String, u64>,
    /// ClOrdIDs we sent.
    orders: Vec<String>,
    /// Status answers: ClOrdID -> (OrdStatus, CumQty).
    statuses: HashMap<String, (String, u64)>,
    conn: Option<Client>,
    /// Reports received with PossDupFlag=Y, and ResendRequests answered.
    poss_dups: u32,
    resends_answered: u32,
}

impl Peer {
    fn new(name: &str) -> Peer {
        Peer {
            name: name.to_owned(),
            next_out: 1,
            sent: BTreeMap::new(),
            max_seen: 0,
            exec_ids: HashMap::new(),
            fills: HashMap::new(),
            orders: Vec::new(),
            statuses: HashMap::new(),
            conn: None,
            poss_dups: 0,
            resends_answered: 0,
        }
    }

    fn send(&mut self, msg_type: &str, fields: Vec<(u32, String)>) {
        let seq = self.next_out;
        self.next_out += 1;
        let time = utc_now();
        self.sent
            .insert(seq, (msg_type.to_owned(), fields.clone(), time.clone()));
        if let Some(c) = self.conn.as_mut() {
            let mut all = vec![
                (49, self.name.clone()),
                (56, s("VENUE")),
                (34, seq.to_string()),
                (52, time),
            ];
            all.extend(fields);
            let _ = std::io::Write::write_all(&mut c.stream, build(msg_type, &all).as_bytes());
        }
    }

    fn connect(&mut self, addr: &str) {
        let mut c = Client::connect(addr, &self.name);
        c.next_out = self.next_out;
        self.conn = Some(c);
        self.send("A", vec![(98, s("0")), (108, s("30"))]);
    }

    /// Reads for `dur`, acting as a FIX engine would.
    fn pump(&mut self, dur: Duration) {
        let deadline = Instant::now() + dur;
        while Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(c) = self.conn.as_mut() else {
                return;
            };
            let Some(m) = c.recv(left.min(Duration::from_millis(50))) else {
                if c.closed_within(Duration::ZERO) {
                    self.conn = None;
                    return;
                }
                continue;
            };
            self.on_message(&m);
        }
    }

    fn on_message(&mut self, m: &Msg) {
        let poss_dup = m.get(43) == Some("Y");
        match m.msg_type() {
            // The venue's Logon: anything between what we saw and it is a
            // gap to ask for.
            "A" if m.seq() > self.max_seen + 1 => {
                let from = self.max_seen + 1;
                self.send("2", vec![(7, from.to_string()), (16, s("0"))]);
            }
            "2" => {
                let begin: u64 = m.get(7).unwrap().parse().unwrap();
                let end: u64 = m.get(16).unwrap().parse().unwrap();
                let end = if end == 0 { self.next_out - 1 } else { end };
                self.resends_answered += 1;
                self.resend(begin, end);
            }
            "8" => {
                let exec_id = m.get(17).unwrap().to_owned();
                if poss_dup {
                    self.poss_dups += 1;
                } else {
                    *self.exec_ids.entry(exec_id.clone()).or_default() += 1;
                }
                match m.get(150) {
                    Some("F") => {
                        let qty: u64 = m.get(32).unwrap().parse().unwrap();
                        self.fills.insert(exec_id, qty);
                    }
                    Some("I") => {
                        let cum: u64 = m.get(14).unwrap().parse().unwrap();
                        self.statuses.insert(
                            m.get(11).unwrap().to_owned(),
                            (m.get(39).unwrap().to_owned(), cum),
                        );
                    }
                    _ => {}
                }
            }
            "3" => panic!(
                "{}: session reject: {}",
                self.name,
                m.raw.replace('\x01', "|")
            ),
            _ => {}
        }
        if m.msg_type() != "4" || m.get(123) == Some("Y") {
            self.max_seen = self.max_seen.max(m.seq());
        }
        if m.msg_type() == "4"
            && let Some(n) = m.get(36).and_then(|n| n.parse::<u64>().ok())
        {
            self.max_seen = self.max_seen.max(n - 1);
        }
    }

    /// Answers the venue's ResendRequest: orders again with PossDupFlag=Y,
    /// everything else as gap fills.
    fn resend(&mut self, begin: u64, end: u64) {
        let Some(c) = self.conn.as_mut() else {
            return;
        };
        let mut seq = begin;
        while seq <= end {
            match self.sent.get(&seq) {
                Some((t, fields, orig)) if t != "A" && t != "2" && t != "0" && t != "5" => {
                    let mut all = vec![
                        (49, self.name.clone()),
                        (56, s("VENUE")),
                        (34, seq.to_string()),
                        (43, s("Y")),
                        (52, utc_now()),
                        (122, orig.clone()),
                    ];
                    all.extend(fields.iter().cloned());
                    let _ = std::io::Write::write_all(&mut c.stream, build(t, &all).as_bytes());
                    seq += 1;
                }
                _ => {
                    let mut next = seq + 1;
                    while next <= end
                        && !matches!(self.sent.get(&next), Some((t, ..)) if t != "A" && t != "2" && t != "0" && t != "5")
                    {
                        next += 1;
                    }
                    let all = vec![
                        (49, self.name.clone()),
                        (56, s("VENUE")),
                        (34, seq.to_string()),
                        (43, s("Y")),
                        (52, utc_now()),
                        (122, utc_now()),
                        (123, s("Y")),
                        (36, next.to_string()),
                    ];
                    let _ = std::io::Write::write_all(&mut c.stream, build("4", &all).as_bytes());
                    seq = next;
                }
            }
        }
    }

    fn order(&mut self, id: &str, side: char, tif: &str) {
        self.orders.push(id.to_owned());
        self.send(
            "D",
            vec![
                (11, id.to_owned()),
                (55, s("UST-10Y")),
                (54, side.to_string()),
                (60, utc_now()),
                (38, s("1")),
                (40, s("2")),
                (44, s("100")),
                (59, tif.to_owned()),
            ],
        );
    }
}

#[test]
fn fills_survive_kill_9_and_are_recovered_by_resend_exactly_once() {
    let kills: u32 = std::env::var("VENUE_FIX_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let seed: u64 = std::env::var("VENUE_FIX_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    println!("VENUE_FIX_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let data = tempfile::tempdir().unwrap();
    let mut maker = Peer::new("CLIENT1");
    let mut taker = Peer::new("CLIENT2");
    let mut n = 0u32;
    for round in 0..=kills {
        let (mut child, rx) = venue(data.path());
        let lines = wait_for(&rx, "venue running");
        let addr = fix_addr(&lines);
        maker.connect(&addr);
        taker.connect(&addr);
        maker.pump(Duration::from_millis(300));
        taker.pump(Duration::from_millis(300));
        if round == kills {
            // The last round: settle, then ask for the status of everything.
            for _ in 0..10 {
                maker.pump(Duration::from_millis(100));
                taker.pump(Duration::from_millis(100));
            }
            for p in [&mut maker, &mut taker] {
                for id in p.orders.clone() {
                    p.send("H", vec![(11, id), (55, s("UST-10Y")), (54, s("1"))]);
                }
            }
            for _ in 0..20 {
                maker.pump(Duration::from_millis(100));
                taker.pump(Duration::from_millis(100));
            }
            signal(&child, libc::SIGTERM);
            wait_for(&rx, "journal closed");
            assert!(child.0.wait().unwrap().success());
            break;
        }
        let burst = rng.random_range(5..40);
        for _ in 0..burst {
            n += 1;
            maker.order(&format!("M{n}"), '1', "0");
            taker.order(&format!("T{n}"), '2', "3");
        }
        let wait = rng.random_range(0..60);
        maker.pump(Duration::from_millis(wait));
        child.kill();
        maker.conn = None;
        taker.conn = None;
    }

    for p in [&maker, &taker] {
        let twice: Vec<_> = p.exec_ids.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            twice.is_empty(),
            "{}: reports sent twice without PossDup: {twice:?}",
            p.name
        );
        let known: HashSet<&String> = p.statuses.keys().collect();
        for id in &p.orders {
            assert!(known.contains(id), "{}: no status for {id}", p.name);
            let (status, _) = &p.statuses[id];
            assert_ne!(status, "8", "{}: order {id} unknown to the venue", p.name);
        }
    }
    for p in [&maker, &taker] {
        println!(
            "{}: {} orders, {} fills, {} reports resent with PossDup, {} venue ResendRequests answered",
            p.name,
            p.orders.len(),
            p.fills.len(),
            p.poss_dups,
            p.resends_answered
        );
    }
    let maker_qty: u64 = maker.fills.values().sum();
    let taker_qty: u64 = taker.fills.values().sum();
    assert!(maker_qty > 0, "some trades happened");
    assert_eq!(maker_qty, taker_qty, "both sides of every trade delivered");
    // The cumulative quantities the venue reports agree with the fills seen.
    let maker_cum: u64 = maker.statuses.values().map(|(_, c)| c).sum();
    assert_eq!(
        maker_cum, maker_qty,
        "status CumQty agrees with the fills received"
    );
}
