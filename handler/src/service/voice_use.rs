//! Using a stored voice for generation: finding it by name, its Chatterbox conditioning
//! (computed once per voice content and cached in memory and beside the voice as
//! `<voice>.cond`), and its usage statistics (updated under a per-voice lock, so
//! concurrent requests never lose a count).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};

use audio::memory::Lease;
use bytes::Bytes;
use models::chatterbox::{Chatterbox, VoiceConditioning};
use serde::Serialize;
use sha2::{Digest, Sha256};
use storage::{Key, ObjectStore};

use super::area::{self, Area, Entry};
use super::engines::blocking;
use super::voices::VoiceSidecar;
use super::work::{self, Slot};
use crate::error::{Error, Result};
use crate::naming;

/// Conditionings kept in memory (each is a few hundred KB for a 10 s reference).
const MEMORY_SLOTS: usize = 32;
/// First bytes of a stored conditioning file; the version changes with the layout.
const COND_MAGIC: &[u8] = b"SPEECH-COND/1\n";
/// Extensions tried, in order, for a voice named without one (the original's list and ours).
const VOICE_EXTENSIONS: [&str; 6] = ["wav", "mp3", "flac", "ogg", "opus", "m4a"];

/// Where a request's conditioning came from (reported in the generation sidecar).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditioningSource {
    /// This process computed it earlier.
    Memory,
    /// Read from `<voice>.cond` in the store.
    Store,
    /// The speech encoder ran for this request.
    Computed,
}

/// Per-process voice state: locks for sidecar updates and the conditioning memo.
#[derive(Debug, Default)]
pub struct VoiceUse {
    locks: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
    memo: Mutex<VecDeque<(String, Arc<VoiceConditioning>)>>,
}

impl VoiceUse {
    /// The lock serialising read-modify-write of one voice's sidecar in this process.
    pub fn lock_for(&self, key: &Key) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(lock) = locks.get(key.as_str()).and_then(Weak::upgrade) {
            return lock;
        }
        // Drop entries nobody holds any more, so the map stays as small as the live set.
        locks.retain(|_, weak| weak.strong_count() > 0);
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        locks.insert(key.as_str().to_owned(), Arc::downgrade(&lock));
        lock
    }

    fn remembered(&self, id: &str) -> Option<Arc<VoiceConditioning>> {
        let memo = self.memo.lock().unwrap_or_else(|p| p.into_inner());
        memo.iter()
            .find(|(k, _)| k == id)
            .map(|(_, c)| Arc::clone(c))
    }

    fn remember(&self, id: String, conditioning: Arc<VoiceConditioning>) {
        let mut memo = self.memo.lock().unwrap_or_else(|p| p.into_inner());
        memo.retain(|(k, _)| *k != id);
        if memo.len() >= MEMORY_SLOTS {
            memo.pop_front();
        }
        memo.push_back((id, conditioning));
    }
}

/// Finds a voice by path or name: an exact path (`folder/x.wav`), a bare name (root
/// first, then a unique match in any folder), or a name without extension (`x` finds
/// `x.wav`, `x.mp3`, ...). URLs are refused: voices are uploaded first.
pub async fn find_voice(store: &dyn ObjectStore, param: &str, name: &str) -> Result<Entry> {
    find_in(store, Area::Voices, param, name).await
}

/// Like [`find_voice`] in any area (VC inputs use the same rules).
pub async fn find_in(
    store: &dyn ObjectStore,
    area: Area,
    param: &str,
    name: &str,
) -> Result<Entry> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::invalid(param, format!("{param} must not be empty")));
    }
    if name.starts_with("http://") || name.starts_with("https://") {
        return Err(Error::invalid(
            param,
            format!(
                "{param} must name a stored file; URLs are not fetched (upload the file first)"
            ),
        ));
    }
    let has_extension =
        naming::extension(name).is_some_and(|e| naming::is_listed_audio(&format!("x.{e}")));
    if has_extension {
        // Read directly where the name pins the key down (see `area::lookup`).
        return area::lookup(store, area, param, name).await;
    }
    // A name without extension: `anna` is `anna.wav`, `anna.mp3`, …, looked up directly
    // first, then by the listing's rules.
    naming::relative_path_param(param, name)?;
    for extension in VOICE_EXTENSIONS {
        let candidate = format!("{name}.{extension}");
        if area::exists(store, &area.key(&candidate)?).await? {
            return area::lookup(store, area, param, &candidate).await;
        }
    }
    let entries = area::entries(store, area).await?;
    match area::resolve(&entries, area, param, name) {
        Err(Error::NotFound { .. }) => {
            for extension in VOICE_EXTENSIONS {
                let candidate = format!("{name}.{extension}");
                match area::resolve(&entries, area, param, &candidate) {
                    Ok(entry) => return Ok(entry.clone()),
                    Err(Error::NotFound { .. }) => continue,
                    Err(other) => return Err(other),
                }
            }
            if area == Area::Voices {
                by_listed_name(store, &entries, param, name).await
            } else {
                Err(Error::not_found(area.noun(), name))
            }
        }
        other => other.cloned(),
    }
}

/// The voice a list shows as `name`: its sidecar's name, else its file stem, compared
/// without regard to case (clients show users the listed names, and users type them back).
/// Only reached when no file name or stem matched, so the sidecars are read only then.
async fn by_listed_name(
    store: &dyn ObjectStore,
    entries: &[Entry],
    param: &str,
    name: &str,
) -> Result<Entry> {
    let wanted = name.to_lowercase();
    let candidates: Vec<&Entry> = entries.iter().collect();
    let sidecars: Vec<Option<super::voices::VoiceSidecar>> =
        area::read_sidecars(store, &candidates).await;
    let matches: Vec<&Entry> = candidates
        .into_iter()
        .zip(sidecars)
        .filter(|(entry, sidecar)| {
            let stem = naming::stem(entry.file_name());
            let listed = sidecar
                .as_ref()
                .and_then(|s| s.name.as_deref())
                .unwrap_or(stem);
            listed.to_lowercase() == wanted
                || stem.to_lowercase() == wanted
                || entry.file_name().to_lowercase() == wanted
        })
        .map(|(entry, _)| entry)
        .collect();
    area::only_match(matches, Area::Voices, param, name, "names several voices").cloned()
}

/// The bytes of a listed file of `area`; a file deleted since the listing is a 404.
pub async fn read_entry(store: &dyn ObjectStore, area: Area, entry: &Entry) -> Result<Bytes> {
    store.get(&entry.key).await.map_err(|e| {
        if e.is_not_found() {
            Error::not_found(area.noun(), entry.relative.clone())
        } else {
            e.into()
        }
    })
}

/// Decodes audio bytes (any accepted format) to mono samples at `rate`, reserving the
/// decoded samples on `lease` (the result stays reserved; the decoded original is released
/// once converted).
pub async fn decode_mono(
    bytes: Bytes,
    file_name: String,
    limits: audio::DecodeLimits,
    rate: u32,
    lease: &Arc<Lease>,
) -> Result<Vec<f32>> {
    let extension = naming::extension(&file_name);
    let lease = Arc::clone(lease);
    blocking(move || {
        let (_, pcm) = audio::decode_within(bytes, extension.as_deref(), &limits, &lease)
            .map_err(|e| super::upload::audio_error(e, &file_name))?;
        let decoded_bytes = pcm.samples.capacity() as u64 * 4;
        let pcm = pcm.into_mono();
        let pcm = if pcm.sample_rate == rate {
            pcm
        } else {
            audio::resample::resample(&pcm, rate)?
        };
        lease.reserve(pcm.samples.capacity() as u64 * 4)?;
        lease.release(decoded_bytes);
        Ok::<_, Error>(pcm.samples)
    })
    .await?
}

/// The Chatterbox conditioning of a stored voice: from memory, from `<voice>.cond`, or
/// computed by the speech encoder (and then stored beside the voice, best effort).
/// The cache is keyed by a hash of the voice's bytes and the model, so a replaced voice
/// file or a different bundle never reuses a stale conditioning.
async fn conditioning(
    state: &crate::state::AppState,
    (engine, model_tag): (&Arc<Chatterbox>, &str),
    entry: &Entry,
    slot: &Slot,
    param: &str,
) -> Result<(Arc<VoiceConditioning>, ConditioningSource)> {
    let store = state.store().as_ref();
    let voice_use = state.voice_use();
    let limits = state.config().limits.decode_limits();
    let bytes = read_entry(store, Area::Voices, entry).await?;
    let id = format!("{}:{model_tag}", hex(&Sha256::digest(&bytes)));
    if let Some(found) = voice_use.remembered(&id) {
        return Ok((found, ConditioningSource::Memory));
    }
    let cond_key = conditioning_key(&entry.key)?;
    if let Some(stored) = read_stored(store, &cond_key, &id).await {
        let stored = Arc::new(stored);
        voice_use.remember(id, Arc::clone(&stored));
        return Ok((stored, ConditioningSource::Store));
    }
    let lease = Arc::new(state.memory().lease());
    let samples = decode_mono(
        bytes,
        entry.file_name().to_owned(),
        limits,
        models::chatterbox::SAMPLE_RATE,
        &lease,
    )
    .await?;
    let encoder = Arc::clone(engine);
    let param = param.to_owned();
    // The encoder runs inside the request's slot, which it keeps until it finishes.
    let computed = Arc::new(
        work::run(
            Arc::clone(slot),
            || {},
            move |_| {
                encoder.encode_voice(&samples).map_err(|e| match e {
                    // The voice is what is wrong (too short, silent): name the field that chose it.
                    models::ModelError::InvalidInput(message) => {
                        Error::invalid(param, format!("the voice cannot be used: {message}"))
                    }
                    other => other.into(),
                })
            },
        )
        .await?,
    );
    let mut body = Vec::with_capacity(COND_MAGIC.len() + id.len() + 1);
    body.extend_from_slice(COND_MAGIC);
    body.extend_from_slice(id.as_bytes());
    body.push(b'\n');
    body.extend_from_slice(&computed.to_bytes());
    if let Err(e) = store.put(&cond_key, body.into()).await {
        tracing::warn!(key = %cond_key, error = %e, "could not store a voice conditioning");
    }
    voice_use.remember(id, Arc::clone(&computed));
    Ok((computed, ConditioningSource::Computed))
}

/// Everything a request needs to speak in a stored voice.
pub struct Cloning {
    /// The loaded engine.
    pub engine: Arc<Chatterbox>,
    /// The voice's conditioning.
    pub conditioning: Arc<VoiceConditioning>,
    /// Where the conditioning came from.
    pub source: ConditioningSource,
    /// The generation slot, held until the audio is made.
    pub slot: Slot,
}

/// Loads Chatterbox (a missing bundle is a quick 503), waits for a generation slot, then
/// gets the voice's conditioning inside it, so the gate bounds the speech encoder too.
/// `param` names the request field that chose the voice, for errors about the voice.
pub async fn prepare_cloning(
    state: &crate::state::AppState,
    entry: &Entry,
    param: &str,
) -> Result<Cloning> {
    let engines = state.engines();
    let (engine, model_tag) = engines.chatterbox_with_tag().await?;
    let slot = engines
        .admit(super::engines::EngineKind::Chatterbox)
        .await?;
    let (conditioning, source) =
        conditioning(state, (&engine, &model_tag), entry, &slot, param).await?;
    Ok(Cloning {
        engine,
        conditioning,
        source,
        slot,
    })
}

/// The key of a voice's stored conditioning: `<voice key>.cond`.
pub fn conditioning_key(voice: &Key) -> Result<Key> {
    voice.with_suffix(".cond").map_err(Error::from)
}

async fn read_stored(store: &dyn ObjectStore, key: &Key, id: &str) -> Option<VoiceConditioning> {
    let body = store.get(key).await.ok()?;
    let rest = body.strip_prefix(COND_MAGIC)?;
    let newline = rest.iter().position(|b| *b == b'\n')?;
    if &rest[..newline] != id.as_bytes() {
        return None;
    }
    match VoiceConditioning::from_bytes(&rest[newline + 1..]) {
        Ok(conditioning) => Some(conditioning),
        Err(e) => {
            tracing::warn!(key = %key, error = %e, "ignoring an unreadable voice conditioning");
            None
        }
    }
}

/// Counts one use of a voice in its sidecar (`usage_count`, `last_used`), creating the
/// sidecar if needed. Exact across replicas: the sidecar is updated by compare-and-swap
/// (see `sidecar_update`); the per-voice lock only spares this process's own requests
/// from colliding with each other. Failures are logged, not returned: the audio was
/// already made.
pub async fn record_use(
    store: &dyn ObjectStore,
    voice_use: &VoiceUse,
    entry: &Entry,
    engine: &str,
) {
    let lock = voice_use.lock_for(&entry.key);
    let _held = lock.lock().await;
    let now = chrono::Utc::now();
    let today = now.format("%Y-%m-%d").to_string();
    let counted =
        super::sidecar_update::update_sidecar(store, &entry.key, |sidecar: &mut VoiceSidecar| {
            sidecar.usage_count += 1;
            sidecar.last_used = Some(super::iso(now));
            *sidecar
                .usage_by_engine
                .entry(engine.to_owned())
                .or_default() += 1;
            *sidecar.usage_by_day.entry(today.clone()).or_default() += 1;
            // Keep the newest days only, so the sidecar stays small (the store's daily
            // statistics keep the full history).
            while sidecar.usage_by_day.len() > super::voices::USAGE_DAYS_KEPT {
                sidecar.usage_by_day.pop_first();
            }
            sidecar.file_size_bytes.get_or_insert(entry.size);
            sidecar
                .created_date
                .get_or_insert_with(|| super::iso(entry.modified));
            sidecar.url.get_or_insert_with(|| entry.relative.clone());
            sidecar.folder_path = entry.folder.clone();
            if sidecar.format.is_none() {
                sidecar.format = naming::extension(entry.file_name());
            }
        })
        .await;
    if let Err(e) = counted {
        tracing::warn!(voice = %entry.relative, error = %e, "could not update voice usage");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
