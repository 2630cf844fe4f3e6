//! One writer per data directory, in-process: a second `Node` on a
//! directory in use is refused before it opens anything there; the
//! directory is free again once the first has shut down, and once it has
//! been dropped without a shutdown (as a crash leaves it: no final
//! snapshot). The real binary's refusal and `kill -9` are in
//! `tests/run_binary.rs`.

mod common;

use venue::node::Node;

#[test]
fn a_second_node_is_refused_until_the_first_shuts_down_or_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = common::example_config_for_tests();

    let first = Node::start(&config, &data).expect("the first venue starts");
    let e = format!(
        "{:#}",
        Node::start(&config, &data).expect_err("a second venue on the same directory")
    );
    assert!(
        e.starts_with(&format!(
            "the data directory {} is in use by another venue (pid {}, lock file {})",
            data.display(),
            std::process::id(),
            data.join("LOCK").display()
        )),
        "{e}"
    );
    // Refused before it touched anything: no listener, no thread, and the
    // first still runs.
    assert!(!first.is_finished());

    first.shutdown().expect("a clean stop");
    let second = Node::start(&config, &data).expect("starts after a clean stop");
    let snapshots_before = std::fs::read_dir(data.join("snapshots")).unwrap().count();
    drop(second);
    // Dropped, not shut down: no final snapshot was written, and the
    // directory is free as soon as `drop` returns.
    assert_eq!(
        std::fs::read_dir(data.join("snapshots")).unwrap().count(),
        snapshots_before
    );
    let third = Node::start(&config, &data).expect("starts after a node was dropped");
    third.shutdown().expect("a clean stop");
}
