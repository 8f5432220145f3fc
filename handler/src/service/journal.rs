//! Write intents, so that a crash at any instant leaves nothing cleanup cannot repair.
//!
//! Every write that spans several objects (an upload and its sidecar, every format of an
//! output with their sidecars, a voice moved to another folder) first records its plan as
//! `journal/<time>-<id>.json` and removes it when done. A writer that dies halfway (kill
//! -9, a lost machine) leaves its plan behind, and [`sweep`] settles it once it is older
//! than the grace period (longer than any live writer can take, since every store call
//! has a deadline):
//! - a **publish** whose objects all exist with the planned sizes is kept (the writer died
//!   after its last write); otherwise everything it wrote is removed, so no object is
//!   left without its sidecar and no sidecar lists a format that was never written;
//! - a **move** whose targets all exist is finished (the sources are deleted); otherwise
//!   the copies are removed and the voice stays where it was (never in two folders).
//!
//! The journal lives in the store, so any replica can settle any other's plans; settling
//! is idempotent, so two replicas sweeping at once agree.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use storage::{Key, KeyPrefix, ObjectStore};
use utoipa::ToSchema;

use crate::error::{Error, Result};

/// Where plans are kept.
pub const PREFIX: &str = "journal/";

/// One object a publish writes, with the size it will have when that is known up front.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Planned {
    /// The object's key.
    pub key: String,
    /// Its size once written; absent for a body still being made when the plan was
    /// recorded (objects are written whole or not at all, so existing is enough).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// One object a move places at a new key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Moved {
    /// Where it is now.
    pub from: String,
    /// Where it goes.
    pub to: String,
    /// The size it will have at `to`.
    pub size: u64,
}

/// What a multi-object write is about to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Plan {
    /// New objects that belong together: all of them, or none.
    Publish {
        /// Every object written, sidecars included.
        writes: Vec<Planned>,
    },
    /// Objects moved to new keys, plus objects that go away with the sources (a voice's
    /// cached conditioning).
    Move {
        /// The moves.
        moves: Vec<Moved>,
        /// Keys deleted once the move is complete.
        drop: Vec<String>,
    },
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    created: DateTime<Utc>,
    #[serde(flatten)]
    plan: Plan,
}

/// A recorded plan; [`Intent::done`] removes it once the write is complete.
#[derive(Debug)]
#[must_use = "an intent must be closed with done() once its writes are complete"]
pub struct Intent {
    key: Key,
}

impl Intent {
    /// Records `plan` before any of its writes.
    pub async fn begin(store: &dyn ObjectStore, plan: Plan) -> Result<Self> {
        let now = Utc::now();
        let key = Key::new(format!(
            "{PREFIX}{}-{}.json",
            now.format("%Y%m%dT%H%M%S%.6fZ"),
            uuid::Uuid::new_v4().simple()
        ))?;
        let body = serde_json::to_vec(&Record { created: now, plan })
            .map_err(|e| Error::Internal(format!("journal encoding: {e}")))?;
        store.put(&key, Bytes::from(body)).await?;
        Ok(Self { key })
    }

    /// Removes the plan. A failure is only logged: a plan left behind whose writes are
    /// complete is settled as complete.
    pub async fn done(self, store: &dyn ObjectStore) {
        if let Err(e) = store.delete(&self.key).await {
            tracing::warn!(key = %self.key, error = %e, "could not remove a finished write plan");
        }
    }
}

/// Runs a multi-object write on its own task and waits for it. If the request that started
/// it goes away (client disconnect, 408), the write still runs to its end, so it never
/// stops between an object and its sidecar.
pub async fn detached<T: Send + 'static>(
    write: impl std::future::Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    tokio::spawn(write)
        .await
        .map_err(|e| Error::Internal(format!("write task failed: {e}")))?
}

/// What a sweep did.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct SweepReport {
    /// Plans of dead writers whose writes turned out complete (kept).
    pub completed: usize,
    /// Plans of dead writers that were undone (or, for moves, finished).
    pub repaired: usize,
    /// Objects removed while settling them, as keys.
    pub removed: Vec<String>,
    /// Plans younger than the grace period, left to their writers.
    pub pending: usize,
    /// Failures, one line each; the plan stays for the next sweep.
    pub errors: Vec<String>,
}

/// Settles every plan older than `grace`.
pub async fn sweep(store: &dyn ObjectStore, grace: Duration) -> SweepReport {
    let mut report = SweepReport::default();
    let prefix = match KeyPrefix::new(PREFIX) {
        Ok(prefix) => prefix,
        Err(e) => {
            report.errors.push(e.to_string());
            return report;
        }
    };
    let listing = match storage::list_all(store, &prefix, false).await {
        Ok(listing) => listing,
        Err(e) => {
            report
                .errors
                .push(format!("listing the journal failed: {e}"));
            return report;
        }
    };
    let cutoff = Utc::now() - chrono::Duration::from_std(grace).unwrap_or_default();
    for object in listing.objects {
        if let Err(e) = settle(store, &object.key, cutoff, &mut report).await {
            report.errors.push(format!("{}: {e}", object.key));
        }
    }
    report
}

async fn settle(
    store: &dyn ObjectStore,
    key: &Key,
    cutoff: DateTime<Utc>,
    report: &mut SweepReport,
) -> Result<()> {
    let bytes = match store.get(key).await {
        Ok(bytes) => bytes,
        // Its writer (or another sweeper) finished in the meantime.
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let record: Record = match serde_json::from_slice(&bytes) {
        Ok(record) => record,
        Err(e) => {
            tracing::warn!(key = %key, error = %e, "removing an unreadable write plan");
            store.delete(key).await?;
            return Ok(());
        }
    };
    if record.created > cutoff {
        report.pending += 1;
        return Ok(());
    }
    match record.plan {
        Plan::Publish { writes } => {
            if all_present(store, writes.iter().map(|w| (w.key.as_str(), w.size))).await? {
                report.completed += 1;
            } else {
                let keys = keys_of(writes.iter().map(|w| w.key.as_str()))?;
                remove(store, &keys, report).await?;
                report.repaired += 1;
                tracing::warn!(plan = %key, "undid an interrupted write");
            }
        }
        Plan::Move { moves, drop } => {
            if all_present(store, moves.iter().map(|m| (m.to.as_str(), Some(m.size)))).await? {
                // The copies are complete: finish by removing the sources.
                let sources = keys_of(
                    moves
                        .iter()
                        .map(|m| m.from.as_str())
                        .chain(drop.iter().map(String::as_str)),
                )?;
                remove(store, &sources, report).await?;
            } else if let Some(primary) = moves.first() {
                // Undo, while the moved object is still where it was (it always is until
                // every copy is in place; never remove its only copy).
                if crate::service::area::exists(store, &Key::new(primary.from.as_str())?).await? {
                    let copies = keys_of(moves.iter().map(|m| m.to.as_str()))?;
                    remove(store, &copies, report).await?;
                }
            }
            report.repaired += 1;
            tracing::warn!(plan = %key, "settled an interrupted move");
        }
    }
    store.delete(key).await?;
    Ok(())
}

/// Whether every `(key, size)` exists, with that size where one is given.
async fn all_present<'a>(
    store: &dyn ObjectStore,
    expected: impl Iterator<Item = (&'a str, Option<u64>)>,
) -> Result<bool> {
    for (key, size) in expected {
        match store.head(&Key::new(key)?).await {
            Ok(meta) if size.is_none_or(|size| meta.size == size) => {}
            Ok(_) => return Ok(false),
            Err(e) if e.is_not_found() => return Ok(false),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(true)
}

fn keys_of<'a>(keys: impl Iterator<Item = &'a str>) -> Result<Vec<Key>> {
    keys.map(|k| Key::new(k).map_err(Error::from)).collect()
}

async fn remove(store: &dyn ObjectStore, keys: &[Key], report: &mut SweepReport) -> Result<()> {
    store.delete_many(keys).await?;
    report.removed.extend(keys.iter().map(Key::to_string));
    Ok(())
}
