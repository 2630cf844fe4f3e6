//! The coordinated-omission correction: against a fake venue that holds
//! every answer back for 400 ms once, the latencies include the stall
//! (each request counts from its intended send time), and no request
//! scheduled during it goes unmeasured.

mod common;

use std::time::Duration;

use loadgen::record::Metric;
use loadgen::run::{Options, run};
use loadgen::sink::{Sink, SinkMode};

#[test]
fn latency_includes_a_venues_stall() {
    let sink = Sink::start(
        "127.0.0.1:0".parse().expect("addr"),
        SinkMode {
            answer: true,
            stall: Some((Duration::from_millis(1000), Duration::from_millis(400))),
        },
    )
    .expect("the fake venue starts");
    let config = common::example_config();
    let scenario = common::scenario(
        r#"
[target]
cancel_at_end = false
drain_timeout_s = 5
[load]
rate = 1000
arrival = "constant"
duration_s = 2
[mix]
limit = 100
[[session]]
sender_comp_id = "CLIENT1"
role = "dealer"
[[instrument]]
symbol = "UST-10Y"
"#,
    );
    let opts = Options {
        fix: Some(sink.addr),
        ..Options::default()
    };
    let outcome = run(&scenario, &config, &opts).expect("the run works");
    let r = &outcome.results;
    assert_eq!(r.unanswered, 0, "{r:?}");
    let h = &r.histograms[&Metric::OrderAck];
    // Every request was measured, the stalled ones included.
    assert_eq!(h.len(), 2000);
    assert_eq!(r.sent_total, 2000);
    // About 400 requests were due during the stall; the first of them
    // waited the whole 400 ms, the last almost nothing: a fifth of the
    // samples spread evenly over 0-400 ms.
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1e6;
    assert!(ms(1.0) >= 350.0, "max {} ms", ms(1.0));
    assert!(ms(0.9) >= 100.0, "p90 {} ms", ms(0.9));
    assert!(
        ms(0.5) < 50.0,
        "p50 {} ms: outside the stall it is fast",
        ms(0.5)
    );
    // Measured from the actual send time instead, the requests sent before
    // the stall would show only its tail; from the intended time the
    // count above 200 ms is about half the stalled ones.
    let over_200 = h.count_between(200_000_000, u64::MAX);
    assert!((150..=250).contains(&over_200), "{over_200} over 200 ms");
}
