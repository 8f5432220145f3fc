//! A process-wide budget for the audio that requests hold in memory (uploaded bytes,
//! decoded samples, encoded output), so that many large requests together cannot exhaust
//! the machine: each request takes a [`Lease`] and reserves before it allocates.
//!
//! Reservations fail fast instead of waiting: a request that does not fit now gets
//! [`AudioError::MemoryBusy`] (the handler answers 503 with `Retry-After`), and one whose
//! own total could never fit gets [`AudioError::MemoryTooLarge`] (413). Everything a lease
//! holds returns to the budget when it is dropped, so a request that fails or whose
//! client leaves gives its memory back.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::AudioError;

/// The ceiling shared by every request of the process.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: u64,
    used: AtomicU64,
    peak: AtomicU64,
}

impl MemoryBudget {
    /// A budget of `limit_bytes` (`u64::MAX` for no limit).
    pub fn new(limit_bytes: u64) -> Arc<Self> {
        Arc::new(Self {
            limit: limit_bytes,
            used: AtomicU64::new(0),
            peak: AtomicU64::new(0),
        })
    }

    /// The ceiling in bytes.
    pub fn limit_bytes(&self) -> u64 {
        self.limit
    }

    /// Bytes reserved right now, over all leases.
    pub fn used_bytes(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// The most ever reserved at once since the budget was made.
    pub fn peak_bytes(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    /// A new, empty lease for one request.
    pub fn lease(self: &Arc<Self>) -> Lease {
        Lease {
            budget: Arc::clone(self),
            held: AtomicU64::new(0),
        }
    }

    fn take(&self, bytes: u64) -> Result<(), AudioError> {
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            let wanted = used.saturating_add(bytes);
            if wanted > self.limit {
                return Err(AudioError::MemoryBusy {
                    requested_bytes: bytes,
                    available_bytes: self.limit.saturating_sub(used),
                });
            }
            match self
                .used
                .compare_exchange_weak(used, wanted, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    self.peak.fetch_max(wanted, Ordering::Relaxed);
                    return Ok(());
                }
                Err(actual) => used = actual,
            }
        }
    }

    fn give_back(&self, bytes: u64) {
        // Never below zero, whatever a caller releases.
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |used| {
                Some(used.saturating_sub(bytes))
            });
    }
}

/// One request's share of a [`MemoryBudget`]; everything it holds is returned on drop.
#[derive(Debug)]
pub struct Lease {
    budget: Arc<MemoryBudget>,
    held: AtomicU64,
}

impl Lease {
    /// A lease on a budget of its own without a limit (tools, tests, callers that bound
    /// memory otherwise).
    pub fn unlimited() -> Self {
        MemoryBudget::new(u64::MAX).lease()
    }

    /// Reserves `bytes` before they are allocated.
    pub fn reserve(&self, bytes: u64) -> Result<(), AudioError> {
        if bytes == 0 {
            return Ok(());
        }
        let held = self.held.load(Ordering::Relaxed);
        let needed = held.saturating_add(bytes);
        if needed > self.budget.limit {
            return Err(AudioError::MemoryTooLarge {
                needed_bytes: needed,
                limit_bytes: self.budget.limit,
            });
        }
        self.budget.take(bytes)?;
        self.held.fetch_add(bytes, Ordering::Relaxed);
        Ok(())
    }

    /// Returns `bytes` (at most what the lease holds) once they are freed.
    pub fn release(&self, bytes: u64) {
        let returned = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |held| {
                Some(held.saturating_sub(bytes))
            })
            .map(|held| held.min(bytes))
            .unwrap_or(0);
        self.budget.give_back(returned);
    }

    /// Bytes this lease holds.
    pub fn held_bytes(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }

    /// The budget this lease draws on.
    pub fn budget(&self) -> &Arc<MemoryBudget> {
        &self.budget
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.budget.give_back(*self.held.get_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_share_the_ceiling_and_return_it_on_drop() {
        let budget = MemoryBudget::new(1000);
        let a = budget.lease();
        let b = budget.lease();
        a.reserve(600).unwrap();
        assert!(matches!(
            b.reserve(500),
            Err(AudioError::MemoryBusy {
                requested_bytes: 500,
                available_bytes: 400
            })
        ));
        b.reserve(400).unwrap();
        assert_eq!(budget.used_bytes(), 1000);
        drop(a);
        assert_eq!(budget.used_bytes(), 400);
        b.release(100);
        assert_eq!(b.held_bytes(), 300);
        assert_eq!(budget.used_bytes(), 300);
        // Releasing more than held returns only what was held.
        b.release(10_000);
        assert_eq!(budget.used_bytes(), 0);
        assert_eq!(budget.peak_bytes(), 1000);
    }

    #[test]
    fn a_request_larger_than_the_whole_budget_can_never_fit() {
        let budget = MemoryBudget::new(1000);
        let lease = budget.lease();
        lease.reserve(800).unwrap();
        assert!(matches!(
            lease.reserve(300),
            Err(AudioError::MemoryTooLarge {
                needed_bytes: 1100,
                limit_bytes: 1000
            })
        ));
        assert_eq!(budget.used_bytes(), 800);
    }

    #[test]
    fn concurrent_reservations_never_pass_the_ceiling() {
        let budget = MemoryBudget::new(10_000);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    let lease = budget.lease();
                    for _ in 0..1000 {
                        if lease.reserve(7).is_ok() {
                            assert!(budget.used_bytes() <= 10_000);
                        }
                    }
                });
            }
        });
        assert_eq!(budget.used_bytes(), 0);
        assert!(budget.peak_bytes() <= 10_000);
    }
}
