//! Removing what interrupted writes left in the filesystem store: the hidden temporary
//! files a crash stranded before their rename, and the directories they leave empty.
//! Lock files are never removed here: pruning removes one only while holding it.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::fs::TEMP_PREFIX;
use crate::fs_lock::{LOCK_FILE, prune_empty_dirs};
use crate::{Error, ReclaimReport, Result};

/// Removes the temporary files under `root` last modified more than `older_than` ago,
/// then the directories that are left empty. Symbolic links are neither followed nor
/// removed, and hidden directories (not part of the store) are not entered.
pub(crate) fn reclaim(root: &Path, older_than: Duration) -> Result<ReclaimReport> {
    let cutoff = SystemTime::now()
        .checked_sub(older_than)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut report = ReclaimReport::default();
    let mut pending = vec![root.to_owned()];
    let mut emptied: Vec<PathBuf> = Vec::new();
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            // Pruned by a concurrent delete since it was seen.
            Err(e) if e.kind() == ErrorKind::NotFound && dir != root => continue,
            Err(e) => return Err(Error::io(dir.display(), e)),
        };
        let mut seen_any = false;
        let mut removed_any = false;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(dir.display(), e))?;
            let name = entry.file_name();
            // A folder holding only its lock file is empty; pruning copes with the lock.
            if name == LOCK_FILE {
                continue;
            }
            seen_any = true;
            // The store writes only UTF-8 names; anything else belongs to someone else.
            let Some(name) = name.to_str() else { continue };
            // `file_type` and `metadata` of a directory entry describe a link itself.
            let file_type = entry.file_type().map_err(|e| Error::io(dir.display(), e))?;
            if file_type.is_dir() {
                if !name.starts_with('.') {
                    pending.push(entry.path());
                }
                continue;
            }
            if !file_type.is_file() || !name.starts_with(TEMP_PREFIX) {
                continue;
            }
            let path = entry.path();
            let metadata = match entry.metadata() {
                Ok(metadata) => metadata,
                // Renamed into place by its writer since the directory was read.
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(path.display(), e)),
            };
            if metadata
                .modified()
                .map_or(true, |modified| modified > cutoff)
            {
                continue;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(path.display(), e)),
            }
            removed_any = true;
            report.bytes_freed += metadata.len();
            report.temporary_files_removed.push(relative(root, &path));
        }
        // A directory created for a write that never happened is as stale as a
        // temporary file, with the same age rule protecting a write about to happen.
        let stale_and_empty = !seen_any
            && std::fs::symlink_metadata(&dir)
                .and_then(|md| md.modified())
                .is_ok_and(|modified| modified <= cutoff);
        if removed_any || stale_and_empty {
            emptied.push(dir);
        }
    }
    // Deepest first, so a parent emptied by its children's pruning goes too.
    emptied.sort_by_key(|dir| std::cmp::Reverse(dir.components().count()));
    for dir in &emptied {
        prune_empty_dirs(root, dir);
    }
    report.temporary_files_removed.sort();
    Ok(report)
}

/// `path` relative to `root`, with `/` separators.
fn relative(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
