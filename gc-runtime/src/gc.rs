//! Locals: [`Gc<'m, T>`], the pointer running code holds.
//!
//! # Why a local cannot dangle
//!
//! A `Gc<'m, T>` borrows its thread's [`Mutator`] for `'m`. The collector frees objects only
//! after a cycle's mark termination, and a cycle can only terminate while every mutator is at a
//! safepoint or detached — both of which take `&mut Mutator`. So while a local exists, its
//! mutator has not passed a safepoint since the local was made, and the object it names was
//! reachable (or freshly allocated, hence black) when it was made: the marking in progress
//! will find it or has found it, and no sweep can free it. The borrow checker proves the rest.
//!
//! A local is `Copy`, derefs to `&'m T`, and is neither `Send` nor `Sync`: it belongs to its
//! thread's mutator. To keep an object across a safepoint, or hand it to another thread, make a
//! [`Root`]; to store it in another object, use a
//! [`Member`](crate::Member) slot.

use std::{fmt, marker::PhantomData, ops::Deref, ptr::NonNull};

use crate::{
    mutator::Mutator,
    object::{GcBox, Header, Trace},
    roots::Root,
};

/// A pointer to a GC object, valid until its mutator's next safepoint.
///
/// ```
/// let mu = gc_runtime::attach();
/// let a = mu.alloc(41_i64);
/// let b = a; // `Copy`
/// assert_eq!(*a + 1, 42);
/// assert!(gc_runtime::Gc::ptr_eq(a, b));
/// ```
pub struct Gc<'m, T> {
    ptr: Addr<GcBox<T>>,
    /// The mutator borrow, and the one thing that makes a local `!Send` and `!Sync` — named
    /// so that the compiler's error says what to do instead.
    _mutator: PhantomData<(&'m (), *mut UseARootToShareAnObjectWithAnotherThread)>,
}

/// A bare address. It is `Send + Sync` so that the types holding one get their thread
/// affinity from an explicit marker field instead (and the compiler's errors name that).
pub(crate) struct Addr<T>(pub(crate) NonNull<T>);

impl<T> Clone for Addr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Addr<T> {}

// SAFETY: an address alone grants nothing; every holder restricts its own thread use with a
// `!Send`/`!Sync` marker field.
unsafe impl<T> Send for Addr<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for Addr<T> {}

/// Appears in compiler errors when a [`Gc`] local is sent to or shared with another thread:
/// locals belong to their thread's mutator. Make a [`Root`] (`gc.root(&mu)`), which is
/// `Send + Sync`, and read it there with that thread's mutator.
#[doc(hidden)]
pub enum UseARootToShareAnObjectWithAnotherThread {}

impl<'m, T> Gc<'m, T> {
    /// Wrap a pointer to an allocated object.
    ///
    /// # Safety
    /// `ptr` points to an initialised `GcBox<T>` that stays allocated until `mu` passes a
    /// safepoint (it is reachable or was allocated black by `mu`).
    #[inline]
    pub(crate) unsafe fn from_raw(ptr: NonNull<GcBox<T>>, _mu: &'m Mutator) -> Gc<'m, T> {
        Gc { ptr: Addr(ptr), _mutator: PhantomData }
    }

    /// The object's header address (what slots store).
    #[inline]
    pub(crate) fn header_ptr(self) -> *mut Header {
        self.ptr.0.as_ptr().cast()
    }

    /// A reference to the object that lives as long as the mutator borrow.
    #[inline]
    pub fn into_ref(self) -> &'m T {
        // SAFETY: the object is allocated until the mutator's next safepoint, which cannot
        // come while `'m` lasts (module docs); objects are `Sync` and only shared references
        // are handed out.
        unsafe { &(*self.ptr.0.as_ptr()).value }
    }

    /// Whether two locals name the same object.
    #[inline]
    pub fn ptr_eq(a: Gc<'_, T>, b: Gc<'_, T>) -> bool {
        a.ptr.0 == b.ptr.0
    }

    /// The object's address: stable for its lifetime (the collector does not move objects),
    /// usable as a hash key for identity.
    #[inline]
    pub fn addr(self) -> usize {
        self.ptr.0.as_ptr() as usize
    }
}

impl<T: Trace + Send + Sync + 'static> Gc<'_, T> {
    /// Register a [`Root`] for this object.
    pub fn root(self, mu: &Mutator) -> Root<T> {
        Root::new(mu, self)
    }
}

impl<T> Clone for Gc<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Gc<'_, T> {}

impl<T> Deref for Gc<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        (*self).into_ref()
    }
}

impl<T: fmt::Debug> fmt::Debug for Gc<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Display> fmt::Display for Gc<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T> fmt::Pointer for Gc<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Pointer::fmt(&self.ptr.0, f)
    }
}
