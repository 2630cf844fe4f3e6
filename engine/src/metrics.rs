//! The matching loop's figures, for the metrics endpoint.
//!
//! [`LoopMetrics`] is owned by the sequencer: only the matching thread writes
//! its counters, with a relaxed load and a relaxed store (no read-modify-write
//! instruction, no fence), so counting costs a few plain moves on a cache line
//! the matching thread already holds. Any thread may read them through the
//! `Arc` that [`crate::sequencer::Sequencer::metrics`] hands out, and
//! [`LoopMetrics::snapshot`] copies them all at once for a renderer. The one
//! exception is the "busy" refusal count, which producers raise from their own
//! threads (with `fetch_add`, on a cache line of its own so that it never
//! contends with the matching thread's lines).
//!
//! What is counted where:
//! - inputs by [`InputKind`], when an input has been journaled and applied;
//! - rejects by (input kind, stable reject code), from the events the input
//!   caused: a rejected execution report, a cancel reject, a refused mass
//!   cancel. Codes index an array of [`REJECT_CODES`] entries, so reasons
//!   appended to [`RejectReason`] are counted without a change here; a code
//!   beyond the array is counted under code 0;
//! - refusals: inputs never applied (the inbound ring stayed full, or the
//!   journal failed);
//! - the journal's appended and durable sequence numbers and the events held
//!   back, published once per duty cycle;
//! - matching latency: the time to journal and apply one input, in fixed
//!   buckets, for every [`LATENCY_SAMPLE_EVERY`]th input and for any input
//!   [`LATENCY_SAMPLE_INTERVAL_NS`] or more after the previous sample. Two
//!   clock reads (about 50 ns) are a few percent of an input's cost when the
//!   loop is busy, so a busy loop times one input in sixteen; a quiet loop
//!   times nearly every input, which costs it nothing that matters, so the
//!   histogram is not empty on a quiet venue.
//!
//! Ring occupancy is not counted by the matching thread at all: the rings are
//! lock-free queues whose length any thread may read, so a snapshot reads it.
//!
//! Limitations: a snapshot is not atomic across counters (each is read once,
//! relaxed; a reject may show before its input's count). The latency clock is
//! the caller's (the engine crate reads no clock): without one, no latency is
//! recorded.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::event::{Event, ExecType, Reason};
use crate::input::Input;
use crate::reason::RejectReason;
use crate::ring::RingGauge;

/// Entries in the reject-by-code array: the reject codes in use (1 to 24)
/// with room for reasons appended later. Code 0 collects codes beyond it.
pub const REJECT_CODES: usize = 64;

/// Upper bounds of the matching latency buckets, in nanoseconds (a 1-2.5-5
/// series from 250 ns to 100 ms); one more bucket takes everything above.
pub const LATENCY_BOUNDS_NS: [u64; 18] = [
    250,
    500,
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
];

/// Latency buckets: one per bound, and the overflow bucket.
pub const LATENCY_BUCKETS: usize = LATENCY_BOUNDS_NS.len() + 1;

/// Every this-many-th input is timed.
pub const LATENCY_SAMPLE_EVERY: u32 = 16;

/// An input this long (in input time) after the previous sample is timed.
pub const LATENCY_SAMPLE_INTERVAL_NS: u64 = 1_000_000;

/// An input's type, as counted. Classification is [`InputKind::of`]; a new
/// kind is appended here, to [`InputKind::ALL`] and to [`InputKind::name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum InputKind {
    /// A new order.
    NewOrder = 0,
    /// A cancel request.
    Cancel = 1,
    /// A cancel/replace request.
    Replace = 2,
    /// A mass cancel request.
    MassCancel = 3,
    /// An order status request.
    OrderStatus = 4,
    /// A mass status request.
    MassStatus = 5,
    /// A clock tick (the sequencer's own).
    ClockTick = 6,
    /// A state-hash checkpoint (the sequencer's own).
    Checkpoint = 7,
    /// An operator's action.
    Admin = 8,
    /// Anything not named above.
    Other = 9,
}

impl InputKind {
    /// Every kind, in index order.
    pub const ALL: [InputKind; 10] = [
        InputKind::NewOrder,
        InputKind::Cancel,
        InputKind::Replace,
        InputKind::MassCancel,
        InputKind::OrderStatus,
        InputKind::MassStatus,
        InputKind::ClockTick,
        InputKind::Checkpoint,
        InputKind::Admin,
        InputKind::Other,
    ];

    /// How many kinds there are.
    pub const COUNT: usize = InputKind::ALL.len();

    /// The kind of `input`. Variants not named here count as
    /// [`InputKind::Other`].
    #[must_use]
    #[inline]
    #[allow(
        unreachable_patterns,
        reason = "the fallback takes input variants added later until they are named here"
    )]
    pub fn of(input: &Input) -> InputKind {
        match input {
            Input::NewOrder(_) => InputKind::NewOrder,
            Input::Cancel(_) => InputKind::Cancel,
            Input::Replace(_) => InputKind::Replace,
            Input::MassCancel(_) => InputKind::MassCancel,
            Input::OrderStatus(_) => InputKind::OrderStatus,
            Input::MassStatus(_) => InputKind::MassStatus,
            Input::ClockTick => InputKind::ClockTick,
            Input::Checkpoint { .. } => InputKind::Checkpoint,
            Input::Admin(_) => InputKind::Admin,
            _ => InputKind::Other,
        }
    }

    /// The label value: snake case, stable.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            InputKind::NewOrder => "new_order",
            InputKind::Cancel => "cancel",
            InputKind::Replace => "replace",
            InputKind::MassCancel => "mass_cancel",
            InputKind::OrderStatus => "order_status",
            InputKind::MassStatus => "mass_status",
            InputKind::ClockTick => "clock_tick",
            InputKind::Checkpoint => "checkpoint",
            InputKind::Admin => "admin",
            InputKind::Other => "other",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The reject code an event carries, if it answers an input with a reject:
/// a rejected execution report (code 0 if it has no reject reason), a cancel
/// reject, or a refused mass cancel.
#[must_use]
#[inline]
pub fn reject_code(event: &Event) -> Option<u16> {
    match event {
        Event::Exec(x) if x.exec_type == ExecType::Rejected => Some(match x.reason {
            Reason::Reject(r) => r.code(),
            Reason::None | Reason::Cancel(_) => 0,
        }),
        Event::CancelReject(c) => Some(c.reason.code()),
        Event::MassCancelReport(m) => m.reject.map(RejectReason::code),
        Event::AdminReport(a) => a.reject.map(RejectReason::code),
        Event::Exec(_) | Event::BookLevel(_) | Event::Trade(_) | Event::InstrumentStatus(_) => None,
    }
}

/// A counter on a cache line of its own.
#[repr(align(128))]
#[derive(Default)]
struct Padded(AtomicU64);

/// Adds one to a counter that only the calling thread writes.
#[inline]
fn bump(counter: &AtomicU64) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(1),
        Ordering::Relaxed,
    );
}

/// The rings, for their occupancy.
struct Rings {
    inbound: RingGauge,
    outbound: Vec<RingGauge>,
}

/// See the module docs.
pub struct LoopMetrics {
    inputs: [AtomicU64; InputKind::COUNT],
    rejects: [[AtomicU64; REJECT_CODES]; InputKind::COUNT],
    refused_journal_failed: AtomicU64,
    appended_seq: AtomicU64,
    durable_seq: AtomicU64,
    pending_events: AtomicU64,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS],
    latency_sum_ns: AtomicU64,
    /// Raised by producers (any thread).
    refused_busy: Padded,
    /// Set up before the loop runs; never locked by the matching thread
    /// afterwards.
    rings: Mutex<Rings>,
}

impl fmt::Debug for LoopMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopMetrics")
            .field("appended_seq", &self.appended_seq.load(Ordering::Relaxed))
            .field("durable_seq", &self.durable_seq.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A ring's fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingOccupancy {
    /// Slots in use.
    pub len: usize,
    /// Slots in all.
    pub capacity: usize,
}

impl RingOccupancy {
    fn of(ring: &RingGauge) -> RingOccupancy {
        RingOccupancy {
            len: ring.len(),
            capacity: ring.capacity(),
        }
    }

    /// `len / capacity`, 0.0 to 1.0.
    #[must_use]
    pub fn ratio(self) -> f64 {
        if self.capacity == 0 {
            return 0.0;
        }
        self.len as f64 / self.capacity as f64
    }
}

/// The matching latency distribution: per-bucket counts (not cumulative), by
/// [`LATENCY_BOUNDS_NS`], the last bucket above them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LatencySnapshot {
    /// Samples per bucket.
    pub buckets: [u64; LATENCY_BUCKETS],
    /// Sum of the samples, in nanoseconds.
    pub sum_ns: u64,
}

impl LatencySnapshot {
    /// Samples in all.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

/// Every figure, copied at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct LoopSnapshot {
    /// Inputs journaled and applied, by kind, in [`InputKind::ALL`] order.
    pub inputs: Vec<(InputKind, u64)>,
    /// Rejects by the kind of input rejected and the stable reject code
    /// (0: a code beyond [`REJECT_CODES`], or a reject without a reason);
    /// only those seen at least once.
    pub rejects: Vec<(InputKind, u16, u64)>,
    /// Inputs handed back to their producer because the inbound ring stayed
    /// full.
    pub refused_busy: u64,
    /// Inputs refused because the journal had failed.
    pub refused_journal_failed: u64,
    /// The journal's last sequence number.
    pub appended_seq: u64,
    /// The journal's durable sequence number.
    pub durable_seq: u64,
    /// Events applied but not yet released to the outbound rings.
    pub pending_events: u64,
    /// The inbound ring.
    pub inbound: RingOccupancy,
    /// The outbound rings, in route order.
    pub outbound: Vec<RingOccupancy>,
    /// Matching latency.
    pub latency: LatencySnapshot,
}

impl LoopMetrics {
    pub(crate) fn new(inbound: RingGauge, outbound: Vec<RingGauge>) -> LoopMetrics {
        LoopMetrics {
            inputs: std::array::from_fn(|_| AtomicU64::new(0)),
            rejects: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            refused_journal_failed: AtomicU64::new(0),
            appended_seq: AtomicU64::new(0),
            durable_seq: AtomicU64::new(0),
            pending_events: AtomicU64::new(0),
            latency_buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            latency_sum_ns: AtomicU64::new(0),
            refused_busy: Padded::default(),
            rings: Mutex::new(Rings { inbound, outbound }),
        }
    }

    pub(crate) fn set_outbound(&self, outbound: Vec<RingGauge>) {
        self.rings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .outbound = outbound;
    }

    /// Matching thread only.
    #[inline]
    pub(crate) fn record_input(&self, kind: InputKind) {
        bump(&self.inputs[kind.index()]);
    }

    /// Matching thread only.
    #[inline]
    pub(crate) fn record_reject(&self, kind: InputKind, code: u16) {
        let slot = usize::from(code);
        let slot = if slot < REJECT_CODES { slot } else { 0 };
        bump(&self.rejects[kind.index()][slot]);
    }

    /// Matching thread only.
    pub(crate) fn record_journal_failed(&self) {
        bump(&self.refused_journal_failed);
    }

    /// Any thread.
    pub(crate) fn record_busy(&self) {
        self.refused_busy.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Matching thread only.
    #[inline]
    pub(crate) fn record_latency(&self, ns: u64) {
        let bucket = LATENCY_BOUNDS_NS
            .iter()
            .position(|&bound| ns <= bound)
            .unwrap_or(LATENCY_BOUNDS_NS.len());
        bump(&self.latency_buckets[bucket]);
        self.latency_sum_ns.store(
            self.latency_sum_ns.load(Ordering::Relaxed).wrapping_add(ns),
            Ordering::Relaxed,
        );
    }

    /// Matching thread only; once per duty cycle.
    #[inline]
    pub(crate) fn publish_positions(&self, appended_seq: u64, durable_seq: u64, pending: usize) {
        debug_assert!(
            durable_seq <= appended_seq,
            "durable {durable_seq} beyond appended {appended_seq}"
        );
        self.appended_seq.store(appended_seq, Ordering::Relaxed);
        self.durable_seq.store(durable_seq, Ordering::Relaxed);
        self.pending_events.store(pending as u64, Ordering::Relaxed);
    }

    /// Copies every figure (from any thread).
    #[must_use]
    pub fn snapshot(&self) -> LoopSnapshot {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let inputs = InputKind::ALL
            .iter()
            .map(|&k| (k, load(&self.inputs[k.index()])))
            .collect();
        let mut rejects = Vec::new();
        for kind in InputKind::ALL {
            for (code, counter) in self.rejects[kind.index()].iter().enumerate() {
                let n = load(counter);
                if n > 0 {
                    rejects.push((kind, code as u16, n));
                }
            }
        }
        let (inbound, outbound) = {
            let rings = self.rings.lock().unwrap_or_else(PoisonError::into_inner);
            (
                RingOccupancy::of(&rings.inbound),
                rings.outbound.iter().map(RingOccupancy::of).collect(),
            )
        };
        LoopSnapshot {
            inputs,
            rejects,
            refused_busy: load(&self.refused_busy.0),
            refused_journal_failed: load(&self.refused_journal_failed),
            appended_seq: load(&self.appended_seq),
            durable_seq: load(&self.durable_seq),
            pending_events: load(&self.pending_events),
            inbound,
            outbound,
            latency: LatencySnapshot {
                buckets: std::array::from_fn(|i| load(&self.latency_buckets[i])),
                sum_ns: load(&self.latency_sum_ns),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> LoopMetrics {
        LoopMetrics::new(
            crate::inbound::ring::<u8>(4).0.gauge(),
            vec![crate::ring::ring::<crate::sequencer::Output>(8).0.gauge()],
        )
    }

    #[test]
    fn latency_lands_in_the_first_bucket_at_or_above_it() {
        let m = metrics();
        for ns in [0, 250, 251, 1_000_000, 100_000_001] {
            m.record_latency(ns);
        }
        let l = m.snapshot().latency;
        assert_eq!(l.buckets[0], 2, "0 and 250 are at or below 250 ns");
        assert_eq!(l.buckets[1], 1, "251 is in (250, 500]");
        assert_eq!(l.buckets[11], 1, "1 ms is its own bound");
        assert_eq!(l.buckets[LATENCY_BUCKETS - 1], 1, "above every bound");
        assert_eq!(l.count(), 5);
        assert_eq!(l.sum_ns, 250 + 251 + 1_000_000 + 100_000_001);
    }

    #[test]
    fn reject_codes_beyond_the_array_count_under_zero() {
        let m = metrics();
        m.record_reject(InputKind::NewOrder, 9);
        m.record_reject(InputKind::NewOrder, 9);
        m.record_reject(InputKind::Cancel, 63);
        m.record_reject(InputKind::Cancel, 64);
        assert_eq!(
            m.snapshot().rejects,
            vec![
                (InputKind::NewOrder, 9, 2),
                (InputKind::Cancel, 0, 1),
                (InputKind::Cancel, 63, 1)
            ]
        );
    }

    #[test]
    fn kinds_index_their_own_slots_and_have_distinct_names() {
        for (i, k) in InputKind::ALL.into_iter().enumerate() {
            assert_eq!(k.index(), i, "{k:?} out of order");
        }
        let mut names: Vec<_> = InputKind::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), InputKind::COUNT);
        assert!(REJECT_CODES > RejectReason::ALL.len(), "room to append");
    }
}
