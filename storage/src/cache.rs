//! A listing cache in front of any store: full listings (`list_all` without a
//! delimiter) are kept for a short time and patched by this process's own writes.
//!
//! Listing a prefix of a remote store costs one request per 1000 keys, so showing
//! "newest first" out of 10,000 outputs means 20 round trips for every page. The
//! cache answers from memory instead:
//!
//! - **Read-your-writes**: every put, delete, copy and rename through this store
//!   patches the cached listings that contain the key, so a client that uploads and
//!   then lists sees its file at once.
//! - **Bounded staleness** for writes made elsewhere (other replicas, other tools): a
//!   listing older than `fresh_for` is refreshed in the background while the old one
//!   is served; one older than `stale_for` is refreshed before answering.
//! - **Single flight**: concurrent misses on one prefix share one refresh.
//! - **Small bodies** (sidecars) are kept too, and served only while the cached listing
//!   still shows the size and modification time they were read at, and for no longer
//!   than `stale_for`; a page of 50 items then needs no request at all.
//!
//! Everything else passes straight through; the store stays the only source of truth.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;

use crate::{
    DynStore, GetStream, Key, KeyPrefix, ListOptions, ListPage, Listing, ObjectMeta, ObjectStore,
    ReclaimReport, Result,
};

/// A store whose full listings are cached (see the module documentation).
#[derive(Debug, Clone)]
pub struct CachingStore {
    shared: Arc<Shared>,
}

/// Bodies up to this size are cached (sidecars are a few hundred bytes).
const BODY_MAX_BYTES: usize = 64 * 1024;
/// Memory the body cache may use before it starts over.
const BODY_CACHE_BYTES: usize = 32 * 1024 * 1024;

#[derive(Debug)]
struct Shared {
    inner: DynStore,
    fresh_for: Duration,
    stale_for: Duration,
    slots: Mutex<HashMap<KeyPrefix, Slot>>,
    bodies: Mutex<Bodies>,
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
    last_modified: chrono::DateTime<chrono::Utc>,
    stored: Instant,
    body: Bytes,
}

#[derive(Debug, Default)]
struct Slot {
    listing: Option<Arc<Listing>>,
    fetched: Option<Instant>,
    /// Bumped by every write under the prefix; a refresh that overlapped a write is not kept.
    generation: u64,
    refreshing: bool,
    /// Serialises synchronous refreshes of this prefix.
    refresh: Arc<tokio::sync::Mutex<()>>,
}

impl CachingStore {
    /// Caches `inner`'s listings: fresh for `fresh_for`, served while refreshing in the
    /// background until `stale_for`, refreshed before answering after that.
    pub fn new(inner: DynStore, fresh_for: Duration, stale_for: Duration) -> Self {
        Self {
            shared: Arc::new(Shared {
                inner,
                fresh_for,
                stale_for: stale_for.max(fresh_for),
                slots: Mutex::new(HashMap::new()),
                bodies: Mutex::new(Bodies::default()),
            }),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &DynStore {
        &self.shared.inner
    }
}

impl Shared {
    fn bodies(&self) -> std::sync::MutexGuard<'_, Bodies> {
        self.bodies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The metadata a cached listing holds for `key`, if any listing covers it.
    fn listed_meta(&self, key: &Key) -> Option<ObjectMeta> {
        let slots = self.slots();
        slots
            .iter()
            .filter(|(prefix, _)| key.starts_with(prefix))
            .find_map(|(_, slot)| {
                let objects = &slot.listing.as_ref()?.objects;
                let i = objects
                    .binary_search_by(|o| o.key.as_str().cmp(key.as_str()))
                    .ok()?;
                Some(objects[i].clone())
            })
    }

    /// Keeps a small body read or written at `meta`.
    fn keep_body(&self, meta: &ObjectMeta, body: &Bytes) {
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

    fn drop_body(&self, key: &Key) {
        let mut bodies = self.bodies();
        if let Some(old) = bodies.entries.remove(key) {
            bodies.bytes -= old.body.len();
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<KeyPrefix, Slot>> {
        // Slot updates are single assignments; a panic cannot leave one half-done.
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Lists `prefix` from the store and keeps the result unless a write overlapped it.
    async fn refresh(&self, prefix: &KeyPrefix) -> Result<Arc<Listing>> {
        let generation = self.slots().entry(prefix.clone()).or_default().generation;
        let result = self.inner.list_all(prefix, false).await;
        let mut slots = self.slots();
        let slot = slots.entry(prefix.clone()).or_default();
        slot.refreshing = false;
        let listing = Arc::new(result?);
        if slot.generation == generation {
            slot.listing = Some(listing.clone());
            slot.fetched = Some(Instant::now());
        }
        Ok(listing)
    }

    /// Applies a write to every cached listing that covers `key`.
    fn patch(&self, key: &Key, change: Option<ObjectMeta>) {
        let mut slots = self.slots();
        for (prefix, slot) in slots.iter_mut() {
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
    fn forget(&self, key: &Key) {
        for (prefix, slot) in self.slots().iter_mut() {
            if key.starts_with(prefix) {
                slot.generation += 1;
                slot.listing = None;
                slot.fetched = None;
            }
        }
    }
}

enum Cached {
    Fresh(Arc<Listing>),
    Stale(Arc<Listing>),
    Missing(Arc<tokio::sync::Mutex<()>>),
}

impl CachingStore {
    fn lookup(&self, prefix: &KeyPrefix) -> Cached {
        let mut slots = self.shared.slots();
        let slot = slots.entry(prefix.clone()).or_default();
        match (&slot.listing, slot.fetched.map(|t| t.elapsed())) {
            (Some(listing), Some(age)) if age < self.shared.fresh_for => {
                Cached::Fresh(listing.clone())
            }
            (Some(listing), Some(age)) if age < self.shared.stale_for => {
                let listing = listing.clone();
                if !slot.refreshing {
                    slot.refreshing = true;
                    let shared = self.shared.clone();
                    let prefix = prefix.clone();
                    tokio::spawn(async move {
                        if let Err(e) = shared.refresh(&prefix).await {
                            tracing::warn!(prefix = %prefix, error = %e, "background listing refresh failed");
                        }
                    });
                }
                Cached::Stale(listing)
            }
            _ => Cached::Missing(slot.refresh.clone()),
        }
    }
}

#[async_trait]
impl ObjectStore for CachingStore {
    fn describe(&self) -> String {
        self.shared.inner.describe()
    }

    fn kind(&self) -> &'static str {
        self.shared.inner.kind()
    }

    async fn put(&self, key: &Key, body: Bytes) -> Result<ObjectMeta> {
        self.shared.drop_body(key);
        let meta = self.shared.inner.put(key, body.clone()).await?;
        self.shared.patch(key, Some(meta.clone()));
        self.shared.keep_body(&meta, &body);
        Ok(meta)
    }

    async fn get_stream(&self, key: &Key, range: Option<Range<u64>>) -> Result<GetStream> {
        self.shared.inner.get_stream(key, range).await
    }

    async fn get(&self, key: &Key) -> Result<Bytes> {
        let Some(meta) = self.shared.listed_meta(key) else {
            return self.shared.inner.get(key).await;
        };
        if let Some(cached) = self.shared.bodies().entries.get(key)
            && cached.size == meta.size
            && cached.last_modified == meta.last_modified
            && cached.stored.elapsed() < self.shared.stale_for
        {
            return Ok(cached.body.clone());
        }
        let body = self.shared.inner.get(key).await?;
        self.shared.keep_body(&meta, &body);
        Ok(body)
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        self.shared.inner.head(key).await
    }

    async fn delete(&self, key: &Key) -> Result<()> {
        self.shared.drop_body(key);
        let result = self.shared.inner.delete(key).await;
        if result.is_ok() {
            self.shared.patch(key, None)
        } else {
            self.shared.forget(key)
        }
        result
    }

    async fn delete_many(&self, keys: &[Key]) -> Result<()> {
        for key in keys {
            self.shared.drop_body(key);
        }
        let result = self.shared.inner.delete_many(keys).await;
        for key in keys {
            // On a partial failure the survivors are unknown; refetch rather than guess.
            if result.is_ok() {
                self.shared.patch(key, None)
            } else {
                self.shared.forget(key)
            }
        }
        result
    }

    async fn list(&self, prefix: &KeyPrefix, options: ListOptions) -> Result<ListPage> {
        self.shared.inner.list(prefix, options).await
    }

    async fn list_all(&self, prefix: &KeyPrefix, delimiter: bool) -> Result<Listing> {
        if delimiter {
            return self.shared.inner.list_all(prefix, true).await;
        }
        let lock = match self.lookup(prefix) {
            Cached::Fresh(listing) | Cached::Stale(listing) => return Ok(Listing::clone(&listing)),
            Cached::Missing(lock) => lock,
        };
        let _guard = lock.lock().await;
        // Another request may have refreshed it while this one waited.
        if let Cached::Fresh(listing) | Cached::Stale(listing) = self.lookup(prefix) {
            return Ok(Listing::clone(&listing));
        }
        let listing = self.shared.refresh(prefix).await?;
        Ok(Listing::clone(&listing))
    }

    async fn copy(&self, from: &Key, to: &Key) -> Result<()> {
        self.shared.drop_body(to);
        self.shared.inner.copy(from, to).await?;
        match self.shared.inner.head(to).await {
            Ok(meta) => self.shared.patch(to, Some(meta)),
            Err(_) => self.shared.forget(to),
        }
        Ok(())
    }

    async fn rename(&self, from: &Key, to: &Key) -> Result<()> {
        self.shared.drop_body(from);
        self.shared.drop_body(to);
        self.shared.inner.rename(from, to).await?;
        self.shared.patch(from, None);
        match self.shared.inner.head(to).await {
            Ok(meta) => self.shared.patch(to, Some(meta)),
            Err(_) => self.shared.forget(to),
        }
        Ok(())
    }

    async fn reclaim_incomplete_writes(&self, older_than: Duration) -> Result<ReclaimReport> {
        // What it removes was never listed, so no cached listing changes.
        self.shared
            .inner
            .reclaim_incomplete_writes(older_than)
            .await
    }
}
