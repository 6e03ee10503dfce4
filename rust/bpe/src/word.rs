//! Byte strings as machine words, and cache hints: the leaf helpers the vocabulary table, the
//! piece cache and the merge engines share (this module imports nothing from the crate).

/// The first `min(len, 8)` bytes of `b` packed little-endian into a word, zero-padded. Built
/// from at most two overlapping loads (no byte loop and no copy through memory, which would
/// stall on store forwarding in the hot path).
#[inline(always)]
pub(crate) fn pack8(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 8 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[..8]);
        return u64::from_le_bytes(w);
    }
    if n >= 4 {
        let lo = u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        let hi = u64::from(u32::from_le_bytes([b[n - 4], b[n - 3], b[n - 2], b[n - 1]]));
        // Overlapping bytes hold the same value in both words, so OR is exact.
        return lo | (hi << (8 * (n - 4)));
    }
    if n == 0 {
        return 0;
    }
    // n in 1..=3: bytes 0, n/2 and n-1 cover every position.
    u64::from(b[0])
        | (u64::from(b[n / 2]) << (8 * (n / 2)))
        | (u64::from(b[n - 1]) << (8 * (n - 1)))
}

/// Hint the CPU to pull the cache line holding `*x` into L1 (no effect on results).
#[inline(always)]
pub(crate) fn prefetch<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and reads nothing architecturally; `x` is a valid reference.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
            (x as *const T).cast::<i8>(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}
