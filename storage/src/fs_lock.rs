//! Directory locks of the filesystem store, so that processes sharing one directory (two
//! replicas on one disk) change its objects one at a time and a conditional write
//! compares and replaces as one step; and the pruning of empty folders that copes with them.
//!
//! The protocol:
//!
//! - Every directory holding objects has a hidden lock file, [`LOCK_FILE`] (listings skip
//!   dot-files). Each change of an object's file (the rename that ends a write, a delete,
//!   both ends of a move) is made while holding an exclusive lock on it (`File::lock`,
//!   `flock` on Linux: it excludes other processes and other open files of this one).
//! - A directory whose only entry is its lock file is empty for the store. Pruning removes
//!   the lock file only while holding its lock, then the directory. A lock someone holds
//!   means a change is under way there, so the directory stays.
//! - Whoever takes a lock checks afterwards that the lock file is still the directory's:
//!   it may have opened the file just before a pruner removed it, and a lock on a removed
//!   file excludes nobody. Then it takes a new one.
//! - A directory whose lock is held cannot disappear: pruning needs the lock to remove the
//!   lock file, and removing a directory fails while the file is in it.
//!
//! Where files cannot be compared (not Unix), lock files are never removed, so a folder
//! that held objects stays as an empty folder.

use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind};
use std::path::Path;

/// The name of each directory's lock file.
pub(crate) const LOCK_FILE: &str = ".lock";

/// Tries before giving up on a directory that keeps disappearing (a pruner removes it each
/// time between our creating it and our locking it); each try is a few system calls.
const ATTEMPTS: usize = 100;

/// A held directory lock; dropping it (closing the file) releases it.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

/// Locks `dir`, creating it when missing.
pub(crate) fn lock_dir(dir: &Path) -> io::Result<DirLock> {
    for _ in 0..ATTEMPTS {
        std::fs::create_dir_all(dir)?;
        match acquire(dir) {
            Ok(Some(lock)) => return Ok(lock),
            // Pruned between creating and locking, or the file was replaced: again.
            Ok(None) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "could not lock {}: it kept being removed",
        dir.display()
    )))
}

/// Locks `dir` and `other` (which may be the same), in path order so that two moves in
/// opposite directions cannot wait for each other.
pub(crate) fn lock_dirs(dir: &Path, other: &Path) -> io::Result<(DirLock, Option<DirLock>)> {
    if dir == other {
        return Ok((lock_dir(dir)?, None));
    }
    let (first, second) = if dir < other {
        (dir, other)
    } else {
        (other, dir)
    };
    let first = lock_dir(first)?;
    Ok((first, Some(lock_dir(second)?)))
}

/// One attempt: opens (creating) the lock file, locks it and checks that it is still the
/// directory's lock file. `Ok(None)`: it was removed meanwhile.
fn acquire(dir: &Path) -> io::Result<Option<DirLock>> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)?;
    file.lock()?;
    if is_current(&file, &path)? {
        Ok(Some(DirLock { _file: file }))
    } else {
        Ok(None)
    }
}

/// Whether `file` is the file now at `path`.
#[cfg(unix)]
fn is_current(file: &File, path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let locked = file.metadata()?;
    match std::fs::symlink_metadata(path) {
        Ok(current) => Ok(current.dev() == locked.dev() && current.ino() == locked.ino()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Without inode numbers the file cannot be compared; lock files are never removed there.
#[cfg(not(unix))]
fn is_current(_file: &File, _path: &Path) -> io::Result<bool> {
    Ok(true)
}

/// Removes `dir` and its ancestors while they are empty for the store (nothing in them,
/// or only a lock file nobody holds), stopping at `root`.
pub(crate) fn prune_empty_dirs(root: &Path, mut dir: &Path) {
    while dir != root && dir.starts_with(root) {
        if !remove_empty_dir(dir) {
            return;
        }
        match dir.parent() {
            Some(parent) => dir = parent,
            None => return,
        }
    }
}

/// Removes `dir` if it is empty for the store; whether it is gone.
fn remove_empty_dir(dir: &Path) -> bool {
    match std::fs::remove_dir(dir) {
        Ok(()) => true,
        Err(e) if e.kind() == ErrorKind::DirectoryNotEmpty => remove_with_unheld_lock(dir),
        // Gone already (another pruner), or not ours to remove.
        Err(e) => e.kind() == ErrorKind::NotFound,
    }
}

/// Removes `dir` if its only entry is a lock file nobody holds: the lock is taken, the
/// file removed and then the directory, the lock still held.
#[cfg(unix)]
fn remove_with_unheld_lock(dir: &Path) -> bool {
    if !holds_only_lock_file(dir) {
        return false;
    }
    let path = dir.join(LOCK_FILE);
    let Ok(file) = File::open(&path) else {
        return false;
    };
    // Held: a write, delete or move is under way in this directory.
    if file.try_lock().is_err() {
        return false;
    }
    if !matches!(is_current(&file, &path), Ok(true)) {
        return false;
    }
    if std::fs::remove_file(&path).is_err() {
        return false;
    }
    // A temporary file created meanwhile by a writer that has yet to lock makes this
    // fail; that writer then takes a new lock file.
    let removed = std::fs::remove_dir(dir).is_ok();
    drop(file);
    removed
}

#[cfg(not(unix))]
fn remove_with_unheld_lock(_dir: &Path) -> bool {
    false
}

/// Whether the lock file is the only entry of `dir`.
#[cfg(unix)]
fn holds_only_lock_file(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let mut only_lock = false;
    for entry in entries {
        match entry {
            Ok(entry) if entry.file_name() == LOCK_FILE && !only_lock => only_lock = true,
            _ => return false,
        }
    }
    only_lock
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_holding_only_its_lock_file_is_pruned_unless_the_lock_is_held() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        let lock = lock_dir(&dir).unwrap();
        assert!(dir.join(LOCK_FILE).is_file());
        prune_empty_dirs(root.path(), &dir);
        assert!(dir.is_dir(), "a held lock keeps its folder");
        drop(lock);
        prune_empty_dirs(root.path(), &dir);
        assert!(!root.path().join("a").exists(), "pruned up to the root");
        assert!(root.path().is_dir());
    }

    #[test]
    fn folders_with_other_entries_are_kept() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a");
        drop(lock_dir(&dir).unwrap());
        std::fs::write(dir.join(".notes"), b"x").unwrap();
        prune_empty_dirs(root.path(), &dir);
        assert!(dir.join(LOCK_FILE).is_file());
    }

    #[test]
    fn a_lock_taken_after_its_file_was_removed_is_taken_again() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a");
        let first = lock_dir(&dir).unwrap();
        let waiter = {
            let dir = dir.clone();
            std::thread::spawn(move || {
                let lock = lock_dir(&dir).unwrap();
                // The lock held is on the file now in the directory.
                assert!(matches!(
                    is_current(&lock._file, &dir.join(LOCK_FILE)),
                    Ok(true)
                ));
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(100));
        // What a pruner does, the lock held: the waiter opened the removed file.
        std::fs::remove_file(dir.join(LOCK_FILE)).unwrap();
        std::fs::remove_dir(&dir).unwrap();
        drop(first);
        waiter.join().unwrap();
        assert!(dir.join(LOCK_FILE).is_file());
    }
}
