//! Object storage behind one small trait, with filesystem, S3 and in-memory backends.
//!
//! The service keeps all of its state here: `voices/`, `vc_inputs/` and `outputs/`,
//! each object with a JSON sidecar `<key>.json` beside it. Backends never see a raw
//! path: every key is a validated [`Key`] or [`KeyPrefix`].

mod aws;
mod cache;
mod cache_areas;
mod conditional;
mod deadline;
mod error;
mod fs;
mod fs_listing;
mod fs_lock;
mod fs_reclaim;
mod key;
mod memory;
mod s3;
mod s3_conditional;
mod s3_reclaim;
mod secret;
mod url;

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

pub use aws::sdk_loader;
pub use cache::{CHANGE_MARKERS, CacheSettings, CachingStore, DEFAULT_CHECK_EVERY};
pub use conditional::{Precondition, Version};
pub use deadline::{DeadlineStore, StoreTimeouts};
pub use error::{Error, Result};
pub use fs::FsStore;
pub use key::{Key, KeyPrefix, MAX_DEPTH, MAX_KEY_BYTES, MAX_SEGMENT_BYTES};
pub use memory::MemoryStore;
pub use s3::{S3Settings, S3Store};
pub use secret::Secret;
pub use url::StorageUrl;

/// What a listing or a `head` knows about an object without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The object's key.
    pub key: Key,
    /// Size in bytes.
    pub size: u64,
    /// Last modification time (UTC).
    pub last_modified: DateTime<Utc>,
}

/// A streamed object body: its metadata, the byte range served and the bytes.
pub struct GetStream {
    /// Metadata of the whole object.
    pub meta: ObjectMeta,
    /// The byte range this stream carries (the whole object unless a range was asked for).
    pub range: Range<u64>,
    /// The bytes, in chunks.
    pub body: BoxStream<'static, Result<Bytes>>,
}

impl std::fmt::Debug for GetStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetStream")
            .field("meta", &self.meta)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

/// How to list a prefix.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Group keys below the next `/` into [`ListPage::common_prefixes`] (one folder level).
    pub delimiter: bool,
    /// Resume after a previous page's [`ListPage::next_continuation`].
    pub continuation: Option<String>,
    /// Most entries (objects plus prefixes) in one page; backends cap it at 1000.
    pub max_keys: Option<usize>,
}

/// One page of a listing, in ascending key order.
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    /// Objects directly in the page.
    pub objects: Vec<ObjectMeta>,
    /// Folder prefixes (only with [`ListOptions::delimiter`]).
    pub common_prefixes: Vec<KeyPrefix>,
    /// Token for the next page; `None` on the last page.
    pub next_continuation: Option<String>,
}

/// What [`ObjectStore::reclaim_incomplete_writes`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReclaimReport {
    /// Temporary files of interrupted filesystem writes, relative to the store's root.
    pub temporary_files_removed: Vec<String>,
    /// Keys (relative to the store's prefix) of the interrupted multipart uploads aborted.
    pub multipart_uploads_aborted: Vec<String>,
    /// Bytes the removed files and aborted uploads' parts held, as far as the store reports them.
    pub bytes_freed: u64,
}

/// The largest page a listing returns, whatever the caller asks (S3's limit).
pub const MAX_LIST_PAGE: usize = 1000;

/// An object store: the one interface the service uses for all of its state.
///
/// Writes are atomic: a reader sees the old object, the new one or none, never a
/// torn one. Deletes are idempotent. Keys are compared as byte strings. Conditional
/// writes ([`ObjectStore::get_versioned`] then [`ObjectStore::put_if`]) make a
/// read-modify-write safe across processes sharing the data.
#[async_trait]
pub trait ObjectStore: Send + Sync + std::fmt::Debug + 'static {
    /// A short description for logs and `/health`, e.g. `file:///srv/data` or `s3://bucket/prefix`.
    fn describe(&self) -> String;

    /// The backend kind: `filesystem`, `s3` or `memory`.
    fn kind(&self) -> &'static str;

    /// Writes `body` at `key`, replacing any existing object.
    async fn put(&self, key: &Key, body: Bytes) -> Result<ObjectMeta>;

    /// Streams the object, or the byte `range` of it.
    async fn get_stream(&self, key: &Key, range: Option<Range<u64>>) -> Result<GetStream>;

    /// Reads the whole object into memory.
    async fn get(&self, key: &Key) -> Result<Bytes> {
        let stream = self.get_stream(key, None).await?;
        let capacity = usize::try_from(stream.meta.size).unwrap_or(0);
        let chunks: Vec<Bytes> = stream.body.try_collect().await?;
        if chunks.len() == 1 {
            return Ok(chunks.into_iter().next().unwrap_or_default());
        }
        let mut out = Vec::with_capacity(capacity);
        for chunk in chunks {
            out.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(out))
    }

    /// Reads the whole object with its current [`Version`], the one to pass to
    /// [`ObjectStore::put_if`] as [`Precondition::Matches`]; the version belongs to exactly
    /// the bytes returned. A missing object is [`Error::NotFound`].
    async fn get_versioned(&self, key: &Key) -> Result<(Bytes, Version)>;

    /// Writes `body` at `key` only if `condition` holds, as one atomic step with respect to
    /// every other write of the key, by this process or any other over the same data.
    /// When it does not hold, nothing is written and the call fails with
    /// [`Error::PreconditionFailed`]: read again and retry. [`Precondition::Matches`] on a
    /// missing object fails the same way.
    async fn put_if(&self, key: &Key, body: Bytes, condition: Precondition) -> Result<ObjectMeta>;

    /// Metadata of one object.
    async fn head(&self, key: &Key) -> Result<ObjectMeta>;

    /// Deletes one object; deleting a missing object succeeds.
    async fn delete(&self, key: &Key) -> Result<()>;

    /// Deletes many objects; missing ones are ignored.
    async fn delete_many(&self, keys: &[Key]) -> Result<()> {
        for key in keys {
            self.delete(key).await?;
        }
        Ok(())
    }

    /// One page of the objects under `prefix`, in ascending key order.
    async fn list(&self, prefix: &KeyPrefix, options: ListOptions) -> Result<ListPage>;

    /// Everything under `prefix`, in ascending key order. The default follows
    /// [`ObjectStore::list`]'s continuation tokens; backends that can list in one
    /// pass (filesystem, memory) override it so a full listing is one walk, not one
    /// walk per page.
    async fn list_all(&self, prefix: &KeyPrefix, delimiter: bool) -> Result<Listing> {
        let mut listing = Listing::default();
        let mut continuation = None;
        loop {
            let page = self
                .list(
                    prefix,
                    ListOptions {
                        delimiter,
                        continuation,
                        max_keys: Some(MAX_LIST_PAGE),
                    },
                )
                .await?;
            listing.objects.extend(page.objects);
            listing.common_prefixes.extend(page.common_prefixes);
            match page.next_continuation {
                Some(token) => continuation = Some(token),
                None => return Ok(listing),
            }
        }
    }

    /// Copies an object to a new key, replacing any object there.
    async fn copy(&self, from: &Key, to: &Key) -> Result<()>;

    /// Moves an object to a new key, replacing any object there.
    async fn rename(&self, from: &Key, to: &Key) -> Result<()> {
        self.copy(from, to).await?;
        self.delete(from).await
    }

    /// Removes what writes interrupted by a crash left behind and no reader ever sees
    /// (the filesystem store's temporary files, S3's unfinished multipart uploads),
    /// when it is older than `older_than`. The age keeps a write still in flight in
    /// another process safe: pick one far longer than any write takes. Stores that
    /// leave nothing behind keep this default, which removes nothing.
    async fn reclaim_incomplete_writes(&self, older_than: Duration) -> Result<ReclaimReport> {
        let _ = older_than;
        Ok(ReclaimReport::default())
    }

    /// A URL anyone holding it can download the object from, for `expires_in`, when the
    /// backend can sign one (S3); `None` for stores that cannot (filesystem, memory), whose
    /// objects the service itself must serve. Signing makes no request.
    async fn presigned_get(&self, key: &Key, expires_in: Duration) -> Result<Option<String>> {
        let _ = (key, expires_in);
        Ok(None)
    }
}

/// A shared handle to a store.
pub type DynStore = Arc<dyn ObjectStore>;

/// Everything under a prefix, all pages followed.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// Every object, in ascending key order.
    pub objects: Vec<ObjectMeta>,
    /// Folder prefixes (only when listed with a delimiter).
    pub common_prefixes: Vec<KeyPrefix>,
}

/// Lists everything under `prefix` (shorthand for [`ObjectStore::list_all`]).
pub async fn list_all(
    store: &dyn ObjectStore,
    prefix: &KeyPrefix,
    delimiter: bool,
) -> Result<Listing> {
    store.list_all(prefix, delimiter).await
}

/// Opens the store a URL names: `file://<dir>`, `s3://bucket/prefix` or `memory://`.
///
/// Filesystem and S3 stores come wrapped in a [`DeadlineStore`] with `timeouts`, so a
/// stalled server or a hung network mount fails a call with [`Error::Unavailable`]
/// instead of holding it; the S3 client also gets `s3.timeouts` for each request.
pub async fn open(url: &StorageUrl, s3: &S3Settings, timeouts: &StoreTimeouts) -> Result<DynStore> {
    let store: DynStore = match url {
        StorageUrl::File(dir) => {
            Arc::new(deadline::within("open", timeouts.operation, FsStore::open(dir)).await?)
        }
        StorageUrl::S3 { bucket, prefix } => Arc::new(S3Store::connect(bucket, prefix, s3).await?),
        // Nothing in process memory can stall.
        StorageUrl::Memory => return Ok(Arc::new(MemoryStore::new())),
    };
    Ok(Arc::new(DeadlineStore::new(store, *timeouts)))
}

/// Splits `data` into a stream of chunks of at most `chunk` bytes, sharing its buffer.
pub(crate) fn chunked(data: Bytes, chunk: usize) -> BoxStream<'static, Result<Bytes>> {
    let chunk = chunk.max(1);
    let count = data.len().div_ceil(chunk);
    futures::stream::iter((0..count).map(move |i| {
        let start = i * chunk;
        Ok(data.slice(start..(start + chunk).min(data.len())))
    }))
    .boxed()
}

/// Checks a requested range against an object's size.
pub(crate) fn check_range(key: &Key, range: Option<Range<u64>>, size: u64) -> Result<Range<u64>> {
    match range {
        None => Ok(0..size),
        Some(r) if r.start <= r.end && r.end <= size => Ok(r),
        Some(r) => Err(Error::InvalidRange {
            key: key.to_string(),
            start: r.start,
            end: r.end,
            size,
        }),
    }
}

/// Applies S3's page rules to a sorted list of entries (objects and prefixes):
/// skip up to the continuation token, take at most `max_keys`, and return the
/// token for the next page. Shared by the filesystem and memory backends so they
/// page exactly like S3.
pub(crate) fn paginate(mut entries: Vec<Entry>, options: &ListOptions) -> ListPage {
    sort_entries(&mut entries);
    let start = match &options.continuation {
        Some(token) => entries.partition_point(|e| e.sort_key() <= token.as_str()),
        None => 0,
    };
    let max = options
        .max_keys
        .unwrap_or(MAX_LIST_PAGE)
        .clamp(1, MAX_LIST_PAGE);
    let end = (start + max).min(entries.len());
    let next_continuation = (end < entries.len()).then(|| entries[end - 1].sort_key().to_owned());
    let mut page = ListPage {
        next_continuation,
        ..ListPage::default()
    };
    for entry in entries.drain(start..end) {
        match entry {
            Entry::Object(meta) => page.objects.push(meta),
            Entry::Prefix(prefix) => page.common_prefixes.push(prefix),
        }
    }
    page
}

/// Sorts entries in S3's order (byte order of the key).
pub(crate) fn sort_entries(entries: &mut [Entry]) {
    entries.sort_unstable_by(|a, b| a.sort_key().cmp(b.sort_key()));
}

/// Turns sorted entries into a complete listing.
pub(crate) fn into_listing(mut entries: Vec<Entry>) -> Listing {
    sort_entries(&mut entries);
    let mut listing = Listing::default();
    for entry in entries {
        match entry {
            Entry::Object(meta) => listing.objects.push(meta),
            Entry::Prefix(prefix) => listing.common_prefixes.push(prefix),
        }
    }
    listing
}

/// A listing entry before paging.
pub(crate) enum Entry {
    Object(ObjectMeta),
    Prefix(KeyPrefix),
}

impl Entry {
    fn sort_key(&self) -> &str {
        match self {
            Entry::Object(meta) => meta.key.as_str(),
            Entry::Prefix(prefix) => prefix.as_str(),
        }
    }
}
