//! [`ExternalBytes`]: memory a user's GC object owns outside the heap, declared to the pacer.
//!
//! The collections charge their own buffers as owned bytes (`owned_bytes.rs`), so the pacer
//! counts them with the heap. A user's object may own memory the collector cannot see in the
//! same way — the pixels of an image in a `Box<[u8]>`, a `String` in a `Mutex`, a mapped file —
//! and a program that keeps making such objects and dropping them grows by that memory without
//! the pacer starting a cycle, since the objects themselves are small. (V8's
//! `AdjustAmountOfExternalAllocatedMemory`, JavaScriptCore's `reportExtraMemoryAllocated` and
//! .NET's `AddMemoryPressure` answer the same need.) An `ExternalBytes` field says how much: it
//! is charged exactly as a collection is, through the same [`Armed`] record — from the moment
//! allocation arms it, released when its object is dropped, and reported to the marker on its
//! first visit of each marking, so the bytes of the objects found live are part of the live
//! heap the next goal is computed from.
//!
//! # Invariants
//!
//! - `declared` is what the value was made with or last set to; once armed, `armed.charged()`
//!   is the figure the counters hold for it, and [`ExternalBytes::set`] changes both.
//! - An unarmed value (never inside an allocated object) charges nothing: no marking can
//!   reach it (`owned_bytes.rs`, "What is counted").
//! - No declaration exceeds `isize::MAX`, the most any allocation can hold.
//! - `set` holds `setting` while it changes `declared` and the charge: two threads setting one
//!   value at once would otherwise apply their differences to the global counter out of order,
//!   and take it below zero for a moment — which the collector read as an enormous heap (a
//!   hostile review: an overflow that stopped the process, or a goal of 44 TB). A collection's
//!   writers are kept in order by its write lock the same way.

use std::fmt;

use super::slots::{report_owned_once, Armed};
use crate::{
    object::{ScanCursor, Trace, Tracer},
    primitive::sync::{
        atomic::{AtomicUsize, Ordering},
        Mutex,
    },
};

/// The number of bytes a GC object owns outside the heap, declared so the pacer counts them
/// with the heap: put one in the object beside the memory it stands for, with that memory's
/// size, and [`set`](ExternalBytes::set) it when the size changes.
///
/// It counts from the moment the object is allocated until the object is dropped (after a
/// cycle found it dead), and each cycle counts the declarations of the objects it finds live
/// as live memory, so the heap goal of the next cycle has room for them. The figure shows in
/// [`Stats::owned_bytes`](crate::Stats::owned_bytes), beside what the collections own. An
/// `ExternalBytes` that is not inside an allocated object (on the stack, in an `Arc`) counts
/// nothing. The memory limit ([`Config::with_memory_limit`](crate::Config::with_memory_limit))
/// bounds the GC heap alone, as for the collections.
///
/// The collector believes the figure: declaring more than the object owns makes cycles more
/// frequent, declaring less makes them rarer; neither can free a reachable object. (Declarations
/// that add up to more than `usize::MAX` bytes wrap the counter and are not meaningful.) A
/// growing declaration starts a cycle as an allocation does, but does not make its thread help
/// with the marking: memory declared faster than a cycle takes (a mapped file, declared without
/// touching it) can grow by a few cycles' worth before the next one ends.
///
/// It may not be skipped (`#[trace(skip)]` is rejected), nor be held by the value of a
/// [`GcValueVec`](crate::GcValueVec) or [`GcValueMap`](crate::GcValueMap) element (storing such
/// a value panics). The derive's check is by name: behind a type alias or a user type, a
/// skipped one is not caught, and counts nothing.
///
/// ```
/// use gc_runtime::{ExternalBytes, Trace};
///
/// #[derive(Trace)]
/// struct Image {
///     pixels: Box<[u8]>,
///     pixel_bytes: ExternalBytes,
/// }
///
/// let mut mu = gc_runtime::attach();
/// for _ in 0..100 {
///     let pixels = vec![0u8; 1 << 20].into_boxed_slice();
///     let pixel_bytes = ExternalBytes::new(pixels.len());
///     let image = mu.alloc(Image { pixels, pixel_bytes });
///     assert_eq!(image.pixel_bytes.get(), 1 << 20);
///     mu.safepoint();
/// }
/// // The pacer saw 100 MiB of pixels go by, not 100 small objects, and started cycles as they
/// // did. The images are all garbage now: a full collection frees them, and their pixels.
/// mu.collect();
/// assert_eq!(gc_runtime::stats().owned_bytes, 0);
/// ```
pub struct ExternalBytes {
    /// Armed by allocation; what it charged.
    armed: Armed,
    /// The declared bytes (see the module's invariants).
    declared: AtomicUsize,
    /// Whether the current marking has counted this declaration yet.
    cursor: ScanCursor,
    /// Held by [`ExternalBytes::set`] (see the module's invariants).
    setting: Mutex<()>,
}

impl ExternalBytes {
    /// A declaration of `bytes` owned outside the heap, counted once allocation puts it in the
    /// heap.
    ///
    /// # Panics
    ///
    /// If `bytes` is more than `isize::MAX`, which no allocation can hold.
    pub fn new(bytes: usize) -> ExternalBytes {
        ExternalBytes {
            armed: Armed::new(),
            declared: AtomicUsize::new(checked(bytes)),
            cursor: ScanCursor::new(),
            setting: Mutex::new(()),
        }
    }

    /// The bytes declared.
    pub fn get(&self) -> usize {
        self.declared.load(Ordering::Relaxed)
    }

    /// Declare `bytes` instead: the memory the object owns grew or shrank. Counted at once
    /// (a growth may start a cycle, as an allocation may).
    ///
    /// # Panics
    ///
    /// If `bytes` is more than `isize::MAX`, which no allocation can hold; the declaration is
    /// left as it was.
    pub fn set(&self, bytes: usize) {
        let bytes = checked(bytes);
        let _one_at_a_time = self.setting.lock();
        self.declared.store(bytes, Ordering::Relaxed);
        self.armed.charge_to(bytes);
    }
}

/// `bytes`, if an allocation could hold that many.
fn checked(bytes: usize) -> usize {
    if bytes > isize::MAX as usize {
        too_many(bytes);
    }
    bytes
}

#[cold]
#[inline(never)]
fn too_many(bytes: usize) -> ! {
    panic!(
        "ExternalBytes: {bytes} bytes is more than any allocation can hold (isize::MAX); declare \
         the bytes the object really owns outside the heap"
    )
}

/// A panic cannot leave a value half set: `set` checks its argument before it takes `setting`,
/// which guards no data, and nothing under it can panic.
impl std::panic::RefUnwindSafe for ExternalBytes {}

impl Default for ExternalBytes {
    /// Nothing declared.
    fn default() -> Self {
        ExternalBytes::new(0)
    }
}

impl Clone for ExternalBytes {
    /// The same declaration, not yet in the heap: it counts once the clone is allocated.
    fn clone(&self) -> Self {
        ExternalBytes::new(self.get())
    }
}

impl fmt::Debug for ExternalBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("ExternalBytes");
        s.field("bytes", &self.get());
        if !self.armed.get() {
            s.field("armed", &false);
        }
        s.finish()
    }
}

// SAFETY: holds no GC pointer. `NEEDS_TRACE` stays true: allocation must arm it (which charges
// its bytes) and the marker must see it (which counts them live).
unsafe impl Trace for ExternalBytes {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        // The first call, from allocation, arms it and charges what it declared.
        self.armed.trace(tracer, || self.declared.load(Ordering::Relaxed));
        report_owned_once(&self.cursor, tracer, self.armed.charged());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{owned_bytes, test_support};

    #[derive(crate::Trace)]
    struct Holder {
        bytes: ExternalBytes,
    }

    /// Unarmed, it charges nothing; allocated, it charges its declaration, then each change;
    /// dropped with its object, it releases what it charged. (The counters are process-wide:
    /// other tests charge beside this one, so each step is compared with the test serialised.)
    #[test]
    fn an_allocated_declaration_is_charged_resized_and_released() {
        let _s = test_support::serial();
        let loose = ExternalBytes::new(1 << 30);
        loose.set(1 << 31);
        assert_eq!((loose.get(), loose.armed.charged()), (1 << 31, 0), "unarmed: nothing charged");
        let mut mu = crate::attach();
        let before = owned_bytes::current();
        {
            let h = mu.alloc(Holder { bytes: ExternalBytes::new(5000) });
            assert_eq!(owned_bytes::current() - before, 5000);
            h.bytes.set(12_000);
            assert_eq!(owned_bytes::current() - before, 12_000);
            h.bytes.set(3000);
            assert_eq!((owned_bytes::current() - before, h.bytes.get()), (3000, 3000));
            let copy = h.bytes.clone();
            assert_eq!((copy.get(), copy.armed.charged()), (3000, 0), "a clone is not in the heap");
        }
        let released = owned_bytes::released_total();
        // The holder is garbage; `collect` returns once what its cycle found dead is dropped.
        mu.collect();
        mu.collect();
        assert!(owned_bytes::released_total() - released >= 3000, "the dead object's bytes were released");
    }

    #[test]
    fn it_is_shared_between_threads_and_across_unwinding() {
        fn shareable<T: Send + Sync + std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
        shareable::<ExternalBytes>();
    }

    #[test]
    fn more_than_an_allocation_can_hold_is_refused_and_the_declaration_kept() {
        let b = ExternalBytes::new(isize::MAX as usize);
        let refused = std::panic::catch_unwind(|| b.set(isize::MAX as usize + 1));
        assert!(refused.is_err());
        assert_eq!(b.get(), isize::MAX as usize);
        assert!(std::panic::catch_unwind(|| ExternalBytes::new(usize::MAX)).is_err());
    }
}
