//! The [`Trace`] trait: how the marker finds the GC pointers inside an object.
//!
//! # Role in the algorithm
//!
//! Marking is a graph walk. When the marker takes a grey object off the shade queue it calls
//! the object's `Trace::trace`, which hands every GC pointer slot the object holds to the
//! [`Tracer`]. The tracer shades each referent (white → grey) and the object becomes black.
//! The same walk, with other sinks, serves checkmark verification (which records visits in
//! its own table) and allocation, which arms a new object's slots. Allocation shades nothing:
//! a new object's slots start empty, and the object itself is allocated black while marking
//! (see `object/header.rs`), so it has no referents to shade.
//!
//! # Why the trait is `unsafe`
//!
//! The collector frees whatever `trace` does not report. An impl that forgets a slot lets the
//! collector free a reachable object, so implementing `Trace` by hand is a promise; the
//! `#[derive(Trace)]` macro makes that promise for you. The rules an impl must follow are
//! listed on the trait.

use std::{ops::Range, time::Duration};

use super::{
    header::Header,
    mark_visit::MarkVisitor,
    scan_cursor::{chunks_after_waiting, ScanCursor, ScanState},
};
use crate::{
    primitive::sync::atomic::{AtomicBool, AtomicPtr, Ordering},
    slot,
};

/// How long the collector waits for each collection's lock while the world is stopped — in a
/// pause's drain from the first retry, in checkmark's walk and in the ephemeron pass. The only
/// holders then are threads without a running mutator, whose writes are short; only trying,
/// a walk or a pass that must get through every lock needed all of them free at once, and
/// with more such threads than cores the pause never ended (a hostile review). The wait is
/// bounded because such a holder may itself wait for the root table, which the walk holds.
pub(crate) const PAUSE_LOCK_PATIENCE: Duration = Duration::from_millis(10);

/// A type whose GC pointers the collector can find.
///
/// Implement it with `#[derive(Trace)]`. Impls for std types (integers, `String`, `Vec`,
/// `Option`, tuples, maps, atomics, …) are provided.
///
/// `Arc<T>` is traced as holding nothing: a clone, taken through a shared reference, could
/// carry its contents out of the heap. So it is for plain data (`Arc<str>`, `Arc<[u8]>`); a
/// [`Member`](crate::Member) or GC collection inside an `Arc` is never armed — it reads as
/// empty and refuses stores, like one in a `#[trace(skip)]` field.
///
/// # Safety
///
/// An implementation must uphold all of the following:
///
/// 1. `trace` passes every [`Member`](crate::Member) reachable through `self` without going
///    through another GC object to [`Trace::trace`] (directly or through the impls of the
///    field types). A slot that is not
///    reported may have its referent freed while it is still reachable. Reporting a slot more
///    than once is allowed; it only costs time.
/// 2. `trace` does not allocate GC objects, write GC slots, attach a mutator, or call any
///    other function of this crate ([`stats`](crate::stats()), [`config`](crate::config()),
///    [`reconfigure`](crate::reconfigure()), …); it may run on the marker thread while mutators
///    run, inside a stop-the-world pause, and with the collector's locks held (checkmark
///    traces under the root table's: a `trace` that asked for [`stats`](crate::stats()) there
///    waited for ever).
/// 3. The type does not implement `Drop` in a way that could read a GC slot: destructors run
///    on the finalizer thread after the object's neighbours may already be freed.
///    `#[derive(Trace)]` enforces this by making a `Drop` impl a compile error.
/// 4. `NEEDS_TRACE` is `false` only if the type can never hold a GC slot.
/// 5. `trace` should not panic. A panic in `trace` stops the process with a message, because
///    the marker cannot know which referents the object still had.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `Trace`, so the collector cannot find the GC pointers in it",
    label = "this type must implement `Trace`",
    note = "derive it with #[derive(Trace)] (or put #[gc] on the struct); if the field holds no GC pointer, mark it #[trace(skip)]"
)]
pub unsafe trait Trace {
    /// `false` when values of this type can never hold a GC pointer, so the marker does not
    /// need to call [`Trace::trace`] (the object is marked black at once).
    const NEEDS_TRACE: bool = true;

    /// Report every GC pointer slot in `self` to `tracer`.
    fn trace(&self, tracer: &mut Tracer<'_>);
}

/// What [`Trace::trace`] reports slots to.
///
/// Opaque to users: its only use outside this crate is to be passed on, unchanged, to the
/// `trace` of each field, as `#[derive(Trace)]` does.
pub struct Tracer<'a> {
    sink: Sink<'a>,
}

/// Where a [`Tracer`]'s reports go. The two hot cases — allocation arming a new object's
/// slots, and the marker — are concrete, so that a type's inlined `trace` reaches them without
/// a call through a vtable per slot; the rest (checkmark, tests) go through [`TraceSink`].
enum Sink<'a> {
    /// Allocation: arm each slot in place.
    Arm,
    /// A mark worker.
    Mark(&'a mut MarkVisitor),
    /// Anything else.
    Dyn(&'a mut dyn TraceSink),
}

impl std::fmt::Debug for Tracer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer").finish_non_exhaustive()
    }
}

impl<'a> Tracer<'a> {
    pub(crate) fn new(sink: &'a mut dyn TraceSink) -> Self {
        Tracer { sink: Sink::Dyn(sink) }
    }

    /// A mark worker's tracer: slots go to `visitor` (see `mark_visit.rs`).
    #[inline(always)]
    pub(crate) fn marking(visitor: &'a mut MarkVisitor) -> Self {
        Tracer { sink: Sink::Mark(visitor) }
    }

    /// Allocation's tracer: it sets a new object's slots from unarmed to empty, and its
    /// collections' armed flags (see `member.rs`, "Armed and unarmed slots").
    ///
    /// It has no sink: the arming is done here, so that when allocation's `trace` call is
    /// inlined (it is generic over the type), each slot becomes one plain store of null — no
    /// call per slot through a vtable.
    #[inline(always)]
    pub(crate) fn arming() -> Tracer<'static> {
        Tracer { sink: Sink::Arm }
    }

    /// Report one slot of the traced object.
    #[inline(always)]
    pub(crate) fn report_slot(&mut self, slot: &AtomicPtr<Header>) {
        match &mut self.sink {
            Sink::Mark(visitor) => visitor.visit_slot(slot),
            Sink::Dyn(sink) => sink.visit_slot(slot),
            Sink::Arm => {
                // Every slot of a value being allocated is unarmed: armed slots only exist
                // inside the heap and cannot be moved out. So a blind store arms it; no load
                // (the first touch of a fresh object would stall on it). A `trace` may report a
                // slot twice (the contract allows it): the second report finds it empty.
                debug_assert!(
                    matches!(slot.load(Ordering::Relaxed).addr(), slot::UNARMED_ADDR | 0),
                    "a new object's slot held a pointer"
                );
                // Relaxed: the object is not published yet; its publication is a Release store.
                slot.store(std::ptr::null_mut(), Ordering::Relaxed);
            }
        }
    }

    /// Report an ephemeron entry of the traced object: its value slot, which is to be traced
    /// only if the marking reaches `key` by other paths (see `collections/weak_map.rs`). The
    /// marker reports the value now if the key is marked, and otherwise remembers that the
    /// object must be looked at again before marking ends (`marker::resolve_ephemerons`).
    ///
    /// `key` is an allocated object: a weak map's entries are removed in the cycle whose
    /// marking finds their key dead, before the sweep may free it.
    #[inline]
    pub(crate) fn report_ephemeron(&mut self, key: *const Header, value: &AtomicPtr<Header>) {
        match &mut self.sink {
            Sink::Mark(visitor) => visitor.visit_ephemeron(key, value),
            Sink::Dyn(sink) => sink.visit_ephemeron(key, value),
            // A weak map in a value being allocated has no entries: it refuses them until it is
            // armed (see `collections/mod.rs`, "Armed and unarmed collections").
            Sink::Arm => debug_assert!(false, "an ephemeron entry in an object being allocated"),
        }
    }

    /// Report the "armed" flag of a container of slots (a GC collection): allocation sets it,
    /// every other tracer ignores it. See `member.rs`, "Armed and unarmed slots". Returns
    /// whether this call armed it (allocation).
    #[inline(always)]
    pub(crate) fn report_armed_flag(&mut self, flag: &AtomicBool) -> bool {
        match &mut self.sink {
            Sink::Mark(_) => false,
            Sink::Dyn(sink) => {
                sink.visit_armed_flag(flag);
                false
            }
            // Relaxed: as for slots, the object is not published yet.
            Sink::Arm => {
                flag.store(true, Ordering::Relaxed);
                true
            }
        }
    }

    /// How far this tracer got with the collection whose cursor is `cursor`: the marker may
    /// have scanned it in part or whole earlier in this marking (see `object/scan_cursor.rs`);
    /// every other tracer starts afresh.
    #[inline]
    pub(crate) fn scan_state(&self, cursor: &ScanCursor) -> ScanState {
        match &self.sink {
            Sink::Mark(visitor) => cursor.state(visitor.epoch()),
            Sink::Dyn(_) | Sink::Arm => ScanState::Fresh,
        }
    }

    /// The indices of a collection of `len` slots (or hash buckets) to report in this call,
    /// under the collection's read lock: all of them, except for the marker, which takes at
    /// most one chunk per visit and comes back for the rest (see `object/scan_cursor.rs`).
    #[inline]
    pub(crate) fn scan_window(&mut self, cursor: &ScanCursor, len: usize) -> Range<usize> {
        match &mut self.sink {
            Sink::Mark(visitor) => {
                // A marker that had to wait for the lock scans more in this visit (see
                // `object/scan_cursor.rs`, `PATIENT_CHUNKS`).
                let chunks = std::mem::replace(&mut visitor.chunks_earned, 1);
                let (window, more) = cursor.claim(visitor.epoch(), len, chunks);
                visitor.notes |= if more { super::mark_visit::note::MORE } else { 0 };
                window
            }
            Sink::Dyn(_) | Sink::Arm => 0..len,
        }
    }

    /// Report `bytes` of memory that the collection whose cursor is `cursor` owns outside the
    /// heap — its buffers, whose size it read under its lock — so the marker counts them as
    /// live on its first visit of the marking, for the pacer (see `owned_bytes.rs`). Called
    /// before [`Tracer::scan_window`], which ends the first visit. Later visits of the same
    /// marking, and every other sink, ignore them.
    #[inline]
    pub(crate) fn owned_bytes(&mut self, cursor: &ScanCursor, bytes: usize) {
        if let Sink::Mark(visitor) = &mut self.sink {
            if cursor.state(visitor.epoch()) == ScanState::Fresh {
                // Saturating: declarations (`ExternalBytes`) may add up past `usize::MAX`.
                visitor.owned_bytes = visitor.owned_bytes.saturating_add(bytes);
            }
        }
    }

    /// How long a collection's `trace` may wait for its read lock: only a mark worker that
    /// retries an object it found locked for a while, and the collector's walks inside a pause
    /// (checkmark, the ephemeron pass), wait, and only this long (see `marker/mod.rs`, "Locked
    /// collections"); every other tracer only tries the lock. Read again while waiting: a mark
    /// worker's patience ends when its exclusive job does ([`MarkVisitor::patience_now`]).
    #[inline]
    pub(crate) fn lock_patience(&self) -> Option<Duration> {
        match &self.sink {
            Sink::Mark(visitor) => visitor.patience_now(),
            Sink::Dyn(sink) => sink.lock_patience(),
            Sink::Arm => None,
        }
    }

    /// Say that the collection about to be scanned was had only by waiting `waited` for its
    /// lock ([`Tracer::lock_patience`]): the marker claims more of it in this visit, the longer
    /// it waited (see `object/scan_cursor.rs`, `PATIENT_CHUNKS`).
    #[inline]
    pub(crate) fn waited_for_lock(&mut self, waited: Duration) {
        if let Sink::Mark(visitor) = &mut self.sink {
            visitor.chunks_earned = chunks_after_waiting(waited);
        }
    }

    /// Say that part of the object could not be traced now — a collection whose lock another
    /// thread holds — so the caller must trace the whole object again later. The collector
    /// never waits for a lock user code can hold (see `collections/mod.rs`).
    #[inline]
    pub(crate) fn report_locked(&mut self) {
        match &mut self.sink {
            Sink::Mark(visitor) => visitor.notes |= super::mark_visit::note::LOCKED,
            Sink::Dyn(sink) => sink.visit_locked(),
            // A collection in a value being allocated is known to no other thread, so its lock
            // is free; and arming needs only its flag, reported before the lock is tried.
            Sink::Arm => debug_assert!(false, "a lock inside an object being allocated was taken"),
        }
    }
}

/// Receiver of the slots a `trace` call reports: checkmark, or a test that collects edges.
/// (Allocation, which arms a new object's slots, and the marker have their own cases in
/// [`Tracer`].)
pub(crate) trait TraceSink {
    /// Called once per slot in a traced object, in field order.
    fn visit_slot(&mut self, slot: &AtomicPtr<Header>);

    /// Called for each ephemeron entry (a weak map's key and value slot) in the traced object;
    /// the key is not a slot: it must not keep its object alive. By default the value is
    /// reported like any slot — right for sinks that do not decide liveness (reading
    /// addresses, counting slots); checkmark and the collector's ephemeron pass override it.
    fn visit_ephemeron(&mut self, _key: *const Header, value: &AtomicPtr<Header>) {
        self.visit_slot(value);
    }

    /// Called with the armed flag of each GC collection in the traced object. Only allocation
    /// acts on it ([`Tracer::arming`]), and it has no sink.
    fn visit_armed_flag(&mut self, _flag: &AtomicBool) {}

    /// Called when part of the object was skipped because its lock was taken; the slots
    /// reported so far are valid, the object must be traced again to see the rest.
    fn visit_locked(&mut self);

    /// How long a collection's `trace` may wait for its read lock before it reports it
    /// locked ([`Tracer::lock_patience`]). By default not at all.
    fn lock_patience(&self) -> Option<Duration> {
        None
    }
}
