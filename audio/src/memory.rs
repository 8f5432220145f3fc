//! A process-wide budget for the audio that requests hold in memory (uploaded bytes,
//! decoded samples, encoded output), so that many large requests together cannot exhaust
//! the machine: each request takes a [`Lease`] and reserves before it allocates.
//!
//! Reservations fail fast instead of waiting: a request that does not fit now gets
//! [`AudioError::MemoryBusy`] (the handler answers 503 with `Retry-After`), and one whose
//! own total could never fit gets [`AudioError::MemoryTooLarge`] (413). Everything a lease
//! holds returns to the budget when it is dropped, so a request that fails or whose
//! client leaves gives its memory back.

use std::ops::Deref;
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

/// Bytes reserved on a lease for a buffer this crate allocates itself (a resampled copy,
/// a work buffer), returned when the guard is dropped, whichever way the step ends.
#[derive(Debug)]
pub(crate) struct Reservation<'l> {
    lease: &'l Lease,
    bytes: u64,
}

impl<'l> Reservation<'l> {
    /// Reserves `bytes` on `lease`.
    pub(crate) fn new(lease: &'l Lease, bytes: u64) -> Result<Self, AudioError> {
        lease.reserve(bytes)?;
        Ok(Self { lease, bytes })
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.lease.release(self.bytes);
    }
}

/// A `Vec` whose capacity is reserved on a [`Lease`] before the vector grows, so that an
/// allocation the budget cannot afford never happens. Dropping it returns the capacity to
/// the lease; [`LeasedVec::into_held`] hands the vector out with its bytes still held
/// (the new owner answers for them: `capacity() * size_of::<T>()` bytes).
///
/// `L` is `&Lease` or `Arc<Lease>`, whichever the owner keeps.
#[derive(Debug)]
pub(crate) struct LeasedVec<T, L: Deref<Target = Lease>> {
    vec: Vec<T>,
    lease: L,
    /// Bytes reserved for `vec`'s capacity: always `vec.capacity() * size_of::<T>()`.
    held: u64,
}

impl<T, L: Deref<Target = Lease>> LeasedVec<T, L> {
    /// An empty vector (no allocation, nothing reserved).
    pub(crate) fn new(lease: L) -> Self {
        Self {
            vec: Vec::new(),
            lease,
            held: 0,
        }
    }

    /// Makes room for `additional` more elements, growing geometrically (1.5x, so that a
    /// buffer filled packet by packet reallocates O(log n) times) but never past
    /// `max_len` elements unless `additional` itself needs more. The growth is reserved
    /// on the lease first; a refusal leaves the vector as it was.
    pub(crate) fn reserve(&mut self, additional: usize, max_len: usize) -> Result<(), AudioError> {
        let needed = self.vec.len().saturating_add(additional);
        let capacity = self.vec.capacity();
        if needed <= capacity {
            return Ok(());
        }
        let geometric = capacity.saturating_add(capacity / 2).min(max_len);
        self.grow_to(needed.max(geometric))
    }

    /// Makes room for exactly `additional` more elements (for sizes known up front).
    pub(crate) fn reserve_exact(&mut self, additional: usize) -> Result<(), AudioError> {
        let needed = self.vec.len().saturating_add(additional);
        if needed <= self.vec.capacity() {
            return Ok(());
        }
        self.grow_to(needed)
    }

    fn grow_to(&mut self, capacity: usize) -> Result<(), AudioError> {
        let size = std::mem::size_of::<T>() as u64;
        let delta = (capacity - self.vec.capacity()) as u64 * size;
        self.lease.reserve(delta)?;
        self.held += delta;
        self.vec.reserve_exact(capacity - self.vec.len());
        // The allocator may hand out more than asked; the lease counts what is really held.
        let actual = self.vec.capacity() as u64 * size;
        if actual > self.held {
            let extra = actual - self.held;
            self.lease.reserve(extra)?;
            self.held += extra;
        }
        Ok(())
    }

    /// Gives back unused capacity (a buffer sized for a claim that the data did not fill,
    /// or the last geometric step) and its reservation.
    pub(crate) fn shrink_to_fit(&mut self) {
        if self.vec.capacity() == self.vec.len() {
            return;
        }
        self.vec.shrink_to_fit();
        let actual = self.vec.capacity() as u64 * std::mem::size_of::<T>() as u64;
        if actual < self.held {
            self.lease.release(self.held - actual);
            self.held = actual;
        }
    }

    /// The elements.
    pub(crate) fn as_slice(&self) -> &[T] {
        &self.vec
    }

    /// The vector itself, to fill within the capacity reserved with [`LeasedVec::reserve`]
    /// (growing it further through this reference would allocate past the lease).
    pub(crate) fn vec_mut(&mut self) -> &mut Vec<T> {
        &mut self.vec
    }

    /// Hands the vector out with its capacity still held on the lease.
    pub(crate) fn into_held(mut self) -> Vec<T> {
        self.held = 0;
        std::mem::take(&mut self.vec)
    }
}

impl<T, L: Deref<Target = Lease>> Drop for LeasedVec<T, L> {
    fn drop(&mut self) {
        self.lease.release(self.held);
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
    fn a_leased_vec_reserves_its_capacity_before_growing() {
        let budget = MemoryBudget::new(1000);
        let lease = budget.lease();
        let mut v: LeasedVec<f32, &Lease> = LeasedVec::new(&lease);
        v.reserve(10, usize::MAX).unwrap();
        assert_eq!(lease.held_bytes(), v.vec_mut().capacity() as u64 * 4);
        v.vec_mut().extend_from_slice(&[1.0; 10]);
        // Geometric: 10 more on a capacity of 10 asks for 20, then 30 (1.5x).
        v.reserve(10, usize::MAX).unwrap();
        assert_eq!(v.vec_mut().capacity(), 20);
        v.vec_mut().extend_from_slice(&[2.0; 10]);
        v.reserve(1, usize::MAX).unwrap();
        assert_eq!(v.vec_mut().capacity(), 30);
        // Capped by `max_len` unless the request itself needs more.
        v.vec_mut().resize(30, 0.0);
        v.reserve(1, 31).unwrap();
        assert_eq!(v.vec_mut().capacity(), 31);
        assert_eq!(lease.held_bytes(), 31 * 4);
        // A refusal leaves the vector and the lease as they were.
        assert!(matches!(
            v.reserve_exact(1000),
            Err(AudioError::MemoryTooLarge { .. })
        ));
        assert_eq!(v.vec_mut().capacity(), 31);
        assert_eq!(lease.held_bytes(), 31 * 4);
        drop(v);
        assert_eq!(budget.used_bytes(), 0);

        // Handed out, the bytes stay held until released.
        let mut v: LeasedVec<u8, &Lease> = LeasedVec::new(&lease);
        v.reserve_exact(100).unwrap();
        let bytes = v.into_held();
        assert_eq!(lease.held_bytes(), bytes.capacity() as u64);
        lease.release(bytes.capacity() as u64);
        assert_eq!(budget.used_bytes(), 0);

        let reservation = Reservation::new(&lease, 600).unwrap();
        assert!(Reservation::new(&lease, 600).is_err());
        drop(reservation);
        assert_eq!(budget.used_bytes(), 0);
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
