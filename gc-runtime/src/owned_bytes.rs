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
//! The buffers and tables of the collections: the slot arrays of `GcVec` and the tables of
//! `GcMap`, `GcIdMap` and `GcWeakMap` (their elements' bytes), the hash table of a `GcValueMap`
//! (hashbrown's allocation size) and the vector of a `GcValueVec` (its capacity). `GcMap`'s
//! boxed keys, and memory that elements or keys own in turn, are not counted; nor is a replaced
//! buffer that lock-free readers may still hold (`Stats::retired_bytes` until it is freed).
//!
//! Only an *armed* collection charges — one inside an allocated object (`collections/mod.rs`,
//! "Armed and unarmed collections"), from the moment allocation arms it. An unarmed one (on
//! the stack, in an `Arc`, in a skipped field, forgotten) is outside the heap: no marking can
//! reach it, so counting it would raise the pacer's heap for good while no cycle could count it
//! live, and every cycle would start as soon as the last ended. Each collection keeps what it
//! charged beside its armed flag (`collections/slots.rs`, `Armed`), brings it up to date when a
//! writer lets go of its lock, and releases it when it is dropped.
//!
//! # How the pacer uses it
//!
//! The pacer's heap is the GC heap plus the owned bytes (`Runtime::paced_bytes`), less those a
//! marking found dead and the finalizer has not released yet ([`paced`]): the trigger is
//! compared to it, and a charge that grows it checks the trigger as a page refill does (a
//! program that only grows buffers allocates no pages). The live heap a cycle leaves — its
//! `heap_marked` — counts what the collections the marking reached have charged (each reports
//! it to the marker on its first visit of the cycle, `Tracer::owned_bytes`: a few instructions
//! per collection) plus every byte charged while it marked (as objects allocated black count),
//! never more than were owned when it terminated; so the goal is the GOGC rule over both. (The
//! *net* growth while marking was counted first; but the finalizer may release the previous
//! cycle's dead buffers meanwhile, which cancelled out the charges of objects allocated black,
//! and those were then taken for dead and left out of the pacer's heap.) The memory limit still bounds the GC heap alone: a collection's growth is never
//! refused.
//!
//! The counters are process-wide atomics (one runtime per process). A collection charges only
//! when its capacity changes, which doubling makes rare, so they see little traffic.

use std::sync::{
    atomic::{AtomicU64, AtomicUsize, Ordering},
    OnceLock,
};

/// Bytes owned outside the heap now.
static OWNED: AtomicUsize = AtomicUsize::new(0);

/// Every byte ever charged (a running total: two readings bracket what was charged between).
static CHARGED: AtomicU64 = AtomicU64::new(0);

/// Every byte ever released (a running total: two readings bracket what was released between).
static RELEASED: AtomicU64 = AtomicU64::new(0);

/// The value of [`RELEASED`] once every owned byte the last marking found dead is released:
/// until then, the difference is still owned by dead collections (see [`paced`]).
static DEAD_RELEASED_BY: AtomicU64 = AtomicU64::new(0);

/// What a charge calls once the runtime has started: its check of the pacer's trigger. The
/// runtime sets it (`runtime.rs`); this module sits below the runtime and the pacer, with the
/// collections that charge it.
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

/// Count `bytes` no longer owned (a buffer freed or shrunk).
pub(crate) fn release(bytes: usize) {
    if bytes != 0 {
        OWNED.fetch_sub(bytes, Ordering::Relaxed);
        RELEASED.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

/// Count a collection's buffers going from `old` bytes to `new`.
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

/// Every byte released so far.
pub(crate) fn released_total() -> u64 {
    RELEASED.load(Ordering::Relaxed)
}

/// A marking found `dead` owned bytes — owned when it terminated, by collections it did not
/// reach — when [`released_total`] read `released_then`. Their objects' destructors release
/// them, on the finalizer thread, some time after the sweep.
pub(crate) fn found_dead(dead: usize, released_then: u64) {
    DEAD_RELEASED_BY.store(released_then.saturating_add(dead as u64), Ordering::Relaxed);
}

/// The owned bytes the pacer counts: those owned now, less what the last marking found dead
/// and is not released yet. A dead collection's buffers go with its object's destructor, which
/// the finalizer runs after the sweep; counted until then, a few dead objects holding large
/// buffers would keep the pacer's heap over its goal for as long as the finalizer takes, and
/// every cycle in that time would start as soon as the last ended, finding nothing more.
pub(crate) fn paced() -> usize {
    let pending = DEAD_RELEASED_BY.load(Ordering::Relaxed).saturating_sub(released_total());
    current().saturating_sub(pending as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_bytes_are_left_out_until_they_are_released() {
        // The counters are process-wide and other tests charge beside this one: compare what
        // this test's own steps change, with room for theirs.
        charge(10_000);
        let released = released_total();
        found_dead(4000, released);
        let owned = current();
        assert!(paced() + 4000 <= owned && paced() + 4000 + 10_000 >= owned, "{} of {owned}", paced());
        release(3000);
        assert!(owned - 3000 - paced() <= 1000 + 10_000, "1,000 dead bytes still pending");
        release(7000);
        found_dead(0, released_total());
    }
}
