//! Running the sequencer on the journal.
//!
//! [`recover`] opens a journal directory (cutting a torn tail, refusing
//! damaged durable data, as the journal's recovery rules say), replays every
//! journaled input through a fresh engine (events are dropped: nobody is sent
//! anything twice) and hands back the engine and the open journal, ready for
//! a [`Sequencer`] to continue the sequence. [`JournalLog`] is the journal as
//! the sequencer's log. [`spawn`] runs a sequencer on its own thread, pinned to
//! a core if asked, with an [`IdleStrategy`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use engine::codec::INPUT_FORMAT_VERSION;
use engine::sequencer::{InputLog, Sequencer};
use engine::{Engine, EngineConfig, Event, EventSink, Input};
use journal::{Journal, JournalConfig, JournalError, RecoveryReport};
use tracing::{error, info, warn};

use crate::read_ahead::{InputSource, ReadAhead};

/// The journal payload type of an engine input.
pub const PAYLOAD_TYPE_INPUT: u16 = 1;

/// The journal as the sequencer's log.
#[derive(Debug)]
pub struct JournalLog {
    journal: Journal,
    /// Whether the journal's durability level is `process`, where appended is
    /// as durable as it gets (a process crash loses nothing).
    process_durability: bool,
}

impl JournalLog {
    /// Wraps an open journal.
    #[must_use]
    pub fn new(journal: Journal) -> JournalLog {
        let process_durability =
            matches!(journal.config().durability, journal::Durability::Process);
        JournalLog {
            journal,
            process_durability,
        }
    }

    /// The journal.
    #[must_use]
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Mutable access (to sync, or close).
    pub fn journal_mut(&mut self) -> &mut Journal {
        &mut self.journal
    }

    /// Unwraps the journal.
    #[must_use]
    pub fn into_journal(self) -> Journal {
        self.journal
    }
}

impl InputLog for JournalLog {
    type Error = JournalError;

    fn append(&mut self, time_ns: u64, payload: &[u8]) -> Result<u64, JournalError> {
        self.journal
            .append(PAYLOAD_TYPE_INPUT, INPUT_FORMAT_VERSION, time_ns, payload)
    }

    fn durable_seq(&self) -> u64 {
        if self.process_durability {
            self.journal.last_seq()
        } else {
            self.journal.durable_seq()
        }
    }

    fn last_seq(&self) -> u64 {
        self.journal.last_seq()
    }
}

/// What a restart rebuilt.
#[derive(Debug)]
pub struct Recovered {
    /// The snapshot it started from (its last sequence number), if any.
    pub from_snapshot: Option<u64>,
    /// Snapshots skipped (damaged, or beyond the journal), one line each.
    pub warnings: Vec<String>,
    /// The engine, in the state the journal describes.
    pub engine: Engine,
    /// The journal, open for appending after its last frame.
    pub journal: Journal,
    /// What the journal's recovery found (a cut tail, the durable mark).
    pub report: RecoveryReport,
    /// Inputs replayed.
    pub replayed: u64,
    /// The stamp of the last input (0 for an empty journal).
    pub last_time_ns: u64,
    /// How long the replay took.
    pub elapsed: Duration,
}

/// Opens the journal in `dir`, loads the newest good snapshot from
/// `snapshots` (if given and any), and replays the journal after it.
///
/// # Errors
/// The journal cannot be opened (its error names the segment, offset and
/// sequence number of damaged durable data), a frame is not an engine input
/// of a known format version, or the configuration is invalid. A damaged
/// snapshot is not an error: it is skipped, with a warning.
pub fn recover(
    dir: &Path,
    snapshots: Option<&Path>,
    engine_config: EngineConfig,
    journal_config: JournalConfig,
) -> Result<Recovered> {
    recover_with(
        dir,
        snapshots,
        engine_config,
        journal_config,
        u64::MAX,
        &mut |_, _, _| {},
    )
}

/// As [`recover`], but starts from no snapshot later than
/// `snapshot_max_seq`, and shows every event the replay produces to
/// `observer` as `(seq, time_ns, event)`: the gateways re-derive from them
/// what they had not yet delivered when the venue stopped.
///
/// # Errors
/// As [`recover`].
pub fn recover_with(
    dir: &Path,
    snapshots: Option<&Path>,
    engine_config: EngineConfig,
    journal_config: JournalConfig,
    snapshot_max_seq: u64,
    observer: &mut dyn FnMut(u64, u64, &Event),
) -> Result<Recovered> {
    let started = Instant::now();
    let journal = Journal::open(dir, journal_config)
        .with_context(|| format!("cannot open the journal in {}", dir.display()))?;
    let report = journal.recovery().clone();
    let mut set_aside = Vec::new();
    if let Some(dir) = snapshots {
        set_aside = set_aside_snapshots_ahead(dir, journal.last_seq())?;
    }
    let (snapshot, mut warnings) = match snapshots {
        Some(s) => crate::snapshot::load_newest(
            s,
            &engine_config,
            journal.last_seq().min(snapshot_max_seq),
        )?,
        None => (None, Vec::new()),
    };
    warnings.extend(set_aside);
    let from_snapshot = snapshot.as_ref().map(|s| s.seq);
    let (mut engine, mut last_time_ns) = match snapshot {
        Some(s) => (s.engine, s.time_ns),
        None => (
            Engine::new(engine_config).context("invalid engine configuration")?,
            0,
        ),
    };
    let mut reader = journal.reader().context("cannot read the journal")?;
    if let Some(seq) = from_snapshot {
        reader
            .seek_seq(seq + 1)
            .with_context(|| format!("cannot find sequence {} in the journal", seq + 1))?;
    }
    let mut replayed = 0u64;
    // The journal is read and decoded on a thread of its own; an unreadable
    // frame comes out after every input before it, and stops the recovery:
    // nothing starts. While input n is applied, the memory the next
    // `PREFETCH_DISTANCE` inputs will read is on its way, as the sequencer
    // does (`Engine::prefetch_ahead`).
    let mut inputs = ReadAhead::new(reader);
    let mut lookahead = engine::Lookahead::default();
    while inputs.advance(u64::MAX)? {
        let &(seq, time_ns, ref input) = inputs.current();
        for (i, (later_seq, _, later)) in inputs.ahead(engine::PREFETCH_DISTANCE).enumerate() {
            engine.prefetch_ahead(&mut lookahead, *later_seq, later, i + 1);
        }
        engine::sequencer::check_checkpoint(&mut engine, seq, input)?;
        let mut sink = Observe {
            seq,
            time_ns,
            observer: &mut *observer,
        };
        engine.apply(seq, time_ns, input, &mut sink);
        replayed += 1;
        last_time_ns = time_ns;
    }
    if from_snapshot.unwrap_or(0) + replayed != journal.last_seq() {
        bail!(
            "replayed {replayed} inputs after sequence {} but the journal's last sequence number is {}",
            from_snapshot.unwrap_or(0),
            journal.last_seq()
        );
    }
    Ok(Recovered {
        from_snapshot,
        warnings,
        engine,
        journal,
        report,
        replayed,
        last_time_ns,
        elapsed: started.elapsed(),
    })
}

/// The journal's next input with its sequence number and time, checked as
/// an engine input of this build's format (the incident tools' check).
impl InputSource for journal::Reader {
    fn next_input(&mut self) -> Result<Option<(u64, u64, Input)>> {
        match self.next_frame().context("cannot read the journal")? {
            Some(frame) => Ok(Some((
                frame.seq,
                frame.time_ns,
                crate::incident::source::decode(&frame)?,
            ))),
            None => Ok(None),
        }
    }
}

/// Shows replayed events to an observer with their input's seq and time.
struct Observe<'a> {
    seq: u64,
    time_ns: u64,
    observer: &'a mut dyn FnMut(u64, u64, &Event),
}

impl EventSink for Observe<'_> {
    fn event(&mut self, event: &Event) {
        (self.observer)(self.seq, self.time_ns, event);
    }
}

/// What the loop thread does when a duty cycle found nothing to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdleStrategy {
    /// Spin: lowest latency, one core at 100%.
    BusySpin,
    /// Spin `spins` times, then yield `yields` times, then park for
    /// `park_us` microseconds at a time (the default on small machines).
    Backoff {
        /// Empty cycles spent spinning.
        spins: u32,
        /// Empty cycles spent yielding after that.
        yields: u32,
        /// Park duration after that.
        park_us: u64,
    },
}

impl Default for IdleStrategy {
    fn default() -> Self {
        IdleStrategy::Backoff {
            spins: 1_000,
            yields: 100,
            park_us: 50,
        }
    }
}

/// The state of an idle strategy across empty duty cycles.
#[derive(Debug)]
pub struct Idler {
    strategy: IdleStrategy,
    empty_cycles: u64,
}

impl Idler {
    /// A fresh idler.
    #[must_use]
    pub fn new(strategy: IdleStrategy) -> Idler {
        Idler {
            strategy,
            empty_cycles: 0,
        }
    }

    /// Called after each duty cycle with the work it did.
    pub fn idle(&mut self, work: usize) {
        if work > 0 {
            self.empty_cycles = 0;
            return;
        }
        self.empty_cycles += 1;
        match self.strategy {
            IdleStrategy::BusySpin => std::hint::spin_loop(),
            IdleStrategy::Backoff {
                spins,
                yields,
                park_us,
            } => {
                if self.empty_cycles <= u64::from(spins) {
                    std::hint::spin_loop();
                } else if self.empty_cycles <= u64::from(spins) + u64::from(yields) {
                    std::thread::yield_now();
                } else {
                    std::thread::park_timeout(Duration::from_micros(park_us));
                }
            }
        }
    }
}

/// Nanoseconds since the Unix epoch from the system clock (read once per
/// duty cycle by the loop; the engine itself never reads a clock).
#[must_use]
pub fn wall_clock_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Nanoseconds on a monotonic clock since its first read in this process:
/// the clock the loop times its matching latency with
/// (`Sequencer::set_latency_clock`; `Instant`, a vDSO `clock_gettime`).
#[must_use]
pub fn monotonic_ns() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Snapshots the engine at the journal's end: syncs the journal first, so
/// that the snapshot never runs ahead of durable input, then writes the file.
/// The loop is paused meanwhile (a sync and one pass over the engine state).
///
/// # Errors
/// The sync or the snapshot file failed.
pub fn take_snapshot(sequencer: &mut Sequencer<JournalLog>, dir: &Path) -> Result<PathBuf> {
    let durable = sequencer
        .log_mut()
        .journal_mut()
        .sync()
        .context("cannot sync the journal before a snapshot")?;
    if durable != sequencer.log().journal().last_seq() {
        bail!("journal sync did not cover its last input");
    }
    let path = crate::snapshot::write(dir, sequencer.engine(), durable, sequencer.last_time_ns())?;
    crate::snapshot::prune(dir, SNAPSHOTS_KEPT)?;
    Ok(path)
}

/// Renames every snapshot in `dir` beyond `last_seq` (the journal's end
/// after recovery) to `….snap.ahead`, so that no later start ever loads it,
/// and says so, one line each.
///
/// Such a snapshot describes inputs the journal lost (a power cut took its
/// unsynced tail after the snapshot was written: periodic snapshots do not
/// wait for the journal's sync). The sequence numbers after `last_seq` will
/// be given to new inputs, so once the journal grows past it that snapshot
/// would look usable and be wrong. The file is kept for inspection.
///
/// # Errors
/// The directory cannot be listed or a file renamed.
fn set_aside_snapshots_ahead(dir: &Path, last_seq: u64) -> Result<Vec<String>> {
    let mut said = Vec::new();
    for (seq, path) in crate::snapshot::list(dir)? {
        if seq <= last_seq {
            continue;
        }
        let mut aside = path.clone().into_os_string();
        aside.push(".ahead");
        std::fs::rename(&path, &aside)
            .with_context(|| format!("cannot set aside {}", path.display()))?;
        said.push(format!(
            "snapshot {} is ahead of the journal (which ends at {last_seq}): the inputs it includes were lost; set aside as {}",
            path.display(),
            std::path::Path::new(&aside).display()
        ));
    }
    Ok(said)
}

/// How many snapshots are kept: the newest, and two older ones in case it
/// turns out damaged.
pub const SNAPSHOTS_KEPT: usize = 3;

/// Periodic snapshots from the loop thread.
#[derive(Clone, Debug)]
pub struct SnapshotPolicy {
    /// Where snapshots go.
    pub dir: PathBuf,
    /// Take one after this many journaled inputs; 0 for never (only at
    /// shutdown).
    pub every_inputs: u64,
}

/// The thread that encodes and writes periodic snapshots, so that the
/// matching thread only copies the engine (`Engine: Clone`, mostly memory
/// copies of its slabs and queues: the part that needs the engine to stand
/// still) and never encodes or waits for the disk. The copies' memory is
/// kept and refreshed in place for the next snapshot (up to two more
/// engines' worth of memory, resident), so later pauses fault in no new
/// pages. At most one snapshot waits while another
/// is written; beyond that a snapshot due is skipped (with a warning).
/// Dropping it waits for the snapshots handed to it.
#[derive(Debug)]
struct SnapshotWriter {
    tx: Option<std::sync::mpsc::SyncSender<(u64, u64, Box<Engine>)>>,
    /// Copies the writer is done with, handed back to be refreshed in place
    /// (`clone_from`) for the next snapshot instead of allocated afresh.
    spares: std::sync::mpsc::Receiver<Box<Engine>>,
    /// Snapshots handed over and not yet written (at most 2).
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl SnapshotWriter {
    fn start(dir: PathBuf) -> SnapshotWriter {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(u64, u64, Box<Engine>)>(1);
        let (spare_tx, spares) = std::sync::mpsc::sync_channel::<Box<Engine>>(2);
        let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let writing = Arc::clone(&in_flight);
        let thread = std::thread::Builder::new()
            .name("venue-snapshot".to_owned())
            .spawn(move || {
                for (seq, time_ns, engine) in rx {
                    let started = Instant::now();
                    let bytes = crate::snapshot::encode(&engine, seq, time_ns);
                    // Keep the copy's memory for the next snapshot.
                    let _ = spare_tx.try_send(engine);
                    let written =
                        crate::snapshot::write_encoded(&dir, seq, &bytes).and_then(|path| {
                            crate::snapshot::prune(&dir, SNAPSHOTS_KEPT).map(|_| path)
                        });
                    match written {
                        Ok(path) => info!(
                            seq,
                            path = %path.display(),
                            bytes = bytes.len(),
                            encode_and_write_ms = started.elapsed().as_millis() as u64,
                            "snapshot written"
                        ),
                        Err(e) => warn!(seq, error = %format_args!("{e:#}"), "snapshot failed"),
                    }
                    writing.fetch_sub(1, Ordering::AcqRel);
                }
            });
        match thread {
            Ok(thread) => SnapshotWriter {
                tx: Some(tx),
                spares,
                in_flight,
                thread: Some(thread),
            },
            Err(e) => {
                warn!(error = %e, "cannot start the snapshot thread; periodic snapshots are off");
                SnapshotWriter {
                    tx: None,
                    spares,
                    in_flight,
                    thread: None,
                }
            }
        }
    }

    /// Hands a copy of the engine after input `seq` to the writer.
    fn offer(&self, seq: u64, time_ns: u64, engine: Box<Engine>) -> bool {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        let sent = self
            .tx
            .as_ref()
            .is_some_and(|tx| tx.try_send((seq, time_ns, engine)).is_ok());
        if !sent {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
        sent
    }

    /// Whether the writer thread runs and can take a snapshot now (fewer
    /// than two with it), checked before the engine is copied.
    fn ready(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
            && self.in_flight.load(Ordering::Acquire) < 2
    }

    /// A copy of `engine`: an earlier copy refreshed in place when the
    /// writer has handed one back, else a new one.
    fn copy(&self, engine: &Engine) -> Box<Engine> {
        match self.spares.try_recv() {
            Ok(mut spare) => {
                Engine::clone_from(&mut spare, engine);
                spare
            }
            Err(_) => Box::new(engine.clone()),
        }
    }
}

impl Drop for SnapshotWriter {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            error!("the snapshot thread panicked");
        }
    }
}

impl SnapshotPolicy {
    /// A maintenance step for [`spawn`]: snapshots every `every_inputs`
    /// (and when the operator asks). The matching thread copies the engine;
    /// a thread of its own encodes it and writes, syncs and renames the
    /// file, so the loop never waits for the encoding or the disk. The
    /// journal is not synced first: a snapshot that turns out ahead of the
    /// journal after a power cut is set aside by recovery for good
    /// ([`recover_with`]), which uses an older one or replays (the journal is
    /// the source of truth; a snapshot only shortens restarts).
    /// A failed snapshot is logged and the loop goes on. Log events are
    /// formatted where they happen and written by the log's own thread
    /// (see [`crate::logging`]).
    pub fn maintenance(self) -> impl FnMut(&mut Sequencer<JournalLog>) + Send + 'static {
        let mut last = None;
        let writer = SnapshotWriter::start(self.dir.clone());
        let mut skipped_at = None;
        move |seq: &mut Sequencer<JournalLog>| {
            let now = seq.log().journal().last_seq();
            let base = *last.get_or_insert(now);
            let asked = seq.take_snapshot_request();
            if asked || (self.every_inputs > 0 && now >= base + self.every_inputs) {
                last = Some(now);
                if !writer.ready() {
                    if skipped_at != Some(now) {
                        skipped_at = Some(now);
                        warn!(
                            seq = now,
                            "snapshot skipped: the previous two are still being written"
                        );
                    }
                    return;
                }
                let started = Instant::now();
                let copy = writer.copy(seq.engine());
                let copy_us = started.elapsed().as_micros() as u64;
                if writer.offer(now, seq.last_time_ns(), copy) {
                    info!(seq = now, copy_us, "snapshot taken; writing it");
                }
            }
        }
    }
}

/// Runs `sequencer` on a new thread named `venue-seq` until `stop` is set,
/// then returns it (for a final snapshot or a clean close). Pins the thread
/// to `core` if given; where pinning is impossible it warns and runs anyway.
/// `maintenance` runs after every duty cycle that did work (periodic
/// snapshots, say). The loop's matching latency is timed with
/// [`monotonic_ns`]. A second thread, `venue-chunks`, makes the engine's
/// next store chunks ahead of need ([`engine::Engine::chunk_feeder`]),
/// off the matching thread's core when that is pinned; it stops with the
/// loop.
///
/// # Errors
/// The thread could not be spawned.
pub fn spawn<L, F>(
    mut sequencer: Sequencer<L>,
    core: Option<usize>,
    idle: IdleStrategy,
    stop: Arc<AtomicBool>,
    mut maintenance: F,
) -> Result<JoinHandle<Sequencer<L>>>
where
    L: InputLog + Send + 'static,
    F: FnMut(&mut Sequencer<L>) + Send + 'static,
{
    let feeder = spawn_chunk_feeder(sequencer.chunk_feeder(), core, Arc::clone(&stop))?;
    std::thread::Builder::new()
        .name("venue-seq".to_owned())
        .spawn(move || {
            if let Some(core) = core {
                let pinned = core_affinity::get_core_ids()
                    .and_then(|ids| ids.into_iter().find(|c| c.id == core))
                    .is_some_and(core_affinity::set_for_current);
                if !pinned {
                    warn!(
                        core,
                        "could not pin the sequencer to its core; running unpinned"
                    );
                }
            }
            sequencer.set_latency_clock(Some(monotonic_ns));
            let mut idler = Idler::new(idle);
            let mut halt_reported = false;
            while !stop.load(Ordering::Acquire) {
                let work = sequencer.do_work(wall_clock_ns());
                if work > 0 {
                    maintenance(&mut sequencer);
                }
                if !halt_reported && let Some(reason) = sequencer.halted() {
                    // Loudly, once: every input from now on is refused.
                    error!(
                        %reason,
                        "the venue has HALTED: the journal failed; \
                         no input is accepted until it is restarted"
                    );
                    halt_reported = true;
                }
                idler.idle(work);
            }
            // Release what is already durable before handing back.
            sequencer.do_work(wall_clock_ns());
            if feeder.join().is_err() {
                error!("the chunk feeder thread panicked");
            }
            sequencer
        })
        .context("cannot spawn the sequencer thread")
}

/// How often `venue-chunks` looks whether the engine took a chunk. A chunk
/// holds 4,096 or 65,536 orders' records, which even at millions of
/// inputs a second last several milliseconds, and each pool keeps two.
const CHUNK_FEED_INTERVAL: Duration = Duration::from_millis(1);

/// The feeder's pause between two huge pages of a chunk it is making.
const CHUNK_FEED_PACE: Duration = Duration::from_micros(200);

/// Runs `feeder` every [`CHUNK_FEED_INTERVAL`] until `stop`, on a thread
/// of its own kept off `avoid_core` (the matching thread's, if pinned).
fn spawn_chunk_feeder(
    feeder: engine::ChunkFeeder,
    avoid_core: Option<usize>,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("venue-chunks".to_owned())
        .spawn(move || {
            if let Some(avoid) = avoid_core
                && let Some(other) = core_affinity::get_core_ids()
                    .and_then(|ids| ids.into_iter().find(|c| c.id != avoid))
            {
                core_affinity::set_for_current(other);
            }
            // A pause after each 2 MiB written: on a machine whose cores
            // all run busy-spinning threads, this thread displaces one of
            // them for one huge page's faults at a time, not a whole chunk's
            // (up to ~8 ms).
            let mut pace = || std::thread::sleep(CHUNK_FEED_PACE);
            while !stop.load(Ordering::Acquire) {
                feeder.top_up(&mut pace);
                std::thread::sleep(CHUNK_FEED_INTERVAL);
            }
        })
        .context("cannot spawn the chunk feeder thread")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_ahead_of_the_journal_is_set_aside_for_good() {
        // A power cut took the journal's tail after a snapshot of it was
        // written: the journal ends before the snapshot's sequence number.
        let dir = tempfile::tempdir().expect("tempdir");
        let snapshots = dir.path().join("snapshots");
        let engine = Engine::new(crate::demo::engine_config()).expect("engine");
        let ahead = crate::snapshot::write(&snapshots, &engine, 5, 1).expect("written");
        let r = recover(
            &dir.path().join("journal"),
            Some(&snapshots),
            crate::demo::engine_config(),
            JournalConfig::default(),
        )
        .expect("recovers");
        assert_eq!(r.from_snapshot, None);
        assert!(
            r.warnings
                .iter()
                .any(|w| w.contains("ahead of the journal") && w.contains(".ahead")),
            "{:?}",
            r.warnings
        );
        assert!(!ahead.exists(), "no later start can load it");
        assert!(crate::snapshot::list(&snapshots).expect("lists").is_empty());
        let mut aside = ahead.into_os_string();
        aside.push(".ahead");
        assert!(std::path::Path::new(&aside).exists(), "kept for inspection");
    }
}
