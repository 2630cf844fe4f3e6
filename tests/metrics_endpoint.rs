//! The metrics endpoint's text against a whole venue started in-process (the
//! example configuration, both gateways, the journal): orders entered over
//! FIX, one rejected by the engine and one cancel for an unknown order, show
//! in the input counts, the rejects by reason, the journal's positions, the
//! latency histogram and the sessions connected.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::fix_client::{Client, new_order, utc_now};
use venue::metrics::render;
use venue::node::Node;

const T: Duration = Duration::from_secs(5);

/// Sample lines (`name{labels}` → value).
fn samples(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(series, value)| (series.to_owned(), value.to_owned()))
        .collect()
}

fn number(samples: &BTreeMap<String, String>, series: &str) -> f64 {
    samples
        .get(series)
        .unwrap_or_else(|| panic!("no {series} in {samples:#?}"))
        .parse()
        .unwrap_or_else(|_| panic!("{series} is not a number"))
}

#[test]
fn orders_rejects_and_the_journal_show_in_the_rendered_text() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = common::example_config_for_tests();
    let node = Node::start(&config, dir.path()).expect("the venue starts");
    let sources = node.metrics_sources();

    let before = samples(&render(&sources));
    assert_eq!(
        number(&before, "venue_inputs_total{type=\"new_order\"}"),
        0.0
    );
    assert_eq!(number(&before, "venue_fix_sessions_logged_on"), 0.0);

    let mut c = Client::connect(&node.fix_addr.to_string(), "CLIENT1");
    c.logon(30, &[]);
    // Within the UST-10Y collar (100 +/- 0.5): accepted.
    c.send("D", &new_order("M1", b'1', "1", "100"));
    let ack = c.expect("8", T);
    assert_eq!(ack.get(150), Some("0"), "{}", ack.raw);
    // Outside it: rejected by the engine.
    c.send("D", &new_order("M2", b'1', "1", "110"));
    let reject = c.expect("8", T);
    assert_eq!(reject.get(150), Some("8"), "{}", reject.raw);
    c.send(
        "F",
        &[
            (41, "GHOST".to_owned()),
            (11, "C1".to_owned()),
            (55, "UST-10Y".to_owned()),
            (54, "1".to_owned()),
            (60, utc_now()),
        ],
    );
    c.expect("9", T);

    // The FIX thread refreshes its session figures each millisecond: wait
    // until the logon shows (the loop's figures are there already, since the
    // reports left only after their inputs were applied).
    let deadline = Instant::now() + Duration::from_secs(10);
    let (text, s) = loop {
        let text = render(&sources);
        let s = samples(&text);
        if number(&s, "venue_fix_sessions_logged_on") == 1.0 || Instant::now() > deadline {
            break (text, s);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(text.ends_with("# EOF\n"));
    assert_eq!(number(&s, "venue_fix_sessions_logged_on"), 1.0, "{text}");
    let client1 = "{session=\"VENUE-CLIENT1\",participant=\"1\"}";
    assert_eq!(
        number(&s, &format!("venue_fix_session_logged_on{client1}")),
        1.0,
        "{text}"
    );
    assert_eq!(
        number(&s, &format!("venue_rate_limit_quota_warning{client1}")),
        0.0
    );
    assert_eq!(number(&s, "venue_inputs_total{type=\"new_order\"}"), 2.0);
    assert_eq!(number(&s, "venue_inputs_total{type=\"cancel\"}"), 1.0);
    assert_eq!(
        number(
            &s,
            "venue_rejects_total{input=\"new_order\",reason=\"price_outside_collar\"}"
        ),
        1.0
    );
    assert_eq!(
        number(
            &s,
            "venue_rejects_total{input=\"cancel\",reason=\"unknown_order\"}"
        ),
        1.0
    );
    // Clock ticks are journaled too, so the journal is at least three inputs
    // on; `process` durability makes every append durable at once.
    let appended = number(&s, "venue_journal_appended_seq");
    let durable = number(&s, "venue_journal_durable_seq");
    assert!(appended >= 3.0, "{text}");
    assert!(durable <= appended);
    assert_eq!(number(&s, "venue_journal_lag_inputs"), appended - durable);
    assert!(
        number(&s, "venue_matching_latency_seconds_count") >= 1.0,
        "an input 1 ms after the previous sample is timed"
    );
    assert_eq!(
        number(&s, "venue_matching_latency_seconds_count"),
        number(&s, "venue_matching_latency_seconds_bucket{le=\"+Inf\"}")
    );
    for ring in ["inbound", "outbound_fix", "outbound_websocket"] {
        let r = number(
            &s,
            &format!("venue_ring_occupancy_ratio{{ring=\"{ring}\"}}"),
        );
        assert!((0.0..=1.0).contains(&r), "{ring}: {r}");
    }
    assert_eq!(number(&s, "venue_ws_connections"), 0.0);
    assert_eq!(number(&s, "venue_refusals_total{reason=\"busy\"}"), 0.0);
    node.shutdown().expect("stops");
}
