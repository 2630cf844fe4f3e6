//! The metrics endpoint's text: every figure of a running venue rendered in
//! the OpenMetrics text format (which Prometheus scrapes; serve it with
//! [`CONTENT_TYPE`]), through the `prometheus-client` crate's encoder.
//!
//! The figures live where they are made, as atomics that their owners
//! write and anyone may read: the matching loop's in
//! [`engine::metrics::LoopMetrics`] (relaxed stores only, on the matching
//! thread), each FIX session's in [`SessionMetrics`] (refreshed by the FIX
//! thread each millisecond), the WebSocket gateway's in [`WsMetrics`].
//! [`MetricsSources`] gathers handles to them; [`render`] reads each figure
//! once, registers the copy as a collector in a fresh registry and encodes
//! it, so a scrape costs the venue's own threads nothing.
//!
//! Rate-limit quota warnings: [`QuotaWatch`] remembers, per FIX session,
//! whether its quota use has passed the configured threshold
//! (`[metrics] quota_warning_threshold`, default 0.70). It logs one line when
//! a session passes it and one when the session is back under (with a margin
//! of five points, so a session hovering at the threshold does not log every
//! check), and the gauge `venue_rate_limit_quota_warning` says the state. A
//! crossing between two checks is still seen: the session's peak use (which
//! only grows) tells that the quota was used that far since the last check.
//! [`spawn_quota_watch`] checks every second; each render checks too.
//!
//! Known limitations: the WebSocket gateway's rate limiter delays instead of
//! refusing and keeps no quota figure, so quota use is reported for FIX
//! sessions only. The figures are not read atomically together: a reject may
//! show a scrape before its input is counted.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use engine::metrics::{InputKind, LATENCY_BOUNDS_NS, LoopMetrics, LoopSnapshot};
use engine::{ParticipantId, RejectReason};
use gateway::fix::config::SessionConfig;
use gateway::fix::metrics::SessionMetrics;
use gateway::ws::hub::WsMetrics;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

/// The HTTP `Content-Type` of [`render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The quota use, as a fraction, past which a session is warned about.
pub const QUOTA_WARNING_THRESHOLD_DEFAULT: f64 = 0.70;

/// How far under the threshold a session's use must fall to clear its
/// warning.
const QUOTA_WARNING_MARGIN: f64 = 0.05;

/// How often [`spawn_quota_watch`] checks.
const QUOTA_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// One FIX session's figures and who it is.
#[derive(Clone, Debug)]
pub struct FixSessionSource {
    /// The session's name (`SenderCompID-TargetCompID` as the venue sees it).
    pub name: String,
    /// The participant it trades for.
    pub participant: ParticipantId,
    /// Its figures.
    pub metrics: Arc<SessionMetrics>,
}

impl FixSessionSource {
    /// Pairs each session's figures (by name, as the FIX gateway lists them)
    /// with its participant from the configuration; a name the
    /// configuration does not have is left out.
    #[must_use]
    pub fn from_gateway(
        metrics: &[(String, Arc<SessionMetrics>)],
        sessions: &[SessionConfig],
    ) -> Vec<FixSessionSource> {
        metrics
            .iter()
            .filter_map(|(name, m)| {
                let config = sessions.iter().find(|s| s.name() == *name)?;
                Some(FixSessionSource {
                    name: name.clone(),
                    participant: config.participant,
                    metrics: Arc::clone(m),
                })
            })
            .collect()
    }
}

/// Everything [`render`] reads.
#[derive(Clone, Debug)]
pub struct MetricsSources {
    /// The matching loop's figures.
    pub loop_metrics: Arc<LoopMetrics>,
    /// The outbound rings' names, in route order (`fix`, `websocket`); a
    /// ring without one is named by its index.
    pub outbound_ring_names: Vec<String>,
    /// The FIX sessions.
    pub fix_sessions: Vec<FixSessionSource>,
    /// The WebSocket gateway's figures.
    pub ws: Arc<WsMetrics>,
    /// The quota warnings (shared with the periodic check).
    pub quota: Arc<Mutex<QuotaWatch>>,
}

impl MetricsSources {
    /// Sources with a fresh [`QuotaWatch`] over `fix_sessions`.
    #[must_use]
    pub fn new(
        loop_metrics: Arc<LoopMetrics>,
        outbound_ring_names: Vec<String>,
        fix_sessions: Vec<FixSessionSource>,
        ws: Arc<WsMetrics>,
        quota_warning_threshold: f64,
    ) -> MetricsSources {
        let quota = QuotaWatch::new(quota_warning_threshold, &fix_sessions);
        MetricsSources {
            loop_metrics,
            outbound_ring_names,
            fix_sessions,
            ws,
            quota: Arc::new(Mutex::new(quota)),
        }
    }
}

/// One session as the quota watch follows it.
#[derive(Debug)]
struct Watched {
    source: FixSessionSource,
    /// The peak use seen at the previous check.
    last_peak_permille: u32,
    warning: bool,
}

/// Per-session quota warnings with memory, so that each crossing is logged
/// once (see the module docs).
#[derive(Debug)]
pub struct QuotaWatch {
    threshold: f64,
    sessions: Vec<Watched>,
}

impl QuotaWatch {
    /// Watches `sessions` against `threshold` (a fraction in (0, 1]).
    ///
    /// # Panics
    /// If `threshold` is outside (0, 1] (the configuration checks it).
    #[must_use]
    pub fn new(threshold: f64, sessions: &[FixSessionSource]) -> QuotaWatch {
        assert!(threshold > 0.0, "threshold {threshold} must be positive");
        assert!(threshold <= 1.0, "threshold {threshold} must be at most 1");
        QuotaWatch {
            threshold,
            sessions: sessions
                .iter()
                .map(|s| Watched {
                    source: s.clone(),
                    last_peak_permille: 0,
                    warning: false,
                })
                .collect(),
        }
    }

    /// The threshold, as a fraction.
    #[must_use]
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Reads every session's quota use, updates the warnings and logs each
    /// change (to stderr); returns the lines logged.
    pub fn check(&mut self) -> Vec<String> {
        let on = self.threshold * 1000.0;
        let off = (self.threshold - QUOTA_WARNING_MARGIN) * 1000.0;
        let mut lines = Vec::new();
        for w in &mut self.sessions {
            let m = &w.source.metrics;
            let used = m.quota_used_permille.load(Ordering::Relaxed);
            let peak = m.quota_peak_permille.load(Ordering::Relaxed);
            // A peak that moved to at or above the threshold was reached
            // since the previous check, even if use is low again now.
            let peaked = peak != w.last_peak_permille && f64::from(peak) >= on;
            w.last_peak_permille = peak;
            let passed = f64::from(used) >= on || peaked;
            let line = if !w.warning && passed {
                w.warning = true;
                format!(
                    "warning: FIX session {} (participant {}) passed {:.0}% of its rate-limit \
                     quota: {:.1}% in use, peak {:.1}%",
                    w.source.name,
                    w.source.participant.0,
                    self.threshold * 100.0,
                    f64::from(used) / 10.0,
                    f64::from(peak) / 10.0
                )
            } else if w.warning && !passed && f64::from(used) < off {
                w.warning = false;
                format!(
                    "FIX session {} (participant {}) is back under {:.0}% of its rate-limit \
                     quota: {:.1}% in use",
                    w.source.name,
                    w.source.participant.0,
                    self.threshold * 100.0,
                    f64::from(used) / 10.0
                )
            } else {
                continue;
            };
            eprintln!("{line}");
            lines.push(line);
        }
        lines
    }

    /// Each session's name, participant and whether it is warned about.
    #[must_use]
    pub fn warnings(&self) -> Vec<(String, ParticipantId, bool)> {
        self.sessions
            .iter()
            .map(|w| (w.source.name.clone(), w.source.participant, w.warning))
            .collect()
    }
}

/// Checks `quota` every second on a thread named `venue-metrics` until
/// `stop` is set.
///
/// # Errors
/// The thread could not be spawned.
pub fn spawn_quota_watch(
    quota: Arc<Mutex<QuotaWatch>>,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("venue-metrics".to_owned())
        .spawn(move || {
            let mut next = Instant::now();
            while !stop.load(Ordering::Acquire) {
                if Instant::now() >= next {
                    quota.lock().unwrap_or_else(PoisonError::into_inner).check();
                    next += QUOTA_CHECK_INTERVAL;
                }
                // Short sleeps, so that a stop is seen quickly.
                std::thread::sleep(Duration::from_millis(100));
            }
        })
        .context("cannot spawn the metrics thread")
}

/// Renders every figure as OpenMetrics text (see the module docs), after a
/// quota check.
#[must_use]
pub fn render(sources: &MetricsSources) -> String {
    let figures = Figures::read(sources);
    let mut registry = Registry::with_prefix("venue");
    registry.register_collector(Box::new(figures));
    let mut text = String::with_capacity(16 << 10);
    // Writing to a String cannot fail, and the collector only passes the
    // encoder's own results on.
    prometheus_client::encoding::text::encode(&mut text, &registry)
        .expect("encoding into a String cannot fail");
    text
}

/// A reject reason's label: its name in snake case (`price_outside_collar`);
/// `unknown` for code 0, `code_N` for a code this build does not know.
#[must_use]
pub fn reject_reason_label(code: u16) -> String {
    if code == 0 {
        return "unknown".to_owned();
    }
    let Some(reason) = RejectReason::from_code(code) else {
        return format!("code_{code}");
    };
    let camel = format!("{reason:?}");
    let mut snake = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                snake.push('_');
            }
            snake.push(c.to_ascii_lowercase());
        } else {
            snake.push(c);
        }
    }
    snake
}

type Labels = Vec<(&'static str, String)>;

/// A sample's value.
#[derive(Clone, Copy, Debug)]
enum Value {
    Counter(u64),
    Gauge(u64),
    Ratio(f64),
}

/// One metric family, ready to encode.
#[derive(Debug)]
struct Family {
    name: &'static str,
    help: &'static str,
    unit: Option<Unit>,
    metric_type: MetricType,
    series: Vec<(Labels, Value)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str, metric_type: MetricType) -> Family {
        Family {
            name,
            help,
            unit: None,
            metric_type,
            series: Vec::new(),
        }
    }

    fn ratio(name: &'static str, help: &'static str) -> Family {
        Family {
            unit: Some(Unit::Other("ratio".to_owned())),
            ..Family::new(name, help, MetricType::Gauge)
        }
    }

    fn with(mut self, labels: Labels, value: Value) -> Family {
        self.series.push((labels, value));
        self
    }

    fn encode(&self, encoder: &mut DescriptorEncoder<'_>) -> fmt::Result {
        let mut metric = encoder.encode_descriptor(
            self.name,
            self.help,
            self.unit.as_ref(),
            self.metric_type,
        )?;
        for (labels, value) in &self.series {
            if labels.is_empty() {
                encode_value(&mut metric, *value)?;
            } else {
                encode_value(&mut metric.encode_family(labels)?, *value)?;
            }
        }
        Ok(())
    }
}

fn encode_value(metric: &mut MetricEncoder<'_>, value: Value) -> fmt::Result {
    match value {
        Value::Counter(n) => metric.encode_counter::<NoLabelSet, u64, u64>(&n, None),
        Value::Gauge(n) => metric.encode_gauge(&n),
        Value::Ratio(x) => metric.encode_gauge(&x),
    }
}

/// Every figure, read once: the collector a render registers.
#[derive(Debug)]
struct Figures {
    families: Vec<Family>,
    /// The matching latency: (upper bound in seconds, count in that bucket),
    /// the sum in seconds.
    latency: (Vec<(f64, u64)>, f64),
}

impl Collector for Figures {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let (loop_families, rest) = self.families.split_at(LOOP_FAMILIES);
        for f in loop_families {
            f.encode(&mut encoder)?;
        }
        let (buckets, sum) = &self.latency;
        let count = buckets.iter().map(|b| b.1).sum();
        encoder
            .encode_descriptor(
                "matching_latency",
                "Time the matching loop takes to journal and apply one input; sampled: every \
                 16th input, and any input 1 ms or more after the previous sample.",
                Some(&Unit::Seconds),
                MetricType::Histogram,
            )?
            .encode_histogram::<NoLabelSet>(*sum, count, buckets, None)?;
        for f in rest {
            f.encode(&mut encoder)?;
        }
        Ok(())
    }
}

/// The families from the loop, rendered before the latency histogram.
const LOOP_FAMILIES: usize = 8;

impl Figures {
    fn read(sources: &MetricsSources) -> Figures {
        let l = sources.loop_metrics.snapshot();
        let mut families = loop_families(&l, &sources.outbound_ring_names);
        debug_assert_eq!(families.len(), LOOP_FAMILIES);
        let mut latency: Vec<(f64, u64)> = LATENCY_BOUNDS_NS
            .iter()
            .zip(l.latency.buckets)
            .map(|(&bound, n)| (bound as f64 / 1e9, n))
            .collect();
        latency.push((f64::INFINITY, l.latency.buckets[LATENCY_BOUNDS_NS.len()]));
        let latency_sum = l.latency.sum_ns as f64 / 1e9;

        let (threshold, warnings) = {
            let mut quota = sources.quota.lock().unwrap_or_else(PoisonError::into_inner);
            quota.check();
            (quota.threshold(), quota.warnings())
        };
        families.extend(fix_families(&sources.fix_sessions, threshold, &warnings));
        families.extend(ws_families(&sources.ws));
        Figures {
            families,
            latency: (latency, latency_sum),
        }
    }
}

fn loop_families(l: &LoopSnapshot, ring_names: &[String]) -> Vec<Family> {
    let mut inputs = Family::new(
        "inputs",
        "Inputs journaled and applied by the matching loop, by type.",
        MetricType::Counter,
    );
    for &(kind, n) in &l.inputs {
        inputs = inputs.with(vec![("type", kind.name().to_owned())], Value::Counter(n));
    }
    let mut rejects = Family::new(
        "rejects",
        "Inputs the engine rejected, by input type and reject reason (a series appears at its \
         first reject).",
        MetricType::Counter,
    );
    for &(kind, code, n) in &l.rejects {
        let labels = vec![
            ("input", InputKind::name(kind).to_owned()),
            ("reason", reject_reason_label(code)),
        ];
        rejects = rejects.with(labels, Value::Counter(n));
    }
    let mut rings = Family::ratio(
        "ring_occupancy",
        "Fill of a ring between the gateways and the matching loop, 0 to 1.",
    )
    .with(
        vec![("ring", "inbound".to_owned())],
        Value::Ratio(l.inbound.ratio()),
    );
    for (i, ring) in l.outbound.iter().enumerate() {
        let name = ring_names.get(i).cloned().unwrap_or_else(|| i.to_string());
        rings = rings.with(
            vec![("ring", format!("outbound_{name}"))],
            Value::Ratio(ring.ratio()),
        );
    }
    vec![
        inputs,
        rejects,
        Family::new(
            "refusals",
            "Inputs never applied: the inbound ring stayed full (busy) or the journal had failed \
             (journal_failed).",
            MetricType::Counter,
        )
        .with(
            vec![("reason", "busy".to_owned())],
            Value::Counter(l.refused_busy),
        )
        .with(
            vec![("reason", "journal_failed".to_owned())],
            Value::Counter(l.refused_journal_failed),
        ),
        Family::new(
            "journal_appended_seq",
            "Sequence number of the last input appended to the journal.",
            MetricType::Gauge,
        )
        .with(vec![], Value::Gauge(l.appended_seq)),
        Family::new(
            "journal_durable_seq",
            "Sequence number through which the journal is durable at its configured level.",
            MetricType::Gauge,
        )
        .with(vec![], Value::Gauge(l.durable_seq)),
        Family::new(
            "journal_lag_inputs",
            "Inputs appended to the journal but not yet durable (appended minus durable).",
            MetricType::Gauge,
        )
        .with(
            vec![],
            Value::Gauge(l.appended_seq.saturating_sub(l.durable_seq)),
        ),
        Family::new(
            "pending_events",
            "Events applied but held back, waiting for durability or for room on an outbound ring.",
            MetricType::Gauge,
        )
        .with(vec![], Value::Gauge(l.pending_events)),
        rings,
    ]
}

fn fix_families(
    sessions: &[FixSessionSource],
    threshold: f64,
    warnings: &[(String, ParticipantId, bool)],
) -> Vec<Family> {
    let labels = |name: &str, p: ParticipantId| -> Labels {
        vec![
            ("session", name.to_owned()),
            ("participant", p.0.to_string()),
        ]
    };
    let mut logged_on_count = 0;
    let mut logged_on = Family::new(
        "fix_session_logged_on",
        "Whether a FIX session is logged on (1) or not (0).",
        MetricType::Gauge,
    );
    let mut used = Family::ratio(
        "rate_limit_quota_used",
        "Fraction of a FIX session's rate-limit quota (token bucket) in use, 0 to 1.",
    );
    let mut peak = Family::ratio(
        "rate_limit_quota_peak",
        "Highest fraction of a FIX session's rate-limit quota used since it was made.",
    );
    let mut warning = Family::new(
        "rate_limit_quota_warning",
        "1 while a FIX session's rate-limit quota use has passed the warning threshold.",
        MetricType::Gauge,
    );
    let mut throttled = Family::new(
        "fix_messages_throttled",
        "Application messages refused by a FIX session's rate limiter.",
        MetricType::Counter,
    );
    let mut queued = Family::new(
        "fix_messages_rate_queued",
        "Application messages that waited in a FIX session's rate limiter.",
        MetricType::Counter,
    );
    let mut session_rejects = Family::new(
        "fix_session_rejects",
        "Session-level Rejects (35=3) sent on a FIX session.",
        MetricType::Counter,
    );
    let mut garbled = Family::new(
        "fix_messages_garbled",
        "Garbled messages dropped on a FIX session.",
        MetricType::Counter,
    );
    let mut resent = Family::new(
        "fix_messages_resent",
        "Messages resent on a FIX session.",
        MetricType::Counter,
    );
    let count = |a: &AtomicU64| Value::Counter(a.load(Ordering::Relaxed));
    let fraction = |a: &AtomicU32| Value::Ratio(f64::from(a.load(Ordering::Relaxed)) / 1e3);
    for s in sessions {
        let l = labels(&s.name, s.participant);
        let m = &s.metrics;
        let on = m.logged_on.load(Ordering::Relaxed);
        logged_on_count += u64::from(on);
        logged_on
            .series
            .push((l.clone(), Value::Gauge(u64::from(on))));
        used.series
            .push((l.clone(), fraction(&m.quota_used_permille)));
        peak.series
            .push((l.clone(), fraction(&m.quota_peak_permille)));
        throttled.series.push((l.clone(), count(&m.throttled)));
        queued.series.push((l.clone(), count(&m.queued_by_rate)));
        session_rejects
            .series
            .push((l.clone(), count(&m.rejects_sent)));
        garbled.series.push((l.clone(), count(&m.garbled)));
        resent.series.push((l, count(&m.resent)));
    }
    for (name, participant, on) in warnings {
        warning
            .series
            .push((labels(name, *participant), Value::Gauge(u64::from(*on))));
    }
    vec![
        Family::new(
            "fix_sessions_logged_on",
            "FIX sessions logged on.",
            MetricType::Gauge,
        )
        .with(vec![], Value::Gauge(logged_on_count)),
        logged_on,
        used,
        peak,
        warning,
        Family::ratio(
            "rate_limit_quota_warning_threshold",
            "The quota use past which a session is warned about ([metrics] \
             quota_warning_threshold).",
        )
        .with(vec![], Value::Ratio(threshold)),
        throttled,
        queued,
        session_rejects,
        garbled,
        resent,
    ]
}

fn ws_families(ws: &WsMetrics) -> Vec<Family> {
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let one =
        |name, help, metric_type, value| Family::new(name, help, metric_type).with(vec![], value);
    vec![
        one(
            "ws_connections",
            "WebSocket connections open (logged in or market data only).",
            MetricType::Gauge,
            Value::Gauge(load(&ws.connections)),
        ),
        one(
            "ws_connections_logged_in",
            "WebSocket connections logged in as a participant.",
            MetricType::Gauge,
            Value::Gauge(load(&ws.logged_in)),
        ),
        one(
            "ws_market_data_messages",
            "Market data messages queued to WebSocket subscribers (summed over subscribers).",
            MetricType::Counter,
            Value::Counter(load(&ws.md_messages)),
        ),
        one(
            "ws_private_messages",
            "Private messages queued to WebSocket connections.",
            MetricType::Counter,
            Value::Counter(load(&ws.private_messages)),
        ),
        one(
            "ws_conflations",
            "Times a WebSocket book subscription was conflated (a slow reader).",
            MetricType::Counter,
            Value::Counter(load(&ws.conflations)),
        ),
        one(
            "ws_slow_consumer_closes",
            "WebSocket connections closed for not reading.",
            MetricType::Counter,
            Value::Counter(load(&ws.slow_closes)),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::AtomicU64;

    use engine::sequencer::{InputLog, Output, Sequencer, SequencerConfig};
    use engine::{
        Cancel, ClOrdId, Engine, Input, InstrumentId, NewOrder, OrdType, OrderRef, Side,
        TimeInForce,
    };

    use super::*;

    /// A log that keeps nothing, with a settable durable point.
    struct CountingLog {
        last: u64,
        durable: u64,
    }

    impl InputLog for CountingLog {
        type Error = String;
        fn append(&mut self, _time_ns: u64, _payload: &[u8]) -> Result<u64, String> {
            self.last += 1;
            Ok(self.last)
        }
        fn durable_seq(&self) -> u64 {
            self.durable
        }
        fn last_seq(&self) -> u64 {
            self.last
        }
    }

    fn clock_2us() -> u64 {
        static NOW: AtomicU64 = AtomicU64::new(0);
        NOW.fetch_add(2_000, Ordering::Relaxed)
    }

    fn order(id: &str, instrument: u32, price_ticks: i64) -> Input {
        Input::NewOrder(NewOrder {
            participant: ParticipantId(1),
            instrument: InstrumentId(instrument),
            cl_ord_id: ClOrdId::new(id.as_bytes()).unwrap(),
            side: Side::Buy,
            ord_type: OrdType::Limit,
            tif: TimeInForce::Gtc,
            price_ticks: Some(price_ticks),
            stop_price_ticks: None,
            qty_lots: 1,
            display_qty_lots: 0,
            min_qty_lots: 0,
            post_only: false,
            expire_time_ns: None,
        })
    }

    fn session(name: &str, participant: u32, used: u32, peak: u32) -> FixSessionSource {
        let m = SessionMetrics::default();
        m.logged_on.store(participant == 1, Ordering::Relaxed);
        m.quota_used_permille.store(used, Ordering::Relaxed);
        m.quota_peak_permille.store(peak, Ordering::Relaxed);
        m.throttled.store(7, Ordering::Relaxed);
        FixSessionSource {
            name: name.to_owned(),
            participant: ParticipantId(participant),
            metrics: Arc::new(m),
        }
    }

    /// A loop that took three new orders (one for an unknown instrument)
    /// and a cancel of an unknown order, with two of its four inputs
    /// durable; two FIX sessions, one past the quota threshold; three
    /// WebSocket connections, one logged in.
    fn sources() -> MetricsSources {
        let config = SequencerConfig {
            gate_on_durable: true,
            tick_interval_ns: 0,
            checkpoint_every_inputs: 0,
            ..SequencerConfig::default()
        };
        let log = CountingLog {
            last: 0,
            durable: 0,
        };
        let engine = Engine::new(crate::demo::engine_config()).unwrap();
        let mut seq = Sequencer::new(engine, log, config, 0);
        seq.set_latency_clock(Some(clock_2us));
        let _rx = seq.route_outputs(vec![
            Box::new(|_: &Output| true),
            Box::new(|_: &Output| true),
        ]);
        let tx = seq.sender();
        for input in [
            order("a", 1, 12_800),
            order("b", 1, 12_801),
            order("c", 9, 12_800),
            Input::Cancel(Cancel {
                participant: ParticipantId(1),
                cl_ord_id: ClOrdId::new(b"x").unwrap(),
                target: OrderRef::ClOrdId(ClOrdId::new(b"nope").unwrap()),
            }),
        ] {
            tx.send(input, 0).unwrap();
        }
        seq.do_work(1);
        seq.log_mut().durable = 2;
        seq.do_work(2);
        let ws = WsMetrics::default();
        ws.connections.store(3, Ordering::Relaxed);
        ws.logged_in.store(1, Ordering::Relaxed);
        MetricsSources::new(
            seq.metrics(),
            vec!["fix".to_owned(), "websocket".to_owned()],
            vec![
                session("VENUE-CLIENT1", 1, 800, 900),
                session("VENUE-CLIENT2", 2, 100, 200),
            ],
            Arc::new(ws),
            0.7,
        )
    }

    /// Family name → (HELP seen, TYPE), and sample line → value.
    fn parse(text: &str) -> (BTreeMap<String, (bool, String)>, BTreeMap<String, String>) {
        let mut families: BTreeMap<String, (bool, String)> = BTreeMap::new();
        let mut samples = BTreeMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').unwrap();
                assert!(!help.is_empty(), "{line}");
                families.entry(name.to_owned()).or_default().0 = true;
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                families.entry(name.to_owned()).or_default().1 = kind.to_owned();
            } else if line.starts_with('#') {
                assert!(line == "# EOF" || line.starts_with("# UNIT "), "{line}");
            } else {
                let (series, value) = line.rsplit_once(' ').unwrap();
                assert!(series.starts_with("venue_"), "{line}");
                let prior = samples.insert(series.to_owned(), value.to_owned());
                assert!(prior.is_none(), "{series} twice");
            }
        }
        (families, samples)
    }

    #[test]
    fn every_family_has_help_and_type_and_the_values_are_right() {
        let text = render(&sources());
        assert!(text.ends_with("# EOF\n"), "{text}");
        let (families, samples) = parse(&text);
        let required = [
            ("venue_inputs", "counter"),
            ("venue_rejects", "counter"),
            ("venue_refusals", "counter"),
            ("venue_journal_appended_seq", "gauge"),
            ("venue_journal_durable_seq", "gauge"),
            ("venue_journal_lag_inputs", "gauge"),
            ("venue_pending_events", "gauge"),
            ("venue_ring_occupancy_ratio", "gauge"),
            ("venue_matching_latency_seconds", "histogram"),
            ("venue_fix_sessions_logged_on", "gauge"),
            ("venue_fix_session_logged_on", "gauge"),
            ("venue_rate_limit_quota_used_ratio", "gauge"),
            ("venue_rate_limit_quota_peak_ratio", "gauge"),
            ("venue_rate_limit_quota_warning", "gauge"),
            ("venue_rate_limit_quota_warning_threshold_ratio", "gauge"),
            ("venue_fix_messages_throttled", "counter"),
            ("venue_ws_connections", "gauge"),
            ("venue_ws_connections_logged_in", "gauge"),
        ];
        for (name, kind) in required {
            assert_eq!(
                families.get(name),
                Some(&(true, kind.to_owned())),
                "{name}:\n{text}"
            );
        }
        let value = |series: &str| -> &str {
            samples
                .get(series)
                .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        };
        assert_eq!(value("venue_inputs_total{type=\"new_order\"}"), "3");
        assert_eq!(value("venue_inputs_total{type=\"cancel\"}"), "1");
        assert_eq!(value("venue_inputs_total{type=\"replace\"}"), "0");
        assert_eq!(value("venue_inputs_total{type=\"other\"}"), "0");
        assert_eq!(
            value("venue_rejects_total{input=\"new_order\",reason=\"unknown_instrument\"}"),
            "1"
        );
        assert_eq!(
            value("venue_rejects_total{input=\"cancel\",reason=\"unknown_order\"}"),
            "1"
        );
        let rejects = samples
            .keys()
            .filter(|s| s.starts_with("venue_rejects"))
            .count();
        assert_eq!(rejects, 2, "only reasons seen");
        assert_eq!(value("venue_refusals_total{reason=\"busy\"}"), "0");
        assert_eq!(value("venue_journal_appended_seq"), "4");
        assert_eq!(value("venue_journal_durable_seq"), "2");
        assert_eq!(value("venue_journal_lag_inputs"), "2");
        assert_ne!(value("venue_pending_events"), "0", "inputs 3 and 4 wait");
        assert_eq!(value("venue_ring_occupancy_ratio{ring=\"inbound\"}"), "0.0");
        assert_ne!(
            value("venue_ring_occupancy_ratio{ring=\"outbound_fix\"}"),
            "0.0",
            "the events of inputs 1 and 2 wait in both rings"
        );
        assert!(samples.contains_key("venue_ring_occupancy_ratio{ring=\"outbound_websocket\"}"));
        // One batch: its first input timed, at 2 µs, in the (1 µs, 2.5 µs] bucket.
        assert_eq!(value("venue_matching_latency_seconds_count"), "1");
        assert_eq!(value("venue_matching_latency_seconds_sum"), "0.000002");
        assert_eq!(
            value("venue_matching_latency_seconds_bucket{le=\"0.000001\"}"),
            "0"
        );
        assert_eq!(
            value("venue_matching_latency_seconds_bucket{le=\"0.0000025\"}"),
            "1"
        );
        assert_eq!(
            value("venue_matching_latency_seconds_bucket{le=\"+Inf\"}"),
            "1"
        );
        let buckets: Vec<u64> = text
            .lines()
            .filter(|l| l.starts_with("venue_matching_latency_seconds_bucket"))
            .map(|l| l.rsplit_once(' ').unwrap().1.parse().unwrap())
            .collect();
        assert_eq!(buckets.len(), LATENCY_BOUNDS_NS.len() + 1);
        assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "cumulative");

        let s1 = "{session=\"VENUE-CLIENT1\",participant=\"1\"}";
        let s2 = "{session=\"VENUE-CLIENT2\",participant=\"2\"}";
        assert_eq!(value("venue_fix_sessions_logged_on"), "1");
        assert_eq!(value(&format!("venue_fix_session_logged_on{s2}")), "0");
        assert_eq!(
            value(&format!("venue_rate_limit_quota_used_ratio{s1}")),
            "0.8"
        );
        assert_eq!(
            value(&format!("venue_rate_limit_quota_peak_ratio{s2}")),
            "0.2"
        );
        assert_eq!(value(&format!("venue_rate_limit_quota_warning{s1}")), "1");
        assert_eq!(value(&format!("venue_rate_limit_quota_warning{s2}")), "0");
        assert_eq!(
            value("venue_rate_limit_quota_warning_threshold_ratio"),
            "0.7"
        );
        assert_eq!(
            value(&format!("venue_fix_messages_throttled_total{s1}")),
            "7"
        );
        assert_eq!(value("venue_ws_connections"), "3");
        assert_eq!(value("venue_ws_connections_logged_in"), "1");
    }

    #[test]
    fn a_quota_warning_is_logged_once_per_crossing() {
        let s = session("VENUE-CLIENT1", 1, 500, 500);
        let m = Arc::clone(&s.metrics);
        let mut watch = QuotaWatch::new(0.7, &[s]);
        let set = |used: u32, peak: u32| {
            m.quota_used_permille.store(used, Ordering::Relaxed);
            m.quota_peak_permille.store(peak, Ordering::Relaxed);
        };
        let warned = |w: &QuotaWatch| w.warnings()[0].2;
        assert!(watch.check().is_empty(), "50% is under 70%");
        set(750, 750);
        let lines = watch.check();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("VENUE-CLIENT1") && lines[0].contains("70%"));
        assert!(warned(&watch));
        set(800, 800);
        assert!(watch.check().is_empty(), "still past it: no second line");
        set(680, 800);
        assert!(watch.check().is_empty(), "under, but within the margin");
        assert!(warned(&watch));
        set(600, 800);
        let lines = watch.check();
        assert!(
            lines.len() == 1 && lines[0].contains("back under"),
            "{lines:?}"
        );
        assert!(!warned(&watch));
        // A burst between two checks: use is low again, the peak tells.
        set(100, 950);
        assert_eq!(watch.check().len(), 1);
        assert!(warned(&watch));
    }

    #[test]
    fn reject_reasons_are_labelled_in_snake_case() {
        assert_eq!(
            reject_reason_label(RejectReason::PriceOutsideCollar.code()),
            "price_outside_collar"
        );
        assert_eq!(
            reject_reason_label(RejectReason::DuplicateClOrdId.code()),
            "duplicate_cl_ord_id"
        );
        assert_eq!(reject_reason_label(0), "unknown");
        assert_eq!(reject_reason_label(63), "code_63");
        for r in RejectReason::ALL {
            let label = reject_reason_label(r.code());
            assert!(
                label.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{label}"
            );
        }
    }
}
