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
//! # Where to read on
//!
//! The algorithm is documented where it lives: `collector/mod.rs` (the cycle, step by step),
//! `barrier.rs` (the barriers and their memory ordering), `handshake.rs` (stop-the-world and
//! ragged handshakes), `header.rs` (mark epochs), `heap/` (pages, caches, sweeping),
//! `shade.rs` and `marker.rs` (grey queue and marking).

#![warn(missing_docs)]

extern crate self as gc_runtime;

mod barrier;
mod checkmark;
mod collector;
mod config;
mod gc;
mod handshake;
mod header;
mod heap;
mod marker;
mod member;
mod mutator;
mod phase;
mod primitive;
mod roots;
mod runtime;
mod shade;
mod stats;
#[cfg(test)]
mod test_support;
mod trace;
mod trace_impls;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use gc_derive::{gc, Trace};

pub use crate::{
    checkmark::CheckmarkFailure,
    config::{BarrierKind, Config, ConfigError, Mode},
    gc::Gc,
    handshake::{MutatorCounts, MutatorState},
    member::{Member, NonNullMember},
    mutator::{attach, try_attach, with_mutator, AttachError, Mutator},
    phase::Phase,
    roots::Root,
    runtime::{config, init, reconfigure, InitError},
    stats::{CycleStats, Pause, PauseKind, PhaseChange, Stats, RECENT_CYCLES},
    trace::{Trace, Tracer},
};

/// The phase the collector is in now.
pub fn phase() -> Phase {
    phase::current()
}

/// A snapshot of the collector's statistics (starts the runtime if needed).
pub fn stats() -> Stats {
    match runtime::Runtime::get_or_init() {
        Ok(rt) => {
            rt.stats.snapshot(rt.pages.live_bytes(), rt.pages.committed_bytes(), rt.roots.len(), rt.handshake.counts())
        }
        Err(e) => panic!("gc configuration: {e}"),
    }
}

/// The README's code, compiled and run as a doctest so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
