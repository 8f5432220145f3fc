//! Idle long-lived `espeak-ng` processes, per voice.
//!
//! A request takes a process out for its whole duration and gives it back afterwards, so
//! concurrent requests never share one (each gets an idle one or starts its own) and the
//! lock is held only to push or pop.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::process::EspeakProcess;

/// Idle processes kept per voice. Requests on one voice are serialised by the engine in
/// the common case, so one is enough; the second absorbs an occasional overlap without
/// starting a process each time. Any more are stopped when given back.
const MAX_IDLE_PER_VOICE: usize = 2;

/// Idle processes by voice name.
#[derive(Default)]
pub(super) struct Pool {
    idle: Mutex<HashMap<String, Vec<EspeakProcess>>>,
}

impl Pool {
    /// An idle process for `voice`, if there is one.
    pub(super) fn take(&self, voice: &str) -> Option<EspeakProcess> {
        self.lock().get_mut(voice)?.pop()
    }

    /// Keeps `process` for the next request on `voice`, or stops it if enough are idle.
    pub(super) fn give_back(&self, voice: &str, process: EspeakProcess) {
        let surplus = {
            let mut idle = self.lock();
            let processes = idle.entry(voice.to_owned()).or_default();
            if processes.len() < MAX_IDLE_PER_VOICE {
                processes.push(process);
                None
            } else {
                Some(process)
            }
        };
        // Stopped (by its Drop) outside the lock: killing and reaping is a system call or two.
        drop(surplus);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Vec<EspeakProcess>>> {
        // The map is consistent after any panic (only whole pushes and pops happen under
        // the lock), so a poisoned lock is still usable.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `try_lock`: formatting must not wait for (or deadlock on) a request in progress.
        let idle: Option<Vec<(String, usize)>> = self.idle.try_lock().ok().map(|idle| {
            idle.iter()
                .map(|(voice, processes)| (voice.clone(), processes.len()))
                .collect()
        });
        f.debug_struct("Pool").field("idle", &idle).finish()
    }
}
