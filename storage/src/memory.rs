//! In-memory backend: a sorted map behind a lock, for tests and demos.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::RwLock;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::conditional::{check, content_version};
use crate::{
    Entry, Error, GetStream, Key, KeyPrefix, ListOptions, ListPage, Listing, ObjectMeta,
    ObjectStore, Precondition, Result, Version, check_range, chunked, into_listing, paginate,
};

/// A store that lives in process memory; nothing survives a restart.
#[derive(Debug, Default)]
pub struct MemoryStore {
    objects: RwLock<BTreeMap<String, (Bytes, DateTime<Utc>)>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, (Bytes, DateTime<Utc>)>> {
        // A panic while holding the lock cannot leave the map half-updated
        // (every write is a single insert or remove), so poisoning is ignored.
        self.objects
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, (Bytes, DateTime<Utc>)>> {
        self.objects
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn meta(key: &Key, body: &Bytes, modified: DateTime<Utc>) -> ObjectMeta {
    ObjectMeta {
        key: key.clone(),
        size: body.len() as u64,
        last_modified: modified,
    }
}

fn not_found(key: &Key) -> Error {
    Error::NotFound {
        key: key.to_string(),
    }
}

#[async_trait]
impl ObjectStore for MemoryStore {
    fn describe(&self) -> String {
        "memory://".to_owned()
    }

    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn put(&self, key: &Key, body: Bytes) -> Result<ObjectMeta> {
        let now = Utc::now();
        let result = meta(key, &body, now);
        self.write().insert(key.to_string(), (body, now));
        Ok(result)
    }

    async fn get_stream(&self, key: &Key, range: Option<Range<u64>>) -> Result<GetStream> {
        let (body, modified) = self
            .read()
            .get(key.as_str())
            .cloned()
            .ok_or_else(|| not_found(key))?;
        let meta = meta(key, &body, modified);
        let range = check_range(key, range, meta.size)?;
        // Ranges are bounded by the body length checked above, so they fit in usize.
        let slice = body.slice(range.start as usize..range.end as usize);
        Ok(GetStream {
            meta,
            range,
            body: chunked(slice, 64 * 1024),
        })
    }

    async fn get_versioned(&self, key: &Key) -> Result<(Bytes, Version)> {
        let (body, _) = self
            .read()
            .get(key.as_str())
            .cloned()
            .ok_or_else(|| not_found(key))?;
        let version = content_version(&body);
        Ok((body, version))
    }

    async fn put_if(&self, key: &Key, body: Bytes, condition: Precondition) -> Result<ObjectMeta> {
        // Compared and written under one write lock: no other write can come between.
        let mut objects = self.write();
        let current = objects
            .get(key.as_str())
            .map(|(body, _)| content_version(body));
        check(key, &condition, current.as_ref())?;
        let now = Utc::now();
        let result = meta(key, &body, now);
        objects.insert(key.to_string(), (body, now));
        Ok(result)
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        let guard = self.read();
        let (body, modified) = guard.get(key.as_str()).ok_or_else(|| not_found(key))?;
        Ok(meta(key, body, *modified))
    }

    async fn delete(&self, key: &Key) -> Result<()> {
        self.write().remove(key.as_str());
        Ok(())
    }

    async fn list(&self, prefix: &KeyPrefix, options: ListOptions) -> Result<ListPage> {
        Ok(paginate(self.entries(prefix, options.delimiter)?, &options))
    }

    async fn list_all(&self, prefix: &KeyPrefix, delimiter: bool) -> Result<Listing> {
        Ok(into_listing(self.entries(prefix, delimiter)?))
    }

    async fn copy(&self, from: &Key, to: &Key) -> Result<()> {
        let (body, _) = self
            .read()
            .get(from.as_str())
            .cloned()
            .ok_or_else(|| not_found(from))?;
        self.write().insert(to.to_string(), (body, Utc::now()));
        Ok(())
    }
}

impl MemoryStore {
    /// Entries under `prefix`, one folder level deep with `delimiter`.
    fn entries(&self, prefix: &KeyPrefix, delimiter: bool) -> Result<Vec<Entry>> {
        let guard = self.read();
        let mut entries = Vec::new();
        let mut last_prefix: Option<String> = None;
        for (name, (body, modified)) in guard.range(prefix.as_str().to_owned()..) {
            let Some(rest) = name.strip_prefix(prefix.as_str()) else {
                break;
            };
            if delimiter && let Some(idx) = rest.find('/') {
                let folder = format!("{}{}", prefix.as_str(), &rest[..=idx]);
                if last_prefix.as_deref() != Some(folder.as_str()) {
                    entries.push(Entry::Prefix(KeyPrefix::new(folder.clone())?));
                    last_prefix = Some(folder);
                }
                continue;
            }
            entries.push(Entry::Object(meta(
                &Key::new(name.clone())?,
                body,
                *modified,
            )));
        }
        Ok(entries)
    }
}
