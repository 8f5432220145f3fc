//! The state behind [`crate::CachingStore`]: cached listings, the change markers of each
//! top-level area (reading them to validate listings, writing them to announce this
//! process's writes) and cached small bodies.
//!
//! An area is a key's first segment (`outputs` for `outputs/book/a.wav`); its marker is
//! the object `changes/<area>`, whose body is a random token replaced after every write
//! through any cache. A listing records the token it was taken under, read before the
//! listing started; it is served only while the marker still holds that token (checked at
//! most once per `check_every`) and it is younger than `max_age`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::cache::{CHANGE_MARKERS, CacheSettings};
use crate::{DynStore, Error, Key, KeyPrefix, Listing, ObjectMeta, Precondition, Result, Version};

/// Bodies up to this size are cached (sidecars are a few hundred bytes).
const BODY_MAX_BYTES: usize = 64 * 1024;
/// Memory the body cache may use before it starts over.
const BODY_CACHE_BYTES: usize = 32 * 1024 * 1024;

/// A marker's body (`None`: there is no marker, nothing was ever announced there).
type Token = Option<Bytes>;

/// Everything a [`crate::CachingStore`] and its clones share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) inner: DynStore,
    pub(crate) settings: CacheSettings,
    state: Mutex<State>,
    bodies: Mutex<Bodies>,
}

#[derive(Debug, Default)]
struct State {
    areas: HashMap<String, Area>,
    slots: HashMap<KeyPrefix, Slot>,
}

/// What this process knows of one area's marker.
#[derive(Debug, Default)]
struct Area {
    /// The marker's token, as last read or written here.
    token: Token,
    /// The version of that marker when known (read with it, not yet replaced by a write
    /// of ours), so that the next announcement can be a compare-and-swap without a read.
    version: Option<Version>,
    /// When `token` was last confirmed against the store (the start of that read).
    checked: Option<Instant>,
    /// Serialises this process's reads and writes of the marker.
    gate: Arc<tokio::sync::Mutex<()>>,
    /// Writes of this process in the area that have completed, counted...
    completed: u64,
    /// ...and how many of them a marker written after them announces.
    announced: u64,
}

/// One cached full listing.
#[derive(Debug, Default)]
struct Slot {
    listing: Option<Arc<Listing>>,
    /// When the listing was started.
    fetched: Option<Instant>,
    /// The area's token known before the listing started: valid while the marker holds it.
    under: Token,
    /// Bumped by every write under the prefix; a refresh that overlapped a write is not kept.
    generation: u64,
    refreshing: bool,
    /// Serialises synchronous refreshes of this prefix.
    refresh: Arc<tokio::sync::Mutex<()>>,
}

/// A cached listing's state, as [`Shared::lookup`] finds it.
pub(crate) enum Cached {
    /// Servable.
    Fresh(Arc<Listing>),
    /// Servable, and older than `refresh_after`: the caller starts a background refresh.
    Aging(Arc<Listing>),
    /// Missing, stale or too old: list again, holding this lock.
    Missing(Arc<tokio::sync::Mutex<()>>),
}

/// Cached small bodies, each with the metadata it was read at.
#[derive(Debug, Default)]
struct Bodies {
    entries: HashMap<Key, CachedBody>,
    bytes: usize,
}

#[derive(Debug)]
struct CachedBody {
    size: u64,
    last_modified: DateTime<Utc>,
    stored: Instant,
    body: Bytes,
}

/// The area of a key or prefix: its first segment; `None` for the root and for the
/// markers themselves.
pub(crate) fn area_of(path: &str) -> Option<&str> {
    if path.is_empty() || path.starts_with(CHANGE_MARKERS) {
        return None;
    }
    path.split('/').next()
}

/// The distinct areas of `keys`, markers left out.
pub(crate) fn areas_of(keys: &[&Key]) -> Vec<String> {
    let mut areas: Vec<String> = keys
        .iter()
        .filter_map(|key| area_of(key.as_str()))
        .map(str::to_owned)
        .collect();
    areas.sort_unstable();
    areas.dedup();
    areas
}

fn marker_key(area: &str) -> Result<Key> {
    Key::new(format!("{CHANGE_MARKERS}{area}"))
}

/// A fresh marker token: 32 random hex digits, always the same length.
fn new_token() -> Bytes {
    Bytes::from(uuid::Uuid::new_v4().simple().to_string())
}

impl Shared {
    pub(crate) fn new(inner: DynStore, settings: CacheSettings) -> Self {
        Self {
            inner,
            settings,
            state: Mutex::new(State::default()),
            bodies: Mutex::new(Bodies::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Updates are short sequences of assignments with no early exit; a panic cannot
        // leave a slot or an area half-done in a way that serves wrong data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn bodies(&self) -> MutexGuard<'_, Bodies> {
        self.bodies.lock().unwrap_or_else(PoisonError::into_inner)
    }

    // ---- Validation: reading markers ----

    /// The gate of `area` if its marker was not confirmed within `check_every`.
    fn due(&self, area: &str) -> Option<Arc<tokio::sync::Mutex<()>>> {
        let mut state = self.state();
        let entry = state.areas.entry(area.to_owned()).or_default();
        match entry.checked {
            Some(at) if at.elapsed() < self.settings.check_every => None,
            _ => Some(entry.gate.clone()),
        }
    }

    /// Makes sure `area`'s marker was read within `check_every`, reading it (once for all
    /// concurrent callers) when not.
    pub(crate) async fn check(&self, area: &str) -> Result<()> {
        let Some(gate) = self.due(area) else {
            return Ok(());
        };
        let _turn = gate.lock().await;
        if self.due(area).is_none() {
            return Ok(());
        }
        let started = Instant::now();
        let (token, version) = self.read_marker(area).await?;
        self.learn(area, token, version, started);
        Ok(())
    }

    async fn read_marker(&self, area: &str) -> Result<(Token, Option<Version>)> {
        match self.inner.get_versioned(&marker_key(area)?).await {
            Ok((body, version)) => Ok((Some(body), Some(version))),
            Err(e) if e.is_not_found() => Ok((None, None)),
            Err(e) => Err(e),
        }
    }

    /// Records the marker read at `at`. A token other than the one known means another
    /// writer changed the area: listings taken under the old token no longer match it,
    /// and the area's cached bodies go (a sidecar rewritten elsewhere can keep its size
    /// and, at one-second resolution, its time).
    fn learn(&self, area: &str, token: Token, version: Option<Version>, at: Instant) {
        let changed = {
            let mut state = self.state();
            let entry = state.areas.entry(area.to_owned()).or_default();
            let changed = entry.token != token;
            entry.token = token;
            entry.version = version;
            entry.checked = Some(at);
            changed
        };
        if changed {
            self.drop_bodies_of(area);
        }
    }

    // ---- Announcing this process's writes ----

    /// Announces writes of this process in `areas` (after they completed): a new marker
    /// for each.
    pub(crate) async fn announce(&self, areas: &[String]) {
        for area in areas {
            self.announce_area(area).await;
        }
    }

    /// Writes a new marker for `area`, unless one written after this call's write already
    /// did (concurrent writes share one marker write). A marker that still held the token
    /// this process knew is replaced by a compare-and-swap, which proves nobody else wrote
    /// since: the listings taken under the old token, patched with this process's writes,
    /// stay valid under the new one. Otherwise the marker is overwritten all the same (a
    /// change of token is all other replicas need) and the listings here are listed again.
    async fn announce_area(&self, area: &str) {
        let (ticket, gate) = {
            let mut state = self.state();
            let entry = state.areas.entry(area.to_owned()).or_default();
            entry.completed += 1;
            (entry.completed, entry.gate.clone())
        };
        let _turn = gate.lock().await;
        let covered = {
            let state = self.state();
            match state.areas.get(area) {
                Some(entry) if entry.announced < ticket => entry.completed,
                _ => return,
            }
        };
        if let Err(e) = self.write_marker(area).await {
            tracing::warn!(area, error = %e, "could not announce a change to other replicas; they see it within the listing cache's maximum age");
        }
        let mut state = self.state();
        let entry = state.areas.entry(area.to_owned()).or_default();
        entry.announced = entry.announced.max(covered);
    }

    async fn write_marker(&self, area: &str) -> Result<()> {
        let marker = marker_key(area)?;
        let known = {
            let state = self.state();
            state
                .areas
                .get(area)
                .filter(|entry| entry.checked.is_some())
                .map(|entry| (entry.token.clone(), entry.version.clone()))
        };
        let (previous, version) = match known {
            Some((token @ None, _)) => (token, None),
            Some((token, Some(version))) => (token, Some(version)),
            // The version is unknown (never read here, or replaced by our last write).
            _ => {
                let started = Instant::now();
                let (token, version) = self.read_marker(area).await?;
                self.learn(area, token.clone(), version.clone(), started);
                (token, version)
            }
        };
        let condition = match version {
            Some(version) => Precondition::Matches(version),
            None => Precondition::Absent,
        };
        let token = new_token();
        let started = Instant::now();
        match self.inner.put_if(&marker, token.clone(), condition).await {
            Ok(_) => {
                self.adopt(area, &previous, token, started);
                return Ok(());
            }
            Err(e) if e.is_precondition_failed() => {}
            Err(e @ Error::Unavailable { .. }) => {
                self.forget_version(area);
                return Err(e);
            }
            // A server without conditional writes: announce all the same.
            Err(e) => tracing::debug!(area, error = %e, "conditional marker write failed"),
        }
        let started = Instant::now();
        let written = self.inner.put(&marker, token.clone()).await;
        match written {
            Ok(_) => self.learn(area, Some(token), None, started),
            Err(_) => self.forget_version(area),
        }
        written.map(|_| ())
    }

    /// After our compare-and-swap replaced `previous` by `token`: the listings that were
    /// valid under `previous` are valid under `token`.
    fn adopt(&self, area: &str, previous: &Token, token: Bytes, at: Instant) {
        let token = Some(token);
        let mut state = self.state();
        for (prefix, slot) in state.slots.iter_mut() {
            if area_of(prefix.as_str()) == Some(area) && slot.under == *previous {
                slot.under = token.clone();
            }
        }
        let entry = state.areas.entry(area.to_owned()).or_default();
        entry.token = token;
        // What the store calls the new version is unknown until the marker is read again.
        entry.version = None;
        entry.checked = Some(at);
    }

    fn forget_version(&self, area: &str) {
        if let Some(entry) = self.state().areas.get_mut(area) {
            entry.version = None;
        }
    }

    // ---- Listings ----

    /// The cached listing of `prefix` in `area`, if it may be served.
    pub(crate) fn lookup(&self, prefix: &KeyPrefix, area: &str) -> Cached {
        let mut state = self.state();
        let token = state.areas.get(area).map(|entry| entry.token.clone());
        let slot = state.slots.entry(prefix.clone()).or_default();
        let age = slot.fetched.map(|at| at.elapsed());
        match (&slot.listing, age) {
            (Some(listing), Some(age))
                if token.as_ref() == Some(&slot.under) && age < self.settings.max_age =>
            {
                if age >= self.settings.refresh_after && !slot.refreshing {
                    slot.refreshing = true;
                    Cached::Aging(listing.clone())
                } else {
                    Cached::Fresh(listing.clone())
                }
            }
            _ => Cached::Missing(slot.refresh.clone()),
        }
    }

    /// Lists `prefix` from the store and keeps the result, unless a write of this process
    /// overlapped it (the write is newer).
    pub(crate) async fn refresh(&self, prefix: &KeyPrefix, area: &str) -> Result<Arc<Listing>> {
        // The token is taken before listing: a write announced after this moment changes
        // the marker, so the listing cannot hide it for longer than `check_every`.
        let (generation, under) = {
            let mut state = self.state();
            let under = state.areas.get(area).and_then(|entry| entry.token.clone());
            (
                state.slots.entry(prefix.clone()).or_default().generation,
                under,
            )
        };
        let started = Instant::now();
        let result = self.inner.list_all(prefix, false).await;
        let mut state = self.state();
        let slot = state.slots.entry(prefix.clone()).or_default();
        slot.refreshing = false;
        let listing = Arc::new(result?);
        if slot.generation == generation {
            slot.listing = Some(listing.clone());
            slot.fetched = Some(started);
            slot.under = under;
        }
        Ok(listing)
    }

    /// Applies a write of this process to every cached listing that covers `key`.
    pub(crate) fn patch(&self, key: &Key, change: Option<ObjectMeta>) {
        let mut state = self.state();
        for (prefix, slot) in state.slots.iter_mut() {
            if !key.starts_with(prefix) {
                continue;
            }
            slot.generation += 1;
            let Some(listing) = slot.listing.as_mut() else {
                continue;
            };
            let objects = &mut Arc::make_mut(listing).objects;
            let position = objects.binary_search_by(|o| o.key.as_str().cmp(key.as_str()));
            match (position, &change) {
                (Ok(i), Some(meta)) => objects[i] = meta.clone(),
                (Err(i), Some(meta)) => objects.insert(i, meta.clone()),
                (Ok(i), None) => {
                    objects.remove(i);
                }
                (Err(_), None) => {}
            }
        }
    }

    /// Forgets every listing that covers `key` (when the new state is not known).
    pub(crate) fn forget(&self, key: &Key) {
        for (prefix, slot) in self.state().slots.iter_mut() {
            if key.starts_with(prefix) {
                slot.generation += 1;
                slot.listing = None;
                slot.fetched = None;
            }
        }
    }

    /// Whether any cached listing covers `key` (else a read need not check the marker).
    pub(crate) fn covered(&self, key: &Key) -> bool {
        self.state()
            .slots
            .iter()
            .any(|(prefix, slot)| slot.listing.is_some() && key.starts_with(prefix))
    }

    /// The metadata a servable listing holds for `key`.
    fn vouched_meta(&self, key: &Key, area: &str) -> Option<ObjectMeta> {
        let state = self.state();
        let token = &state.areas.get(area)?.token;
        state
            .slots
            .iter()
            .filter(|(prefix, slot)| {
                key.starts_with(prefix)
                    && slot.under == *token
                    && slot
                        .fetched
                        .is_some_and(|at| at.elapsed() < self.settings.max_age)
            })
            .find_map(|(_, slot)| {
                let objects = &slot.listing.as_ref()?.objects;
                let i = objects
                    .binary_search_by(|o| o.key.as_str().cmp(key.as_str()))
                    .ok()?;
                Some(objects[i].clone())
            })
    }

    // ---- Small bodies ----

    /// The cached body of `key` if a servable listing vouches for its size and time, with
    /// the metadata to keep a body read now under (`None` when no listing vouches).
    pub(crate) fn cached_body(&self, key: &Key, area: &str) -> (Option<Bytes>, Option<ObjectMeta>) {
        let Some(meta) = self.vouched_meta(key, area) else {
            return (None, None);
        };
        let bodies = self.bodies();
        let body = bodies
            .entries
            .get(key)
            .filter(|cached| {
                cached.size == meta.size
                    && cached.last_modified == meta.last_modified
                    && cached.stored.elapsed() < self.settings.max_age
            })
            .map(|cached| cached.body.clone());
        (body, Some(meta))
    }

    /// Keeps a small body read or written at `meta`.
    pub(crate) fn keep_body(&self, meta: &ObjectMeta, body: &Bytes) {
        if body.len() > BODY_MAX_BYTES || body.len() as u64 != meta.size {
            return;
        }
        let mut bodies = self.bodies();
        if bodies.bytes + body.len() > BODY_CACHE_BYTES {
            *bodies = Bodies::default();
        }
        bodies.bytes += body.len();
        let cached = CachedBody {
            size: meta.size,
            last_modified: meta.last_modified,
            stored: Instant::now(),
            body: body.clone(),
        };
        if let Some(old) = bodies.entries.insert(meta.key.clone(), cached) {
            bodies.bytes -= old.body.len();
        }
    }

    pub(crate) fn drop_body(&self, key: &Key) {
        let mut bodies = self.bodies();
        if let Some(old) = bodies.entries.remove(key) {
            bodies.bytes -= old.body.len();
        }
    }

    fn drop_bodies_of(&self, area: &str) {
        let mut bodies = self.bodies();
        let mut freed = 0;
        bodies.entries.retain(|key, cached| {
            let keep = area_of(key.as_str()) != Some(area);
            if !keep {
                freed += cached.body.len();
            }
            keep
        });
        bodies.bytes -= freed;
    }
}
