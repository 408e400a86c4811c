//! Who scans the mutators' value stacks, and when: the protocol behind
//! [`ValueStack`](crate::ValueStack).
//!
//! A value stack is written with plain stores, so the collector may read it only while its
//! owner cannot write it. Each mutator keeps its stacks in a [`StackRegistry`]; the runtime
//! knows every registry by handshake id ([`StackRegistries`]).
//!
//! # The rules
//!
//! 1. **The owner scans its stacks** into its shade buffer, before publishing that buffer, at
//!    every handshake it answers at a safepoint or park it enters or leaves (an answer at an
//!    allocation never scans — a view may be open — and is only allowed for the rounds after
//!    marking, when the barrier is off and no scan is due), and when it detaches or
//!    re-attaches — whenever the barrier is on and a scan is due ([`scan_due`]):
//!    - under the **Dijkstra** barrier, always. A stack is a grey root under Dijkstra (a plain
//!      store may put a white object in it), so the stacks are scanned again at every
//!      termination round, and with the world stopped when termination stops it — Go 1.5's
//!      stack rescan. A quiet round then also means every stack held only marked objects at
//!      its owner's answer; a pointer a thread moves into its stack after answering came from
//!      a slot, and one moved from a stack into a slot is shaded by the store (see
//!      `collector/mod.rs`, "Why a quiet round is enough", where a stack scanned at the answer
//!      plays the part of the locals that cannot cross it);
//!    - under the **Yuasa** and **hybrid** barriers, at every answer in the mark-start window,
//!      then once more if the thread has not scanned its stacks during this marking (it parked
//!      through a stopped mark start, or was detached) or has made a weak read since it last
//!      scanned them (`ThreadState::note_weak_upgrade`: a weak upgrade or weak-map lookup hands
//!      out an object from outside the snapshot, which a push could then keep on a stack). A stack scanned at the window's last
//!      round holds only pointers loaded while every thread's deletion barrier was on, so it
//!      never needs a rescan: whatever it gains later was in the snapshot (and is protected by
//!      the deletion barrier) or is allocated black — Go 1.8's hybrid-barrier argument, with
//!      the window's barrier (which shades the stored pointer too) standing in for Go's "shade
//!      the new pointer while the current stack is grey".
//! 2. **The collector scans the stacks of stopped mutators** — detached, or parked — holding the
//!    handshake table's lock, so none can re-attach or leave its park meanwhile
//!    ([`scan_stopped`]): when it shades the roots (a mutator that was detached all through the
//!    mark start never answered; in stop-the-world mode every mutator is parked), and, with the
//!    world stopped, for checkmark verification. The owner's writes before it stopped and the
//!    collector's reads are ordered by that lock.
//!
//! A re-attaching mutator scans its stacks again (rule 1): it may have re-attached after the
//! barrier came on but before the collector's scan, and then neither the collector (it runs)
//! nor a round (its attach counts as an answer) would have seen them.

use std::sync::Arc;

use crate::{clock, handshake::Handshake, object::Header, primitive::sync::Mutex};

/// A value stack's storage, as the scanners see it.
pub(crate) trait ScanStack: Send + Sync {
    /// Report every GC pointer in the stack; returns how many values it holds.
    ///
    /// # Safety
    /// No view of the stack is open: the caller is its owner at a safepoint or detaching, or
    /// the collector while the owner is stopped, holding the handshake table's lock.
    unsafe fn scan(&self, visit: &mut dyn FnMut(*mut Header)) -> usize;
}

/// One mutator's value stacks.
#[derive(Default)]
pub(crate) struct StackRegistry {
    stacks: Mutex<Vec<Arc<dyn ScanStack>>>,
}

impl StackRegistry {
    pub(crate) fn add(&self, stack: Arc<dyn ScanStack>) {
        self.stacks.lock().push(stack);
    }

    pub(crate) fn remove(&self, stack: &Arc<dyn ScanStack>) {
        let mut stacks = self.stacks.lock();
        if let Some(i) = stacks.iter().position(|s| Arc::ptr_eq(s, stack)) {
            stacks.swap_remove(i);
        }
    }

    /// Scan every stack; returns the number of values.
    ///
    /// # Safety
    /// As [`ScanStack::scan`], for each of the mutator's stacks.
    pub(crate) unsafe fn scan(&self, visit: &mut dyn FnMut(*mut Header)) -> usize {
        let stacks = self.stacks.lock();
        // SAFETY: the caller.
        stacks.iter().map(|s| unsafe { s.scan(visit) }).sum()
    }
}

/// Every mutator's registry, by handshake id (only mutators that made a stack have one).
#[derive(Default)]
pub(crate) struct StackRegistries {
    by_id: Mutex<Vec<Option<Arc<StackRegistry>>>>,
}

impl StackRegistries {
    /// Mutator `id`'s registry from now on (`None`: it has no stacks).
    pub(crate) fn set(&self, id: usize, registry: Option<Arc<StackRegistry>>) {
        let mut by_id = self.by_id.lock();
        if by_id.len() <= id {
            by_id.resize(id + 1, None);
        }
        by_id[id] = registry;
    }

    fn get(&self, id: usize) -> Option<Arc<StackRegistry>> {
        self.by_id.lock().get(id).cloned().flatten()
    }
}

/// Whether a mutator whose last scan of its stacks was during the marking of epoch
/// `last_scan` must scan them now (rule 1): the epoch of the marking the scan is for, if so.
pub(crate) fn scan_due(last_scan: u64) -> Option<u64> {
    let state = clock::barrier_state()?;
    state.stack_scan_due(last_scan).then_some(state.epoch)
}

/// The collector: scan the stacks of every mutator of `handshake` that is not running (rule
/// 2), holding the handshake table's lock. Returns the number of values scanned.
pub(crate) fn scan_stopped(
    handshake: &Handshake,
    stacks: &StackRegistries,
    visit: &mut dyn FnMut(*mut Header),
) -> usize {
    let mut values = 0;
    handshake.for_each_stopped(|id| {
        if let Some(registry) = stacks.get(id) {
            // SAFETY: mutator `id` is detached or parked, and the table's lock (held by
            // `for_each_stopped`) keeps it so: no view of its stacks is open.
            values += unsafe { registry.scan(visit) };
        }
    });
    values
}
