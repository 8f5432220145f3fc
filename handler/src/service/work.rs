//! Engine work that holds its generation slot for as long as it runs and stops once
//! nobody waits for it.
//!
//! A request's future is dropped when its client disconnects or the request times out;
//! the blocking thread doing the synthesis is not. So the slot (a semaphore permit) is
//! moved into the blocking closure, where it stays until the work really ends, and a
//! [`StopSignal`] raised by the dropped future tells the work to stop at its next
//! sentence, chunk or token. Admission control therefore counts abandoned work until it
//! has stopped, and abandoned work stops within one step.
//!
//! This applies to every response mode: a `response_mode=url` generation whose client
//! has gone stops too, since nobody will read its answer (a request that finished its
//! audio and began publishing finishes the publish: see `service::publish`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::OwnedSemaphorePermit;

use crate::error::{Error, Result};

/// A generation slot, shared by the request and the work it started: released when both
/// have let go of it.
pub type Slot = Arc<OwnedSemaphorePermit>;

/// Raised when the request that started some work is gone.
#[derive(Debug, Clone, Default)]
pub struct StopSignal(Arc<AtomicBool>);

impl StopSignal {
    /// Whether the work should stop.
    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// `Err(Error::Abandoned)` once raised: the check between steps.
    pub fn check(&self) -> Result<()> {
        if self.is_raised() {
            Err(Error::Abandoned)
        } else {
            Ok(())
        }
    }

    /// The flag the engines poll between tokens and chunks.
    pub fn flag(&self) -> &AtomicBool {
        &self.0
    }

    fn raise(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Raises the signal when dropped unless disarmed: dropped with the request's future.
struct RaiseOnDrop(Option<StopSignal>);

impl Drop for RaiseOnDrop {
    fn drop(&mut self) {
        if let Some(signal) = self.0.take() {
            signal.raise();
        }
    }
}

/// Starts `f` on a blocking thread inside the caller's tracing span, so what it logs
/// carries the request's id: decoding, encoding, loading (work without a generation slot;
/// engine inference goes through [`run`]). Await the handle with [`joined`].
pub fn spawn_blocking_in_span<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> tokio::task::JoinHandle<T> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f))
}

/// The result of a task from [`spawn_blocking_in_span`]; a task that panicked is a 500
/// naming `what`.
pub async fn joined<T>(task: tokio::task::JoinHandle<T>, what: &str) -> Result<T> {
    task.await
        .map_err(|e| Error::Internal(format!("{what} failed: {e}")))
}

/// Runs `f` on a blocking thread inside the caller's tracing span (see
/// [`spawn_blocking_in_span`]) and waits for it.
pub async fn blocking<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    joined(spawn_blocking_in_span(f), what).await
}

/// Runs `work` on a blocking thread inside the caller's tracing span, holding `slot`
/// until `work` returns. If the awaiting future is dropped, `work`'s [`StopSignal`] is
/// raised; `work` should check it between steps and give up with [`Error::Abandoned`].
/// `on_abandoned` runs (on the blocking thread) when work stopped that way.
pub async fn run<T, F>(
    slot: Slot,
    on_abandoned: impl FnOnce() + Send + 'static,
    work: F,
) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&StopSignal) -> Result<T> + Send + 'static,
{
    let signal = StopSignal::default();
    let mut guard = RaiseOnDrop(Some(signal.clone()));
    let span = tracing::Span::current();
    let task = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let _entered = span.enter();
        let outcome = work(&signal);
        if signal.is_raised() && outcome.is_err() {
            tracing::info!("generation stopped: the client went away");
            on_abandoned();
        }
        outcome
    });
    let outcome = task
        .await
        .map_err(|e| Error::Internal(format!("engine task failed: {e}")));
    guard.0 = None;
    outcome?
}

#[cfg(test)]
mod tests {
    use tracing::Instrument;

    use super::*;

    /// Log lines of blocking work carry the request's span (its id, in production).
    #[tokio::test]
    async fn blocking_work_runs_inside_the_callers_span() {
        // Spans only get ids under a real subscriber; it must be global, since the work
        // runs on another thread. (Another test may have installed one first: also fine.)
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
        let request = tracing::info_span!("request", request_id = "abc");
        let outer = request.id();
        assert!(outer.is_some());
        // As a request's handler runs: inside its instrumented future.
        let inner = blocking("probe", || tracing::Span::current().id())
            .instrument(request.clone())
            .await
            .unwrap();
        assert_eq!(inner, outer);
        let spawned = {
            let _entered = request.enter();
            spawn_blocking_in_span(|| tracing::Span::current().id())
        };
        assert_eq!(joined(spawned, "probe").await.unwrap(), outer);
        // Outside any span, none is made up.
        assert_eq!(
            blocking("probe", || tracing::Span::current().id())
                .await
                .unwrap(),
            None
        );
    }
}
