//! Segment roll-over, reopen and continue; seeking by sequence number and
//! by (non-monotonic) timestamp; durability levels; refusals.

mod common;

use std::time::Duration;

use common::{payload_for, read_all, seeded_rng, small_config};
use journal::{Durability, Journal, JournalError, Reader, read_mark, verify};
use rand::RngExt;

#[test]
fn roll_over_reopen_and_continue_keeps_every_frame_in_order() {
    let mut rng = seeded_rng("roll_over_reopen_and_continue");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    let mut expected = Vec::new();
    let mut time_ns = 1_700_000_000_000_000_000u64;
    for round in 0..3 {
        let mut j = Journal::open(&dir, small_config(Durability::Process)).unwrap();
        assert_eq!(
            j.recovery().last_seq,
            expected.len() as u64,
            "round {round}"
        );
        assert_eq!(j.recovery().cut, None, "round {round}");
        for _ in 0..700 {
            let len = rng.random_range(0..=300usize);
            time_ns += rng.random_range(0..1_000u64);
            let seq = expected.len() as u64 + 1;
            let ptype = rng.random_range(0..4u16);
            assert_eq!(
                j.append(ptype, 3, time_ns, &payload_for(seq, len)).unwrap(),
                seq
            );
            expected.push((seq, time_ns, payload_for(seq, len)));
        }
        assert_eq!(j.last_time_ns(), time_ns);
        j.close().unwrap();
    }
    let all = read_all(&dir);
    assert_eq!(all.len(), expected.len());
    assert!(all == expected, "frames differ after reopen");
    let report = verify(&dir).unwrap();
    assert_eq!(report.problem, None);
    assert_eq!(report.frames, 2100);
    assert_eq!((report.first_seq, report.last_seq), (1, 2100));
    assert!(
        report.segments.len() >= 5,
        "{} segments",
        report.segments.len()
    );
    let files = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "log")
        })
        .count();
    assert_eq!(files, report.segments.len());
    assert!(
        report.segments[..report.segments.len() - 1]
            .iter()
            .all(|s| s.sealed)
    );
    assert_eq!(
        report.mark.unwrap().durable_seq,
        2100,
        "close syncs and records the mark"
    );
}

#[test]
fn seek_by_seq_and_by_time_agree_with_a_full_scan_even_when_time_goes_backwards() {
    let mut rng = seeded_rng("seek_by_seq_and_time");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    let mut j = Journal::open(&dir, small_config(Durability::Process)).unwrap();
    let mut times = vec![0u64];
    let mut t = 1_000_000u64;
    for seq in 1..=3000u64 {
        // Mostly forward, sometimes a step back (a clock adjustment).
        t = if rng.random_bool(0.05) {
            t.saturating_sub(rng.random_range(0..5_000))
        } else {
            t + rng.random_range(0..1_000)
        };
        times.push(t);
        j.append(1, 1, t, &payload_for(seq, rng.random_range(0..200usize)))
            .unwrap();
    }
    assert!(verify(&dir).unwrap().segments.len() > 5);
    let (time_min, time_max) = (
        *times[1..].iter().min().unwrap(),
        *times.iter().max().unwrap(),
    );
    let mut r = Reader::open(&dir).unwrap();
    for _ in 0..100 {
        let seq = rng.random_range(1..=3000u64);
        r.seek_seq(seq).unwrap();
        let f = r.next_frame().unwrap().unwrap();
        assert_eq!(f.seq, seq);
        assert_eq!(f.time_ns, times[seq as usize]);

        let target = rng.random_range(time_min - 10..=time_max + 10);
        let first = (1..=3000u64).find(|&s| times[s as usize] >= target);
        r.seek_time(target).unwrap();
        match first {
            Some(s) => {
                let f = r.next_frame().unwrap().unwrap();
                assert_eq!(f.seq, s, "seek_time({target})");
                // Everything after it follows, whatever its timestamp.
                if s < 3000 {
                    assert_eq!(r.next_frame().unwrap().unwrap().seq, s + 1);
                }
            }
            None => assert!(
                r.next_frame().unwrap().is_none(),
                "seek_time({target}) past the end"
            ),
        }
    }
    // Past the end: nothing yet, then the frame once it is written.
    r.seek_seq(3001).unwrap();
    assert!(r.next_frame().unwrap().is_none());
    j.append(1, 1, t, b"later").unwrap();
    assert_eq!(r.next_frame().unwrap().unwrap().payload, b"later");
}

#[test]
fn group_mode_publishes_the_durable_seq_and_the_mark() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    let config = small_config(Durability::Group {
        flush_interval_us: 200,
        flush_threshold_bytes: 8 << 10,
    });
    let mut j = Journal::open(&dir, config).unwrap();
    let handle = j.durable_handle();
    let mut last = 0;
    for seq in 1..=2000u64 {
        last = j.append(1, 1, seq, &payload_for(seq, 100)).unwrap();
        assert!(handle.get() <= last);
    }
    // A generous liveness bound, not a timing assertion.
    assert!(
        handle.wait_for(last, Duration::from_secs(30)).unwrap(),
        "durable_seq never reached {last}"
    );
    assert_eq!(j.durable_seq(), last);
    assert!(read_mark(&dir).unwrap().unwrap().durable_seq >= last);
    j.close().unwrap();
}

#[test]
fn sync_mode_records_each_append_in_the_mark_before_returning() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    let mut j = Journal::open(&dir, small_config(Durability::Sync)).unwrap();
    for seq in 1..=20u64 {
        assert_eq!(j.append(1, 1, seq, b"x").unwrap(), seq);
        assert_eq!(j.durable_seq(), seq);
        assert_eq!(read_mark(&dir).unwrap().unwrap().durable_seq, seq);
    }
}

#[test]
fn process_mode_moves_the_mark_only_on_sync_and_close() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    let mut j = Journal::open(&dir, small_config(Durability::Process)).unwrap();
    for seq in 1..=10u64 {
        j.append(1, 1, seq, b"abc").unwrap();
    }
    assert_eq!(j.durable_seq(), 0);
    assert_eq!(read_mark(&dir).unwrap().map(|m| m.durable_seq), None);
    assert_eq!(j.sync().unwrap(), 10);
    assert_eq!(read_mark(&dir).unwrap().unwrap().durable_seq, 10);
    j.append(1, 1, 11, b"abc").unwrap();
    assert_eq!(read_mark(&dir).unwrap().unwrap().durable_seq, 10);
    j.close().unwrap();
    assert_eq!(read_mark(&dir).unwrap().unwrap().durable_seq, 11);
}

#[test]
fn a_second_writer_is_refused_while_the_first_is_open() {
    let tmp = tempfile::tempdir().unwrap();
    let j = Journal::open(tmp.path(), small_config(Durability::Process)).unwrap();
    let err = Journal::open(tmp.path(), small_config(Durability::Process)).unwrap_err();
    assert!(matches!(err, JournalError::Locked { .. }), "{err}");
    drop(j);
    Journal::open(tmp.path(), small_config(Durability::Process)).unwrap();
}

#[test]
fn an_oversized_payload_is_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let mut j = Journal::open(tmp.path(), small_config(Durability::Process)).unwrap();
    let max = j.payload_max_bytes();
    assert!(max > 32 << 10 && max < 64 << 10, "max payload {max}");
    let err = j.append(1, 1, 1, &vec![1u8; max + 1]).unwrap_err();
    assert!(
        matches!(err, JournalError::PayloadTooLarge { payload_max_bytes, .. } if payload_max_bytes == max)
    );
    assert_eq!(j.last_seq(), 0);
    // The largest payload fits, in a fresh segment if need be.
    j.append(1, 1, 1, b"small").unwrap();
    assert_eq!(j.append(1, 1, 2, &vec![2u8; max]).unwrap(), 2);
    j.close().unwrap();
    let all = read_all(tmp.path());
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].2.len(), max);
}

#[test]
fn append_with_writes_the_payload_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    let mut j = Journal::open(tmp.path(), small_config(Durability::Process)).unwrap();
    let seq = j
        .append_with(9, 2, 42, 11, |buf| {
            assert!(buf.iter().all(|&b| b == 0), "the slot starts zeroed");
            buf.copy_from_slice(b"hello world");
        })
        .unwrap();
    assert_eq!(seq, 1);
    let mut r = j.reader().unwrap();
    let f = r.next_frame().unwrap().unwrap();
    assert_eq!(
        (
            f.seq,
            f.payload_type,
            f.format_version,
            f.time_ns,
            f.payload
        ),
        (1, 9, 2, 42, &b"hello world"[..])
    );
}

#[test]
fn a_panicking_fill_leaves_no_trace() {
    let tmp = tempfile::tempdir().unwrap();
    let mut j = Journal::open(tmp.path(), small_config(Durability::Process)).unwrap();
    j.append(1, 1, 1, b"first").unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = j.append_with(1, 1, 2, 100, |buf| {
            buf.fill(0xAB);
            panic!("caller bug");
        });
    }));
    assert!(caught.is_err());
    assert_eq!(j.append(1, 1, 2, b"second").unwrap(), 2);
    j.close().unwrap();
    assert_eq!(verify(tmp.path()).unwrap().problem, None);
    assert_eq!(read_all(tmp.path()).len(), 2);
}

#[test]
fn reopening_after_a_process_crash_makes_the_surviving_frames_durable() {
    let tmp = tempfile::tempdir().unwrap();
    let live = tmp.path().join("live");
    let image = tmp.path().join("image");
    let mut j = Journal::open(&live, small_config(Durability::Process)).unwrap();
    for seq in 1..=600u64 {
        j.append(1, 1, seq, &payload_for(seq, 150)).unwrap();
    }
    // The process dies: the page cache keeps every frame, nothing was synced.
    common::crash_image(&live, &image);
    drop(j);
    assert_eq!(read_mark(&image).unwrap(), None);
    let config = small_config(Durability::Group {
        flush_interval_us: 500,
        flush_threshold_bytes: 1 << 20,
    });
    let j = Journal::open(&image, config).unwrap();
    assert!(verify(&image).unwrap().segments.len() > 1);
    assert_eq!(j.recovery().cut, None);
    assert_eq!(j.recovery().last_seq, 600);
    assert_eq!(j.durable_seq(), 600);
    assert_eq!(read_mark(&image).unwrap().unwrap().durable_seq, 600);
}

#[test]
fn a_reader_stops_at_a_damaged_frame_with_its_position() {
    let tmp = tempfile::tempdir().unwrap();
    let mut j = Journal::open(tmp.path(), small_config(Durability::Process)).unwrap();
    for seq in 1..=10u64 {
        j.append(1, 1, seq, &payload_for(seq, 20)).unwrap();
    }
    j.close().unwrap();
    let mut r = Reader::open(tmp.path()).unwrap();
    let mut offsets = Vec::new();
    while let Some(f) = r.next_frame().unwrap() {
        offsets.push(f.offset);
    }
    common::patch(&tmp.path().join("00000000.log"), offsets[6] + 35, &[0xFF]);
    let mut r = Reader::open(tmp.path()).unwrap();
    for seq in 1..=6 {
        assert_eq!(r.next_frame().unwrap().unwrap().seq, seq);
    }
    match r.next_frame() {
        Err(JournalError::Corrupt { offset, seq, .. }) => {
            assert_eq!((offset, seq), (offsets[6], 7))
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}
