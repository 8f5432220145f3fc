//! Listing the filesystem store: one pass over the tree, with per-directory snapshots
//! so that an unchanged directory costs one `stat` instead of one per file.
//!
//! A snapshot of a directory (its files' sizes and times, its subdirectories) is reused
//! while the directory's own modification time is unchanged. Creating, renaming or
//! deleting a file changes it, and every write of the store is a rename, so listings stay
//! exact for the store's writes and for any tool that adds or removes files. Two guards
//! cover the rest: a snapshot is only kept when the directory's time was already a second
//! old (so a change in the same clock tick cannot hide), and it expires after
//! [`SNAPSHOT_MAX_AGE`] (so a file rewritten in place by another tool shows its new size
//! within that time).

use std::collections::HashMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};

use crate::{Entry, Key, KeyPrefix, ObjectMeta};

/// Longest a directory snapshot is trusted.
pub(crate) const SNAPSHOT_MAX_AGE: Duration = Duration::from_secs(10);
/// How old a directory's modification time must be for its snapshot to be kept.
const SETTLED: Duration = Duration::from_secs(1);
/// Snapshots kept at most (one per directory); beyond it the index starts over.
const MAX_SNAPSHOTS: usize = 100_000;
/// Files stat-ed per thread before another thread is worth starting.
const STAT_BATCH: usize = 512;

/// Snapshots of the directories listed so far.
#[derive(Debug, Default)]
pub(crate) struct DirIndex {
    snapshots: Mutex<HashMap<PathBuf, Arc<Snapshot>>>,
}

#[derive(Debug)]
struct Snapshot {
    dir_modified: SystemTime,
    taken: Instant,
    files: Vec<ObjectMeta>,
    dirs: Vec<String>,
}

impl DirIndex {
    /// Every object under `dir` (whose keys start with `prefix`), recursively.
    pub(crate) fn list(
        &self,
        dir: &Path,
        prefix: &str,
        out: &mut Vec<Entry>,
    ) -> std::io::Result<()> {
        let snapshot = match self.snapshot(dir, prefix)? {
            Some(snapshot) => snapshot,
            None => return Ok(()),
        };
        out.extend(snapshot.files.iter().cloned().map(Entry::Object));
        for name in &snapshot.dirs {
            self.list(&dir.join(name), &format!("{prefix}{name}/"), out)?;
        }
        Ok(())
    }

    fn snapshot(&self, dir: &Path, prefix: &str) -> std::io::Result<Option<Arc<Snapshot>>> {
        let dir_modified = match std::fs::metadata(dir) {
            Ok(md) if md.is_dir() => md.modified()?,
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if let Some(snapshot) = self.lock().get(dir)
            && snapshot.dir_modified == dir_modified
            && snapshot.taken.elapsed() < SNAPSHOT_MAX_AGE
        {
            return Ok(Some(snapshot.clone()));
        }
        let snapshot = Arc::new(read_directory(dir, prefix, dir_modified)?);
        let settled = SystemTime::now()
            .duration_since(dir_modified)
            .is_ok_and(|age| age >= SETTLED);
        let mut snapshots = self.lock();
        if settled {
            if snapshots.len() >= MAX_SNAPSHOTS {
                snapshots.clear();
            }
            snapshots.insert(dir.to_owned(), snapshot.clone());
        } else {
            snapshots.remove(dir);
        }
        Ok(Some(snapshot))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<Snapshot>>> {
        // Each update is one insert or remove; a panic cannot leave the map inconsistent.
        self.snapshots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A file found by reading a directory, not yet stat-ed.
struct Found {
    key: Key,
    path: PathBuf,
}

fn read_directory(dir: &Path, prefix: &str, dir_modified: SystemTime) -> std::io::Result<Snapshot> {
    let taken = Instant::now();
    let mut found = Vec::new();
    let mut dirs = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Ok(Snapshot {
                dir_modified,
                taken,
                files: Vec::new(),
                dirs,
            });
        }
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        // Hidden names are temporary files; names that are not valid keys were not
        // written by us and cannot be addressed, so they are not listed.
        if name.starts_with('.') {
            continue;
        }
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            dirs.push(name.to_owned());
        } else if file_type.is_file()
            && let Ok(key) = Key::new(format!("{prefix}{name}"))
        {
            found.push(Found {
                key,
                path: entry.path(),
            });
        }
    }
    Ok(Snapshot {
        dir_modified,
        taken,
        files: stat_all(found)?,
        dirs,
    })
}

/// One folder level under `dir`: its files, and its subdirectories that hold objects.
pub(crate) fn list_one_level(
    dir: &Path,
    prefix: &str,
    out: &mut Vec<Entry>,
) -> std::io::Result<()> {
    let snapshot = read_directory(dir, prefix, SystemTime::UNIX_EPOCH)?;
    out.extend(snapshot.files.into_iter().map(Entry::Object));
    for name in snapshot.dirs {
        if holds_objects(&dir.join(&name))
            && let Ok(prefix) = KeyPrefix::new(format!("{prefix}{name}"))
        {
            out.push(Entry::Prefix(prefix));
        }
    }
    Ok(())
}

/// Whether a directory holds at least one visible object at any depth.
fn holds_objects(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        if entry.file_name().to_string_lossy().starts_with('.') {
            return false;
        }
        match entry.file_type() {
            Ok(t) if t.is_file() => true,
            Ok(t) if t.is_dir() => holds_objects(&entry.path()),
            _ => false,
        }
    })
}

/// Stats files, on several threads when there are many: `stat` dominates listings.
fn stat_all(files: Vec<Found>) -> std::io::Result<Vec<ObjectMeta>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
        .min(files.len().div_ceil(STAT_BATCH));
    if threads <= 1 {
        return stat_chunk(files);
    }
    let chunk_len = files.len().div_ceil(threads);
    let mut chunks: Vec<Vec<Found>> = Vec::with_capacity(threads);
    let mut rest = files;
    while rest.len() > chunk_len {
        let tail = rest.split_off(chunk_len);
        chunks.push(rest);
        rest = tail;
    }
    chunks.push(rest);
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| scope.spawn(move || stat_chunk(chunk)))
            .collect();
        let mut metas = Vec::new();
        for handle in handles {
            metas.extend(
                handle
                    .join()
                    .map_err(|_| std::io::Error::other("stat thread panicked"))??,
            );
        }
        Ok(metas)
    })
}

fn stat_chunk(files: Vec<Found>) -> std::io::Result<Vec<ObjectMeta>> {
    let mut metas = Vec::with_capacity(files.len());
    for found in files {
        match std::fs::symlink_metadata(&found.path) {
            Ok(md) if md.is_file() => metas.push(meta_from(found.key, &md)),
            Ok(_) => {}
            // Deleted between reading the directory and the stat: simply not there any more.
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(metas)
}

/// Object metadata from file metadata.
pub(crate) fn meta_from(key: Key, md: &std::fs::Metadata) -> ObjectMeta {
    let last_modified = md
        .modified()
        .map(DateTime::<Utc>::from)
        .unwrap_or_else(|_| Utc::now());
    ObjectMeta {
        key,
        size: md.len(),
        last_modified,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(index: &DirIndex, root: &Path) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        index
            .list(&root.join("outputs"), "outputs/", &mut out)
            .unwrap();
        let mut keys: Vec<(String, u64)> = out
            .into_iter()
            .filter_map(|e| {
                if let Entry::Object(m) = e {
                    Some((m.key.to_string(), m.size))
                } else {
                    None
                }
            })
            .collect();
        keys.sort();
        keys
    }

    #[test]
    fn snapshots_follow_files_added_and_removed_by_other_writers() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("outputs/book");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.wav"), b"aaaa").unwrap();
        // Let the directory's time settle so its snapshot is kept.
        std::thread::sleep(SETTLED + Duration::from_millis(100));
        let index = DirIndex::default();
        assert_eq!(
            keys(&index, root.path()),
            [("outputs/book/a.wav".to_owned(), 4)]
        );
        assert_eq!(index.lock().len(), 2, "both directories are snapshotted");

        // Another tool adds a file and a folder, and removes one: all visible at once.
        std::fs::write(dir.join("b.wav"), b"bb").unwrap();
        std::fs::create_dir_all(root.path().join("outputs/new")).unwrap();
        std::fs::write(root.path().join("outputs/new/c.wav"), b"c").unwrap();
        assert_eq!(
            keys(&index, root.path()),
            [
                ("outputs/book/a.wav".to_owned(), 4),
                ("outputs/book/b.wav".to_owned(), 2),
                ("outputs/new/c.wav".to_owned(), 1)
            ]
        );
        std::fs::remove_file(dir.join("a.wav")).unwrap();
        let listed = keys(&index, root.path());
        assert_eq!(listed.len(), 2);
        assert!(!listed.iter().any(|(k, _)| k.ends_with("a.wav")));
    }

    #[test]
    fn unsettled_directories_are_not_snapshotted() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("outputs")).unwrap();
        std::fs::write(root.path().join("outputs/a.wav"), b"a").unwrap();
        let index = DirIndex::default();
        assert_eq!(keys(&index, root.path()).len(), 1);
        assert!(
            index.lock().is_empty(),
            "a directory changed within the last second is read every time"
        );
        assert!(keys(&index, &root.path().join("missing")).is_empty());
    }
}
