//! One order's whole life: every input that touched it and every event it
//! produced, in sequence order.
//!
//! An order is named by a ClOrdID (any it has had: the original, or one a
//! replace or cancel gave it) or by its OrderID, optionally with the
//! participant. Two replays: the first, over the whole journal, finds the
//! orders the name fits (several ClOrdIDs may be equal across participants
//! or days: then the caller must say which); the second starts from the
//! newest snapshot before the order's entry and collects its life.
//!
//! An input touched the order when one of its events names the order
//! (execution reports, cancel rejects, trade prints), or when it is a
//! cancel, replace or status request of the owner that targets it by
//! OrderID or by one of its ClOrdIDs. Of such an input the entry keeps the
//! events about the order, and the mass cancel or operator report that
//! explains a cancel. An order rejected on entry has an entry of one input.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use engine::{
    ClOrdId, EngineConfig, Event, ExecType, Input, InstrumentId, OrderId, OrderRef, ParticipantId,
};

use crate::incident::names::{Names, event_orders};
use crate::incident::replay::Replay;
use crate::incident::source::{JournalPaths, Progress, utc_us};

/// Which order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderQuery {
    /// A ClOrdID, or an OrderID (digits).
    pub id: String,
    /// Only this participant's orders.
    pub participant: Option<ParticipantId>,
}

/// An order the query fits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OrderKey {
    /// An accepted order.
    Order(OrderId),
    /// A new order rejected on entry (it never had an OrderID): its input.
    Rejected {
        /// The sender.
        participant: ParticipantId,
        /// The input's sequence number.
        seq: u64,
    },
}

/// One input of the order's life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LifeEntry {
    /// Its sequence number.
    pub seq: u64,
    /// Its time.
    pub time_ns: u64,
    /// The input.
    pub input: Input,
    /// The events about the order (and what explains them), in order.
    pub events: Vec<Event>,
}

/// An order's life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderLife {
    /// Which order.
    pub key: OrderKey,
    /// Its owner.
    pub participant: ParticipantId,
    /// Its instrument.
    pub instrument: InstrumentId,
    /// Every ClOrdID it has had, in order.
    pub cl_ord_ids: Vec<ClOrdId>,
    /// Every input that touched it, in sequence order.
    pub entries: Vec<LifeEntry>,
    /// The snapshot the second replay started from, if any.
    pub from_snapshot: Option<u64>,
}

#[derive(Clone, Copy, Debug)]
struct Candidate {
    participant: ParticipantId,
    instrument: InstrumentId,
    first_seq: u64,
    first_time_ns: u64,
    cl_ord_id: ClOrdId,
}

/// Finds the order `query` names and collects its life. See the module docs.
///
/// # Errors
/// No order fits (with the journal's range), several do (listed, with what
/// to add to the query), or the journal cannot be replayed.
pub fn order_life(
    paths: &JournalPaths,
    config: &EngineConfig,
    names: &Names,
    query: &OrderQuery,
    last_seq: u64,
) -> Result<OrderLife> {
    let number: Option<u64> = query.id.parse().ok();
    let mut candidates: BTreeMap<OrderKey, Candidate> = BTreeMap::new();
    let mut replay = Replay::start(paths, config, 0, false)?;
    replay.collect_events = true;
    // Where each order entered (OrderIDs are given from 1 in order, each
    // with an `ExecType::New`): an order found by a later ClOrdID (one a
    // replace gave it) is collected from its entry on.
    let mut entry_seq: Vec<u64> = Vec::new();
    let mut progress = Progress::new("find order", 0, last_seq);
    replay.run_until(last_seq, &mut progress, |step, _| {
        for event in step.events {
            let Event::Exec(x) = event else { continue };
            if x.exec_type == ExecType::New && x.order_id.0 == entry_seq.len() as u64 + 1 {
                entry_seq.push(step.seq);
            }
            if query.participant.is_some_and(|p| p != x.participant) {
                continue;
            }
            let by_cl = x.cl_ord_id.as_str() == query.id || x.orig_cl_ord_id.as_str() == query.id;
            let by_id = x.order_id != OrderId::NONE && number == Some(x.order_id.0);
            let key = if x.order_id == OrderId::NONE {
                // Only a new order rejected on entry has a life without an
                // OrderID (a status answer for an unknown order is not one).
                if !(by_cl
                    && x.exec_type == ExecType::Rejected
                    && matches!(step.input, Input::NewOrder(_)))
                {
                    continue;
                }
                OrderKey::Rejected {
                    participant: x.participant,
                    seq: step.seq,
                }
            } else if by_cl || by_id {
                OrderKey::Order(x.order_id)
            } else {
                continue;
            };
            candidates.entry(key).or_insert(Candidate {
                participant: x.participant,
                instrument: x.instrument,
                first_seq: step.seq,
                first_time_ns: step.time_ns,
                cl_ord_id: x.cl_ord_id,
            });
        }
        Ok(())
    })?;
    progress.finish();
    for (key, c) in &mut candidates {
        if let OrderKey::Order(o) = key
            && let Some(&seq) = usize::try_from(o.0)
                .ok()
                .and_then(|i| entry_seq.get(i.wrapping_sub(1)))
        {
            c.first_seq = c.first_seq.min(seq);
        }
    }
    let (key, candidate) = match candidates.len() {
        0 => bail!(
            "no order with ClOrdID or OrderID {:?}{} in journal {} (sequence 1 to {last_seq})",
            query.id,
            query
                .participant
                .map(|p| format!(" of participant {}", names.participant(p)))
                .unwrap_or_default(),
            paths.journal.display()
        ),
        1 => candidates
            .into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("no candidate"))?,
        n => {
            let list: Vec<String> = candidates
                .iter()
                .map(|(k, c)| {
                    format!(
                        "{} of {} on {} (ClOrdID {}, first seen at sequence {}, {})",
                        match k {
                            OrderKey::Order(o) => format!("OrderID {}", o.0),
                            OrderKey::Rejected { seq, .. } =>
                                format!("the new order rejected at sequence {seq}"),
                        },
                        names.participant(c.participant),
                        names.symbol(c.instrument),
                        c.cl_ord_id,
                        c.first_seq,
                        utc_us(c.first_time_ns)
                    )
                })
                .collect();
            bail!(
                "{:?} names {n} orders: {}; add --participant, or give the OrderID",
                query.id,
                list.join("; ")
            )
        }
    };
    collect(paths, config, key, candidate, last_seq)
}

/// The second replay: every input that touched `key`.
fn collect(
    paths: &JournalPaths,
    config: &EngineConfig,
    key: OrderKey,
    candidate: Candidate,
    last_seq: u64,
) -> Result<OrderLife> {
    // Start right before the order's entry, from a snapshot if one is there.
    let start_before = match key {
        OrderKey::Rejected { seq, .. } => seq,
        OrderKey::Order(_) => candidate.first_seq,
    };
    let mut replay = Replay::start(paths, config, start_before.saturating_sub(1), true)?;
    replay.collect_events = true;
    let from_snapshot = replay.from_snapshot.as_ref().map(|(s, _)| *s);
    let mut life = OrderLife {
        key,
        participant: candidate.participant,
        instrument: candidate.instrument,
        cl_ord_ids: Vec::new(),
        entries: Vec::new(),
        from_snapshot,
    };
    let until = match key {
        OrderKey::Rejected { seq, .. } => seq,
        OrderKey::Order(_) => last_seq,
    };
    let mut progress = Progress::new("order", replay.seq, until);
    replay.run_until(until, &mut progress, |step, _| {
        let about: Vec<Event> = match key {
            OrderKey::Rejected { seq, .. } => {
                if step.seq == seq {
                    step.events.to_vec()
                } else {
                    Vec::new()
                }
            }
            OrderKey::Order(oid) => {
                let mut about: Vec<Event> = step
                    .events
                    .iter()
                    .filter(|e| event_orders(e).contains(&oid))
                    .copied()
                    .collect();
                for e in &about {
                    if let Event::Exec(x) = e
                        && x.order_id == oid
                        && !x.cl_ord_id.is_empty()
                        && !life.cl_ord_ids.contains(&x.cl_ord_id)
                    {
                        life.cl_ord_ids.push(x.cl_ord_id);
                    }
                }
                let targets = targets_order(step.input, life.participant, oid, &life.cl_ord_ids);
                if !about.is_empty() || targets {
                    // What explains a cancel: the mass cancel's or the
                    // operator's report.
                    about.extend(step.events.iter().filter(|e| {
                        matches!(e, Event::MassCancelReport(_) | Event::AdminReport(_))
                    }));
                    if about.is_empty() {
                        // A request about the order that produced nothing
                        // naming it (a reject for an unknown target).
                        about.extend(step.events.iter().copied());
                    }
                }
                about
            }
        };
        if !about.is_empty() {
            life.entries.push(LifeEntry {
                seq: step.seq,
                time_ns: step.time_ns,
                input: *step.input,
                events: about,
            });
        }
        Ok(())
    })?;
    progress.finish();
    if let OrderKey::Rejected { .. } = key
        && let Some(e) = life.entries.first()
        && let Input::NewOrder(o) = e.input
    {
        life.cl_ord_ids.push(o.cl_ord_id);
    }
    Ok(life)
}

/// Whether `input` is a request of `owner` naming the order.
fn targets_order(input: &Input, owner: ParticipantId, oid: OrderId, cl: &[ClOrdId]) -> bool {
    let (participant, target) = match input {
        Input::Cancel(c) => (c.participant, c.target),
        Input::Replace(r) => (r.participant, r.target),
        Input::OrderStatus(s) => (s.participant, s.target),
        _ => return false,
    };
    participant == owner
        && match target {
            OrderRef::OrderId(o) => o == oid,
            OrderRef::ClOrdId(c) => cl.contains(&c),
        }
}
