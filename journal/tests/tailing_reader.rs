//! A tailing reader on another thread follows a writer across many segment
//! roll-overs and sees every frame exactly once, in order, never a
//! half-written one (each frame's CRC and sequence number are checked).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{payload_for, seeded_rng, small_config};
use journal::{Durability, Journal, Reader};
use rand::RngExt;

const FRAMES: u64 = 30_000;

fn follow(dir: std::path::PathBuf, lens: Arc<Vec<usize>>, start_seq: u64) -> u64 {
    let mut r = Reader::open(&dir).unwrap();
    if start_seq > 1 {
        r.seek_seq(start_seq).unwrap();
    }
    let mut expected = start_seq;
    // Liveness guard only: the writer finishes in well under a second.
    let deadline = Instant::now() + Duration::from_secs(120);
    while expected <= FRAMES {
        match r.next_frame().unwrap() {
            Some(f) => {
                assert_eq!(f.seq, expected, "frames arrive once and in order");
                assert_eq!(
                    f.payload,
                    &payload_for(f.seq, lens[f.seq as usize])[..],
                    "seq {}",
                    f.seq
                );
                assert_eq!(f.time_ns, f.seq * 3);
                expected += 1;
            }
            None => {
                assert!(Instant::now() < deadline, "reader stalled at {expected}");
                std::thread::yield_now();
            }
        }
    }
    // Nothing more, and no frame twice.
    assert!(r.next_frame().unwrap().is_none());
    expected - start_seq
}

#[test]
fn tailing_readers_see_every_frame_once_while_a_writer_appends() {
    for durability in [
        Durability::Process,
        Durability::Group {
            flush_interval_us: 100,
            flush_threshold_bytes: 16 << 10,
        },
    ] {
        let mut rng = seeded_rng("tailing_readers");
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("j");
        let lens: Arc<Vec<usize>> = Arc::new(
            (0..=FRAMES)
                .map(|_| rng.random_range(0..160usize))
                .collect(),
        );
        let mut j = Journal::open(&dir, small_config(durability)).unwrap();

        let from_start = {
            let (dir, lens) = (dir.clone(), lens.clone());
            std::thread::spawn(move || follow(dir, lens, 1))
        };
        let writer = {
            let lens = lens.clone();
            std::thread::spawn(move || {
                for seq in 1..=FRAMES {
                    assert_eq!(
                        j.append(5, 1, seq * 3, &payload_for(seq, lens[seq as usize]))
                            .unwrap(),
                        seq
                    );
                    if seq == FRAMES / 2 {
                        std::thread::yield_now();
                    }
                }
                j.close().unwrap();
            })
        };
        // A second reader that joins half-way, by sequence number.
        let late = {
            let (dir, lens) = (dir.clone(), lens.clone());
            std::thread::spawn(move || follow(dir, lens, FRAMES / 2))
        };
        writer.join().unwrap();
        assert_eq!(from_start.join().unwrap(), FRAMES, "{durability:?}");
        assert_eq!(
            late.join().unwrap(),
            FRAMES - FRAMES / 2 + 1,
            "{durability:?}"
        );
        assert!(journal::verify(&dir).unwrap().segments.len() > 20);
    }
}

const CHILD_DIR_VAR: &str = "JOURNAL_TEST_CHILD_WRITER_DIR";
const CHILD_FRAMES: u64 = 20_000;

/// The writer half of the cross-process test, run in a child process by
/// `a_tailing_reader_follows_a_writer_in_another_process` (ignored in a
/// normal run, where it has nothing to do).
#[test]
#[ignore = "helper: run as a child process by the cross-process test"]
fn child_process_writer() {
    let dir = std::env::var_os(CHILD_DIR_VAR).expect("run by the cross-process test");
    let mut j = Journal::open(&dir, small_config(Durability::Process)).unwrap();
    for seq in 1..=CHILD_FRAMES {
        assert_eq!(
            j.append(6, 1, seq * 3, &payload_for(seq, (seq % 100) as usize))
                .unwrap(),
            seq
        );
    }
    j.close().unwrap();
}

#[test]
fn a_tailing_reader_follows_a_writer_in_another_process() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process_writer",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_DIR_VAR, &dir)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Liveness guard only.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut r = loop {
        match Reader::open(&dir) {
            Ok(r) => break r,
            Err(_) => {
                assert!(
                    Instant::now() < deadline,
                    "the child never created the journal"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    };
    let mut expected = 1;
    while expected <= CHILD_FRAMES {
        match r.next_frame().unwrap() {
            Some(f) => {
                assert_eq!(f.seq, expected);
                assert_eq!(f.payload, &payload_for(f.seq, (f.seq % 100) as usize)[..]);
                expected += 1;
            }
            None => {
                assert!(Instant::now() < deadline, "reader stalled at {expected}");
                std::thread::yield_now();
            }
        }
    }
    assert!(child.wait().unwrap().success(), "child writer failed");
    assert!(r.next_frame().unwrap().is_none());
}
