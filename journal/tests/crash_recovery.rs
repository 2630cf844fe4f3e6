//! Crash recovery: torn tails after the durable mark are cut and appending
//! continues; damage at or before the durable mark is refused.
//!
//! A "crash image" is a copy of the journal files taken while the writer is
//! running: the page cache holds every appended byte, the durable mark holds
//! what the last sync recorded. Each case then damages a copy of the image
//! and opens it.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{crash_image, patch, payload_for, read_all, read_at, seeded_rng, small_config};
use journal::{BadFrame, Durability, Journal, JournalError, verify};
use rand::RngExt;

/// Position of one frame in the crash image.
#[derive(Debug, Clone, Copy)]
struct FramePos {
    seq: u64,
    offset: u64,
    frame_len: u64,
}

fn frame_positions(dir: &Path) -> Vec<FramePos> {
    let mut r = journal::Reader::open(dir).unwrap();
    let mut out = Vec::new();
    while let Some(f) = r.next_frame().unwrap() {
        out.push(FramePos {
            seq: f.seq,
            offset: f.offset,
            frame_len: 32 + f.payload.len() as u64,
        });
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[derive(Debug, Clone, Copy)]
enum Damage {
    /// Bytes from the offset on never reached the disk (preallocated zeros).
    Zeros,
    /// Garbage of random length written from the offset.
    Random,
    /// The file itself was truncated at the offset.
    Truncate,
}

/// 10 synced frames, then 2 unsynced ones; damage the image at every byte
/// offset inside the last two frames (and a little after them).
#[test]
fn torn_tail_at_every_offset_of_the_last_two_frames_keeps_the_valid_prefix() {
    let mut rng = seeded_rng("torn_tail_at_every_offset");
    let tmp = tempfile::tempdir().unwrap();
    let live = tmp.path().join("live");
    let image = tmp.path().join("image");
    let mut lens = vec![0usize];
    {
        let mut j = Journal::open(&live, small_config(Durability::Process)).unwrap();
        for seq in 1..=12u64 {
            let len = rng.random_range(0..40usize);
            lens.push(len);
            assert_eq!(
                j.append(7, 1, 1_000 + seq, &payload_for(seq, len)).unwrap(),
                seq
            );
            if seq == 10 {
                assert_eq!(j.sync().unwrap(), 10);
            }
        }
        crash_image(&live, &image);
        // Dropping `j` syncs the live directory; the image keeps mark = 10.
    }
    let frames = frame_positions(&image);
    assert_eq!(frames.len(), 12);
    let seg = Path::new("00000000.log");
    let (f11, f12) = (frames[10], frames[11]);
    let end = f12.offset + f12.frame_len;
    let original = read_at(&image.join(seg), 0, (end + 64) as usize);

    let mut case = 0;
    for x in f11.offset..end + 8 {
        for damage in [Damage::Zeros, Damage::Random, Damage::Truncate] {
            case += 1;
            let dir = tmp.path().join(format!("case{case}"));
            copy_dir(&image, &dir);
            let file = dir.join(seg);
            let mut damaged = original.clone();
            match damage {
                Damage::Zeros => {
                    let n = damaged.len() - x as usize;
                    patch(&file, x, &vec![0u8; n]);
                    damaged[x as usize..].fill(0);
                }
                Damage::Truncate => {
                    fs::OpenOptions::new()
                        .write(true)
                        .open(&file)
                        .unwrap()
                        .set_len(x)
                        .unwrap();
                    damaged[x as usize..].fill(0);
                }
                Damage::Random => {
                    let n = rng.random_range(1..=(end + 16 - x) as usize);
                    let mut garbage = vec![0u8; n];
                    rng.fill(&mut garbage[..]);
                    garbage[0] = original[x as usize] ^ rng.random_range(1..=255u8);
                    patch(&file, x, &garbage);
                    damaged[x as usize..x as usize + n].copy_from_slice(&garbage);
                }
            }
            // Frames 11 and 12 survive while none of their bytes changed.
            let intact = |f: &FramePos| {
                let r = f.offset as usize..(f.offset + f.frame_len) as usize;
                damaged[r.clone()] == original[r]
            };
            let expected_last = if !intact(&f11) {
                10
            } else if !intact(&f12) {
                11
            } else {
                12
            };
            let ctx = format!("offset {x}, {damage:?}, expected last seq {expected_last}");

            let mut j = Journal::open(&dir, small_config(Durability::Process))
                .unwrap_or_else(|e| panic!("{ctx}: open refused: {e}"));
            let rec = j.recovery().clone();
            assert_eq!(rec.last_seq, expected_last, "{ctx}");
            // The valid data ends at the next frame's offset; anything
            // non-zero from there on is a torn tail that must be cut and
            // reported. (All zeros is a clean end: nothing to cut.)
            let valid_end = match expected_last {
                10 => f11.offset,
                11 => f12.offset,
                _ => end.next_multiple_of(8),
            };
            let garbage = damaged[valid_end as usize..].iter().any(|&b| b != 0);
            assert_eq!(rec.cut.is_some(), garbage, "{ctx}: {:?}", rec.cut);
            if let Some(cut) = &rec.cut {
                assert_eq!(cut.offset, valid_end, "{ctx}");
                assert!(cut.segment.ends_with(seg), "{ctx}");
                assert!(cut.bytes > 0, "{ctx}");
                assert!(cut.removed_segments.is_empty(), "{ctx}");
            }
            assert_eq!(
                j.append(7, 1, 5_000, b"after recovery").unwrap(),
                expected_last + 1,
                "{ctx}"
            );
            j.close().unwrap();

            let all = read_all(&dir);
            assert_eq!(all.len() as u64, expected_last + 1, "{ctx}");
            for (i, (seq, _, payload)) in all.iter().enumerate() {
                assert_eq!(*seq, i as u64 + 1, "{ctx}");
                if *seq <= expected_last {
                    assert_eq!(payload, &payload_for(*seq, lens[*seq as usize]), "{ctx}");
                } else {
                    assert_eq!(payload, b"after recovery", "{ctx}");
                }
            }
            let report = verify(&dir).unwrap();
            assert_eq!(report.problem, None, "{ctx}");
            assert_eq!(report.last_seq, expected_last + 1, "{ctx}");
            fs::remove_dir_all(&dir).unwrap();
        }
    }
}

/// Builds a journal of 30 frames in `sync` mode (mark = 30) and returns its
/// crash image with the frame positions.
fn durable_image(tmp: &Path) -> (PathBuf, Vec<FramePos>) {
    let live = tmp.join("live");
    let image = tmp.join("image");
    let mut j = Journal::open(&live, small_config(Durability::Sync)).unwrap();
    for seq in 1..=30u64 {
        j.append(2, 1, seq * 10, &payload_for(seq, (seq as usize * 5) % 37))
            .unwrap();
        assert_eq!(j.durable_seq(), seq);
    }
    crash_image(&live, &image);
    drop(j);
    let frames = frame_positions(&image);
    (image, frames)
}

#[test]
fn a_damaged_byte_before_the_durable_mark_is_refused_with_segment_offset_and_seq() {
    let mut rng = seeded_rng("damaged_byte_before_mark");
    let tmp = tempfile::tempdir().unwrap();
    let (image, frames) = durable_image(tmp.path());
    for trial in 0..40 {
        let f = frames[rng.random_range(0..frames.len())];
        let at = f.offset + rng.random_range(0..f.frame_len);
        let dir = tmp.path().join(format!("trial{trial}"));
        copy_dir(&image, &dir);
        let file = dir.join("00000000.log");
        let old = read_at(&file, at, 1)[0];
        patch(&file, at, &[old ^ rng.random_range(1..=255u8)]);
        let before = fs::read(&file).unwrap();

        let err = Journal::open(&dir, small_config(Durability::Sync)).unwrap_err();
        let ctx = format!("byte {at} of frame {} (offset {})", f.seq, f.offset);
        match &err {
            JournalError::Corrupt {
                segment,
                offset,
                seq,
                ..
            } => {
                assert!(segment.ends_with("00000000.log"), "{ctx}: {err}");
                assert_eq!(*offset, f.offset, "{ctx}: {err}");
                assert_eq!(*seq, f.seq, "{ctx}: {err}");
            }
            other => panic!("{ctx}: expected Corrupt, got {other}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("00000000.log"), "{msg}");
        assert!(msg.contains(&format!("offset {}", f.offset)), "{msg}");
        assert!(msg.contains(&format!("sequence {}", f.seq)), "{msg}");
        assert_eq!(
            fs::read(&file).unwrap(),
            before,
            "{ctx}: a refused open must not change the file"
        );

        let report = verify(&dir).unwrap();
        let problem = report.problem.expect("verify reports the damage");
        assert_eq!(
            (problem.offset, problem.seq, problem.after_durable_mark),
            (f.offset, f.seq, false),
            "{ctx}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn durable_frames_replaced_by_zeros_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (image, frames) = durable_image(tmp.path());
    let file = image.join("00000000.log");
    let from = frames[19].offset;
    patch(&file, from, &vec![0u8; 4096]);
    let err = Journal::open(&image, small_config(Durability::Sync)).unwrap_err();
    assert!(
        matches!(err, JournalError::DurableDataMissing { last_seq: 19, durable_seq: 30, offset, .. } if offset == from),
        "{err}"
    );
    assert!(
        err.to_string().contains("durable mark says sequence 30"),
        "{err}"
    );
}

/// Fills segments until three exist, with the durable mark in segment 0.
fn three_segment_image(tmp: &Path) -> (PathBuf, u64) {
    let live = tmp.join("live");
    let image = tmp.join("image");
    let mut j = Journal::open(&live, small_config(Durability::Process)).unwrap();
    let mut seq = 0;
    let mut mark = 0;
    while journal::stat(&live).unwrap().segments.len() < 3 {
        for _ in 0..50 {
            seq = j.append(1, 1, seq, &payload_for(seq, 200)).unwrap();
        }
        if mark == 0 && seq > 100 {
            mark = j.sync().unwrap();
        }
    }
    crash_image(&live, &image);
    drop(j);
    (image, mark)
}

#[test]
fn torn_tail_in_a_later_segment_removes_the_segments_after_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (image, mark) = three_segment_image(tmp.path());
    let frames = frame_positions(&image);
    // Tear a frame in the middle of segment 1.
    let report = verify(&image).unwrap();
    assert_eq!(report.segments.len(), 3);
    let first_of_1 = report.segments[1].first_seq;
    let victim = frames.iter().find(|f| f.seq == first_of_1 + 10).unwrap();
    patch(&image.join("00000001.log"), victim.offset + 40, &[0xEE]);

    let mut j = Journal::open(&image, small_config(Durability::Process)).unwrap();
    let cut = j.recovery().cut.clone().expect("cut reported");
    assert!(mark < victim.seq);
    assert_eq!(j.recovery().last_seq, victim.seq - 1);
    assert_eq!(cut.offset, victim.offset);
    assert!(
        matches!(cut.reason, BadFrame::CrcMismatch { .. }),
        "{:?}",
        cut.reason
    );
    assert_eq!(cut.removed_segments, vec![image.join("00000002.log")]);
    assert!(!image.join("00000002.log").exists());
    // Appending continues and rolls into a fresh segment 2.
    let mut seq = j.last_seq();
    while !image.join("00000002.log").exists() {
        seq = j.append(1, 1, seq, &payload_for(seq, 200)).unwrap();
    }
    j.close().unwrap();
    let all = read_all(&image);
    assert_eq!(all.len() as u64, seq);
    assert!(all.iter().enumerate().all(|(i, f)| f.0 == i as u64 + 1));
    assert_eq!(verify(&image).unwrap().problem, None);
}

#[test]
fn crash_during_roll_over_drops_the_new_segment_and_continues_in_the_old_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (image, _mark) = three_segment_image(tmp.path());
    let report = verify(&image).unwrap();
    // Pretend the crash hit after segment 2 was created but before the end
    // marker of segment 1 and any frame of segment 2 reached the disk.
    let marker_at = report.segments[1].end_offset;
    patch(&image.join("00000001.log"), marker_at, &[0u8; 32]);
    let seg2_end = report.segments[2].end_offset;
    patch(
        &image.join("00000002.log"),
        64,
        &vec![0u8; (seg2_end - 64) as usize],
    );

    let mut j = Journal::open(&image, small_config(Durability::Process)).unwrap();
    let rec = j.recovery().clone();
    let cut = rec.cut.expect("cut reported");
    assert_eq!(cut.reason, BadFrame::EndOfData);
    assert_eq!(cut.offset, marker_at);
    assert_eq!(cut.removed_segments, vec![image.join("00000002.log")]);
    assert_eq!(rec.last_seq, report.segments[1].last_seq);
    let next = j.append(1, 1, 0, b"continues in segment 1").unwrap();
    assert_eq!(next, rec.last_seq + 1);
    j.close().unwrap();
    let mut r = journal::Reader::open(&image).unwrap();
    r.seek_seq(next).unwrap();
    let f = r.next_frame().unwrap().unwrap();
    assert_eq!((f.seq, f.segment_index, f.offset), (next, 1, marker_at));
}
