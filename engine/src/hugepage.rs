//! Transparent huge pages for the engine's large tables, the engine's one
//! system call.
//!
//! The ClOrdID table and the day's stores are tens of megabytes read at
//! random: with 4 KiB pages nearly every probe also misses the TLB (a page
//! walk before the cache miss), and every 4 KiB of a growing store is one
//! page fault. Marked `MADV_HUGEPAGE`, the kernel backs them with 2 MiB pages
//! where it can, on machines whose `transparent_hugepage` setting is
//! `madvise` (the common default) or `always`. It is only advice: where the
//! kernel has no huge page to give, or the setting is `never`, nothing
//! changes but speed.

/// The size of a transparent huge page on x86_64 and most aarch64 kernels.
pub(crate) const HUGE_PAGE: usize = 2 << 20;

/// Asks the kernel to back the 2 MiB-aligned part of `v`'s allocation with
/// huge pages. Call it before the memory is first written: pages already
/// faulted in stay small until the kernel's background collapse.
pub(crate) fn advise<T>(v: &Vec<T>) {
    let bytes = v.capacity().saturating_mul(size_of::<T>());
    let start = v.as_ptr() as usize;
    let lo = start.next_multiple_of(HUGE_PAGE);
    let hi = (start + bytes) / HUGE_PAGE * HUGE_PAGE;
    if hi > lo {
        advise_range(lo, hi - lo);
    }
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn advise_range(addr: usize, len: usize) {
    // SAFETY: madvise(MADV_HUGEPAGE) reads and writes no memory; it marks the
    // mapping's pages as eligible for huge pages, which changes no contents.
    // The range lies inside one live allocation (a Vec's buffer, rounded
    // inwards to whole huge pages). A failure (EINVAL where THP is compiled
    // out) leaves the memory as it was, so its result is ignored.
    unsafe {
        libc::madvise(addr as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_range(_addr: usize, _len: usize) {}
