//! Deadlines for every call to a store, so a stalled server or a hung network mount
//! ends a request with [`Error::Unavailable`] (503 for clients) instead of holding it.
//! [`DeadlineStore`] says which deadline each call gets.

use std::ops::Range;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use tokio::time::Instant;

use crate::{
    DynStore, Error, GetStream, Key, KeyPrefix, ListOptions, ListPage, Listing, ObjectMeta,
    ObjectStore, Precondition, ReclaimReport, Result, Version,
};

/// Most steps of [`StoreTimeouts::operation`] a whole-prefix walk may take while the
/// store keeps answering.
const LONG_CALL_STEPS: u32 = 30;

/// The key whose `head` tells whether a store still answers (it need not exist).
const PROBE_KEY: &str = "deadline-probe";

/// Keys one request of `delete_many` removes at most (S3's `DeleteObjects` limit).
const DELETE_BATCH: usize = 1000;

/// How long the service waits for its store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreTimeouts {
    /// Longest one call may take, retries included, before any allowance for its body.
    pub operation: Duration,
    /// Longest one attempt of a request may take (S3 retries a failed attempt while
    /// `operation` allows); also the longest a streamed body may pause between chunks.
    pub attempt: Duration,
    /// Longest opening a connection may take.
    pub connect: Duration,
    /// The slowest transfer still taken for a working link: a body of `n` bytes adds
    /// `n / min_throughput_bytes_per_second` seconds (rounded up) to its deadlines.
    /// 0 adds nothing.
    pub min_throughput_bytes_per_second: u64,
}

impl Default for StoreTimeouts {
    /// 10 s per call, 4 s per attempt, 2 s to connect, bodies at 1 MiB/s at least.
    fn default() -> Self {
        Self {
            operation: Duration::from_secs(10),
            attempt: Duration::from_secs(4),
            connect: Duration::from_secs(2),
            min_throughput_bytes_per_second: 1024 * 1024,
        }
    }
}

impl StoreTimeouts {
    /// The extra time a body of `bytes` may take: `bytes / min_throughput_bytes_per_second`,
    /// rounded up to whole seconds (zero for an empty body or a throughput of 0).
    pub fn body_allowance(&self, bytes: u64) -> Duration {
        match self.min_throughput_bytes_per_second {
            0 => Duration::ZERO,
            rate => Duration::from_secs(bytes.div_ceil(rate)),
        }
    }
}

/// The error for a deadline that passed.
pub(crate) fn no_answer(operation: &'static str, waited: Duration) -> Error {
    Error::Unavailable {
        operation,
        message: format!("no answer within {} s", seconds(waited)),
        source: None,
    }
}

/// `2`, `0.25`: seconds without trailing zeros.
fn seconds(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        return d.as_secs().to_string();
    }
    let text = format!("{:.3}", d.as_secs_f64());
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Runs `call` with `limit`, mapping an elapsed deadline to [`Error::Unavailable`].
pub(crate) async fn within<T>(
    operation: &'static str,
    limit: Duration,
    call: impl Future<Output = Result<T>>,
) -> Result<T> {
    tokio::time::timeout(limit, call)
        .await
        .unwrap_or_else(|_| Err(no_answer(operation, limit)))
}

/// A store whose every call has a deadline; one that passes is [`Error::Unavailable`].
///
/// A call that sends one request gets [`StoreTimeouts::operation`]. Calls whose work
/// grows with the data get more, each in proportion to what it is known to need:
///
/// - `put` and `put_if` add the time their body takes at
///   [`StoreTimeouts::min_throughput_bytes_per_second`];
/// - `get` and `get_versioned` that outlive `operation` ask the store for the object's
///   size (within [`StoreTimeouts::attempt`]) and may then run for `operation` plus the
///   body's time;
/// - a streamed body must deliver each chunk within `attempt` of the previous one;
/// - `delete_many` gets one `operation` per 1000 keys, `rename` two (a copy and a delete);
/// - `list_all` and `reclaim_incomplete_writes` walk everything under a prefix, whose
///   size nobody knows beforehand: they keep running in steps of `operation` while the
///   store still answers a `head` within `attempt`, up to thirty steps (ten minutes
///   with the defaults).
///
/// A call cut off here may still complete in the background (a filesystem call runs on
/// a blocking thread that cannot be interrupted; a request already sent may still land),
/// which is harmless: every write is atomic and every delete idempotent.
#[derive(Debug, Clone)]
pub struct DeadlineStore {
    inner: DynStore,
    timeouts: StoreTimeouts,
}

impl DeadlineStore {
    /// Puts `timeouts` around every call to `inner`.
    pub fn new(inner: DynStore, timeouts: StoreTimeouts) -> Self {
        Self { inner, timeouts }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &DynStore {
        &self.inner
    }

    /// The deadlines in force.
    pub fn timeouts(&self) -> &StoreTimeouts {
        &self.timeouts
    }

    /// Reads a whole object: within `operation`, or, when that passes, within `operation`
    /// plus the body's time at the minimum throughput.
    async fn read_whole<T>(
        &self,
        operation: &'static str,
        key: &Key,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let started = Instant::now();
        tokio::pin!(call);
        if let Ok(result) = tokio::time::timeout(self.timeouts.operation, &mut call).await {
            return result;
        }
        // Slow: a large body on a working link, or a store that stopped answering. The
        // object's size tells them apart; the read goes on while the size is asked.
        let size = tokio::select! {
            result = &mut call => return result,
            meta = tokio::time::timeout(self.timeouts.attempt, self.inner.head(key)) => match meta {
                Ok(Ok(meta)) => meta.size,
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(no_answer(operation, started.elapsed())),
            },
        };
        let limit = self.timeouts.operation + self.timeouts.body_allowance(size);
        match tokio::time::timeout_at(started + limit, call).await {
            Ok(result) => result,
            Err(_) => Err(no_answer(operation, limit.max(started.elapsed()))),
        }
    }

    /// Runs a walk of a whole prefix: in steps of `operation`, for as long as the store
    /// still answers a `head` within `attempt` between steps.
    async fn long_call<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let step = self.timeouts.operation;
        let started = Instant::now();
        let probe_key = Key::new(PROBE_KEY)?;
        tokio::pin!(call);
        for _ in 1..LONG_CALL_STEPS {
            if let Ok(result) = tokio::time::timeout(step, &mut call).await {
                return result;
            }
            let probe = tokio::time::timeout(self.timeouts.attempt, self.inner.head(&probe_key));
            tokio::select! {
                result = &mut call => return result,
                answer = probe => {
                    // Any answer, "not found" or "forbidden" included, shows the store alive;
                    // without one the walk is stuck, not slow.
                    if matches!(answer, Err(_) | Ok(Err(Error::Unavailable { .. }))) {
                        return Err(no_answer(operation, started.elapsed()));
                    }
                }
            }
        }
        match tokio::time::timeout(step, call).await {
            Ok(result) => result,
            Err(_) => Err(no_answer(operation, started.elapsed())),
        }
    }
}

#[async_trait]
impl ObjectStore for DeadlineStore {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    async fn put(&self, key: &Key, body: Bytes) -> Result<ObjectMeta> {
        let limit = self.timeouts.operation + self.timeouts.body_allowance(body.len() as u64);
        within("put", limit, self.inner.put(key, body)).await
    }

    async fn get_stream(&self, key: &Key, range: Option<Range<u64>>) -> Result<GetStream> {
        let stream = within(
            "get_stream",
            self.timeouts.operation,
            self.inner.get_stream(key, range),
        )
        .await?;
        let idle = self.timeouts.attempt;
        let body = futures::stream::unfold(Some(stream.body), move |state| async move {
            let mut body = state?;
            match tokio::time::timeout(idle, body.next()).await {
                Ok(Some(chunk)) => Some((chunk, Some(body))),
                Ok(None) => None,
                // A stalled body ends with an error rather than a silently short object.
                Err(_) => Some((Err(no_answer("get_stream", idle)), None)),
            }
        })
        .boxed();
        Ok(GetStream { body, ..stream })
    }

    async fn get(&self, key: &Key) -> Result<Bytes> {
        self.read_whole("get", key, self.inner.get(key)).await
    }

    async fn get_versioned(&self, key: &Key) -> Result<(Bytes, Version)> {
        self.read_whole("get_versioned", key, self.inner.get_versioned(key))
            .await
    }

    async fn put_if(&self, key: &Key, body: Bytes, condition: Precondition) -> Result<ObjectMeta> {
        let limit = self.timeouts.operation + self.timeouts.body_allowance(body.len() as u64);
        within("put_if", limit, self.inner.put_if(key, body, condition)).await
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        within("head", self.timeouts.operation, self.inner.head(key)).await
    }

    async fn delete(&self, key: &Key) -> Result<()> {
        within("delete", self.timeouts.operation, self.inner.delete(key)).await
    }

    async fn delete_many(&self, keys: &[Key]) -> Result<()> {
        let batches = u32::try_from(keys.len().div_ceil(DELETE_BATCH).max(1)).unwrap_or(u32::MAX);
        let limit = self.timeouts.operation.saturating_mul(batches);
        within("delete_many", limit, self.inner.delete_many(keys)).await
    }

    async fn list(&self, prefix: &KeyPrefix, options: ListOptions) -> Result<ListPage> {
        within(
            "list",
            self.timeouts.operation,
            self.inner.list(prefix, options),
        )
        .await
    }

    async fn list_all(&self, prefix: &KeyPrefix, delimiter: bool) -> Result<Listing> {
        self.long_call("list_all", self.inner.list_all(prefix, delimiter))
            .await
    }

    async fn copy(&self, from: &Key, to: &Key) -> Result<()> {
        within("copy", self.timeouts.operation, self.inner.copy(from, to)).await
    }

    async fn rename(&self, from: &Key, to: &Key) -> Result<()> {
        let limit = self.timeouts.operation.saturating_mul(2);
        within("rename", limit, self.inner.rename(from, to)).await
    }

    async fn reclaim_incomplete_writes(&self, older_than: Duration) -> Result<ReclaimReport> {
        self.long_call(
            "reclaim_incomplete_writes",
            self.inner.reclaim_incomplete_writes(older_than),
        )
        .await
    }

    async fn presigned_get(&self, key: &Key, expires_in: Duration) -> Result<Option<String>> {
        // Signing may resolve credentials (an instance role), which can stall.
        within(
            "presigned_get",
            self.timeouts.operation,
            self.inner.presigned_get(key, expires_in),
        )
        .await
    }
}

#[cfg(test)]
#[path = "deadline_tests.rs"]
mod tests;
