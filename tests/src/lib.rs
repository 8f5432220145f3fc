//! Test harness: a real S3 server on loopback, the three storage backends, an in-process
//! client for the router, a running `local-runner`, and audio fixtures.

// Test support: a failed setup step should stop the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod app;
pub mod engines;
pub mod fixtures;
pub mod fuzz;
pub mod multipart;
pub mod process_memory;
pub mod processes;
pub mod sqs;

use std::sync::Arc;

use storage::{DynStore, FsStore, MemoryStore, S3Settings, S3Store};

pub use app::{TestApp, TestResponse};
pub use processes::{LocalRunner, S3Server};

/// One storage backend under test, with whatever keeps it alive.
pub struct Backend {
    /// The store.
    pub store: DynStore,
    /// The storage URL a `local-runner` would be given for the same data.
    pub url: String,
    /// Extra `local-runner` flags (S3 endpoint and credentials).
    pub runner_args: Vec<String>,
    _dir: Option<tempfile::TempDir>,
    /// The S3 server, for S3 backends (dropped last: it is killed on drop).
    pub s3: Option<S3Server>,
}

impl Backend {
    /// An in-memory store.
    pub fn memory() -> Self {
        Self {
            store: Arc::new(MemoryStore::new()),
            url: "memory://".into(),
            runner_args: Vec::new(),
            _dir: None,
            s3: None,
        }
    }

    /// A filesystem store in a fresh temporary directory.
    pub async fn fs() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = FsStore::open(dir.path()).await.expect("open fs store");
        let url = format!("file://{}", dir.path().display());
        Self {
            store: Arc::new(store),
            url,
            runner_args: Vec::new(),
            _dir: Some(dir),
            s3: None,
        }
    }

    /// An S3 store on a fresh `s3-test-server` on loopback, under a key prefix.
    pub async fn s3() -> Self {
        let server = S3Server::start();
        let prefix = storage::KeyPrefix::new("speech").expect("prefix");
        let store = S3Store::connect(S3Server::BUCKET, &prefix, &server.settings())
            .await
            .expect("connect to S3");
        let url = format!("s3://{}/speech", S3Server::BUCKET);
        let runner_args = server.runner_args();
        Self {
            store: Arc::new(store),
            url,
            runner_args,
            _dir: None,
            s3: Some(server),
        }
    }

    /// This backend behind the listing cache: refreshed in the background after
    /// `fresh_for`, never served after `stale_for`, change markers checked every second
    /// (see [`storage::CachingStore::new`]).
    pub fn cached(
        mut self,
        fresh_for: std::time::Duration,
        stale_for: std::time::Duration,
    ) -> Self {
        self.store = Arc::new(storage::CachingStore::new(
            self.store.clone(),
            fresh_for,
            stale_for,
        ));
        self
    }

    /// The backend's S3 settings (S3 backends only).
    pub fn s3_settings(&self) -> Option<S3Settings> {
        self.s3.as_ref().map(S3Server::settings)
    }
}

/// Every key under `prefix` (`""` for the whole store), in key order, without the
/// listing cache's change markers ([`storage::CHANGE_MARKERS`]): bookkeeping of the
/// service, not library content.
pub async fn stored_keys(store: &dyn storage::ObjectStore, prefix: &str) -> Vec<String> {
    let prefix = storage::KeyPrefix::new(prefix).expect("valid prefix");
    storage::list_all(store, &prefix, false)
        .await
        .expect("listing")
        .objects
        .into_iter()
        .map(|o| o.key.to_string())
        .filter(|key| !key.starts_with(storage::CHANGE_MARKERS))
        .collect()
}

/// Defines one `#[tokio::test]` per backend (`memory`, `fs`, `s3`) for each listed
/// async function taking a [`Backend`]: one suite, every backend.
#[macro_export]
macro_rules! for_each_backend {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { super::$test($crate::Backend::memory()).await }) *
        }
        mod fs {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { super::$test($crate::Backend::fs().await).await }) *
        }
        mod s3 {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { super::$test($crate::Backend::s3().await).await }) *
        }
        mod cached_s3 {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                let backend = $crate::Backend::s3().await;
                super::$test(backend.cached(std::time::Duration::from_secs(60), std::time::Duration::from_secs(600))).await
            }) *
        }
    };
}

/// Like [`for_each_backend`] without the memory backend: for behaviour users see on
/// persistent stores (the filesystem store and a real S3 server).
#[macro_export]
macro_rules! for_each_persistent_backend {
    ($($test:ident),* $(,)?) => {
        mod fs {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { super::$test($crate::Backend::fs().await).await }) *
        }
        mod s3 {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { super::$test($crate::Backend::s3().await).await }) *
        }
    };
}

/// Adds one to the JSON counter `{"count": n}` at `key` (creating it at 1) the way the
/// service updates usage counts: read with its version, write on that version, and start
/// over when another writer got there first.
pub async fn increment_counter(store: &dyn storage::ObjectStore, key: &storage::Key) {
    use storage::Precondition;
    loop {
        let (count, condition) = match store.get_versioned(key).await {
            Ok((body, version)) => {
                let value: serde_json::Value = serde_json::from_slice(&body).expect("counter JSON");
                (
                    value["count"].as_u64().expect("count"),
                    Precondition::Matches(version),
                )
            }
            Err(e) if e.is_not_found() => (0, Precondition::Absent),
            Err(e) => panic!("reading the counter: {e}"),
        };
        let body = serde_json::json!({ "count": count + 1 }).to_string();
        match store.put_if(key, body.into(), condition).await {
            Ok(_) => return,
            Err(e) if e.is_precondition_failed() => continue,
            Err(e) => panic!("writing the counter: {e}"),
        }
    }
}

/// Runs `tasks` concurrent tasks of `each` [`increment_counter`] calls on the counter at
/// `key`, task `i` through `stores[i % stores.len()]` (replicas over the same data), and
/// returns the final count.
pub async fn count_concurrently(stores: &[DynStore], key: &str, tasks: usize, each: usize) -> u64 {
    let key = storage::Key::new(key).expect("valid key");
    let handles: Vec<_> = (0..tasks)
        .map(|i| {
            let store = stores[i % stores.len()].clone();
            let key = key.clone();
            tokio::spawn(async move {
                for _ in 0..each {
                    increment_counter(store.as_ref(), &key).await;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("counting task");
    }
    let body = stores[0].get(&key).await.expect("counter");
    let value: serde_json::Value = serde_json::from_slice(&body).expect("counter JSON");
    value["count"].as_u64().expect("count")
}
