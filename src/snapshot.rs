//! Engine snapshots on disk: the whole engine state at a sequence number, so
//! that a restart replays only the journal after it.
//!
//! A snapshot is one file, `snapshot-<seq, 20 digits>.snap`, in the
//! snapshot directory:
//!
//! ```text
//! offset  size  field
//!      0     8  magic "VENUSNAP"
//!      8     2  file format version (1), little-endian
//!     10     8  sequence number of the last input applied
//!     18     8  that input's time, ns since the Unix epoch
//!     26     8  the hash of the body: the engine's encoding_hash() at that point
//!     34     8  body length in bytes
//!     42     n  body: Engine::snapshot() (its own versioned encoding)
//!   42+n     4  CRC32C of every byte before it
//! ```
//!
//! It is written to `*.tmp`, synced, renamed into place, and the directory is
//! synced, so a crash leaves either the old set of snapshots or the new one.
//! Loading tries the newest first; a file that is damaged (length, checksum,
//! decode, or a state hash that does not match its header) is skipped with a
//! warning for the next older one, down to none (a full replay).
//!
//! A snapshot must only be taken of inputs that are durable in the journal:
//! otherwise a power cut could leave a snapshot ahead of the journal. The
//! loader refuses such a snapshot (its sequence number is beyond the
//! journal's end) with a warning.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use engine::{Engine, EngineConfig};

const MAGIC: [u8; 8] = *b"VENUSNAP";
const VERSION: u16 = 1;
const HEADER_LEN: usize = 42;

/// A snapshot found on disk and loaded.
#[derive(Debug)]
pub struct LoadedSnapshot {
    /// The engine as it stood.
    pub engine: Engine,
    /// The last input it includes.
    pub seq: u64,
    /// That input's time.
    pub time_ns: u64,
    /// The file.
    pub path: PathBuf,
}

fn file_name(seq: u64) -> String {
    format!("snapshot-{seq:020}.snap")
}

/// Writes a snapshot of `engine` after input `seq` (stamped `time_ns`) into
/// `dir`, atomically. Returns its path.
///
/// # Errors
/// The directory or file cannot be written or synced.
pub fn write(dir: &Path, engine: &Engine, seq: u64, time_ns: u64) -> Result<PathBuf> {
    write_encoded(dir, seq, &encode(engine, seq, time_ns))
}

/// A snapshot file's bytes: the header, the engine's state, the CRC. The
/// part of taking a snapshot that needs the engine (and so runs on the
/// matching thread); [`write_encoded`] is the part that needs the disk.
#[must_use]
pub fn encode(engine: &Engine, seq: u64, time_ns: u64) -> Vec<u8> {
    let body = engine.snapshot();
    let mut bytes = Vec::with_capacity(HEADER_LEN + body.len() + 4);
    bytes.extend_from_slice(&MAGIC);
    bytes.extend_from_slice(&VERSION.to_le_bytes());
    bytes.extend_from_slice(&seq.to_le_bytes());
    bytes.extend_from_slice(&time_ns.to_le_bytes());
    bytes.extend_from_slice(&engine::codec::state_hash_of(&body).to_le_bytes());
    bytes.extend_from_slice(&(body.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&body);
    let crc = crc32c::crc32c(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes
}

/// Writes [`encode`]'s bytes for input `seq` into `dir` atomically: a
/// temporary file, synced, renamed, and the directory synced. Returns the
/// path.
///
/// # Errors
/// The directory or file cannot be written or synced.
pub fn write_encoded(dir: &Path, seq: u64, bytes: &[u8]) -> Result<PathBuf> {
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create snapshot directory {}", dir.display()))?;
    let path = dir.join(file_name(seq));
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, &path).with_context(|| format!("cannot rename {}", tmp.display()))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync {}", dir.display()))?;
    Ok(path)
}

/// Deletes all but the newest `keep` snapshots in `dir` (and leftover
/// `.tmp` files of interrupted writes). Call it after a new snapshot is
/// written, so that a good one always remains.
///
/// # Errors
/// The directory cannot be listed or a file cannot be removed.
pub fn prune(dir: &Path, keep: usize) -> Result<usize> {
    let mut removed = 0;
    for (_, path) in list(dir)?.into_iter().skip(keep.max(1)) {
        fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        removed += 1;
    }
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("cannot list {}", dir.display()))?
            .path();
        if path.extension().is_some_and(|e| e == "tmp") {
            fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Snapshot files in `dir` (by their names' sequence numbers), newest
/// first; none when `dir` does not exist.
///
/// # Errors
/// The directory exists but cannot be listed.
pub fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
    };
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot list {}", dir.display()))?
            .path();
        let seq = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("snapshot-"))
            .and_then(|n| n.strip_suffix(".snap"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(seq) = seq {
            found.push((seq, path));
        }
    }
    found.sort_unstable_by_key(|f| std::cmp::Reverse(f.0));
    Ok(found)
}

/// A snapshot file's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotHeader {
    /// The last input it includes.
    pub seq: u64,
    /// That input's time.
    pub time_ns: u64,
    /// The engine's [`Engine::encoding_hash`] at that point (the xxh3 of
    /// the body).
    pub state_hash: u64,
}

/// Reads a snapshot file's header, after checking the file's checksum,
/// magic, version and length (not decoding the engine state).
///
/// # Errors
/// The file cannot be read or is damaged.
pub fn read_header(path: &Path) -> Result<SnapshotHeader> {
    let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let (seq, time_ns, state_hash, body) = check(path, &bytes)?;
    if engine::codec::state_hash_of(body) != state_hash {
        bail!(
            "{} has a body whose state hash does not match its header",
            path.display()
        );
    }
    Ok(SnapshotHeader {
        seq,
        time_ns,
        state_hash,
    })
}

/// Checks a snapshot file's bytes; returns its header fields and body.
fn check<'a>(path: &Path, bytes: &'a [u8]) -> Result<(u64, u64, u64, &'a [u8])> {
    if bytes.len() < HEADER_LEN + 4 {
        bail!("{} is truncated ({} bytes)", path.display(), bytes.len());
    }
    let (data, crc) = bytes.split_at(bytes.len() - 4);
    let stored = u32::from_le_bytes(crc.try_into().expect("4 bytes"));
    if crc32c::crc32c(data) != stored {
        bail!("{} fails its checksum", path.display());
    }
    let word = |at: usize| u64::from_le_bytes(data[at..at + 8].try_into().expect("8 bytes"));
    if data[..8] != MAGIC {
        bail!("{} is not a venue snapshot", path.display());
    }
    let version = u16::from_le_bytes([data[8], data[9]]);
    if version != VERSION {
        bail!(
            "{} has snapshot format version {version}; this build reads {VERSION}",
            path.display()
        );
    }
    let (seq, time_ns, hash, body_len) = (word(10), word(18), word(26), word(34));
    if body_len != (data.len() - HEADER_LEN) as u64 {
        bail!(
            "{} has a body length that does not match its size",
            path.display()
        );
    }
    Ok((seq, time_ns, hash, &data[HEADER_LEN..]))
}

fn load_one(path: &Path, config: &EngineConfig) -> Result<LoadedSnapshot> {
    let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let (seq, time_ns, hash, body) = check(path, &bytes)?;
    // The header's hash is xxh3 of the canonical encoding, which the body
    // is: checking it here avoids encoding the restored engine again.
    if engine::codec::state_hash_of(body) != hash {
        bail!(
            "{} has a body whose state hash does not match its header",
            path.display()
        );
    }
    let engine = Engine::restore(config.clone(), body)
        .with_context(|| format!("{} does not decode", path.display()))?;
    Ok(LoadedSnapshot {
        engine,
        seq,
        time_ns,
        path: path.to_owned(),
    })
}

/// Loads the newest good snapshot in `dir` at or before `journal_last_seq`.
/// Every snapshot skipped is reported in the returned warnings.
///
/// # Errors
/// Only when the directory cannot be listed; bad files are warnings.
pub fn load_newest(
    dir: &Path,
    config: &EngineConfig,
    journal_last_seq: u64,
) -> Result<(Option<LoadedSnapshot>, Vec<String>)> {
    let mut warnings = Vec::new();
    for (seq, path) in list(dir)? {
        if seq > journal_last_seq {
            warnings.push(format!(
                "skipping snapshot {}: it is at sequence {seq}, beyond the journal's last ({journal_last_seq})",
                path.display()
            ));
            continue;
        }
        match load_one(&path, config) {
            Ok(s) => return Ok((Some(s), warnings)),
            Err(e) => warnings.push(format!("skipping damaged snapshot: {e:#}")),
        }
    }
    Ok((None, warnings))
}

/// Loads the newest good snapshot in `dir` at or before `max_seq`, passing
/// over later ones without a word (the journal tools, which start from the
/// snapshot nearest before the point they want). Damaged snapshots are
/// skipped with a warning.
///
/// # Errors
/// Only when the directory cannot be listed; bad files are warnings.
pub fn load_at_or_before(
    dir: &Path,
    config: &EngineConfig,
    max_seq: u64,
) -> Result<(Option<LoadedSnapshot>, Vec<String>)> {
    let mut warnings = Vec::new();
    for (_, path) in list(dir)?.into_iter().filter(|(seq, _)| *seq <= max_seq) {
        match load_one(&path, config) {
            Ok(s) => return Ok((Some(s), warnings)),
            Err(e) => warnings.push(format!("skipping damaged snapshot: {e:#}")),
        }
    }
    Ok((None, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::{InstrumentId, InstrumentSpec, ParticipantId, ParticipantSpec, StpMode};

    fn config() -> EngineConfig {
        EngineConfig {
            instruments: vec![InstrumentSpec::new(InstrumentId(1), "X")],
            participants: vec![ParticipantSpec {
                id: ParticipantId(1),
                stp: StpMode::None,
            }],
            ..EngineConfig::default()
        }
    }

    #[test]
    fn newest_good_snapshot_wins_and_damage_falls_back() {
        let dir = tempfile::tempdir().unwrap();
        let e = Engine::new(config()).unwrap();
        let old = write(dir.path(), &e, 10, 1).unwrap();
        let new = write(dir.path(), &e, 20, 2).unwrap();
        let (s, w) = load_newest(dir.path(), &config(), 100).unwrap();
        assert_eq!(s.map(|s| (s.seq, s.path)), Some((20, new.clone())));
        assert!(w.is_empty());
        // Beyond the journal: skipped with a warning.
        let (s, w) = load_newest(dir.path(), &config(), 15).unwrap();
        assert_eq!(s.map(|s| s.seq), Some(10));
        assert!(w[0].contains("beyond the journal"), "{w:?}");
        // A flipped byte: the older one is used, with a warning.
        let mut bytes = fs::read(&new).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        fs::write(&new, bytes).unwrap();
        let (s, w) = load_newest(dir.path(), &config(), 100).unwrap();
        assert_eq!(s.map(|s| (s.seq, s.path)), Some((10, old.clone())));
        assert!(w[0].contains("checksum"), "{w:?}");
        // A flipped byte in the header's magic: the checksum fails first.
        let good = fs::read(&old).unwrap();
        let mut bytes = good.clone();
        bytes[0] ^= 1;
        fs::write(&new, &bytes).unwrap();
        let (_, w) = load_newest(dir.path(), &config(), 100).unwrap();
        assert!(w[0].contains("fails its checksum"), "{w:?}");
        // A body changed and the checksum made to match: the state hash
        // catches it, and the older snapshot is used.
        let mut bytes = good.clone();
        let at = HEADER_LEN + 3;
        bytes[at] ^= 0x10;
        let n = bytes.len() - 4;
        let crc = crc32c::crc32c(&bytes[..n]).to_le_bytes();
        bytes[n..].copy_from_slice(&crc);
        fs::write(&new, &bytes).unwrap();
        let (s, w) = load_newest(dir.path(), &config(), 100).unwrap();
        assert_eq!(s.map(|s| s.seq), Some(10));
        assert!(w[0].contains("state hash does not match"), "{w:?}");
        // Truncated, and not a snapshot at all.
        fs::write(
            &new,
            b"garbage that is not a snapshot, long enough for a header and more",
        )
        .unwrap();
        fs::write(&old, b"short").unwrap();
        let (s, w) = load_newest(dir.path(), &config(), 100).unwrap();
        assert!(s.is_none());
        assert_eq!(w.len(), 2);
        // No directory: no snapshot, no error.
        let (s, _) = load_newest(&dir.path().join("none"), &config(), 100).unwrap();
        assert!(s.is_none());
    }

    #[test]
    fn prune_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let e = Engine::new(config()).unwrap();
        for seq in [5, 10, 20, 40] {
            write(dir.path(), &e, seq, 1).unwrap();
        }
        fs::write(
            dir.path().join("snapshot-00000000000000000050.tmp"),
            b"torn",
        )
        .unwrap();
        assert_eq!(prune(dir.path(), 2).unwrap(), 3);
        let left: Vec<u64> = list(dir.path())
            .unwrap()
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(left, [40, 20]);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
