//! The latency-by-percentile chart: one line per (run, metric), runs
//! overlaid, written as SVG.
//!
//! The x axis is the percentile on HdrHistogram's usual scale,
//! `log10(1 / (1 - p))`, so 0%, 90%, 99%, 99.9%, ... are equally spaced and
//! the tail gets the room it deserves; it spans at least to 99.999% and
//! further when a curve reaches further. The y axis is the latency on a
//! log scale (decades labelled in ns, µs, ms or s), so a 20 µs median and
//! a 5 ms tail both read. Each line is a report's percentile curve
//! ([`crate::report::PercentilePoint`]), whose last point (percentile 100,
//! the max) has no place on a scale of `1/(1-p)`, where it is infinite: the
//! curve ends at its last finite percentile (which, with HdrHistogram's
//! iteration, normally already carries the max).
//!
//! The chart is built from [`RunReport`]s, not histograms, so runs saved
//! as JSON months apart overlay as well as the one just finished.
//!
//! Text: plotters is built without a font feature, so it measures labels
//! with its built-in estimate (no font file or system font is read) and the
//! SVG backend writes `<text>` elements that the viewer renders in its own
//! sans-serif. Only SVG is written; a PNG would need a rasteriser and fonts.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use plotters::prelude::{
    BLACK, ChartBuilder, Circle, Color, IntoDrawingArea, LineSeries, PathElement, RGBColor,
    SVGBackend, SeriesLabelPosition, WHITE,
};

use crate::record::Metric;
use crate::report::{self, RunReport};

/// Chart size in pixels.
const SIZE_PX: (u32, u32) = (1200, 720);

/// The x axis reaches at least 99.999% (`1/(1-p) = 10^5`).
const X_DECADES_MIN: u32 = 5;

/// ... and at most 99.9999999% (a billion samples): points further right
/// are left out.
const X_DECADES_MAX: u32 = 9;

/// Line colours: the Okabe-Ito palette without its yellow (too pale on
/// white), which colour-blind readers can tell apart; repeats after seven.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0x00, 0x72, 0xB2), // blue
    RGBColor(0xD5, 0x5E, 0x00), // vermillion
    RGBColor(0x00, 0x9E, 0x73), // bluish green
    RGBColor(0xCC, 0x79, 0xA7), // reddish purple
    RGBColor(0xE6, 0x9F, 0x00), // orange
    RGBColor(0x56, 0xB4, 0xE9), // sky blue
    RGBColor(0x00, 0x00, 0x00), // black
];

/// The lowest latency the y axis shows, in µs (the histograms record whole
/// nanoseconds, so a zero would otherwise have no place on a log scale).
const LATENCY_US_FLOOR: f64 = 0.001;

/// Plots the latency-by-percentile curves of `metrics` (every metric when
/// empty) for each run into the SVG file `out`. The legend names each line
/// by its run's label and its metric.
///
/// # Errors
///
/// When `runs` is empty, `out` is not an `.svg` path, or the file cannot
/// be written. A run without samples for the metrics is no error: the chart
/// then says so.
pub fn plot(runs: &[RunReport], metrics: &[Metric], out: &Path) -> Result<()> {
    if runs.is_empty() {
        bail!("no run to plot");
    }
    let is_svg = out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("svg"));
    if !is_svg {
        bail!(
            "cannot write the chart {}: only SVG charts are written; name it *.svg",
            out.display()
        );
    }
    let svg = render_svg(runs, metrics)?;
    fs::write(out, svg).with_context(|| format!("writing the chart {}", out.display()))
}

/// Plots the JSON reports `inputs` (written by [`report::write_json`]) into
/// the SVG file `out`, every metric of every run. Two runs with the same
/// label are told apart by their file names.
///
/// # Errors
///
/// When `inputs` is empty, a report cannot be read, or the chart cannot be
/// written (see [`plot`]).
pub fn plot_files(inputs: &[PathBuf], out: &Path) -> Result<()> {
    if inputs.is_empty() {
        bail!("give at least one JSON report to plot");
    }
    let mut runs = inputs
        .iter()
        .map(|p| report::read_json(p))
        .collect::<Result<Vec<_>>>()?;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for r in &runs {
        *seen.entry(r.display_label().to_owned()).or_default() += 1;
    }
    for (r, path) in runs.iter_mut().zip(inputs) {
        if seen[r.display_label()] > 1 {
            let stem = path.file_stem().unwrap_or_default().to_string_lossy();
            r.label = format!("{} ({stem})", r.display_label());
        }
    }
    plot(&runs, &[], out)
}

/// One line of the chart, in chart coordinates: x is `log10(1/(1-p))`, y is
/// `log10(latency in µs)`.
struct Line {
    label: String,
    points: Vec<(f64, f64)>,
}

fn lines(runs: &[RunReport], metrics: &[Metric]) -> Vec<Line> {
    let mut out = Vec::new();
    for run in runs {
        for m in &run.metrics {
            if !metrics.is_empty() && !metrics.contains(&m.metric) {
                continue;
            }
            let points: Vec<(f64, f64)> = m
                .percentiles
                .iter()
                .filter(|p| p.percentile < 100.0)
                .map(|p| {
                    let x = (1.0 / (1.0 - p.percentile / 100.0)).log10();
                    let y = p.latency_us.max(LATENCY_US_FLOOR).log10();
                    (x, y)
                })
                .filter(|(x, y)| x.is_finite() && *x <= f64::from(X_DECADES_MAX) && y.is_finite())
                .collect();
            if !points.is_empty() {
                out.push(Line {
                    label: format!("{}: {}", run.display_label(), m.metric.name()),
                    points,
                });
            }
        }
    }
    out
}

fn render_svg(runs: &[RunReport], metrics: &[Metric]) -> Result<String> {
    let lines = lines(runs, metrics);

    let x_max = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.0))
        .fold(0.0_f64, f64::max);
    let x_decades = (x_max.ceil() as u32).clamp(X_DECADES_MIN, X_DECADES_MAX);
    let (y_lo, y_hi) = y_decades(&lines);

    let mut caption = String::from("Latency by percentile");
    if let [run] = runs {
        caption = format!(
            "{caption}: {} ({}, {})",
            run.scenario,
            run.display_label(),
            run.transport
        );
    }
    if lines.is_empty() {
        caption.push_str(" (no latency samples)");
    }

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE_PX).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 28))
            .margin(20)
            // Room for the last percentile label, centred on the right edge.
            .margin_right(60)
            .x_label_area_size(50)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..f64::from(x_decades), f64::from(y_lo)..f64::from(y_hi))
            .map_err(draw_err)?;
        // One label per decade: on a whole-number range, plotters picks
        // whole-number key points when asked for exactly that many.
        chart
            .configure_mesh()
            .x_labels(x_decades as usize + 1)
            .y_labels((y_hi - y_lo) as usize + 1)
            .max_light_lines(0)
            .x_desc("percentile")
            .y_desc("latency from intended send time (log scale)")
            .x_label_formatter(&|x| whole(*x).map_or_else(String::new, percentile_label))
            .y_label_formatter(&|y| whole(*y).map_or_else(String::new, latency_label))
            .axis_desc_style(("sans-serif", 20))
            .label_style(("sans-serif", 18))
            .draw()
            .map_err(draw_err)?;
        // The log scale's light grid: 2x and 5x within each latency decade.
        let light = BLACK.mix(0.08);
        let x_end = f64::from(x_decades);
        chart
            .draw_series((y_lo..y_hi).flat_map(|d| {
                [2_f64, 5.0].map(|k| {
                    let y = f64::from(d) + k.log10();
                    PathElement::new(vec![(0.0, y), (x_end, y)], light)
                })
            }))
            .map_err(draw_err)?;

        for (i, line) in lines.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let style = color.stroke_width(2);
            let series = if line.points.len() == 1 {
                // One distinct value: a line needs two points, so mark it.
                chart.draw_series(
                    line.points
                        .iter()
                        .map(|p| Circle::new(*p, 4, color.filled())),
                )
            } else {
                chart.draw_series(LineSeries::new(line.points.iter().copied(), style))
            }
            .map_err(draw_err)?;
            series
                .label(line.label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
        }
        if !lines.is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .label_font(("sans-serif", 18))
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .draw()
                .map_err(draw_err)?;
        }
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

/// The latency decades (powers of ten of µs) the y axis spans: from the
/// one at or below the lowest point to the one at or above the highest,
/// at least one decade; 1 µs to 1 ms when there is nothing to plot.
fn y_decades(lines: &[Line]) -> (i32, i32) {
    let ys = || lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
    let (Some(lo), Some(hi)) = (ys().reduce(f64::min), ys().reduce(f64::max)) else {
        return (0, 3);
    };
    let lo = lo.floor() as i32;
    let hi = (hi.ceil() as i32).max(lo + 1);
    (lo, hi)
}

/// `x` when it is a whole number (a decade), so that a tick plotters puts
/// between decades gets no label.
fn whole<T: TryFrom<i64>>(x: f64) -> Option<T> {
    let r = x.round();
    if (x - r).abs() < 1e-9 {
        T::try_from(r as i64).ok()
    } else {
        None
    }
}

/// The percentile whose `1/(1-p)` is `10^decades`: `0%`, `90%`, `99%`,
/// `99.9%`, ...
fn percentile_label(decades: u32) -> String {
    match decades {
        0 => "0%".to_owned(),
        1 => "90%".to_owned(),
        d => format!(
            "99{}{}%",
            if d > 2 { "." } else { "" },
            "9".repeat(d as usize - 2)
        ),
    }
}

/// `10^decade` µs in the unit that reads best: `100 ns`, `1 µs`, `10 ms`,
/// `1 s`.
fn latency_label(decade: i32) -> String {
    let (exp, unit) = match decade {
        d if d < 0 => (d + 3, "ns"),
        d if d < 3 => (d, "µs"),
        d if d < 6 => (d - 3, "ms"),
        d => (d - 6, "s"),
    };
    format!("{} {unit}", 10_u64.pow(exp.max(0) as u32))
}

fn draw_err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing the chart: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{MetricReport, PercentilePoint, REPORT_FORMAT_VERSION, Throughput};

    /// A report of one metric whose latency rises from `base_us` at 0% to
    /// 100x that at 99.99%.
    fn run(label: &str, metric: Metric, base_us: f64) -> RunReport {
        let percentiles: Vec<PercentilePoint> = [0.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0]
            .iter()
            .enumerate()
            .map(|(i, &percentile)| PercentilePoint {
                percentile,
                latency_us: base_us * 10_f64.powf(i.min(5) as f64 * 0.4),
                total_count: 10_000,
            })
            .collect();
        RunReport {
            format_version: REPORT_FORMAT_VERSION,
            scenario: "smoke".to_owned(),
            label: label.to_owned(),
            transport: "fix".to_owned(),
            started_utc: "2025-06-01T12:00:00Z".to_owned(),
            target_rate: 1000.0,
            achieved_rate: 1000.0,
            achieved_pct_of_target: Some(100.0),
            ramp_up_s: 0.0,
            warmup_s: 0.0,
            duration_s: 10.0,
            measured_s: 10.0,
            sent_measured: 10_000,
            sent_total: 10_000,
            complete: true,
            metrics: vec![MetricReport {
                metric,
                count: 10_000,
                latency_us_min: base_us,
                latency_us_mean: base_us,
                latency_us_p50: base_us,
                latency_us_p90: base_us,
                latency_us_p99: base_us,
                latency_us_p99_9: base_us,
                latency_us_p99_99: base_us,
                latency_us_max: base_us * 100.0,
                percentiles,
            }],
            throughput: Throughput::default(),
            per_second: Vec::new(),
            rejects: Default::default(),
            errors: Vec::new(),
            disconnects: 0,
            unanswered: 0,
        }
    }

    /// The text of every `<text>` element (plotters puts it on its own
    /// line between the tags).
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .map(|t| {
                let body = &t[t.find('>').unwrap() + 1..t.find("</text>").unwrap()];
                body.trim().to_owned()
            })
            .collect()
    }

    fn assert_well_formed_svg(svg: &str) {
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    }

    #[test]
    fn two_runs_overlay_with_legend_and_axis_labels() {
        let runs = [
            run("before", Metric::OrderAck, 20.0),
            run("after", Metric::OrderAck, 15.0),
        ];
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("chart.svg");
        plot(&runs, &[], &out).unwrap();
        let svg = fs::read_to_string(&out).unwrap();
        assert_well_formed_svg(&svg);
        let texts = texts(&svg);
        let has = |t: &str| texts.iter().any(|x| x == t);
        assert!(
            has("before: order_ack"),
            "legend names run and metric: {texts:?}"
        );
        assert!(has("after: order_ack"));
        for label in ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"] {
            assert!(has(label), "x label {label}: {texts:?}");
        }
        // 15 µs to 2 ms spans the decades 10 µs to 10 ms.
        for label in ["10 µs", "100 µs", "1 ms", "10 ms"] {
            assert!(has(label), "y label {label}: {texts:?}");
        }
        assert!(!has("1 µs"), "the axis starts at the lowest decade used");
        assert!(
            !has("99.9999%"),
            "the axis ends at 99.999% when no curve goes further"
        );
        assert!(has("percentile"));
        assert!(has("Latency by percentile"));
        let thick = svg.matches(r#"stroke-width="2""#).count();
        assert_eq!(thick, 2 + 2, "two curves and two legend marks");
    }

    #[test]
    fn metrics_filter_the_lines() {
        let mut a = run("a", Metric::OrderAck, 20.0);
        a.metrics.extend(run("a", Metric::CancelAck, 30.0).metrics);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("chart.svg");
        plot(&[a.clone()], &[Metric::CancelAck], &out).unwrap();
        let svg = fs::read_to_string(&out).unwrap();
        assert_eq!(
            texts(&svg)
                .iter()
                .filter(|t| t.starts_with("a: "))
                .collect::<Vec<_>>(),
            ["a: cancel_ack"]
        );
        plot(&[a], &[], &out).unwrap();
        let svg = fs::read_to_string(&out).unwrap();
        let legend: Vec<String> = texts(&svg)
            .into_iter()
            .filter(|t| t.starts_with("a: "))
            .collect();
        assert_eq!(legend, ["a: order_ack", "a: cancel_ack"]);
    }

    #[test]
    fn a_run_without_samples_still_charts() {
        let mut r = run("empty", Metric::OrderAck, 20.0);
        r.metrics.clear();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("chart.svg");
        plot(&[r], &[], &out).unwrap();
        let svg = fs::read_to_string(&out).unwrap();
        assert_well_formed_svg(&svg);
        assert!(
            texts(&svg)
                .iter()
                .any(|t| t.ends_with("(no latency samples)"))
        );
    }

    #[test]
    fn plot_refuses_what_it_cannot_draw() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("chart.png");
        let err = plot(&[run("a", Metric::OrderAck, 1.0)], &[], &png).unwrap_err();
        assert!(err.to_string().contains("only SVG"), "{err}");
        assert!(!png.exists());
        let svg = dir.path().join("chart.svg");
        assert!(plot(&[], &[], &svg).is_err());
        assert!(plot_files(&[], &svg).is_err());
    }

    #[test]
    fn plot_files_reads_reports_and_tells_equal_labels_apart() {
        let dir = tempfile::tempdir().unwrap();
        let mut inputs = Vec::new();
        for (name, base_us) in [("monday", 20.0), ("tuesday", 25.0)] {
            let path = dir.path().join(format!("{name}.json"));
            let text = serde_json::to_string(&run("nightly", Metric::OrderAck, base_us)).unwrap();
            fs::write(&path, text).unwrap();
            inputs.push(path);
        }
        let out = dir.path().join("both.svg");
        plot_files(&inputs, &out).unwrap();
        let svg = fs::read_to_string(&out).unwrap();
        let legend: Vec<String> = texts(&svg)
            .into_iter()
            .filter(|t| t.starts_with("nightly"))
            .collect();
        assert_eq!(
            legend,
            [
                "nightly (monday): order_ack",
                "nightly (tuesday): order_ack"
            ]
        );
    }

    #[test]
    fn axis_labels() {
        assert_eq!(percentile_label(0), "0%");
        assert_eq!(percentile_label(1), "90%");
        assert_eq!(percentile_label(2), "99%");
        assert_eq!(percentile_label(5), "99.999%");
        assert_eq!(latency_label(-1), "100 ns");
        assert_eq!(latency_label(0), "1 µs");
        assert_eq!(latency_label(2), "100 µs");
        assert_eq!(latency_label(3), "1 ms");
        assert_eq!(latency_label(7), "10 s");
    }
}
