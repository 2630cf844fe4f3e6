//! The sequencer: the single-threaded duty cycle at the heart of the venue.
//!
//! Each call to [`Sequencer::do_work`] is one duty cycle, in the manner of an
//! Aeron agent: the caller reads the clock once and passes it in; the
//! sequencer drains at most `batch_max` inputs from the inbound ring and, for
//! each, **journals it first** (through [`InputLog`], which assigns the
//! sequence number), then applies it to the [`Engine`], and buffers the
//! events it caused. Without gating (`process` durability) they are written
//! straight into the outbound ring (or rings, each taking the outputs its
//! route takes: [`Sequencer::route_outputs`]) as the engine emits them, and
//! published (made visible, one store per ring: [`crate::ring`]) at the end
//! of the duty cycle. With gating (`group` and `sync`) they wait in the
//! sequencer's backlog, with their sequence number, until the log's durable
//! sequence number covers the input that caused them, and are then written
//! and published. Events that find a ring full wait in the backlog too, in
//! order, with everything after them. It returns how much work it did, so that an idle strategy can
//! decide what to do with nothing; tests call it directly, without threads.
//!
//! Time: every input is stamped with `max(now, last stamp)`, so stamps never
//! go backwards even if the wall clock does. A [`Input::ClockTick`] is
//! journaled like any other input whenever `tick_interval_ns` has passed, so
//! replay expires the same orders at the same sequence number.
//!
//! Failure: if an append fails, nothing more is applied. The input that
//! failed and every later one are refused with [`Refusal::JournalFailed`]
//! (explicitly, on the outbound ring), and [`Sequencer::halted`] says why. An
//! input is never applied unless its append succeeded.
//!
//! Back-pressure: producers push through an [`InputSender`], which waits a
//! bounded number of tries for room and then hands the input back
//! ([`Refusal::Busy`]): a full ring is an answer, never a silent drop. A full
//! outbound ring holds events back in the sequencer (nothing is dropped); the
//! next duty cycles retry. Once more than `pending_max` events are held back,
//! the sequencer takes no new input until consumers catch up, so the inbound
//! ring fills and producers are told "busy": memory stays bounded and the
//! slowness reaches the clients as an explicit answer.
//!
//! Allocation: the encode buffer and the backlog are reused; in steady
//! state a duty cycle allocates nothing.
//!
//! Figures: [`Sequencer::metrics`] shares the loop's counters
//! ([`LoopMetrics`]): inputs by kind, rejects by reason, refusals, the
//! journal's positions and a sampled matching latency, written by this loop
//! with relaxed stores only (see [`crate::metrics`]).

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::codec::{InputBuf, encode_input};
use crate::engine::{Engine, Lookahead, PREFETCH_DISTANCE};
use crate::event::{Event, EventSink};
use crate::inbound;
use crate::input::{AdminAction, HashScheme, Input};
use crate::metrics::{
    InputKind, LATENCY_SAMPLE_EVERY, LATENCY_SAMPLE_INTERVAL_NS, LoopMetrics, reject_code,
};
use crate::ring::{self, Consumer, Producer};
use crate::types::TimeNs;

/// Where the sequencer journals inputs before applying them.
pub trait InputLog {
    /// Why an append failed.
    type Error: fmt::Display;

    /// Appends one encoded input stamped `time_ns` and returns its sequence
    /// number, which must be one more than the previous one.
    ///
    /// # Errors
    /// The append did not happen (disk full, I/O error); the caller must not
    /// apply the input.
    fn append(&mut self, time_ns: TimeNs, payload: &[u8]) -> Result<u64, Self::Error>;

    /// The highest sequence number that is durable at the configured level.
    fn durable_seq(&self) -> u64;

    /// The sequence number of the last append (0 if none).
    fn last_seq(&self) -> u64;
}

/// Why an input was not taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The inbound ring stayed full; the venue is busy. Try again later.
    Busy,
    /// The journal failed; the venue takes no more input until restarted.
    JournalFailed {
        /// The journal's error, as text.
        reason: String,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Busy => f.write_str("venue busy: input queue full, try again"),
            Refusal::JournalFailed { reason } => {
                write!(f, "venue halted: the journal failed ({reason})")
            }
        }
    }
}

/// A producer's tag on an input, handed back with every output the input
/// causes, so that a gateway can tell which of its requests an event answers
/// (a FIX gateway packs its session and the message's MsgSeqNum into it).
/// The engine never reads it, and it is not journaled: inputs the sequencer
/// makes itself (clock ticks, checkpoints) and replayed inputs have
/// [`ORIGIN_NONE`].
pub type Origin = u64;

/// The origin of inputs that no producer sent.
pub const ORIGIN_NONE: Origin = 0;

/// What leaves the sequencer.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// An event caused by the input with sequence number `seq`.
    Event {
        /// The causing input's sequence number.
        seq: u64,
        /// The causing input's time stamp (FIX TransactTime).
        time_ns: TimeNs,
        /// The causing input's origin.
        origin: Origin,
        /// The event.
        event: Event,
    },
    /// An input that was refused and never applied.
    Refused {
        /// The input.
        input: Input,
        /// Its origin.
        origin: Origin,
        /// Why.
        refusal: Refusal,
    },
}

/// The producer side of the inbound ring.
#[derive(Clone, Debug)]
pub struct InputSender {
    ring: inbound::Sender<(Input, Origin)>,
    metrics: Arc<LoopMetrics>,
}

impl InputSender {
    /// Pushes `input`, retrying up to `tries` times (spinning, then yielding)
    /// while the ring is full.
    ///
    /// # Errors
    /// The ring stayed full: the input is handed back, to be answered to its
    /// sender with [`Refusal::Busy`].
    #[allow(
        clippy::result_large_err,
        reason = "handing the input back unboxed keeps the busy path allocation-free"
    )]
    pub fn send(&self, input: Input, tries: u32) -> Result<(), Input> {
        self.send_from(input, ORIGIN_NONE, tries)
    }

    /// As [`InputSender::send`], tagging the input with `origin`.
    ///
    /// # Errors
    /// The ring stayed full: the input is handed back.
    #[allow(
        clippy::result_large_err,
        reason = "handing the input back unboxed keeps the busy path allocation-free"
    )]
    pub fn send_from(&self, input: Input, origin: Origin, tries: u32) -> Result<(), Input> {
        let mut item = (input, origin);
        for attempt in 0..=tries {
            match self.ring.push(item) {
                Ok(()) => return Ok(()),
                Err(back) => item = back,
            }
            if attempt < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        self.metrics.record_busy();
        Err(item.0)
    }

    /// Inputs waiting in the ring.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether the ring is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }
}

/// The consumer side of an outbound ring: one per ring, for one thread.
#[derive(Debug)]
pub struct OutputReceiver {
    ring: Consumer<Output>,
    released: Arc<AtomicU64>,
}

impl OutputReceiver {
    /// The next output, if any.
    #[must_use]
    #[inline]
    pub fn try_recv(&self) -> Option<Output> {
        self.ring.pop()
    }

    /// Whether no output is waiting.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// The sequence number through which every input's outputs are on the
    /// outbound rings (or were dropped because no route takes them). Read it
    /// before finding this ring empty, and everything through it has been
    /// taken off this ring: that is how a gateway knows an input is complete
    /// (all of its events seen), or that it is up to date when its route
    /// took nothing for a while.
    #[must_use]
    pub fn released_through(&self) -> u64 {
        self.released.load(Ordering::Acquire)
    }
}

/// Which outputs an outbound ring takes (see [`Sequencer::route_outputs`]).
pub type Route = Box<dyn Fn(&Output) -> bool + Send>;

/// One outbound ring and the outputs it takes.
struct Outbound {
    ring: Producer<Output>,
    route: Option<Route>,
}

impl Outbound {
    fn new(ring: Producer<Output>, route: Option<Route>) -> Outbound {
        Outbound { ring, route }
    }

    fn takes(&self, out: &Output) -> bool {
        self.route.as_ref().is_none_or(|r| r(out))
    }
}

/// Sequencer settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SequencerConfig {
    /// Inbound ring capacity (inputs; rounded up to a power of two).
    pub inbound_capacity: usize,
    /// Outbound ring capacity (outputs). A ring's slots are written in
    /// turn whatever its fill, so a small one stays in the caches; events
    /// that find it full wait in the backlog (up to `pending_max`).
    pub outbound_capacity: usize,
    /// Most inputs taken per duty cycle.
    pub batch_max: usize,
    /// Hold events until the log's durable sequence number covers their
    /// input (`group` and `sync` durability); `false` releases them at once
    /// (`process` durability).
    pub gate_on_durable: bool,
    /// Journal a clock tick this often; 0 for never.
    pub tick_interval_ns: u64,
    /// Journal a checkpoint (the engine's state hash) after this many
    /// inputs; 0 for never. Each costs one pass over the live orders and
    /// books, plus the orders finished since the loop last had a moment to
    /// spare (it folds them into the hash [`IDLE_FOLD`] at a time when it
    /// has no input).
    pub checkpoint_every_inputs: u64,
    /// Most events held back (waiting for durability or for room on the
    /// outbound ring) before the sequencer stops taking input.
    pub pending_max: usize,
}

impl Default for SequencerConfig {
    fn default() -> Self {
        SequencerConfig {
            inbound_capacity: 1 << 16,
            outbound_capacity: 1 << 14,
            batch_max: 256,
            gate_on_durable: true,
            tick_interval_ns: 100_000_000,
            checkpoint_every_inputs: 1_000_000,
            pending_max: 1 << 20,
        }
    }
}

/// How long the loop waits (spins) for an input whose producer has claimed
/// its place in the inbound ring and not yet written it (preempted between
/// the two), before ending the batch: a few microseconds.
const CLAIMED_SPINS: u32 = 256;

/// How many finished orders an idle duty cycle folds into the state hash
/// ([`Engine::fold_finished_some`]): about 10 µs of work here (~80 ns
/// each), the most an input arriving meanwhile waits for it.
pub const IDLE_FOLD: usize = 128;

/// Writes an input's events, with its sequence number, into the outbound
/// rings (unpublished until the duty cycle ends), or into the backlog when
/// outputs are gated, a ring is full or the backlog holds anything; counts
/// the rejects among them.
struct Pending<'a> {
    /// Whether events may go straight to the rings (no gating).
    direct: bool,
    seq: u64,
    time_ns: TimeNs,
    origin: Origin,
    kind: InputKind,
    outbound: &'a mut [Outbound],
    backlog: &'a mut VecDeque<(u64, TimeNs, Origin, Event)>,
    metrics: &'a LoopMetrics,
}

impl EventSink for Pending<'_> {
    #[inline]
    fn event(&mut self, event: &Event) {
        if let Some(code) = reject_code(event) {
            self.metrics.record_reject(self.kind, code);
        }
        if self.direct
            && self.backlog.is_empty()
            && write_direct(self.outbound, self.seq, self.time_ns, self.origin, event)
        {
            return;
        }
        self.backlog
            .push_back((self.seq, self.time_ns, self.origin, *event));
    }
}

/// Writes one event into every ring whose route takes it, if each of them
/// has room; otherwise writes nothing and returns `false`.
#[inline]
fn write_direct(
    rings: &mut [Outbound],
    seq: u64,
    time_ns: TimeNs,
    origin: Origin,
    event: &Event,
) -> bool {
    if let [only] = rings
        && only.route.is_none()
    {
        return only.ring.write_with(|| Output::Event {
            seq,
            time_ns,
            origin,
            event: *event,
        });
    }
    let out = Output::Event {
        seq,
        time_ns,
        origin,
        event: *event,
    };
    let mut takers = 0u64;
    for (i, o) in rings.iter_mut().enumerate() {
        if o.takes(&out) {
            if !o.ring.has_room(1) {
                return false;
            }
            takers |= 1 << i;
        }
    }
    for (i, o) in rings.iter_mut().enumerate() {
        if takers & (1 << i) != 0 {
            let written = o.ring.write(out.clone()).is_ok();
            debug_assert!(written, "room was checked");
        }
    }
    true
}

/// A monotonic clock in nanoseconds, for the matching latency (see
/// [`Sequencer::set_latency_clock`]).
pub type LatencyClock = fn() -> u64;

/// The sequencer. See the module docs.
pub struct Sequencer<L: InputLog> {
    engine: Engine,
    log: L,
    config: SequencerConfig,
    /// Taken out for the length of a batch (its inputs are applied where
    /// they lie in the ring), put back after it.
    inbound: Option<inbound::Receiver<(Input, Origin)>>,
    inbound_tx: inbound::Sender<(Input, Origin)>,
    /// Inputs taken from the inbound ring so far: the ring position of the
    /// next, by which `lookahead` keeps each later input's announcements.
    inbound_taken: u64,
    lookahead: Lookahead,
    outbound: Vec<Outbound>,
    /// The first ring's reader, until [`Sequencer::receiver`] takes it.
    first_receiver: Option<Consumer<Output>>,
    /// See [`OutputReceiver::released_through`].
    released: Arc<AtomicU64>,
    released_cached: u64,
    /// Which rings already took the front backlog output (or the front
    /// refusal), when another ring was full: bit `i` for ring `i`.
    front_delivered: u64,
    refused_front_delivered: u64,
    /// Events that found a ring full (and every event after them), in
    /// order, waiting for room.
    pending: VecDeque<(u64, TimeNs, Origin, Event)>,
    /// Refusals waiting for room on the outbound ring.
    refused: VecDeque<Output>,
    /// Where each input is encoded for the journal; `encode_buf` takes
    /// an encoding too long for it.
    input_buf: InputBuf,
    encode_buf: Vec<u8>,
    last_time_ns: TimeNs,
    next_tick_ns: TimeNs,
    since_checkpoint: u64,
    halted: Option<String>,
    /// An operator asked for a snapshot (a journaled `SnapshotNow`).
    snapshot_requested: bool,
    metrics: Arc<LoopMetrics>,
    latency_clock: Option<LatencyClock>,
    /// Inputs since the last timed one.
    since_sample: u32,
    /// An input stamped at or after this is timed.
    next_sample_ns: TimeNs,
}

impl<L: InputLog> fmt::Debug for Sequencer<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sequencer")
            .field("last_seq", &self.log.last_seq())
            .field("durable_seq", &self.log.durable_seq())
            .field("pending", &self.pending.len())
            .field("halted", &self.halted)
            .finish_non_exhaustive()
    }
}

impl<L: InputLog> Sequencer<L> {
    /// A sequencer over `engine` (already recovered to `log.last_seq()`) and
    /// `log`, with fresh rings. `last_time_ns` is the stamp of the last input
    /// in the log (0 if empty), so that stamps continue monotonically.
    #[must_use]
    pub fn new(engine: Engine, log: L, config: SequencerConfig, last_time_ns: TimeNs) -> Self {
        assert!(config.batch_max > 0, "batch_max must be positive");
        let last_seq = log.last_seq();
        let (inbound_tx, inbound) = inbound::ring(config.inbound_capacity);
        let (outbound, first_receiver) = ring::ring(config.outbound_capacity);
        let metrics = Arc::new(LoopMetrics::new(inbound_tx.gauge(), vec![outbound.gauge()]));
        metrics.publish_positions(last_seq, log.durable_seq().min(last_seq), 0);
        Sequencer {
            engine,
            log,
            inbound: Some(inbound),
            inbound_tx,
            inbound_taken: 0,
            lookahead: Lookahead::default(),
            outbound: vec![Outbound::new(outbound, None)],
            first_receiver: Some(first_receiver),
            released: Arc::new(AtomicU64::new(last_seq)),
            released_cached: last_seq,
            front_delivered: 0,
            refused_front_delivered: 0,
            pending: VecDeque::with_capacity(config.batch_max * 8),
            refused: VecDeque::new(),
            input_buf: InputBuf::default(),
            encode_buf: Vec::new(),
            last_time_ns,
            next_tick_ns: 0,
            since_checkpoint: 0,
            halted: None,
            snapshot_requested: false,
            metrics,
            latency_clock: None,
            since_sample: 0,
            next_sample_ns: 0,
            config,
        }
    }

    /// A producer handle for the inbound ring.
    #[must_use]
    pub fn sender(&self) -> InputSender {
        InputSender {
            ring: self.inbound_tx.clone(),
            metrics: Arc::clone(&self.metrics),
        }
    }

    /// The loop's figures, readable from any thread.
    #[must_use]
    pub fn metrics(&self) -> Arc<LoopMetrics> {
        Arc::clone(&self.metrics)
    }

    /// Sets the clock the matching latency is measured with (monotonic,
    /// nanoseconds; the engine crate reads no clock of its own). Without
    /// one, no latency is recorded.
    pub fn set_latency_clock(&mut self, clock: Option<LatencyClock>) {
        self.latency_clock = clock;
    }

    /// The consumer handle of the outbound ring (a ring has one reader).
    ///
    /// # Panics
    /// If it was taken already, or the outputs were routed
    /// ([`Sequencer::route_outputs`] returns those rings' receivers).
    #[must_use]
    pub fn receiver(&mut self) -> OutputReceiver {
        OutputReceiver {
            ring: self
                .first_receiver
                .take()
                .expect("the outbound ring has one reader: taken already by receiver() or replaced by route_outputs()"),
            released: Arc::clone(&self.released),
        }
    }

    /// Replaces the outbound ring with one ring per route (each of
    /// `outbound_capacity`), in the given order, and returns their
    /// receivers: each output goes to every ring whose route takes it, in
    /// the order they were produced (so a gateway sees only its sessions'
    /// reports and the market data it publishes). An output no route takes
    /// is dropped. A full ring holds everything behind it back (nothing is
    /// skipped or sent twice to the rings that already took it). Call it
    /// before the first duty cycle; at most 64 routes.
    ///
    /// # Panics
    /// With no route or more than 64.
    pub fn route_outputs(&mut self, routes: Vec<Route>) -> Vec<OutputReceiver> {
        assert!(
            (1..=64).contains(&routes.len()),
            "between 1 and 64 output routes"
        );
        let mut receivers = Vec::with_capacity(routes.len());
        self.outbound = routes
            .into_iter()
            .map(|route| {
                let (producer, consumer) = ring::ring(self.config.outbound_capacity);
                receivers.push(OutputReceiver {
                    ring: consumer,
                    released: Arc::clone(&self.released),
                });
                Outbound::new(producer, Some(route))
            })
            .collect();
        self.first_receiver = None;
        self.front_delivered = 0;
        self.refused_front_delivered = 0;
        self.metrics
            .set_outbound(self.outbound.iter().map(|o| o.ring.gauge()).collect());
        receivers
    }

    /// The engine's chunk feeder ([`Engine::chunk_feeder`]), for a helper
    /// thread of the caller's.
    pub fn chunk_feeder(&mut self) -> crate::engine::ChunkFeeder {
        self.engine.chunk_feeder()
    }

    /// The engine (for snapshots and queries between duty cycles).
    #[must_use]
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The log.
    #[must_use]
    pub fn log(&self) -> &L {
        &self.log
    }

    /// The log, mutably (to force a sync, say).
    pub fn log_mut(&mut self) -> &mut L {
        &mut self.log
    }

    /// The stamp of the last input journaled.
    #[must_use]
    pub fn last_time_ns(&self) -> TimeNs {
        self.last_time_ns
    }

    /// Why the sequencer stopped taking input, if it did.
    #[must_use]
    pub fn halted(&self) -> Option<&str> {
        self.halted.as_deref()
    }

    /// Events applied but not yet released.
    #[must_use]
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// One duty cycle at wall-clock time `now_ns`; returns the number of
    /// inputs taken plus outputs released (0 means idle).
    pub fn do_work(&mut self, now_ns: TimeNs) -> usize {
        let mut work = 0;
        let now = now_ns.max(self.last_time_ns);
        if self.config.tick_interval_ns > 0 && now >= self.next_tick_ns && self.halted.is_none() {
            if self.next_tick_ns != 0 {
                self.sequence(now, &Input::ClockTick, ORIGIN_NONE, true);
                work += 1;
            }
            self.next_tick_ns = now + self.config.tick_interval_ns;
        }
        // Each input is journaled and applied where it lies in the ring
        // (no copy), and its slot freed after. Four inputs of look-ahead:
        // while input n is journaled and applied, the memory inputs n+1 to
        // n+4 will read is on its way, one link of each chain further per
        // input, each starting from the link found the input before
        // (`Engine::prefetch_ahead`).
        let mut rx = self
            .inbound
            .take()
            .expect("the inbound ring is put back after every batch");
        let mut more = self.pending_len() <= self.config.pending_max;
        let mut taken = 0;
        while more && let Some((input, origin)) = rx.peek_next(CLAIMED_SPINS) {
            taken += 1;
            more = taken < self.config.batch_max && self.pending_len() <= self.config.pending_max;
            if more {
                for distance in 1..=PREFETCH_DISTANCE {
                    if let Some((later, _)) = rx.peek(distance as u64) {
                        self.engine.prefetch_ahead(
                            &mut self.lookahead,
                            self.inbound_taken + distance as u64,
                            later,
                            distance,
                        );
                    }
                }
            }
            let timed = self.sample_due(now);
            self.sequence(now, input, *origin, timed);
            rx.skip();
            self.inbound_taken += 1;
            work += 1;
        }
        self.inbound = Some(rx);
        let every = self.config.checkpoint_every_inputs;
        if every > 0 && self.since_checkpoint >= every && self.halted.is_none() {
            let scheme = HashScheme::Folded;
            let state_hash = self.engine.checkpoint_hash(scheme);
            self.sequence(
                now,
                &Input::Checkpoint { state_hash, scheme },
                ORIGIN_NONE,
                true,
            );
            self.since_checkpoint = 0;
            work += 1;
        }
        work += self.release();
        if work == 0 {
            // Nothing to do: carry the state hash forward over a few
            // finished orders, so that the next checkpoint has less to hash
            // while inputs wait. Not work: it never keeps the loop awake.
            self.engine.fold_finished_some(IDLE_FOLD);
        }
        let last_seq = self.log.last_seq();
        let durable_seq = self.log.durable_seq().min(last_seq);
        self.metrics
            .publish_positions(last_seq, durable_seq, self.pending_len());
        work
    }

    /// Whether the next input's latency is to be timed (see
    /// [`crate::metrics`]): every `LATENCY_SAMPLE_EVERY`th input, and any
    /// input `LATENCY_SAMPLE_INTERVAL_NS` after the previous sample.
    #[inline]
    fn sample_due(&mut self, now: TimeNs) -> bool {
        self.since_sample += 1;
        if self.since_sample < LATENCY_SAMPLE_EVERY && now < self.next_sample_ns {
            return false;
        }
        self.since_sample = 0;
        self.next_sample_ns = now.saturating_add(LATENCY_SAMPLE_INTERVAL_NS);
        true
    }

    /// Journals, then applies, one input; `timed` records its latency.
    fn sequence(&mut self, time_ns: TimeNs, input: &Input, origin: Origin, timed: bool) {
        if let Some(reason) = &self.halted {
            self.metrics.record_journal_failed();
            let refusal = Refusal::JournalFailed {
                reason: reason.clone(),
            };
            self.refused.push_back(Output::Refused {
                input: *input,
                origin,
                refusal,
            });
            return;
        }
        let clock = if timed { self.latency_clock } else { None };
        let started_ns = clock.map(|now| now());
        let payload = match self.input_buf.encode(input) {
            Some(bytes) => bytes,
            None => {
                self.encode_buf.clear();
                encode_input(input, &mut self.encode_buf);
                &self.encode_buf
            }
        };
        let expected = self.log.last_seq() + 1;
        match self.log.append(time_ns, payload) {
            Ok(seq) => {
                assert_eq!(seq, expected, "the log must number inputs contiguously");
                self.last_time_ns = time_ns;
                self.since_checkpoint += 1;
                let kind = InputKind::of(input);
                self.metrics.record_input(kind);
                let mut sink = Pending {
                    direct: !self.config.gate_on_durable,
                    seq,
                    time_ns,
                    origin,
                    kind,
                    outbound: &mut self.outbound,
                    backlog: &mut self.pending,
                    metrics: &self.metrics,
                };
                self.engine.apply(seq, time_ns, input, &mut sink);
                if let Input::Admin(AdminAction::SnapshotNow) = input {
                    self.snapshot_requested = true;
                }
                if let (Some(now), Some(started_ns)) = (clock, started_ns) {
                    self.metrics
                        .record_latency(now().saturating_sub(started_ns));
                }
            }
            Err(e) => {
                self.metrics.record_journal_failed();
                let reason = e.to_string();
                self.halted = Some(reason.clone());
                self.refused.push_back(Output::Refused {
                    input: *input,
                    origin,
                    refusal: Refusal::JournalFailed { reason },
                });
            }
        }
    }

    /// Moves releasable outputs onto the outbound rings (refusals, then
    /// the backlog) and publishes what the journal's durable sequence
    /// number allows; returns how many outputs became visible.
    fn release(&mut self) -> usize {
        let durable = if self.config.gate_on_durable {
            self.log.durable_seq()
        } else {
            u64::MAX
        };
        let mut refusals_out = true;
        while let Some(out) = self.refused.pop_front() {
            if let Err(out) = deliver(&mut self.outbound, out, &mut self.refused_front_delivered) {
                self.refused.push_front(out);
                refusals_out = false;
                break;
            }
        }
        while refusals_out && let Some(&(seq, time_ns, origin, event)) = self.pending.front() {
            if seq > durable {
                break;
            }
            let out = Output::Event {
                seq,
                time_ns,
                origin,
                event,
            };
            if deliver(&mut self.outbound, out, &mut self.front_delivered).is_err() {
                break;
            }
            self.pending.pop_front();
        }
        // Publish everything written: events of durable inputs only when
        // gated (the rest are still in the backlog), refusals (which need
        // no durability), and, without gating, this duty cycle's events.
        let mut released = 0;
        for o in &mut self.outbound {
            released += o.ring.unpublished() as usize;
            o.ring.publish();
        }
        let through = match self.pending.front() {
            Some(&(seq, ..)) => seq - 1,
            None => self.log.last_seq(),
        }
        .min(durable);
        if through > self.released_cached {
            self.released_cached = through;
            self.released.store(through, Ordering::Release);
        }
        released
    }

    /// Whether an operator asked for a snapshot since the last call: the
    /// loop's owner writes one (right after the `SnapshotNow` input, so the
    /// snapshot's sequence number is at least that input's).
    pub fn take_snapshot_request(&mut self) -> bool {
        std::mem::take(&mut self.snapshot_requested)
    }

    /// Takes the sequencer apart (for a graceful shutdown or a simulated crash).
    pub fn into_parts(self) -> (Engine, L) {
        (self.engine, self.log)
    }
}

/// Writes `out` (unpublished) into every ring whose route takes it and
/// that has not taken it yet (`delivered` remembers which did, across
/// calls). Returns `Ok` once every ring that takes it has it (then
/// `delivered` is cleared for the next output), or hands it back. One ring
/// without a route (the common case) takes it by value, with no copy.
#[allow(
    clippy::result_large_err,
    reason = "handing the output back unboxed keeps the full-ring path allocation-free"
)]
fn deliver(rings: &mut [Outbound], out: Output, delivered: &mut u64) -> Result<(), Output> {
    if let [only] = rings
        && only.route.is_none()
    {
        return only.ring.write(out);
    }
    let mut all = true;
    for (i, o) in rings.iter_mut().enumerate() {
        let bit = 1u64 << i;
        if *delivered & bit != 0 || !o.takes(&out) {
            continue;
        }
        if o.ring.write(out.clone()).is_ok() {
            *delivered |= bit;
        } else {
            all = false;
        }
    }
    if all {
        *delivered = 0;
        Ok(())
    } else {
        Err(out)
    }
}

/// Rebuilds an engine by applying journaled inputs in order: the restart
/// path. Events are produced and dropped (nobody is sent anything twice).
/// Frames are `(seq, time_ns, payload)`; sequence numbers must be contiguous
/// from `engine`'s last one plus one.
///
/// # Errors
/// A payload that does not decode, or a gap in the sequence numbers, with
/// the sequence number where it happened.
pub fn replay<I, P>(engine: &mut Engine, from_seq: u64, frames: I) -> Result<u64, ReplayError>
where
    I: IntoIterator<Item = (u64, TimeNs, P)>,
    P: AsRef<[u8]>,
{
    let mut expected = from_seq;
    let mut sink = crate::event::NullSink;
    for (seq, time_ns, payload) in frames {
        if seq != expected {
            return Err(ReplayError::Gap {
                expected,
                found: seq,
            });
        }
        let input = crate::codec::decode_input(payload.as_ref())
            .map_err(|source| ReplayError::Decode { seq, source })?;
        check_checkpoint(engine, seq, &input)?;
        engine.apply(seq, time_ns, &input, &mut sink);
        expected += 1;
    }
    Ok(expected - from_seq)
}

/// Compares a checkpoint input with the replaying engine's hash of the
/// checkpoint's scheme ([`Engine::checkpoint_hash`]).
///
/// # Errors
/// [`ReplayError::Divergence`] if they differ.
pub fn check_checkpoint(engine: &mut Engine, seq: u64, input: &Input) -> Result<(), ReplayError> {
    if let Input::Checkpoint { state_hash, scheme } = *input {
        let actual = engine.checkpoint_hash(scheme);
        if actual != state_hash {
            return Err(ReplayError::Divergence {
                seq,
                expected: state_hash,
                actual,
            });
        }
    }
    Ok(())
}

/// Why a replay stopped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// A frame's payload is not an input.
    #[error("journaled input at sequence {seq} does not decode: {source}")]
    Decode {
        /// Its sequence number.
        seq: u64,
        /// Why.
        source: crate::codec::DecodeError,
    },
    /// The replayed state differs from what the live engine had.
    #[error(
        "state divergence at sequence {seq}: the journal's checkpoint says {expected:016x}, replay computed {actual:016x}"
    )]
    Divergence {
        /// The checkpoint's sequence number.
        seq: u64,
        /// The live engine's hash.
        expected: u64,
        /// The replay's hash.
        actual: u64,
    },
    /// Sequence numbers are not contiguous.
    #[error("journal sequence gap: expected {expected}, found {found}")]
    Gap {
        /// What came next in order.
        expected: u64,
        /// What was found.
        found: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{EngineConfig, InstrumentSpec, ParticipantSpec};
    use crate::input::NewOrder;
    use crate::types::{ClOrdId, InstrumentId, OrdType, ParticipantId, Side, StpMode, TimeInForce};

    /// An in-memory log with a settable durable point and injectable failure.
    #[derive(Default)]
    struct MemLog {
        frames: Vec<(u64, TimeNs, Vec<u8>)>,
        durable: u64,
        fail_from: Option<u64>,
    }

    impl InputLog for MemLog {
        type Error = String;
        fn append(&mut self, time_ns: TimeNs, payload: &[u8]) -> Result<u64, String> {
            let seq = self.frames.len() as u64 + 1;
            if self.fail_from.is_some_and(|f| seq >= f) {
                return Err("disk full".to_owned());
            }
            self.frames.push((seq, time_ns, payload.to_vec()));
            Ok(seq)
        }
        fn durable_seq(&self) -> u64 {
            self.durable
        }
        fn last_seq(&self) -> u64 {
            self.frames.len() as u64
        }
    }

    fn config() -> EngineConfig {
        EngineConfig {
            instruments: vec![InstrumentSpec::new(InstrumentId(1), "X")],
            participants: vec![
                ParticipantSpec {
                    id: ParticipantId(1),
                    stp: StpMode::CancelResting,
                },
                ParticipantSpec {
                    id: ParticipantId(2),
                    stp: StpMode::CancelResting,
                },
            ],
            ..EngineConfig::default()
        }
    }

    fn order(n: u32, side: Side, price: i64) -> Input {
        Input::NewOrder(NewOrder {
            participant: ParticipantId(1 + n % 2),
            instrument: InstrumentId(1),
            cl_ord_id: ClOrdId::new(format!("o{n}").as_bytes()).unwrap(),
            side,
            ord_type: OrdType::Limit,
            tif: TimeInForce::Gtc,
            price_ticks: Some(price),
            stop_price_ticks: None,
            qty_lots: 5,
            display_qty_lots: 0,
            min_qty_lots: 0,
            post_only: false,
            expire_time_ns: None,
        })
    }

    fn sequencer(log: MemLog, gate: bool) -> Sequencer<MemLog> {
        let cfg = SequencerConfig {
            inbound_capacity: 8,
            outbound_capacity: 64,
            batch_max: 4,
            gate_on_durable: gate,
            tick_interval_ns: 0,
            checkpoint_every_inputs: 0,
            pending_max: 16,
        };
        Sequencer::new(Engine::new(config()).unwrap(), log, cfg, 0)
    }

    fn drain(rx: &OutputReceiver) -> Vec<Output> {
        std::iter::from_fn(|| rx.try_recv()).collect()
    }

    /// A clock that advances 1 µs per read.
    fn fake_clock() -> u64 {
        static NOW: AtomicU64 = AtomicU64::new(0);
        NOW.fetch_add(1_000, Ordering::Relaxed)
    }

    #[test]
    fn figures_count_inputs_rejects_refusals_positions_and_latency() {
        use crate::input::{Cancel, OrderRef};
        use crate::metrics::{InputKind, LATENCY_SAMPLE_EVERY, LATENCY_SAMPLE_INTERVAL_NS};
        use crate::reason::RejectReason;

        let mut s = sequencer(MemLog::default(), true);
        s.set_latency_clock(Some(fake_clock));
        let m = s.metrics();
        let tx = s.sender();
        let rx = s.route_outputs(vec![
            Box::new(|_: &Output| true),
            Box::new(|_: &Output| false),
        ]);
        tx.send(order(1, Side::Sell, 100), 0).unwrap();
        let Input::NewOrder(mut bad) = order(2, Side::Buy, 100) else {
            unreachable!()
        };
        bad.instrument = InstrumentId(9);
        tx.send(Input::NewOrder(bad), 0).unwrap();
        tx.send(
            Input::Cancel(Cancel {
                participant: ParticipantId(1),
                cl_ord_id: ClOrdId::new(b"c1").unwrap(),
                target: OrderRef::ClOrdId(ClOrdId::new(b"nope").unwrap()),
            }),
            0,
        )
        .unwrap();
        s.do_work(1);
        let f = m.snapshot();
        let count = |k: InputKind| f.inputs.iter().find(|(kind, _)| *kind == k).unwrap().1;
        assert_eq!(count(InputKind::NewOrder), 2);
        assert_eq!(count(InputKind::Cancel), 1);
        assert_eq!(count(InputKind::Replace), 0);
        assert_eq!(
            f.rejects,
            vec![
                (
                    InputKind::NewOrder,
                    RejectReason::UnknownInstrument.code(),
                    1
                ),
                (InputKind::Cancel, RejectReason::UnknownOrder.code(), 1),
            ]
        );
        assert_eq!(
            (f.appended_seq, f.durable_seq),
            (3, 0),
            "nothing durable yet"
        );
        assert!(f.pending_events > 0, "held back until durable");
        assert_eq!(f.outbound.len(), 2, "one figure per routed ring");
        assert_eq!((f.outbound[0].len, f.outbound[1].len), (0, 0));
        // Three inputs within 1 ms: only the first is timed, at 1 µs.
        assert_eq!(f.latency.count(), 1);
        assert_eq!(f.latency.buckets[2], 1, "(500 ns, 1 µs]");
        assert_eq!(f.latency.sum_ns, 1_000);

        s.log.durable = 3;
        s.do_work(2);
        let f = m.snapshot();
        assert_eq!((f.durable_seq, f.pending_events), (3, 0));
        assert!(f.outbound[0].len > 0 && f.outbound[0].capacity == 64);
        assert!(f.outbound[0].len == drain(&rx[0]).len());

        // A full inbound ring: the producer hears busy, and it is counted.
        for n in 0..8 {
            tx.send(order(10 + n, Side::Sell, 200), 0).unwrap();
        }
        assert_eq!(m.snapshot().inbound.len, 8);
        assert!(tx.send(order(30, Side::Sell, 200), 0).is_err());
        assert_eq!(m.snapshot().refused_busy, 1);
        assert_eq!(m.snapshot().inbound.ratio(), 1.0);
        // Four more within 1 ms of the sample and fewer than
        // LATENCY_SAMPLE_EVERY since: none timed. A batch 1 ms later: its
        // first input is.
        const { assert!(LATENCY_SAMPLE_EVERY > 3 + 4) };
        s.do_work(3);
        assert_eq!(m.snapshot().latency.count(), 1);
        s.do_work(1 + LATENCY_SAMPLE_INTERVAL_NS);
        assert_eq!(m.snapshot().latency.count(), 2);

        // A failed journal: the input and those after it are refused.
        for n in 0..4 {
            tx.send(order(40 + n, Side::Sell, 200), 0).unwrap();
        }
        s.log.fail_from = Some(1);
        s.do_work(1 + LATENCY_SAMPLE_INTERVAL_NS);
        let f = m.snapshot();
        assert_eq!(f.refused_journal_failed, 4);
        assert_eq!(
            f.inputs[InputKind::NewOrder as usize].1,
            2 + 8,
            "refused inputs are not counted as sequenced"
        );
    }

    #[test]
    fn inputs_are_journaled_before_they_apply_and_events_wait_for_durability() {
        let mut s = sequencer(MemLog::default(), true);
        let (tx, rx) = (s.sender(), s.receiver());
        tx.send(order(1, Side::Sell, 100), 0).unwrap();
        tx.send(order(2, Side::Buy, 100), 0).unwrap();
        assert_eq!(s.do_work(1_000), 2);
        assert_eq!(s.log().frames.len(), 2, "both journaled");
        assert_eq!(
            s.engine().last_trade_ticks(InstrumentId(1)),
            Some(100),
            "and applied"
        );
        assert!(drain(&rx).is_empty(), "nothing leaves before it is durable");
        s.log.durable = 1;
        s.do_work(2_000);
        let out = drain(&rx);
        assert!(!out.is_empty());
        assert!(
            out.iter()
                .all(|o| matches!(o, Output::Event { seq: 1, .. }))
        );
        s.log.durable = 2;
        s.do_work(3_000);
        let out = drain(&rx);
        assert!(out.iter().any(|o| matches!(
            o,
            Output::Event {
                seq: 2,
                event: Event::Trade(_),
                ..
            }
        )));
        assert_eq!(s.pending_len(), 0);
        // The journal alone rebuilds the same state.
        let mut fresh = Engine::new(config()).unwrap();
        let frames = s.log().frames.clone();
        assert_eq!(replay(&mut fresh, 1, frames), Ok(2));
        assert_eq!(fresh.state_hash(), s.engine().state_hash());
    }

    #[test]
    fn without_gating_events_leave_at_once_and_stamps_never_go_back() {
        let mut s = sequencer(MemLog::default(), false);
        let (tx, rx) = (s.sender(), s.receiver());
        tx.send(order(1, Side::Sell, 100), 0).unwrap();
        s.do_work(5_000);
        tx.send(order(2, Side::Sell, 101), 0).unwrap();
        s.do_work(4_000); // the clock went backwards
        assert_eq!(s.log().frames[1].1, 5_000);
        assert!(!drain(&rx).is_empty());
    }

    #[test]
    fn a_full_ring_refuses_explicitly_and_batches_are_bounded() {
        let mut s = sequencer(MemLog::default(), false);
        let tx = s.sender();
        for n in 0..8 {
            tx.send(order(n, Side::Sell, 100 + i64::from(n)), 0)
                .unwrap();
        }
        let refused = tx.send(order(9, Side::Sell, 200), 10);
        assert_eq!(refused, Err(order(9, Side::Sell, 200)), "handed back: busy");
        assert!(s.do_work(1) >= 4);
        assert_eq!(s.log().frames.len(), 4, "batch_max inputs per duty cycle");
        assert!(tx.send(order(9, Side::Sell, 200), 0).is_ok(), "room again");
    }

    #[test]
    fn gated_outputs_behind_a_full_ring_are_never_hidden_below_released_through() {
        // A ring of two, two events an order: the backlog is in use while
        // durability moves up input by input. Whatever is visible is
        // durable, and once `released_through` is read and the ring found
        // empty, every input through it has been seen (a gateway's
        // delivery watermark relies on it).
        let mut s = Sequencer::new(
            Engine::new(config()).unwrap(),
            MemLog::default(),
            SequencerConfig {
                inbound_capacity: 16,
                outbound_capacity: 2,
                batch_max: 16,
                gate_on_durable: true,
                tick_interval_ns: 0,
                checkpoint_every_inputs: 0,
                pending_max: 1_000,
            },
            0,
        );
        let (tx, rx) = (s.sender(), s.receiver());
        let mut seen = 0u64;
        let mut drain = |durable: u64| {
            while let Some(out) = rx.try_recv() {
                let Output::Event { seq, .. } = out else {
                    panic!("no refusal expected")
                };
                assert!(
                    seq <= durable,
                    "input {seq} visible before durable {durable}"
                );
                seen = seen.max(seq);
            }
            seen
        };
        let mut now = 1;
        for n in 1..=12u32 {
            tx.send(order(n, Side::Sell, 100 + i64::from(n)), 0)
                .unwrap();
            for _ in 0..2 {
                s.do_work(now);
                now += 1;
                let through = rx.released_through();
                let durable = s.log.durable;
                let seen = drain(durable);
                assert!(seen >= through, "released through {through}, seen {seen}");
            }
            s.log.durable = s.log.durable.max(u64::from(n).saturating_sub(1));
        }
        s.log.durable = 12;
        for _ in 0..20 {
            s.do_work(now);
            now += 1;
            drain(12);
        }
        assert_eq!(drain(12), 12, "everything out once durable");
        assert_eq!(rx.released_through(), 12);
    }

    #[test]
    fn a_halted_gated_loop_still_delivers_its_refusals() {
        // Input 1 is journaled but never durable (its sync failed), then
        // appends fail: every later input is refused on the ring, though
        // input 1's events stay held back.
        let mut s = sequencer(MemLog::default(), true);
        let (tx, rx) = (s.sender(), s.receiver());
        tx.send(order(1, Side::Sell, 100), 0).unwrap();
        s.do_work(1);
        s.log.fail_from = Some(2);
        let (mut refusals, mut events) = (0, 0);
        for round in 0..10u32 {
            for n in 0..3 {
                tx.send(order(10 + round * 3 + n, Side::Sell, 100), 0)
                    .unwrap();
            }
            s.do_work(2 + u64::from(round));
            while let Some(out) = rx.try_recv() {
                match out {
                    Output::Refused { .. } => refusals += 1,
                    Output::Event { .. } => events += 1,
                }
            }
        }
        assert!(s.halted().is_some());
        assert_eq!((refusals, events), (30, 0));
    }

    #[test]
    fn a_slow_consumer_stops_intake_instead_of_growing_memory() {
        // Gated, and nothing durable: events pile up as pending.
        let mut s = sequencer(MemLog::default(), true);
        let (tx, rx) = (s.sender(), s.receiver());
        let mut sent = 0;
        for round in 0..20 {
            for n in 0..4 {
                let id = round * 4 + n;
                if tx
                    .send(order(id, Side::Sell, 100 + i64::from(id)), 0)
                    .is_ok()
                {
                    sent += 1;
                }
            }
            s.do_work(1);
        }
        let journaled = s.log().frames.len();
        assert!(
            s.pending_len() <= 16 + 4 * 2,
            "pending bounded: {}",
            s.pending_len()
        );
        assert!(
            journaled < sent,
            "intake stopped: {journaled} of {sent} taken"
        );
        assert!(
            tx.send(order(99, Side::Sell, 300), 10).is_err(),
            "producers hear busy"
        );
        // Once durable, everything flows again and nothing was lost.
        s.log.durable = u64::MAX;
        for _ in 0..40 {
            s.do_work(1);
            while rx.try_recv().is_some() {}
        }
        assert_eq!(s.log().frames.len(), sent, "every accepted input journaled");
    }

    #[test]
    fn a_failed_append_halts_and_refuses_everything_after_it() {
        let log = MemLog {
            fail_from: Some(2),
            ..MemLog::default()
        };
        let mut s = sequencer(log, false);
        let (tx, rx) = (s.sender(), s.receiver());
        for n in 0..3 {
            tx.send(order(n, Side::Sell, 100), 0).unwrap();
        }
        s.do_work(1);
        assert_eq!(s.halted(), Some("disk full"));
        assert_eq!(
            s.engine().live_order_count(),
            1,
            "only the journaled input applied"
        );
        let refusals: Vec<_> = drain(&rx)
            .into_iter()
            .filter_map(|o| match o {
                Output::Refused { refusal, .. } => Some(refusal),
                Output::Event { .. } => None,
            })
            .collect();
        assert_eq!(refusals.len(), 2);
        assert!(refusals[0].to_string().contains("venue halted"));
    }

    #[test]
    fn clock_ticks_are_journaled_inputs() {
        let mut s = sequencer(MemLog::default(), false);
        s.config.tick_interval_ns = 1_000;
        s.do_work(10_000); // arms the first tick
        s.do_work(10_500);
        assert_eq!(s.log().frames.len(), 0);
        s.do_work(11_000);
        assert_eq!(s.log().frames.len(), 1);
        let input = crate::codec::decode_input(&s.log().frames[0].2).unwrap();
        assert_eq!(input, Input::ClockTick);
    }

    #[test]
    fn checkpoints_are_journaled_and_replay_detects_divergence() {
        let mut s = sequencer(MemLog::default(), false);
        s.config.checkpoint_every_inputs = 2;
        let tx = s.sender();
        for n in 0..4 {
            tx.send(order(n, Side::Sell, 100 + i64::from(n)), 0)
                .unwrap();
        }
        s.do_work(1);
        let frames = s.log().frames.clone();
        let kinds: Vec<_> = frames
            .iter()
            .map(|f| crate::codec::decode_input(&f.2).unwrap())
            .collect();
        let Input::Checkpoint { state_hash, scheme } = kinds[4] else {
            panic!("{kinds:?}");
        };
        assert_eq!(scheme, HashScheme::Folded);
        let mut fresh = Engine::new(config()).unwrap();
        assert_eq!(replay(&mut fresh, 1, frames.clone()), Ok(5));
        assert_eq!(fresh.state_hash(), state_hash);
        // A checkpoint of the encoding hash (as journals before input
        // format 2 carry) is checked against that hash.
        let mut before = Engine::new(config()).unwrap();
        assert_eq!(replay(&mut before, 1, frames[..4].to_vec()), Ok(4));
        let legacy = Input::Checkpoint {
            state_hash: before.encoding_hash(),
            scheme: HashScheme::Encoding,
        };
        assert_ne!(before.encoding_hash(), state_hash);
        let mut buf = Vec::new();
        crate::codec::encode_input(&legacy, &mut buf);
        let mut old = frames.clone();
        old[4].2 = buf;
        let mut fresh = Engine::new(config()).unwrap();
        assert_eq!(replay(&mut fresh, 1, old), Ok(5));
        // A journal whose checkpoint disagrees with the replay is refused,
        // whichever hash it carries.
        for scheme in [HashScheme::Folded, HashScheme::Encoding] {
            let mut forged = frames.clone();
            let mut buf = Vec::new();
            crate::codec::encode_input(
                &Input::Checkpoint {
                    state_hash: 7,
                    scheme,
                },
                &mut buf,
            );
            forged[4].2 = buf;
            let mut fresh = Engine::new(config()).unwrap();
            assert!(matches!(
                replay(&mut fresh, 1, forged),
                Err(ReplayError::Divergence {
                    seq: 5,
                    expected: 7,
                    ..
                })
            ));
        }
    }

    #[test]
    fn an_idle_duty_cycle_folds_finished_orders_into_the_state_hash() {
        let mut s = sequencer(MemLog::default(), false);
        let tx = s.sender();
        tx.send(order(0, Side::Buy, 100), 0).unwrap();
        tx.send(order(1, Side::Sell, 100), 0).unwrap();
        assert!(s.do_work(1) > 0);
        assert_eq!(s.engine().finished_order_count(), 2, "both filled");
        let hash = s.engine().state_hash();
        // Busy cycles fold nothing; the first idle one folds both.
        assert_eq!(s.engine().finished_digest.folded, 0);
        while s.do_work(2) > 0 {}
        assert_eq!(s.engine().finished_digest.folded, 2);
        assert_eq!(s.engine().state_hash(), hash, "folding changes no hash");
    }

    #[test]
    fn replay_reports_gaps_and_bad_payloads() {
        let mut e = Engine::new(config()).unwrap();
        let frames = vec![(2u64, 0u64, vec![6u8])];
        assert_eq!(
            replay(&mut e, 1, frames),
            Err(ReplayError::Gap {
                expected: 1,
                found: 2
            })
        );
        let frames = vec![(1u64, 0u64, vec![99u8])];
        assert!(matches!(
            replay(&mut e, 1, frames),
            Err(ReplayError::Decode { seq: 1, .. })
        ));
    }

    #[test]
    fn released_through_covers_inputs_whose_outputs_are_all_out_and_durable() {
        let mut s = sequencer(MemLog::default(), true);
        let tx = s.sender();
        // Ring 0 takes nothing at all; ring 1 everything.
        let rx = s.route_outputs(vec![
            Box::new(|_: &Output| false),
            Box::new(|_: &Output| true),
        ]);
        assert_eq!(rx[0].released_through(), 0);
        tx.send(order(1, Side::Sell, 100), 0).unwrap();
        tx.send(order(2, Side::Buy, 90), 0).unwrap();
        s.do_work(1);
        assert_eq!(rx[0].released_through(), 0, "nothing is durable yet");
        s.log.durable = 1;
        s.do_work(2);
        assert_eq!(
            rx[0].released_through(),
            1,
            "input 1 is out, input 2 is not durable"
        );
        assert!(
            rx[0].is_empty(),
            "the quiet ring still learns how far it is up to date"
        );
        s.log.durable = 2;
        s.do_work(3);
        assert_eq!(rx[1].released_through(), 2);
        // A full ring holds it back: outputs of an input not yet all on the
        // rings are not released.
        let cfg = SequencerConfig {
            inbound_capacity: 16,
            outbound_capacity: 1,
            batch_max: 16,
            gate_on_durable: false,
            tick_interval_ns: 0,
            checkpoint_every_inputs: 0,
            pending_max: 1_000,
        };
        let mut s = Sequencer::new(Engine::new(config()).unwrap(), MemLog::default(), cfg, 0);
        let (tx, rx) = (s.sender(), s.receiver());
        tx.send(order(1, Side::Sell, 100), 0).unwrap();
        tx.send(order(2, Side::Sell, 101), 0).unwrap();
        s.do_work(1);
        let through = rx.released_through();
        assert!(through < 2, "input 2's events are still pending: {through}");
        while rx.try_recv().is_some() {
            s.do_work(2);
        }
        s.do_work(3);
        assert_eq!(rx.released_through(), 2);
    }

    #[test]
    fn routed_rings_each_get_their_outputs_in_order_and_a_full_one_holds_back() {
        let mut s = sequencer(MemLog::default(), false);
        let tx = s.sender();
        // Ring 0: participant 1's reports; ring 1: public trades.
        let rx = s.route_outputs(vec![
            Box::new(|o: &Output| {
                matches!(o, Output::Event { event: Event::Exec(x), .. } if x.participant == ParticipantId(1))
            }),
            Box::new(|o: &Output| matches!(o, Output::Event { event: Event::Trade(_), .. })),
        ]);
        // o2 (participant 1) rests; o1 (participant 2) crosses it.
        tx.send(order(2, Side::Sell, 100), 0).unwrap();
        tx.send(order(1, Side::Buy, 100), 0).unwrap();
        s.do_work(1);
        let mine = drain(&rx[0]);
        let trades = drain(&rx[1]);
        assert!(!mine.is_empty() && !trades.is_empty());
        assert!(mine.iter().all(|o| matches!(o, Output::Event { event: Event::Exec(x), .. } if x.participant == ParticipantId(1))));
        assert!(trades.iter().all(|o| matches!(
            o,
            Output::Event {
                event: Event::Trade(_),
                ..
            }
        )));
        let seqs: Vec<u64> = mine
            .iter()
            .map(|o| match o {
                Output::Event { seq, .. } => *seq,
                Output::Refused { .. } => 0,
            })
            .collect();
        assert!(seqs.windows(2).all(|w| w[0] <= w[1]), "in order: {seqs:?}");

        // A full ring holds its outputs back; the other ring's are neither
        // lost nor sent twice. Rings of two slots, so they fill.
        let cfg = SequencerConfig {
            inbound_capacity: 16,
            outbound_capacity: 2,
            batch_max: 16,
            gate_on_durable: false,
            tick_interval_ns: 0,
            checkpoint_every_inputs: 0,
            pending_max: 1_000,
        };
        let mut s = Sequencer::new(Engine::new(config()).unwrap(), MemLog::default(), cfg, 0);
        let tx = s.sender();
        let rx = s.route_outputs(vec![
            Box::new(|_: &Output| true),
            Box::new(|o: &Output| {
                matches!(
                    o,
                    Output::Event {
                        event: Event::Exec(_),
                        ..
                    }
                )
            }),
        ]);
        for n in 0..8 {
            tx.send(order(n, Side::Sell, 100 + i64::from(n)), 0)
                .unwrap();
        }
        let mut all = Vec::new();
        let mut execs = Vec::new();
        for _ in 0..50 {
            s.do_work(1);
            // Ring 1 is drained slowly: one output per cycle.
            if let Some(o) = rx[1].try_recv() {
                execs.push(o);
            }
            all.extend(drain(&rx[0]));
        }
        execs.extend(drain(&rx[1]));
        let execs_in_all: Vec<&Output> = all
            .iter()
            .filter(|o| {
                matches!(
                    o,
                    Output::Event {
                        event: Event::Exec(_),
                        ..
                    }
                )
            })
            .collect();
        assert_eq!(
            execs.len(),
            execs_in_all.len(),
            "every report reached both rings once"
        );
        assert!(
            execs.iter().zip(execs_in_all).all(|(a, b)| a == b),
            "same order"
        );
    }
}
