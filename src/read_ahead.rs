//! Journal inputs read and decoded on a thread of their own, so that a
//! replay's thread only applies them.
//!
//! Replaying a journal (recovery at start-up, the incident tools) is two
//! jobs in a row per input: find the frame and check it (length, CRC,
//! sequence), decode it into an [`Input`]; then apply it. The first is
//! about a third of the time on one thread. [`ReadAhead`] gives it to a
//! helper thread (`journal-read`), which hands inputs over in batches
//! through a bounded channel: at most [`BATCHES_IN_FLIGHT`] batches of
//! [`BATCH`] inputs wait in it (and one more in the thread's hands), and
//! the thread never reads past the
//! input the caller asked to stop at (so a replay to a point neither reads
//! nor reports what lies beyond it). Inputs come out in journal order,
//! exactly as a synchronous read gives them, and a read error comes out in
//! its turn, after every input before it. Batches are handed back for
//! reuse, so the steady state allocates nothing.
//!
//! The helper blocks on the channel when it is ahead (no spinning: the
//! machine may have only the two cores), and the applying thread blocks
//! when it has caught up.

use std::sync::mpsc::{Receiver, Sender, SyncSender, sync_channel};
use std::thread::JoinHandle;

use anyhow::{Context, Result, anyhow};
use engine::Input;

/// One journaled input: its sequence number, its time (ns since the Unix
/// epoch) and the input.
pub type Item = (u64, u64, Input);

/// Inputs per batch handed from the reading thread to the applying one
/// (1,024 rather than 256: fewer wake-ups; 2–3% faster on the 10-million
/// input replay).
pub const BATCH: usize = 1024;

/// Batches read ahead at most (besides the one being applied).
pub const BATCHES_IN_FLIGHT: usize = 4;

/// Where inputs come from: the journal, read in order.
pub trait InputSource: Send + 'static {
    /// The next input, `None` at the end of the readable data.
    ///
    /// # Errors
    /// The frame cannot be read or is not a valid input.
    fn next_input(&mut self) -> Result<Option<Item>>;
}

/// What the reading thread sends.
enum Msg {
    Batch(Vec<Item>),
    Failed(anyhow::Error),
}

/// What the reading thread returns when it stops: the source, and whether
/// its data ended (rather than the thread stopping at the input asked for,
/// or at an error, or because nobody listens any more).
type Finished<S> = (S, bool);

enum State<S: InputSource> {
    /// No thread: the source is here.
    Idle(S),
    /// A thread reads (through the `until` it was started with).
    Running {
        rx: Receiver<Msg>,
        recycle: Sender<Vec<Item>>,
        thread: JoinHandle<Finished<S>>,
    },
    /// The reading thread panicked: the source is lost.
    Lost,
}

/// A source's inputs, read and decoded ahead on a helper thread (see the
/// module docs).
pub struct ReadAhead<S: InputSource> {
    state: State<S>,
    /// The batch being handed out; `next` is the index of the next input.
    batch: Vec<Item>,
    next: usize,
    /// The message after `batch`, taken without waiting when `batch` is
    /// nearly handed out, so that [`ReadAhead::ahead`] sees across its end.
    following: Option<Msg>,
    /// The last sequence number handed out, if any.
    last_seq: Option<u64>,
    /// The source's data ended at the last look (a later look may find
    /// more: a journal still being written).
    ended: bool,
}

impl<S: InputSource> ReadAhead<S> {
    /// Inputs from `source`, from where it stands; no thread starts until
    /// the first [`ReadAhead::advance`].
    pub fn new(source: S) -> Self {
        ReadAhead {
            state: State::Idle(source),
            batch: Vec::new(),
            next: 0,
            following: None,
            last_seq: None,
            ended: false,
        }
    }

    /// Makes the next input [`ReadAhead::current`]. `until` is the last
    /// sequence number the caller will ask for this time: the reading
    /// thread stops after it (a later call may ask for more). Returns
    /// false at the end of the source's data, or when the input last
    /// handed out was `until` or later.
    ///
    /// # Errors
    /// The next input cannot be read (every input before it has been handed
    /// out), or the reading thread cannot start or panicked.
    pub fn advance(&mut self, until: u64) -> Result<bool> {
        if self.last_seq.is_some_and(|s| s >= until) {
            return Ok(false);
        }
        loop {
            if self.next < self.batch.len() {
                self.next += 1;
                self.last_seq = Some(self.current().0);
                self.look_across();
                return Ok(true);
            }
            let msg = match (self.following.take(), &self.state) {
                (Some(msg), _) => Some(msg),
                (None, State::Running { rx, .. }) => rx.recv().ok(),
                // Before the first input, after the thread stopped at its
                // `until` (the caller asks for more now), or after the
                // data ended (look again, as a synchronous read would: a
                // journal still being written may have grown).
                (None, State::Idle(_)) => {
                    self.spawn(until)?;
                    continue;
                }
                (None, State::Lost) => {
                    return Err(anyhow!(
                        "the journal reading thread stopped earlier; the replay cannot go on"
                    ));
                }
            };
            match msg {
                Some(Msg::Batch(batch)) => {
                    let used = std::mem::replace(&mut self.batch, batch);
                    if let State::Running { recycle, .. } = &self.state
                        && used.capacity() >= BATCH
                    {
                        // The thread may have stopped: then the batch is
                        // simply dropped.
                        let _ = recycle.send(used);
                    }
                    self.next = 0;
                }
                Some(Msg::Failed(e)) => {
                    self.stop()?;
                    return Err(e);
                }
                // The thread stopped and everything it sent is handed out.
                None => {
                    self.stop()?;
                    if self.ended {
                        return Ok(false);
                    }
                }
            }
        }
    }

    /// Takes the next message early, if it is there already, once fewer
    /// than [`engine::PREFETCH_DISTANCE`] inputs of the batch are left.
    fn look_across(&mut self) {
        if self.following.is_none()
            && self.batch.len() - self.next < engine::PREFETCH_DISTANCE
            && let State::Running { rx, .. } = &self.state
        {
            self.following = rx.try_recv().ok();
        }
    }

    /// The input the last successful [`ReadAhead::advance`] made current.
    ///
    /// # Panics
    /// Before the first successful `advance`.
    #[must_use]
    pub fn current(&self) -> &Item {
        &self.batch[self.next - 1]
    }

    /// Up to `n` inputs after the current one that have been read already,
    /// in order: the inputs a replay announces to the engine
    /// (`Engine::prefetch_ahead`). Across a batch's end it sees the next
    /// batch if that had arrived when the current input was handed out.
    pub fn ahead(&self, n: usize) -> impl Iterator<Item = &Item> {
        let following: &[Item] = match &self.following {
            Some(Msg::Batch(b)) => b,
            _ => &[],
        };
        self.batch[self.next.min(self.batch.len())..]
            .iter()
            .chain(following)
            .take(n)
    }

    /// The source, when no thread is reading from it (before the first
    /// `advance`, and after the data ended or an error).
    #[must_use]
    pub fn source(&self) -> Option<&S> {
        match &self.state {
            State::Idle(s) => Some(s),
            _ => None,
        }
    }

    fn spawn(&mut self, until: u64) -> Result<()> {
        let State::Idle(mut source) = std::mem::replace(&mut self.state, State::Lost) else {
            return Ok(());
        };
        let (tx, rx) = sync_channel(BATCHES_IN_FLIGHT);
        let (recycle, recycled) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("journal-read".into())
            .spawn(move || {
                let ended = read(&mut source, until, &tx, &recycled);
                (source, ended)
            })
            .context("cannot start the journal reading thread")?;
        self.state = State::Running {
            rx,
            recycle,
            thread,
        };
        Ok(())
    }

    /// Stops the reading thread (it stops at its next batch, or has
    /// stopped) and takes the source back. Inputs it read and not handed
    /// out are dropped: called at the end of the data, at an error, or when
    /// the thread stopped at its `until`.
    fn stop(&mut self) -> Result<()> {
        self.following = None;
        match std::mem::replace(&mut self.state, State::Lost) {
            State::Running { rx, thread, .. } => {
                drop(rx);
                let (source, ended) = thread.join().map_err(|panic| {
                    let why = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    anyhow!("the journal reading thread panicked: {why}")
                })?;
                // Not ended: it stopped after its `until`, or at an error.
                self.ended = ended;
                self.state = State::Idle(source);
                Ok(())
            }
            other => {
                self.state = other;
                Ok(())
            }
        }
    }
}

impl<S: InputSource> std::fmt::Debug for ReadAhead<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::Idle(_) => "idle",
            State::Running { .. } => "reading",
            State::Lost => "lost",
        };
        f.debug_struct("ReadAhead")
            .field("state", &state)
            .field("last_seq", &self.last_seq)
            .field("batch_left", &(self.batch.len() - self.next))
            .finish_non_exhaustive()
    }
}

impl<S: InputSource> Drop for ReadAhead<S> {
    fn drop(&mut self) {
        // Hang up first, so that a thread waiting for room stops.
        if let State::Running { rx, thread, .. } = std::mem::replace(&mut self.state, State::Lost) {
            drop(rx);
            let _ = thread.join();
        }
    }
}

/// The reading thread: batches of inputs through sequence `until`; returns
/// whether the source's data ended.
fn read<S: InputSource>(
    source: &mut S,
    until: u64,
    tx: &SyncSender<Msg>,
    recycled: &Receiver<Vec<Item>>,
) -> bool {
    loop {
        let mut batch = recycled
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BATCH));
        batch.clear();
        let mut stop = None;
        while batch.len() < BATCH {
            match source.next_input() {
                Ok(Some(item)) => {
                    let last = item.0 >= until;
                    batch.push(item);
                    if last {
                        stop = Some(false);
                        break;
                    }
                }
                Ok(None) => {
                    stop = Some(true);
                    break;
                }
                Err(e) => {
                    if !batch.is_empty() && tx.send(Msg::Batch(batch)).is_err() {
                        return false;
                    }
                    let _ = tx.send(Msg::Failed(e));
                    return false;
                }
            }
        }
        if !batch.is_empty() && tx.send(Msg::Batch(batch)).is_err() {
            return false;
        }
        if let Some(ended) = stop {
            return ended;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::Input;

    /// Inputs 1..=n (clock ticks), then an error at `fail_at` if given,
    /// then the end; `grown` more appear after the first end (a journal
    /// still being written).
    struct Counting {
        seq: u64,
        n: u64,
        fail_at: Option<u64>,
        grown: u64,
    }

    impl InputSource for Counting {
        fn next_input(&mut self) -> Result<Option<Item>> {
            if self.seq == self.n {
                self.n += std::mem::take(&mut self.grown);
                return Ok(None);
            }
            self.seq += 1;
            if Some(self.seq) == self.fail_at {
                return Err(anyhow!("frame {} is damaged", self.seq));
            }
            Ok(Some((self.seq, self.seq * 10, Input::ClockTick)))
        }
    }

    fn counting(n: u64) -> Counting {
        Counting {
            seq: 0,
            n,
            fail_at: None,
            grown: 0,
        }
    }

    fn drain(r: &mut ReadAhead<Counting>, until: u64) -> Result<Vec<u64>> {
        let mut seen = Vec::new();
        while seen.last().is_none_or(|&s| s < until) && r.advance(until)? {
            let (seq, time, _) = *r.current();
            assert_eq!(time, seq * 10);
            // What lies ahead is the next inputs, in order.
            for (k, a) in r.ahead(4).enumerate() {
                assert_eq!(a.0, seq + 1 + k as u64);
            }
            seen.push(seq);
        }
        Ok(seen)
    }

    #[test]
    fn hands_out_every_input_in_order_across_batches() {
        let n = (BATCH * (BATCHES_IN_FLIGHT + 3) + 17) as u64;
        let mut r = ReadAhead::new(counting(n));
        assert_eq!(
            drain(&mut r, u64::MAX).unwrap(),
            (1..=n).collect::<Vec<_>>()
        );
        assert!(!r.advance(u64::MAX).unwrap(), "the end stays the end");
        assert_eq!(r.source().map(|s| s.seq), Some(n), "the source is back");
    }

    #[test]
    fn never_reads_past_until_and_continues_on_a_later_call() {
        let b = BATCH as u64;
        let n = 4 * b;
        let mut r = ReadAhead::new(counting(n));
        let mut from = 1;
        // Batch boundaries and between them.
        for until in [b, 2 * b, 2 * b + 188, 3 * b + 100] {
            assert_eq!(
                drain(&mut r, until).unwrap(),
                (from..=until).collect::<Vec<_>>()
            );
            assert!(!r.advance(until).unwrap(), "nothing past {until} this time");
            // Once the thread is back, the source stands right after
            // `until`: nothing beyond it was read.
            r.stop().unwrap();
            assert_eq!(r.source().map(|s| s.seq), Some(until));
            from = until + 1;
        }
        assert_eq!(
            drain(&mut r, u64::MAX).unwrap(),
            (from..=n).collect::<Vec<_>>()
        );
    }

    #[test]
    fn an_error_comes_after_every_input_before_it() {
        let b = BATCH as u64;
        for fail_at in [1, b, b + 1, 2 * b + 1, 2 * b + 88] {
            let mut r = ReadAhead::new(Counting {
                fail_at: Some(fail_at),
                ..counting(3 * b)
            });
            let mut seen = Vec::new();
            let err = loop {
                match r.advance(u64::MAX) {
                    Ok(true) => seen.push(r.current().0),
                    Ok(false) => panic!("the end came before the damaged frame"),
                    Err(e) => break e,
                }
            };
            assert_eq!(seen, (1..fail_at).collect::<Vec<_>>());
            assert_eq!(err.to_string(), format!("frame {fail_at} is damaged"));
        }
    }

    #[test]
    fn a_source_that_grows_is_read_again_after_its_end() {
        let n = BATCH as u64 + 44;
        let mut r = ReadAhead::new(Counting {
            grown: 5,
            ..counting(n)
        });
        assert_eq!(
            drain(&mut r, u64::MAX).unwrap(),
            (1..=n).collect::<Vec<_>>()
        );
        assert_eq!(
            drain(&mut r, u64::MAX).unwrap(),
            (n + 1..=n + 5).collect::<Vec<_>>()
        );
        assert_eq!(drain(&mut r, u64::MAX).unwrap(), Vec::<u64>::new());
    }

    #[test]
    fn dropping_it_midway_stops_the_thread() {
        // The thread is blocked on a full channel when the reader is
        // dropped; the drop must hang up and join, not wait forever.
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut r = ReadAhead::new(counting(1_000_000));
            assert!(r.advance(u64::MAX).unwrap());
            std::thread::sleep(std::time::Duration::from_millis(50));
            drop(r);
            done.send(()).unwrap();
        });
        finished
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("dropping the reader returned");
    }
}
