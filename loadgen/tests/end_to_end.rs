//! loadgen against a real venue (the example configuration, started in
//! this process on free ports): the run's counts agree with the venue's
//! journal, through the same reconciliation as `--verify`; and the same in
//! `--in-process` mode.

mod common;

use loadgen::record::Metric;
use loadgen::run::{Options, run};
use venue::node::Node;

const FLOW: &str = r#"
seed = 3
[load]
rate = 1500
arrival = "poisson"
ramp_up_s = 0.5
warmup_s = 0.5
duration_s = 2.5
[mix]
limit = 45
market = 5
ioc = 15
fok = 5
cancel = 20
replace = 8
status = 2
[[session]]
sender_comp_id = "CLIENT1"
role = "dealer"
[[session]]
sender_comp_id = "CLIENT3"
role = "dealer"
[[session]]
sender_comp_id = "CLIENT2"
role = "taker"
[[instrument]]
symbol = "UST-10Y"
[[instrument]]
symbol = "EUR/USD"
qty_lots = [1, 3]
"#;

fn check(outcome: &loadgen::run::Outcome, rec: &loadgen::verify::Reconciliation) {
    let r = &outcome.results;
    assert!(rec.is_ok(), "{rec}");
    assert!(r.complete, "{:?}", r.errors);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.unanswered, 0, "every request was answered");
    // What loadgen counted is what the venue journaled.
    let sent_orders = outcome.observed.orders.len() as u64;
    assert!(sent_orders > 1000, "{sent_orders} orders");
    assert_eq!(rec.orders_sent, sent_orders);
    assert_eq!(rec.orders_in_journal, sent_orders);
    assert_eq!(
        rec.orders_filled + rec.orders_canceled + rec.orders_rejected,
        sent_orders,
        "every order ended (the end-of-run mass cancel)"
    );
    assert_eq!(rec.orders_open, 0);
    assert!(
        rec.fills_in_journal > 100 && rec.trades_checked > 50,
        "{rec}"
    );
    assert_eq!(rec.fills_seen, rec.fills_in_journal);
    // The report's own counts hang together.
    let per_second: u64 = r.per_second.iter().map(|s| s.sent).sum();
    assert_eq!(per_second, r.sent_total);
    assert!(r.sent_measured < r.sent_total, "the warm-up is left out");
    let acks = r.histograms.get(&Metric::OrderAck).map_or(0, |h| h.len());
    assert!(acks > 0 && acks <= sent_orders, "{acks} order acks");
    assert!(r.histograms.contains_key(&Metric::CancelAck));
    assert!(r.histograms.contains_key(&Metric::FirstFill));
    // The achieved rate is what was sent in the measured window over its
    // length (how fast is for the benches and loadgen, not the tests).
    assert!((r.achieved_rate - r.sent_measured as f64 / r.measured_s).abs() < 1e-6);
}

#[test]
fn a_fix_run_reconciles_with_the_venues_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = common::example_config();
    let node = Node::start(&config, dir.path()).expect("the venue starts");
    let scenario = common::scenario(FLOW);
    let opts = Options {
        fix: Some(node.fix_addr),
        collect: true,
        ..Options::default()
    };
    let outcome = run(&scenario, &config, &opts).expect("the run works");
    let rec = loadgen::verify::reconcile(&outcome.observed, dir.path(), &config.engine)
        .expect("the journal reads");
    check(&outcome, &rec);
    assert_eq!(outcome.results.transport, "fix");
    node.shutdown().expect("the venue stops");
}

#[test]
fn an_in_process_run_reconciles_with_its_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = common::example_config();
    let scenario = common::scenario(FLOW);
    let opts = Options {
        in_process: Some(dir.path().to_owned()),
        collect: true,
        ..Options::default()
    };
    let outcome = run(&scenario, &config, &opts).expect("the run works");
    let rec = loadgen::verify::reconcile(&outcome.observed, dir.path(), &config.engine)
        .expect("the journal reads");
    check(&outcome, &rec);
    assert_eq!(outcome.results.transport, "in-process");
}

#[test]
fn a_tampered_observation_fails_the_reconciliation() {
    // The check above could not pass by accident: drop one fill that
    // loadgen saw and the same journal no longer reconciles.
    let dir = tempfile::tempdir().expect("tempdir");
    let config = common::example_config();
    let scenario = common::scenario(&FLOW.replace("duration_s = 2.5", "duration_s = 1"));
    let opts = Options {
        in_process: Some(dir.path().to_owned()),
        collect: true,
        ..Options::default()
    };
    let mut outcome = run(&scenario, &config, &opts).expect("the run works");
    let fill = outcome
        .observed
        .reports
        .iter()
        .position(|r| r.exec_type == engine::event::ExecType::Trade)
        .expect("a fill");
    outcome.observed.reports.remove(fill);
    let rec = loadgen::verify::reconcile(&outcome.observed, dir.path(), &config.engine)
        .expect("the journal reads");
    assert!(!rec.is_ok());
    assert!(rec.to_string().contains("missed"), "{rec}");
}
