//! The engine rebuilt to any point of a journal, and the whole-journal check.
//!
//! [`Replay::start`] loads the newest good snapshot at or before the point
//! wanted (or starts from an empty engine), seeks the journal just past it,
//! and [`Replay::run_until`] applies inputs in order, verifying every
//! checkpoint (the live engine's state hash, journaled every N inputs) and
//! showing each input, its events and the engine after it to a visitor.
//! Events are exactly what the live venue emitted for that input
//! (determinism), so they are what its clients were sent.
//!
//! [`verify`] checks every frame (the journal crate's scan), then replays the
//! whole journal from an empty state (never from a snapshot: the point is to
//! check everything), verifying every checkpoint and comparing every snapshot
//! on disk with the replayed state at its sequence number.

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use engine::{Engine, EngineConfig, Event, Input, NullSink};

use crate::incident::source::{Frames, JournalPaths, Progress, utc_us};
use crate::read_ahead::ReadAhead;

/// One applied input, as a visitor sees it.
#[derive(Debug)]
pub struct Step<'a> {
    /// Its sequence number.
    pub seq: u64,
    /// Its time, ns since the Unix epoch.
    pub time_ns: u64,
    /// The input.
    pub input: &'a Input,
    /// The events it produced, in order (empty unless events are collected).
    pub events: &'a [Event],
}

/// The replayed state differs from the live engine's at a checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The checkpoint's sequence number.
    pub seq: u64,
    /// Its time.
    pub time_ns: u64,
    /// The live engine's state hash (journaled).
    pub expected: u64,
    /// The replay's.
    pub actual: u64,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "state divergence at sequence {} ({}): the journal's checkpoint says the live state hash was {:016x}, the replay computed {:016x}; the replay no longer matches what the venue did from here on (a different configuration, or a different engine build?)",
            self.seq,
            utc_us(self.time_ns),
            self.expected,
            self.actual
        )
    }
}

impl std::error::Error for Divergence {}

/// An engine being rebuilt from a journal. See the module docs.
#[derive(Debug)]
pub struct Replay {
    /// The engine, after input [`Replay::seq`].
    pub engine: Engine,
    /// The last input applied (or the snapshot's; 0 for none).
    pub seq: u64,
    /// Its time.
    pub time_ns: u64,
    /// The snapshot the replay started from (its sequence number and file).
    pub from_snapshot: Option<(u64, PathBuf)>,
    /// Snapshots skipped (damaged), one line each.
    pub warnings: Vec<String>,
    /// Checkpoints verified so far.
    pub checkpoints: u64,
    /// Inputs applied so far.
    pub applied: u64,
    /// Whether events are collected for visitors.
    pub collect_events: bool,
    /// The journal's inputs, read and decoded on a thread of their own.
    inputs: ReadAhead<Frames>,
    /// What announcing the inputs read ahead has found so far.
    lookahead: engine::Lookahead,
    events: Vec<Event>,
}

impl Replay {
    /// An engine at the newest good snapshot at or before `max_seq` (when
    /// `use_snapshots` and there is one), else empty, with the journal
    /// positioned right after it.
    ///
    /// # Errors
    /// The configuration is invalid, the snapshot directory cannot be
    /// listed, or the journal cannot be read.
    pub fn start(
        paths: &JournalPaths,
        config: &EngineConfig,
        max_seq: u64,
        use_snapshots: bool,
    ) -> Result<Replay> {
        let mut frames = Frames::open(&paths.journal)?;
        let (snapshot, warnings) = match (&paths.snapshots, use_snapshots) {
            (Some(dir), true) => crate::snapshot::load_at_or_before(dir, config, max_seq)?,
            _ => (None, Vec::new()),
        };
        let (engine, seq, time_ns, from_snapshot) = match snapshot {
            Some(s) => {
                frames.seek_seq(s.seq + 1)?;
                (s.engine, s.seq, s.time_ns, Some((s.seq, s.path)))
            }
            None => (
                Engine::new(config.clone()).context("invalid engine configuration")?,
                0,
                0,
                None,
            ),
        };
        Ok(Replay {
            engine,
            seq,
            time_ns,
            from_snapshot,
            warnings,
            checkpoints: 0,
            applied: 0,
            collect_events: false,
            inputs: ReadAhead::new(frames),
            lookahead: engine::Lookahead::default(),
            events: Vec::new(),
        })
    }

    /// Applies inputs through sequence `until` (or to the end of the
    /// journal, whichever comes first), verifying checkpoints, and shows
    /// each step and the engine after it to `visit`. Returns whether the
    /// journal ended before `until`.
    ///
    /// # Errors
    /// A damaged durable frame, a frame that is not an input, a gap, a
    /// [`Divergence`] (downcast the error to find it), or the visitor's error.
    pub fn run_until(
        &mut self,
        until: u64,
        progress: &mut Progress,
        mut visit: impl FnMut(&Step<'_>, &Engine) -> Result<()>,
    ) -> Result<bool> {
        while self.seq < until {
            // The journal is read and decoded ahead on a thread of its own
            // (never past `until`: a later call may ask for more). While
            // input n is applied, the memory the next few inputs will read
            // is on its way, one link of each chain further per input, as
            // the sequencer does (`Engine::prefetch_ahead`; `engine_replay`
            // bench).
            if !self.inputs.advance(until)? {
                return Ok(true);
            }
            let &(seq, time_ns, ref input) = self.inputs.current();
            if self.seq != 0 && seq != self.seq + 1 {
                bail!(
                    "the journal continues at sequence {seq} after {}: a snapshot that does not belong to this journal?",
                    self.seq
                );
            }
            for (i, (later_seq, _, later)) in
                self.inputs.ahead(engine::PREFETCH_DISTANCE).enumerate()
            {
                self.engine
                    .prefetch_ahead(&mut self.lookahead, *later_seq, later, i + 1);
            }
            if let Input::Checkpoint { state_hash, scheme } = *input {
                let actual = self.engine.checkpoint_hash(scheme);
                if actual != state_hash {
                    return Err(Divergence {
                        seq,
                        time_ns,
                        expected: state_hash,
                        actual,
                    }
                    .into());
                }
                self.checkpoints += 1;
            }
            self.events.clear();
            if self.collect_events {
                self.engine.apply(seq, time_ns, input, &mut self.events);
            } else {
                self.engine.apply(seq, time_ns, input, &mut NullSink);
            }
            self.seq = seq;
            self.time_ns = time_ns;
            self.applied += 1;
            progress.at(seq);
            let step = Step {
                seq,
                time_ns,
                input,
                events: &self.events,
            };
            visit(&step, &self.engine)?;
        }
        Ok(false)
    }

    /// Why the journal's data ended early (a torn tail), if the replay
    /// reached that end (`run_until` returned true): the journal is read no
    /// further than the replay was asked to go.
    #[must_use]
    pub fn torn_tail(&self) -> Option<&str> {
        self.inputs.source()?.torn_tail.as_deref()
    }
}

/// A snapshot file compared with the replayed state at its sequence number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotCheck {
    /// The file.
    pub path: PathBuf,
    /// Its sequence number.
    pub seq: u64,
    /// `Ok(true)`: same state hash; `Ok(false)`: different; `Err`: the file
    /// is damaged, or the replay did not reach it.
    pub matches: Result<bool, String>,
}

/// What [`verify`] found.
#[derive(Debug)]
pub struct VerifyReport {
    /// Frame integrity (every frame's length, CRC, sequence continuity).
    pub frames: journal::JournalReport,
    /// Inputs replayed.
    pub replayed: u64,
    /// Checkpoints verified.
    pub checkpoints: u64,
    /// The last input replayed (0 for none) and its time.
    pub last_seq: u64,
    /// See `last_seq`.
    pub last_time_ns: u64,
    /// The replayed engine's state hash at the end.
    pub state_hash: u64,
    /// How long the replay took.
    pub elapsed: Duration,
    /// Every snapshot on disk, compared.
    pub snapshots: Vec<SnapshotCheck>,
    /// The first replay problem: a divergence, an input that does not
    /// decode, damaged durable data.
    pub replay_problem: Option<String>,
    /// The first divergence, if that was the problem.
    pub divergence: Option<Divergence>,
}

impl VerifyReport {
    /// Whether anything at all is wrong (a torn tail included).
    #[must_use]
    pub fn ok(&self) -> bool {
        self.frames.problem.is_none()
            && self.replay_problem.is_none()
            && self.snapshots.iter().all(|s| s.matches == Ok(true))
    }
}

/// Checks every frame, then replays everything from an empty state. See the
/// module docs.
///
/// # Errors
/// Only when nothing can be checked: no journal, an invalid configuration.
/// Problems found are in the report.
pub fn verify(paths: &JournalPaths, config: &EngineConfig) -> Result<VerifyReport> {
    let frames = journal::verify(&paths.journal)
        .with_context(|| format!("cannot read journal {}", paths.journal.display()))?;
    let mut snapshot_files = match &paths.snapshots {
        Some(dir) => crate::snapshot::list(dir)?,
        None => Vec::new(),
    };
    snapshot_files.reverse(); // oldest first
    let mut snapshots: Vec<SnapshotCheck> = Vec::new();
    let mut wanted: Vec<(u64, PathBuf, u64)> = Vec::new();
    for (seq, path) in snapshot_files {
        match crate::snapshot::read_header(&path) {
            Ok(h) => wanted.push((seq, path, h.state_hash)),
            Err(e) => snapshots.push(SnapshotCheck {
                path,
                seq,
                matches: Err(format!("{e:#}")),
            }),
        }
    }
    let started = Instant::now();
    let mut replay = Replay::start(paths, config, 0, false)?;
    let mut progress = Progress::new("verify", frames.first_seq, frames.last_seq);
    let mut next = 0;
    // A snapshot of the empty state (a venue stopped before any input).
    while let Some((seq, path, hash)) = wanted.get(next) {
        if *seq > replay.seq {
            break;
        }
        snapshots.push(SnapshotCheck {
            path: path.clone(),
            seq: *seq,
            matches: Ok(replay.engine.encoding_hash() == *hash),
        });
        next += 1;
    }
    let result = replay.run_until(u64::MAX, &mut progress, |step, engine| {
        while let Some((seq, path, hash)) = wanted.get(next) {
            if *seq > step.seq {
                break;
            }
            if *seq == step.seq {
                snapshots.push(SnapshotCheck {
                    path: path.clone(),
                    seq: *seq,
                    matches: Ok(engine.encoding_hash() == *hash),
                });
            }
            next += 1;
        }
        Ok(())
    });
    progress.finish();
    let elapsed = started.elapsed();
    for (seq, path, _) in wanted.iter().skip(next) {
        snapshots.push(SnapshotCheck {
            path: path.clone(),
            seq: *seq,
            matches: Err(format!(
                "the replay did not reach its sequence number (it ended at {})",
                replay.seq
            )),
        });
    }
    snapshots.sort_by_key(|s| s.seq);
    let (replay_problem, divergence) = match result {
        Ok(_) => (None, None),
        Err(e) => match e.downcast_ref::<Divergence>() {
            Some(d) => (Some(d.to_string()), Some(*d)),
            None => (Some(format!("{e:#}")), None),
        },
    };
    Ok(VerifyReport {
        frames,
        replayed: replay.applied,
        checkpoints: replay.checkpoints,
        last_seq: replay.seq,
        last_time_ns: replay.time_ns,
        state_hash: replay.engine.state_hash(),
        elapsed,
        snapshots,
        replay_problem,
        divergence,
    })
}
