//! Backup and restore of the library as a tar archive, streamed both ways and never held
//! in memory. A backup lists the chosen areas and streams each object into the archive
//! (sorted keys, deterministic headers: the same library always gives the same bytes). A
//! restore reads an archive chunk by chunk into a staging prefix, checks every entry, and
//! only when the whole archive was read and found sound moves the entries into place with
//! the chosen conflict policy; a refused archive leaves nothing behind (see [`restore`]).

mod restore;

pub use restore::{Conflict, RestoreOptions, RestoreReport, STAGING, restore};

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use storage::{Key, KeyPrefix, ObjectStore};

use crate::error::{Error, Result};
use crate::state::AppState;

/// The areas a backup may contain, as they are named in `areas=` and in the archive.
pub const AREAS: [&str; 5] = ["voices", "vc_inputs", "outputs", "lexicons", "stats"];
/// The areas backed up when `areas` is not given.
pub const DEFAULT_AREAS: [&str; 4] = ["voices", "vc_inputs", "outputs", "lexicons"];

/// What to back up.
#[derive(Debug, Clone)]
pub struct BackupOptions {
    /// Areas, from [`AREAS`].
    pub areas: Vec<String>,
    /// Only this folder (and below) of each area.
    pub folder: Option<String>,
    /// Include the metadata sidecars (`*.json`).
    pub sidecars: bool,
    /// Include the voices' Chatterbox conditioning caches (`*.cond`).
    pub conditioning: bool,
}

/// Parses `areas=` (comma-separated; default [`DEFAULT_AREAS`]).
pub fn parse_areas(raw: Option<&str>) -> Result<Vec<String>> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(DEFAULT_AREAS.iter().map(|a| (*a).to_owned()).collect());
    };
    let mut areas = Vec::new();
    for area in raw.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        if !AREAS.contains(&area) {
            return Err(Error::invalid(
                "areas",
                format!("unknown area {area:?}; choose from {}", AREAS.join(", ")),
            ));
        }
        if !areas.iter().any(|a| a == area) {
            areas.push(area.to_owned());
        }
    }
    Ok(areas)
}

/// Whether a key belongs in a backup with `options` (sidecars and caches as asked).
fn wanted(key: &str, options: &BackupOptions) -> bool {
    if key.ends_with(".cond") {
        return options.conditioning;
    }
    if key.ends_with(".json") && !key.starts_with("stats/") && !key.starts_with("lexicons/") {
        return options.sidecars;
    }
    true
}

/// The keys a backup with `options` contains, in ascending order.
pub async fn select(store: &dyn ObjectStore, options: &BackupOptions) -> Result<Vec<Key>> {
    let folder = crate::naming::folder_param("folder", options.folder.as_deref())?;
    let mut keys = Vec::new();
    for area in &options.areas {
        let prefix = match (&folder, area.as_str()) {
            // Usage statistics and lexicons have no folders: a folder filter leaves them out.
            (Some(_), "stats" | "lexicons") => continue,
            (Some(folder), _) => KeyPrefix::new(format!("{area}/{folder}/")),
            (None, _) => KeyPrefix::new(format!("{area}/")),
        }
        .map_err(Error::from)?;
        let listing = store.list_all(&prefix, false).await?;
        keys.extend(
            listing
                .objects
                .into_iter()
                .map(|o| o.key)
                .filter(|key| wanted(key.as_str(), options)),
        );
    }
    keys.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    Ok(keys)
}

/// Streams the archive of `keys`: each object is opened when the archive reaches it and
/// copied through chunk by chunk. An object deleted since the listing is left out; any
/// other store failure ends the stream with an error (the client sees a cut archive, never
/// a short but valid-looking one: the end blocks are written only after every entry).
pub fn archive(state: &AppState, keys: Vec<Key>) -> BoxStream<'static, Result<Bytes>> {
    let store = std::sync::Arc::clone(state.store());
    let entries = futures::stream::iter(keys)
        .then(move |key| {
            let store = std::sync::Arc::clone(&store);
            async move {
                match store.get_stream(&key, None).await {
                    Ok(object) => {
                        let body = object.body.map(|chunk| chunk.map_err(Error::from)).boxed();
                        Some(Ok((key.as_str().to_owned(), object.meta.size, body)))
                    }
                    Err(e) if e.is_not_found() => None,
                    Err(e) => Some(Err(Error::from(e))),
                }
            }
        })
        .filter_map(futures::future::ready);
    archive::write_stream(entries).boxed()
}
