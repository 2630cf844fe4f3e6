//! A segment that cannot be allocated (disk full, file size limit,
//! permission) makes `append` return an error; nothing already written is
//! damaged, and appending resumes once space is back.
//!
//! The failure is produced with `RLIMIT_FSIZE` (so `posix_fallocate` of the
//! next segment fails with `EFBIG`, as it would with `ENOSPC`): it needs no
//! privileges and no special file system. The limit is per process, so this
//! file holds a single test.

mod common;

use common::{TEST_SEGMENT_SIZE_BYTES, payload_for, read_all, small_config};
use journal::{Durability, Journal, JournalError, verify};

fn set_file_size_limit(bytes: u64) {
    let lim = libc::rlimit {
        rlim_cur: bytes as libc::rlim_t,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: `setrlimit` reads the struct we pass by reference for the
    // duration of the call; `signal` installs the predefined SIG_IGN action.
    unsafe {
        // Without this, exceeding the limit kills the process with SIGXFSZ.
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
    }
}

#[test]
fn append_reports_a_failed_segment_allocation_and_recovers_when_space_returns() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    let mut j = Journal::open(&dir, small_config(Durability::Sync)).unwrap();
    let mut last = 0;
    // Fill most of segment 0.
    while verify(&dir).unwrap().segments.len() == 1 && last < 200 {
        last = j.append(1, 1, last, &payload_for(last + 1, 200)).unwrap();
    }
    set_file_size_limit(TEST_SEGMENT_SIZE_BYTES / 2);
    let err = loop {
        match j.append(1, 1, last, &payload_for(last + 1, 200)) {
            Ok(seq) => last = seq,
            Err(e) => break e,
        }
    };
    set_file_size_limit(u64::MAX);
    match &err {
        JournalError::Io { op, source, .. } => {
            assert_eq!(*op, "allocate segment", "{err}");
            assert_eq!(source.raw_os_error(), Some(libc::EFBIG), "{err}");
        }
        other => panic!("expected an I/O error, got {other}"),
    }
    // The segment that could not be made is the one after the last.
    let next = format!("{:08}.log", verify(&dir).unwrap().segments.len());
    assert!(err.to_string().contains(&next), "{err}");
    assert_eq!(
        j.last_seq(),
        last,
        "the failed append consumed no sequence number"
    );
    assert!(!dir.join(&next).exists());
    assert!(!dir.join(format!("{next}.tmp")).exists());
    // Everything written is intact and durable.
    assert_eq!(j.durable_seq(), last);
    assert_eq!(verify(&dir).unwrap().problem, None);
    // Space is back: the same append now succeeds in a new segment.
    assert_eq!(
        j.append(1, 1, last, &payload_for(last + 1, 200)).unwrap(),
        last + 1
    );
    j.close().unwrap();
    let all = read_all(&dir);
    assert_eq!(all.len() as u64, last + 1);
    assert!(
        all.iter()
            .enumerate()
            .all(|(i, f)| f.0 == i as u64 + 1 && f.2 == payload_for(f.0, 200))
    );
}
