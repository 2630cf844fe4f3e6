//! `venue selfcheck`: check the engine on this machine.
//!
//! The check drives a scripted, pseudo-random session (a fixed linear
//! congruential generator, so every run is the same) through two engines and
//! verifies what the venue's promises rest on: both produce the same events
//! and the same state hash (determinism), a snapshot restores to the same
//! hash, and the journal encoding of every input decodes to the same input.

use anyhow::{Result, bail};
use engine::{
    Cancel, ClOrdId, Engine, EngineConfig, Event, Input, InstrumentId, NewOrder, OrdType, OrderRef,
    ParticipantId, Side, TimeInForce, decode_input, encode_input,
};

/// Inputs in the scripted session.
const INPUTS: u64 = 200_000;

/// A tiny deterministic generator (Knuth's MMIX LCG); the check needs
/// repeatability, not statistical quality.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

fn config() -> EngineConfig {
    venue::demo::engine_config()
}

fn script() -> Vec<Input> {
    let mut rng = Lcg(42);
    let mut inputs = Vec::with_capacity(INPUTS as usize);
    for n in 0..INPUTS {
        let p = ParticipantId(1 + rng.next(4) as u32);
        let id = |k: u64| ClOrdId::new(format!("SC{k}").as_bytes()).expect("valid id");
        let input = match rng.next(10) {
            0..=2 if n > 0 => Input::Cancel(Cancel {
                participant: p,
                cl_ord_id: id(n),
                target: OrderRef::ClOrdId(id(rng.next(n))),
            }),
            3 if n % 1_000 == 0 => Input::ClockTick,
            _ => Input::NewOrder(NewOrder {
                participant: p,
                instrument: InstrumentId(1),
                cl_ord_id: id(n),
                side: if rng.next(2) == 0 {
                    Side::Buy
                } else {
                    Side::Sell
                },
                ord_type: OrdType::Limit,
                tif: TimeInForce::Gtc,
                price_ticks: Some(12_800 - 20 + rng.next(41) as i64),
                stop_price_ticks: None,
                qty_lots: 1 + rng.next(10),
                display_qty_lots: 0,
                min_qty_lots: 0,
                post_only: false,
                expire_time_ns: None,
            }),
        };
        inputs.push(input);
    }
    inputs
}

fn run_once(inputs: &[Input]) -> Result<(Engine, Vec<Event>)> {
    let mut engine = Engine::new(config())?;
    let mut events = Vec::with_capacity(inputs.len() * 3);
    for (i, input) in inputs.iter().enumerate() {
        let seq = i as u64 + 1;
        engine.apply(
            seq,
            1_700_000_000_000_000_000 + seq * 1_000,
            input,
            &mut events,
        );
    }
    Ok((engine, events))
}

pub(crate) fn run() -> Result<()> {
    println!(
        "venue {} (engine {}) self-check",
        env!("CARGO_PKG_VERSION"),
        engine::VERSION
    );
    let inputs = script();
    let mut buf = Vec::new();
    for input in &inputs {
        buf.clear();
        encode_input(input, &mut buf);
        if decode_input(&buf)? != *input {
            bail!("self-check failed: input codec round trip changed {input:?}");
        }
    }
    let (a, events_a) = run_once(&inputs)?;
    let (b, events_b) = run_once(&inputs)?;
    if events_a != events_b || a.state_hash() != b.state_hash() {
        bail!("self-check failed: two runs of the same inputs differ");
    }
    let restored = Engine::restore(config(), &a.snapshot())?;
    if restored.state_hash() != a.state_hash() {
        bail!("self-check failed: snapshot does not restore to the same state");
    }
    let trades = events_a
        .iter()
        .filter(|e| matches!(e, Event::Trade(_)))
        .count();
    println!(
        "self-check passed: {} inputs, {} events, {} trades, {} orders resting, state hash {:016x}",
        inputs.len(),
        events_a.len(),
        trades,
        a.live_order_count(),
        a.state_hash()
    );
    println!(
        "  deterministic (2 runs identical), snapshot round trip ok, input codec ok; \
         for speed figures run `cargo bench --bench engine_replay`"
    );
    Ok(())
}
