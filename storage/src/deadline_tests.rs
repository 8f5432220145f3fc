//! Tests of [`DeadlineStore`] over a fake store that hangs, stalls or is merely slow.

use std::sync::{Arc, Mutex};

use futures::TryStreamExt;

use super::*;
use crate::MemoryStore;

/// Short deadlines, with margins wide enough for a loaded test machine.
const TIMEOUTS: StoreTimeouts = StoreTimeouts {
    operation: Duration::from_millis(300),
    attempt: Duration::from_millis(150),
    connect: Duration::from_millis(100),
    min_throughput_bytes_per_second: 1000,
};
/// How long a "slow" call of the fake store takes: several `operation`s.
const SLOW: Duration = Duration::from_millis(1000);
/// Longest a call may take to fail on a store that hangs.
const FAIL_WITHIN: Duration = Duration::from_secs(3);

/// A store over memory that hangs, stalls or is slow as asked, and records which of its
/// methods were called.
#[derive(Debug, Default)]
struct Fake {
    memory: MemoryStore,
    /// Every call waits forever.
    hang: bool,
    /// `head` waits forever (a store that stopped answering mid-call).
    hang_head: bool,
    /// `put`, `get`, `list_all` and `reclaim_incomplete_writes` take [`SLOW`].
    slow: bool,
    /// Bodies deliver their first chunk and then nothing.
    stall_body: bool,
    calls: Mutex<Vec<&'static str>>,
}

impl Fake {
    async fn enter(&self, method: &'static str) {
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(method);
        if self.hang {
            std::future::pending::<()>().await;
        }
    }

    async fn maybe_slow(&self) {
        if self.slow {
            tokio::time::sleep(SLOW).await;
        }
    }

    fn calls(&self) -> Vec<&'static str> {
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl ObjectStore for Fake {
    fn describe(&self) -> String {
        "fake://".into()
    }

    fn kind(&self) -> &'static str {
        "fake"
    }

    async fn put(&self, key: &Key, body: Bytes) -> Result<ObjectMeta> {
        self.enter("put").await;
        self.maybe_slow().await;
        self.memory.put(key, body).await
    }

    async fn get_stream(&self, key: &Key, range: Option<Range<u64>>) -> Result<GetStream> {
        self.enter("get_stream").await;
        let mut stream = self.memory.get_stream(key, range).await?;
        if self.stall_body {
            stream.body = stream
                .body
                .take(1)
                .chain(futures::stream::pending())
                .boxed();
        }
        Ok(stream)
    }

    async fn get(&self, key: &Key) -> Result<Bytes> {
        self.enter("get").await;
        self.maybe_slow().await;
        self.memory.get(key).await
    }

    async fn get_versioned(&self, key: &Key) -> Result<(Bytes, Version)> {
        self.enter("get_versioned").await;
        self.maybe_slow().await;
        self.memory.get_versioned(key).await
    }

    async fn put_if(&self, key: &Key, body: Bytes, condition: Precondition) -> Result<ObjectMeta> {
        self.enter("put_if").await;
        self.maybe_slow().await;
        self.memory.put_if(key, body, condition).await
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        self.enter("head").await;
        if self.hang_head {
            std::future::pending::<()>().await;
        }
        self.memory.head(key).await
    }

    async fn delete(&self, key: &Key) -> Result<()> {
        self.enter("delete").await;
        self.memory.delete(key).await
    }

    async fn delete_many(&self, keys: &[Key]) -> Result<()> {
        self.enter("delete_many").await;
        self.memory.delete_many(keys).await
    }

    async fn list(&self, prefix: &KeyPrefix, options: ListOptions) -> Result<ListPage> {
        self.enter("list").await;
        self.memory.list(prefix, options).await
    }

    async fn list_all(&self, prefix: &KeyPrefix, delimiter: bool) -> Result<Listing> {
        self.enter("list_all").await;
        self.maybe_slow().await;
        self.memory.list_all(prefix, delimiter).await
    }

    async fn copy(&self, from: &Key, to: &Key) -> Result<()> {
        self.enter("copy").await;
        self.memory.copy(from, to).await
    }

    async fn rename(&self, from: &Key, to: &Key) -> Result<()> {
        self.enter("rename").await;
        self.memory.rename(from, to).await
    }

    async fn reclaim_incomplete_writes(&self, _older_than: Duration) -> Result<ReclaimReport> {
        self.enter("reclaim_incomplete_writes").await;
        self.maybe_slow().await;
        Ok(ReclaimReport {
            temporary_files_removed: vec!["a/.tmp-1".into()],
            ..ReclaimReport::default()
        })
    }
}

fn key(name: &str) -> Key {
    Key::new(name).unwrap()
}

fn wrap(fake: Fake) -> (Arc<Fake>, DeadlineStore) {
    let fake = Arc::new(fake);
    let store = DeadlineStore::new(fake.clone(), TIMEOUTS);
    (fake, store)
}

/// Asserts that `call` fails with `Unavailable` naming `operation`, within [`FAIL_WITHIN`].
async fn assert_gives_up<T: std::fmt::Debug>(
    operation: &str,
    call: impl Future<Output = Result<T>>,
) {
    let started = std::time::Instant::now();
    let result = call.await;
    let took = started.elapsed();
    match result {
        Err(Error::Unavailable {
            operation: op,
            message,
            source: None,
        }) => {
            assert_eq!(op, operation);
            assert!(message.starts_with("no answer within "), "{message}");
        }
        other => panic!("{operation}: expected Unavailable, got {other:?}"),
    }
    assert!(took < FAIL_WITHIN, "{operation} took {took:?}");
}

#[tokio::test]
async fn every_call_to_a_hanging_store_gives_up() {
    let (_, store) = wrap(Fake {
        hang: true,
        ..Fake::default()
    });
    let (a, b) = (key("a.wav"), key("b.wav"));
    let root = KeyPrefix::root();
    assert_gives_up("put", store.put(&a, Bytes::from_static(b"x"))).await;
    assert_gives_up("get_stream", store.get_stream(&a, None)).await;
    assert_gives_up("get", store.get(&a)).await;
    assert_gives_up("get_versioned", store.get_versioned(&a)).await;
    assert_gives_up(
        "put_if",
        store.put_if(&a, Bytes::from_static(b"x"), Precondition::Absent),
    )
    .await;
    assert_gives_up("head", store.head(&a)).await;
    assert_gives_up("delete", store.delete(&a)).await;
    assert_gives_up("delete_many", store.delete_many(&[a.clone(), b.clone()])).await;
    assert_gives_up("list", store.list(&root, ListOptions::default())).await;
    assert_gives_up("list_all", store.list_all(&root, false)).await;
    assert_gives_up("copy", store.copy(&a, &b)).await;
    assert_gives_up("rename", store.rename(&a, &b)).await;
    assert_gives_up(
        "reclaim_incomplete_writes",
        store.reclaim_incomplete_writes(Duration::ZERO),
    )
    .await;
}

#[tokio::test]
async fn every_call_reaches_the_inner_stores_own_method() {
    let (fake, store) = wrap(Fake::default());
    let (a, b) = (key("a.wav"), key("b.wav"));
    let root = KeyPrefix::root();
    store.put(&a, Bytes::from_static(b"x")).await.unwrap();
    store.get_stream(&a, None).await.unwrap();
    store.get(&a).await.unwrap();
    store.head(&a).await.unwrap();
    store.list(&root, ListOptions::default()).await.unwrap();
    store.list_all(&root, false).await.unwrap();
    store.copy(&a, &b).await.unwrap();
    store.rename(&b, &key("c.wav")).await.unwrap();
    store.delete_many(std::slice::from_ref(&a)).await.unwrap();
    store.delete(&a).await.unwrap();
    let report = store
        .reclaim_incomplete_writes(Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(report.temporary_files_removed, ["a/.tmp-1"]);
    // Overridden methods are not replaced by the trait's defaults (get by get_stream,
    // rename by copy and delete, ...).
    assert_eq!(
        fake.calls(),
        [
            "put",
            "get_stream",
            "get",
            "head",
            "list",
            "list_all",
            "copy",
            "rename",
            "delete_many",
            "delete",
            "reclaim_incomplete_writes"
        ]
    );
    assert_eq!(store.describe(), "fake://");
    assert_eq!(store.kind(), "fake");
}

#[tokio::test]
async fn a_stalled_body_ends_with_an_error() {
    let (fake, store) = wrap(Fake {
        stall_body: true,
        ..Fake::default()
    });
    let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    fake.memory
        .put(&key("big.wav"), Bytes::from(data))
        .await
        .unwrap();
    let stream = store.get_stream(&key("big.wav"), None).await.unwrap();
    let mut body = stream.body;
    assert!(body.try_next().await.unwrap().is_some(), "first chunk");
    assert_gives_up("get_stream", body.try_next()).await;
}

#[tokio::test]
async fn slow_bodies_get_time_in_proportion_to_their_size() {
    let (_, store) = wrap(Fake {
        slow: true,
        ..Fake::default()
    });
    // 2000 bytes at 1000 bytes/s: 2 s more than `operation`, longer than SLOW.
    let large = Bytes::from(vec![7u8; 2000]);
    store.put(&key("large.wav"), large.clone()).await.unwrap();
    assert_eq!(store.get(&key("large.wav")).await.unwrap(), large);
    // An empty body gets no allowance: SLOW is past its deadline.
    assert_gives_up("put", store.put(&key("empty.wav"), Bytes::new())).await;
}

#[tokio::test]
async fn a_slow_get_on_a_store_that_stopped_answering_gives_up() {
    let (fake, store) = wrap(Fake {
        slow: true,
        hang_head: true,
        ..Fake::default()
    });
    fake.memory
        .put(&key("large.wav"), Bytes::from(vec![7u8; 2000]))
        .await
        .unwrap();
    assert_gives_up("get", store.get(&key("large.wav"))).await;
}

#[tokio::test]
async fn long_walks_continue_while_the_store_answers() {
    let (_, store) = wrap(Fake {
        slow: true,
        ..Fake::default()
    });
    // SLOW is several `operation`s: the walk goes on because `head` still answers.
    store.list_all(&KeyPrefix::root(), false).await.unwrap();
    store
        .reclaim_incomplete_writes(Duration::ZERO)
        .await
        .unwrap();

    let (_, stuck) = wrap(Fake {
        slow: true,
        hang_head: true,
        ..Fake::default()
    });
    assert_gives_up("list_all", stuck.list_all(&KeyPrefix::root(), false)).await;
}

#[test]
fn allowances_and_messages() {
    let timeouts = StoreTimeouts::default();
    assert_eq!(timeouts.operation, Duration::from_secs(10));
    assert_eq!(timeouts.attempt, Duration::from_secs(4));
    assert_eq!(timeouts.connect, Duration::from_secs(2));
    assert_eq!(timeouts.min_throughput_bytes_per_second, 1 << 20);
    assert_eq!(timeouts.body_allowance(0), Duration::ZERO);
    assert_eq!(timeouts.body_allowance(1), Duration::from_secs(1));
    assert_eq!(timeouts.body_allowance(16 << 20), Duration::from_secs(16));
    let unlimited = StoreTimeouts {
        min_throughput_bytes_per_second: 0,
        ..timeouts
    };
    assert_eq!(unlimited.body_allowance(u64::MAX), Duration::ZERO);
    assert_eq!(seconds(Duration::from_secs(2)), "2");
    assert_eq!(seconds(Duration::from_millis(2500)), "2.5");
    assert_eq!(seconds(Duration::from_millis(150)), "0.15");
    assert_eq!(
        no_answer("head", Duration::from_secs(2)).to_string(),
        "storage unreachable during head: no answer within 2 s"
    );
}
