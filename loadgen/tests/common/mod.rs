//! What loadgen's tests share: the example venue on free ports, and
//! scenarios written for a test.

#![allow(dead_code, reason = "each test file takes part of it")]

use std::path::{Path, PathBuf};

use loadgen::scenario::Scenario;
use venue::config::VenueConfig;

/// `examples/venue.toml`.
pub(crate) fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/venue.toml")
}

/// The example venue with every listener on a free port, the journal in
/// `process` durability and no periodic snapshots.
pub(crate) fn example_config() -> VenueConfig {
    let mut config = venue::config::load(&example_path()).expect("the example configuration loads");
    config.fix_listen = "127.0.0.1:0".parse().expect("addr");
    config.ws.listen = "127.0.0.1:0".parse().expect("addr");
    config.admin.listen = "127.0.0.1:0".parse().expect("addr");
    config.durability = journal::Durability::Process;
    config.snapshot_every_inputs = 0;
    config
}

/// A scenario against the example venue: `body` is everything after
/// `venue_config` (its `[load]`, `[mix]`, sessions and instruments).
pub(crate) fn scenario(body: &str) -> Scenario {
    let text = format!(
        "venue_config = {:?}\n{body}",
        example_path().to_string_lossy()
    );
    Scenario::parse(&text, Path::new("test-scenario.toml")).expect("the test scenario parses")
}
