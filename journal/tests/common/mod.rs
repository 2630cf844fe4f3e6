//! Helpers shared by the journal's integration tests.
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::fs;
use std::path::Path;

use journal::{Durability, JournalConfig};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Small segments so roll-over and full scans are cheap in debug builds.
pub(crate) const TEST_SEGMENT_SIZE_BYTES: u64 = 64 << 10;

pub(crate) fn small_config(durability: Durability) -> JournalConfig {
    JournalConfig {
        segment_size_bytes: TEST_SEGMENT_SIZE_BYTES,
        index_interval_bytes: 4096,
        durability,
        prefault_distance_bytes: 16 << 10,
    }
}

/// A seeded RNG; the seed comes from `JOURNAL_TEST_SEED` or the clock and is
/// printed so a failure can be replayed.
pub(crate) fn seeded_rng(test: &str) -> StdRng {
    let seed = std::env::var("JOURNAL_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("{test}: seed = {seed} (replay with JOURNAL_TEST_SEED={seed})");
    StdRng::seed_from_u64(seed)
}

/// Deterministic payload for a sequence number.
pub(crate) fn payload_for(seq: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (seq.wrapping_mul(31).wrapping_add(i as u64 * 7) % 251) as u8)
        .collect()
}

/// Copies the journal files of `from` into `to`: the on-disk image a crash
/// at this instant would leave (the page cache holds every appended byte;
/// the durable mark is what the last sync wrote).
pub(crate) fn crash_image(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name != "LOCK" {
            fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// Overwrites `bytes` at `offset` of `file`.
pub(crate) fn patch(file: &Path, offset: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = fs::OpenOptions::new().write(true).open(file).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

/// Reads `len` bytes at `offset` of `file`.
pub(crate) fn read_at(file: &Path, offset: u64, len: usize) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let f = fs::File::open(file).unwrap();
    let mut b = vec![0u8; len];
    f.read_exact_at(&mut b, offset).unwrap();
    b
}

/// Reads every frame of the journal in `dir` as (seq, time, payload).
pub(crate) fn read_all(dir: &Path) -> Vec<(u64, u64, Vec<u8>)> {
    let mut r = journal::Reader::open(dir).unwrap();
    let mut out = Vec::new();
    while let Some(f) = r.next_frame().unwrap() {
        out.push((f.seq, f.time_ns, f.payload.to_vec()));
    }
    out
}
