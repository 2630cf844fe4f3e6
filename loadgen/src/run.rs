//! One run: connect, send on schedule, measure, drain, end every order,
//! and assemble the [`Results`] (partial ones too, when the run stops
//! early).
//!
//! The sending thread follows the schedule and nothing else: it sleeps
//! until the next request is due (yielding the last 150 µs), then draws,
//! plans and sends every request due by now in one batch. If it falls
//! behind (the venue's socket is full, the machine is busy), the requests
//! go out late but keep their intended times, so their latencies carry the
//! delay. A progress bar (or, off a terminal, one line per second) shows
//! the rate, the requests in flight and the running p99 of order to ack.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use engine::types::ParticipantId;
use indicatif::{ProgressBar, ProgressStyle};
use venue::config::VenueConfig;

use crate::fix::{FixTransport, Logon};
use crate::generator::{Generator, Instrument, Schedule};
use crate::inproc::InProcess;
use crate::record::{Observed, Results};
use crate::scenario::Scenario;
use crate::state::{SessionInfo, State};

/// How a run is done, beyond its scenario.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Overrides the scenario's rate.
    pub rate: Option<f64>,
    /// Overrides the scenario's duration.
    pub duration_s: Option<f64>,
    /// Overrides the venue's FIX address.
    pub fix: Option<SocketAddr>,
    /// Drive the matching loop in this process, with its journal in this
    /// directory.
    pub in_process: Option<PathBuf>,
    /// Keep every report for `--verify`.
    pub collect: bool,
    /// A label for charts (default: scenario and rate).
    pub label: Option<String>,
    /// Draw a progress bar or per-second lines on stderr.
    pub progress: bool,
}

/// A finished (or stopped) run.
#[derive(Debug)]
pub struct Outcome {
    /// What it measured.
    pub results: Results,
    /// What it sent and saw (empty unless collected).
    pub observed: Observed,
}

enum Transport {
    Fix(FixTransport),
    InProcess(InProcess),
}

/// Set by Ctrl-C: stop sending, drain, write partial results.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn utc_now() -> String {
    let ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    jiff::Timestamp::from_nanosecond(ns as i128).map_or_else(|_| String::new(), |t| t.to_string())
}

/// The run's ClOrdID prefix: `LG`, the start time in milliseconds in base
/// 36 and a dash, so that runs on one day never reuse a ClOrdID.
fn prefix() -> String {
    let mut ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut digits = Vec::new();
    while ms > 0 {
        digits.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[(ms % 36) as usize]);
        ms /= 36;
    }
    digits.reverse();
    format!("LG{}-", String::from_utf8_lossy(&digits))
}

/// The scenario's sessions, checked against the venue's configuration.
fn sessions(scenario: &Scenario, venue: &VenueConfig) -> Result<(Vec<SessionInfo>, Vec<Logon>)> {
    let mut infos = Vec::new();
    let mut logons = Vec::new();
    for s in &scenario.file.sessions {
        // The venue's session config is from its side: its target is the
        // client.
        let Some(v) = venue
            .fix_sessions
            .iter()
            .find(|v| v.target_comp_id == s.sender_comp_id)
        else {
            bail!(
                "session {} is not in the venue's configuration {} (its [[participant]] [participant.fix] sender_comp_id values are: {})",
                s.sender_comp_id,
                scenario.venue_config_path.display(),
                venue
                    .fix_sessions
                    .iter()
                    .map(|v| v.target_comp_id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        let password = match &s.password_env {
            Some(var) => Some(std::env::var(var).with_context(|| {
                format!(
                    "session {}: the environment variable {var} (password_env) is not set",
                    s.sender_comp_id
                )
            })?),
            None => None,
        };
        if v.password_hash.is_some() && password.is_none() {
            bail!(
                "session {} needs a password: set password_env in its [[session]] and export that variable",
                s.sender_comp_id
            );
        }
        infos.push(SessionInfo {
            name: s.sender_comp_id.clone(),
            participant: v.participant.0,
            role: s.role,
        });
        logons.push(Logon {
            sender: s.sender_comp_id.clone(),
            target: v.sender_comp_id.clone(),
            username: s.username.clone().or_else(|| v.username.clone()),
            password,
        });
    }
    Ok((infos, logons))
}

/// The scenario's instruments, from the venue's configuration.
///
/// # Errors
/// A symbol is not one of the venue's, or is unusable (see
/// [`Instrument::new`]).
pub fn instruments(scenario: &Scenario, venue: &VenueConfig) -> Result<Vec<Instrument>> {
    scenario
        .file
        .instruments
        .iter()
        .map(|i| {
            let spec = venue
                .engine
                .instruments
                .iter()
                .find(|s| s.symbol == i.symbol)
                .with_context(|| {
                    format!(
                        "instrument {} is not in the venue's configuration {}",
                        i.symbol,
                        scenario.venue_config_path.display()
                    )
                })?;
            Instrument::new(spec, i.qty_lots, i.weight)
        })
        .collect()
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `scenario` against the venue `venue` describes.
///
/// # Errors
/// The scenario does not match the venue, or the venue cannot be reached
/// or refuses the logon: nothing was sent. Once sending has started, a
/// problem ends the run early with partial results instead.
pub fn run(scenario: &Scenario, venue: &VenueConfig, opts: &Options) -> Result<Outcome> {
    let (infos, logons) = sessions(scenario, venue)?;
    let instruments = Arc::new(instruments(scenario, venue)?);
    let load = &scenario.file.load;
    let rate = opts.rate.unwrap_or(load.rate);
    let duration_s = opts.duration_s.unwrap_or(load.duration_s);
    if opts.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        bail!("--rate must be a positive number of requests per second");
    }
    if load.warmup_s >= duration_s {
        bail!(
            "the warm-up ({} s) is not shorter than the duration ({duration_s} s)",
            load.warmup_s
        );
    }
    let warmup_ns = (load.warmup_s * 1e9) as u64;
    let participants: Vec<ParticipantId> =
        infos.iter().map(|i| ParticipantId(i.participant)).collect();
    let state = Arc::new(Mutex::new(State::new(
        &prefix(),
        infos,
        warmup_ns,
        opts.collect,
    )));
    let target = &scenario.file.target;
    let timeout = Duration::from_secs(target.logon_timeout_s.unwrap_or(10));
    let start = Instant::now();
    let transport = match &opts.in_process {
        Some(data) => Transport::InProcess(InProcess::start(
            venue,
            data,
            participants,
            Arc::clone(&instruments),
            &state,
            start,
        )?),
        None => {
            let addr = opts.fix.or(target.fix).unwrap_or(venue.fix_listen);
            Transport::Fix(FixTransport::connect(
                addr,
                &logons,
                Arc::clone(&instruments),
                &state,
                start,
                timeout,
            )?)
        }
    };
    let started_utc = utc_now();
    // Sending starts now: the schedule's zero.
    let zero = now_ns(start);
    lock(&state).begin(zero);
    let mut scenario_run = scenario.clone();
    scenario_run.file.load.duration_s = duration_s;
    let schedule = Schedule::new(&scenario_run, rate);
    let mut generator = Generator::new(&scenario_run, (*instruments).clone());
    let expected = (rate * (duration_s - load.ramp_up_s / 2.0).max(0.0)) as u64;
    let progress = Progress::new(opts.progress, expected);
    let stop_reason = send_all(
        schedule,
        &mut generator,
        &transport,
        &state,
        start,
        zero,
        &progress,
    );
    let sent_end_ns = now_ns(start) - zero;
    // Drain: wait for the answers still due.
    let drain = Duration::from_secs(target.drain_timeout_s.unwrap_or(10));
    wait_until(&state, &transport, &progress, start, drain, |s| {
        s.in_flight() == 0
    });
    if target.cancel_at_end.unwrap_or(true) && stop_reason.as_ref().is_none_or(|r| !r.fatal) {
        match &transport {
            Transport::Fix(t) => t.mass_cancel(),
            Transport::InProcess(p) => p.mass_cancel(),
        }
        wait_until(&state, &transport, &progress, start, drain, |s| {
            s.all_mass_cancels_answered() && s.in_flight() == 0
        });
        // The cancels of the mass cancel follow its report on the same
        // stream; a moment for the last of them.
        std::thread::sleep(Duration::from_millis(100));
    }
    progress.finish();
    match transport {
        Transport::Fix(t) => t.logout(Duration::from_secs(2)),
        Transport::InProcess(p) => {
            if let Err(e) = p.shutdown() {
                lock(&state).error(format!("the in-process venue did not stop cleanly: {e:#}"));
            }
        }
    }
    let mut s = lock(&state);
    if let Some(r) = &stop_reason {
        s.error(r.text.clone());
    }
    let f = s.figures();
    let observed = s.take_observed();
    drop(s);
    let planned_measured_s = duration_s - load.warmup_s;
    let sent_s = sent_end_ns as f64 / 1e9 - load.warmup_s;
    let measured_s = if stop_reason.is_some() {
        sent_s.max(0.0)
    } else {
        planned_measured_s.max(sent_s)
    };
    let results = Results {
        scenario: scenario.name.clone(),
        label: opts
            .label
            .clone()
            .unwrap_or_else(|| format!("{} @ {}/s", scenario.name, fmt_rate(rate))),
        transport: if opts.in_process.is_some() {
            "in-process".to_owned()
        } else {
            "fix".to_owned()
        },
        started_utc,
        target_rate: rate,
        ramp_up_s: load.ramp_up_s,
        warmup_s: load.warmup_s,
        duration_s,
        measured_s,
        sent_measured: f.sent_measured,
        sent_total: f.sent_total,
        achieved_rate: if measured_s > 0.0 {
            f.sent_measured as f64 / measured_s
        } else {
            0.0
        },
        histograms: f.histograms,
        per_second: f.per_second,
        rejects: f.rejects,
        errors: f.errors,
        disconnects: f.disconnects,
        unanswered: f.unanswered,
        complete: stop_reason.is_none(),
    };
    Ok(Outcome { results, observed })
}

/// Why sending stopped before the schedule ended.
#[derive(Debug)]
struct Stop {
    text: String,
    /// The venue cannot be talked to any more: no end-of-run mass cancel.
    fatal: bool,
}

fn fmt_rate(r: f64) -> String {
    if r >= 1000.0 && (r / 1000.0).fract() == 0.0 {
        format!("{}k", r / 1000.0)
    } else {
        format!("{r}")
    }
}

fn now_ns(start: Instant) -> u64 {
    start.elapsed().as_nanos() as u64
}

/// Sends every scheduled request; `Some` when it stopped early.
fn send_all(
    mut schedule: Schedule,
    generator: &mut Generator,
    transport: &Transport,
    state: &Mutex<State>,
    start: Instant,
    zero: u64,
    progress: &Progress,
) -> Option<Stop> {
    let mut next = schedule.next().map(|t| t + zero);
    let mut batch = Vec::with_capacity(1024);
    let wall_every = Duration::from_millis(1);
    let mut wall = wall_ns();
    let mut wall_at = Instant::now();
    while let Some(due) = next {
        if INTERRUPTED.load(Ordering::Relaxed) {
            return Some(Stop {
                text: "interrupted (Ctrl-C): the results are partial".to_owned(),
                fatal: false,
            });
        }
        let now = now_ns(start);
        if due > now {
            let wait = due - now;
            // Sleep while the wait is long (waking ~80 µs early: timer
            // slack); else yield rather than spin, so that on a small
            // machine the venue's threads get the core.
            if wait > 150_000 {
                std::thread::sleep(Duration::from_nanos(wait - 80_000));
            } else {
                std::thread::yield_now();
            }
            progress.tick(state, now);
            continue;
        }
        if wall_at.elapsed() >= wall_every {
            wall = wall_ns();
            wall_at = Instant::now();
        }
        {
            let mut s = lock(state);
            while let Some(t) = next {
                if t > now || batch.len() == batch.capacity() {
                    break;
                }
                let d = generator.draw(t - zero);
                let req = s.plan(&d, t, now);
                if let Transport::Fix(f) = transport {
                    f.push(&req, wall);
                }
                batch.push(req);
                next = schedule.next().map(|t| t + zero);
            }
        }
        match transport {
            Transport::Fix(f) => {
                if let Some((session, why)) = f.flush().into_iter().next() {
                    let mut s = lock(state);
                    let name = s.sessions()[session].name.clone();
                    s.disconnected(session, &why);
                    return Some(Stop {
                        text: format!(
                            "{name}: the connection broke mid-run; the results are partial"
                        ),
                        fatal: true,
                    });
                }
                let sessions = lock(state).sessions().len();
                if let Some(i) = (0..sessions).find(|i| f.is_closed(*i)) {
                    let name = lock(state).sessions()[i].name.clone();
                    return Some(Stop {
                        text: format!(
                            "{name}: the venue closed the connection mid-run; the results are partial"
                        ),
                        fatal: true,
                    });
                }
            }
            Transport::InProcess(p) => {
                for req in &batch {
                    p.send(req);
                }
            }
        }
        batch.clear();
        progress.tick(state, now_ns(start));
    }
    None
}

fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Waits until `done` holds, the timeout passes, or a connection is lost.
fn wait_until(
    state: &Mutex<State>,
    transport: &Transport,
    progress: &Progress,
    start: Instant,
    timeout: Duration,
    done: impl Fn(&State) -> bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done(&lock(state)) {
            return true;
        }
        if let Transport::Fix(f) = transport {
            let n = lock(state).sessions().len();
            if (0..n).all(|i| f.is_closed(i)) {
                return false;
            }
            let _ = f.flush();
        }
        if Instant::now() >= deadline || INTERRUPTED.load(Ordering::Relaxed) {
            return false;
        }
        progress.tick(state, now_ns(start));
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The progress display: a bar on a terminal, else a line per second.
struct Progress {
    bar: Option<ProgressBar>,
    lines: bool,
    last: Mutex<(u64, u64, u64)>,
}

impl Progress {
    fn new(enabled: bool, expected: u64) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let bar = (enabled && terminal).then(|| {
            let bar = ProgressBar::new(expected.max(1));
            bar.set_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar
        });
        Progress {
            bar,
            lines: enabled && !terminal,
            last: Mutex::new((0, 0, 0)),
        }
    }

    /// Updates the display every 250 ms (bar) or second (lines).
    fn tick(&self, state: &Mutex<State>, now: u64) {
        if self.bar.is_none() && !self.lines {
            return;
        }
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let every = if self.bar.is_some() {
            250_000_000
        } else {
            1_000_000_000
        };
        if now < last.0 + every {
            return;
        }
        let mut s = lock(state);
        let sent = s.sent_total();
        let in_flight = s.in_flight();
        let p99 = s.take_interval_p99();
        drop(s);
        let dt = (now - last.0) as f64 / 1e9;
        let rate = (sent - last.1) as f64 / dt.max(1e-9);
        let p99 = p99.map_or_else(|| "-".to_owned(), |v| format!("{:.0} us", v as f64 / 1e3));
        let msg = format!("{rate:.0}/s in flight {in_flight} p99 {p99}");
        match &self.bar {
            Some(bar) => {
                bar.set_position(sent);
                bar.set_message(msg);
            }
            None => eprintln!("sent {sent}, {msg}"),
        }
        *last = (now, sent, last.2 + 1);
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
