//! CRC32C of one frame, sized for the journal's frames.
//!
//! The values are the `crc32c` crate's, bit for bit (a test compares them
//! for every length up to 1 KiB and random seeds); what differs is the
//! path a short frame takes. The crate is built for long buffers: it splits
//! a buffer at 8-byte alignment, then into three-way interleaved chunks of
//! 768 bytes or more, then 8-byte words, then bytes, one loop each. A frame
//! of an order input is about 130 bytes, so it always takes the two simple
//! loops, and under callgrind the check cost the loop 158 instructions a
//! frame (`cargo bench --bench pipeline -- --single-thread`). Here a frame
//! under [`SHORT_MAX`] bytes is taken eight bytes at a time, and its tail in
//! one 4-, 2- and 1-byte step each; longer buffers go
//! to the crate.

#![allow(unsafe_code)]

/// Buffers up to this length take the inline path; longer ones the crate's,
/// whose three-way interleaving wins past a few hundred bytes.
pub(crate) const SHORT_MAX: usize = 512;

/// CRC32C of `bytes`, continuing from `crc` (as `crc32c::crc32c_append`).
#[inline]
pub(crate) fn crc32c_append(crc: u32, bytes: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        if bytes.len() <= SHORT_MAX && std::arch::is_x86_feature_detected!("sse4.2") {
            // SAFETY: the CPU has SSE 4.2 (checked just above; the check is
            // one cached load).
            return unsafe { short_sse42(crc, bytes) };
        }
    }
    crc32c::crc32c_append(crc, bytes)
}

/// The SSE 4.2 path for a short buffer.
///
/// # Safety
/// The CPU must support SSE 4.2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
unsafe fn short_sse42(crc: u32, bytes: &[u8]) -> u32 {
    use std::arch::x86_64::{_mm_crc32_u8, _mm_crc32_u16, _mm_crc32_u32, _mm_crc32_u64};

    let mut c = u64::from(!crc);
    let mut rest = bytes;
    while let Some((word, tail)) = rest.split_first_chunk::<8>() {
        c = _mm_crc32_u64(c, u64::from_le_bytes(*word));
        rest = tail;
    }
    let mut c = c as u32;
    if let Some((word, tail)) = rest.split_first_chunk::<4>() {
        c = _mm_crc32_u32(c, u32::from_le_bytes(*word));
        rest = tail;
    }
    if let Some((word, tail)) = rest.split_first_chunk::<2>() {
        c = _mm_crc32_u16(c, u16::from_le_bytes(*word));
        rest = tail;
    }
    if let Some(&b) = rest.first() {
        c = _mm_crc32_u8(c, b);
    }
    !c
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng, rngs::StdRng};

    #[test]
    fn equals_the_crate_for_every_short_length_and_any_seed() {
        let mut rng = StdRng::seed_from_u64(0x5eed_c3c3);
        let mut buf = vec![0u8; 1100];
        rng.fill(&mut buf[..]);
        for len in 0..=1024 {
            // Start at every offset mod 8, so unaligned slices are covered.
            let start = len % 8;
            let bytes = &buf[start..start + len];
            for seed in [0, 1, u32::MAX, rng.random()] {
                assert_eq!(
                    crc32c_append(seed, bytes),
                    crc32c::crc32c_append(seed, bytes),
                    "len {len}, seed {seed:#x}"
                );
            }
        }
    }

    #[test]
    fn a_flipped_bit_changes_the_short_crc() {
        let mut bytes = [0x5au8; 137];
        let base = crc32c_append(7, &bytes);
        for i in [0, 8, 15, 16, 127, 128, 135, 136] {
            bytes[i] ^= 0x10;
            assert_ne!(crc32c_append(7, &bytes), base, "byte {i}");
            bytes[i] ^= 0x10;
        }
    }
}
