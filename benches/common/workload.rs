//! The matching benchmark's workload, shared by the criterion bench and the
//! plain replay bench.
//!
//! One instrument; 1,000,000 limit orders (GTC, 1 to 10 lots, eight
//! participants with cancel-resting STP), about 30% of them marketable (priced
//! through the mid), the rest passive within 50 ticks of a slowly walking mid;
//! interleaved with cancels (by ClOrdID) of random live orders, at a rate that
//! rises with the number resting (aiming at about 10,000). With the full
//! million orders: 572,585 cancels, 1,572,585 inputs in all, 12,048 orders
//! resting at the end (the "about 1.44 million" assumed fewer cancels).
//!
//! The generator runs the engine itself to know which orders are live, and
//! records the inputs; the timed pass replays the recording into a fresh
//! engine. A fixed seed makes every run the same workload.

use engine::{
    Cancel, ClOrdId, Engine, EngineConfig, Event, ExecType, Input, InstrumentId, InstrumentSpec,
    NewOrder, OrdType, OrderRef, ParticipantId, ParticipantSpec, Side, StpMode, TimeInForce,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

pub(crate) const ORDERS: usize = 1_000_000;
pub(crate) const RESTING_TARGET: usize = 10_000;
pub(crate) const SEED: u64 = 0x5eed_cafe;
pub(crate) const T0_NS: u64 = 1_700_000_000_000_000_000;

/// The engine's configuration for the full workload.
#[allow(
    dead_code,
    reason = "engine_replay sizes the day itself; the other benches use this"
)]
pub(crate) fn config() -> EngineConfig {
    config_for(ORDERS)
}

/// The engine's configuration for a day of `orders` orders, sized for it as
/// an operator would (`orders_capacity`), so that no store grows by doubling.
pub(crate) fn config_for(orders: usize) -> EngineConfig {
    EngineConfig {
        instruments: vec![InstrumentSpec::new(InstrumentId(1), "BENCH")],
        participants: (1..=8)
            .map(|i| ParticipantSpec {
                id: ParticipantId(i),
                stp: StpMode::CancelResting,
            })
            .collect(),
        orders_capacity: orders,
        ..EngineConfig::default()
    }
}

fn cl_ord_id(n: u64) -> ClOrdId {
    let text = format!("C{n:08}");
    ClOrdId::new(text.as_bytes()).expect("generated ids are valid")
}

/// Generates the workload: `orders` new orders plus cancels.
pub(crate) fn generate(orders: usize) -> Vec<Input> {
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut engine = Engine::new(config_for(orders)).expect("bench config is valid");
    let mut inputs = Vec::with_capacity(orders * 3 / 2);
    // Live orders as (participant, ClOrdID, OrderId), for random cancels;
    // `slot_of[order_id]` is its index in `live`.
    let mut live: Vec<(ParticipantId, ClOrdId, u64)> = Vec::with_capacity(RESTING_TARGET * 2);
    let mut slot_of: Vec<u32> = vec![u32::MAX; orders + 2];
    let mut events = Vec::new();
    let mut mid: i64 = 100_000;
    let mut made = 0usize;
    let mut next_id = 0u64;
    let mut seq = 0u64;
    while made < orders {
        let cancel_p = 0.44 / 1.44 * (live.len() as f64 / RESTING_TARGET as f64);
        let input = if !live.is_empty() && rng.random_bool(cancel_p.min(0.95)) {
            let (p, cl, _) = live[rng.random_range(0..live.len())];
            next_id += 1;
            Input::Cancel(Cancel {
                participant: p,
                cl_ord_id: cl_ord_id(next_id),
                target: OrderRef::ClOrdId(cl),
            })
        } else {
            made += 1;
            next_id += 1;
            if rng.random_bool(0.01) {
                mid += if rng.random_bool(0.5) { 1 } else { -1 };
            }
            let side = if rng.random_bool(0.5) {
                Side::Buy
            } else {
                Side::Sell
            };
            let marketable = rng.random_bool(0.3);
            let offset = if marketable {
                -rng.random_range(1..=5)
            } else {
                rng.random_range(1..=50)
            };
            let price = match side {
                Side::Buy => mid - offset,
                Side::Sell => mid + offset,
            };
            Input::NewOrder(NewOrder {
                participant: ParticipantId(rng.random_range(1..=8)),
                instrument: InstrumentId(1),
                cl_ord_id: cl_ord_id(next_id),
                side,
                ord_type: OrdType::Limit,
                tif: TimeInForce::Gtc,
                price_ticks: Some(price),
                stop_price_ticks: None,
                qty_lots: rng.random_range(1..=10),
                display_qty_lots: 0,
                min_qty_lots: 0,
                post_only: false,
                expire_time_ns: None,
            })
        };
        seq += 1;
        events.clear();
        engine.apply(seq, T0_NS + seq * 1_000, &input, &mut events);
        for ev in &events {
            let Event::Exec(x) = ev else { continue };
            let id = x.order_id.0 as usize;
            match x.exec_type {
                ExecType::New => {
                    slot_of[id] = live.len() as u32;
                    live.push((x.participant, x.cl_ord_id, x.order_id.0));
                }
                _ if !x.ord_status.is_live() && slot_of.get(id).is_some_and(|s| *s != u32::MAX) => {
                    let s = slot_of[id] as usize;
                    slot_of[id] = u32::MAX;
                    live.swap_remove(s);
                    if s < live.len() {
                        slot_of[live[s].2 as usize] = s as u32;
                    }
                }
                _ => {}
            }
        }
        inputs.push(input);
    }
    inputs
}
