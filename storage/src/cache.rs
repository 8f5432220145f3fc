//! A listing cache in front of any store, kept in step across replicas: full listings
//! (`list_all` without a delimiter) are served from memory while the store's change
//! markers say nothing changed.
//!
//! Listing a prefix of a remote store costs one request per 1000 keys, so showing
//! "newest first" out of 10,000 outputs means 20 round trips for every page. The cache
//! answers from memory instead, and stays one truth for any number of replicas:
//!
//! - **Read-your-writes**: every put, delete, copy and rename through this store patches
//!   the cached listings that contain the key, so a client that uploads and then lists
//!   sees its file at once.
//! - **Other replicas' writes within `check_every`** (default 1 s): after each write, the
//!   cache replaces the change marker `changes/<area>` of the top-level area written
//!   (`outputs`, `voices`, ...) with a random token. A listing remembers the token it was
//!   taken under; once `check_every` has passed since the area was last checked, one small
//!   read of the marker decides: same token, the listing is served; another, it is listed
//!   again before answering.
//! - **Writes that bypass the markers** (other tools) within `max_age` (default 60 s): a
//!   listing older than `refresh_after` is refreshed in the background while served, and
//!   one older than `max_age` is never served.
//! - **Single flight**: concurrent misses on one prefix share one listing, and concurrent
//!   checks of one area share one marker read.
//! - **Small bodies** (sidecars) are kept too, and served only while a servable listing
//!   shows the size and modification time they were read at; a changed marker drops its
//!   area's bodies, since a sidecar rewritten elsewhere can keep both.
//!
//! Listings of the root and listings with a delimiter are not cached, and the markers are
//! left out of root listings. Everything else passes straight through; the store stays the
//! only source of truth. `docs/decisions/listing-cache.md` explains the design.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::cache_areas::{Cached, Shared, area_of, areas_of};
use crate::{
    DynStore, Error, GetStream, Key, KeyPrefix, ListOptions, ListPage, Listing, ObjectMeta,
    ObjectStore, Precondition, ReclaimReport, Result, Version,
};

/// Where the change markers live: `changes/<area>`, one small object per top-level area.
/// Writes under it are not announced, and root listings through the cache leave it out.
pub const CHANGE_MARKERS: &str = "changes/";

/// How fresh a [`CachingStore`] keeps its listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// Longest a listing is served without reading its area's change marker, so the
    /// longest another replica's write stays unseen (default 1 s). Zero reads the marker
    /// for every listing.
    pub check_every: Duration,
    /// Age after which a listing is listed again in the background while still served,
    /// to pick up writes that bypass the markers early (default 5 s).
    pub refresh_after: Duration,
    /// Age after which a listing is never served: the bound for writes that bypass the
    /// markers (default 60 s).
    pub max_age: Duration,
}

/// [`CacheSettings::check_every`] unless set otherwise.
pub const DEFAULT_CHECK_EVERY: Duration = Duration::from_secs(1);

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            check_every: DEFAULT_CHECK_EVERY,
            refresh_after: Duration::from_secs(5),
            max_age: Duration::from_secs(60),
        }
    }
}

/// A store whose full listings are cached (see the module documentation).
#[derive(Debug, Clone)]
pub struct CachingStore {
    shared: Arc<Shared>,
}

impl CachingStore {
    /// Caches `inner`'s listings with the default `check_every` (1 s): refreshed in the
    /// background after `fresh_for`, never served after `stale_for`.
    pub fn new(inner: DynStore, fresh_for: Duration, stale_for: Duration) -> Self {
        Self::with_settings(
            inner,
            CacheSettings {
                check_every: DEFAULT_CHECK_EVERY,
                refresh_after: fresh_for,
                max_age: stale_for.max(fresh_for),
            },
        )
    }

    /// Caches `inner`'s listings as `settings` say.
    pub fn with_settings(inner: DynStore, settings: CacheSettings) -> Self {
        Self {
            shared: Arc::new(Shared::new(inner, settings)),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &DynStore {
        &self.shared.inner
    }

    /// The settings in force.
    pub fn settings(&self) -> &CacheSettings {
        &self.shared.settings
    }

    /// Serves a cached listing (starting its background refresh when it is aging), or
    /// gives the lock to hold while listing again.
    fn serve(
        &self,
        cached: Cached,
        prefix: &KeyPrefix,
        area: &str,
    ) -> std::result::Result<Listing, Arc<tokio::sync::Mutex<()>>> {
        match cached {
            Cached::Fresh(listing) => Ok(Listing::clone(&listing)),
            Cached::Aging(listing) => {
                let shared = self.shared.clone();
                let (prefix, area) = (prefix.clone(), area.to_owned());
                tokio::spawn(async move {
                    if let Err(e) = shared.refresh(&prefix, &area).await {
                        tracing::warn!(prefix = %prefix, error = %e, "background listing refresh failed");
                    }
                });
                Ok(Listing::clone(&listing))
            }
            Cached::Missing(lock) => Err(lock),
        }
    }

    /// After a write through this store: tells other replicas, unless it certainly did
    /// not happen. After a timeout it may have, but a store that does not answer would
    /// only make the caller wait for a second deadline; others see it within `max_age`.
    /// The announcement runs as a task of its own, so a caller that gives up waiting
    /// (a client gone) does not leave a completed write unannounced.
    async fn announce<T>(&self, result: &Result<T>, keys: &[&Key]) {
        let may_have_changed = match result {
            Ok(_) => true,
            Err(Error::Io { .. } | Error::S3 { .. }) => true,
            Err(_) => false,
        };
        let areas = areas_of(keys);
        if !may_have_changed || areas.is_empty() {
            return;
        }
        let shared = self.shared.clone();
        let task = tokio::spawn(async move { shared.announce(&areas).await });
        if let Err(e) = task.await {
            tracing::error!(error = %e, "announcing a change to other replicas failed");
        }
    }
}

/// Leaves the change markers out of a root listing.
fn hide_markers(prefix: &KeyPrefix, objects: &mut Vec<ObjectMeta>, prefixes: &mut Vec<KeyPrefix>) {
    if prefix.is_root() {
        objects.retain(|o| !o.key.as_str().starts_with(CHANGE_MARKERS));
        prefixes.retain(|p| p.as_str() != CHANGE_MARKERS);
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
        let result = self.shared.inner.put(key, body.clone()).await;
        match &result {
            Ok(meta) => {
                self.shared.patch(key, Some(meta.clone()));
                self.shared.keep_body(meta, &body);
            }
            Err(_) => self.shared.forget(key),
        }
        self.announce(&result, &[key]).await;
        result
    }

    async fn put_if(&self, key: &Key, body: Bytes, condition: Precondition) -> Result<ObjectMeta> {
        self.shared.drop_body(key);
        let result = self.shared.inner.put_if(key, body.clone(), condition).await;
        match &result {
            Ok(meta) => {
                self.shared.patch(key, Some(meta.clone()));
                self.shared.keep_body(meta, &body);
            }
            // Another writer changed the key; the listings learn it from the marker.
            Err(e) if e.is_precondition_failed() => {}
            Err(_) => self.shared.forget(key),
        }
        self.announce(&result, &[key]).await;
        result
    }

    async fn get_versioned(&self, key: &Key) -> Result<(Bytes, Version)> {
        // A compare-and-swap needs the store's current version, never a cached one.
        self.shared.inner.get_versioned(key).await
    }

    async fn get_stream(&self, key: &Key, range: Option<Range<u64>>) -> Result<GetStream> {
        self.shared.inner.get_stream(key, range).await
    }

    async fn get(&self, key: &Key) -> Result<Bytes> {
        let Some(area) = area_of(key.as_str()) else {
            return self.shared.inner.get(key).await;
        };
        if !self.shared.covered(key) {
            return self.shared.inner.get(key).await;
        }
        if let Err(e) = self.shared.check(area).await {
            tracing::debug!(key = %key, error = %e, "change marker unreadable; reading the object");
            return self.shared.inner.get(key).await;
        }
        let (cached, meta) = self.shared.cached_body(key, area);
        if let Some(body) = cached {
            return Ok(body);
        }
        let body = self.shared.inner.get(key).await?;
        if let Some(meta) = meta {
            self.shared.keep_body(&meta, &body);
        }
        Ok(body)
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        self.shared.inner.head(key).await
    }

    async fn delete(&self, key: &Key) -> Result<()> {
        self.shared.drop_body(key);
        let result = self.shared.inner.delete(key).await;
        match &result {
            Ok(()) => self.shared.patch(key, None),
            Err(_) => self.shared.forget(key),
        }
        self.announce(&result, &[key]).await;
        result
    }

    async fn delete_many(&self, keys: &[Key]) -> Result<()> {
        for key in keys {
            self.shared.drop_body(key);
        }
        let result = self.shared.inner.delete_many(keys).await;
        for key in keys {
            // On a partial failure the survivors are unknown; refetch rather than guess.
            match &result {
                Ok(()) => self.shared.patch(key, None),
                Err(_) => self.shared.forget(key),
            }
        }
        self.announce(&result, &keys.iter().collect::<Vec<_>>())
            .await;
        result
    }

    async fn list(&self, prefix: &KeyPrefix, options: ListOptions) -> Result<ListPage> {
        let mut page = self.shared.inner.list(prefix, options).await?;
        hide_markers(prefix, &mut page.objects, &mut page.common_prefixes);
        Ok(page)
    }

    async fn list_all(&self, prefix: &KeyPrefix, delimiter: bool) -> Result<Listing> {
        let area = match area_of(prefix.as_str()) {
            Some(area) if !delimiter => area,
            _ => {
                let mut listing = self.shared.inner.list_all(prefix, delimiter).await?;
                hide_markers(prefix, &mut listing.objects, &mut listing.common_prefixes);
                return Ok(listing);
            }
        };
        self.shared.check(area).await?;
        let lock = match self.serve(self.shared.lookup(prefix, area), prefix, area) {
            Ok(listing) => return Ok(listing),
            Err(lock) => lock,
        };
        let _guard = lock.lock().await;
        // Another request may have listed it while this one waited.
        if let Ok(listing) = self.serve(self.shared.lookup(prefix, area), prefix, area) {
            return Ok(listing);
        }
        let listing = self.shared.refresh(prefix, area).await?;
        Ok(Listing::clone(&listing))
    }

    async fn copy(&self, from: &Key, to: &Key) -> Result<()> {
        self.shared.drop_body(to);
        let result = self.shared.inner.copy(from, to).await;
        match &result {
            Ok(()) => match self.shared.inner.head(to).await {
                Ok(meta) => self.shared.patch(to, Some(meta)),
                Err(_) => self.shared.forget(to),
            },
            Err(_) => self.shared.forget(to),
        }
        self.announce(&result, &[to]).await;
        result
    }

    async fn rename(&self, from: &Key, to: &Key) -> Result<()> {
        self.shared.drop_body(from);
        self.shared.drop_body(to);
        let result = self.shared.inner.rename(from, to).await;
        match &result {
            Ok(()) => {
                self.shared.patch(from, None);
                match self.shared.inner.head(to).await {
                    Ok(meta) => self.shared.patch(to, Some(meta)),
                    Err(_) => self.shared.forget(to),
                }
            }
            // A move is a copy and a delete on S3: either may have happened.
            Err(_) => {
                self.shared.forget(from);
                self.shared.forget(to);
            }
        }
        self.announce(&result, &[from, to]).await;
        result
    }

    async fn reclaim_incomplete_writes(&self, older_than: Duration) -> Result<ReclaimReport> {
        // What it removes was never listed, so no cached listing changes.
        self.shared
            .inner
            .reclaim_incomplete_writes(older_than)
            .await
    }

    async fn presigned_get(&self, key: &Key, expires_in: Duration) -> Result<Option<String>> {
        self.shared.inner.presigned_get(key, expires_in).await
    }
}
