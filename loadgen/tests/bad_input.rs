//! A venue that is down, a refused logon, a disconnect mid-run: a clear
//! error before anything is sent, or partial results after; never a hang.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use loadgen::run::{Options, run};
use venue::node::Node;

const ONE_DEALER: &str = r#"
[load]
rate = 500
duration_s = 6
[mix]
limit = 80
cancel = 20
[[session]]
sender_comp_id = "CLIENT1"
role = "dealer"
[[instrument]]
symbol = "UST-10Y"
"#;

#[test]
fn a_venue_that_is_down_is_named() {
    // A port nothing listens on.
    let addr = TcpListener::bind("127.0.0.1:0")
        .expect("binds")
        .local_addr()
        .expect("addr");
    let config = common::example_config();
    let opts = Options {
        fix: Some(addr),
        ..Options::default()
    };
    let e = run(&common::scenario(ONE_DEALER), &config, &opts).expect_err("refused");
    let text = format!("{e:#}");
    assert!(
        text.contains("CLIENT1: cannot connect to the venue's FIX acceptor")
            && text.contains(&addr.to_string()),
        "{text}"
    );
}

#[test]
fn a_refused_logon_says_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = common::example_config();
    let node = Node::start(&config, dir.path()).expect("the venue starts");
    // CLIENT4 needs a password; loadgen reads it from the variable
    // password_env names, here one whose value is certainly not it.
    let scenario = common::scenario(&ONE_DEALER.replace(
        "sender_comp_id = \"CLIENT1\"",
        "sender_comp_id = \"CLIENT4\"\nusername = \"dealer4\"\npassword_env = \"CARGO_PKG_NAME\"",
    ));
    let opts = Options {
        fix: Some(node.fix_addr),
        ..Options::default()
    };
    let e = run(&scenario, &config, &opts).expect_err("refused");
    let text = format!("{e:#}");
    assert!(text.contains("CLIENT4") && text.contains("logon"), "{text}");
    // And a session that needs a password with none configured is caught
    // before connecting.
    let scenario = common::scenario(&ONE_DEALER.replace("CLIENT1", "CLIENT4"));
    let e = run(&scenario, &config, &opts).expect_err("refused");
    assert!(format!("{e:#}").contains("needs a password"), "{e:#}");
    node.shutdown().expect("stops");
}

#[test]
fn a_disconnect_mid_run_gives_partial_results() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = common::example_config();
    let node = Node::start(&config, dir.path()).expect("the venue starts");
    let opts = Options {
        fix: Some(node.fix_addr),
        ..Options::default()
    };
    let scenario = common::scenario(ONE_DEALER);
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        node.shutdown().expect("stops");
    });
    let outcome = run(&scenario, &config, &opts).expect("partial results, not an error");
    stopper.join().expect("joins");
    let r = &outcome.results;
    // Had loadgen missed the lost session it would have run the whole
    // schedule and called the run complete.
    assert!(!r.complete);
    assert!(
        r.errors.iter().any(|e| e.contains("CLIENT1")),
        "{:?}",
        r.errors
    );
    assert!(
        r.sent_total > 300 && r.sent_total < 3000,
        "{}",
        r.sent_total
    );
    // The partial results are still written.
    let out = tempfile::tempdir().expect("tempdir");
    let written = loadgen::report::write_all(r, out.path(), "partial").expect("writes");
    assert!(
        written
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "json"))
    );
    let summary = loadgen::report::summary(r);
    assert!(summary.contains("PARTIAL"), "{summary}");
}
