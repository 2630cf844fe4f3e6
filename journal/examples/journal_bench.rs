//! The journal's figures, each next to a baseline measured in the same run.
//!
//! ```text
//! cargo run --release -p journal --example journal_bench [-- --quick] [-- --dir DIR]
//! ```
//!
//! Workloads (all in a temporary directory on the same file system as DIR,
//! default the system temp dir; every file is removed afterwards):
//!
//! 1. Append throughput, `process` durability, payloads of 64, 128 and 256
//!    bytes, 512 MiB of frames per run (256 MiB segments, so one roll-over
//!    is inside the timed region; opening the journal and waiting for the
//!    preparer's first spare segment is not). Baseline: the same number of
//!    records of the same size written with a plain `memcpy` plus CRC32C
//!    (header and payload) into an allocated, zeroed, fully prefaulted mmap
//!    of the same total size (no page fault in the timed region).
//! 2. Group commit (`flush_interval_us` 1000): after a `sync(2)` of the
//!    whole machine (so earlier sections' dirty pages are not in the way), a
//!    paced writer offers 100k and 1M frames/s of 128 bytes for 2 s (this
//!    includes one roll-over at 1M/s); an observer thread waits on the
//!    durable sequence number. Reports durable frames/s and the
//!    append-to-durable latency p50/p99/p99.9 (HDR histogram), next to the
//!    mean and max time of one sync (data `msync` plus durable mark) in the
//!    same run.
//! 3. Sequential read with CRC check of 4M 128-byte frames from a warm page
//!    cache. Baseline: one CRC32C pass over the same bytes.
//!
//! Each throughput figure is the median of five runs (three with `--quick`).
//!
//! Environment overrides, for investigation: `JOURNAL_BENCH_ONLY=append|group|read`
//! runs one section; `JOURNAL_BENCH_OFFERED=100000,1000000` sets the offered
//! rates; `JOURNAL_BENCH_GROUP_SEGMENT_MIB` the group runs' segment size;
//! `JOURNAL_BENCH_VERBOSE=1` prints each append run and the page faults the
//! writer thread took in it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use journal::{Durability, Journal, JournalConfig, Reader};
use memmap2::MmapMut;

const SEGMENT_SIZE_BYTES: u64 = 256 << 20;
const RUN_BYTES: usize = 512 << 20;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let base = args
        .iter()
        .position(|a| a == "--dir")
        .and_then(|i| args.get(i + 1))
        .map_or_else(std::env::temp_dir, PathBuf::from);
    let runs = if quick { 3 } else { 5 };
    let tmp = tempfile::Builder::new()
        .prefix("journal-bench")
        .tempdir_in(&base)
        .expect("temp dir");
    println!(
        "journal_bench: dir {}, {runs} runs per figure (median)",
        tmp.path().display()
    );
    // JOURNAL_BENCH_ONLY=append|group|read runs one section.
    let only = std::env::var("JOURNAL_BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only == "append" {
        append_section(tmp.path(), runs);
    }
    if only.is_empty() || only == "group" {
        group_section(tmp.path(), quick);
    }
    if only.is_empty() || only == "read" {
        read_section(tmp.path(), runs, quick);
    }
}

fn append_section(base: &Path, runs: usize) {
    println!(
        "\n== append throughput, process durability ({} MiB per run)",
        RUN_BYTES >> 20
    );
    println!(
        "{:>8} {:>16} {:>16} {:>8}",
        "payload", "journal frames/s", "baseline rec/s", "ratio"
    );
    for payload_len in [64usize, 128, 256] {
        let journal = median(
            (0..runs)
                .map(|i| append_run(base, i, payload_len))
                .collect(),
        );
        let baseline = median(
            (0..runs)
                .map(|i| baseline_run(base, i, payload_len))
                .collect(),
        );
        println!(
            "{payload_len:>8} {:>16} {:>16} {:>7.0}%",
            si(journal),
            si(baseline),
            100.0 * journal / baseline
        );
    }
}

fn group_section(base: &Path, quick: bool) {
    println!("\n== group commit, 128-byte payloads, flush interval 1000 us");
    println!(
        "{:>10} {:>14} {:>10} {:>10} {:>10} {:>12} {:>10} {:>12}",
        "offered/s",
        "durable/s",
        "p50 us",
        "p99 us",
        "p99.9 us",
        "sync mean us",
        "(mark) us",
        "sync max us"
    );
    // JOURNAL_BENCH_OFFERED=100000,1000000 overrides the offered rates.
    let offered_rates: Vec<u64> = std::env::var("JOURNAL_BENCH_OFFERED")
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| vec![100_000, 1_000_000]);
    for offered in offered_rates {
        settle_disk();
        group_run(base, offered, if quick { 1 } else { 2 });
    }
}

fn read_section(base: &Path, runs: usize, quick: bool) {
    println!("\n== sequential read with CRC check, 128-byte payloads, warm page cache");
    let frames = if quick { 2_000_000 } else { 4_000_000 };
    let dir = base.join("read");
    write_frames(&dir, frames, 128);
    let mut reads = Vec::new();
    let mut crcs = Vec::new();
    for _ in 0..runs {
        let (r, c) = read_run(&dir, frames);
        reads.push(r);
        crcs.push(c);
    }
    println!("{:>16} {:>20}", "reader frames/s", "baseline crc rec/s");
    println!("{:>16} {:>20}", si(median(reads)), si(median(crcs)));
    std::fs::remove_dir_all(&dir).ok();
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn si(x: f64) -> String {
    format!("{:.2}M", x / 1e6)
}

fn process_config() -> JournalConfig {
    JournalConfig {
        segment_size_bytes: SEGMENT_SIZE_BYTES,
        durability: Durability::Process,
        ..JournalConfig::default()
    }
}

fn frame_bytes(payload_len: usize) -> usize {
    (journal::FRAME_HEADER_SIZE + payload_len).next_multiple_of(journal::FRAME_ALIGN)
}

/// Appends 512 MiB of frames; returns frames per second.
fn append_run(base: &Path, run: usize, payload_len: usize) -> f64 {
    let dir = base.join(format!("append-{payload_len}-{run}"));
    let frames = RUN_BYTES / frame_bytes(payload_len);
    let payload = vec![0x5Au8; payload_len];
    let mut j = Journal::open(&dir, process_config()).expect("open");
    // Setup, untimed: let the preparer make the next segment and the
    // background thread prefault the first pages, as in steady state.
    wait_for_spare(&j);
    let faults0 = thread_minor_faults();
    let t0 = Instant::now();
    for i in 0..frames as u64 {
        j.append(1, 1, i, &payload).expect("append");
    }
    let rate = frames as f64 / t0.elapsed().as_secs_f64();
    if std::env::var_os("JOURNAL_BENCH_VERBOSE").is_some() {
        eprintln!(
            "  append {payload_len}: {:.2}M/s, writer page faults {}",
            rate / 1e6,
            thread_minor_faults() - faults0
        );
    }
    // No sync on close: the files are deleted right away.
    drop(j);
    std::fs::remove_dir_all(&dir).ok();
    rate
}

/// Minor page faults taken by the calling thread so far.
fn thread_minor_faults() -> i64 {
    // SAFETY: `getrusage` writes the struct we pass; zeroed is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a live `rusage`.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    assert_eq!(rc, 0);
    usage.ru_minflt
}

/// Setup, untimed: write back whatever earlier sections left dirty in the
/// page cache, so a group-commit run does not measure someone else's I/O.
fn settle_disk() {
    // SAFETY: `sync` takes no arguments and cannot fail.
    unsafe { libc::sync() };
    std::thread::sleep(Duration::from_millis(500));
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

/// The baseline: the same records, `memcpy` plus CRC32C into a fresh,
/// allocated mmap of the same total size. Returns records per second.
fn baseline_run(base: &Path, run: usize, payload_len: usize) -> f64 {
    let path = base.join(format!("baseline-{payload_len}-{run}"));
    let record = frame_bytes(payload_len);
    let records = RUN_BYTES / record;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .expect("baseline file");
    // Allocated like a journal segment (blocks reserved, zeros written so
    // the pages are in the page cache), mapped, and every page faulted in
    // for writing before the clock starts: the baseline takes no page fault.
    allocate(&file, RUN_BYTES as u64);
    // SAFETY: the file was just created by this function, is not resized
    // while mapped, and nothing else maps it.
    let mut map = unsafe { MmapMut::map_mut(&file) }.expect("map");
    debug_assert_eq!(map.len(), RUN_BYTES);
    map.advise(memmap2::Advice::PopulateWrite)
        .expect("prefault baseline map");
    let payload = vec![0x5Au8; payload_len];
    let t0 = Instant::now();
    let mut off = 0;
    for i in 0..records as u64 {
        let mut header = [0u8; 32];
        header[0..4].copy_from_slice(&((32 + payload_len) as u32).to_le_bytes());
        header[8..16].copy_from_slice(&i.to_le_bytes());
        header[16..24].copy_from_slice(&i.to_le_bytes());
        let crc = crc32c::crc32c_append(crc32c::crc32c(&header), &payload);
        header[4..8].copy_from_slice(&crc.to_le_bytes());
        map[off + 32..off + 32 + payload_len].copy_from_slice(&payload);
        map[off..off + 32].copy_from_slice(&header);
        off += record;
    }
    std::hint::black_box(&map[..64]);
    let rate = records as f64 / t0.elapsed().as_secs_f64();
    drop(map);
    std::fs::remove_file(&path).ok();
    rate
}

fn allocate(file: &std::fs::File, len: u64) {
    use std::os::unix::io::AsRawFd;
    // SAFETY: plain syscall on a descriptor that `file` keeps open.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len as libc::off_t) };
    assert_eq!(rc, 0, "posix_fallocate");
    use std::os::unix::fs::FileExt;
    let zeros = vec![0u8; 1 << 20];
    for off in (0..len).step_by(zeros.len()) {
        file.write_all_at(&zeros, off).expect("zero");
    }
}

/// Offers `offered` frames/s for `secs` seconds in group mode and prints
/// the durable rate and append-to-durable latency.
fn group_run(base: &Path, offered: u64, secs: u64) {
    let dir = base.join(format!("group-{offered}"));
    let config = JournalConfig {
        durability: Durability::Group {
            flush_interval_us: 1_000,
            flush_threshold_bytes: 4 << 20,
        },
        segment_size_bytes: std::env::var("JOURNAL_BENCH_GROUP_SEGMENT_MIB")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(SEGMENT_SIZE_BYTES, |mib| mib << 20),
        ..JournalConfig::default()
    };
    let frames = (offered * secs) as usize;
    let mut j = Journal::open(&dir, config).expect("open");
    wait_for_spare(&j);
    let durable = j.durable_handle();
    // Append instants, ns since `t0`, indexed by sequence number.
    let appended: Arc<Vec<AtomicU64>> = Arc::new((0..=frames).map(|_| AtomicU64::new(0)).collect());
    let t0 = Instant::now();
    let observer = {
        let appended = appended.clone();
        std::thread::spawn(move || {
            let mut hist =
                Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("histogram");
            let mut seen = 0u64;
            while seen < frames as u64 {
                if !durable
                    .wait_for(seen + 1, Duration::from_secs(10))
                    .expect("durable")
                {
                    panic!("no progress past {seen}");
                }
                let now = t0.elapsed().as_nanos() as u64;
                let d = durable.get().min(frames as u64);
                for seq in seen + 1..=d {
                    let at = appended[seq as usize].load(Ordering::Acquire);
                    hist.record(now.saturating_sub(at).max(1)).expect("record");
                }
                seen = d;
            }
            (hist, t0.elapsed())
        })
    };
    let payload = [0x33u8; 128];
    let interval_ns = 1_000_000_000 / offered;
    for i in 1..=frames as u64 {
        let due = i * interval_ns;
        while (t0.elapsed().as_nanos() as u64) < due {
            std::hint::spin_loop();
        }
        // Record the instant before the append, so the latency includes it.
        appended[i as usize].store(t0.elapsed().as_nanos() as u64, Ordering::Release);
        let seq = j.append(1, 1, i, &payload).expect("append");
        debug_assert_eq!(seq, i);
    }
    let (hist, took) = observer.join().expect("observer");
    let stats = j.sync_stats();
    drop(j);
    std::fs::remove_dir_all(&dir).ok();
    let us = |q: f64| hist.value_at_quantile(q) as f64 / 1e3;
    println!(
        "{:>10} {:>14} {:>10.0} {:>10.0} {:>10.0} {:>12.0} {:>10.0} {:>12.0}",
        si(offered as f64),
        si(frames as f64 / took.as_secs_f64()),
        us(0.5),
        us(0.99),
        us(0.999),
        stats.sync_ns_total as f64 / stats.syncs.max(1) as f64 / 1e3,
        stats.mark_ns_total as f64 / stats.syncs.max(1) as f64 / 1e3,
        stats.sync_ns_max as f64 / 1e3
    );
}

fn write_frames(dir: &Path, frames: u64, payload_len: usize) {
    let mut j = Journal::open(dir, process_config()).expect("open");
    let payload = vec![0x42u8; payload_len];
    for i in 0..frames {
        j.append(1, 1, i, &payload).expect("append");
    }
    j.close().expect("close");
}

/// Reads every frame (CRC checked by the reader); returns frames per second
/// and, as the baseline, records per second of one CRC32C pass over the
/// same segment bytes.
fn read_run(dir: &Path, frames: u64) -> (f64, f64) {
    let mut r = Reader::open(dir).expect("reader");
    let t0 = Instant::now();
    let mut n = 0u64;
    let mut sum = 0u64;
    while let Some(f) = r.next_frame().expect("frame") {
        n += 1;
        sum = sum.wrapping_add(u64::from(f.payload[0]));
    }
    let read = n as f64 / t0.elapsed().as_secs_f64();
    assert_eq!(n, frames);
    std::hint::black_box(sum);

    let mut bytes_total = 0usize;
    let mut crc = 0u32;
    let t1 = Instant::now();
    for entry in std::fs::read_dir(dir).expect("dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "log") {
            let file = std::fs::File::open(&path).expect("open");
            // SAFETY: read-only map of a closed journal's segment.
            let map = unsafe { memmap2::Mmap::map(&file) }.expect("map");
            debug_assert!(!map.is_empty());
            let used = (frames as usize * frame_bytes(128))
                .saturating_sub(bytes_total)
                .min(map.len());
            crc = crc32c::crc32c_append(crc, &map[..used]);
            bytes_total += used;
        }
    }
    std::hint::black_box(crc);
    let crc_rate = (bytes_total / frame_bytes(128)) as f64 / t1.elapsed().as_secs_f64();
    (read, crc_rate)
}
