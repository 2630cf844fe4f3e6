//! `venue journal ...`: the journal tools. Integrity (`verify`, `stat`),
//! decoded inputs (`dump`), the book at any moment (`book`), an order's
//! whole life (`order`), state at any point (`replay`) and order records
//! (`export`). The work is in [`venue::incident`]; this module parses the
//! command line and prints.
//!
//! All of them are read-only and take no lock, so they are safe on a live
//! journal (they read up to its last complete frame) and on a crashed one
//! before the venue reopens it. Every command but `stat` and `dump --raw`
//! replays inputs through the engine and so needs the configuration the
//! venue ran with (`--config`, as `venue run`).

use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use engine::{ClOrdId, Event, Input, InstrumentId, OrderId, OrderRef, ParticipantId};
use journal::{DumpRange, JournalError, JournalReport};
use venue::config::VenueConfig;
use venue::incident::book::BookView;
use venue::incident::export::Exporter;
use venue::incident::names::{INPUT_TYPE_NAMES, InputRow, Names, event_orders, event_text};
use venue::incident::order::{OrderKey, OrderQuery, order_life};
use venue::incident::replay::{Replay, verify as replay_verify};
use venue::incident::source::{
    Bounds, Frames, JournalPaths, Point, Progress, decode, parse_time_ns, utc_us,
};

/// The configuration the venue ran with.
#[derive(Debug, Args)]
pub(crate) struct ConfigArg {
    /// Venue configuration file (instruments and participants: the engine
    /// is rebuilt from it, and names and decimals come from it).
    #[arg(long, default_value = "examples/venue.toml")]
    config: PathBuf,
}

impl ConfigArg {
    fn load(&self) -> Result<VenueConfig> {
        venue::config::load(&self.config)
    }
}

/// `dump` and `export` output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExportFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// Journal subcommands. DIR is a data directory (holding `journal/` and
/// `snapshots/`, as `venue run --data` lays it out) or a journal directory
/// (segment files; snapshots then in `../snapshots`). Times are RFC 3339
/// (`2026-11-24T14:03:07.123456Z`) or ns since the Unix epoch; a moment
/// (`--at`, `--until`) is a sequence number or a time.
#[derive(Debug, Subcommand)]
pub(crate) enum JournalCommand {
    /// Check every frame (length, CRC32C, sequence continuity), then replay
    /// every input from an empty state, verifying every state-hash
    /// checkpoint and every snapshot on disk. Reports the first corruption
    /// or divergence with its sequence number and time; exits non-zero on
    /// any problem.
    Verify {
        /// Data or journal directory.
        dir: PathBuf,
        #[command(flatten)]
        config: ConfigArg,
        /// Only check the frames (no replay, no configuration needed).
        #[arg(long)]
        frames_only: bool,
    },
    /// Segments, frames, first and last sequence number and time, durable mark.
    Stat {
        /// Data or journal directory.
        dir: PathBuf,
    },
    /// Inputs, decoded: a table, or JSON lines with --json; filters combine.
    Dump(DumpArgs),
    /// The book right after an input: level 2, or level 3 with --orders.
    Book {
        /// Data or journal directory.
        dir: PathBuf,
        /// Right after this input (a sequence number), or after the last
        /// input at or before this time.
        #[arg(long, value_name = "SEQ|TIME")]
        at: Point,
        /// The instrument.
        #[arg(long)]
        symbol: String,
        /// Levels per side (0: all).
        #[arg(long, default_value_t = 10)]
        depth: usize,
        /// Every resting order: queue position, OrderID, owner, quantities.
        #[arg(long)]
        orders: bool,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Snapshots to start from (default: the data directory's).
        #[arg(long, value_name = "DIR")]
        snapshots: Option<PathBuf>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// The whole life of one order: every input that touched it and every
    /// event it caused (acknowledgement, fills with counterparties,
    /// replaces, cancels and why).
    Order {
        /// Data or journal directory.
        dir: PathBuf,
        /// A ClOrdID the order has had, or its OrderID.
        id: String,
        /// The owner (id or name), when a ClOrdID is used by several.
        #[arg(long)]
        participant: Option<String>,
        /// JSON lines instead of text.
        #[arg(long)]
        json: bool,
        /// Snapshots to start from (default: the data directory's).
        #[arg(long, value_name = "DIR")]
        snapshots: Option<PathBuf>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Rebuild the state right after an input, print a summary, and
    /// optionally write it as a snapshot that `venue run` starts from.
    Replay {
        /// Data or journal directory.
        dir: PathBuf,
        /// Stop right after this input, or after the last input at or before
        /// this time (default: the end of the journal).
        #[arg(long, value_name = "SEQ|TIME")]
        until: Option<Point>,
        /// Write the state as `snapshot-<seq>.snap` in this directory (a
        /// data directory's `snapshots/` is where `venue run` looks).
        #[arg(long, value_name = "DIR")]
        snapshot: Option<PathBuf>,
        /// Also write a snapshot every N inputs on the way (into --snapshot's
        /// directory): a cache for later `book --at --snapshots DIR`.
        #[arg(long, value_name = "N", requires = "snapshot")]
        snapshot_every: Option<u64>,
        /// Replay from an empty state, ignoring snapshots.
        #[arg(long)]
        no_snapshots: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// One record per order event, with the fields of order record keeping
    /// (participant, instrument, side, price, quantity, type, time in force,
    /// event, venue time in µs UTC, sequence number, client and venue order
    /// ids, trade id, counterparty).
    Export {
        /// Data or journal directory.
        dir: PathBuf,
        /// Output format.
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// Output file (`-` for standard output).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        config: ConfigArg,
    },
}

/// `venue journal dump`.
#[derive(Debug, Args)]
pub(crate) struct DumpArgs {
    /// Data or journal directory.
    dir: PathBuf,
    /// First sequence number.
    #[arg(long, value_name = "N")]
    from_seq: Option<u64>,
    /// Last sequence number (inclusive).
    #[arg(long, value_name = "N")]
    to_seq: Option<u64>,
    /// Earliest time (RFC 3339 or ns).
    #[arg(long, value_name = "TIME", value_parser = parse_time_ns)]
    from_time: Option<u64>,
    /// Latest time (inclusive).
    #[arg(long, value_name = "TIME", value_parser = parse_time_ns)]
    to_time: Option<u64>,
    /// Only this participant's inputs (id or name).
    #[arg(long)]
    participant: Option<String>,
    /// Only inputs about this instrument (cancels and replaces included:
    /// found by replaying).
    #[arg(long)]
    symbol: Option<String>,
    /// Only inputs carrying or naming this ClOrdID.
    #[arg(long)]
    cl_ord_id: Option<String>,
    /// Only inputs about this OrderID (found by replaying).
    #[arg(long, value_name = "N")]
    order_id: Option<u64>,
    /// Only these input types (repeat or comma-separate): new, cancel,
    /// replace, mass_cancel, status, mass_status, tick, checkpoint, admin.
    #[arg(long = "type", value_name = "TYPE", value_delimiter = ',')]
    types: Vec<String>,
    /// Also print each input's events (found by replaying).
    #[arg(long)]
    events: bool,
    /// JSON lines instead of a table.
    #[arg(long)]
    json: bool,
    /// Frame headers and payloads in hex, undecoded (sequence and time
    /// filters only; no configuration needed).
    #[arg(long, conflicts_with_all = ["json", "events", "participant", "symbol", "cl_ord_id", "order_id", "types"])]
    raw: bool,
    #[command(flatten)]
    config: ConfigArg,
}

/// `writeln!` into a `String` (which cannot fail).
macro_rules! outln {
    ($out:expr, $($arg:tt)*) => {
        {
            let _ = writeln!($out, $($arg)*);
        }
    };
}

/// Writes `text` to standard output; a closed pipe (`| head`) is not an error.
fn emit(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("cannot write to standard output"),
    }
}

pub(crate) fn run(cmd: JournalCommand) -> Result<()> {
    match cmd {
        JournalCommand::Verify {
            dir,
            config,
            frames_only,
        } => verify(&dir, &config, frames_only),
        JournalCommand::Stat { dir } => stat(&JournalPaths::resolve(&dir)?.journal),
        JournalCommand::Dump(args) => dump(&args),
        JournalCommand::Book {
            dir,
            at,
            symbol,
            depth,
            orders,
            json,
            snapshots,
            config,
        } => book(&dir, at, &symbol, depth, orders, json, snapshots, &config),
        JournalCommand::Order {
            dir,
            id,
            participant,
            json,
            snapshots,
            config,
        } => order(&dir, id, participant.as_deref(), json, snapshots, &config),
        JournalCommand::Replay {
            dir,
            until,
            snapshot,
            snapshot_every,
            no_snapshots,
            config,
        } => replay(
            &dir,
            until,
            snapshot.as_deref(),
            snapshot_every,
            no_snapshots,
            &config,
        ),
        JournalCommand::Export {
            dir,
            format,
            out,
            config,
        } => export(&dir, format, &out, &config),
    }
}

/// Standard output, buffered; a closed pipe (`| head`) ends the output
/// quietly (see [`finish_output`]).
fn stdout() -> BufWriter<std::io::StdoutLock<'static>> {
    BufWriter::with_capacity(1 << 16, std::io::stdout().lock())
}

/// Whether `e` is a closed pipe, which ends the output without an error.
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn finish_output(result: Result<()>) -> Result<()> {
    match result {
        Err(e) if broken_pipe(&e) => Ok(()),
        r => r,
    }
}

fn verify(dir: &Path, config: &ConfigArg, frames_only: bool) -> Result<()> {
    let paths = JournalPaths::resolve(dir)?;
    if frames_only {
        return verify_frames(&paths.journal);
    }
    let venue_config = match config.load() {
        Ok(c) => c,
        Err(e) => {
            // Still check what needs no configuration.
            let frames = verify_frames(&paths.journal);
            return Err(e.context(format!(
                "cannot replay the journal without the venue's configuration (frames: {})",
                if frames.is_ok() {
                    "ok"
                } else {
                    "damaged, see above"
                }
            )));
        }
    };
    let report = replay_verify(&paths, &venue_config.engine)?;
    let mut out = String::new();
    print_totals(&mut out, &report.frames);
    match &report.frames.problem {
        None => outln!(out, "frames       ok: every frame checked"),
        Some(p) => outln!(
            out,
            "frames       {}: {} at offset {} (sequence {}, after sequence {} at {}): {}",
            if p.after_durable_mark {
                "TORN TAIL"
            } else {
                "CORRUPT"
            },
            p.segment.display(),
            p.offset,
            p.seq,
            report.frames.last_seq,
            utc_us(report.frames.last_time_ns),
            p.kind
        ),
    }
    outln!(
        out,
        "replay       {} inputs from an empty state in {}; {} checkpoints verified",
        report.replayed,
        rate(report.replayed, report.elapsed),
        report.checkpoints
    );
    if report.last_seq > 0 {
        outln!(
            out,
            "state        after sequence {} at {}: state hash {:016x}",
            report.last_seq,
            utc_us(report.last_time_ns),
            report.state_hash
        );
    }
    for s in &report.snapshots {
        match &s.matches {
            Ok(true) => outln!(
                out,
                "snapshot     {} (sequence {}): matches the replay",
                s.path.display(),
                s.seq
            ),
            Ok(false) => outln!(
                out,
                "snapshot     {} (sequence {}): DIFFERS from the replayed state",
                s.path.display(),
                s.seq
            ),
            Err(e) => outln!(
                out,
                "snapshot     {} (sequence {}): {e}",
                s.path.display(),
                s.seq
            ),
        }
    }
    if let Some(p) = &report.replay_problem {
        outln!(out, "replay       STOPPED: {p}");
    }
    emit(&out)?;
    if report.ok() {
        emit(
            "ok: every frame checked, every input replayed, every checkpoint and snapshot matches\n",
        )?;
        return Ok(());
    }
    if let Some(d) = report.divergence {
        bail!(
            "the replay diverges from the live venue at sequence {} ({})",
            d.seq,
            utc_us(d.time_ns)
        );
    }
    if let Some(p) = &report.frames.problem {
        if p.after_durable_mark {
            bail!(
                "journal segment {} has a torn tail at offset {} (sequence {}): {}; it is after the durable mark, so the venue will cut it when it next opens the journal",
                p.segment.display(),
                p.offset,
                p.seq,
                p.kind
            );
        }
        bail!(
            "journal segment {} is corrupt at offset {} (sequence {}, after sequence {} at {}): {}; this frame was durable: restore the journal from a replica or backup",
            p.segment.display(),
            p.offset,
            p.seq,
            report.frames.last_seq,
            utc_us(report.frames.last_time_ns),
            p.kind
        );
    }
    if let Some(p) = &report.replay_problem {
        bail!("the replay stopped: {p}");
    }
    bail!("a snapshot does not match the journal (see above)")
}

fn verify_frames(dir: &Path) -> Result<()> {
    let report =
        journal::verify(dir).with_context(|| format!("cannot read journal {}", dir.display()))?;
    let mut out = String::new();
    print_totals(&mut out, &report);
    match &report.problem {
        None => {
            outln!(out, "ok: every frame checked");
            emit(&out)
        }
        Some(p) if p.after_durable_mark => {
            emit(&out)?;
            bail!(
                "journal segment {} has a torn tail at offset {} (sequence {}): {}; it is after the durable mark, so the venue will cut it when it next opens the journal",
                p.segment.display(),
                p.offset,
                p.seq,
                p.kind
            )
        }
        Some(p) => {
            emit(&out)?;
            bail!(
                "journal segment {} is corrupt at offset {} (sequence {}): {}; this frame was durable: restore the journal from a replica or backup",
                p.segment.display(),
                p.offset,
                p.seq,
                p.kind
            )
        }
    }
}

/// The checked filters of `dump`.
struct DumpFilter {
    from_time_ns: Option<u64>,
    to_time_ns: Option<u64>,
    participant: Option<ParticipantId>,
    instrument: Option<InstrumentId>,
    cl_ord_id: Option<ClOrdId>,
    order_id: Option<OrderId>,
    types: Vec<String>,
}

impl DumpFilter {
    /// Whether the input (with its events, when replaying) passes.
    fn passes(&self, time_ns: u64, input: &Input, events: Option<&[Event]>) -> bool {
        if self.from_time_ns.is_some_and(|t| time_ns < t)
            || self.to_time_ns.is_some_and(|t| time_ns > t)
        {
            return false;
        }
        if !self.types.is_empty()
            && !self
                .types
                .iter()
                .any(|t| t == venue::incident::names::input_type_name(input))
        {
            return false;
        }
        if let Some(p) = self.participant
            && input.participant() != Some(p)
        {
            return false;
        }
        let target = match input {
            Input::Cancel(c) => Some(c.target),
            Input::Replace(r) => Some(r.target),
            Input::OrderStatus(s) => Some(s.target),
            _ => None,
        };
        if let Some(c) = &self.cl_ord_id
            && input.cl_ord_id().as_ref() != Some(c)
            && target != Some(OrderRef::ClOrdId(*c))
        {
            return false;
        }
        if let Some(o) = self.order_id
            && target != Some(OrderRef::OrderId(o))
            && !events.is_some_and(|es| es.iter().any(|e| event_orders(e).contains(&o)))
        {
            return false;
        }
        if let Some(i) = self.instrument
            && input_instrument(input) != Some(i)
            && !events.is_some_and(|es| es.iter().any(|e| event_instrument(e) == Some(i)))
        {
            return false;
        }
        true
    }
}

fn input_instrument(input: &Input) -> Option<InstrumentId> {
    use engine::AdminAction;
    match input {
        Input::NewOrder(o) => Some(o.instrument),
        Input::MassCancel(m) => m.instrument,
        Input::MassStatus(m) => m.instrument,
        Input::Admin(
            AdminAction::SetPhase { instrument, .. }
            | AdminAction::SetCreditLimit { instrument, .. },
        ) => Some(*instrument),
        Input::Admin(AdminAction::MassCancel { instrument, .. }) => *instrument,
        _ => None,
    }
}

fn event_instrument(e: &Event) -> Option<InstrumentId> {
    match e {
        Event::Exec(x) if x.order_id != OrderId::NONE => Some(x.instrument),
        Event::BookLevel(l) => Some(l.instrument),
        Event::Trade(t) => Some(t.instrument),
        _ => None,
    }
}

fn dump(a: &DumpArgs) -> Result<()> {
    let paths = JournalPaths::resolve(&a.dir)?;
    if a.raw {
        let range = DumpRange {
            from_seq: a.from_seq,
            to_seq: a.to_seq,
            from_time_ns: a.from_time,
            to_time_ns: a.to_time,
        };
        return dump_raw(&paths.journal, range);
    }
    let config = a.config.load()?;
    let names = Names::new(&config);
    for t in &a.types {
        if !INPUT_TYPE_NAMES.contains(&t.as_str()) {
            bail!(
                "unknown input type {t:?}: use {}",
                INPUT_TYPE_NAMES.join(", ")
            );
        }
    }
    let filter = DumpFilter {
        from_time_ns: a.from_time,
        to_time_ns: a.to_time,
        participant: a
            .participant
            .as_deref()
            .map(|p| names.participant_by_text(p))
            .transpose()?,
        instrument: a
            .symbol
            .as_deref()
            .map(|s| {
                names.instrument_by_symbol(s).ok_or_else(|| {
                    anyhow::anyhow!(
                        "unknown symbol {s:?}: the configuration has {}",
                        names.symbols()
                    )
                })
            })
            .transpose()?,
        cl_ord_id: a
            .cl_ord_id
            .as_deref()
            .map(|c| {
                ClOrdId::new(c.as_bytes()).ok_or_else(|| {
                    anyhow::anyhow!("{c:?} is not a ClOrdID (1 to 40 printable ASCII characters)")
                })
            })
            .transpose()?,
        order_id: a.order_id.map(OrderId),
        types: a.types.clone(),
    };
    let bounds = Bounds::of(&paths.journal)?;
    let mut from_seq = a.from_seq.unwrap_or(bounds.first_seq).max(bounds.first_seq);
    if a.from_seq.is_none()
        && let Some(t) = a.from_time
    {
        // The sequencer's stamps never go backwards, so the first input at
        // or after the time is where the output starts.
        let mut frames = Frames::open(&paths.journal)?;
        frames.seek_time(t)?;
        if let Some(f) = frames.next_frame()? {
            from_seq = f.seq;
        }
    }
    let to_seq = a.to_seq.unwrap_or(u64::MAX);
    let mut out = stdout();
    let mut printed = 0u64;
    if !a.json {
        writeln!(
            out,
            "{:>10}  {:<27}  {:<11}  {:<14}  {:<10}  {:<4}  {:>10}  {:>12}  {:<14}  {:<16}  detail",
            "seq",
            "time (UTC)",
            "type",
            "participant",
            "symbol",
            "side",
            "qty",
            "price",
            "ClOrdID",
            "target"
        )?;
    }
    let mut print = |row: &InputRow, events: Option<&[Event]>, out: &mut dyn Write| -> Result<()> {
        printed += 1;
        if a.json {
            let mut value = serde_json::to_value(row)?;
            if let (Some(es), Some(obj)) = (events.filter(|_| a.events), value.as_object_mut()) {
                obj.insert(
                    "events".to_owned(),
                    es.iter().map(|e| event_text(&names, e)).collect(),
                );
            }
            writeln!(out, "{value}")?;
        } else {
            let line = format!(
                "{:>10}  {:<27}  {:<11}  {:<14}  {:<10}  {:<4}  {:>10}  {:>12}  {:<14}  {:<16}  {}",
                row.seq,
                row.time,
                row.kind,
                row.participant.as_deref().unwrap_or("-"),
                row.symbol.as_deref().unwrap_or("-"),
                row.side.as_deref().unwrap_or("-"),
                row.qty.as_deref().unwrap_or("-"),
                row.price.as_deref().unwrap_or("-"),
                row.cl_ord_id.as_deref().unwrap_or("-"),
                row.target.as_deref().unwrap_or("-"),
                row.detail
            );
            writeln!(out, "{}", line.trim_end())?;
            if a.events
                && let Some(es) = events
            {
                for e in es {
                    writeln!(out, "{:>10}  -> {}", "", event_text(&names, e))?;
                }
            }
        }
        Ok(())
    };
    let replaying = a.events || filter.order_id.is_some() || filter.instrument.is_some();
    let result: Result<Option<String>> = if replaying {
        (|| {
            let mut replay = Replay::start(&paths, &config.engine, from_seq - 1, true)?;
            replay.collect_events = true;
            let mut progress = Progress::new("dump", replay.seq, bounds.last_seq.min(to_seq));
            let to_time_ns = a.to_time.unwrap_or(u64::MAX);
            let result = replay.run_until(to_seq, &mut progress, |step, _| {
                if step.time_ns > to_time_ns {
                    // Stamps never go backwards: nothing later can match.
                    return Err(anyhow::Error::new(PastTheEnd));
                }
                if step.seq >= from_seq
                    && filter.passes(step.time_ns, step.input, Some(step.events))
                {
                    let row = InputRow::new(&names, step.seq, step.time_ns, step.input);
                    print(&row, Some(step.events), &mut out)?;
                }
                Ok(())
            });
            progress.finish();
            match result {
                Err(e) if e.is::<PastTheEnd>() => {}
                r => {
                    r?;
                }
            }
            Ok(replay.torn_tail().map(str::to_owned))
        })()
    } else {
        (|| {
            let mut frames = Frames::open(&paths.journal)?;
            if a.from_seq.is_some() {
                frames.seek_seq(from_seq)?;
            } else if let Some(t) = a.from_time {
                frames.seek_time(t)?;
            }
            while let Some(f) = frames.next_frame()? {
                if f.seq > to_seq {
                    break;
                }
                let (seq, time_ns) = (f.seq, f.time_ns);
                let input = decode(&f)?;
                if filter.passes(time_ns, &input, None) {
                    print(&InputRow::new(&names, seq, time_ns, &input), None, &mut out)?;
                }
            }
            Ok(frames.torn_tail.clone())
        })()
    };
    let torn = match result {
        Err(e) if broken_pipe(&e) => return Ok(()),
        r => r?,
    };
    finish_output(out.flush().map_err(anyhow::Error::from))?;
    if let Some(t) = torn {
        eprintln!("warning: {t}");
    }
    if printed == 0 {
        eprintln!(
            "no input matched (the journal holds sequence {} to {}, {} to {})",
            bounds.first_seq,
            bounds.last_seq,
            utc_us(bounds.first_time_ns),
            utc_us(bounds.last_time_ns)
        );
    }
    Ok(())
}

/// `1.23 s (4.56 M inputs/s)`; the rate only where it means something.
fn rate(inputs: u64, elapsed: std::time::Duration) -> String {
    let secs = elapsed.as_secs_f64();
    if inputs < 100_000 || secs <= 0.0 {
        return format!("{secs:.2} s");
    }
    format!("{secs:.2} s ({:.2} M inputs/s)", inputs as f64 / secs / 1e6)
}

/// Ends a replay early: the output's time range is behind it.
#[derive(Debug)]
struct PastTheEnd;

impl std::fmt::Display for PastTheEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("past the end of the time range")
    }
}

impl std::error::Error for PastTheEnd {}

/// Replays to `seq` (from the newest snapshot at or before it).
fn replay_to(paths: &JournalPaths, config: &VenueConfig, seq: u64, what: &str) -> Result<Replay> {
    let mut replay = Replay::start(paths, &config.engine, seq, true)?;
    for w in &replay.warnings {
        eprintln!("warning: {w}");
    }
    let mut progress = Progress::new(what, replay.seq, seq);
    let ended = replay.run_until(seq, &mut progress, |_, _| Ok(()))?;
    progress.finish();
    if ended {
        bail!(
            "the journal ends at sequence {}, before sequence {seq}{}",
            replay.seq,
            replay
                .torn_tail()
                .map(|t| format!(" ({t})"))
                .unwrap_or_default()
        );
    }
    Ok(replay)
}

fn started_from(replay: &Replay) -> String {
    match &replay.from_snapshot {
        Some((seq, _)) => format!(
            "replayed {} inputs from the snapshot at sequence {seq}",
            replay.applied
        ),
        None => format!("replayed {} inputs from an empty state", replay.applied),
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "one argument per command-line option"
)]
fn book(
    dir: &Path,
    at: Point,
    symbol: &str,
    depth: usize,
    orders: bool,
    json: bool,
    snapshots: Option<PathBuf>,
    config: &ConfigArg,
) -> Result<()> {
    let config = config.load()?;
    let names = Names::new(&config);
    let instrument = names.instrument_by_symbol(symbol).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown symbol {symbol:?}: the configuration has {}",
            names.symbols()
        )
    })?;
    let paths = JournalPaths::resolve(dir)?.with_snapshots(snapshots);
    let bounds = Bounds::of(&paths.journal)?;
    let seq = bounds.resolve(&paths.journal, at)?;
    let started = Instant::now();
    let replay = replay_to(&paths, &config, seq, "book")?;
    let view = BookView::of(
        &replay.engine,
        &names,
        instrument,
        (replay.seq, replay.time_ns),
        depth,
        orders,
    );
    let mut out = stdout();
    let result = (|| -> Result<()> {
        if json {
            writeln!(out, "{}", serde_json::to_string_pretty(&view)?)?;
        } else {
            writeln!(
                out,
                "{} after sequence {} at {} (state hash {}; {} in {:.2} s)",
                view.symbol,
                view.seq,
                view.time,
                view.state_hash,
                started_from(&replay),
                started.elapsed().as_secs_f64()
            )?;
            for (label, levels) in [("asks", &view.asks), ("bids", &view.bids)] {
                writeln!(out, "{label} ({} levels shown)", levels.len())?;
                writeln!(out, "  {:>14}  {:>14}  {:>6}", "price", "qty", "orders")?;
                // Asks printed best last, so the two sides meet at the spread.
                let ordered: Vec<_> = if label == "asks" {
                    levels.iter().rev().collect()
                } else {
                    levels.iter().collect()
                };
                for l in ordered {
                    writeln!(
                        out,
                        "  {:>14}  {:>14}  {:>6}",
                        l.price, l.qty, l.order_count
                    )?;
                    for o in &l.orders {
                        writeln!(
                            out,
                            "      #{:<3} OrderID {:<10} {:<16} shown {:>12}  leaves {:>12}",
                            o.position, o.order_id, o.participant, o.shown, o.leaves
                        )?;
                    }
                }
            }
        }
        out.flush()?;
        Ok(())
    })();
    finish_output(result)
}

fn order(
    dir: &Path,
    id: String,
    participant: Option<&str>,
    json: bool,
    snapshots: Option<PathBuf>,
    config: &ConfigArg,
) -> Result<()> {
    let config = config.load()?;
    let names = Names::new(&config);
    let paths = JournalPaths::resolve(dir)?.with_snapshots(snapshots);
    let bounds = Bounds::of(&paths.journal)?;
    let query = OrderQuery {
        id,
        participant: participant
            .map(|p| names.participant_by_text(p))
            .transpose()?,
    };
    let life = order_life(&paths, &config.engine, &names, &query, bounds.last_seq)?;
    let mut out = stdout();
    let result = (|| -> Result<()> {
        let cl: Vec<&str> = life.cl_ord_ids.iter().map(ClOrdId::as_str).collect();
        let what = match life.key {
            OrderKey::Order(o) => format!("OrderID {}", o.0),
            OrderKey::Rejected { seq, .. } => format!("new order rejected at sequence {seq}"),
        };
        if json {
            for e in &life.entries {
                let row = InputRow::new(&names, e.seq, e.time_ns, &e.input);
                let events: Vec<String> =
                    e.events.iter().map(|ev| event_text(&names, ev)).collect();
                let mut value = serde_json::to_value(&row)?;
                if let Some(obj) = value.as_object_mut() {
                    obj.insert("events".to_owned(), events.into());
                }
                writeln!(out, "{value}")?;
            }
        } else {
            writeln!(
                out,
                "{what} of {} on {}, ClOrdID {} ({} inputs)",
                names.participant(life.participant),
                names.symbol(life.instrument),
                cl.join(" -> "),
                life.entries.len()
            )?;
            for e in &life.entries {
                let row = InputRow::new(&names, e.seq, e.time_ns, &e.input);
                writeln!(out, "seq {} at {}  {}", e.seq, row.time, input_line(&row))?;
                for ev in &e.events {
                    writeln!(out, "    -> {}", event_text(&names, ev))?;
                }
            }
        }
        out.flush()?;
        Ok(())
    })();
    finish_output(result)
}

/// An input in one line (for `order`).
fn input_line(row: &InputRow) -> String {
    let mut parts = vec![row.kind.clone()];
    for v in [&row.participant, &row.side, &row.qty, &row.symbol]
        .into_iter()
        .flatten()
    {
        parts.push(v.clone());
    }
    if let Some(p) = &row.price {
        parts.push(format!("@ {p}"));
    }
    if let Some(c) = &row.cl_ord_id {
        parts.push(format!("ClOrdID {c}"));
    }
    if let Some(t) = &row.target {
        parts.push(format!("for {t}"));
    }
    if !row.detail.is_empty() {
        parts.push(format!("({})", row.detail));
    }
    parts.join(" ")
}

fn replay(
    dir: &Path,
    until: Option<Point>,
    snapshot: Option<&Path>,
    snapshot_every: Option<u64>,
    no_snapshots: bool,
    config: &ConfigArg,
) -> Result<()> {
    let config = config.load()?;
    let names = Names::new(&config);
    let paths = JournalPaths::resolve(dir)?;
    let bounds = Bounds::of(&paths.journal)?;
    let seq = match until {
        Some(p) => bounds.resolve(&paths.journal, p)?,
        None => bounds.last_seq,
    };
    let started = Instant::now();
    let mut replay = Replay::start(&paths, &config.engine, seq, !no_snapshots)?;
    for w in &replay.warnings {
        eprintln!("warning: {w}");
    }
    let mut progress = Progress::new("replay", replay.seq, seq);
    let every = snapshot_every.unwrap_or(0);
    let mut written = 0u64;
    let ended = replay.run_until(seq, &mut progress, |step, engine| {
        if let Some(dir) = snapshot
            && every > 0
            && step.seq % every == 0
            && step.seq < seq
        {
            venue::snapshot::write(dir, engine, step.seq, step.time_ns)?;
            written += 1;
        }
        Ok(())
    })?;
    progress.finish();
    let elapsed = started.elapsed();
    if ended {
        bail!(
            "the journal ends at sequence {}, before sequence {seq}",
            replay.seq
        );
    }
    let mut out = String::new();
    outln!(
        out,
        "state after sequence {} at {}: state hash {:016x}, {} live orders",
        replay.seq,
        utc_us(replay.time_ns),
        replay.engine.state_hash(),
        replay.engine.live_order_count()
    );
    outln!(
        out,
        "{} in {}; {} checkpoints verified",
        started_from(&replay),
        rate(replay.applied, elapsed),
        replay.checkpoints
    );
    for spec in &config.engine.instruments {
        let i = spec.id;
        let best = |side| {
            replay.engine.book_levels(i, side).first().map_or_else(
                || "-".to_owned(),
                |l| {
                    format!(
                        "{} x {}",
                        names.price(i, l.price_ticks),
                        names.qty(i, l.qty_lots)
                    )
                },
            )
        };
        outln!(
            out,
            "  {:<12} bid {:<24} ask {:<24} last trade {}",
            spec.symbol,
            best(engine::Side::Buy),
            best(engine::Side::Sell),
            replay
                .engine
                .last_trade_ticks(i)
                .map_or_else(|| "-".to_owned(), |p| names.price(i, p))
        );
    }
    if let Some(dir) = snapshot {
        let path = venue::snapshot::write(dir, &replay.engine, replay.seq, replay.time_ns)?;
        outln!(out, "snapshot written: {}", path.display());
        if written > 0 {
            outln!(
                out,
                "{written} more snapshots written on the way (every {every} inputs) in {}",
                dir.display()
            );
        }
    }
    emit(&out)
}

fn export(dir: &Path, format: ExportFormat, out_path: &Path, config: &ConfigArg) -> Result<()> {
    let config = config.load()?;
    let names = Names::new(&config);
    let paths = JournalPaths::resolve(dir)?;
    let bounds = Bounds::of(&paths.journal)?;
    let sink: Box<dyn Write> = if out_path == Path::new("-") {
        Box::new(stdout())
    } else {
        Box::new(BufWriter::with_capacity(
            1 << 16,
            std::fs::File::create(out_path)
                .with_context(|| format!("cannot create {}", out_path.display()))?,
        ))
    };
    let mut csv = (format == ExportFormat::Csv).then(|| csv::Writer::from_writer(sink));
    // The JSON lines writer, when not CSV (the sink moved into the CSV writer otherwise).
    let mut jsonl: Option<Box<dyn Write>> = None;
    if csv.is_none() {
        jsonl = Some(if out_path == Path::new("-") {
            Box::new(stdout())
        } else {
            Box::new(BufWriter::with_capacity(
                1 << 16,
                std::fs::File::create(out_path)
                    .with_context(|| format!("cannot create {}", out_path.display()))?,
            ))
        });
    }
    let mut exporter = Exporter::default();
    let mut replay = Replay::start(&paths, &config.engine, 0, false)?;
    replay.collect_events = true;
    let mut progress = Progress::new("export", 0, bounds.last_seq);
    let result = replay.run_until(u64::MAX, &mut progress, |step, _| {
        exporter.step(&names, step, |record| -> Result<()> {
            if let Some(w) = csv.as_mut() {
                w.serialize(record)?;
            } else if let Some(w) = jsonl.as_mut() {
                serde_json::to_writer(&mut *w, record)?;
                w.write_all(b"\n")?;
            }
            Ok(())
        })
    });
    progress.finish();
    finish_output(result.map(|_| ()))?;
    if let Some(mut w) = csv {
        finish_output(w.flush().map_err(anyhow::Error::from))?;
    }
    if let Some(mut w) = jsonl {
        finish_output(w.flush().map_err(anyhow::Error::from))?;
    }
    if let Some(t) = replay.torn_tail() {
        eprintln!("warning: {t}");
    }
    eprintln!(
        "{} order records from {} inputs (sequence {} to {}) written to {}",
        exporter.records,
        replay.applied,
        bounds.first_seq,
        replay.seq,
        out_path.display()
    );
    Ok(())
}

fn stat(dir: &Path) -> Result<()> {
    let report =
        journal::stat(dir).with_context(|| format!("cannot read journal {}", dir.display()))?;
    let mut out = String::new();
    outln!(
        out,
        "{:<16} {:>12} {:>10} {:>12} {:>12} {:>12}  sealed",
        "segment",
        "size_bytes",
        "frames",
        "first_seq",
        "last_seq",
        "end_offset"
    );
    for s in &report.segments {
        outln!(
            out,
            "{:<16} {:>12} {:>10} {:>12} {:>12} {:>12}  {}",
            s.path.file_name().map_or_else(
                || s.path.display().to_string(),
                |n| n.to_string_lossy().into_owned()
            ),
            s.size_bytes,
            s.frames,
            s.first_seq,
            s.last_seq,
            s.end_offset,
            if s.sealed { "yes" } else { "no" }
        );
    }
    print_totals(&mut out, &report);
    if let Some(p) = &report.problem {
        outln!(
            out,
            "problem: {} at offset {} (sequence {}): {} ({})",
            p.segment.display(),
            p.offset,
            p.seq,
            p.kind,
            if p.after_durable_mark {
                "torn tail after the durable mark"
            } else {
                "corruption of durable data"
            }
        );
    }
    emit(&out)
}

fn print_totals(out: &mut String, r: &JournalReport) {
    outln!(out, "journal      {}", r.dir.display());
    outln!(out, "segments     {}", r.segments.len());
    outln!(
        out,
        "frames       {} ({} payload bytes)",
        r.frames,
        r.payload_bytes
    );
    if r.frames > 0 {
        outln!(
            out,
            "first        seq {} at {} ({} ns)",
            r.first_seq,
            utc_us(r.first_time_ns),
            r.first_time_ns
        );
        outln!(
            out,
            "last         seq {} at {} ({} ns)",
            r.last_seq,
            utc_us(r.last_time_ns),
            r.last_time_ns
        );
    }
    match r.mark {
        Some(m) => outln!(
            out,
            "durable mark seq {} (segment {}, offset {})",
            m.durable_seq,
            m.segment_index,
            m.offset
        ),
        None => outln!(out, "durable mark none (nothing synced yet)"),
    }
}

fn dump_raw(dir: &Path, range: DumpRange) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match journal::dump(dir, range, &mut out) {
        Ok(_) => {}
        // `venue journal dump ... | head` closes the pipe: not an error.
        Err(JournalError::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => {
            return Ok(());
        }
        Err(e) => return Err(e).with_context(|| format!("cannot dump journal {}", dir.display())),
    }
    match out.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("cannot write to standard output"),
    }
}
