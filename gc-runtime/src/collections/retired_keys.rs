//! [`RetiredKeys`]: the keys a `GcMap` removed, waiting until no lookup can be comparing against
//! them, then handed back to the map to drop.
//!
//! # Why keys wait
//!
//! A `GcMap` lookup runs with no lock: it compares its key against the keys its probe meets,
//! which a writer may remove meanwhile (`map.rs`). A removed key must therefore outlive every
//! lookup that could have met it — every thread pinned to the epoch when it left the table.
//! The epoch's own deferred functions could free it, but they run wherever the epoch's garbage
//! is collected (inside any pin, under any lock), and a key's destructor is user code. So the
//! epoch only sets a flag ([`Reclaimed`]), and the map drops the keys itself, in a write of its
//! own, with no lock held.
//!
//! # Batches
//!
//! A flag costs a deferred function and a flush of this thread's epoch bag to the global queue,
//! more than a removal itself. So removed keys gather in a *pending* batch, which is sealed —
//! given its flag — when no batch is waiting for one (so a lone removal is not held back) or
//! when it reaches [`BATCH`] keys; sealed batches wait in order. A map under steady removals
//! pays one flag per [`BATCH`] keys. Each write that finds the oldest batch still waiting
//! counts, and every [`NUDGE_EVERY`] such writes it moves the epoch on itself
//! ([`shared_slice::nudge`]), so a thread that only writes — and so never pins for a lookup —
//! still sees its flags set.

use std::collections::VecDeque;

use crate::{
    primitive::sync::{
        atomic::{AtomicUsize, Ordering},
        Mutex,
    },
    shared_slice::{self, Reclaimed},
};

/// The most keys a pending batch gathers before it is sealed.
const BATCH: usize = 32;

/// Writes that find the oldest batch waiting between two nudges of the epoch.
const NUDGE_EVERY: u32 = 64;

/// Removed keys, as the address words the map's table held for them (module docs).
pub(super) struct RetiredKeys {
    state: Mutex<State>,
    /// `State::count`, readable without the lock (so a write that finds no key waiting takes
    /// no lock). Stored under the lock.
    count: AtomicUsize,
}

#[derive(Default)]
struct State {
    /// Keys waiting, pending and sealed.
    count: usize,
    /// Removed, not sealed yet.
    pending: Vec<usize>,
    /// Sealed, oldest first, each with its flag.
    sealed: VecDeque<(Vec<usize>, Reclaimed)>,
    /// Writes that found the oldest sealed batch waiting, since the last nudge.
    waiting_writes: u32,
}

impl State {
    /// Give the pending keys a flag.
    fn seal(&mut self) {
        let words = std::mem::take(&mut self.pending);
        self.sealed.push_back((words, Reclaimed::new()));
    }
}

impl RetiredKeys {
    /// None.
    pub(super) fn new() -> RetiredKeys {
        RetiredKeys { state: Mutex::new(State::default()), count: AtomicUsize::new(0) }
    }

    /// How many keys wait.
    pub(super) fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Retire `words`, keys that have just left the table (their entries marked removed), and
    /// take the keys no lookup can be comparing against any more, for the map to drop: what a
    /// write calls after it released the map's lock (`words` empty if it removed nothing).
    pub(super) fn retire_and_take_ready(&self, words: Vec<usize>) -> Vec<usize> {
        if words.is_empty() && self.len() == 0 {
            return Vec::new();
        }
        let mut state = self.state.lock();
        if !words.is_empty() {
            state.count += words.len();
            state.pending.extend(words);
            if state.sealed.is_empty() || state.pending.len() >= BATCH {
                state.seal();
            }
        }
        let mut ready = Vec::new();
        while state.sealed.front().is_some_and(|(_, flag)| flag.is_set()) {
            let (words, _) = state.sealed.pop_front().expect("a front batch");
            ready.extend(words);
        }
        if state.sealed.is_empty() {
            if !state.pending.is_empty() {
                state.seal();
            }
        } else {
            state.waiting_writes += 1;
            if state.waiting_writes >= NUDGE_EVERY {
                state.waiting_writes = 0;
                shared_slice::nudge();
            }
        }
        state.count -= ready.len();
        self.count.store(state.count, Ordering::Relaxed);
        ready
    }

    /// Every key, ready or not: for the map's drop, when no lookup can be running.
    pub(super) fn take_all(&mut self) -> Vec<usize> {
        let state = std::mem::take(self.state.get_mut());
        *self.count.get_mut() = 0;
        state.sealed.into_iter().flat_map(|(words, _)| words).chain(state.pending).collect()
    }
}
