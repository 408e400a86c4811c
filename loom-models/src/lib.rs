//! Model checks of the collector's concurrency protocols with [loom].
//!
//! loom runs a closure under every interleaving of its threads (up to a preemption bound) and
//! every outcome the C++11 memory model allows for its atomics. This crate compiles the
//! protocol modules of `gc-runtime` **from their own source files** (the `#[path]` modules
//! below), with `cfg(gc_loom)` set by `build.rs`: `primitive.rs` then names loom's atomics,
//! mutex and condition variable, and everything else is the production code, unchanged.
//!
//! | model | protocol | file |
//! |---|---|---|
//! | handshake | stop-the-world against mutators attaching, detaching and polling | `models/handshake.rs` |
//! | barrier | a mutator moving a pointer while the marker scans, for each barrier; two mutators racing on one slot | `models/barrier.rs` |
//! | mutator marks | a mutator allocating black, or assisting the marking, beside a mark worker that owns the word and stores it plainly; the log set again after a termination round | `models/mutator_marks.rs` |
//! | termination | ragged flush and the final pause against a mutator shading privately | `models/termination.rs` |
//! | ragged | mark start and termination by per-thread handshakes: two mutators, one answering late; black allocation in the mark-start window; a worker or an assist draining during the round; the stamp | `models/ragged.rs` |
//! | shade queue | push, pop and recycle of buffers, and the busy count behind quiescence; with two workers of a pause forwarding objects to each other's queues | `models/shade_queue.rs` |
//! | value stack | a mutator's value stack (plain stores) scanned at its answers, detach and attach, and by the collector while it is stopped: a Yuasa mark start holding a pointer across the rounds, a re-attach during the mark start, a Dijkstra termination that needs the rescan | `models/value_stack.rs` |
//! | slot array | lock-free reads of a `GcVec`'s slots while a writer removes, inserts (growing the buffer), pops and pushes: no empty index below the length's floor, every element published with its contents | `models/slot_array.rs` |
//! | slot table | lock-free lookups in a `GcIdMap`'s table while a writer removes a key and inserts one that collides with it, and while an insertion rehashes: a key present throughout is always found, a value read is its key's and published with its contents; the control reuses the removed entry and a reader reads another key's value | `models/slot_table.rs` |
//! | ephemeron | a weak map's owed entry (and a weak upgrade) across a termination decided by a handshake round: the count of weak reads, the ephemeron pass, the order of the weak read's checks | `models/ephemeron.rs` |
//! | weak verdict | a weak read across the sweep's publication: a sweep clears the live object's mark after the read took the verdict; the read must not condemn it | `models/weak_verdict.rs` |
//!
//! Run with `cargo test -p gc-loom-models --release`; each model prints the number of
//! executions loom explored and its preemption bound. `LOOM_MAX_PREEMPTIONS` overrides the
//! bound for a longer run.

// Only the parts of each module that the models use are called, and their public re-exports
// have no user here; the rest is compiled to keep the files whole.
#![allow(dead_code, unused_imports)]

#[path = "../../gc-runtime/src/primitive.rs"]
mod primitive;

#[path = "../../gc-runtime/src/handshake.rs"]
mod handshake;

#[path = "../../gc-runtime/src/report.rs"]
mod report;

#[path = "../../gc-runtime/src/clock.rs"]
mod clock;

#[path = "../../gc-runtime/src/config/mod.rs"]
mod config;

#[path = "../../gc-runtime/src/named.rs"]
mod named;

#[path = "../../gc-runtime/src/grey_queue.rs"]
mod grey_queue;

#[path = "../../gc-runtime/src/mark_bits.rs"]
mod mark_bits;

#[path = "../../gc-runtime/src/slot.rs"]
mod slot;

#[path = "../../gc-runtime/src/shared_slice.rs"]
mod shared_slice;

#[path = "../../gc-runtime/src/slot_array.rs"]
mod slot_array;

#[path = "../../gc-runtime/src/address_hash.rs"]
mod address_hash;

#[path = "../../gc-runtime/src/slot_table.rs"]
mod slot_table;

#[cfg(test)]
mod models;
