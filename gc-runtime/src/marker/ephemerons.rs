//! The ephemeron pass: the values a marking owes to weak-map entries whose keys turned black
//! after their map was scanned.
//!
//! A weak map's value is reachable only while its key is (see `collections/weak_map.rs`). When
//! the marker scans a map, it traces the values of the entries whose keys are marked already
//! and notes the object as an *ephemeron holder* if some key was not (see `grey_queue.rs`,
//! "Ephemeron holders"). Such a key may be marked later, by the marker or a barrier, and then
//! its value must be marked too — but nothing scans the holder again by itself: it is black.
//!
//! So before the collector decides that marking is over — with the queue done, in the decision
//! of a handshake round or in a pause — it makes this pass: it traces every holder again and
//! shades the value of each entry whose key is marked now and whose value is not. If it shaded
//! anything, the values' subgraphs may mark more keys: the decision is off, the collector
//! drains and asks again (the fixpoint: trace values of marked keys, repeat until no new key
//! is marked). If a holder's map is locked by a writer, the pass cannot tell, and the decision
//! is off too; the collector never waits for such a lock unbounded (in a pause it waits for
//! each in turn, a while: `resolve_ephemerons`).
//!
//! Why a pass that finds nothing ends the marking — also while mutators run — is argued in
//! `collections/weak_map.rs`, "Why the fixpoint is sound without a pause".

use std::time::Duration;

use crate::{
    clock,
    object::{mark, Header, ObjPtr, TraceSink, Tracer},
    primitive::sync::atomic::{AtomicPtr, Ordering},
    shade::GreyQueue,
    slot::is_object,
};

use super::{trace_or_abort, MarkWorker};

/// What an ephemeron pass found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EphemeronPass {
    /// Every entry with a marked key has a marked value (or there are no holders).
    Quiet,
    /// This many values of entries with marked keys were unmarked: they are shaded and
    /// published, so marking goes on.
    Shaded(usize),
    /// A holder could not be traced (a writer holds its map's lock): decide later.
    Locked,
}

/// Collects the unmarked values of entries whose keys are marked.
struct Resolve {
    epoch: u64,
    owed: Vec<*const Header>,
    locked: bool,
    /// How long each holder's lock is waited for (see `resolve_ephemerons`).
    patience: Option<Duration>,
}

impl TraceSink for Resolve {
    fn visit_slot(&mut self, _slot: &AtomicPtr<Header>) {
        // A holder is black: its slots were reported when it was scanned, and every store
        // since went through the barrier.
    }

    fn visit_ephemeron(&mut self, key: *const Header, value: &AtomicPtr<Header>) {
        // SAFETY: an entry's key is allocated (`Tracer::report_ephemeron`).
        if !unsafe { mark::is_marked(key, self.epoch) } {
            return;
        }
        // Acquire: pairs with the barrier's Release store (the value's header is written).
        let v = value.load(Ordering::Acquire);
        // SAFETY: a value in the slot of an object marked in this marking is allocated.
        if is_object(v) && !unsafe { mark::is_marked(v, self.epoch) } {
            self.owed.push(v);
        }
    }

    fn visit_locked(&mut self) {
        self.locked = true;
    }

    fn lock_patience(&self) -> Option<Duration> {
        self.patience
    }
}

/// Trace every ephemeron holder of the current marking again and shade the values its marked
/// keys now reach (module docs). Called by the collector with the queue done, holding the root
/// table, while marking (the holders are marked in this marking, hence allocated).
///
/// Each holder's lock is waited for up to `patience`: in a pause (`PAUSE_LOCK_PATIENCE`); not
/// at all in a handshake round's decision, where mutators run and wait for the weak-reference
/// gate the collector holds. And `quiet` remembers the holders found owing nothing while the
/// queue's stamp stays the same — nothing marked since, so no key turned black — so that the
/// next pass traces only the rest: a pause's passes then need only the locks still missing, not
/// every lock free at once, which never happened while threads without a mutator kept taking
/// them (a hostile review: sixteen such threads held the pause for good). The values owed by
/// the holders that could be traced are shaded even when another was locked.
pub(crate) fn resolve_ephemerons(
    queue: &GreyQueue,
    patience: Option<Duration>,
    quiet: &mut QuietHolders,
) -> EphemeronPass {
    let holders = queue.ephemeron_holders();
    if holders.is_empty() {
        return EphemeronPass::Quiet;
    }
    let stamp = queue.stamp();
    if quiet.stamp != Some(stamp) {
        quiet.holders.clear();
        quiet.stamp = Some(stamp);
    }
    let mut sink = Resolve { epoch: clock::mark_epoch(), owed: Vec::new(), locked: false, patience };
    let mut any_locked = false;
    let mut newly_quiet = Vec::new();
    for obj in holders {
        if quiet.holders.binary_search(&obj).is_ok() {
            continue;
        }
        let owed_before = sink.owed.len();
        sink.locked = false;
        // SAFETY: a holder was scanned in this marking, so it is marked and allocated.
        let desc = unsafe { obj.header() }.desc();
        // SAFETY: `obj` is an allocated object of the type `desc` describes.
        unsafe { trace_or_abort(obj, desc, &mut Tracer::new(&mut sink)) };
        if sink.locked {
            any_locked = true;
        } else if sink.owed.len() == owed_before {
            newly_quiet.push(obj);
        }
    }
    quiet.holders.extend(newly_quiet);
    quiet.holders.sort_unstable();
    if sink.owed.is_empty() {
        return if any_locked { EphemeronPass::Locked } else { EphemeronPass::Quiet };
    }
    let mut worker = MarkWorker::new(queue);
    for &v in &sink.owed {
        // SAFETY: allocated (`visit_ephemeron`).
        unsafe { worker.shade_root(v) };
    }
    worker.publish_all();
    EphemeronPass::Shaded(sink.owed.len())
}

/// The holders the ephemeron passes of one decision found owing nothing, and the grey queue's
/// stamp then (see [`resolve_ephemerons`]).
#[derive(Default)]
pub(crate) struct QuietHolders {
    stamp: Option<(u64, u64)>,
    holders: Vec<ObjPtr>,
}
