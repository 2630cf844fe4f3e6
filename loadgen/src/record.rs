//! What a run measures and what it saw: the vocabulary shared by the
//! runner (which fills it in), the report (which prints, saves and plots
//! [`Results`]) and the reconciliation (which checks [`Observed`] against
//! the venue's journal).
//!
//! Latencies are in nanoseconds, each measured from the request's
//! *intended* send time (its slot in the schedule), not from when it was
//! actually written: if loadgen or the venue stalls, every request
//! scheduled during the stall carries the stall in its latency (the
//! coordinated-omission correction).

use std::collections::BTreeMap;

use engine::event::{ExecType, OrdStatus};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// The highest latency a histogram records: one hour, in nanoseconds
/// (anything slower is clamped to it and still counted).
pub const LATENCY_MAX_NS: u64 = 3_600_000_000_000;

/// A new latency histogram: nanoseconds, 3 significant digits.
#[must_use]
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_NS, 3).expect("valid histogram bounds")
}

/// What a latency measures, from the request's intended send time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// A new order to its first execution report (accepted, filled,
    /// cancelled at once, or rejected).
    OrderAck,
    /// A new order that was meant to take liquidity (market, IOC, FOK or a
    /// marketable limit) to its first fill, when it filled on arrival (a
    /// marketable order that found nothing to take and rested is not
    /// counted: its fill waits for someone else).
    FirstFill,
    /// A cancel request to its confirmation (Canceled) or its CancelReject.
    CancelAck,
    /// A cancel/replace request to its confirmation (Replaced) or its
    /// CancelReject.
    ReplaceAck,
    /// A status request to its answer.
    StatusAck,
}

impl Metric {
    /// Every metric, in report order.
    pub const ALL: [Metric; 5] = [
        Metric::OrderAck,
        Metric::FirstFill,
        Metric::CancelAck,
        Metric::ReplaceAck,
        Metric::StatusAck,
    ];

    /// Its name in files and JSON (`order_ack`, ...).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Metric::OrderAck => "order_ack",
            Metric::FirstFill => "first_fill",
            Metric::CancelAck => "cancel_ack",
            Metric::ReplaceAck => "replace_ack",
            Metric::StatusAck => "status_ack",
        }
    }

    /// A short human description, for the summary.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Metric::OrderAck => "order to acknowledgement",
            Metric::FirstFill => "order to first fill",
            Metric::CancelAck => "cancel to confirmation",
            Metric::ReplaceAck => "replace to confirmation",
            Metric::StatusAck => "status request to answer",
        }
    }
}

/// One second of the run (from the start of sending, warm-up included), so
/// that a stall is visible.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Second {
    /// Seconds since the first send.
    pub second: u64,
    /// Requests sent in this second.
    pub sent: u64,
    /// Requests answered in this second (the first answer to each).
    pub answered: u64,
    /// Fills received in this second.
    pub fills: u64,
    /// Rejects received in this second.
    pub rejects: u64,
}

/// Everything one run measured: what the report prints, saves and plots.
#[derive(Clone, Debug)]
pub struct Results {
    /// The scenario's name.
    pub scenario: String,
    /// A label for this run in charts that overlay several runs.
    pub label: String,
    /// `fix` or `in-process`.
    pub transport: String,
    /// When sending started, RFC 3339 UTC.
    pub started_utc: String,
    /// The target rate at full speed, requests per second.
    pub target_rate: f64,
    /// Ramp-up, in seconds (the rate climbs linearly to the target).
    pub ramp_up_s: f64,
    /// Warm-up, in seconds from the start (excluded from latencies).
    pub warmup_s: f64,
    /// Configured length of the run, in seconds, warm-up included.
    pub duration_s: f64,
    /// Length of the measured window actually run, in seconds (shorter than
    /// `duration_s - warmup_s` when the run stopped early).
    pub measured_s: f64,
    /// Requests sent in the measured window.
    pub sent_measured: u64,
    /// Requests sent in all (warm-up included).
    pub sent_total: u64,
    /// `sent_measured / measured_s`.
    pub achieved_rate: f64,
    /// Latency histograms (nanoseconds) of requests sent in the measured
    /// window, by metric; a metric with no sample has no entry.
    pub histograms: BTreeMap<Metric, Histogram<u64>>,
    /// Per-second counts over the whole run.
    pub per_second: Vec<Second>,
    /// Rejects by reason text, over the whole run.
    pub rejects: BTreeMap<String, u64>,
    /// Errors, in the order they happened (a refused logon, a broken
    /// connection, a venue that does not answer...).
    pub errors: Vec<String>,
    /// Connections lost during the run.
    pub disconnects: u64,
    /// Requests still without an answer when the run ended.
    pub unanswered: u64,
    /// False when the run stopped early: the results are partial.
    pub complete: bool,
}

/// A new order as loadgen sent it (for the reconciliation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentOrder {
    /// The engine's id of the participant that sent it.
    pub participant: u32,
    /// Its ClOrdID.
    pub cl_ord_id: String,
}

/// An execution report as loadgen received it, in the engine's units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenReport {
    /// The participant it was sent to.
    pub participant: u32,
    /// ClOrdID(11) (the order's current one).
    pub cl_ord_id: String,
    /// OrigClOrdID(41), empty when absent.
    pub orig_cl_ord_id: String,
    /// OrderID(37); 0 when `NONE`.
    pub order_id: u64,
    /// ExecID(17), `SEQ-IDX`.
    pub exec_id: String,
    /// ExecType(150).
    pub exec_type: ExecType,
    /// OrdStatus(39).
    pub ord_status: OrdStatus,
    /// LastQty(32) in lots (0 unless a fill).
    pub last_qty_lots: u64,
    /// LastPx(31) in ticks (0 unless a fill).
    pub last_px_ticks: i64,
    /// LeavesQty(151) in lots.
    pub leaves_qty_lots: u64,
    /// CumQty(14) in lots.
    pub cum_qty_lots: u64,
}

/// An OrderCancelReject(9) as loadgen received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenCancelReject {
    /// The participant it was sent to.
    pub participant: u32,
    /// ClOrdID(11) of the cancel or replace request.
    pub cl_ord_id: String,
    /// OrigClOrdID(41).
    pub orig_cl_ord_id: String,
}

/// What loadgen sent and saw, for `--verify`.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// Every ClOrdID loadgen used in this run starts with this.
    pub cl_ord_id_prefix: String,
    /// The participants loadgen drove (engine ids).
    pub participants: Vec<u32>,
    /// Every new order sent, in send order.
    pub orders: Vec<SentOrder>,
    /// Every execution report received, in arrival order (per connection;
    /// connections interleave).
    pub reports: Vec<SeenReport>,
    /// Every cancel reject received.
    pub cancel_rejects: Vec<SeenCancelReject>,
}
