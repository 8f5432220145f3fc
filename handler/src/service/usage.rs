//! Usage statistics: what was generated (count, seconds of audio, bytes stored) by
//! generation type, project and engine, and which voices were used, per UTC day. Each day
//! is one object, `stats/usage/<YYYY-MM-DD>.json`, updated by compare-and-swap
//! (`sidecar_update::update_json`), so the figures are exact across any number of replicas
//! sharing the bucket: the store is the truth, nothing here is kept in process memory.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use storage::{Key, KeyPrefix};
use utoipa::ToSchema;

use crate::error::{Error, Result};
use crate::monitoring::GenerationTiming;
use crate::state::AppState;

/// Where the daily objects live.
pub const PREFIX: &str = "stats/usage/";
/// Longest window `GET /api/v1/stats` sums.
pub const MAX_DAYS: u32 = 366;
/// The `by_project` name of outputs stored outside any project folder.
pub const ROOT_PROJECT: &str = "(root)";

/// Count, audio seconds and bytes of a group of generations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Totals {
    /// Generations.
    pub count: u64,
    /// Seconds of audio produced.
    pub seconds: f64,
    /// Bytes written to the store (every export format; 0 for streamed speech, which is
    /// not stored).
    pub bytes: u64,
}

impl Totals {
    fn add(&mut self, other: &Totals) {
        self.count += other.count;
        self.seconds += other.seconds;
        self.bytes += other.bytes;
    }
}

/// One voice's use on a day (or over a window).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VoiceUsage {
    /// Generations that used it.
    pub uses: u64,
    /// Uses by engine.
    #[serde(default)]
    pub by_engine: BTreeMap<String, u64>,
    /// The latest use (RFC 3339 UTC).
    #[serde(default)]
    pub last_used: Option<String>,
}

/// The object of one day.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DailyUsage {
    /// The UTC day.
    #[serde(default)]
    pub date: String,
    /// Everything generated that day.
    #[serde(default)]
    pub totals: Totals,
    /// By generation type: `tts`, `vc`, `concat`, `speech`.
    #[serde(default)]
    pub by_type: BTreeMap<String, Totals>,
    /// By project (the output folder; [`ROOT_PROJECT`] for none).
    #[serde(default)]
    pub by_project: BTreeMap<String, Totals>,
    /// By engine (`piper`, `chatterbox`, `none` for concatenation).
    #[serde(default)]
    pub by_engine: BTreeMap<String, Totals>,
    /// By voice path (stored voices only; the built-in voice is counted under its engine).
    #[serde(default)]
    pub voices: BTreeMap<String, VoiceUsage>,
}

/// One finished generation, for the statistics and the process metrics.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Timing and kind for the process metrics.
    pub timing: GenerationTiming,
    /// The output folder, if any.
    pub project: Option<String>,
    /// Bytes stored, every format together.
    pub bytes: u64,
    /// The stored voice used, as its path in the voices area.
    pub voice: Option<String>,
}

/// Counts a finished generation: the process metrics at once, then today's usage object in
/// the store. A store failure is logged, not returned: the audio was already made.
pub async fn record(state: &AppState, generated: Generated) {
    state.monitor().record_generation(generated.timing);
    let now = Utc::now();
    let date = now.format("%Y-%m-%d").to_string();
    let Ok(key) = Key::new(format!("{PREFIX}{date}.json")) else {
        return;
    };
    let this = Totals {
        count: 1,
        seconds: if generated.timing.audio_seconds.is_finite() {
            generated.timing.audio_seconds.max(0.0)
        } else {
            0.0
        },
        bytes: generated.bytes,
    };
    let project = generated
        .project
        .clone()
        .unwrap_or_else(|| ROOT_PROJECT.to_owned());
    let stamp = super::iso(now);
    let updated =
        super::sidecar_update::update_json(state.store().as_ref(), &key, |day: &mut DailyUsage| {
            day.date.clone_from(&date);
            day.totals.add(&this);
            let kind = generated.timing.kind.to_owned();
            day.by_type.entry(kind).or_default().add(&this);
            day.by_project
                .entry(project.clone())
                .or_default()
                .add(&this);
            let engine = generated.timing.engine.to_owned();
            day.by_engine.entry(engine.clone()).or_default().add(&this);
            if let Some(voice) = &generated.voice {
                let usage = day.voices.entry(voice.clone()).or_default();
                usage.uses += 1;
                *usage.by_engine.entry(engine).or_default() += 1;
                usage.last_used = Some(stamp.clone());
            }
        })
        .await;
    if let Err(e) = updated {
        tracing::warn!(key = %key, error = %e, "could not update the usage statistics");
    }
}

/// `GET /api/v1/stats`: usage summed over a window of days, from the store.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageReport {
    /// First day of the window (UTC).
    pub from: String,
    /// Last day of the window (today, UTC).
    pub to: String,
    /// Days in the window.
    pub days: u32,
    /// Everything generated in the window.
    pub totals: Totals,
    /// By generation type.
    pub by_type: BTreeMap<String, Totals>,
    /// By project (output folder; `(root)` for none).
    pub by_project: BTreeMap<String, Totals>,
    /// By engine.
    pub by_engine: BTreeMap<String, Totals>,
    /// Days with any generation, oldest first.
    pub by_day: Vec<DayTotals>,
    /// Stored voices used in the window, most used first (at most 100).
    pub voices: Vec<VoiceWindowUsage>,
    /// Always `store`: the figures are read from the bucket, exact across replicas.
    pub source: &'static str,
}

/// One day's totals.
#[derive(Debug, Serialize, ToSchema)]
pub struct DayTotals {
    /// The UTC day.
    pub date: String,
    /// Its totals.
    #[serde(flatten)]
    pub totals: Totals,
}

/// A voice's use over the window.
#[derive(Debug, Serialize, ToSchema)]
pub struct VoiceWindowUsage {
    /// Path in the voices area.
    pub voice: String,
    /// Its use.
    #[serde(flatten)]
    pub usage: VoiceUsage,
}

/// Sums the last `days` days (today included), optionally for one `project`.
pub async fn report(state: &AppState, days: u32, project: Option<&str>) -> Result<UsageReport> {
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(Error::invalid(
            "days",
            format!("days must be between 1 and {MAX_DAYS}, got {days}"),
        ));
    }
    let today = Utc::now().date_naive();
    let from = today - chrono::Days::new(u64::from(days - 1));
    let store = state.store();
    let prefix = KeyPrefix::new(PREFIX).map_err(Error::from)?;
    let listing = store.list_all(&prefix, false).await?;
    let wanted: Vec<Key> = listing
        .objects
        .into_iter()
        .map(|o| o.key)
        .filter(|key| day_of(key).is_some_and(|date| date >= from && date <= today))
        .collect();
    let daily: Vec<Option<DailyUsage>> = futures::stream::iter(wanted)
        .map(|key| async move {
            match store.get(&key).await {
                Ok(bytes) => Ok(serde_json::from_slice::<DailyUsage>(&bytes).ok()),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(Error::from(e)),
            }
        })
        .buffered(8)
        .try_collect()
        .await?;
    let mut report = UsageReport {
        from: from.to_string(),
        to: today.to_string(),
        days,
        totals: Totals::default(),
        by_type: BTreeMap::new(),
        by_project: BTreeMap::new(),
        by_engine: BTreeMap::new(),
        by_day: Vec::new(),
        voices: Vec::new(),
        source: "store",
    };
    let mut voices: BTreeMap<String, VoiceUsage> = BTreeMap::new();
    for day in daily.into_iter().flatten() {
        match project {
            // Per project, the day's split by type and engine is not kept per project:
            // only the project's own totals are summed.
            Some(project) => {
                let Some(totals) = day.by_project.get(project) else {
                    continue;
                };
                report.totals.add(totals);
                report
                    .by_project
                    .entry(project.to_owned())
                    .or_default()
                    .add(totals);
                report.by_day.push(DayTotals {
                    date: day.date.clone(),
                    totals: *totals,
                });
            }
            None => {
                report.totals.add(&day.totals);
                merge(&mut report.by_type, &day.by_type);
                merge(&mut report.by_project, &day.by_project);
                merge(&mut report.by_engine, &day.by_engine);
                report.by_day.push(DayTotals {
                    date: day.date.clone(),
                    totals: day.totals,
                });
                for (voice, usage) in day.voices {
                    let total = voices.entry(voice).or_default();
                    total.uses += usage.uses;
                    for (engine, n) in usage.by_engine {
                        *total.by_engine.entry(engine).or_default() += n;
                    }
                    if usage.last_used > total.last_used {
                        total.last_used = usage.last_used;
                    }
                }
            }
        }
    }
    report.by_day.sort_by(|a, b| a.date.cmp(&b.date));
    let mut voices: Vec<VoiceWindowUsage> = voices
        .into_iter()
        .map(|(voice, usage)| VoiceWindowUsage { voice, usage })
        .collect();
    voices.sort_by(|a, b| b.usage.uses.cmp(&a.usage.uses).then(a.voice.cmp(&b.voice)));
    voices.truncate(100);
    report.voices = voices;
    Ok(report)
}

fn merge(into: &mut BTreeMap<String, Totals>, from: &BTreeMap<String, Totals>) {
    for (name, totals) in from {
        into.entry(name.clone()).or_default().add(totals);
    }
}

fn day_of(key: &Key) -> Option<NaiveDate> {
    let name = key.as_str().strip_prefix(PREFIX)?.strip_suffix(".json")?;
    NaiveDate::parse_from_str(name, "%Y-%m-%d").ok()
}
