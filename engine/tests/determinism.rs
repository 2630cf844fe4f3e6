//! Determinism: the same inputs give the same events and the same state.
//!
//! Two fresh engines are fed one seeded random input sequence (the
//! differential test's generator); their events must be identical input by
//! input and their `state_hash` identical after every 100 inputs. A
//! different sequence must end in a different hash, so that the hash is
//! known to see the state at all.

// The model in `reference` is shared with the differential test; this test
// uses only its configuration and input generator.
#[allow(dead_code)]
mod reference;

use engine::{Engine, Event};
use reference::InputGen;

const INPUTS: usize = 5_000;
const HASH_EVERY: usize = 100;

/// Runs `seed`'s sequence through two engines, checking that they agree;
/// returns the final state hash.
fn run_twice(seed: u64) -> u64 {
    eprintln!("determinism: seed {seed}, {INPUTS} inputs");
    let mut a = Engine::new(reference::config()).expect("the test configuration is valid");
    let mut b = Engine::new(reference::config()).expect("the test configuration is valid");
    let mut generator = InputGen::new(seed);
    let (mut events_a, mut events_b): (Vec<Event>, Vec<Event>) = (Vec::new(), Vec::new());
    for index in 0..INPUTS {
        let (seq, time_ns, input) = generator.next_input();
        events_a.clear();
        events_b.clear();
        a.apply(seq, time_ns, &input, &mut events_a);
        b.apply(seq, time_ns, &input, &mut events_b);
        assert_eq!(
            events_a, events_b,
            "seed {seed}, input {index} ({input:?}): events differ between two engines"
        );
        generator.observe(&events_a);
        if (index + 1) % HASH_EVERY == 0 {
            assert_eq!(
                a.state_hash(),
                b.state_hash(),
                "seed {seed}, after input {index}: state hashes differ"
            );
        }
    }
    assert_eq!(
        a.state_hash(),
        b.state_hash(),
        "seed {seed}: final state hashes differ"
    );
    a.state_hash()
}

#[test]
fn same_inputs_give_same_events_and_state_hash() {
    run_twice(11);
}

#[test]
fn different_inputs_give_a_different_state_hash() {
    let first = run_twice(21);
    let second = run_twice(22);
    assert_ne!(
        first, second,
        "two different sequences end in the same state hash"
    );
    let fresh = Engine::new(reference::config()).expect("the test configuration is valid");
    assert_ne!(
        first,
        fresh.state_hash(),
        "a busy engine hashes like a fresh one"
    );
}
