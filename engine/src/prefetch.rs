//! A cache prefetch hint, the engine's only `unsafe`.
//!
//! The engine's misses are mostly its first touch of an input's ClOrdID
//! table slot: random, in a table of several megabytes. The caller knows the
//! next input before it applies the current one, so [`crate::Engine::prefetch`]
//! asks for that slot's line one input ahead; the load then overlaps the
//! current input's work instead of stalling the next. A prefetch is only a
//! hint: it never faults, changes nothing a program can observe but timing,
//! and is a no-op on other architectures.

/// Asks the CPU to bring the cache line holding `*r` into L1.
#[inline(always)]
#[allow(unsafe_code)]
pub(crate) fn prefetch_read<T>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        let p = std::ptr::from_ref(r).cast::<i8>();
        debug_assert!(!p.is_null());
        // SAFETY: `_mm_prefetch` reads no memory architecturally and cannot
        // fault, whatever the address; this one is that of a live reference
        // (checked non-null above). SSE, which provides it, is part of the
        // x86_64 baseline.
        unsafe { core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}
