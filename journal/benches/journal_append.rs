//! Criterion benches of the journal's hot paths, each next to its baseline.
//!
//! Workloads:
//! - `append_process/{64,128,256}`: `Journal::append` in `process` mode,
//!   payloads of 64, 128 and 256 bytes, 256 MiB segments. Each sample gets a
//!   fresh journal (opened, and its first spare segment prepared, outside
//!   the timed region); the timed region is `iters` appends, which for the
//!   larger samples spans several segments: this is the *sustained* rate,
//!   bounded by how fast the preparer can zero the next segments into the
//!   page cache (the example's 512 MiB runs measure a burst).
//! - `baseline_memcpy_crc32c/{64,128,256}`: the same records (32-byte header
//!   plus payload, CRC32C over both) copied into an allocated, zeroed and
//!   prefaulted mmap, wrapping at 256 MiB; the mapping is made once.
//! - `read_crc/128`: `Reader::next_frame` (CRC checked) over 1M frames of
//!   128 bytes written once outside the timed region (warm page cache).
//!
//! The group-commit latency figures need a paced writer and an observer
//! thread; they are in `examples/journal_bench.rs`, which also prints every
//! figure next to its baseline in one run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use journal::{Durability, Journal, JournalConfig, Reader};
use memmap2::MmapMut;

const SEGMENT_SIZE_BYTES: u64 = 256 << 20;

fn config() -> JournalConfig {
    JournalConfig {
        segment_size_bytes: SEGMENT_SIZE_BYTES,
        durability: Durability::Process,
        ..JournalConfig::default()
    }
}

/// Setup, untimed: wait until the preparer has made the next segment, so
/// the run measures the steady state (a roll-over costs only a rename).
fn wait_for_spare(j: &Journal) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !j.next_segment_ready() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    // Let the background thread prefault the first pages.
    std::thread::sleep(Duration::from_millis(20));
}

fn append(c: &mut Criterion) {
    let base = tempfile::tempdir().expect("temp dir");
    let mut group = c.benchmark_group("append_process");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    for payload_len in [64usize, 128, 256] {
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(
            BenchmarkId::from_parameter(payload_len),
            &payload_len,
            |b, &len| {
                let payload = vec![0x5Au8; len];
                let mut run = 0;
                b.iter_custom(|iters| {
                    run += 1;
                    let dir = base.path().join(format!("a{len}-{run}"));
                    let mut j = Journal::open(&dir, config()).expect("open");
                    wait_for_spare(&j);
                    let t0 = Instant::now();
                    for i in 0..iters {
                        black_box(j.append(1, 1, i, &payload).expect("append"));
                    }
                    let took = t0.elapsed();
                    drop(j);
                    std::fs::remove_dir_all(&dir).ok();
                    took
                });
            },
        );
    }
    group.finish();

    let mut group = c.benchmark_group("baseline_memcpy_crc32c");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    let path = base.path().join("baseline");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .expect("baseline file");
    file.set_len(SEGMENT_SIZE_BYTES).expect("size");
    {
        use std::os::unix::fs::FileExt;
        let zeros = vec![0u8; 1 << 20];
        for off in (0..SEGMENT_SIZE_BYTES).step_by(zeros.len()) {
            file.write_all_at(&zeros, off).expect("zero");
        }
    }
    // SAFETY: the file was created above, is not resized while mapped, and
    // nothing else maps it.
    let mut map = unsafe { MmapMut::map_mut(&file) }.expect("map");
    debug_assert_eq!(map.len() as u64, SEGMENT_SIZE_BYTES);
    map.advise(memmap2::Advice::PopulateWrite)
        .expect("prefault");
    for payload_len in [64usize, 128, 256] {
        group.throughput(Throughput::Elements(1));
        let record = (32 + payload_len).next_multiple_of(8);
        let payload = vec![0x5Au8; payload_len];
        let mut off = 0usize;
        group.bench_function(BenchmarkId::from_parameter(payload_len), |b| {
            b.iter(|| {
                if off + record > map.len() {
                    off = 0;
                }
                let mut header = [0u8; 32];
                header[0..4].copy_from_slice(&((32 + payload_len) as u32).to_le_bytes());
                header[8..16].copy_from_slice(&(off as u64).to_le_bytes());
                let crc = crc32c::crc32c_append(crc32c::crc32c(&header), &payload);
                header[4..8].copy_from_slice(&crc.to_le_bytes());
                map[off + 32..off + 32 + payload_len].copy_from_slice(&payload);
                map[off..off + 32].copy_from_slice(&header);
                off += record;
            });
        });
    }
    group.finish();
}

fn read(c: &mut Criterion) {
    let base = tempfile::tempdir().expect("temp dir");
    let dir = base.path().join("read");
    const FRAMES: u64 = 1_000_000;
    {
        let mut j = Journal::open(&dir, config()).expect("open");
        let payload = [0x42u8; 128];
        for i in 0..FRAMES {
            j.append(1, 1, i, &payload).expect("append");
        }
        j.close().expect("close");
    }
    let mut group = c.benchmark_group("read_crc");
    group
        .sample_size(10)
        .throughput(Throughput::Elements(FRAMES));
    group.bench_function(BenchmarkId::from_parameter(128), |b| {
        b.iter(|| {
            let mut r = Reader::open(&dir).expect("reader");
            let mut n = 0u64;
            while let Some(f) = r.next_frame().expect("frame") {
                n += u64::from(f.payload[0] != 0);
            }
            assert_eq!(n, FRAMES);
        });
    });
    group.finish();
}

criterion_group!(benches, append, read);
criterion_main!(benches);
