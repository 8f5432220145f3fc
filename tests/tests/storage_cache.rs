//! The listing cache: read-your-writes through the cache, bounded staleness for
//! writes made elsewhere, and one refresh for many concurrent misses.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use storage::{
    CachingStore, DynStore, GetStream, Key, KeyPrefix, ListOptions, ListPage, Listing, MemoryStore,
    ObjectMeta, ObjectStore, Precondition, Version,
};
use tests::stored_keys;

fn key(s: &str) -> Key {
    Key::new(s).unwrap()
}

/// Counts full listings reaching the wrapped store.
#[derive(Debug)]
struct Counting {
    inner: MemoryStore,
    list_alls: AtomicUsize,
    reads: AtomicUsize,
}

#[async_trait]
impl ObjectStore for Counting {
    fn describe(&self) -> String {
        "counting".into()
    }
    fn kind(&self) -> &'static str {
        "memory"
    }
    async fn put(&self, key: &Key, body: Bytes) -> storage::Result<ObjectMeta> {
        self.inner.put(key, body).await
    }
    async fn get_stream(
        &self,
        key: &Key,
        range: Option<std::ops::Range<u64>>,
    ) -> storage::Result<GetStream> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.get_stream(key, range).await
    }
    async fn get_versioned(&self, key: &Key) -> storage::Result<(Bytes, Version)> {
        self.inner.get_versioned(key).await
    }
    async fn put_if(
        &self,
        key: &Key,
        body: Bytes,
        condition: Precondition,
    ) -> storage::Result<ObjectMeta> {
        self.inner.put_if(key, body, condition).await
    }
    async fn head(&self, key: &Key) -> storage::Result<ObjectMeta> {
        self.inner.head(key).await
    }
    async fn delete(&self, key: &Key) -> storage::Result<()> {
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &KeyPrefix, options: ListOptions) -> storage::Result<ListPage> {
        self.inner.list(prefix, options).await
    }
    async fn list_all(&self, prefix: &KeyPrefix, delimiter: bool) -> storage::Result<Listing> {
        self.list_alls.fetch_add(1, Ordering::SeqCst);
        // Slow enough for concurrent callers to overlap.
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.inner.list_all(prefix, delimiter).await
    }
    async fn copy(&self, from: &Key, to: &Key) -> storage::Result<()> {
        self.inner.copy(from, to).await
    }
}

#[tokio::test]
async fn own_writes_are_visible_at_once() {
    let inner: DynStore = Arc::new(MemoryStore::new());
    let cached = CachingStore::new(
        inner.clone(),
        Duration::from_secs(3600),
        Duration::from_secs(3600),
    );
    cached
        .put(&key("outputs/a.wav"), Bytes::from_static(b"a"))
        .await
        .unwrap();
    assert_eq!(stored_keys(&cached, "outputs").await, ["outputs/a.wav"]);
    cached
        .put(&key("outputs/c.wav"), Bytes::from_static(b"c"))
        .await
        .unwrap();
    cached
        .put(&key("outputs/b.wav"), Bytes::from_static(b"bb"))
        .await
        .unwrap();
    cached
        .put(&key("voices/x.wav"), Bytes::from_static(b"x"))
        .await
        .unwrap();
    assert_eq!(
        stored_keys(&cached, "outputs").await,
        ["outputs/a.wav", "outputs/b.wav", "outputs/c.wav"]
    );
    cached
        .put(&key("outputs/b.wav"), Bytes::from_static(b"bbbb"))
        .await
        .unwrap();
    let listing = storage::list_all(&cached, &KeyPrefix::new("outputs").unwrap(), false)
        .await
        .unwrap();
    assert_eq!(listing.objects[1].size, 4, "overwrite updates the size");
    cached.delete(&key("outputs/a.wav")).await.unwrap();
    cached
        .rename(&key("outputs/c.wav"), &key("outputs/sub/c.wav"))
        .await
        .unwrap();
    cached
        .copy(&key("outputs/b.wav"), &key("outputs/b2.wav"))
        .await
        .unwrap();
    cached.delete_many(&[key("outputs/b.wav")]).await.unwrap();
    assert_eq!(
        stored_keys(&cached, "outputs").await,
        ["outputs/b2.wav", "outputs/sub/c.wav"]
    );
    // The cache agrees with the store.
    assert_eq!(
        stored_keys(&cached, "outputs").await,
        stored_keys(inner.as_ref(), "outputs").await
    );
}

#[tokio::test]
async fn writes_made_elsewhere_appear_within_the_freshness_window() {
    let inner: DynStore = Arc::new(MemoryStore::new());
    let cached = CachingStore::new(
        inner.clone(),
        Duration::from_millis(200),
        Duration::from_secs(10),
    );
    assert!(stored_keys(&cached, "outputs").await.is_empty());
    inner
        .put(&key("outputs/elsewhere.wav"), Bytes::from_static(b"x"))
        .await
        .unwrap();
    assert!(
        stored_keys(&cached, "outputs").await.is_empty(),
        "a fresh listing is served from memory"
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    // Past the window: the stale listing is served while a refresh runs, then the new one.
    let mut seen = false;
    for _ in 0..50 {
        if stored_keys(&cached, "outputs").await == ["outputs/elsewhere.wav"] {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen, "the other writer's object never appeared");
}

#[tokio::test]
async fn concurrent_misses_share_one_refresh() {
    let counting = Arc::new(Counting {
        inner: MemoryStore::new(),
        list_alls: AtomicUsize::new(0),
        reads: AtomicUsize::new(0),
    });
    counting
        .put(&key("outputs/a.wav"), Bytes::from_static(b"a"))
        .await
        .unwrap();
    let cached = Arc::new(CachingStore::new(
        counting.clone(),
        Duration::from_secs(60),
        Duration::from_secs(60),
    ));
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let cached = cached.clone();
            tokio::spawn(async move { stored_keys(cached.as_ref(), "outputs").await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), ["outputs/a.wav"]);
    }
    assert_eq!(counting.list_alls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn small_bodies_are_served_from_memory_while_the_listing_vouches_for_them() {
    let counting = Arc::new(Counting {
        inner: MemoryStore::new(),
        list_alls: AtomicUsize::new(0),
        reads: AtomicUsize::new(0),
    });
    let sidecar = key("outputs/a.wav.json");
    counting
        .put(&sidecar, Bytes::from_static(br#"{"v":1}"#))
        .await
        .unwrap();
    let cached = CachingStore::new(
        counting.clone(),
        Duration::from_millis(300),
        Duration::from_secs(60),
    );
    // Without a cached listing every read goes to the store.
    assert_eq!(
        cached.get(&sidecar).await.unwrap(),
        Bytes::from_static(br#"{"v":1}"#)
    );
    assert_eq!(counting.reads.load(Ordering::SeqCst), 1);
    stored_keys(&cached, "outputs").await;
    cached.get(&sidecar).await.unwrap();
    cached.get(&sidecar).await.unwrap();
    assert_eq!(
        counting.reads.load(Ordering::SeqCst),
        2,
        "the second read under a listing is served from memory"
    );
    // Own writes replace the cached body at once.
    cached
        .put(&sidecar, Bytes::from_static(br#"{"v":22}"#))
        .await
        .unwrap();
    assert_eq!(
        cached.get(&sidecar).await.unwrap(),
        Bytes::from_static(br#"{"v":22}"#)
    );
    // Another writer's change shows once the listing is refreshed (its size differs).
    counting
        .put(&sidecar, Bytes::from_static(br#"{"v":333}"#))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(350)).await;
    let mut seen = Bytes::new();
    for _ in 0..50 {
        stored_keys(&cached, "outputs").await;
        seen = cached.get(&sidecar).await.unwrap();
        if seen == Bytes::from_static(br#"{"v":333}"#) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen, Bytes::from_static(br#"{"v":333}"#));
    cached.delete(&sidecar).await.unwrap();
    assert!(cached.get(&sidecar).await.unwrap_err().is_not_found());
}
