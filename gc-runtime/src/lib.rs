//! A concurrent, tri-colour mark-and-sweep garbage collector with write barriers and short
//! pauses, usable from safe Rust by several threads at once.
//!
//! It is the collector Go has had since 1.5, in Rust: a phase machine, a write barrier that
//! shades pointers while marking, per-thread shade buffers feeding a global grey queue,
//! background marking with mutator assists, concurrent and lazy sweeping, a GOGC-style pacer,
//! and checkmark verification. The type system does the job Go's compiler does: a heap
//! pointer cannot be written without the barrier, and a pointer held by running code cannot be
//! alive where the collector needs the thread still.
//!
//! # The three pointers
//!
//! - [`Gc<'m, T>`]: a *local*, borrowed from the thread's [`Mutator`]; `Copy`, derefs to `&T`.
//!   It cannot outlive the next safepoint.
//! - [`Member<T>`]: a *slot*, a pointer field inside a heap object; read with a mutator,
//!   written through the barrier.
//! - [`Root<T>`]: an owned handle that keeps its object alive across safepoints and threads.
//!
//! Beyond those: [`Weak<T>`], [`GcVec<T>`], [`GcMap<K, V>`], [`GcIdMap<K, V>`],
//! [`GcWeakMap<K, V>`] and [`GlobalRoot<T>`], all shareable between threads while the collector runs.
//! `T` may be unsized — a slice or `str` ([`Mutator::alloc_slice`], [`Mutator::alloc_str`]; see
//! [`Object`]) — and every pointer stays one word.
//!
//! ```
//! use gc_runtime::{Member, Trace};
//!
//! #[derive(Trace)]
//! struct Node {
//!     value: u32,
//!     next: Member<Node>,
//! }
//!
//! let mut mu = gc_runtime::attach();
//! let head = mu.alloc(Node { value: 1, next: Member::new() });
//! let tail = mu.alloc(Node { value: 2, next: Member::new() });
//! head.next.set(Some(tail)); // write barrier
//! tail.next.set(Some(head)); // a cycle: fine
//! let root = head.root(&mu);
//! mu.collect(); // a full cycle; `head` and `tail` (locals) are gone, the root remains
//! let head = root.get(&mu);
//! assert_eq!(head.next.get(&mu).unwrap().value, 2);
//! ```
//!
//! # Destructors (finalization)
//!
//! A GC type cannot implement `Drop` itself (`#[derive(Trace)]` and `#[gc]` make that a
//! compile error), but the destructors of its fields — a `String`, a `Vec<u8>`, a file handle,
//! a [`Root`] — run when the object is found dead:
//!
//! - **exactly once**, after the mark termination of the first cycle that did not reach the
//!   object, and never while it is reachable;
//! - **on which thread**: always the finalizer thread (thread name `gc-finalizer`), in both
//!   modes — never inside an allocation, a pause, or on the collector thread. Sweepers free the
//!   dead objects that need no drop and hand the rest to the finalizer (see `heap/finalize.rs`);
//! - **when**: after the cycle's mark termination, usually during its sweep or shortly after;
//!   [`Mutator::collect`] returns only once every object its cycle found dead — in any thread's
//!   cached pages too — has been finalized and freed. A destructor must therefore not wait for
//!   a lock that a thread calling `collect` holds;
//! - **in no particular order** between objects, cycles included — a destructor must not
//!   assume its object's neighbours are alive, and cannot reach them anyway: reading a slot
//!   needs a mutator, and the collector's threads cannot attach one ([`AttachError::CollectorThread`]);
//! - **what it may touch**: its own fields, and anything outside the GC heap (dropping a
//!   [`Root`] or [`Weak`] there is fine). A destructor that panics is counted in
//!   [`Stats::drop_panics`] (the first ten are reported on stderr); its panic payload is dropped
//!   under a guard too; the object is freed all the same. An array's elements, a map's keys and
//!   a value collection's keys and values are dropped one at a time, so several that panic
//!   neither abort the process (a panic while unwinding) nor keep the others from being
//!   dropped: the object's one panic is counted. (Within one key, value or element, drop glue
//!   is Rust's: two of its own fields that panic abort, as anywhere.)
//!
//! # Threads
//!
//! Each thread attaches its own [`Mutator`]; objects cross threads as [`Root`]s. A thread that
//! waits for another (a join, a lock, a channel) wraps the wait in [`Mutator::blocking`]: a
//! cycle waits for every attached thread to reach a safepoint, and a parent joining, attached,
//! a child that collects would wait for it forever (the collector's slow-safepoint warning names
//! both threads and this fix). A mutator leaked on a thread that ends is noticed and removed;
//! every object alive then is kept for the rest of the process, since `'static` borrows of the
//! leaked mutator may outlive its thread ([`Stats::pinned_objects`]).
//!
//! # Layers
//!
//! The crate is an engine with a public API on top; imports run upwards only (checked by
//! `tests/layering.rs`). Read the engine from the bottom:
//!
//! | layer | modules | what they are |
//! |---|---|---|
//! | foundations | `primitive.rs`, `prefetch.rs`, `popcount.rs`, `report.rs`, `named.rs`, `config/` | the synchronisation types (swapped for loom's in `loom-models`), output that cannot panic, types spelled as names, the configuration |
//! | the clock | `clock.rs` | phase word with the barrier kind, mark/sweep/weak-verdict epochs, a state table |
//! | mark bits | `mark_bits.rs` | one bit per 8-byte granule beside each page, found from an object's address by arithmetic |
//! | system memory | `raw.rs`, `mapped_vec.rs`, `shared_slice.rs` | the one funnel to the system's memory (the arena and its runs of pages, large blocks, blocks mapped on their own); buffers whose memory goes back when they are emptied; slices replaced under lock-free readers and freed through the epoch |
//! | objects and slots | `object/`, `slot.rs`, `slot_array.rs`, `slot_table.rs`, `address_hash.rs`, `cells.rs` | header, marking an object, the [`Trace`] contract; the slot store; the lock-free-readable array of slots under `GcVec` and table of slot pairs under the maps, and the address hash; registered pointer cells |
//! | grey | `grey_queue.rs`, `shade.rs` | per-thread shade buffers feeding the global grey queue |
//! | memory | `heap/` | pages, size classes, caches, sweeping, the finalizer |
//! | tables | `root_table.rs`, `weak_table.rs`, `weak_map_table.rs`, `handshake.rs`, `stats.rs` | roots and the orphan-shade protocol; weak cells and their clearing; weak maps and the removal of their dead keys; stop-the-world and ragged handshakes; statistics |
//! | mechanisms | `barrier.rs`, `marker/`, `checkmark.rs`, `thread_state/` | the write barrier; marking; verification; each thread's mutator state and role |
//! | policy | `collector/`, `runtime.rs` | the cycle, step by step, and the pacer; the process-wide instance |
//! | **public API** | `gc.rs`, `member.rs`, `roots.rs`, `weak.rs`, `mutator.rs`, `collections/`, `trace_impls.rs`, `variance.rs`, `private.rs` | the handles users hold |
//!
//! The only import circles: the runtime (the context struct every engine path reaches through)
//! with the collector, the marker and the thread state it starts and serves; and `Gc`, `Mutator`
//! and `Root`, which refer to each other. The book (`book/` in the repository) explains the
//! whole.

#![warn(missing_docs)]

extern crate self as gc_runtime;

mod address_hash;
mod barrier;
mod cells;
mod checkmark;
mod clock;
mod collections;
mod collector;
mod config;
mod gc;
mod grey_queue;
mod handshake;
mod heap;
mod mapped_vec;
mod mark_bits;
mod marker;
mod member;
mod mutator;
mod mutator_marks;
mod named;
mod object;
mod owned_bytes;
mod popcount;
mod prefetch;
mod primitive;
mod raw;
mod report;
mod root_table;
mod roots;
mod runtime;
mod shade;
mod shared_slice;
mod slot;
mod slot_array;
mod slot_table;
mod stack_scan;
mod stats;
#[cfg(target_pointer_width = "64")]
mod tagged;
#[cfg(test)]
mod test_support;
mod thread_pauses;
mod thread_state;
mod trace_impls;
mod value_stack;
mod variance;
mod weak;
mod weak_map_table;
mod weak_table;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

/// A thread-safe cell for `Copy` plain data in GC objects (from `crossbeam-utils`; traced as
/// holding no GC pointer).
pub use crossbeam_utils::atomic::AtomicCell;
pub use gc_derive::{gc, Trace};

pub use crate::{
    checkmark::CheckmarkFailure,
    clock::Phase,
    collections::{
        ExternalBytes, GcIdMap, GcMap, GcValueMap, GcValueVec, GcValueVecIter, GcVec, GcVecIter, GcWeakMap, HeapValue,
        IndexOutOfRange,
    },
    config::{BarrierKind, Config, ConfigError, Mode, Setting},
    gc::Gc,
    handshake::{MutatorCounts, MutatorState},
    member::{Member, NonNullMember},
    mutator::{attach, try_attach, with_mutator, AllocError, AttachError, Mutator},
    named::ParseNameError,
    object::{
        dyn_object::{DynObject, Unsize},
        layout::Object,
        trace::{Trace, Tracer},
    },
    roots::{GlobalRoot, Root},
    runtime::{config, init, reconfigure, InitError},
    stats::{CycleStats, HandshakeKind, HandshakeRound, Pause, PauseKind, PhaseChange, Stats, RECENT_CYCLES},
    thread_pauses::{ThreadPauseStats, MMU_WINDOWS},
    thread_state::LimitError,
    value_stack::{StackTracer, StackValue, StackView, ValueStack},
    weak::Weak,
};

#[cfg(target_pointer_width = "64")]
pub use crate::tagged::{Tagged, TaggedMember, TaggedWord, TAGGED_DATA_MAX};

/// The phase the collector is in now.
pub fn phase() -> Phase {
    clock::phase()
}

/// A snapshot of the collector's statistics (starts the runtime from the environment if
/// needed).
///
/// It reads each attached thread's pause log for the minimum mutator utilisation — up to
/// 16,384 pauses a thread, about a millisecond for a full log in an optimised build, several
/// in a debug build — and each ended thread's log once (its figures are kept): cheap for a
/// monitor that asks now and then, not for code that runs once per object — a destructor that
/// calls it holds up the finalizer, and with it `collect()`, which waits for the finalizer.
///
/// # Panics
/// If the runtime had not started and a `GC_*` variable is bad (see [`Config`]'s "A bad
/// environment").
pub fn stats() -> Stats {
    let rt = runtime::Runtime::get_or_start();
    rt.stats.snapshot(
        {
            let (live, committed) = rt.pages.live_and_committed();
            (live, committed, rt.pages.released_bytes(), shared_slice::retired_bytes(), rt.pages.allocator_trims())
        },
        rt.pages.swept.totals(),
        (rt.roots.len(), rt.weaks.len(), rt.roots.pinned()),
        rt.handshake.counts(),
        rt.thread_pauses.snapshot(rt.started.elapsed()),
    )
}

/// The README's code, compiled and run as a doctest so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
