//! The in-process transport: the venue's matching loop (journal, sequencer
//! thread, engine) inside loadgen, fed through its inbound ring with no
//! socket and no FIX, so that a run measures the engine's capacity apart
//! from the network's and the gateway's cost.
//!
//! It is built as `venue run` builds it, from the same configuration file
//! (engine, journal durability, ring sizes, idle strategy, checkpoints),
//! on a data directory of its own. A request's origin is its session's
//! index; the answers come back on the loop's outbound ring and are read
//! by one thread, which hands them to [`State`] as the FIX readers do.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use engine::event::{Event, ExecutionReport};
use engine::input::{Cancel, Input, MassCancel, NewOrder, OrderRef, OrderStatusRequest, Replace};
use engine::sequencer::{InputSender, Output, Sequencer, SequencerConfig};
use engine::types::{ClOrdId, OrderId, ParticipantId};
use journal::{Durability, JournalConfig};
use venue::config::VenueConfig;
use venue::runtime::{JournalLog, recover_with, spawn};

use crate::generator::Instrument;
use crate::record::{SeenCancelReject, SeenReport};
use crate::state::{Body, Request, State};

/// How many times a full inbound ring is retried before the request is
/// counted as refused ("venue busy"), as a gateway does.
const SEND_TRIES: u32 = 100_000;

/// The matching loop, running in this process.
#[derive(Debug)]
pub struct InProcess {
    sender: InputSender,
    participants: Vec<ParticipantId>,
    instruments: Arc<Vec<Instrument>>,
    prefix: String,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
    seq: Option<JoinHandle<Sequencer<JournalLog>>>,
    reader: Option<JoinHandle<()>>,
    state: Arc<Mutex<State>>,
    start: Instant,
}

/// The engine's view of what loadgen saw: an execution report in the
/// terms of [`SeenReport`].
#[must_use]
pub fn seen(x: &ExecutionReport) -> SeenReport {
    SeenReport {
        participant: x.participant.0,
        cl_ord_id: x.cl_ord_id.as_str().to_owned(),
        orig_cl_ord_id: x.orig_cl_ord_id.as_str().to_owned(),
        order_id: if x.order_id == OrderId::NONE {
            0
        } else {
            x.order_id.0
        },
        exec_id: x.exec_id.to_string(),
        exec_type: x.exec_type,
        ord_status: x.ord_status,
        last_qty_lots: x.last_qty_lots,
        last_px_ticks: x.last_px_ticks,
        leaves_qty_lots: x.leaves_qty_lots,
        cum_qty_lots: x.cum_qty_lots,
    }
}

impl InProcess {
    /// Recovers (or creates) the venue's state in `data` and starts the
    /// loop and the reader of its answers.
    ///
    /// # Errors
    /// The journal cannot be opened or recovered, or a thread cannot start.
    pub fn start(
        config: &VenueConfig,
        data: &Path,
        participants: Vec<ParticipantId>,
        instruments: Arc<Vec<Instrument>>,
        state: &Arc<Mutex<State>>,
        start: Instant,
    ) -> Result<InProcess> {
        std::fs::create_dir_all(data)
            .with_context(|| format!("cannot create the data directory {}", data.display()))?;
        let r = recover_with(
            &data.join("journal"),
            None,
            config.engine.clone(),
            JournalConfig {
                durability: config.durability,
                segment_size_bytes: config.segment_size_bytes,
                ..JournalConfig::default()
            },
            u64::MAX,
            &mut |_, _, _| {},
        )?;
        let mut seq = Sequencer::new(
            r.engine,
            JournalLog::new(r.journal),
            SequencerConfig {
                inbound_capacity: config.inbound_ring,
                outbound_capacity: config.outbound_ring,
                tick_interval_ns: config.tick_interval_ns,
                checkpoint_every_inputs: config.checkpoint_every_inputs,
                gate_on_durable: !matches!(config.durability, Durability::Process),
                ..SequencerConfig::default()
            },
            r.last_time_ns,
        );
        let sender = seq.sender();
        let receiver = seq.receiver();
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicBool::new(false));
        let seq = spawn(seq, config.core, config.idle, Arc::clone(&stop), |_| {})?;
        let reader = {
            let state = Arc::clone(state);
            let done = Arc::clone(&done);
            let participants = participants.clone();
            std::thread::Builder::new()
                .name("loadgen-rd".to_owned())
                .spawn(move || {
                    let mut idle = 0u32;
                    loop {
                        let Some(out) = receiver.try_recv() else {
                            if done.load(Ordering::Acquire) {
                                return;
                            }
                            idle += 1;
                            if idle < 100 {
                                std::hint::spin_loop();
                            } else if idle < 200 {
                                std::thread::yield_now();
                            } else {
                                std::thread::sleep(Duration::from_micros(50));
                            }
                            continue;
                        };
                        idle = 0;
                        let now = start.elapsed().as_nanos() as u64;
                        on_output(out, &participants, &state, now);
                    }
                })?
        };
        let prefix = state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .prefix()
            .to_owned();
        Ok(InProcess {
            sender,
            participants,
            instruments,
            prefix,
            stop,
            done,
            seq: Some(seq),
            reader: Some(reader),
            state: Arc::clone(state),
            start,
        })
    }

    fn id(&self, n: u64) -> ClOrdId {
        ClOrdId::new(format!("{}{n}", self.prefix).as_bytes()).unwrap_or(ClOrdId::EMPTY)
    }

    /// Puts `req` on the loop's inbound ring (waiting a bounded time when
    /// it is full, then counting the request as refused).
    pub fn send(&self, req: &Request) {
        let participant = self.participants[req.session];
        let cl_ord_id = self.id(req.n);
        let input = match req.body {
            Body::New {
                instrument,
                side,
                ord_type,
                tif,
                price_ticks,
                qty_lots,
            } => Input::NewOrder(NewOrder {
                participant,
                instrument: self.instruments[instrument].id,
                cl_ord_id,
                side,
                ord_type,
                tif,
                price_ticks,
                stop_price_ticks: None,
                qty_lots,
                display_qty_lots: 0,
                min_qty_lots: 0,
                post_only: false,
                expire_time_ns: None,
            }),
            Body::Cancel { orig, .. } => Input::Cancel(Cancel {
                participant,
                cl_ord_id,
                target: OrderRef::ClOrdId(self.id(orig)),
            }),
            Body::Replace {
                orig,
                price_ticks,
                qty_lots,
                ..
            } => Input::Replace(Replace {
                participant,
                cl_ord_id,
                target: OrderRef::ClOrdId(self.id(orig)),
                qty_lots,
                price_ticks: Some(price_ticks),
                stop_price_ticks: None,
            }),
            Body::Status { orig, .. } => Input::OrderStatus(OrderStatusRequest {
                participant,
                target: OrderRef::ClOrdId(self.id(orig)),
            }),
        };
        if self
            .sender
            .send_from(input, req.session as u64, SEND_TRIES)
            .is_err()
        {
            let now = self.start.elapsed().as_nanos() as u64;
            let id = format!("{}{}", self.prefix, req.n);
            self.state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .on_refused(Some(&id), "venue busy: input queue full", now);
        }
    }

    /// Sends each session's end-of-run mass cancel.
    pub fn mass_cancel(&self) {
        for (i, p) in self.participants.iter().enumerate() {
            let input = Input::MassCancel(MassCancel {
                participant: *p,
                cl_ord_id: self.id(u64::MAX - i as u64),
                instrument: None,
                side: None,
                tif: None,
            });
            let _ = self.sender.send_from(input, i as u64, SEND_TRIES);
        }
    }

    /// Stops the loop, closes the journal (synced) and the reader.
    ///
    /// # Errors
    /// The journal cannot be closed cleanly.
    pub fn shutdown(mut self) -> Result<()> {
        self.stop.store(true, Ordering::Release);
        let result = match self.seq.take() {
            Some(h) => match h.join() {
                Ok(seq) => {
                    let (_, log) = seq.into_parts();
                    log.into_journal().close().context("closing the journal")
                }
                Err(_) => Err(anyhow::anyhow!("the matching loop panicked")),
            },
            None => Ok(()),
        };
        self.done.store(true, Ordering::Release);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        result
    }
}

fn on_output(out: Output, participants: &[ParticipantId], state: &Mutex<State>, now: u64) {
    let session = |p: ParticipantId| participants.iter().position(|q| *q == p);
    match out {
        Output::Event { event, .. } => match event {
            Event::Exec(x) => {
                if let Some(s) = session(x.participant) {
                    let text = match x.reason {
                        engine::event::Reason::Reject(r) => r.text(),
                        _ => "",
                    };
                    state
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .on_report(s, seen(&x), text, now);
                }
            }
            Event::CancelReject(c) => {
                if let Some(s) = session(c.participant) {
                    state
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .on_cancel_reject(
                            s,
                            SeenCancelReject {
                                participant: c.participant.0,
                                cl_ord_id: c.cl_ord_id.as_str().to_owned(),
                                orig_cl_ord_id: c.orig_cl_ord_id.as_str().to_owned(),
                            },
                            c.reason.text(),
                            now,
                        );
                }
            }
            Event::MassCancelReport(m) => {
                if let Some(s) = session(m.participant) {
                    state
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .mass_cancel_answered(s);
                }
            }
            _ => {}
        },
        Output::Refused { input, refusal, .. } => {
            // Refused before the journal: answered as a gateway answers,
            // with an ExecID that is not the engine's (`REFUSED-n`).
            let reason = refusal.to_string();
            let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
            let (participant, cl_ord_id, cancel) = match &input {
                Input::NewOrder(o) => (o.participant, o.cl_ord_id, None),
                Input::Cancel(c) => (c.participant, c.cl_ord_id, Some(c.target)),
                Input::Replace(r) => (r.participant, r.cl_ord_id, Some(r.target)),
                Input::OrderStatus(q) => {
                    if let OrderRef::ClOrdId(c) = q.target {
                        s.on_refused_status(c.as_str(), &reason, now);
                    } else {
                        s.on_refused(None, &reason, now);
                    }
                    return;
                }
                _ => {
                    s.on_refused(None, &reason, now);
                    return;
                }
            };
            let Some(session) = session(participant) else {
                return;
            };
            match cancel {
                None => {
                    let exec_id = s.next_refusal_id();
                    let report = SeenReport {
                        participant: participant.0,
                        cl_ord_id: cl_ord_id.as_str().to_owned(),
                        orig_cl_ord_id: String::new(),
                        order_id: 0,
                        exec_id,
                        exec_type: engine::event::ExecType::Rejected,
                        ord_status: engine::event::OrdStatus::Rejected,
                        last_qty_lots: 0,
                        last_px_ticks: 0,
                        leaves_qty_lots: 0,
                        cum_qty_lots: 0,
                    };
                    s.on_report(session, report, &reason, now);
                }
                Some(target) => {
                    let orig = match target {
                        OrderRef::ClOrdId(c) => c.as_str().to_owned(),
                        OrderRef::OrderId(_) => String::new(),
                    };
                    let reject = SeenCancelReject {
                        participant: participant.0,
                        cl_ord_id: cl_ord_id.as_str().to_owned(),
                        orig_cl_ord_id: orig,
                    };
                    s.on_cancel_reject(session, reject, &reason, now);
                }
            }
        }
    }
}
