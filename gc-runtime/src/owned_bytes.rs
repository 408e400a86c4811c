//! Owned bytes: memory that GC objects own outside the GC heap, counted for the pacer.
//!
//! # Why
//!
//! The pacer starts a cycle when the heap reaches its trigger (`collector/pacer.rs`). A GC
//! object that owns a large buffer through the global allocator is small in the heap: a
//! `GcVec` of a million elements is a few dozen bytes of object and 8 MB of buffer. Counting
//! only the objects, a program that keeps making such vectors and dropping them allocated
//! 2 GB of buffers without the pacer starting a single cycle, since the objects themselves
//! stayed far below the 4 MiB minimum heap — and the buffers are freed only when a cycle finds
//! their objects dead. Go has no such gap (its slices' arrays are in the heap); V8 and .NET ask
//! the embedder to report external memory for the same reason.
//!
//! # What is counted
//!
//! The buffers and tables of the collections — every [`SharedSlice`](crate::shared_slice)
//! (the slot arrays of `GcVec` and the tables of `GcMap`, `GcIdMap` and `GcWeakMap`: their
//! elements' bytes, from the length the marker reads anyway), the hash table of a `GcValueMap`
//! (hashbrown's allocation size) and the vector of a `GcValueVec` (its capacity) — charged when
//! they are allocated or grow and released when they are replaced or freed. (A replaced buffer that lock-free
//! readers may still hold is `Stats::retired_bytes` until it is freed.) `GcMap`'s boxed keys,
//! and memory that elements or keys own in turn, are not counted.
//!
//! # How the pacer uses it
//!
//! The pacer's heap is the GC heap plus the owned bytes (`Runtime::paced_bytes`): the trigger
//! is compared to it, and a charge that grows it checks the trigger as a page refill does (a
//! program that only grows buffers allocates no pages). The live heap a cycle leaves — its
//! `heap_marked` — counts the owned bytes of the collections the marking reached (each
//! collection reports its buffers' size to the marker on its first visit of the cycle,
//! `Tracer::owned_bytes`: a few instructions per collection, from words the scan reads anyway) and those charged while it marked (as objects allocated black count),
//! so the goal is the GOGC rule over both. The memory limit still bounds the GC heap alone: a
//! collection's growth is never refused.
//!
//! The counters are two process-wide atomics (one runtime per process). A collection charges
//! only when its capacity changes, which doubling makes rare, so they see little traffic.

use std::sync::{
    atomic::{AtomicU64, AtomicUsize, Ordering},
    OnceLock,
};

/// Bytes owned outside the heap now.
static OWNED: AtomicUsize = AtomicUsize::new(0);

/// Every byte ever charged (a running total: two readings bracket what was charged between).
static CHARGED: AtomicU64 = AtomicU64::new(0);

/// What a charge calls once the runtime has started: its check of the pacer's trigger. The
/// runtime sets it (`runtime.rs`); this module sits below the runtime and the pacer, with the
/// buffers that charge it.
static ON_CHARGE: OnceLock<fn()> = OnceLock::new();

/// Have every charge call `check` (the runtime's trigger check); the first call wins.
pub(crate) fn on_charge(check: fn()) {
    let _ = ON_CHARGE.set(check);
}

/// Count `bytes` newly owned outside the heap, and start a cycle if the pacer's heap reached
/// its trigger.
pub(crate) fn charge(bytes: usize) {
    if bytes == 0 {
        return;
    }
    OWNED.fetch_add(bytes, Ordering::Relaxed);
    CHARGED.fetch_add(bytes as u64, Ordering::Relaxed);
    if let Some(check) = ON_CHARGE.get() {
        check();
    }
}

/// Count `bytes` no longer owned (freed, or retired for the lock-free readers).
pub(crate) fn release(bytes: usize) {
    if bytes != 0 {
        OWNED.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// Count a buffer of `old` bytes replaced by one of `new` bytes.
pub(crate) fn resize(old: usize, new: usize) {
    if new > old {
        charge(new - old);
    } else {
        release(old - new);
    }
}

/// Bytes owned outside the heap now.
pub(crate) fn current() -> usize {
    OWNED.load(Ordering::Relaxed)
}

/// Every byte charged so far.
pub(crate) fn charged_total() -> u64 {
    CHARGED.load(Ordering::Relaxed)
}

/// What one collection has charged: kept beside the buffer whose size it follows, so that a
/// change of capacity charges or releases the difference and the collection's end releases the
/// rest. For the buffers whose owner knows its size only under its lock (`GcValueMap`'s table,
/// `GcValueVec`'s vector): the owner calls [`Charged::set`] after each change, under the write
/// lock; the marker reads [`Charged::get`] under the read lock.
pub(crate) struct Charged(AtomicUsize);

impl Charged {
    /// Charge a new buffer of `bytes`.
    pub(crate) fn new(bytes: usize) -> Charged {
        charge(bytes);
        Charged(AtomicUsize::new(bytes))
    }

    /// Follow a buffer that now has `bytes` (charge or release the difference).
    pub(crate) fn set(&self, bytes: usize) {
        let old = self.0.load(Ordering::Relaxed);
        if old != bytes {
            self.0.store(bytes, Ordering::Relaxed);
            resize(old, bytes);
        }
    }

    /// The bytes charged.
    pub(crate) fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

impl Drop for Charged {
    fn drop(&mut self) {
        release(*self.0.get_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_charge_follows_its_buffer_and_is_released_with_it() {
        // Other tests run beside this one and charge too: compare what this one's own charge
        // adds to the running total, which only grows.
        let total = charged_total();
        let c = Charged::new(0);
        c.set(1000);
        assert_eq!(c.get(), 1000);
        assert!(charged_total() - total >= 1000);
        c.set(400);
        c.set(4000);
        assert_eq!(c.get(), 4000);
        assert!(charged_total() - total >= 4600, "growth charges the difference");
        drop(c);
    }
}
