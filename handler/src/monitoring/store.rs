//! A store wrapper that times every call and counts failures for the Prometheus metrics
//! (`speech_store_operation_duration_seconds`, `speech_store_errors_total`). It changes
//! nothing else: results pass through untouched.

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use storage::{
    DynStore, GetStream, Key, KeyPrefix, ListOptions, ListPage, Listing, ObjectMeta, ObjectStore,
    Precondition, ReclaimReport, Result, Version,
};

use super::prometheus::Prometheus;

/// Times the calls of `inner` into `metrics`.
#[derive(Debug)]
pub struct MeasuredStore {
    inner: DynStore,
    metrics: Arc<Prometheus>,
}

impl MeasuredStore {
    /// Wraps `inner`.
    pub fn new(inner: DynStore, metrics: Arc<Prometheus>) -> Self {
        Self { inner, metrics }
    }

    async fn timed<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let started = Instant::now();
        let result = call.await;
        let labels = vec![("operation", operation.to_owned())];
        self.metrics
            .store_latency
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
        if let Err(e) = &result {
            // Not-found and lost races are answers, not failures of the store.
            if !(e.is_not_found() || e.is_precondition_failed()) {
                let kind = match e {
                    storage::Error::Unavailable { .. } => "unavailable",
                    _ => "other",
                };
                self.metrics
                    .store_errors
                    .get_or_create(&vec![
                        ("operation", operation.to_owned()),
                        ("kind", kind.to_owned()),
                    ])
                    .inc();
            }
        }
        result
    }
}

#[async_trait]
impl ObjectStore for MeasuredStore {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    async fn put(&self, key: &Key, body: Bytes) -> Result<ObjectMeta> {
        self.timed("put", self.inner.put(key, body)).await
    }

    async fn get_stream(&self, key: &Key, range: Option<Range<u64>>) -> Result<GetStream> {
        self.timed("get", self.inner.get_stream(key, range)).await
    }

    async fn get(&self, key: &Key) -> Result<Bytes> {
        self.timed("get", self.inner.get(key)).await
    }

    async fn get_versioned(&self, key: &Key) -> Result<(Bytes, Version)> {
        self.timed("get", self.inner.get_versioned(key)).await
    }

    async fn put_if(&self, key: &Key, body: Bytes, condition: Precondition) -> Result<ObjectMeta> {
        self.timed("put", self.inner.put_if(key, body, condition))
            .await
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        self.timed("head", self.inner.head(key)).await
    }

    async fn delete(&self, key: &Key) -> Result<()> {
        self.timed("delete", self.inner.delete(key)).await
    }

    async fn delete_many(&self, keys: &[Key]) -> Result<()> {
        self.timed("delete", self.inner.delete_many(keys)).await
    }

    async fn list(&self, prefix: &KeyPrefix, options: ListOptions) -> Result<ListPage> {
        self.timed("list", self.inner.list(prefix, options)).await
    }

    async fn list_all(&self, prefix: &KeyPrefix, delimiter: bool) -> Result<Listing> {
        self.timed("list", self.inner.list_all(prefix, delimiter))
            .await
    }

    async fn copy(&self, from: &Key, to: &Key) -> Result<()> {
        self.timed("copy", self.inner.copy(from, to)).await
    }

    async fn rename(&self, from: &Key, to: &Key) -> Result<()> {
        self.timed("copy", self.inner.rename(from, to)).await
    }

    async fn reclaim_incomplete_writes(&self, older_than: Duration) -> Result<ReclaimReport> {
        self.timed("reclaim", self.inner.reclaim_incomplete_writes(older_than))
            .await
    }

    async fn presigned_get(&self, key: &Key, expires_in: Duration) -> Result<Option<String>> {
        self.inner.presigned_get(key, expires_in).await
    }
}
