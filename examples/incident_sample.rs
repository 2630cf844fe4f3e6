//! Writes a sample data directory for trying the journal tools (README,
//! "Investigating an incident"): a journal and snapshots made by the real
//! sequencer and engine with `examples/venue.toml`'s instruments and
//! participants, as `venue run` would leave them.
//!
//! The story: on 2026-11-24 Dealer One buys 50 UST-10Y at 100 (`D1-0001`);
//! Dealer Two sells it 20; Dealer One raises the order to 60 (`D1-0001R`);
//! at 14:03:07.123456 Dealer Three sells 40 into it. Around that, about
//! 3,000 inputs of ordinary trading in UST-10Y and EUR/USD from a fixed
//! seed, a checkpoint every 100 inputs and a snapshot every 1,000.
//!
//! `cargo run --example incident_sample -- /tmp/incident` (the directory
//! must not exist).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use engine::sequencer::{Sequencer, SequencerConfig};
use engine::{
    Cancel, ClOrdId, Engine, Input, InstrumentId, NewOrder, OrdType, OrderRef, ParticipantId,
    Replace, Side, TimeInForce,
};
use journal::{Durability, Journal, JournalConfig};
use venue::runtime::JournalLog;

/// 2026-11-24T14:00:00Z.
const T0: u64 = 1_795_528_800_000_000_000;
const MS: u64 = 1_000_000;

fn cl(s: &str) -> Result<ClOrdId> {
    ClOrdId::new(s.as_bytes()).with_context(|| format!("bad ClOrdID {s}"))
}

fn limit(
    participant: u32,
    instrument: u32,
    id: &str,
    side: Side,
    price_ticks: i64,
    qty_lots: u64,
) -> Result<Input> {
    Ok(Input::NewOrder(NewOrder {
        participant: ParticipantId(participant),
        instrument: InstrumentId(instrument),
        cl_ord_id: cl(id)?,
        side,
        ord_type: OrdType::Limit,
        tif: TimeInForce::Gtc,
        price_ticks: Some(price_ticks),
        stop_price_ticks: None,
        qty_lots,
        display_qty_lots: 0,
        min_qty_lots: 0,
        post_only: false,
        expire_time_ns: None,
    }))
}

/// A small deterministic generator (SplitMix64), so the sample is the same
/// everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn main() -> Result<()> {
    let Some(data) = std::env::args().nth(1).map(PathBuf::from) else {
        bail!("usage: incident_sample DATA_DIR");
    };
    if data.exists() {
        bail!("{} exists: give a new directory", data.display());
    }
    let config = venue::config::load(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/venue.toml"),
    )?;
    // The story, at fixed times; ordinary trading fills the rest.
    let at = |ms: u64, us: u64| T0 + ms * MS + us * 1_000;
    let story = vec![
        (
            at(180_000, 5),
            limit(1, 1, "D1-0001", Side::Buy, 12_800, 50)?,
        ), // 100
        (
            at(181_250, 0),
            limit(2, 1, "D2-0107", Side::Sell, 12_800, 20)?,
        ),
        (
            at(183_500, 250),
            Input::Replace(Replace {
                participant: ParticipantId(1),
                cl_ord_id: cl("D1-0001R")?,
                target: OrderRef::ClOrdId(cl("D1-0001")?),
                qty_lots: 60,
                price_ticks: None,
                stop_price_ticks: None,
            }),
        ),
        (
            at(187_123, 456),
            limit(3, 1, "D3-5512", Side::Sell, 12_800, 40)?,
        ),
    ];
    let mut rng = Rng(20_261_124);
    let mut inputs: Vec<(u64, Input)> = Vec::new();
    let mut t = T0;
    for i in 0..3_000u64 {
        t += 40 * MS + rng.below(120 * MS);
        let participant = 1 + rng.below(4) as u32;
        let input = if i > 20 && rng.below(10) < 3 {
            let back = 1 + rng.below(i.min(200));
            Input::Cancel(Cancel {
                participant: ParticipantId(participant),
                cl_ord_id: cl(&format!("X{i}"))?,
                target: OrderRef::ClOrdId(cl(&format!("N{}", i - back))?),
            })
        } else {
            let side = if rng.below(2) == 0 {
                Side::Buy
            } else {
                Side::Sell
            };
            if rng.below(3) == 0 {
                // EUR/USD around 1.08000, in lots of 1,000.
                let price = 108_000 + rng.below(40) as i64 - 20;
                limit(
                    participant,
                    2,
                    &format!("N{i}"),
                    side,
                    price,
                    1 + rng.below(50),
                )?
            } else {
                // UST-10Y away from 100, so the story's orders meet only
                // each other.
                let offset = 3 + rng.below(30) as i64;
                let price = match side {
                    Side::Buy => 12_800 - offset,
                    Side::Sell => 12_800 + offset,
                };
                limit(
                    participant,
                    1,
                    &format!("N{i}"),
                    side,
                    price,
                    1 + rng.below(25),
                )?
            }
        };
        inputs.push((t, input));
    }
    inputs.extend(story);
    inputs.sort_by_key(|(t, _)| *t);

    let journal = Journal::open(
        data.join("journal"),
        JournalConfig {
            segment_size_bytes: 1 << 20,
            durability: Durability::Process,
            ..JournalConfig::default()
        },
    )?;
    let mut seq = Sequencer::new(
        Engine::new(config.engine.clone())?,
        JournalLog::new(journal),
        SequencerConfig {
            batch_max: 1,
            gate_on_durable: false,
            tick_interval_ns: 1_000 * MS,
            checkpoint_every_inputs: 100,
            ..SequencerConfig::default()
        },
        0,
    );
    let sender = seq.sender();
    let rx = seq.receiver();
    let mut next_snapshot = 1_000;
    for (time_ns, input) in inputs {
        if sender.send(input, 10).is_err() {
            bail!("the sequencer's ring is full");
        }
        seq.do_work(time_ns);
        while rx.try_recv().is_some() {}
        let last = seq.log().journal().last_seq();
        if last >= next_snapshot {
            venue::snapshot::write(
                &data.join("snapshots"),
                seq.engine(),
                last,
                seq.last_time_ns(),
            )?;
            next_snapshot += 1_000;
        }
    }
    let last = seq.log().journal().last_seq();
    seq.log_mut().journal_mut().sync()?;
    let (_, log) = seq.into_parts();
    log.into_journal().close()?;
    println!("{last} inputs written to {}", data.display());
    Ok(())
}
