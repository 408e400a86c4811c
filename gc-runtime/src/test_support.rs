//! Helpers for unit tests that touch process-wide collector state (the phase word, epochs,
//! the poll word): they take [`serial`] so they never overlap, and run with pacing off so the
//! collector thread stays idle unless a test asks for a cycle.

use std::sync::{Mutex, MutexGuard};

use crate::config::{BarrierKind, Config};

static SERIAL: Mutex<()> = Mutex::new(());

/// Serialise a test against the others that touch global state, with pacing off.
pub(crate) fn serial() -> MutexGuard<'static, ()> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    crate::reconfigure(Config::default().with_gc_percent(None)).expect("valid config");
    guard
}

/// Clears every mark bit when dropped (also when an assertion fails): for tests that mark
/// objects or turn the barrier on without running a cycle, whose sweep would clear them. Left
/// set, a bit would make the next real marking take its object for one already scanned.
pub(crate) struct ClearMarks;

/// Whether `obj` is shaded in the current marking. A mutator's shades are unmarked
/// candidates until a mark worker takes them (see `shade.rs`): this publishes this thread's
/// candidates and marks every published one, as the collector does between drains (the grey
/// ones go to the global queue), then reads `obj`'s mark.
///
/// # Safety
/// `obj` is allocated, and no collector drains now (a test that pretends a marking).
pub(crate) unsafe fn shaded(obj: *const crate::object::Header) -> bool {
    let rt = crate::runtime::Runtime::get();
    crate::thread_state::with_running_mutator(|mu| mu.shade.flush(mu.grey));
    crate::marker::mark_forwarded_leftovers(&rt.grey);
    // SAFETY: guaranteed by the caller.
    unsafe { crate::object::mark::is_marked(obj, crate::clock::mark_epoch()) }
}

impl Drop for ClearMarks {
    fn drop(&mut self) {
        crate::runtime::Runtime::get().pages.clear_marks_for_test();
    }
}

/// The barriers a test of the barrier's shades runs under: all three natively; under Miri, which
/// looks for undefined behaviour and interprets slowly, the hybrid one only. It shades both the
/// overwritten and the stored pointer, so its run makes every access the other two make (they
/// differ from it only in which of the two shades they skip), and the native run checks what each
/// kind shades.
pub(crate) fn barrier_kinds() -> &'static [BarrierKind] {
    if cfg!(miri) {
        &[BarrierKind::Hybrid]
    } else {
        &[BarrierKind::Dijkstra, BarrierKind::Yuasa, BarrierKind::Hybrid]
    }
}

/// An exclusive job (`object/exclusive.rs`) begun under the root-table lock, as the collector
/// begins one, and ended the same way when dropped (also when an assertion fails).
pub(crate) struct ExclusiveJob(pub(crate) u64);

impl ExclusiveJob {
    /// Begin a job; its number is the field.
    pub(crate) fn begin() -> Self {
        let _roots = crate::runtime::Runtime::get().roots.lock();
        crate::object::exclusive::begin(false);
        ExclusiveJob(crate::object::exclusive::current().expect("a job was just begun"))
    }
}

impl Drop for ExclusiveJob {
    fn drop(&mut self) {
        let _roots = crate::runtime::Runtime::get().roots.lock();
        crate::object::exclusive::end();
    }
}
