//! Roots: owned, registered handles that keep their objects alive across safepoints and
//! threads ([`Root`]), and the same in a `static` ([`GlobalRoot`]).
//!
//! A root owns a cell of the root table (see `root_table.rs`, which the marker scans). A new
//! root is an insertion: shaded while the barrier is on, under every barrier kind. A root may
//! be dropped on any thread, attached or not: the drop empties its cell under the table's
//! orphan-shade protocol, which shades the old referent where the barrier asks for it.

use std::{fmt, marker::PhantomData, ptr::NonNull};

use crate::{
    barrier,
    cells::PtrCell,
    clock,
    gc::Gc,
    mutator::Mutator,
    object::{Object, Trace, Tracer},
    primitive::sync::{atomic::Ordering, Mutex},
    runtime::Runtime,
    variance::Invariant,
};

/// An owned, registered pointer that keeps its object alive across safepoints and threads.
///
/// Reading it needs a mutator ([`Root::get`]), and gives a local. A root can be sent to and
/// dropped on any thread, attached or not.
///
/// ```
/// use gc_runtime::{Root, Mutator};
/// let mut mu = gc_runtime::attach();
/// let root: Root<String> = mu.alloc(String::from("kept")).root(&mu);
/// mu.safepoint(); // locals die here, the root does not
/// assert_eq!(*root.get(&mu), "kept");
/// ```
pub struct Root<T: ?Sized + 'static> {
    cell: &'static PtrCell,
    /// Invariant in `T` (see `variance.rs`).
    _t: Invariant<T>,
}

impl<T: ?Sized + Object + 'static> Root<T> {
    /// Register a root for `gc`.
    pub fn new(mu: &Mutator, gc: Gc<'_, T>) -> Root<T> {
        let new = gc.header_ptr();
        let cell = mu.runtime().roots.register(new);
        if clock::barrier_on() {
            // A new root is an insertion: shade it under every barrier kind (the object may
            // have been read from a slot the marker has not scanned yet).
            mu.shade(new);
        }
        Root { cell, _t: PhantomData }
    }

    /// The object, as a local of `mu`.
    pub fn get<'m>(&self, mu: &'m Mutator) -> Gc<'m, T> {
        let p = self.cell.ptr.load(Ordering::Acquire);
        // SAFETY: a root cell owned by a `Root<T>` always holds a non-null pointer to a live
        // object of type `T` (set in `new`/`set`, cleared only in `drop`); the object is alive
        // because roots are scanned.
        unsafe { Gc::from_header(NonNull::new_unchecked(p), mu) }
    }

    /// Point the root at another object (runs the write barrier).
    pub fn set(&self, gc: Gc<'_, T>) {
        barrier::write_root(&self.cell.ptr, gc.header_ptr());
    }
}

impl<T: ?Sized + 'static> Drop for Root<T> {
    fn drop(&mut self) {
        let rt = Runtime::get();
        rt.roots.unregister(self.cell, &rt.grey);
    }
}

// SAFETY: a root is a strong reference held outside the heap; the marker scans the root table
// directly, so a root inside an object reports nothing (and keeps its referent alive like an
// `Arc` would).
unsafe impl<T: ?Sized + 'static> Trace for Root<T> {
    const NEEDS_TRACE: bool = false;
    fn trace(&self, _tracer: &mut Tracer<'_>) {}
}

impl<T: ?Sized + 'static> fmt::Debug for Root<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Root<{}>({:p})", std::any::type_name::<T>(), self.cell.ptr.load(Ordering::Relaxed))
    }
}

/// A root that can live in a `static`: the global root set for long-lived structures (an
/// interpreter's globals, a cache). Empty until set; any thread may set, read or clear it.
///
/// ```
/// use gc_runtime::GlobalRoot;
///
/// static CONFIG: GlobalRoot<String> = GlobalRoot::new();
///
/// let mut mu = gc_runtime::attach();
/// CONFIG.set(&mu, mu.alloc(String::from("verbose")));
/// mu.collect();
/// assert_eq!(*CONFIG.get(&mu).unwrap(), "verbose");
/// CONFIG.clear();
/// assert!(CONFIG.get(&mu).is_none());
/// ```
pub struct GlobalRoot<T: ?Sized + 'static> {
    root: Mutex<Option<Root<T>>>,
}

impl<T: ?Sized + 'static> GlobalRoot<T> {
    /// An empty global root (usable in a `static` initialiser).
    pub const fn new() -> GlobalRoot<T> {
        GlobalRoot { root: Mutex::new(None) }
    }

    /// Forget the object (it can be collected if nothing else holds it).
    pub fn clear(&self) {
        let old = self.root.lock().take();
        drop(old);
    }
}

impl<T: ?Sized + Object + 'static> GlobalRoot<T> {
    /// Point the global root at `gc`'s object.
    pub fn set(&self, mu: &Mutator, gc: Gc<'_, T>) {
        let mut root = self.root.lock();
        match &*root {
            Some(r) => r.set(gc),
            None => *root = Some(Root::new(mu, gc)),
        }
    }

    /// The object, if set.
    pub fn get<'m>(&self, mu: &'m Mutator) -> Option<Gc<'m, T>> {
        self.root.lock().as_ref().map(|r| r.get(mu))
    }
}

impl<T: ?Sized + 'static> Default for GlobalRoot<T> {
    fn default() -> Self {
        GlobalRoot::new()
    }
}

impl<T: ?Sized + 'static> fmt::Debug for GlobalRoot<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.root.lock() {
            Some(r) => write!(f, "GlobalRoot({r:?})"),
            None => write!(f, "GlobalRoot(empty)"),
        }
    }
}
