//! Keeping the journal's helper threads (`journal-bg`, `journal-prep`) off
//! the CPU the writer runs on.
//!
//! Why: the writer is usually a busy-spinning agent that never blocks. A
//! thread that sleeps on the writer's CPU and is woken (an I/O completion)
//! often waits for the next scheduler tick (4 ms at `HZ=250`) before it
//! runs again: the spinner is not preempted on wake-up. A sync sleeps and
//! wakes several times (data write, inode write, cache flush), and the cache
//! flush is dispatched by a per-CPU kernel worker (`kworker/N:1H`, kblockd)
//! on the CPU that submitted the I/O, which waits for the tick in the same
//! way. Traced with ftrace (`sched_switch`, `block_rq_issue/complete`,
//! `ext4_sync_file_enter/exit`) on the 2-CPU development machine, group
//! mode at 1M frames/s: with `journal-bg` on the writer's CPU each
//! `fdatasync`/`msync` took 4 to 12 ms, almost all of it runnable-but-not-
//! running; on the other CPU the same calls took 0.1 to 0.5 ms.
//!
//! So the writer records the CPU it runs on now and then
//! ([`current_cpu`], a vDSO call, only when it wakes the background thread),
//! and each helper thread narrows its affinity to the CPUs it was allowed
//! minus that one ([`HelperAffinity::avoid`]). If that would leave no CPU
//! (a one-CPU process), the helpers stay where they are. An application that
//! pins its threads itself keeps full control: the helpers only ever narrow
//! the mask they inherited from the thread that opened the journal.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Marker for "not known" in a [`WriterCpu`].
const CPU_UNKNOWN: usize = usize::MAX;

/// The CPU the writer thread last reported running on.
#[derive(Debug)]
pub(crate) struct WriterCpu(AtomicUsize);

impl WriterCpu {
    pub(crate) fn unknown() -> WriterCpu {
        WriterCpu(AtomicUsize::new(CPU_UNKNOWN))
    }

    /// Records the calling thread's current CPU (the writer calls this).
    #[inline]
    pub(crate) fn record_current(&self) {
        if let Some(cpu) = current_cpu() {
            self.0.store(cpu, Ordering::Relaxed);
        }
    }

    /// The last recorded CPU, if any.
    #[inline]
    pub(crate) fn get(&self) -> Option<usize> {
        let cpu = self.0.load(Ordering::Relaxed);
        (cpu != CPU_UNKNOWN).then_some(cpu)
    }
}

/// The CPU the calling thread runs on now (it may move right after).
#[inline]
pub(crate) fn current_cpu() -> Option<usize> {
    // SAFETY: `sched_getcpu` takes no arguments and only returns a value.
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).ok()
}

/// A helper thread's CPU affinity: the mask it started with, and which CPU
/// (if any) it currently keeps out of it.
pub(crate) struct HelperAffinity {
    /// CPUs the thread was allowed when it started (inherited).
    allowed: libc::cpu_set_t,
    /// How many of them there are.
    allowed_count: usize,
    /// The CPU currently removed from the mask.
    avoided: Option<usize>,
}

impl HelperAffinity {
    /// Reads the calling thread's affinity mask; `None` if it cannot be read.
    pub(crate) fn of_current_thread() -> Option<HelperAffinity> {
        // SAFETY: `cpu_set_t` is a plain bit array; all zeros is a valid (empty) set.
        let mut allowed: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::cpu_set_t>();
        debug_assert!(size > 0);
        // SAFETY: `allowed` is a live, writable `cpu_set_t` of `size` bytes;
        // pid 0 is the calling thread.
        let rc = unsafe { libc::sched_getaffinity(0, size, &mut allowed) };
        if rc != 0 {
            return None;
        }
        // SAFETY: `CPU_COUNT` only reads the set it is given.
        let allowed_count = usize::try_from(unsafe { libc::CPU_COUNT(&allowed) }).unwrap_or(0);
        Some(HelperAffinity {
            allowed,
            allowed_count,
            avoided: None,
        })
    }

    /// Keeps the calling thread off `cpu` (the writer's), if it has another
    /// CPU to go to; a no-op when `cpu` is already the one avoided.
    pub(crate) fn avoid(&mut self, cpu: Option<usize>) {
        let Some(cpu) = cpu else { return };
        if self.avoided == Some(cpu) || cpu >= libc::CPU_SETSIZE as usize {
            return;
        }
        let mut mask = self.allowed;
        // SAFETY: `cpu < CPU_SETSIZE` (checked above), so the bit is inside the set.
        if unsafe { libc::CPU_ISSET(cpu, &mask) } {
            if self.allowed_count < 2 {
                return; // nowhere else to go
            }
            // SAFETY: as above.
            unsafe { libc::CPU_CLR(cpu, &mut mask) };
        }
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: `mask` is a live `cpu_set_t` of `size` bytes, non-empty
        // (at least two CPUs were allowed, one removed); pid 0 is the
        // calling thread.
        let rc = unsafe { libc::sched_setaffinity(0, size, &mask) };
        if rc == 0 {
            self.avoided = Some(cpu);
        }
    }
}

impl std::fmt::Debug for HelperAffinity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HelperAffinity")
            .field("allowed_count", &self.allowed_count)
            .field("avoided", &self.avoided)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current_mask() -> libc::cpu_set_t {
        HelperAffinity::of_current_thread()
            .expect("affinity readable")
            .allowed
    }

    fn is_set(cpu: usize, set: &libc::cpu_set_t) -> bool {
        // SAFETY: `cpu < CPU_SETSIZE` (callers pass CPUs found in a set).
        unsafe { libc::CPU_ISSET(cpu, set) }
    }

    #[test]
    fn a_helper_leaves_the_writer_cpu_and_follows_it() {
        // In a thread of its own: the test harness's threads keep their mask.
        std::thread::spawn(|| {
            let mut aff = HelperAffinity::of_current_thread().expect("affinity readable");
            let allowed: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
                .filter(|&c| is_set(c, &aff.allowed))
                .collect();
            assert_eq!(allowed.len(), aff.allowed_count);
            let first = allowed[0];
            aff.avoid(Some(first));
            let mask = current_mask();
            if allowed.len() < 2 {
                // Nowhere else to go: the mask is left alone.
                assert!(is_set(first, &mask));
                assert_eq!(aff.avoided, None);
                return;
            }
            assert!(!is_set(first, &mask));
            assert!(allowed[1..].iter().all(|&c| is_set(c, &mask)));
            // The writer moved: the helper may use its old CPU again.
            let second = allowed[1];
            aff.avoid(Some(second));
            let mask = current_mask();
            assert!(is_set(first, &mask));
            assert!(!is_set(second, &mask));
            assert_eq!(aff.avoided, Some(second));
        })
        .join()
        .expect("test thread");
    }

    #[test]
    fn writer_cpu_is_unknown_until_recorded() {
        let w = WriterCpu::unknown();
        assert_eq!(w.get(), None);
        w.record_current();
        assert!(w.get().is_some_and(|c| c < libc::CPU_SETSIZE as usize));
    }
}
