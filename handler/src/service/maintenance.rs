//! Maintenance: the zero-byte cleanup (at startup, on a schedule and on demand),
//! orphan-sidecar removal, sidecar backfill for files copied in by hand, and the
//! storage usage report behind `/resources`.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Map;
use storage::{Key, ObjectStore};
use utoipa::ToSchema;

use super::area::{self, Area, Entry};
use super::journal::{self, SweepReport};
use super::outputs::{self, OutputSidecar};
use super::upload;
use super::vc_inputs::VcInputSidecar;
use super::voices::VoiceSidecar;
use crate::error::Result;
use crate::naming;
use crate::state::AppState;

/// Runs kept in memory for `/cleanup/status`.
const HISTORY_KEPT: usize = 10;
/// Runs shown by `/cleanup/status`.
const HISTORY_SHOWN: usize = 5;

/// What one area's cleanup did.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct AreaCleanup {
    /// Zero-byte files deleted (with their sidecars), relative to the area.
    pub deleted_files: Vec<String>,
    /// Sidecars deleted because their audio file is gone or they were empty.
    pub orphan_sidecars_removed: Vec<String>,
    /// Sidecars created for audio files that had none (e.g. copied in by hand).
    pub sidecars_created: Vec<String>,
    /// Failures, one line each; the run continues past them.
    pub errors: Vec<String>,
    /// Objects looked at.
    pub total_scanned: usize,
}

/// The zero-byte cleanup action, in the original's shape.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct CorruptedFilesCleanup {
    /// Zero-byte audio files removed, over all areas.
    pub files_removed: usize,
    /// Areas in which something was removed.
    pub directories_cleaned: usize,
    /// Per area: `voices`, `vc_inputs`, `outputs`.
    pub details: BTreeMap<String, AreaCleanup>,
}

/// Leftovers of writes interrupted by a crash, reclaimed by a cleanup run.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct InterruptedWrites {
    /// Write plans of dead writers settled (see `journal`): kept, undone or finished.
    pub plans: SweepReport,
    /// Temporary files of interrupted filesystem writes removed, relative to the store root.
    pub temporary_files_removed: Vec<String>,
    /// Interrupted S3 multipart uploads aborted (their keys).
    pub multipart_uploads_aborted: Vec<String>,
    /// Bytes those temporary files and uploads held.
    pub bytes_freed: u64,
    /// Staging objects of restores that never finished (a crash mid-restore), removed.
    pub restore_staging_removed: usize,
    /// Failures, one line each.
    pub errors: Vec<String>,
}

/// Actions of one cleanup run.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct CleanupActions {
    /// Zero-byte files (and orphan sidecars) removed, sidecars backfilled.
    pub corrupted_files_cleanup: CorruptedFilesCleanup,
    /// Leftovers of interrupted writes (crashes, lost connections) repaired.
    pub interrupted_writes: InterruptedWrites,
}

/// The summary of one cleanup run (`POST /cleanup` and `/cleanup/status` history).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CleanupSummary {
    /// When the summary was made.
    pub timestamp: String,
    /// What was done.
    pub actions: CleanupActions,
    /// Files removed in all (zero-byte files and orphan sidecars).
    pub total_files_removed: usize,
    /// Bytes freed (sidecars of zero-byte files included).
    pub total_bytes_freed: u64,
    /// Start of the run.
    pub start_time: String,
    /// End of the run.
    pub end_time: String,
    /// Wall time of the run.
    pub duration_seconds: f64,
    /// True when asked for through `POST /cleanup`, false for startup and scheduled runs.
    pub forced: bool,
}

/// Scheduler facts for `/cleanup/status`.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct SchedulerStatus {
    /// Whether the periodic schedule is active in this process.
    pub running: bool,
    /// Whether a run happens at startup.
    pub cleanup_on_startup: bool,
    /// Hours between scheduled runs (0 = no schedule).
    pub cleanup_interval_hours: f64,
    /// End of the last run.
    pub last_cleanup_time: Option<String>,
    /// Runs since the process started.
    pub cleanup_count: u64,
    /// When the next scheduled run is due.
    pub next_cleanup_time: Option<String>,
}

/// `GET /cleanup/status` response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CleanupStatus {
    /// The scheduler.
    pub scheduler: SchedulerStatus,
    /// The most recent runs, newest first.
    pub history: Vec<CleanupSummary>,
}

/// Cleanup history and scheduler state of this process.
#[derive(Debug, Default)]
pub struct CleanupLog {
    inner: Mutex<LogInner>,
    // Serialises runs: a forced run waits for a scheduled one instead of racing it.
    running: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct LogInner {
    history: VecDeque<CleanupSummary>,
    count: u64,
    scheduled: bool,
    next: Option<DateTime<Utc>>,
}

impl CleanupLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, LogInner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn record(&self, summary: CleanupSummary) {
        let mut inner = self.lock();
        inner.count += 1;
        inner.history.push_front(summary);
        inner.history.truncate(HISTORY_KEPT);
    }

    fn set_schedule(&self, next: Option<DateTime<Utc>>) {
        let mut inner = self.lock();
        inner.scheduled = next.is_some();
        inner.next = next;
    }
}

/// The status report for `/cleanup/status`.
pub fn status(state: &AppState) -> CleanupStatus {
    let config = &state.config().maintenance;
    let inner = state.cleanup_log().lock();
    CleanupStatus {
        scheduler: SchedulerStatus {
            running: inner.scheduled,
            cleanup_on_startup: config.cleanup_on_startup,
            cleanup_interval_hours: config.cleanup_interval_hours,
            last_cleanup_time: inner.history.front().map(|s| s.end_time.clone()),
            cleanup_count: inner.count,
            next_cleanup_time: inner.next.map(super::iso),
        },
        history: inner.history.iter().take(HISTORY_SHOWN).cloned().collect(),
    }
}

/// Runs one cleanup over all areas and records it.
pub async fn run_cleanup(state: &AppState, forced: bool) -> CleanupSummary {
    let _guard = state.cleanup_log().running.lock().await;
    let started = Instant::now();
    let start_time = super::now_iso();
    let store = state.store().as_ref();
    let decode_limits = state.config().limits.decode_limits();
    let backfill_cap = state
        .config()
        .limits
        .voice_upload_bytes()
        .max(state.config().limits.vc_input_upload_bytes());
    // Interrupted writes first: undoing a half-written upload must come before the
    // backfill below would describe its sidecar-less object as a hand-copied file.
    let interrupted = repair_interrupted_writes(state).await;
    let mut cleanup = CorruptedFilesCleanup::default();
    let mut bytes_freed = interrupted.bytes_freed;
    let mut removed = interrupted.plans.removed.len()
        + interrupted.temporary_files_removed.len()
        + interrupted.multipart_uploads_aborted.len();
    for area in Area::ALL {
        let (report, freed) = clean_area(store, area, &decode_limits, backfill_cap as u64).await;
        if !report.deleted_files.is_empty() || !report.orphan_sidecars_removed.is_empty() {
            cleanup.directories_cleaned += 1;
        }
        cleanup.files_removed += report.deleted_files.len();
        removed += report.deleted_files.len() + report.orphan_sidecars_removed.len();
        bytes_freed += freed;
        cleanup.details.insert(area.dir_name().to_owned(), report);
    }
    let summary = CleanupSummary {
        timestamp: super::now_iso(),
        actions: CleanupActions {
            corrupted_files_cleanup: cleanup,
            interrupted_writes: interrupted,
        },
        total_files_removed: removed,
        total_bytes_freed: bytes_freed,
        start_time,
        end_time: super::now_iso(),
        duration_seconds: started.elapsed().as_secs_f64(),
        forced,
    };
    tracing::info!(
        files_removed = removed,
        bytes_freed,
        forced,
        "cleanup finished"
    );
    state.cleanup_log().record(summary.clone());
    summary
}

/// Settles the write plans of dead writers and reclaims the backend's leftovers
/// (temporary files, multipart uploads) older than the grace period.
pub async fn repair_interrupted_writes(state: &AppState) -> InterruptedWrites {
    let store = state.store().as_ref();
    let grace = state.config().maintenance.incomplete_write_grace();
    let mut report = InterruptedWrites {
        plans: journal::sweep(store, grace).await,
        ..InterruptedWrites::default()
    };
    match store.reclaim_incomplete_writes(grace).await {
        Ok(reclaimed) => {
            report.temporary_files_removed = reclaimed.temporary_files_removed;
            report.multipart_uploads_aborted = reclaimed.multipart_uploads_aborted;
            report.bytes_freed = reclaimed.bytes_freed;
        }
        Err(e) => report
            .errors
            .push(format!("reclaiming incomplete writes failed: {e}")),
    }
    match stale_restore_staging(store, grace).await {
        Ok(removed) => report.restore_staging_removed = removed,
        Err(e) => report
            .errors
            .push(format!("removing stale restore staging failed: {e}")),
    }
    report
}

/// Removes the staging of restores that stopped: a restore's prefix whose newest object is
/// older than `grace` (a live restore stages entries as it reads them and refreshes a
/// heartbeat while it places them, far more often than that).
async fn stale_restore_staging(store: &dyn ObjectStore, grace: Duration) -> Result<usize> {
    let prefix = storage::KeyPrefix::new(super::backup::STAGING)?;
    let cutoff = chrono::Utc::now()
        - chrono::Duration::from_std(grace).unwrap_or_else(|_| chrono::Duration::hours(1));
    let mut restores: std::collections::BTreeMap<String, Vec<storage::ObjectMeta>> =
        std::collections::BTreeMap::new();
    for object in store.list_all(&prefix, false).await?.objects {
        let id = object
            .key
            .as_str()
            .strip_prefix(super::backup::STAGING)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default()
            .to_owned();
        restores.entry(id).or_default().push(object);
    }
    let stale: Vec<storage::Key> = restores
        .into_values()
        .filter(|objects| objects.iter().all(|o| o.last_modified < cutoff))
        .flatten()
        .map(|o| o.key)
        .collect();
    store.delete_many(&stale).await?;
    Ok(stale.len())
}

async fn clean_area(
    store: &dyn ObjectStore,
    area: Area,
    limits: &audio::DecodeLimits,
    backfill_cap: u64,
) -> (AreaCleanup, u64) {
    let mut report = AreaCleanup::default();
    let scan = match area::scan(store, area).await {
        Ok(scan) => scan,
        Err(e) => {
            report
                .errors
                .push(format!("listing {} failed: {e}", area.dir_name()));
            return (report, 0);
        }
    };
    report.total_scanned = scan.entries.len() + scan.others.len();
    let mut freed = 0;
    let mut doomed: Vec<Key> = Vec::new();

    for entry in scan.entries.iter().filter(|e| e.size == 0) {
        tracing::warn!(key = %entry.key, "deleting zero-byte file");
        doomed.push(entry.key.clone());
        report.deleted_files.push(entry.relative.clone());
        if entry.has_sidecar
            && let Ok(sidecar) = entry.sidecar_key()
        {
            doomed.push(sidecar);
        }
    }
    // Sidecars whose audio is gone, and empty sidecars of live files, are removed too.
    let audio_keys: HashSet<&str> = scan
        .entries
        .iter()
        .filter(|e| e.size > 0)
        .map(|e| e.key.as_str())
        .collect();
    for other in &scan.others {
        // Sidecars (`.json`) and cached voice conditionings (`.cond`) belong to an audio file.
        let Some(object) = other
            .key
            .as_str()
            .strip_suffix(".json")
            .or_else(|| other.key.as_str().strip_suffix(".cond"))
        else {
            continue;
        };
        if !naming::is_listed_audio(object) {
            continue;
        }
        let orphan = !audio_keys.contains(object);
        if (orphan || other.size == 0) && !doomed.contains(&other.key) {
            tracing::warn!(key = %other.key, orphan, "deleting stale sidecar");
            doomed.push(other.key.clone());
            freed += other.size;
            report
                .orphan_sidecars_removed
                .push(relative(area, &other.key));
        }
    }
    if let Err(e) = store.delete_many(&doomed).await {
        report.errors.push(format!("delete failed: {e}"));
        return (report, 0);
    }
    // Files without a sidecar, and those whose empty sidecar was just removed, get one.
    let removed: HashSet<&str> = doomed.iter().map(Key::as_str).collect();
    let needs_sidecar = |e: &&Entry| {
        e.size > 0
            && (!e.has_sidecar || e.sidecar_key().is_ok_and(|k| removed.contains(k.as_str())))
    };
    for entry in scan.entries.iter().filter(needs_sidecar) {
        if entry.size > backfill_cap {
            report.errors.push(format!(
                "{}: too large to describe ({} bytes)",
                entry.relative, entry.size
            ));
            continue;
        }
        match backfill_sidecar(store, area, entry, limits).await {
            Ok(()) => report.sidecars_created.push(entry.relative.clone()),
            Err(e) => report.errors.push(format!("{}: {e}", entry.relative)),
        }
    }
    (report, freed)
}

fn relative(area: Area, key: &Key) -> String {
    key.strip_prefix(&area.prefix())
        .unwrap_or(key.as_str())
        .to_owned()
}

/// Writes the sidecar an uploaded file would have had, from the file itself.
async fn backfill_sidecar(
    store: &dyn ObjectStore,
    area: Area,
    entry: &Entry,
    limits: &audio::DecodeLimits,
) -> Result<()> {
    let bytes = store.get(&entry.key).await?;
    let extension = naming::extension(entry.file_name()).unwrap_or_default();
    let info = upload::inspect_audio(bytes, &extension, *limits, entry.file_name()).await?;
    let created = super::iso(entry.modified);
    let format = Some(extension);
    match area {
        Area::Voices => {
            let sidecar = VoiceSidecar {
                name: Some(naming::stem(entry.file_name()).to_owned()),
                duration_seconds: Some(info.duration_seconds()),
                sample_rate: Some(info.sample_rate),
                channels: Some(info.channels),
                file_size_bytes: Some(entry.size),
                format,
                created_date: Some(created.clone()),
                uploaded_date: Some(created),
                url: Some(entry.relative.clone()),
                folder_path: entry.folder.clone(),
                ..VoiceSidecar::default()
            };
            area::write_sidecar(store, &entry.key, &sidecar).await
        }
        Area::VcInputs => {
            let sidecar = VcInputSidecar {
                filename: entry.file_name().to_owned(),
                folder_path: entry.folder.clone(),
                text: None,
                file_size_bytes: entry.size,
                duration_seconds: Some(info.duration_seconds()),
                sample_rate: Some(info.sample_rate),
                channels: Some(info.channels),
                format,
                created_date: Some(created.clone()),
                upload_date: Some(created),
                extra: Map::new(),
            };
            area::write_sidecar(store, &entry.key, &sidecar).await
        }
        Area::Outputs => {
            let sidecar = OutputSidecar {
                generation_type: Some(outputs::type_from_name(entry.file_name()).to_owned()),
                timestamp: Some(created),
                duration_seconds: Some(info.duration_seconds()),
                sample_rate: Some(info.sample_rate),
                file_size_bytes: Some(entry.size),
                format,
                ..OutputSidecar::default()
            };
            area::write_sidecar(store, &entry.key, &sidecar).await
        }
    }
}

/// Starts the cleanup schedule: a run at startup (if configured), then one every
/// `cleanup_interval_hours` (if > 0). Runs in the background; serving does not wait.
pub fn spawn_scheduler(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let config = state.config().maintenance.clone();
        let interval = (config.cleanup_interval_hours > 0.0)
            .then(|| Duration::from_secs_f64(config.cleanup_interval_hours * 3600.0));
        let next_due = |interval: Option<Duration>| {
            interval
                .and_then(|i| chrono::Duration::from_std(i).ok())
                .map(|i| Utc::now() + i)
        };
        state.cleanup_log().set_schedule(next_due(interval));
        if config.cleanup_on_startup {
            run_cleanup(&state, false).await;
        }
        // Plans too young at startup (a writer that just died) are settled one grace
        // period later, not hours later at the next full run.
        if config.cleanup_on_startup || interval.is_some() {
            let sweeper = state.clone();
            tokio::spawn(async move {
                let grace = sweeper.config().maintenance.incomplete_write_grace();
                let mut ticker = tokio::time::interval_at(
                    tokio::time::Instant::now() + grace,
                    grace.max(Duration::from_secs(1)),
                );
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticker.tick().await;
                    let report = repair_interrupted_writes(&sweeper).await;
                    if report.plans.repaired > 0 || !report.errors.is_empty() {
                        tracing::info!(repaired = report.plans.repaired, errors = ?report.errors, "interrupted writes settled");
                    }
                }
            });
        }
        let Some(interval) = interval else { return };
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            run_cleanup(&state, false).await;
            state.cleanup_log().set_schedule(next_due(Some(interval)));
        }
    })
}

/// Usage of one area for `/resources`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AreaUsage {
    /// Bytes used by audio and sidecars.
    pub size_bytes: u64,
    /// The same in MB.
    pub size_mb: f64,
    /// Audio files.
    pub file_count: usize,
    /// Size in MB at which warnings start (null: no limit configured).
    pub max_size_mb: Option<u64>,
    /// Percentage of `max_size_mb` used (null without a limit).
    pub usage_percent: Option<f64>,
}

/// `GET /resources` response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResourcesReport {
    /// When the report was made.
    pub timestamp: String,
    /// Usage per area: `voices`, `vc_inputs`, `outputs`.
    pub directories: BTreeMap<String, AreaUsage>,
    /// Areas at or above 80 % of their limit.
    pub warnings: Vec<String>,
}

/// Measures every area (one listing each).
pub async fn resources(state: &AppState) -> Result<ResourcesReport> {
    let config = &state.config().maintenance;
    let mut directories = BTreeMap::new();
    let mut warnings = Vec::new();
    for area in Area::ALL {
        let scan = area::scan(state.store().as_ref(), area).await?;
        let size_bytes: u64 = scan
            .entries
            .iter()
            .map(|e| e.size)
            .chain(scan.others.iter().map(|o| o.size))
            .sum();
        let limit = match area {
            Area::Outputs => config.outputs_warn_size_mb,
            Area::VcInputs => config.vc_inputs_warn_size_mb,
            Area::Voices => 0,
        };
        let size_mb = size_bytes as f64 / (1024.0 * 1024.0);
        let usage_percent = (limit > 0).then(|| size_mb / limit as f64 * 100.0);
        if let Some(percent) = usage_percent.filter(|p| *p >= 80.0) {
            warnings.push(format!(
                "{} is at {percent:.1}% of its {limit} MB limit",
                area.dir_name()
            ));
        }
        directories.insert(
            area.dir_name().to_owned(),
            AreaUsage {
                size_bytes,
                size_mb: (size_mb * 100.0).round() / 100.0,
                file_count: scan.entries.len(),
                max_size_mb: (limit > 0).then_some(limit),
                usage_percent: usage_percent.map(|p| (p * 100.0).round() / 100.0),
            },
        );
    }
    Ok(ResourcesReport {
        timestamp: super::now_iso(),
        directories,
        warnings,
    })
}
