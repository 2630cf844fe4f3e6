//! The end of a run: a summary for the terminal, a JSON report, `.hgrm`
//! percentile files and a chart.
//!
//! Everything here is derived from one [`RunReport`], built from the
//! runner's [`Results`] by [`RunReport::from_results`]: the summary prints
//! it, the JSON file is it, and [`crate::chart`] reads it back to overlay
//! runs. So the terminal, the file and the chart cannot disagree.
//!
//! Latencies are recorded in nanoseconds and reported in microseconds. The
//! percentiles are the histogram's (3 significant digits): a figure is the
//! highest value equivalent to the bucket it falls in, as HdrHistogram
//! reports it everywhere, so `p50` may read a few tenths of a percent above
//! the exact sample.
//!
//! The `.hgrm` files follow HdrHistogram's `outputPercentileDistribution`
//! (value, percentile, total count, `1/(1-percentile)`, then the mean, max
//! and bucket footer) so the standard HdrHistogram plotter reads them.
//!
//! A stall shows in the per-second counts ([`Throughput`]): a second in
//! which nothing was answered while requests were outstanding from before
//! it, or a steady-state second whose sends or answers fell under half the
//! median. Ramp-up seconds, the last (usually partial) second and seconds
//! after the configured duration are not held to the median.
//!
//! Known limitation: a metric with no sample is omitted everywhere (no row,
//! no `.hgrm` file, no line), which is also how an empty run reads.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::chart;
use crate::record::{Metric, Results, Second};

/// The version of the JSON report format that [`write_json`] writes and
/// [`read_json`] accepts.
pub const REPORT_FORMAT_VERSION: u32 = 1;

/// Percentile ticks per half distance to 100%, in the percentile curves and
/// the `.hgrm` files (HdrHistogram's customary 5).
pub const PERCENTILE_TICKS_PER_HALF_DISTANCE: u32 = 5;

/// Histograms record nanoseconds; reports speak microseconds (the
/// `outputValueUnitScalingRatio` of the `.hgrm` files).
const NS_PER_US: f64 = 1000.0;

/// How many rejects reasons, errors and flagged stretches the summary lists
/// before it says how many more the JSON report holds.
const SUMMARY_LIST_MAX: usize = 8;

/// One run as the report files hold it: what [`write_json`] writes,
/// [`read_json`] reads back and [`crate::chart`] plots.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// [`REPORT_FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// The scenario's name.
    pub scenario: String,
    /// This run's label in charts that overlay several runs.
    pub label: String,
    /// `fix` or `in-process`.
    pub transport: String,
    /// When sending started, RFC 3339 UTC.
    pub started_utc: String,
    /// The target rate at full speed, requests per second.
    pub target_rate: f64,
    /// Requests sent per second of the measured window.
    pub achieved_rate: f64,
    /// `achieved_rate` as a percentage of `target_rate`; absent when the
    /// target is zero.
    pub achieved_pct_of_target: Option<f64>,
    /// Ramp-up, in seconds.
    pub ramp_up_s: f64,
    /// Warm-up, in seconds from the start (excluded from latencies).
    pub warmup_s: f64,
    /// Configured length of the run, in seconds, warm-up included.
    pub duration_s: f64,
    /// Length of the measured window actually run, in seconds.
    pub measured_s: f64,
    /// Requests sent in the measured window.
    pub sent_measured: u64,
    /// Requests sent in all (warm-up included).
    pub sent_total: u64,
    /// False when the run stopped early: the results are partial.
    pub complete: bool,
    /// Latency per metric that has samples, in [`Metric::ALL`] order.
    pub metrics: Vec<MetricReport>,
    /// The per-second view that makes a stall visible.
    pub throughput: Throughput,
    /// Per-second counts over the whole run.
    pub per_second: Vec<Second>,
    /// Rejects by reason text, over the whole run.
    pub rejects: BTreeMap<String, u64>,
    /// Errors, in the order they happened.
    pub errors: Vec<String>,
    /// Connections lost during the run.
    pub disconnects: u64,
    /// Requests still without an answer when the run ended.
    pub unanswered: u64,
}

/// One metric's latency, in microseconds from the intended send time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricReport {
    /// What was measured.
    pub metric: Metric,
    /// Samples recorded.
    pub count: u64,
    /// Lowest sample.
    pub latency_us_min: f64,
    /// Mean of the samples.
    pub latency_us_mean: f64,
    /// Median.
    pub latency_us_p50: f64,
    /// 90th percentile.
    pub latency_us_p90: f64,
    /// 99th percentile.
    pub latency_us_p99: f64,
    /// 99.9th percentile.
    pub latency_us_p99_9: f64,
    /// 99.99th percentile.
    pub latency_us_p99_99: f64,
    /// Highest sample.
    pub latency_us_max: f64,
    /// The full percentile curve, as in the `.hgrm` file: ascending, the
    /// last point at percentile 100 (the max).
    pub percentiles: Vec<PercentilePoint>,
}

/// One point of a percentile curve.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PercentilePoint {
    /// The percentile, 0 to 100.
    pub percentile: f64,
    /// The latency at or below which `percentile` percent of samples fall.
    pub latency_us: f64,
    /// Samples at or below `latency_us`.
    pub total_count: u64,
}

/// Sends and answers per second, and the seconds that look like a stall.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throughput {
    /// First second of the steady state (after ramp-up) that the min,
    /// median and max cover.
    pub steady_first_s: u64,
    /// Last second the min, median and max cover.
    pub steady_last_s: u64,
    /// Fewest requests sent in a steady-state second.
    pub sent_per_s_min: u64,
    /// Median requests sent per steady-state second.
    pub sent_per_s_median: u64,
    /// Most requests sent in a steady-state second.
    pub sent_per_s_max: u64,
    /// Fewest answers in a steady-state second.
    pub answered_per_s_min: u64,
    /// Median answers per steady-state second.
    pub answered_per_s_median: u64,
    /// Most answers in a steady-state second.
    pub answered_per_s_max: u64,
    /// Seconds that look like a stall, in time order.
    pub flagged: Vec<FlaggedSecond>,
}

/// A second that looks like a stall.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlaggedSecond {
    /// Seconds since the first send.
    pub second: u64,
    /// Why it was flagged.
    pub reason: FlagReason,
    /// Requests sent in it.
    pub sent: u64,
    /// Requests answered in it.
    pub answered: u64,
    /// Requests outstanding when it began.
    pub in_flight: u64,
}

/// Why a second was flagged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagReason {
    /// Nothing was answered although requests were outstanding when the
    /// second began: every one of them waited the whole second.
    NoAnswers,
    /// Fewer than half the median requests were sent (loadgen or the
    /// transport could not keep the schedule).
    LowSent,
    /// Fewer than half the median requests were answered (the venue slowed).
    LowAnswered,
}

impl FlagReason {
    fn describe(self) -> &'static str {
        match self {
            FlagReason::NoAnswers => "no answers",
            FlagReason::LowSent => "sent under half the median",
            FlagReason::LowAnswered => "answered under half the median",
        }
    }
}

impl RunReport {
    /// The report of a run's results.
    #[must_use]
    pub fn from_results(r: &Results) -> RunReport {
        let metrics = Metric::ALL
            .iter()
            .filter_map(|m| r.histograms.get(m).map(|h| (*m, h)))
            .filter(|(_, h)| !h.is_empty())
            .map(|(m, h)| MetricReport::from_histogram(m, h))
            .collect();
        let achieved_rate = round_to(r.achieved_rate, 3);
        let achieved_pct_of_target = (r.target_rate > 0.0 && r.target_rate.is_finite())
            .then(|| round_to(achieved_rate / r.target_rate * 100.0, 3));
        RunReport {
            format_version: REPORT_FORMAT_VERSION,
            scenario: r.scenario.clone(),
            label: r.label.clone(),
            transport: r.transport.clone(),
            started_utc: r.started_utc.clone(),
            target_rate: round_to(r.target_rate, 3),
            achieved_rate,
            achieved_pct_of_target,
            ramp_up_s: round_to(r.ramp_up_s, 6),
            warmup_s: round_to(r.warmup_s, 6),
            duration_s: round_to(r.duration_s, 6),
            measured_s: round_to(r.measured_s, 6),
            sent_measured: r.sent_measured,
            sent_total: r.sent_total,
            complete: r.complete,
            metrics,
            throughput: Throughput::from_seconds(&r.per_second, r.ramp_up_s, r.duration_s),
            per_second: r.per_second.clone(),
            rejects: r.rejects.clone(),
            errors: r.errors.clone(),
            disconnects: r.disconnects,
            unanswered: r.unanswered,
        }
    }

    /// The name a chart's legend gives this run: its label, or the
    /// scenario's name when it has none.
    #[must_use]
    pub fn display_label(&self) -> &str {
        if self.label.is_empty() {
            &self.scenario
        } else {
            &self.label
        }
    }

    /// The human summary of this report (see [`summary`]).
    #[must_use]
    pub fn summary(&self) -> String {
        let mut out = String::new();
        self.write_summary(&mut out)
            .expect("writing to a String cannot fail");
        out
    }

    fn write_summary(&self, out: &mut String) -> std::fmt::Result {
        const PARTIAL: &str = "*** PARTIAL RESULTS: the run stopped early; \
                               the figures cover only what was measured ***";
        writeln!(
            out,
            "loadgen: scenario {}, run \"{}\", over {}, started {}",
            self.scenario,
            self.display_label(),
            self.transport,
            self.started_utc
        )?;
        if !self.complete {
            writeln!(out, "{PARTIAL}")?;
        }
        writeln!(out)?;

        let pct = self
            .achieved_pct_of_target
            .map_or_else(String::new, |p| format!(" ({p:.1}%)"));
        writeln!(
            out,
            "{:<13}{}/s achieved of {}/s target{pct}",
            "rate",
            fmt_rate(self.achieved_rate),
            fmt_rate(self.target_rate)
        )?;
        writeln!(
            out,
            "{:<13}{:.1} s measured of {:.1} s configured ({:.1} s warm-up, {:.1} s ramp-up)",
            "window", self.measured_s, self.duration_s, self.warmup_s, self.ramp_up_s
        )?;
        writeln!(
            out,
            "{:<13}{} measured, {} in all",
            "sent",
            group_thousands(self.sent_measured),
            group_thousands(self.sent_total)
        )?;
        writeln!(out)?;

        self.write_latency_table(out)?;
        writeln!(out)?;
        self.write_throughput(out)?;
        writeln!(out)?;
        self.write_problems(out)?;

        if !self.complete {
            writeln!(out, "{PARTIAL}")?;
        }
        Ok(())
    }

    fn write_latency_table(&self, out: &mut String) -> std::fmt::Result {
        writeln!(
            out,
            "latency in µs from each request's intended send time (warm-up excluded)"
        )?;
        if self.metrics.is_empty() {
            return writeln!(out, "  no latency samples");
        }
        writeln!(
            out,
            "{:<11}{:>11}{:>8}{:>8}{:>8}{:>8}{:>8}{:>8}",
            "metric", "count", "p50", "p90", "p99", "p99.9", "p99.99", "max"
        )?;
        for m in &self.metrics {
            writeln!(
                out,
                "{:<11}{:>11}{:>8}{:>8}{:>8}{:>8}{:>8}{:>8}",
                m.metric.name(),
                group_thousands(m.count),
                fmt_us(m.latency_us_p50),
                fmt_us(m.latency_us_p90),
                fmt_us(m.latency_us_p99),
                fmt_us(m.latency_us_p99_9),
                fmt_us(m.latency_us_p99_99),
                fmt_us(m.latency_us_max)
            )?;
        }
        Ok(())
    }

    fn write_throughput(&self, out: &mut String) -> std::fmt::Result {
        let t = &self.throughput;
        if self.per_second.is_empty() {
            return writeln!(out, "{:<13}no seconds recorded", "per second");
        }
        let row = |what: &str, min: u64, median: u64, max: u64| {
            format!(
                "{what:<9}min {:<8} median {:<8} max {}",
                group_thousands(min),
                group_thousands(median),
                group_thousands(max)
            )
        };
        writeln!(
            out,
            "{:<13}{}  (s {}-{})",
            "per second",
            row(
                "sent",
                t.sent_per_s_min,
                t.sent_per_s_median,
                t.sent_per_s_max
            ),
            t.steady_first_s,
            t.steady_last_s
        )?;
        writeln!(
            out,
            "{:<13}{}",
            "",
            row(
                "answered",
                t.answered_per_s_min,
                t.answered_per_s_median,
                t.answered_per_s_max
            )
        )?;
        let stretches = stretches(&t.flagged);
        if stretches.is_empty() {
            return writeln!(out, "{:<13}none", "stalls");
        }
        for (i, s) in stretches.iter().take(SUMMARY_LIST_MAX).enumerate() {
            let head = if i == 0 { "stalls" } else { "" };
            let seconds = if s.first == s.last {
                format!("s {}", s.first)
            } else {
                format!("s {}-{}", s.first, s.last)
            };
            writeln!(
                out,
                "{head:<13}{seconds}: {} (sent {}, answered {}, {} in flight at s {})",
                s.reason.describe(),
                group_thousands(s.sent),
                group_thousands(s.answered),
                group_thousands(s.in_flight_first),
                s.first
            )?;
        }
        if stretches.len() > SUMMARY_LIST_MAX {
            writeln!(
                out,
                "{:<13}... and {} more (see per_second in the JSON report)",
                "",
                stretches.len() - SUMMARY_LIST_MAX
            )?;
        }
        Ok(())
    }

    fn write_problems(&self, out: &mut String) -> std::fmt::Result {
        let rejects_total: u64 = self.rejects.values().sum();
        if rejects_total == 0 {
            writeln!(out, "{:<13}none", "rejects")?;
        } else {
            let mut by_count: Vec<(&String, &u64)> = self.rejects.iter().collect();
            by_count.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
            writeln!(
                out,
                "{:<13}{} in all",
                "rejects",
                group_thousands(rejects_total)
            )?;
            for (reason, n) in by_count.iter().take(SUMMARY_LIST_MAX) {
                writeln!(out, "{:<13}{:>11}  {reason}", "", group_thousands(**n))?;
            }
            if by_count.len() > SUMMARY_LIST_MAX {
                writeln!(
                    out,
                    "{:<13}... and {} more reasons",
                    "",
                    by_count.len() - SUMMARY_LIST_MAX
                )?;
            }
        }
        if self.errors.is_empty() {
            writeln!(out, "{:<13}none", "errors")?;
        } else {
            writeln!(out, "{:<13}{}", "errors", self.errors.len())?;
            for e in self.errors.iter().take(SUMMARY_LIST_MAX) {
                writeln!(out, "{:<13}{e}", "")?;
            }
            if self.errors.len() > SUMMARY_LIST_MAX {
                writeln!(
                    out,
                    "{:<13}... and {} more (see the JSON report)",
                    "",
                    self.errors.len() - SUMMARY_LIST_MAX
                )?;
            }
        }
        writeln!(
            out,
            "{:<13}{}",
            "disconnects",
            group_thousands(self.disconnects)
        )?;
        writeln!(
            out,
            "{:<13}{}",
            "unanswered",
            group_thousands(self.unanswered)
        )
    }
}

impl MetricReport {
    fn from_histogram(metric: Metric, h: &Histogram<u64>) -> MetricReport {
        debug_assert!(!h.is_empty());
        let us = |ns: u64| ns as f64 / NS_PER_US;
        MetricReport {
            metric,
            count: h.len(),
            latency_us_min: us(h.min()),
            latency_us_mean: h.mean().round() / NS_PER_US,
            latency_us_p50: us(h.value_at_quantile(0.5)),
            latency_us_p90: us(h.value_at_quantile(0.9)),
            latency_us_p99: us(h.value_at_quantile(0.99)),
            latency_us_p99_9: us(h.value_at_quantile(0.999)),
            latency_us_p99_99: us(h.value_at_quantile(0.9999)),
            latency_us_max: us(h.max()),
            percentiles: percentile_curve(h),
        }
    }
}

impl Throughput {
    /// The steady-state figures and the flagged seconds of a run's
    /// per-second counts. The steady state runs from the first whole second
    /// after ramp-up to the last whole second of the configured duration,
    /// and never includes the last recorded second (which is partial); when
    /// that leaves nothing (a short run), every second counts.
    fn from_seconds(seconds: &[Second], ramp_up_s: f64, duration_s: f64) -> Throughput {
        let Some(last) = seconds.last() else {
            return Throughput::default();
        };
        let first_steady = finite_or_zero(ramp_up_s).max(0.0).ceil() as u64;
        let end_steady = finite_or_zero(duration_s).max(0.0).floor() as u64;
        let is_steady = |s: &Second| {
            s.second >= first_steady && s.second < end_steady && s.second != last.second
        };
        let mut steady: Vec<&Second> = seconds.iter().filter(|s| is_steady(s)).collect();
        let all_steady = steady.is_empty();
        if all_steady {
            steady = seconds.iter().collect();
        }
        let (sent_min, sent_median, sent_max) = min_median_max(steady.iter().map(|s| s.sent));
        let (answered_min, answered_median, answered_max) =
            min_median_max(steady.iter().map(|s| s.answered));

        let mut flagged = Vec::new();
        let mut sent_before: u64 = 0;
        let mut answered_before: u64 = 0;
        for s in seconds {
            let in_flight = sent_before.saturating_sub(answered_before);
            let reason = if s.answered == 0 && in_flight > 0 {
                Some(FlagReason::NoAnswers)
            } else if !all_steady && is_steady(s) && s.sent * 2 < sent_median {
                Some(FlagReason::LowSent)
            } else if !all_steady && is_steady(s) && s.answered * 2 < answered_median {
                Some(FlagReason::LowAnswered)
            } else {
                None
            };
            if let Some(reason) = reason {
                flagged.push(FlaggedSecond {
                    second: s.second,
                    reason,
                    sent: s.sent,
                    answered: s.answered,
                    in_flight,
                });
            }
            sent_before += s.sent;
            answered_before += s.answered;
        }

        Throughput {
            steady_first_s: steady.first().map_or(0, |s| s.second),
            steady_last_s: steady.last().map_or(0, |s| s.second),
            sent_per_s_min: sent_min,
            sent_per_s_median: sent_median,
            sent_per_s_max: sent_max,
            answered_per_s_min: answered_min,
            answered_per_s_median: answered_median,
            answered_per_s_max: answered_max,
            flagged,
        }
    }
}

/// A human summary of a run, for the end of the terminal output: what ran,
/// the achieved rate against the target, latency percentiles per metric,
/// the per-second view with any stalls, rejects, errors, disconnects and
/// unanswered requests, and a PARTIAL RESULTS banner when the run stopped
/// early. About 30 lines, under 80 columns except for long error texts.
#[must_use]
pub fn summary(r: &Results) -> String {
    RunReport::from_results(r).summary()
}

/// The JSON report of a run: [`RunReport`] as a JSON value.
///
/// # Panics
///
/// Never: a [`RunReport`] has string map keys only, so it always converts.
#[must_use]
pub fn to_json(r: &Results) -> serde_json::Value {
    serde_json::to_value(RunReport::from_results(r)).expect("a RunReport converts to JSON")
}

/// Writes the JSON report of a run to `path` (pretty printed).
///
/// # Errors
///
/// When the file cannot be written.
pub fn write_json(r: &Results, path: &Path) -> Result<()> {
    write_report_json(&RunReport::from_results(r), path)
}

fn write_report_json(report: &RunReport, path: &Path) -> Result<()> {
    let mut text = serde_json::to_string_pretty(report).context("encoding the JSON report")?;
    text.push('\n');
    fs::write(path, text).with_context(|| format!("writing the JSON report {}", path.display()))
}

/// Reads a JSON report written by [`write_json`].
///
/// # Errors
///
/// When the file cannot be read, is not a loadgen report, or was written by
/// a newer loadgen (another [`REPORT_FORMAT_VERSION`]).
pub fn read_json(path: &Path) -> Result<RunReport> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("reading the JSON report {}", path.display()))?;
    let report: RunReport = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a loadgen JSON report (written by `loadgen run`)",
            path.display()
        )
    })?;
    if report.format_version != REPORT_FORMAT_VERSION {
        bail!(
            "{} is a loadgen report of format version {}; this loadgen reads version {}",
            path.display(),
            report.format_version,
            REPORT_FORMAT_VERSION
        );
    }
    Ok(report)
}

/// Writes a latency histogram (nanoseconds) as an HdrHistogram percentile
/// distribution in microseconds: the text that HdrHistogram's
/// `outputPercentileDistribution(out, 5, 1000.0)` prints, which the
/// standard HdrHistogram plotter reads.
///
/// # Errors
///
/// When the file cannot be written.
pub fn write_hgrm(h: &Histogram<u64>, path: &Path) -> Result<()> {
    fs::write(path, hgrm_text(h))
        .with_context(|| format!("writing the percentile file {}", path.display()))
}

/// Writes everything a run leaves behind into `dir` (created if needed):
/// `{stem}.json`, one `{stem}.{metric}.hgrm` per metric with samples and
/// the chart `{stem}.svg`. Returns the paths written, in that order.
///
/// # Errors
///
/// When the directory cannot be created or a file cannot be written; the
/// files written before the failure stay.
pub fn write_all(r: &Results, dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)
        .with_context(|| format!("creating the report directory {}", dir.display()))?;
    let report = RunReport::from_results(r);
    let mut written = Vec::new();

    let json = dir.join(format!("{stem}.json"));
    write_report_json(&report, &json)?;
    written.push(json);

    for m in Metric::ALL {
        if let Some(h) = r.histograms.get(&m).filter(|h| !h.is_empty()) {
            let hgrm = dir.join(format!("{stem}.{}.hgrm", m.name()));
            write_hgrm(h, &hgrm)?;
            written.push(hgrm);
        }
    }

    let svg = dir.join(format!("{stem}.svg"));
    chart::plot(std::slice::from_ref(&report), &[], &svg)?;
    written.push(svg);
    Ok(written)
}

/// The percentile curve of a histogram, as the `.hgrm` file lists it.
fn percentile_curve(h: &Histogram<u64>) -> Vec<PercentilePoint> {
    let mut total_count: u64 = 0;
    h.iter_quantiles(PERCENTILE_TICKS_PER_HALF_DISTANCE)
        .map(|v| {
            total_count += v.count_since_last_iteration();
            PercentilePoint {
                percentile: round_to(v.quantile_iterated_to() * 100.0, 10),
                latency_us: v.value_iterated_to() as f64 / NS_PER_US,
                total_count,
            }
        })
        .collect()
}

/// The `.hgrm` text of a histogram. Column widths and precisions are
/// HdrHistogram's: values with as many decimals as the histogram has
/// significant digits, percentiles with 12, and no `1/(1-Percentile)` on
/// the last row (percentile 1, where it would be infinite).
fn hgrm_text(h: &Histogram<u64>) -> String {
    let digits = usize::from(h.sigfig());
    let mut out = String::new();
    // Writing to a String cannot fail, so the results are ignored below.
    let _ = write!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    let mut total_count: u64 = 0;
    for v in h.iter_quantiles(PERCENTILE_TICKS_PER_HALF_DISTANCE) {
        total_count += v.count_since_last_iteration();
        let value_us = v.value_iterated_to() as f64 / NS_PER_US;
        let quantile = v.quantile_iterated_to();
        if quantile < 1.0 {
            let _ = writeln!(
                out,
                "{value_us:12.digits$} {quantile:2.12} {total_count:10} {:14.2}",
                1.0 / (1.0 - quantile)
            );
        } else {
            let _ = writeln!(
                out,
                "{value_us:12.digits$} {quantile:2.12} {total_count:10}"
            );
        }
    }
    let max_us = if h.is_empty() {
        0.0
    } else {
        h.max() as f64 / NS_PER_US
    };
    let _ = writeln!(
        out,
        "#[Mean    = {:12.digits$}, StdDeviation   = {:12.digits$}]",
        h.mean() / NS_PER_US,
        h.stdev() / NS_PER_US
    );
    let _ = writeln!(
        out,
        "#[Max     = {max_us:12.digits$}, Total count    = {:12}]",
        h.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        sub_bucket_count(h.sigfig())
    );
    out
}

/// HdrHistogram's sub-bucket count for a precision: the smallest power of
/// two that resolves `2 * 10^digits` values one by one (2048 for 3 digits).
/// The crate keeps it private; the footer needs it.
fn sub_bucket_count(digits: u8) -> u64 {
    (2 * 10_u64.pow(u32::from(digits))).next_power_of_two()
}

/// Consecutive flagged seconds with the same reason, as one line of the
/// summary.
struct Stretch {
    first: u64,
    last: u64,
    reason: FlagReason,
    sent: u64,
    answered: u64,
    in_flight_first: u64,
}

fn stretches(flagged: &[FlaggedSecond]) -> Vec<Stretch> {
    let mut out: Vec<Stretch> = Vec::new();
    for f in flagged {
        match out.last_mut() {
            Some(s) if s.reason == f.reason && s.last + 1 == f.second => {
                s.last = f.second;
                s.sent += f.sent;
                s.answered += f.answered;
            }
            _ => out.push(Stretch {
                first: f.second,
                last: f.second,
                reason: f.reason,
                sent: f.sent,
                answered: f.answered,
                in_flight_first: f.in_flight,
            }),
        }
    }
    out
}

/// The min, median (the lower middle for an even count) and max; zeros when
/// empty.
fn min_median_max(values: impl Iterator<Item = u64>) -> (u64, u64, u64) {
    let mut v: Vec<u64> = values.collect();
    if v.is_empty() {
        return (0, 0, 0);
    }
    v.sort_unstable();
    (v[0], v[(v.len() - 1) / 2], v[v.len() - 1])
}

/// NaN and infinities (a rate over an empty window) would not survive the
/// JSON round trip; they read as 0.
fn finite_or_zero(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

/// `x` to `decimals` places, and 0 when not finite. The report's figures
/// carry no more than they mean (latencies to the nanosecond, rates to
/// 0.001/s, percentiles to 10 decimals, as in the `.hgrm` files), which
/// keeps the JSON readable and makes every figure parse back to the very
/// same `f64` (a short decimal is read exactly; a 17-digit one may not be).
fn round_to(x: f64, decimals: i32) -> f64 {
    let scale = 10_f64.powi(decimals);
    finite_or_zero((x * scale).round() / scale)
}

/// `1234567` as `1,234,567`.
fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate: whole requests per second with thousands grouped, or one
/// decimal under 100/s.
fn fmt_rate(rate: f64) -> String {
    if rate < 100.0 {
        format!("{rate:.1}")
    } else {
        group_thousands(rate.round() as u64)
    }
}

/// A latency in µs with about three significant digits (the histogram's
/// precision): `1.23`, `45.6`, `123.4`, `12,345`.
fn fmt_us(us: f64) -> String {
    if us < 10.0 {
        format!("{us:.2}")
    } else if us < 1000.0 {
        format!("{us:.1}")
    } else {
        group_thousands(us.round() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::latency_histogram;

    /// A run with 99 order acks at 20 µs and one at 5 ms, 10 status acks at
    /// 1.5 µs, and a per-second view with a stall at seconds 5 and 6.
    fn results() -> Results {
        let mut order_ack = latency_histogram();
        order_ack.record_n(20_000, 99).unwrap();
        order_ack.record(5_000_000).unwrap();
        let mut status_ack = latency_histogram();
        status_ack.record_n(1_500, 10).unwrap();
        let mut histograms = BTreeMap::new();
        histograms.insert(Metric::OrderAck, order_ack);
        histograms.insert(Metric::StatusAck, status_ack);
        // An empty histogram must be omitted, not reported as zeros.
        histograms.insert(Metric::CancelAck, latency_histogram());

        let per_second = (0..10)
            .map(|second| {
                let (sent, answered) = match second {
                    0 => (500, 450),
                    5 | 6 => (1000, 0),
                    7 => (1000, 3050),
                    9 => (200, 200),
                    _ => (1000, 1000),
                };
                Second {
                    second,
                    sent,
                    answered,
                    fills: 0,
                    rejects: 0,
                }
            })
            .collect();
        let mut rejects = BTreeMap::new();
        rejects.insert("unknown instrument".to_owned(), 7);
        rejects.insert("price outside band".to_owned(), 2);
        Results {
            scenario: "smoke".to_owned(),
            label: "run-a".to_owned(),
            transport: "fix".to_owned(),
            started_utc: "2025-06-01T12:00:00Z".to_owned(),
            target_rate: 1000.0,
            ramp_up_s: 1.0,
            warmup_s: 2.0,
            duration_s: 10.0,
            measured_s: 8.0,
            sent_measured: 7_700,
            sent_total: 8_700,
            achieved_rate: 962.5,
            histograms,
            per_second,
            rejects,
            errors: vec!["session T1 disconnected: connection reset by peer".to_owned()],
            disconnects: 1,
            unanswered: 12,
            complete: true,
        }
    }

    fn row<'a>(text: &'a str, metric: &str) -> &'a str {
        text.lines()
            .find(|l| l.starts_with(metric))
            .unwrap_or_else(|| panic!("no row for {metric} in\n{text}"))
    }

    #[test]
    fn summary_prints_rate_percentiles_and_problems() {
        let text = summary(&results());
        println!("{text}");
        assert!(text.contains("scenario smoke, run \"run-a\", over fix"));
        assert!(
            text.contains("963/s achieved of 1,000/s target (96.2%)"),
            "{text}"
        );
        assert!(text.contains("7,700 measured, 8,700 in all"));
        // 20 µs lands in a 16 ns bucket (20.015 µs); 5 ms in a 4096 ns one.
        let cols: Vec<&str> = row(&text, "order_ack").split_whitespace().collect();
        assert_eq!(
            cols,
            [
                "order_ack",
                "100",
                "20.0",
                "20.0",
                "20.0",
                "5,001",
                "5,001",
                "5,001"
            ]
        );
        let cols: Vec<&str> = row(&text, "status_ack").split_whitespace().collect();
        assert_eq!(
            cols[1..],
            ["10", "1.50", "1.50", "1.50", "1.50", "1.50", "1.50"]
        );
        assert!(!text.contains("cancel_ack"), "an empty metric is omitted");
        assert!(text.contains("7  unknown instrument"));
        assert!(text.contains("2  price outside band"));
        assert!(text.contains("connection reset by peer"));
        assert!(text.contains("disconnects  1"));
        assert!(text.contains("unanswered   12"));
        assert!(!text.contains("PARTIAL"));
        assert!(text.lines().count() < 40, "summary fits a terminal");
    }

    #[test]
    fn summary_of_a_partial_run_says_so_at_both_ends() {
        let mut r = results();
        r.complete = false;
        let text = summary(&r);
        let first_lines: String = text.lines().take(3).collect();
        assert!(first_lines.contains("PARTIAL RESULTS"));
        assert!(
            text.trim_end()
                .lines()
                .last()
                .unwrap()
                .contains("PARTIAL RESULTS")
        );
    }

    #[test]
    fn summary_of_an_empty_run_does_not_panic() {
        let mut r = results();
        r.histograms.clear();
        r.per_second.clear();
        r.target_rate = 0.0;
        r.achieved_rate = f64::NAN;
        let text = summary(&r);
        assert!(text.contains("no latency samples"));
        assert!(text.contains("no seconds recorded"));
        assert!(text.contains("0.0/s achieved of 0.0/s target\n"));
    }

    #[test]
    fn stall_seconds_are_flagged() {
        let report = RunReport::from_results(&results());
        let t = &report.throughput;
        // Steady state: seconds 1 to 8 (ramp-up 1 s; 9 is the last).
        assert_eq!((t.steady_first_s, t.steady_last_s), (1, 8));
        assert_eq!(
            (t.sent_per_s_min, t.sent_per_s_median, t.sent_per_s_max),
            (1000, 1000, 1000)
        );
        assert_eq!(t.answered_per_s_median, 1000);
        let flagged: Vec<(u64, FlagReason, u64)> = t
            .flagged
            .iter()
            .map(|f| (f.second, f.reason, f.in_flight))
            .collect();
        assert_eq!(
            flagged,
            [
                (5, FlagReason::NoAnswers, 50),
                (6, FlagReason::NoAnswers, 1050)
            ]
        );
        let text = report.summary();
        assert!(
            text.contains("s 5-6: no answers (sent 2,000, answered 0, 50 in flight at s 5)"),
            "{text}"
        );
    }

    #[test]
    fn low_throughput_seconds_are_flagged_after_ramp_up_only() {
        let mut r = results();
        r.per_second[0].sent = 10; // ramp-up: not held to the median
        r.per_second[3].sent = 400; // steady: under half the median
        let report = RunReport::from_results(&r);
        let low: Vec<u64> = report
            .throughput
            .flagged
            .iter()
            .filter(|f| f.reason == FlagReason::LowSent)
            .map(|f| f.second)
            .collect();
        assert_eq!(low, [3]);
        assert!(report.summary().contains("s 3: sent under half the median"));
    }

    #[test]
    fn json_round_trips() {
        let r = results();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        write_json(&r, &path).unwrap();
        let back = read_json(&path).unwrap();
        assert_eq!(back, RunReport::from_results(&r));
        assert_eq!(back.metrics.len(), 2);
        let order_ack = &back.metrics[0];
        assert_eq!(order_ack.metric, Metric::OrderAck);
        assert_eq!(order_ack.count, 100);
        assert_eq!(order_ack.latency_us_p50, 20.015);
        assert_eq!(order_ack.latency_us_max, 5001.215);
        let last = order_ack.percentiles.last().unwrap();
        assert_eq!(
            (last.percentile, last.latency_us, last.total_count),
            (100.0, 5001.215, 100)
        );
        assert!(
            order_ack
                .percentiles
                .windows(2)
                .all(|w| w[0].percentile <= w[1].percentile)
        );
        assert_eq!(back.per_second, r.per_second);
        assert_eq!(back.rejects["unknown instrument"], 7);
        // The in-memory value names metrics and fields as the file does.
        let v = to_json(&r);
        assert_eq!(v["metrics"][1]["metric"], "status_ack");
        assert_eq!(v["metrics"][0]["latency_us_p99_9"], 5001.215);
        assert_eq!(v["throughput"]["flagged"][0]["reason"], "no_answers");
    }

    #[test]
    fn read_json_names_the_file_it_cannot_use() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk.json");
        fs::write(&path, "{\"hello\": 1}").unwrap();
        let err = format!("{:#}", read_json(&path).unwrap_err());
        assert!(
            err.contains("junk.json is not a loadgen JSON report"),
            "{err}"
        );

        let mut v = to_json(&results());
        v["format_version"] = 99.into();
        fs::write(&path, v.to_string()).unwrap();
        let err = format!("{:#}", read_json(&path).unwrap_err());
        assert!(err.contains("format version 99"), "{err}");
    }

    #[test]
    fn hgrm_matches_hdrhistogram_layout_in_microseconds() {
        let mut h = latency_histogram();
        for ns in 1..=1000_u64 {
            h.record(ns * 1000).unwrap(); // 1 µs to 1 ms, once each
        }
        let text = hgrm_text(&h);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "       Value     Percentile TotalCount 1/(1-Percentile)"
        );
        assert_eq!(lines[1], "");
        // The first row: the lowest value, at percentile 0.
        assert_eq!(
            lines[2],
            "       1.000 0.000000000000          1           1.00"
        );

        let rows: Vec<&str> = lines[2..]
            .iter()
            .copied()
            .take_while(|l| !l.starts_with('#'))
            .collect();
        let last = rows.last().unwrap();
        assert_eq!(
            last.split_whitespace().collect::<Vec<_>>(),
            ["1000.447", "1.000000000000", "1000"]
        );
        // Every other row has four columns, rising in value and percentile.
        let parsed: Vec<(f64, f64)> = rows[..rows.len() - 1]
            .iter()
            .map(|r| {
                let c: Vec<&str> = r.split_whitespace().collect();
                assert_eq!(c.len(), 4, "{r}");
                (c[0].parse().unwrap(), c[1].parse().unwrap())
            })
            .collect();
        assert!(
            parsed
                .windows(2)
                .all(|w| w[0].0 <= w[1].0 && w[0].1 < w[1].1)
        );
        // The median of 1..=1000 µs is 500 µs (bucket of 256 ns: 500.223).
        let p50 = parsed.iter().find(|(_, p)| *p == 0.5).unwrap();
        assert_eq!(p50.0, 500.223);

        let footer = &lines[lines.len() - 3..];
        assert!(
            footer[0].starts_with("#[Mean    =      500."),
            "{}",
            footer[0]
        );
        assert!(
            footer[0].contains(", StdDeviation   =      288."),
            "{}",
            footer[0]
        );
        assert_eq!(
            footer[1],
            "#[Max     =     1000.447, Total count    =         1000]"
        );
        assert_eq!(
            footer[2],
            format!(
                "#[Buckets = {:12}, SubBuckets     =         2048]",
                h.buckets()
            )
        );
        assert_eq!(h.buckets(), 32);
    }

    #[test]
    fn hgrm_of_an_empty_histogram_has_header_and_footer_only() {
        let text = hgrm_text(&latency_histogram());
        assert_eq!(text.lines().count(), 5, "{text}");
        assert!(text.contains("#[Max     =        0.000, Total count    =            0]"));
    }

    #[test]
    fn write_all_writes_json_hgrm_per_metric_with_samples_and_chart() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("reports");
        let paths = write_all(&results(), &out, "smoke").unwrap();
        let names: Vec<String> = paths
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "smoke.json",
                "smoke.order_ack.hgrm",
                "smoke.status_ack.hgrm",
                "smoke.svg"
            ]
        );
        for p in &paths {
            assert!(fs::metadata(p).unwrap().len() > 0, "{}", p.display());
        }
        let hgrm = fs::read_to_string(&paths[1]).unwrap();
        assert!(hgrm.contains("Total count    =          100]"));
    }

    #[test]
    fn number_formats() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(group_thousands(1_234_567), "1,234,567");
        assert_eq!(fmt_us(1.234), "1.23");
        assert_eq!(fmt_us(45.66), "45.7");
        assert_eq!(fmt_us(12_345.4), "12,345");
        assert_eq!(fmt_rate(99.94), "99.9");
        assert_eq!(fmt_rate(200_000.4), "200,000");
        assert_eq!(sub_bucket_count(3), 2048);
        assert_eq!(sub_bucket_count(2), 256);
    }
}
