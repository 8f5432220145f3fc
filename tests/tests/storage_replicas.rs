//! Many replicas, one truth: stores over the same data in one process stand for replicas
//! (two filesystem stores on one directory, two S3 clients of one server, two listing
//! caches over one bucket). Conditional writes lose no update between them, and a write
//! through one replica's cache is in the other's listings within `check_every`.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use storage::{
    CacheSettings, CachingStore, DynStore, GetStream, Key, KeyPrefix, ListOptions, ListPage,
    Listing, ObjectMeta, ObjectStore, Precondition, S3Store, Version,
};
use tests::{S3Server, count_concurrently, stored_keys};

fn key(s: &str) -> Key {
    Key::new(s).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_filesystem_stores_on_one_directory_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let a: DynStore = Arc::new(storage::FsStore::open(dir.path()).await.unwrap());
    let b: DynStore = Arc::new(storage::FsStore::open(dir.path()).await.unwrap());
    let count = count_concurrently(&[a.clone(), b], "voices/narrators/v.wav.json", 8, 10).await;
    assert_eq!(count, 80);
    // The lock file is no object, and goes with the folder's last object.
    assert_eq!(
        stored_keys(a.as_ref(), "").await,
        ["voices/narrators/v.wav.json"]
    );
    a.delete(&key("voices/narrators/v.wav.json")).await.unwrap();
    assert!(
        !dir.path().join("voices").exists(),
        "empty folders are pruned"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_s3_clients_of_one_server_lose_no_update() {
    let server = S3Server::start();
    let a = s3_store(&server).await;
    let b = s3_store(&server).await;
    let count = count_concurrently(&[a, b], "voices/v.wav.json", 8, 10).await;
    assert_eq!(count, 80);
}

async fn s3_store(server: &S3Server) -> DynStore {
    let prefix = KeyPrefix::new("speech").unwrap();
    Arc::new(
        S3Store::connect(S3Server::BUCKET, &prefix, &server.settings())
            .await
            .unwrap(),
    )
}

/// Counts what reaches the store of one replica.
#[derive(Debug)]
struct Counting {
    inner: DynStore,
    marker_reads: AtomicUsize,
    list_alls: AtomicUsize,
    reads: AtomicUsize,
}

impl Counting {
    fn new(inner: DynStore) -> Arc<Self> {
        Arc::new(Self {
            inner,
            marker_reads: AtomicUsize::new(0),
            list_alls: AtomicUsize::new(0),
            reads: AtomicUsize::new(0),
        })
    }

    fn count_read(&self, key: &Key) {
        let counter = if key.as_str().starts_with(storage::CHANGE_MARKERS) {
            &self.marker_reads
        } else {
            &self.reads
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl ObjectStore for Counting {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    async fn put(&self, key: &Key, body: Bytes) -> storage::Result<ObjectMeta> {
        self.inner.put(key, body).await
    }
    async fn put_if(
        &self,
        key: &Key,
        body: Bytes,
        condition: Precondition,
    ) -> storage::Result<ObjectMeta> {
        self.inner.put_if(key, body, condition).await
    }
    async fn get_versioned(&self, key: &Key) -> storage::Result<(Bytes, Version)> {
        self.count_read(key);
        self.inner.get_versioned(key).await
    }
    async fn get(&self, key: &Key) -> storage::Result<Bytes> {
        self.count_read(key);
        self.inner.get(key).await
    }
    async fn get_stream(
        &self,
        key: &Key,
        range: Option<std::ops::Range<u64>>,
    ) -> storage::Result<GetStream> {
        self.count_read(key);
        self.inner.get_stream(key, range).await
    }
    async fn head(&self, key: &Key) -> storage::Result<ObjectMeta> {
        self.inner.head(key).await
    }
    async fn delete(&self, key: &Key) -> storage::Result<()> {
        self.inner.delete(key).await
    }
    async fn delete_many(&self, keys: &[Key]) -> storage::Result<()> {
        self.inner.delete_many(keys).await
    }
    async fn list(&self, prefix: &KeyPrefix, options: ListOptions) -> storage::Result<ListPage> {
        self.inner.list(prefix, options).await
    }
    async fn list_all(&self, prefix: &KeyPrefix, delimiter: bool) -> storage::Result<Listing> {
        self.list_alls.fetch_add(1, Ordering::SeqCst);
        self.inner.list_all(prefix, delimiter).await
    }
    async fn copy(&self, from: &Key, to: &Key) -> storage::Result<()> {
        self.inner.copy(from, to).await
    }
    async fn rename(&self, from: &Key, to: &Key) -> storage::Result<()> {
        self.inner.rename(from, to).await
    }
}

/// One replica: its own S3 client and listing cache, with its store's requests counted.
struct Replica {
    cache: CachingStore,
    counts: Arc<Counting>,
}

async fn replica(server: &S3Server, settings: CacheSettings) -> Replica {
    let counts = Counting::new(s3_store(server).await);
    let cache = CachingStore::with_settings(counts.clone(), settings);
    Replica { cache, counts }
}

/// Settings where only the marker can make a listing change: `check_every` as given,
/// background refreshes and the maximum age far away.
fn checked_every(check_every: Duration) -> CacheSettings {
    CacheSettings {
        check_every,
        refresh_after: Duration::from_secs(600),
        max_age: Duration::from_secs(600),
    }
}

const CHECK: Duration = Duration::from_millis(500);
/// Past `CHECK`, with room for a loaded machine's timer.
const PAST_CHECK: Duration = Duration::from_millis(650);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_through_one_replica_are_listed_by_another_within_check_every() {
    let server = S3Server::start();
    let a = replica(&server, checked_every(CHECK)).await;
    let b = replica(&server, checked_every(CHECK)).await;
    let body = || Bytes::from_static(b"audio");
    a.cache.put(&key("outputs/one.wav"), body()).await.unwrap();
    assert_eq!(stored_keys(&b.cache, "outputs").await, ["outputs/one.wav"]);

    // Each change is in B's very first listing once `check_every` has passed: never a
    // stale listing served while a refresh runs.
    a.cache.put(&key("outputs/two.wav"), body()).await.unwrap();
    tokio::time::sleep(PAST_CHECK).await;
    assert_eq!(
        stored_keys(&b.cache, "outputs").await,
        ["outputs/one.wav", "outputs/two.wav"],
        "put"
    );
    a.cache.delete(&key("outputs/one.wav")).await.unwrap();
    tokio::time::sleep(PAST_CHECK).await;
    assert_eq!(
        stored_keys(&b.cache, "outputs").await,
        ["outputs/two.wav"],
        "delete"
    );
    a.cache
        .rename(&key("outputs/two.wav"), &key("outputs/book/two.wav"))
        .await
        .unwrap();
    tokio::time::sleep(PAST_CHECK).await;
    assert_eq!(
        stored_keys(&b.cache, "outputs").await,
        ["outputs/book/two.wav"],
        "rename"
    );
    a.cache
        .put_if(&key("outputs/three.wav"), body(), Precondition::Absent)
        .await
        .unwrap();
    a.cache
        .delete_many(&[key("outputs/book/two.wav")])
        .await
        .unwrap();
    tokio::time::sleep(PAST_CHECK).await;
    assert_eq!(
        stored_keys(&b.cache, "outputs").await,
        ["outputs/three.wav"],
        "put_if and delete_many"
    );
    // B's own writes reach A the same way.
    b.cache.put(&key("outputs/four.wav"), body()).await.unwrap();
    tokio::time::sleep(PAST_CHECK).await;
    assert_eq!(
        stored_keys(&a.cache, "outputs").await,
        ["outputs/four.wav", "outputs/three.wav"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_replica_reads_each_marker_at_most_once_per_check_every() {
    let server = S3Server::start();
    let check = Duration::from_millis(250);
    let a = replica(&server, checked_every(check)).await;
    let b = Arc::new(replica(&server, checked_every(check)).await);
    a.cache
        .put(&key("outputs/a.wav"), Bytes::from_static(b"a"))
        .await
        .unwrap();
    let started = Instant::now();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let b = b.clone();
            tokio::spawn(async move {
                while started.elapsed() < Duration::from_secs(2) {
                    assert_eq!(stored_keys(&b.cache, "outputs").await, ["outputs/a.wav"]);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    let reads = b.counts.marker_reads.load(Ordering::SeqCst);
    let allowed = (elapsed.as_millis() / check.as_millis()) as usize + 1;
    assert!(
        reads <= allowed,
        "{reads} marker reads in {elapsed:?} (at most {allowed})"
    );
    assert!(reads >= 2, "the marker was read only {reads} times");
    assert_eq!(
        b.counts.list_alls.load(Ordering::SeqCst),
        1,
        "nothing changed, so nothing was listed again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replicas_own_writes_need_no_listing_again() {
    let server = S3Server::start();
    let a = Arc::new(replica(&server, checked_every(Duration::from_millis(100))).await);
    assert!(stored_keys(&a.cache, "outputs").await.is_empty());
    // Sequential and concurrent writes: the marker is replaced by compare-and-swap, so
    // the patched listing stays valid under the new token.
    for i in 0..3 {
        let k = key(&format!("outputs/seq{i}.wav"));
        a.cache.put(&k, Bytes::from_static(b"x")).await.unwrap();
    }
    let writes: Vec<_> = (0..6)
        .map(|i| {
            let a = a.clone();
            tokio::spawn(async move {
                let k = key(&format!("outputs/par{i}.wav"));
                a.cache.put(&k, Bytes::from_static(b"x")).await.unwrap();
            })
        })
        .collect();
    for write in writes {
        write.await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stored_keys(&a.cache, "outputs").await.len(), 9);
    assert_eq!(a.counts.list_alls.load(Ordering::SeqCst), 1);
    // The markers are the cache's bookkeeping: the store has them, its listings do not.
    let everything = storage::list_all(&a.cache, &KeyPrefix::root(), false)
        .await
        .unwrap();
    assert_eq!(everything.objects.len(), 9);
    let raw = storage::list_all(a.counts.as_ref(), &KeyPrefix::root(), false)
        .await
        .unwrap();
    assert!(
        raw.objects
            .iter()
            .any(|o| o.key.as_str() == "changes/outputs")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_writing_at_once_end_up_listing_the_same() {
    let server = S3Server::start();
    let replicas = [
        Arc::new(replica(&server, checked_every(CHECK)).await),
        Arc::new(replica(&server, checked_every(CHECK)).await),
    ];
    for r in &replicas {
        assert!(stored_keys(&r.cache, "outputs").await.is_empty());
    }
    let writes: Vec<_> = (0..40)
        .map(|i| {
            let r = replicas[i % 2].clone();
            tokio::spawn(async move {
                let k = key(&format!("outputs/p{}/f{i:02}.wav", i % 3));
                r.cache.put(&k, Bytes::from_static(b"x")).await.unwrap();
                // Listings in between, so both caches hold listings the others' writes hit.
                stored_keys(&r.cache, "outputs").await;
            })
        })
        .collect();
    for write in writes {
        write.await.unwrap();
    }
    tokio::time::sleep(PAST_CHECK).await;
    let truth = stored_keys(replicas[0].counts.as_ref(), "outputs").await;
    assert_eq!(truth.len(), 40);
    for r in &replicas {
        assert_eq!(stored_keys(&r.cache, "outputs").await, truth);
        assert_eq!(stored_keys(&r.cache, "outputs/p1").await.len(), 13);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sidecar_rewritten_elsewhere_with_the_same_length_is_read_fresh() {
    let server = S3Server::start();
    let a = replica(&server, checked_every(CHECK)).await;
    let b = replica(&server, checked_every(CHECK)).await;
    let sidecar = key("outputs/a.wav.json");
    a.cache
        .put(&sidecar, Bytes::from_static(br#"{"uses":1}"#))
        .await
        .unwrap();
    stored_keys(&b.cache, "outputs").await;
    assert_eq!(
        b.cache.get(&sidecar).await.unwrap(),
        Bytes::from_static(br#"{"uses":1}"#)
    );
    assert_eq!(
        b.cache.get(&sidecar).await.unwrap(),
        Bytes::from_static(br#"{"uses":1}"#)
    );
    assert_eq!(
        b.counts.reads.load(Ordering::SeqCst),
        1,
        "the second read is served from memory"
    );
    // Same length, and very likely the same second: only the marker tells.
    a.cache
        .put(&sidecar, Bytes::from_static(br#"{"uses":2}"#))
        .await
        .unwrap();
    tokio::time::sleep(PAST_CHECK).await;
    assert_eq!(
        b.cache.get(&sidecar).await.unwrap(),
        Bytes::from_static(br#"{"uses":2}"#),
        "read without listing first"
    );
    stored_keys(&b.cache, "outputs").await;
    assert_eq!(
        b.cache.get(&sidecar).await.unwrap(),
        Bytes::from_static(br#"{"uses":2}"#)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_that_bypass_the_markers_appear_within_the_maximum_age() {
    let server = S3Server::start();
    let max_age = Duration::from_millis(1500);
    let b = replica(
        &server,
        CacheSettings {
            check_every: Duration::from_millis(100),
            refresh_after: max_age,
            max_age,
        },
    )
    .await;
    let listed = Instant::now();
    assert!(stored_keys(&b.cache, "outputs").await.is_empty());
    // Straight to the store: no marker changes.
    b.counts
        .put(&key("outputs/bypass.wav"), Bytes::from_static(b"x"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        stored_keys(&b.cache, "outputs").await.is_empty(),
        "the marker is unchanged, so the cached listing is served"
    );
    tokio::time::sleep(max_age.saturating_sub(listed.elapsed()) + Duration::from_millis(100)).await;
    assert_eq!(
        stored_keys(&b.cache, "outputs").await,
        ["outputs/bypass.wav"]
    );
}
