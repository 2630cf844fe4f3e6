//! One writer per data directory: an advisory lock on `DATA/LOCK`.
//!
//! [`DataLock::acquire`] takes an exclusive `flock` on the lock file without
//! waiting and writes the holder's process id into it; a second venue on the
//! same directory is refused with a message naming the directory and that
//! process. The lock belongs to the open file, so the kernel releases it
//! when the holder exits, however it exits: a lock file left behind by a
//! `kill -9` is just a file, and the next start takes the lock at once. The
//! file is never deleted (deleting it would let two processes lock two
//! different files of the same name).
//!
//! It is taken before anything in the directory is opened (the FIX session
//! stores are opened, and a torn tail cut, before the journal), and held
//! until the last file is closed. The journal's own lock on
//! `DATA/journal/LOCK` stays as a second guard for tools that open a journal
//! directly. Read-only tools (`venue journal verify|stat|dump`) take no lock.
//!
//! Limitation: `flock` is advisory and, on some network file systems, local
//! to one machine; keep a data directory on a local disk.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rustix::fs::{FlockOperation, flock};
use rustix::io::Errno;

/// The lock file's name in a data directory.
pub const LOCK_FILE_NAME: &str = "LOCK";

/// An exclusive lock on a data directory, released when dropped.
#[derive(Debug)]
pub struct DataLock {
    // Held for its lock: closing the file releases it.
    _file: File,
    path: PathBuf,
}

impl DataLock {
    /// Creates `data` if needed and locks it.
    ///
    /// # Errors
    /// Another process (or another [`DataLock`] in this one) holds the
    /// directory: the message names the directory, the holder's process id
    /// when the lock file says it, and the lock file. Or the directory or
    /// the lock file cannot be created or written.
    pub fn acquire(data: &Path) -> Result<DataLock> {
        std::fs::create_dir_all(data)
            .with_context(|| format!("cannot create the data directory {}", data.display()))?;
        let path = data.join(LOCK_FILE_NAME);
        // Not truncated on open: until we hold the lock, the holder's pid in
        // it is what the refusal reports.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        // `flock`, not `fcntl` locks: it belongs to this open file, so a
        // second `DataLock` in the same process is refused too (a test
        // starting two nodes), and closing another descriptor of the same
        // file elsewhere in the process does not drop it.
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(Errno::WOULDBLOCK) => {
                let mut text = String::new();
                let holder = match file.read_to_string(&mut text) {
                    Ok(_) => text
                        .trim()
                        .parse::<u32>()
                        .map_or_else(|_| String::new(), |pid| format!("pid {pid}, ")),
                    Err(_) => String::new(),
                };
                anyhow::bail!(
                    "the data directory {} is in use by another venue ({holder}lock file {}); \
                     stop it first, or give this one another --data directory",
                    data.display(),
                    path.display()
                );
            }
            Err(e) => {
                return Err(std::io::Error::from(e))
                    .with_context(|| format!("cannot lock {}", path.display()));
            }
        }
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{}", std::process::id()))
            .with_context(|| format!("cannot write the lock file {}", path.display()))?;
        Ok(DataLock { _file: file, path })
    }

    /// The lock file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::DataLock;

    #[test]
    fn a_second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = DataLock::acquire(&data).unwrap();
        assert!(first.path().ends_with("LOCK"));
        let e = format!("{:#}", DataLock::acquire(&data).unwrap_err());
        assert!(e.contains(&data.display().to_string()), "{e}");
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        assert!(e.contains("in use by another venue"), "{e}");
        drop(first);
        // The file is still there; the lock is not.
        assert!(data.join("LOCK").exists());
        let again = DataLock::acquire(&data).unwrap();
        drop(again);
    }
}
