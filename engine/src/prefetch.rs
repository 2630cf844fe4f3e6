//! A cache prefetch hint, an `unsafe` block (as are the rings' slots and the
//! huge-page advice in `hugepage.rs`).
//!
//! The engine's misses are mostly its first touch of an input's ClOrdID
//! table slot: random, in a table of several megabytes. The caller knows the
//! next input before it applies the current one, so [`crate::Engine::prefetch`]
//! asks for that slot's line one input ahead; the load then overlaps the
//! current input's work instead of stalling the next. A cancel then reads
//! the entry, the order and its neighbours, each found from the one before;
//! [`crate::Engine::prefetch_at`] asks for one more link per input of
//! distance, so a caller that sees four inputs ahead has the whole chain
//! loading before the cancel's turn. A prefetch is only a
//! hint: it never faults, changes nothing a program can observe but timing,
//! and is a no-op on other architectures.

/// Asks the CPU to bring the cache line holding `*r` into L1.
#[inline(always)]
pub(crate) fn prefetch_read<T>(r: &T) {
    prefetch_bytes(r, 1);
}

/// Asks the CPU to bring every cache line of `*r` into L1.
#[inline(always)]
pub(crate) fn prefetch_all<T>(r: &T) {
    prefetch_bytes(r, size_of::<T>().max(1));
}

/// Prefetches the lines holding the first `len` bytes of `*r`
/// (`len <= size_of::<T>()`, or 1 for a zero-sized `T`).
#[inline(always)]
#[allow(unsafe_code)]
fn prefetch_bytes<T>(r: &T, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        let p = std::ptr::from_ref(r).cast::<i8>();
        debug_assert!(!p.is_null());
        let start = p as usize;
        let mut line = start & !63;
        while line < start + len {
            // SAFETY: `_mm_prefetch` reads no memory architecturally and
            // cannot fault, whatever the address; these are the lines of a
            // live reference (checked non-null above). SSE, which provides
            // it, is part of the x86_64 baseline.
            unsafe {
                core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                    line as *const i8,
                );
            }
            line += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (r, len);
}
