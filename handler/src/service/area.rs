//! The three library areas (voices, VC inputs, outputs) and what they share: scanning
//! a prefix into audio entries, reading sidecars, folder trees and deletion.

use std::collections::{BTreeSet, HashSet};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use storage::{Key, KeyPrefix, ObjectMeta, ObjectStore};

use super::pagination::{Page, PageInfo};
use crate::error::{Error, Result};
use crate::naming;

/// Sidecars read at once when a page or a filter needs them.
const SIDECAR_CONCURRENCY: usize = 16;

/// One of the three top-level areas of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// `voices/`: reference voices for cloning and VC targets.
    Voices,
    /// `vc_inputs/`: source recordings for voice conversion.
    VcInputs,
    /// `outputs/`: generated audio.
    Outputs,
}

impl Area {
    /// All areas, in the order maintenance visits them.
    pub const ALL: [Area; 3] = [Area::Voices, Area::VcInputs, Area::Outputs];

    /// The key prefix, e.g. `voices/`.
    pub fn prefix(self) -> KeyPrefix {
        // The three names are constant and valid; `root()` is never reached.
        KeyPrefix::new(self.dir_name()).unwrap_or_else(|_| KeyPrefix::root())
    }

    /// The folder name, e.g. `voices`.
    pub fn dir_name(self) -> &'static str {
        match self {
            Area::Voices => "voices",
            Area::VcInputs => "vc_inputs",
            Area::Outputs => "outputs",
        }
    }

    /// How the area names its files in messages ("Voice file", ...).
    pub fn noun(self) -> &'static str {
        match self {
            Area::Voices => "Voice file",
            Area::VcInputs => "VC input file",
            Area::Outputs => "Output file",
        }
    }

    /// The key of a path relative to the area (`folder/name.wav`).
    pub fn key(self, relative: &str) -> Result<Key> {
        self.prefix().join(relative).map_err(Error::from)
    }

    /// The key of `name` inside `folder` (root when `None`).
    pub fn key_in(self, folder: Option<&str>, name: &str) -> Result<Key> {
        match folder {
            Some(folder) => self.key(&format!("{folder}/{name}")),
            None => self.key(name),
        }
    }
}

/// An audio object found in an area, with what the listing itself tells us.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The object's key.
    pub key: Key,
    /// Path relative to the area root, e.g. `book1/ch1.wav`.
    pub relative: String,
    /// Folder relative to the area root, `None` at the root.
    pub folder: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// Last modification time.
    pub modified: DateTime<Utc>,
    /// Whether a `<key>.json` sidecar exists beside it.
    pub has_sidecar: bool,
}

impl Entry {
    /// The file name, e.g. `ch1.wav`.
    pub fn file_name(&self) -> &str {
        self.key.file_name()
    }

    /// The sidecar's key.
    pub fn sidecar_key(&self) -> Result<Key> {
        sidecar_key(&self.key)
    }

    /// Whether `name` designates this entry: a path must match exactly, a bare name matches the file name.
    pub fn is_named(&self, name: &str) -> bool {
        if name.contains('/') {
            self.relative == name
        } else {
            self.file_name() == name
        }
    }

    /// Whether the entry lies in `folder` or below it (the original's hierarchical filter).
    pub fn in_folder(&self, folder: &str) -> bool {
        self.folder
            .as_deref()
            .is_some_and(|f| f == folder || f.starts_with(&format!("{folder}/")))
    }
}

/// Whether an object exists; storage failures are errors, not "no".
pub async fn exists(store: &dyn ObjectStore, key: &Key) -> Result<bool> {
    match store.head(key).await {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The sidecar key beside an object: `<key>.json`.
pub fn sidecar_key(key: &Key) -> Result<Key> {
    key.with_suffix(".json").map_err(Error::from)
}

/// A scan of one area: its audio entries and the sidecars and strays found beside them.
#[derive(Debug, Default)]
pub struct Scan {
    /// Audio objects, in key order.
    pub entries: Vec<Entry>,
    /// Every other object (sidecars, stray files), for maintenance.
    pub others: Vec<ObjectMeta>,
}

/// Lists an area once and classifies what is there. One listing gives size and
/// modification time, so sorting and zero-byte checks need no further reads.
pub async fn scan(store: &dyn ObjectStore, area: Area) -> Result<Scan> {
    let prefix = area.prefix();
    let listing = storage::list_all(store, &prefix, false).await?;
    let names: HashSet<&str> = listing.objects.iter().map(|o| o.key.as_str()).collect();
    let mut scan = Scan::default();
    for object in &listing.objects {
        if !naming::is_listed_audio(object.key.file_name()) {
            scan.others.push(object.clone());
            continue;
        }
        let relative = object
            .key
            .strip_prefix(&prefix)
            .unwrap_or(object.key.as_str())
            .to_owned();
        let folder = relative
            .rsplit_once('/')
            .map(|(folder, _)| folder.to_owned());
        let has_sidecar = names.contains(format!("{}.json", object.key).as_str());
        scan.entries.push(Entry {
            key: object.key.clone(),
            relative,
            folder,
            size: object.size,
            modified: object.last_modified,
            has_sidecar,
        });
    }
    Ok(scan)
}

/// Reads and parses a sidecar. A missing, empty or unparseable sidecar is `None`:
/// listings must never fail because of one bad file (it is logged instead).
pub async fn read_sidecar<T: DeserializeOwned>(
    store: &dyn ObjectStore,
    entry: &Entry,
) -> Option<T> {
    if !entry.has_sidecar {
        return None;
    }
    let key = entry.sidecar_key().ok()?;
    read_json(store, &key).await
}

/// Reads and parses a JSON object, `None` when missing or invalid.
pub async fn read_json<T: DeserializeOwned>(store: &dyn ObjectStore, key: &Key) -> Option<T> {
    match store.get(key).await {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(value) => Some(value),
            Err(e) => {
                tracing::warn!(key = %key, error = %e, "ignoring unreadable sidecar");
                None
            }
        },
        Err(e) if e.is_not_found() => None,
        Err(e) => {
            tracing::warn!(key = %key, error = %e, "could not read sidecar");
            None
        }
    }
}

/// Reads the sidecars of many entries concurrently, keeping their order.
pub async fn read_sidecars<T: DeserializeOwned>(
    store: &dyn ObjectStore,
    entries: &[&Entry],
) -> Vec<Option<T>> {
    // Collecting the futures first gives them one concrete type; a closure inside
    // the stream would need a higher-ranked lifetime that async blocks cannot name.
    let reads: Vec<_> = entries
        .iter()
        .map(|entry| read_sidecar::<T>(store, entry))
        .collect();
    futures::stream::iter(reads)
        .buffered(SIDECAR_CONCURRENCY)
        .collect()
        .await
}

/// A sidecar's bytes: pretty JSON.
pub fn sidecar_bytes<T: Serialize>(sidecar: &T) -> Result<Bytes> {
    serde_json::to_vec_pretty(sidecar)
        .map(Bytes::from)
        .map_err(|e| Error::Internal(format!("sidecar encoding: {e}")))
}

/// Writes a sidecar as pretty JSON.
pub async fn write_sidecar<T: Serialize>(
    store: &dyn ObjectStore,
    object: &Key,
    sidecar: &T,
) -> Result<()> {
    store
        .put(&sidecar_key(object)?, sidecar_bytes(sidecar)?)
        .await?;
    Ok(())
}

/// Deletes entries and their sidecars. Returns the relative paths deleted (objects
/// and sidecars), in order.
pub async fn delete_entries(store: &dyn ObjectStore, entries: &[&Entry]) -> Result<Vec<String>> {
    let mut keys = Vec::with_capacity(entries.len() * 2);
    let mut deleted = Vec::with_capacity(entries.len() * 2);
    for entry in entries {
        keys.push(entry.key.clone());
        deleted.push(entry.relative.clone());
        if entry.has_sidecar {
            keys.push(entry.sidecar_key()?);
            deleted.push(format!("{}.json", entry.relative));
        }
        // A voice's cached conditioning goes with it (deleting a missing key is a no-op).
        if entry.key.as_str().starts_with("voices/") {
            keys.push(entry.key.with_suffix(".cond")?);
        }
    }
    store.delete_many(&keys).await?;
    Ok(deleted)
}

/// Finds one file by name, reading the store directly wherever the name pins down the key
/// (a path, or a bare name present at the root), so a file written through another
/// replica is found on the very next request; only a bare name that is not at the root
/// needs the (cached, at most a second stale) listing, with [`resolve`]'s rules.
pub async fn lookup(store: &dyn ObjectStore, area: Area, param: &str, name: &str) -> Result<Entry> {
    naming::relative_path_param(param, name)?;
    let key = area.key(name)?;
    match store.head(&key).await {
        Ok(meta) if naming::is_listed_audio(key.file_name()) => {
            let relative = name.to_owned();
            let folder = relative.rsplit_once('/').map(|(f, _)| f.to_owned());
            let has_sidecar = exists(store, &sidecar_key(&key)?).await?;
            return Ok(Entry {
                key,
                relative,
                folder,
                size: meta.size,
                modified: meta.last_modified,
                has_sidecar,
            });
        }
        Ok(_) => return Err(Error::not_found(area.noun(), name)),
        Err(e) if e.is_not_found() && name.contains('/') => {
            return Err(Error::not_found(area.noun(), name));
        }
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e.into()),
    }
    let entries = self::entries(store, area).await?;
    resolve(&entries, area, param, name).cloned()
}

/// Resolves a file name given in a path parameter to one entry: a path with a
/// folder (`book1/ch1.wav`) must match exactly; a bare name matches at the root
/// first, then anywhere, and is refused as ambiguous when several folders hold it.
pub fn resolve<'a>(entries: &'a [Entry], area: Area, param: &str, name: &str) -> Result<&'a Entry> {
    naming::relative_path_param(param, name)?;
    if name.contains('/') {
        return entries
            .iter()
            .find(|e| e.relative == name)
            .ok_or_else(|| Error::not_found(area.noun(), name));
    }
    if let Some(root) = entries
        .iter()
        .find(|e| e.folder.is_none() && e.file_name() == name)
    {
        return Ok(root);
    }
    let matches: Vec<&Entry> = entries.iter().filter(|e| e.file_name() == name).collect();
    only_match(matches, area, param, name, "exists in several folders")
}

/// The one entry of `matches`: none is a 404, several a 422 on `param` listing their paths
/// (`shared` says how `name` is shared, e.g. "exists in several folders").
pub fn only_match<'a>(
    matches: Vec<&'a Entry>,
    area: Area,
    param: &str,
    name: &str,
    shared: &str,
) -> Result<&'a Entry> {
    match matches.as_slice() {
        [] => Err(Error::not_found(area.noun(), name)),
        [one] => Ok(one),
        many => Err(Error::invalid(
            param,
            format!(
                "{name:?} {shared} ({}); give the path, e.g. {:?}",
                many.iter()
                    .map(|e| e.relative.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                many[0].relative
            ),
        )),
    }
}

/// Entries named in a `filenames` list: a path matches exactly, a bare name matches
/// that file in every folder. Unsafe names are refused.
pub fn select_listed<'a>(entries: &'a [Entry], names: &[String]) -> Result<Vec<&'a Entry>> {
    for name in names {
        naming::relative_path_param("filenames", name)?;
    }
    Ok(entries
        .iter()
        .filter(|e| names.iter().any(|n| e.is_named(n)))
        .collect())
}

/// The filters of the newest-first listings (`/outputs`, `/vc_inputs`).
#[derive(Debug, Clone, Copy, Default)]
pub struct FileFilter<'a> {
    /// Comma-separated names or paths; when present, the other filters are ignored.
    pub filenames: Option<&'a str>,
    /// Folder filter.
    pub folder: Option<&'a str>,
    /// Alias of `folder`.
    pub project: Option<&'a str>,
    /// Case-insensitive substring of the file name or folder.
    pub search: Option<&'a str>,
}

/// Applies a [`FileFilter`]. Returns the matching entries and whether they were
/// chosen by name (in which case callers apply no further filter).
pub fn filter_files<'a>(
    entries: &'a [Entry],
    filter: &FileFilter<'_>,
) -> Result<(Vec<&'a Entry>, bool)> {
    let names = comma_list(filter.filenames);
    if !names.is_empty() {
        return Ok((select_listed(entries, &names)?, true));
    }
    let folder = folder_filter(filter.folder, filter.project)?;
    let search = filter_term(filter.search);
    let selected = entries
        .iter()
        .filter(|e| folder.as_deref().is_none_or(|f| e.in_folder(f)))
        .filter(|e| {
            search.as_deref().is_none_or(|s| {
                matches_search(s, &[e.file_name(), e.folder.as_deref().unwrap_or("")])
            })
        })
        .collect();
    Ok((selected, false))
}

/// One page of `selected`, newest first, built from each entry and its sidecar (only
/// the page's sidecars are read). Returns the items, the pagination and the total.
pub async fn newest_first_page<S, T>(
    store: &dyn ObjectStore,
    mut selected: Vec<&Entry>,
    page: Page,
    build: impl Fn(&Entry, Option<S>) -> T,
) -> (Vec<T>, PageInfo, usize)
where
    S: DeserializeOwned,
{
    selected.sort_by(|a, b| b.modified.cmp(&a.modified).then_with(|| b.key.cmp(&a.key)));
    let total = selected.len();
    let on_page = &selected[page.range(total)];
    let sidecars: Vec<Option<S>> = read_sidecars(store, on_page).await;
    let items: Vec<T> = on_page
        .iter()
        .zip(sidecars)
        .map(|(e, s)| build(e, s))
        .collect();
    let info = page.info(total, items.len());
    (items, info, total)
}

/// Names of a `filenames` list that match no entry.
pub fn unmatched_names(entries: &[Entry], names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|n| !entries.iter().any(|e| e.is_named(n)))
        .cloned()
        .collect()
}

/// Splits a comma-separated list, trimming and dropping empty items.
pub fn comma_list(raw: Option<&str>) -> Vec<String> {
    raw.map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

/// A search or tag filter as compared: lowercased, and absent when empty.
pub fn filter_term(value: Option<&str>) -> Option<String> {
    value.map(str::to_lowercase).filter(|s| !s.is_empty())
}

/// Whether `needle` (already lower-case) occurs in any of `haystacks`, ignoring case.
pub fn matches_search(needle: &str, haystacks: &[&str]) -> bool {
    haystacks.iter().any(|h| h.to_lowercase().contains(needle))
}

/// The folder filter of a listing: `folder` wins over its alias `project`.
pub fn folder_filter(folder: Option<&str>, project: Option<&str>) -> Result<Option<String>> {
    match folder {
        Some(folder) => naming::folder_param("folder", Some(folder)),
        None => naming::folder_param("project", project),
    }
}

/// Fails unless `confirm=true` was given.
pub fn require_confirm(confirm: Option<bool>, what: &'static str) -> Result<()> {
    if confirm == Some(true) {
        Ok(())
    } else {
        Err(Error::ConfirmationRequired(what))
    }
}

/// Checks the scope of a bulk delete: with no filter it deletes everything, which needs
/// `all=true`; `all=true` beside a filter is refused as contradictory.
pub fn require_scope(has_filter: bool, all: Option<bool>, noun: &str) -> Result<()> {
    match (has_filter, all == Some(true)) {
        (true, true) => Err(Error::invalid(
            "all",
            "all=true deletes everything and cannot be combined with filters; drop one of them",
        )),
        (false, false) => Err(Error::ScopeRequired(format!(
            "No filter was given, which would delete every {noun}: add all=true (with confirm=true) \
             to do that, or give folder, search, filenames or another filter"
        ))),
        _ => Ok(()),
    }
}

/// Whether any filter parameter was given with a value (blank values filter nothing).
pub fn any_given(values: &[Option<&str>]) -> bool {
    values.iter().flatten().any(|v| !v.trim().is_empty())
}

/// Folders (relative paths) that held entries before a deletion and hold none after.
pub fn emptied_folders(before: &[Entry], deleted: &[&Entry]) -> usize {
    let deleted_keys: HashSet<&str> = deleted.iter().map(|e| e.key.as_str()).collect();
    let mut had: BTreeSet<&str> = BTreeSet::new();
    let mut still: BTreeSet<&str> = BTreeSet::new();
    for entry in before {
        let Some(folder) = entry.folder.as_deref() else {
            continue;
        };
        // A folder survives if anything remains in it or below it.
        let ancestors = std::iter::successors(Some(folder), |f| f.rsplit_once('/').map(|(p, _)| p));
        for f in ancestors {
            had.insert(f);
            if !deleted_keys.contains(entry.key.as_str()) {
                still.insert(f);
            }
        }
    }
    had.difference(&still).count()
}

/// All audio entries of `area`, in key order (empty when the area is).
pub async fn entries(store: &dyn ObjectStore, area: Area) -> Result<Vec<Entry>> {
    Ok(scan(store, area).await?.entries)
}

/// Keeps the entries whose sidecar satisfies `keep`, reading sidecars concurrently.
pub async fn filter_by_sidecar<'a, T, F>(
    store: &dyn ObjectStore,
    entries: Vec<&'a Entry>,
    keep: F,
) -> Vec<&'a Entry>
where
    T: DeserializeOwned,
    F: Fn(&Entry, Option<&T>) -> bool,
{
    let sidecars: Vec<Option<T>> = read_sidecars(store, &entries).await;
    entries
        .into_iter()
        .zip(sidecars)
        .filter(|(e, s)| keep(e, s.as_ref()))
        .map(|(e, _)| e)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(relative: &str) -> Entry {
        let key = Area::Voices.key(relative).unwrap();
        Entry {
            key,
            relative: relative.into(),
            folder: relative.rsplit_once('/').map(|(f, _)| f.to_owned()),
            size: 1,
            modified: Utc::now(),
            has_sidecar: false,
        }
    }

    #[test]
    fn hierarchical_folder_filter() {
        assert!(entry("a/b/c.wav").in_folder("a"));
        assert!(entry("a/b/c.wav").in_folder("a/b"));
        assert!(!entry("ab/c.wav").in_folder("a"));
        assert!(!entry("c.wav").in_folder("a"));
    }

    #[test]
    fn resolve_prefers_root_and_refuses_ambiguity() {
        let entries = vec![
            entry("x/a.wav"),
            entry("y/a.wav"),
            entry("b.wav"),
            entry("z/b.wav"),
        ];
        assert_eq!(
            resolve(&entries, Area::Voices, "f", "b.wav")
                .unwrap()
                .relative,
            "b.wav"
        );
        assert_eq!(
            resolve(&entries, Area::Voices, "f", "y/a.wav")
                .unwrap()
                .relative,
            "y/a.wav"
        );
        assert!(matches!(
            resolve(&entries, Area::Voices, "f", "a.wav"),
            Err(Error::InvalidParameter { .. })
        ));
        assert!(matches!(
            resolve(&entries, Area::Voices, "f", "nope.wav"),
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(
            resolve(&entries, Area::Voices, "f", "../a.wav"),
            Err(Error::InvalidPath { .. })
        ));
    }

    #[test]
    fn emptied_folders_counts_folders_left_without_files() {
        let before = vec![entry("a/1.wav"), entry("a/b/2.wav"), entry("c/3.wav")];
        assert_eq!(emptied_folders(&before, &[&before[1]]), 1);
        assert_eq!(emptied_folders(&before, &[&before[0], &before[1]]), 2);
        assert_eq!(emptied_folders(&before, &[&before[0]]), 0);
    }
}
