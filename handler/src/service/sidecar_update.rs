//! Read-modify-write of a JSON sidecar that loses no update when several replicas make it
//! at once (usage counts, metadata edits): the sidecar is read with its version, changed,
//! and written back only if nobody wrote it in between; otherwise the change is applied
//! again to what the other writer left. The bucket is the truth, so this works across any
//! number of processes, where a lock would only cover one.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use storage::{Key, ObjectStore, Precondition};

use super::area;
use crate::error::{Error, Result};

/// Tries before giving up (each a read and a conditional write).
const MAX_ATTEMPTS: u32 = 40;

/// Applies `change` to the sidecar of `object` (a default one when it has none or it is
/// unreadable) and stores the result; returns what was stored. Retries while other
/// writers come first; after [`MAX_ATTEMPTS`] it answers 503 `SERVER_BUSY`.
pub async fn update_sidecar<T, F>(store: &dyn ObjectStore, object: &Key, change: F) -> Result<T>
where
    T: Serialize + DeserializeOwned + Default,
    F: FnMut(&mut T),
{
    update_json(store, &area::sidecar_key(object)?, change).await
}

/// Like [`update_sidecar`] for any JSON object at `key` (usage statistics).
pub async fn update_json<T, F>(store: &dyn ObjectStore, key: &Key, change: F) -> Result<T>
where
    T: Serialize + DeserializeOwned + Default,
    F: FnMut(&mut T),
{
    update(store, key, change, true).await
}

/// [`update_json`] for a document that must already exist and be readable (a job's):
/// a missing one is a 404 and an unreadable one a 500, never replaced by a default.
pub async fn update_existing_json<T, F>(store: &dyn ObjectStore, key: &Key, change: F) -> Result<T>
where
    T: Serialize + DeserializeOwned + Default,
    F: FnMut(&mut T),
{
    update(store, key, change, false).await
}

async fn update<T, F>(store: &dyn ObjectStore, key: &Key, mut change: F, create: bool) -> Result<T>
where
    T: Serialize + DeserializeOwned + Default,
    F: FnMut(&mut T),
{
    for attempt in 0..MAX_ATTEMPTS {
        let (mut sidecar, condition) = match store.get_versioned(key).await {
            Ok((bytes, version)) => {
                let sidecar = match serde_json::from_slice(&bytes) {
                    Ok(sidecar) => sidecar,
                    Err(e) if create => {
                        tracing::warn!(key = %key, error = %e, "rewriting an unreadable sidecar");
                        T::default()
                    }
                    Err(e) => {
                        return Err(Error::Internal(format!("{key} is unreadable: {e}")));
                    }
                };
                (sidecar, Precondition::Matches(version))
            }
            Err(e) if e.is_not_found() && create => (T::default(), Precondition::Absent),
            Err(e) => return Err(e.into()),
        };
        change(&mut sidecar);
        match store
            .put_if(key, area::sidecar_bytes(&sidecar)?, condition)
            .await
        {
            Ok(_) => return Ok(sidecar),
            Err(e) if e.is_precondition_failed() => {
                tokio::time::sleep(backoff(attempt)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Busy {
        engine: "metadata",
        retry_after_seconds: 1,
    })
}

/// A short, growing, jittered pause, so writers that collided do not collide again.
fn backoff(attempt: u32) -> Duration {
    let ceiling_ms = 2u64.saturating_pow(attempt.min(6)).min(50);
    let jitter = uuid::Uuid::new_v4().as_u128() as u64 % (ceiling_ms + 1);
    Duration::from_millis(1 + jitter)
}
