//! The FIX session layer over real TCP on 127.0.0.1: the FIX session test
//! cases (FIX Trading Community numbering in each test's name), order entry,
//! and resend across a disconnect. The venue runs in-process (journal,
//! sequencer, acceptor) with the demonstration configuration; the client is
//! the independent test client in `common/fix_client.rs`.

mod common;

use std::time::Duration;

use common::fix_client::{Client, build, new_order, utc, utc_now};
use common::in_process::InProcess;
use gateway::fix::config::{CancelOnDisconnect, RateLimit, SessionConfig};
use journal::Durability;

const T: Duration = Duration::from_secs(5);

struct Venue {
    inner: InProcess,
    addr: String,
    _dir: Option<tempfile::TempDir>,
}

impl Venue {
    fn start() -> Venue {
        let dir = tempfile::tempdir().unwrap();
        let mut v = Venue::start_in(dir.path());
        v._dir = Some(dir);
        v
    }

    fn start_in(data: &std::path::Path) -> Venue {
        Venue::start_with(data, venue::demo::fix_sessions())
    }

    fn start_configured(change: impl FnOnce(&mut Vec<SessionConfig>)) -> Venue {
        let dir = tempfile::tempdir().unwrap();
        let mut sessions = venue::demo::fix_sessions();
        change(&mut sessions);
        let mut v = Venue::start_with(dir.path(), sessions);
        v._dir = Some(dir);
        v
    }

    fn start_with(data: &std::path::Path, sessions: Vec<SessionConfig>) -> Venue {
        let inner = InProcess::start(data, sessions, Durability::Process);
        Venue {
            addr: inner.addr.to_string(),
            inner,
            _dir: None,
        }
    }

    fn client(&self, sender: &str) -> Client {
        Client::connect(&self.addr, sender)
    }

    fn logged_on(&self, sender: &str) -> Client {
        let mut c = self.client(sender);
        let logon = c.logon(30, &[]);
        assert_eq!(logon.get(108), Some("30"));
        c
    }

    fn shutdown(&mut self) {
        self.inner.shutdown();
    }
}

fn s(v: &str) -> String {
    v.to_owned()
}

#[test]
fn order_entry_fills_both_sides_with_textbook_execution_reports() {
    let v = Venue::start();
    let mut a = v.logged_on("CLIENT1");
    let mut b = v.logged_on("CLIENT2");
    a.send("D", &new_order("A1", b'1', "5", "100.5"));
    let ack = a.expect("8", T);
    assert_eq!(ack.get(150), Some("0"), "{}", ack.raw);
    assert_eq!(ack.get(39), Some("0"));
    assert_eq!(ack.get(11), Some("A1"));
    assert_eq!(ack.get(55), Some("UST-10Y"));
    assert_eq!(ack.get(44), Some("100.5"));
    assert_eq!(ack.get(151), Some("5"));
    assert_eq!(ack.get(14), Some("0"));
    b.send("D", &new_order("B1", b'2', "3", "100.5"));
    let b_ack = b.expect("8", T);
    assert_eq!(b_ack.get(150), Some("0"));
    let b_fill = b.expect("8", T);
    assert_eq!(b_fill.get(150), Some("F"), "{}", b_fill.raw);
    assert_eq!(b_fill.get(39), Some("2"));
    assert_eq!(b_fill.get(32), Some("3"));
    assert_eq!(b_fill.get(31), Some("100.5"));
    assert_eq!(
        b_fill.get(6).map(|p| p.parse::<f64>().unwrap()),
        Some(100.5)
    );
    let a_fill = a.expect("8", T);
    assert_eq!(a_fill.get(150), Some("F"));
    assert_eq!(a_fill.get(39), Some("1"));
    assert_eq!(a_fill.get(14), Some("3"));
    assert_eq!(a_fill.get(151), Some("2"));
    let ts = a_fill.get(60).unwrap();
    assert_eq!(
        ts.len(),
        "20261124-10:00:00.123456".len(),
        "microseconds: {ts}"
    );
    assert_ne!(a_fill.get(17), b_fill.get(17), "ExecIDs are unique");
    // ExecID is the input's sequence number and the report's index.
    let (seq, idx) = a_fill.get(17).unwrap().split_once('-').unwrap();
    assert!(seq.parse::<u64>().unwrap() > 0 && idx.parse::<u32>().is_ok());
}

#[test]
fn an_off_tick_price_is_rejected_with_a_readable_text() {
    let v = Venue::start();
    let mut a = v.logged_on("CLIENT1");
    a.send("D", &new_order("A1", b'1', "1", "100.001"));
    let r = a.expect("8", T);
    assert_eq!(r.get(150), Some("8"));
    assert_eq!(r.get(39), Some("8"));
    let text = r.get(58).unwrap();
    assert!(text.contains("tick size 0.0078125"), "{text}");
}

#[test]
fn unknown_instrument_and_cancel_of_unknown_order_are_answered() {
    let v = Venue::start();
    let mut a = v.logged_on("CLIENT1");
    let mut o = new_order("A1", b'1', "1", "100");
    o[2] = (55, s("NOPE"));
    a.send("D", &o);
    let r = a.expect("8", T);
    assert_eq!(r.get(39), Some("8"));
    assert!(r.get(58).unwrap().contains("unknown instrument NOPE"));
    a.send(
        "F",
        &[
            (41, s("GHOST")),
            (11, s("C1")),
            (55, s("UST-10Y")),
            (54, s("1")),
            (60, utc_now()),
        ],
    );
    let r = a.expect("9", T);
    assert_eq!(r.get(434), Some("1"));
    assert_eq!(r.get(102), Some("1"), "unknown order: {}", r.raw);
}

#[test]
fn a_session_acts_only_on_its_own_orders() {
    let v = Venue::start();
    let mut a = v.logged_on("CLIENT1");
    let mut b = v.logged_on("CLIENT2");
    a.send("D", &new_order("SAME", b'1', "1", "99.75"));
    let ack = a.expect("8", T);
    let order_id = ack.get(37).unwrap().to_owned();
    // CLIENT2 tries to cancel CLIENT1's order by OrderID and by ClOrdID.
    for target in [
        vec![(41, s("NOPE")), (37, order_id.clone())],
        vec![(41, s("SAME"))],
    ] {
        let mut f = target;
        f.extend([
            (11, s("X")),
            (55, s("UST-10Y")),
            (54, s("1")),
            (60, utc_now()),
        ]);
        b.send("F", &f);
        let r = b.expect("9", T);
        assert_eq!(r.get(102), Some("1"), "as for an order that does not exist");
    }
}

#[test]
fn unknown_comp_ids_are_dropped_without_a_reply() {
    let v = Venue::start();
    let mut c = v.client("STRANGER");
    c.send("A", &[(98, s("0")), (108, s("30"))]);
    assert!(c.closed_within(T));
    assert!(c.received.is_empty(), "no reply: {:?}", c.received);
}

#[test]
fn first_message_not_a_logon_disconnects_2s() {
    let v = Venue::start();
    let mut c = v.client("CLIENT1");
    c.send("0", &[]);
    assert!(c.closed_within(T));
    assert!(c.received.is_empty());
}

#[test]
fn a_second_connection_is_dropped_and_the_first_undisturbed_1s() {
    let v = Venue::start();
    let mut first = v.logged_on("CLIENT1");
    let mut second = v.client("CLIENT1");
    second.send("A", &[(98, s("0")), (108, s("30"))]);
    assert!(second.closed_within(T));
    first.send("1", &[(112, s("PING"))]);
    let hb = first.expect("0", T);
    assert_eq!(hb.get(112), Some("PING"));
}

#[test]
fn seq_too_high_queues_and_asks_for_a_resend_2b() {
    let v = Venue::start();
    let mut c = v.logged_on("CLIENT1");
    // We skip 2 and send 3: the venue asks for 2.. and waits.
    c.send_with_seq("D", 3, &new_order("Q3", b'1', "1", "99.75"));
    let rr = c.expect("2", T);
    assert_eq!(rr.get(7), Some("2"));
    assert_eq!(rr.get(16), Some("0"));
    // Fill the gap with a gap fill of 2 -> 3: message 3 is then processed.
    let mut fields = c.header(2);
    fields.extend([(43, s("Y")), (122, utc_now()), (123, s("Y")), (36, s("3"))]);
    c.send_raw(build("4", &fields).as_bytes());
    let ack = c.expect("8", T);
    assert_eq!(ack.get(11), Some("Q3"));
    c.next_out = 4;
    c.send("1", &[(112, s("AFTER"))]);
    assert_eq!(c.expect("0", T).get(112), Some("AFTER"));
}

#[test]
fn seq_too_low_without_possdup_logs_out_2c() {
    let v = Venue::start();
    let mut c = v.logged_on("CLIENT1");
    c.send_with_seq("0", 1, &[]);
    let lo = c.expect("5", T);
    assert_eq!(
        lo.get(58),
        Some("MsgSeqNum too low, expecting 2 but received 1")
    );
    assert!(c.closed_within(T));
}

#[test]
fn possdup_below_expected_is_ignored_2e_and_without_orig_sending_time_rejected_2g() {
    let v = Venue::start();
    let mut c = v.logged_on("CLIENT1");
    c.send("0", &[]);
    // 2e: a PossDup resend of 1 is ignored.
    let mut f = c.header(1);
    f.extend([(43, s("Y")), (122, utc_now())]);
    c.send_raw(build("0", &f).as_bytes());
    // 2g: PossDup without OrigSendingTime at the expected number.
    let mut f = c.header(3);
    f.push((43, s("Y")));
    c.send_raw(build("0", &f).as_bytes());
    let rj = c.expect("3", T);
    assert_eq!(rj.get(45), Some("3"));
    assert_eq!(rj.get(373), Some("1"));
    assert_eq!(rj.get(371), Some("122"));
    // The reject consumed 3: 4 is next.
    c.next_out = 4;
    c.send("1", &[(112, s("OK"))]);
    assert_eq!(c.expect("0", T).get(112), Some("OK"));
}

#[test]
fn orig_sending_time_after_sending_time_is_rejected_2f() {
    let v = Venue::start();
    let mut c = v.logged_on("CLIENT1");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let mut f = c.header(2);
    f.extend([(43, s("Y")), (122, utc(now + Duration::from_secs(60)))]);
    c.send_raw(build("0", &f).as_bytes());
    let rj = c.expect("3", T);
    assert_eq!(rj.get(373), Some("10"));
}

#[test]
fn garbled_messages_are_ignored_without_advancing_the_sequence_2d() {
    let v = Venue::start();
    let mut c = v.logged_on("CLIENT1");
    // A bad checksum and a bad body length.
    let mut good = build("1", &{
        let mut f = c.header(2);
        f.push((112, s("X")));
        f
    });
    let n = good.len();
    good.replace_range(n - 4..n - 1, "000");
    c.send_raw(good.as_bytes());
    c.send_raw(b"8=FIX.4.4\x019=5\x0135=0\x0134=2\x0110=000\x01");
    // Sequence 2 is still expected.
    c.send("1", &[(112, s("STILL2"))]);
    let hb = c.expect("0", T);
    assert_eq!(hb.get(112), Some("STILL2"));
}

#[test]
fn wrong_begin_string_logs_out_2i_and_wrong_comp_id_rejects_2k() {
    let v = Venue::start();
    let mut c = v.logged_on("CLIENT1");
    let body = format!(
        "35=0\x0149=CLIENT1\x0156=VENUE\x0134=2\x0152={}\x01",
        utc_now()
    );
    let mut m = format!("8=FIX.4.2\x019={}\x01{body}", body.len());
    let sum: u32 = m.bytes().map(u32::from).sum::<u32>() % 256;
    m.push_str(&format!("10={sum:03}\x01"));
    c.send_raw(m.as_bytes());
    c.expect("5", T);
    assert!(c.closed_within(T));

    let mut c = v.logged_on("CLIENT2");
    let mut f = vec![
        (49, s("CLIENT2")),
        (56, s("SOMEONE")),
        (34, s("2")),
        (52, utc_now()),
    ];
    f.push((112, s("X")));
    c.send_raw(build("1", &f).as_bytes());
    let rj = c.expect("3", T);
    assert_eq!(rj.get(373), Some("9"));
    c.expect("5", T);
    assert!(c.closed_within(T));
}

#[test]
fn sending_time_outside_tolerance_rejects_and_logs_out_2o() {
    let v = Venue::start();
    let mut c = v.logged_on("CLIENT1");
    let mut f = c.header(2);
    f[3] = (52, s("20200101-00:00:00.000"));
    c.send_raw(build("0", &f).as_bytes());
    let rj = c.expect("3", T);
    assert_eq!(rj.get(373), Some("10"));
    c.expect("5", T);
}

#[test]
fn invalid_and_unsupported_msg_types_2q_2r() {
    let v = Venue::start();
    let mut c = v.logged_on("CLIENT1");
    c.send("ZZ", &[]);
    let rj = c.expect("3", T);
    assert_eq!(rj.get(373), Some("11"));
    c.send("R", &[(131, s("QR1")), (146, s("1")), (55, s("UST-10Y"))]);
    let bmr = c.expect("j", T);
    assert_eq!(bmr.get(380), Some("3"));
}

#[test]
fn test_request_is_answered_with_its_id_4_5() {
    let v = Venue::start();
    let mut c = v.logged_on("CLIENT1");
    c.send("1", &[(112, s("HELLO"))]);
    assert_eq!(c.expect("0", T).get(112), Some("HELLO"));
}

#[test]
fn silence_brings_a_test_request_then_a_disconnect_6() {
    let v = Venue::start();
    let mut c = v.client("CLIENT1");
    c.logon(1, &[]);
    // Heartbeat 1 s: after 1.2 s of silence a TestRequest, after another
    // second without an answer, the venue disconnects.
    let tr = c.expect("1", Duration::from_secs(4));
    assert!(tr.get(112).is_some());
    assert!(c.closed_within(Duration::from_secs(4)));
}

#[test]
fn logout_handshake_12() {
    let v = Venue::start();
    let mut c = v.logged_on("CLIENT1");
    c.send("5", &[]);
    c.expect("5", T);
    assert!(c.closed_within(T));
}

#[test]
fn sequence_reset_rules_10_11() {
    let v = Venue::start();
    let mut c = v.logged_on("CLIENT1");
    // 11: Reset mode moves the expected number up, whatever MsgSeqNum says.
    let mut f = c.header(99);
    f.push((36, s("10")));
    c.send_raw(build("4", &f).as_bytes());
    c.next_out = 10;
    c.send("1", &[(112, s("AT10"))]);
    assert_eq!(c.expect("0", T).get(112), Some("AT10"));
    // 11: NewSeqNo lower than expected: Reject 373=5.
    let mut f = c.header(11);
    f.push((36, s("5")));
    c.send_raw(build("4", &f).as_bytes());
    let rj = c.expect("3", T);
    assert_eq!(rj.get(373), Some("5"));
    // 10: GapFill in sequence moves to NewSeqNo.
    let mut f = c.header(11);
    f.extend([(123, s("Y")), (36, s("20"))]);
    c.send_raw(build("4", &f).as_bytes());
    c.next_out = 20;
    c.send("1", &[(112, s("AT20"))]);
    assert_eq!(c.expect("0", T).get(112), Some("AT20"));
}

#[test]
fn resend_request_resends_reports_and_gap_fills_admin_8() {
    let v = Venue::start();
    let mut a = v.logged_on("CLIENT1");
    a.send("D", &new_order("R1", b'1', "1", "99.75"));
    let ack = a.expect("8", T);
    let ack_seq = ack.seq();
    a.send("2", &[(7, s("1")), (16, s("0"))]);
    // 1 was our Logon reply: gap fill to 2; then the ER again.
    let gf = a.expect("4", T);
    assert_eq!(gf.get(123), Some("Y"));
    assert_eq!(gf.seq(), 1);
    assert_eq!(gf.get(36), Some(ack_seq.to_string().as_str()));
    let again = a.expect("8", T);
    assert_eq!(again.seq(), ack_seq);
    assert_eq!(again.get(43), Some("Y"));
    assert_eq!(again.get(122), ack.get(52));
    assert_eq!(again.get(17), ack.get(17));
}

#[test]
fn reports_made_while_logged_out_are_recovered_by_resend() {
    let v = Venue::start();
    let mut a = v.logged_on("CLIENT1");
    let mut b = v.logged_on("CLIENT2");
    a.send("D", &new_order("REST", b'1', "2", "99.75"));
    a.expect("8", T);
    a.send("5", &[]);
    a.expect("5", T);
    assert!(a.closed_within(T));
    let next_a = a.next_out;
    b.send("D", &new_order("HIT", b'2', "2", "99.75"));
    b.expect("8", T);
    assert_eq!(b.expect("8", T).get(150), Some("F"));
    // CLIENT1 logs on again with its own numbers; the venue's Logon is
    // ahead of what it expects, so it asks for the gap.
    let mut a2 = v.client("CLIENT1");
    a2.next_out = next_a;
    let logon = a2.logon(30, &[]);
    assert!(logon.seq() > 4, "venue's sequence kept: {}", logon.raw);
    a2.send("2", &[(7, s("4")), (16, s("0"))]);
    let mut fills = Vec::new();
    while let Some(m) = a2.recv(Duration::from_secs(2)) {
        if m.msg_type() == "8" {
            fills.push(m);
        }
    }
    let fill = fills
        .iter()
        .find(|m| m.get(150) == Some("F"))
        .unwrap_or_else(|| panic!("the fill is resent: {fills:?}"));
    assert_eq!(fill.get(43), Some("Y"));
    assert_eq!(fill.get(11), Some("REST"));
}

#[test]
fn a_resent_order_is_answered_with_its_status_not_entered_twice_19() {
    let v = Venue::start();
    let mut a = v.logged_on("CLIENT1");
    a.send("D", &new_order("ONCE", b'1', "1", "99.75"));
    let ack = a.expect("8", T);
    // PossResend(97) belongs to the standard header.
    let mut f = a.header(a.next_out);
    f.push((97, s("Y")));
    f.extend(new_order("ONCE", b'1', "1", "99.75"));
    a.send_raw(build("D", &f).as_bytes());
    a.next_out += 1;
    let st = a.expect("8", T);
    assert_eq!(st.get(150), Some("I"), "{}", st.raw);
    assert_eq!(st.get(37), ack.get(37));
    // Without PossResend the same ClOrdID is a duplicate.
    a.send("D", &new_order("ONCE", b'1', "1", "99.75"));
    let dup = a.expect("8", T);
    assert_eq!(dup.get(150), Some("8"));
}

#[test]
fn security_list_request_lists_the_configured_instruments() {
    let v = Venue::start();
    let mut a = v.logged_on("CLIENT1");
    a.send("x", &[(320, s("SL1")), (559, s("4"))]);
    let y = a.expect("y", T);
    assert_eq!(y.get(320), Some("SL1"));
    assert_eq!(y.get(146), Some("1"));
    assert_eq!(y.get(55), Some("UST-10Y"));
}

#[test]
fn sequence_numbers_and_reports_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (a_next, last_seen);
    {
        let mut v = Venue::start_in(dir.path());
        let mut a = v.logged_on("CLIENT1");
        a.send("D", &new_order("P1", b'1', "1", "99.75"));
        last_seen = a.expect("8", T).seq();
        a_next = a.next_out;
        v.shutdown();
    }
    let v = Venue::start_in(dir.path());
    let mut a = v.client("CLIENT1");
    a.next_out = a_next;
    let logon = a.logon(30, &[]);
    assert_eq!(logon.seq(), last_seen + 2, "after our Logout at shutdown");
    a.send("H", &[(11, s("P1")), (55, s("UST-10Y")), (54, s("1"))]);
    let st = a.expect("8", T);
    assert_eq!(st.get(150), Some("I"));
    assert_eq!(st.get(39), Some("0"), "the order is still live");
}

#[test]
fn over_rate_messages_wait_then_get_an_explicit_throttle_reject() {
    let v = Venue::start_configured(|s| {
        s[0].rate = RateLimit {
            per_second: 20,
            burst: 2,
            queue_max: 3,
        };
    });
    let mut a = v.logged_on("CLIENT1");
    // 2 pass at once, 3 wait for tokens, the rest are rejected at once.
    for i in 0..8 {
        a.send("D", &new_order(&format!("R{i}"), b'1', "1", "99.75"));
    }
    let mut acked = Vec::new();
    let mut throttled = Vec::new();
    while acked.len() + throttled.len() < 8 {
        let m = a.expect("8", T);
        match m.get(150) {
            Some("0") => acked.push(m.get(11).unwrap().to_owned()),
            Some("8") => {
                assert_eq!(m.get(58), Some("throttle limit exceeded"));
                throttled.push(m.get(11).unwrap().to_owned());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(acked.len(), 5, "burst 2 + queue 3: {acked:?}");
    assert_eq!(throttled, ["R5", "R6", "R7"]);
    // The figures for the metrics endpoint say so too.
    std::thread::sleep(Duration::from_millis(20));
    let (name, m) = &v.inner.metrics[0];
    assert_eq!(name, "VENUE-CLIENT1");
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(load(&m.throttled), 3);
    assert_eq!(load(&m.queued_by_rate), 3);
    assert_eq!(load(&m.next_in_seq), 10, "Logon + 8 orders");
    assert!(m.logged_on.load(std::sync::atomic::Ordering::Relaxed));
    // The bucket refills while the test reads it; its peak does not.
    let peak = m
        .quota_peak_permille
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(peak >= 900, "the bucket was emptied: {peak}");
}

#[test]
fn status_requests_wait_behind_orders_in_the_rate_limiter() {
    let v = Venue::start_configured(|s| {
        s[0].rate = RateLimit {
            per_second: 50,
            burst: 1,
            queue_max: 10,
        };
    });
    let mut a = v.logged_on("CLIENT1");
    a.send("D", &new_order("P0", b'1', "1", "99.75"));
    // Queued: a status request first, then an order; the order goes first.
    a.send("H", &[(11, s("P0")), (55, s("UST-10Y")), (54, s("1"))]);
    a.send("D", &new_order("P1", b'1', "1", "99.75"));
    let first = a.expect("8", T);
    assert_eq!(first.get(11), Some("P0"));
    let second = a.expect("8", T);
    assert_eq!(
        second.get(11),
        Some("P1"),
        "the order overtakes the status request"
    );
    let third = a.expect("8", T);
    assert_eq!(third.get(150), Some("I"));
}

#[test]
fn cancel_on_disconnect_cancels_the_participants_orders() {
    let v = Venue::start_configured(|s| s[0].cancel_on_disconnect = CancelOnDisconnect::All);
    let mut a = v.logged_on("CLIENT1");
    a.send("D", &new_order("COD1", b'1', "1", "99.75"));
    a.expect("8", T);
    let next = a.next_out;
    drop(a);
    std::thread::sleep(Duration::from_millis(300));
    let mut a = v.client("CLIENT1");
    a.next_out = next;
    a.logon(30, &[]);
    a.send("H", &[(11, s("COD1")), (55, s("UST-10Y")), (54, s("1"))]);
    let st = a.expect("8", T);
    assert_eq!(st.get(150), Some("I"));
    assert_eq!(st.get(39), Some("4"), "cancelled on disconnect: {}", st.raw);
}

#[test]
fn a_password_is_checked_against_its_argon2_hash() {
    let hash = gateway::fix::auth::hash_password(b"letmein").unwrap();
    let v = Venue::start_configured(|s| {
        s[0].username = Some("dealer1".to_owned());
        s[0].password_hash = Some(hash);
    });
    let mut bad = v.client("CLIENT1");
    bad.send(
        "A",
        &[
            (98, s("0")),
            (108, s("30")),
            (553, s("dealer1")),
            (554, s("nope")),
        ],
    );
    let lo = bad.expect("5", T);
    assert_eq!(lo.get(58), Some("invalid username or password"));
    assert!(bad.closed_within(T));
    let mut good = v.client("CLIENT1");
    good.logon(30, &[(553, s("dealer1")), (554, s("letmein"))]);
}

#[test]
fn a_connection_that_never_logs_on_is_closed_after_the_logon_timeout() {
    let v = Venue::start_configured(|s| {
        for c in s.iter_mut() {
            c.logon_timeout_ms = 300;
        }
    });
    let mut c = v.client("CLIENT1");
    assert!(!c.closed_within(Duration::from_millis(100)), "not at once");
    assert!(c.closed_within(T), "closed after the timeout");
    assert!(c.received.is_empty());
}

#[test]
fn an_oversized_message_ends_the_connection_and_garbage_never_crashes() {
    let v = Venue::start_configured(|s| {
        for c in s.iter_mut() {
            c.max_message_size = 1024;
        }
    });
    let mut a = v.logged_on("CLIENT1");
    a.send("D", &[(58, "x".repeat(4096))]);
    assert!(a.closed_within(T));
    // Random bytes before a Logon: the connection is closed, the venue
    // carries on serving others.
    let mut junk = v.client("CLIENT2");
    junk.send_raw(&[0xff; 70_000]);
    assert!(junk.closed_within(T));
    let mut b = v.logged_on("CLIENT2");
    b.send("1", &[(112, s("ALIVE"))]);
    assert_eq!(b.expect("0", T).get(112), Some("ALIVE"));
}

/// Sends `fields` (after the standard header) as message `msg_type` and
/// returns the session Reject it must cause.
fn reject_for(c: &mut Client, msg_type: &str, body: &[(u32, String)]) -> common::fix_client::Msg {
    let seq = c.next_out;
    let mut f = c.header(seq);
    f.extend_from_slice(body);
    c.send_raw(build(msg_type, &f).as_bytes());
    c.next_out += 1;
    let rj = c.expect("3", T);
    assert_eq!(rj.get(45), Some(seq.to_string().as_str()), "RefSeqNum");
    assert_eq!(rj.get(372), Some(msg_type), "RefMsgType");
    rj
}

#[test]
fn session_level_rejects_name_reason_tag_and_message() {
    let v = Venue::start();
    let mut c = v.logged_on("CLIENT1");
    let order = new_order("SR1", b'1', "1", "99.75");
    let with = |extra: (u32, String)| {
        let mut o = order.clone();
        o.push(extra);
        o
    };
    let without = |tag: u32| -> Vec<(u32, String)> {
        order.iter().filter(|(t, _)| *t != tag).cloned().collect()
    };
    // 373=2: a tag not defined for this message (BeginSeqNo on an order).
    let rj = reject_for(&mut c, "D", &with((7, s("1"))));
    assert_eq!((rj.get(373), rj.get(371)), (Some("2"), Some("7")));
    // 373=1: a required tag missing (Side).
    let rj = reject_for(&mut c, "D", &without(54));
    assert_eq!((rj.get(373), rj.get(371)), (Some("1"), Some("54")));
    // 373=4: a tag without a value.
    let rj = reject_for(&mut c, "D", &with((58, s(""))));
    assert_eq!((rj.get(373), rj.get(371)), (Some("4"), Some("58")));
    // 373=5: a value out of range (Side=Z).
    let mut o = without(54);
    o.push((54, s("Z")));
    let rj = reject_for(&mut c, "D", &o);
    assert_eq!((rj.get(373), rj.get(371)), (Some("5"), Some("54")));
    // 373=6: wrong data format (OrderQty=abc).
    let mut o = without(38);
    o.push((38, s("abc")));
    let rj = reject_for(&mut c, "D", &o);
    assert_eq!((rj.get(373), rj.get(371)), (Some("6"), Some("38")));
    // 373=13: a tag twice.
    let rj = reject_for(&mut c, "D", &with((55, s("UST-10Y"))));
    assert_eq!((rj.get(373), rj.get(371)), (Some("13"), Some("55")));
    // 373=14: a header tag after the body.
    let rj = reject_for(&mut c, "D", &with((97, s("N"))));
    assert_eq!((rj.get(373), rj.get(371)), (Some("14"), Some("97")));
    // 373=16: NoPartyIDs says 2, one entry follows.
    let mut o = order.clone();
    o.extend([
        (453, s("2")),
        (448, s("DESK1")),
        (447, s("D")),
        (452, s("1")),
    ]);
    let rj = reject_for(&mut c, "D", &o);
    assert_eq!((rj.get(373), rj.get(371)), (Some("16"), Some("453")));
    // Every reject consumed its sequence number: the next message is in order.
    c.send("1", &[(112, s("AFTER"))]);
    assert_eq!(c.expect("0", T).get(112), Some("AFTER"));
}

#[test]
fn a_conditionally_required_field_missing_is_a_business_reject_380_5() {
    let v = Venue::start();
    let mut c = v.logged_on("CLIENT1");
    let o: Vec<_> = new_order("NOPX", b'1', "1", "99.75")
        .into_iter()
        .filter(|(t, _)| *t != 44)
        .collect();
    c.send("D", &o);
    let bmr = c.expect("j", T);
    assert_eq!(bmr.get(380), Some("5"));
    assert_eq!(bmr.get(372), Some("D"));
    assert!(bmr.get(58).unwrap().contains("Price(44)"));
}

#[test]
fn mass_status_lists_the_sessions_own_live_orders() {
    let v = Venue::start();
    let mut a = v.logged_on("CLIENT1");
    let mut b = v.logged_on("CLIENT2");
    for id in ["MS1", "MS2"] {
        a.send("D", &new_order(id, b'1', "1", "99.75"));
        a.expect("8", T);
    }
    b.send("D", &new_order("OTHER", b'2', "1", "100.25"));
    b.expect("8", T);
    a.send("AF", &[(584, s("STAT1")), (585, s("7"))]);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = a.expect("8", T);
        assert_eq!(r.get(150), Some("I"));
        assert_eq!(r.get(584), Some("STAT1"));
        ids.push(r.get(11).unwrap().to_owned());
    }
    assert_eq!(ids, ["MS1", "MS2"]);
    // Nothing more: the other participant's order is not listed.
    assert!(a.recv(Duration::from_millis(300)).is_none());
    // A participant with no orders gets one report saying so.
    let mut c = v.logged_on("CLIENT3");
    c.send("AF", &[(584, s("STAT2")), (585, s("7"))]);
    let r = c.expect("8", T);
    assert_eq!(
        (r.get(150), r.get(39), r.get(584)),
        (Some("I"), Some("8"), Some("STAT2"))
    );
    assert_eq!(r.get(11), None, "no ClOrdID to echo");
}

#[test]
fn status_of_an_unknown_order_is_answered() {
    let v = Venue::start();
    let mut a = v.logged_on("CLIENT1");
    a.send("H", &[(11, s("NEVER")), (55, s("UST-10Y")), (54, s("1"))]);
    let r = a.expect("8", T);
    assert_eq!(
        (r.get(150), r.get(39), r.get(11)),
        (Some("I"), Some("8"), Some("NEVER"))
    );
}

#[test]
fn a_client_that_stops_reading_is_disconnected_with_memory_bounded() {
    let v = Venue::start_configured(|s| s[0].outbox_max_bytes = 64 << 10);
    let mut a = v.logged_on("CLIENT1");
    // A small receive buffer, so that the venue's side fills quickly.
    let fd = std::os::fd::AsRawFd::as_raw_fd(&a.stream);
    let size: libc::c_int = 256 << 10;
    // SAFETY: `fd` is the client's open socket, and the option value is a
    // c_int that lives across the call, with its size passed alongside.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&raw const size).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    // Never read: acks pile up in the socket buffers, then in the outbox.
    let mut closed = false;
    for i in 0..40_000 {
        let mut f = a.header(a.next_out);
        f.extend(new_order(&format!("NR{i}"), b'1', "1", "99.75"));
        if std::io::Write::write_all(&mut a.stream, build("D", &f).as_bytes()).is_err() {
            closed = true;
            break;
        }
        a.next_out += 1;
    }
    // Give the venue time to answer everything it read; then read (and
    // discard) what it sent before giving up: the stream must end (EOF or
    // reset), not merely go quiet.
    if !closed {
        std::thread::sleep(Duration::from_secs(5));
        a.stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut chunk = vec![0u8; 1 << 20];
        loop {
            match std::io::Read::read(&mut a.stream, &mut chunk) {
                Ok(0) => break closed = true,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break closed = true,
                Err(e) => panic!("the venue kept the connection open: {e}"),
            }
        }
    }
    assert!(closed);
    // The venue is fine: another session trades on.
    let mut b = v.logged_on("CLIENT2");
    b.send("1", &[(112, s("OK"))]);
    assert_eq!(b.expect("0", T).get(112), Some("OK"));
}

#[test]
fn an_inbound_reject_advances_the_sequence_7() {
    let v = Venue::start();
    let mut c = v.logged_on("CLIENT1");
    c.send("3", &[(45, s("1")), (58, s("we did not like your logon"))]);
    c.send("1", &[(112, s("AFTER-REJECT"))]);
    assert_eq!(c.expect("0", T).get(112), Some("AFTER-REJECT"));
}

#[test]
fn a_resend_request_while_ours_is_pending_is_served_20() {
    let v = Venue::start();
    let mut c = v.logged_on("CLIENT1");
    c.send("D", &new_order("P20", b'1', "1", "99.75"));
    let ack = c.expect("8", T);
    // Skip 3: the venue asks for it (its ResendRequest is now pending)...
    c.send_with_seq("0", 4, &[]);
    let rr = c.expect("2", T);
    assert_eq!(rr.get(7), Some("3"));
    // ...and while it waits, we ask for its messages from 2: it serves them.
    c.send_with_seq("2", 5, &[(7, s("2")), (16, s("0"))]);
    let again = c.expect("8", T);
    assert_eq!(again.get(43), Some("Y"));
    assert_eq!(again.get(17), ack.get(17));
    // Now fill our gap; everything after it is processed in order.
    let mut f = c.header(3);
    f.extend([(43, s("Y")), (122, utc_now()), (123, s("Y")), (36, s("4"))]);
    c.send_raw(build("4", &f).as_bytes());
    c.next_out = 6;
    c.send("1", &[(112, s("SYNCED"))]);
    assert_eq!(c.expect("0", T).get(112), Some("SYNCED"));
    // The ResendRequest that waited behind the gap was not served twice.
    let resent = c
        .received
        .iter()
        .filter(|m| m.get(43) == Some("Y") && m.msg_type() == "8")
        .count();
    assert_eq!(resent, 1);
}

#[test]
fn a_large_resend_is_served_in_chunks_to_the_end_8() {
    let v = Venue::start();
    let mut c = v.logged_on("CLIENT1");
    let n = 700;
    for i in 0..n {
        c.send("D", &new_order(&format!("BIG{i}"), b'1', "1", "99.75"));
    }
    for _ in 0..n {
        c.expect("8", T);
    }
    c.send("2", &[(7, s("1")), (16, s("0"))]);
    let mut resent = 0;
    while let Some(m) = c.recv(Duration::from_secs(2)) {
        if m.msg_type() == "8" {
            assert_eq!(m.get(43), Some("Y"));
            resent += 1;
        }
    }
    assert_eq!(resent, n, "every report resent, across several chunks");
}

#[test]
fn cancel_replace_changes_quantity_and_price() {
    let v = Venue::start();
    let mut a = v.logged_on("CLIENT1");
    a.send("D", &new_order("R0", b'1', "5", "99.75"));
    let ack = a.expect("8", T);
    a.send(
        "G",
        &[
            (37, ack.get(37).unwrap().to_owned()),
            (41, s("R0")),
            (11, s("R1")),
            (55, s("UST-10Y")),
            (54, s("1")),
            (60, utc_now()),
            (38, s("3")),
            (40, s("2")),
            (44, s("99.8125")),
        ],
    );
    let r = a.expect("8", T);
    assert_eq!((r.get(150), r.get(39)), (Some("5"), Some("0")), "{}", r.raw);
    assert_eq!((r.get(11), r.get(41)), (Some("R1"), Some("R0")));
    assert_eq!(
        (r.get(38), r.get(44), r.get(151)),
        (Some("3"), Some("99.8125"), Some("3"))
    );
    // A replace of an order that is gone: OrderCancelReject 434=2.
    a.send(
        "F",
        &[
            (41, s("R1")),
            (11, s("R2")),
            (55, s("UST-10Y")),
            (54, s("1")),
            (60, utc_now()),
        ],
    );
    assert_eq!(a.expect("8", T).get(150), Some("4"));
    a.send(
        "G",
        &[
            (41, s("R2")),
            (11, s("R3")),
            (55, s("UST-10Y")),
            (54, s("1")),
            (60, utc_now()),
            (38, s("1")),
            (40, s("2")),
            (44, s("99.75")),
        ],
    );
    let rj = a.expect("9", T);
    assert_eq!(rj.get(434), Some("2"));
}

#[test]
fn cancel_on_disconnect_of_day_orders_keeps_gtc_orders() {
    let v = Venue::start_configured(|s| s[0].cancel_on_disconnect = CancelOnDisconnect::Day);
    let mut a = v.logged_on("CLIENT1");
    a.send("D", &new_order("DAY1", b'1', "1", "99.75"));
    a.expect("8", T);
    let mut gtc = new_order("GTC1", b'1', "1", "99.75");
    gtc.retain(|(t, _)| *t != 59);
    gtc.push((59, s("1")));
    a.send("D", &gtc);
    a.expect("8", T);
    let next = a.next_out;
    drop(a);
    std::thread::sleep(Duration::from_millis(300));
    let mut a = v.client("CLIENT1");
    a.next_out = next;
    a.logon(30, &[]);
    for (id, status) in [("DAY1", "4"), ("GTC1", "0")] {
        a.send("H", &[(11, s(id)), (55, s("UST-10Y")), (54, s("1"))]);
        let st = a.expect("8", T);
        assert_eq!(
            (st.get(11), st.get(39)),
            (Some(id), Some(status)),
            "{}",
            st.raw
        );
    }
}

#[test]
fn reset_seq_num_flag_and_reset_on_logout_start_both_sequences_at_1() {
    let v = Venue::start_configured(|s| s[1].reset_on_logout = true);
    // ResetSeqNumFlag=Y on a Logon with MsgSeqNum 1, after traffic.
    let mut a = v.logged_on("CLIENT1");
    for _ in 0..3 {
        a.send("1", &[(112, s("X"))]);
        a.expect("0", T);
    }
    drop(a);
    std::thread::sleep(Duration::from_millis(100));
    let mut a = v.client("CLIENT1");
    let logon = a.logon(30, &[(141, s("Y"))]);
    assert_eq!(
        (logon.seq(), logon.get(141)),
        (1, Some("Y")),
        "{}",
        logon.raw
    );
    a.send("1", &[(112, s("AFTER"))]);
    assert_eq!(a.expect("0", T).seq(), 2);
    // reset_on_logout: after a Logout, the next Logon starts at 1 again.
    let mut b = v.logged_on("CLIENT2");
    b.send("1", &[(112, s("Y"))]);
    b.expect("0", T);
    b.send("5", &[]);
    b.expect("5", T);
    assert!(b.closed_within(T));
    let mut b = v.client("CLIENT2");
    let logon = b.logon(30, &[]);
    assert_eq!(logon.seq(), 1, "{}", logon.raw);
}
