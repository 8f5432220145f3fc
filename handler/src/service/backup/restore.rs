//! Restoring a backup archive. The archive is read once, as it arrives: each entry is
//! checked (a library path, an audio or metadata file of its area, JSON that parses) and
//! written under `restore-staging/<id>/`; nothing reaches the library until the whole
//! archive has been read, its end marker included. Then each file group (an audio file with
//! its sidecar and conditioning cache) is placed by the conflict policy, and the staging
//! prefix is removed. A refused or abandoned restore deletes its staging objects at once;
//! after a crash, the cleanup removes those older than the write grace period.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::Stream;
use serde::{Deserialize, Serialize};
use storage::{DynStore, Key, KeyPrefix, ObjectStore};
use utoipa::ToSchema;

use crate::error::{Error, Result};
use crate::naming;
use crate::state::AppState;

/// Where a restore keeps entries until the archive has been read whole.
pub const STAGING: &str = "restore-staging/";
/// Largest sidecar accepted.
const MAX_SIDECAR_BYTES: u64 = 1024 * 1024;
/// Most entries in one archive.
const MAX_ENTRIES: u64 = 200_000;
/// How often a restore placing its files shows it is alive (far below any grace period).
const HEARTBEAT_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// What to do when a restored file's path is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Conflict {
    /// Keep what the library has; the archive's file group is left out.
    Skip,
    /// Replace the library's file group with the archive's.
    Overwrite,
    /// Restore the archive's file group under a free name (`<stem>-restored-<n>.<ext>`).
    /// Usage statistics are never renamed: a taken day is skipped.
    Rename,
}

/// How to restore.
#[derive(Debug, Clone, Copy)]
pub struct RestoreOptions {
    /// Conflict policy.
    pub conflict: Conflict,
    /// Read and check the archive and report what would change, writing nothing.
    pub dry_run: bool,
    /// Most bytes of file content the archive may carry.
    pub max_total_bytes: u64,
}

/// A file group restored under another name.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Renamed {
    /// The path in the archive.
    pub from: String,
    /// The path it was restored to.
    pub to: String,
}

/// What a restore did (or, with `dry_run`, would do). Paths are full keys
/// (`voices/narrators/anna.wav`); each list names file groups by their main file.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RestoreReport {
    /// Whether this was a dry run (nothing written).
    pub dry_run: bool,
    /// The conflict policy applied.
    pub conflict: Conflict,
    /// Files in the archive.
    pub entries: u64,
    /// Bytes of file content in the archive.
    pub bytes: u64,
    /// Groups whose paths were free.
    pub created: Vec<String>,
    /// Groups that replaced the library's (`overwrite`).
    pub overwritten: Vec<String>,
    /// Groups left out because their path was taken (`skip`, and usage days under `rename`).
    pub skipped: Vec<String>,
    /// Groups restored under a free name (`rename`).
    pub renamed: Vec<Renamed>,
}

/// One checked entry of the archive.
struct Staged {
    /// Its key in the library.
    key: Key,
    /// Where it waits (None in a dry run).
    staged: Option<Key>,
}

/// Deletes a restore's staging objects when it ends without finishing (refused, failed, or
/// dropped because its client went away).
struct StagingGuard {
    store: DynStore,
    prefix: Option<KeyPrefix>,
}

impl StagingGuard {
    fn disarm(&mut self) -> Option<KeyPrefix> {
        self.prefix.take()
    }
}

impl Drop for StagingGuard {
    fn drop(&mut self) {
        if let Some(prefix) = self.prefix.take() {
            let store = Arc::clone(&self.store);
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move { remove_prefix(store.as_ref(), &prefix).await });
            }
        }
    }
}

async fn remove_prefix(store: &dyn ObjectStore, prefix: &KeyPrefix) {
    match store.list_all(prefix, false).await {
        Ok(listing) => {
            let keys: Vec<Key> = listing.objects.into_iter().map(|o| o.key).collect();
            if let Err(e) = store.delete_many(&keys).await {
                tracing::warn!(%prefix, error = %e, "could not remove restore staging objects");
            }
        }
        Err(e) => tracing::warn!(%prefix, error = %e, "could not list restore staging objects"),
    }
}

/// Restores the archive `body` (the request body as it arrives).
pub async fn restore<S, E>(
    state: &AppState,
    body: S,
    options: RestoreOptions,
) -> Result<RestoreReport>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
{
    let store = Arc::clone(state.store());
    let budget = state.config().limits.memory_budget_bytes();
    let limits = archive::Limits {
        max_entries: MAX_ENTRIES,
        // Each entry is held in memory while it is checked and staged: the budget is its cap.
        max_entry_bytes: budget,
        max_total_bytes: options.max_total_bytes,
    };
    let mut reader = archive::TarStream::new(body, limits);
    let id = uuid::Uuid::new_v4().simple().to_string();
    let staging = KeyPrefix::new(format!("{STAGING}{id}/")).map_err(Error::from)?;
    let mut guard = StagingGuard {
        store: Arc::clone(&store),
        prefix: (!options.dry_run).then(|| staging.clone()),
    };
    let read = read_and_stage(state, &mut reader, &staging, options.dry_run).await;
    let (staged, bytes_total) = match read {
        Ok(read) => read,
        Err(e) => {
            // Refused: the staged entries go before the answer does.
            if let Some(prefix) = guard.disarm() {
                remove_prefix(store.as_ref(), &prefix).await;
            }
            return Err(e);
        }
    };
    let mut report = RestoreReport {
        dry_run: options.dry_run,
        conflict: options.conflict,
        entries: staged.len() as u64,
        bytes: bytes_total,
        created: Vec::new(),
        overwritten: Vec::new(),
        skipped: Vec::new(),
        renamed: Vec::new(),
    };
    // A long placement refreshes a heartbeat in its staging prefix, so the cleanup (which
    // removes staging whose newest object is older than the grace period) leaves it alone.
    let heartbeat = staging.join("heartbeat").map_err(Error::from)?;
    let mut beat = std::time::Instant::now();
    for (base, members) in groups(staged) {
        if !options.dry_run && beat.elapsed() > HEARTBEAT_EVERY {
            store.put(&heartbeat, Bytes::new()).await?;
            beat = std::time::Instant::now();
        }
        place(store.as_ref(), &base, members, options, &mut report).await?;
    }
    if let Some(prefix) = guard.disarm() {
        remove_prefix(store.as_ref(), &prefix).await;
    }
    Ok(report)
}

/// Reads every entry, checks it and (unless `dry_run`) stages it; fails on the first
/// entry that is refused, or when the archive ends without its end marker.
async fn read_and_stage<S, E>(
    state: &AppState,
    reader: &mut archive::TarStream<S>,
    staging: &KeyPrefix,
    dry_run: bool,
) -> Result<(Vec<Staged>, u64)>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
{
    let store = state.store();
    let lease = state.memory().lease();
    let mut staged: Vec<Staged> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut bytes_total = 0;
    while let Some(header) = reader.next_entry().await? {
        let key = check_path(&header.path)?;
        if !seen.insert(key.as_str().to_owned()) {
            return Err(Error::InvalidArchive(format!(
                "{} appears twice in the archive",
                header.path
            )));
        }
        if key.as_str().ends_with(".json") && header.size > MAX_SIDECAR_BYTES {
            return Err(Error::InvalidArchive(format!(
                "{}: a sidecar of {} bytes is larger than {MAX_SIDECAR_BYTES}",
                header.path, header.size
            )));
        }
        lease.reserve(header.size)?;
        let mut content = BytesMut::with_capacity(usize::try_from(header.size).unwrap_or(0));
        while let Some(chunk) = reader.read_chunk().await? {
            content.extend_from_slice(&chunk);
        }
        let content = content.freeze();
        check_content(&key, &content)?;
        bytes_total += header.size;
        let staged_key = if dry_run {
            None
        } else {
            let staged_key = staging.join(key.as_str()).map_err(Error::from)?;
            store.put(&staged_key, content).await?;
            Some(staged_key)
        };
        lease.release(header.size);
        staged.push(Staged {
            key,
            staged: staged_key,
        });
    }
    if !reader.end_marker_seen() {
        return Err(Error::InvalidArchive(
            "the archive ends without its end marker (two zero blocks): it may have been cut \
             short, so nothing was restored"
                .into(),
        ));
    }
    Ok((staged, bytes_total))
}

/// A library key for an archive path: inside one of the backed-up areas, of a kind the
/// area holds.
fn check_path(path: &str) -> Result<Key> {
    let refuse = |why: &str| Error::InvalidArchive(format!("{path}: {why}"));
    let key = Key::new(path).map_err(|e| refuse(&e.to_string()))?;
    let area = path.split('/').next().unwrap_or_default();
    let name = key.file_name();
    match area {
        "stats" => {
            let ok = path
                .strip_prefix(super::super::usage::PREFIX)
                .and_then(|day| day.strip_suffix(".json"))
                .is_some_and(|day| chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok());
            if !ok {
                return Err(refuse(
                    "only stats/usage/<YYYY-MM-DD>.json is restored under stats/",
                ));
            }
        }
        "lexicons" => {
            let name = path
                .strip_prefix(crate::service::lexicons::PREFIX)
                .and_then(|n| n.strip_suffix(".json"))
                .unwrap_or_default();
            if crate::service::lexicons::key_for(name).is_err() {
                return Err(refuse(
                    "only lexicons/<name>.json is restored under lexicons/",
                ));
            }
        }
        "voices" | "vc_inputs" | "outputs" => {
            let base = name
                .strip_suffix(".json")
                .or_else(|| name.strip_suffix(".cond").filter(|_| area == "voices"))
                .unwrap_or(name);
            if !naming::is_listed_audio(base) {
                return Err(refuse(
                    "not an audio file, sidecar or conditioning cache of its area",
                ));
            }
        }
        _ => {
            return Err(refuse(&format!(
                "outside the library (areas: {})",
                super::AREAS.join(", ")
            )));
        }
    }
    Ok(key)
}

/// Sidecars and usage days must be JSON objects (a corrupt sidecar would break listings).
fn check_content(key: &Key, content: &Bytes) -> Result<()> {
    if !key.as_str().ends_with(".json") {
        return Ok(());
    }
    let value: serde_json::Value = serde_json::from_slice(content).map_err(|e| {
        Error::InvalidArchive(format!("{key}: the sidecar is not valid JSON ({e})"))
    })?;
    if !value.is_object() {
        return Err(Error::InvalidArchive(format!(
            "{key}: the sidecar is not a JSON object"
        )));
    }
    if key.as_str().starts_with("stats/") {
        serde_json::from_value::<super::super::usage::DailyUsage>(value).map_err(|e| {
            Error::InvalidArchive(format!("{key}: not a usage statistics day ({e})"))
        })?;
    } else if key.as_str().starts_with(crate::service::lexicons::PREFIX) {
        let lexicon: crate::service::lexicons::Lexicon = serde_json::from_value(value)
            .map_err(|e| Error::InvalidArchive(format!("{key}: not a lexicon ({e})")))?;
        crate::service::lexicons::validate(&lexicon)
            .map_err(|e| Error::InvalidArchive(format!("{key}: {e}")))?;
    }
    Ok(())
}

/// Entries grouped by their main file: `x.wav`, `x.wav.json` and `x.wav.cond` go together.
fn groups(staged: Vec<Staged>) -> BTreeMap<String, Vec<Staged>> {
    let mut groups: BTreeMap<String, Vec<Staged>> = BTreeMap::new();
    for entry in staged {
        let key = entry.key.as_str();
        let base = if key.starts_with("stats/") || key.starts_with("lexicons/") {
            key
        } else {
            key.strip_suffix(".json")
                .or_else(|| key.strip_suffix(".cond"))
                .unwrap_or(key)
        };
        groups.entry(base.to_owned()).or_default().push(entry);
    }
    groups
}

/// Whether any object of a group (its main file, sidecar or cache) exists at `base`.
async fn taken(store: &dyn ObjectStore, base: &str) -> Result<bool> {
    if base.starts_with("stats/") || base.starts_with("lexicons/") {
        return crate::service::area::exists(store, &Key::new(base).map_err(Error::from)?).await;
    }
    for suffix in ["", ".json", ".cond"] {
        let key = Key::new(format!("{base}{suffix}")).map_err(Error::from)?;
        if crate::service::area::exists(store, &key).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Decides where a group goes and, unless dry, moves it there.
async fn place(
    store: &dyn ObjectStore,
    base: &str,
    members: Vec<Staged>,
    options: RestoreOptions,
    report: &mut RestoreReport,
) -> Result<()> {
    let target_base = if !taken(store, base).await? {
        report.created.push(base.to_owned());
        base.to_owned()
    } else {
        match options.conflict {
            Conflict::Skip => {
                report.skipped.push(base.to_owned());
                return Ok(());
            }
            Conflict::Rename if base.starts_with("stats/") => {
                report.skipped.push(base.to_owned());
                return Ok(());
            }
            Conflict::Overwrite => {
                report.overwritten.push(base.to_owned());
                base.to_owned()
            }
            Conflict::Rename => {
                let free = free_name(store, base).await?;
                report.renamed.push(Renamed {
                    from: base.to_owned(),
                    to: free.clone(),
                });
                free
            }
        }
    };
    if options.dry_run {
        return Ok(());
    }
    if target_base == base && !base.starts_with("stats/") && !base.starts_with("lexicons/") {
        // Overwriting: what the library has beside the file and the archive does not bring
        // (a sidecar, a conditioning cache) described the old file; it goes.
        for suffix in ["", ".json", ".cond"] {
            let brought = members.iter().any(|m| {
                m.key.as_str().len() == base.len() + suffix.len()
                    && m.key.as_str().ends_with(suffix)
            });
            if !brought {
                store
                    .delete(&Key::new(format!("{base}{suffix}")).map_err(Error::from)?)
                    .await?;
            }
        }
    }
    // The main file first, its sidecar last: a crash in between leaves an audio file
    // without metadata, which the cleanup completes.
    let mut members = members;
    members.sort_by_key(|m| {
        let key = m.key.as_str();
        (
            key.ends_with(".json") && !key.starts_with("stats/"),
            key.ends_with(".cond"),
        )
    });
    for member in members {
        let Some(staged) = &member.staged else {
            continue;
        };
        let suffix = &member.key.as_str()[base.len()..];
        let target = Key::new(format!("{target_base}{suffix}")).map_err(Error::from)?;
        if target_base != base && suffix == ".json" {
            // A renamed file's sidecar names its new path.
            let content = store.get(staged).await?;
            store
                .put(&target, renamed_sidecar(&content, &target_base))
                .await?;
        } else {
            store.copy(staged, &target).await?;
        }
    }
    Ok(())
}

/// A free `<stem>-restored-<n>.<ext>` beside `base`.
async fn free_name(store: &dyn ObjectStore, base: &str) -> Result<String> {
    let (folder, name) = base.rsplit_once('/').unwrap_or(("", base));
    let stem = naming::stem(name);
    let extension = naming::extension(name).unwrap_or_default();
    for n in 1..1000 {
        let candidate = format!("{folder}/{stem}-restored-{n}.{extension}");
        if !taken(store, &candidate).await? {
            return Ok(candidate);
        }
    }
    Err(Error::Conflict(format!(
        "{base}: no free name left for a renamed restore"
    )))
}

/// The sidecar of a renamed file, with `url` (the path within its area) updated.
fn renamed_sidecar(content: &Bytes, target_base: &str) -> Bytes {
    let Ok(serde_json::Value::Object(mut map)) = serde_json::from_slice(content) else {
        return content.clone();
    };
    if map.contains_key("url") {
        let relative = target_base.split_once('/').map_or(target_base, |(_, r)| r);
        map.insert("url".into(), serde_json::Value::String(relative.to_owned()));
    }
    serde_json::to_vec_pretty(&map).map_or_else(|_| content.clone(), Bytes::from)
}
