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
    object::{Header, Object},
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
pub struct Gc<'m, T: ?Sized> {
    /// The object's header: one word for every `T`, sized or not (see `object/layout.rs`).
    ptr: Addr<Header>,
    /// The mutator borrow, and the one thing that makes a local `!Send` and `!Sync` — named
    /// so that the compiler's error says what to do instead.
    _mutator: PhantomData<(&'m (), *mut UseARootToShareAnObjectWithAnotherThread)>,
    /// Covariant in `T`, like `&T`: a local is only read. (`Send` and `Sync` itself, so that
    /// the compiler's error about threads names the marker above, not this one.)
    _t: PhantomData<fn() -> *const T>,
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

impl<'m, T: ?Sized> Gc<'m, T> {
    /// Wrap the header address of an allocated object.
    ///
    /// # Safety
    /// `header` is the header of an initialised object of type `T` (laid out as
    /// `object/layout.rs` says) that stays allocated until `mu` passes a safepoint (it is
    /// reachable or was allocated black by `mu`).
    #[inline]
    pub(crate) unsafe fn from_header(header: NonNull<Header>, _mu: &'m Mutator) -> Gc<'m, T> {
        Gc { ptr: Addr(header), _mutator: PhantomData, _t: PhantomData }
    }

    /// As [`from_header`](Self::from_header), for a header taken from a local of lifetime `'m`
    /// that was stored in a form without one (`TaggedWord`).
    ///
    /// # Safety
    /// As `from_header`'s, with `'m` the lifetime of the local the header came from.
    #[inline(always)]
    pub(crate) unsafe fn from_header_unbound(header: NonNull<Header>) -> Gc<'m, T> {
        Gc { ptr: Addr(header), _mutator: PhantomData, _t: PhantomData }
    }

    /// The object's header address (what slots store).
    #[inline]
    pub(crate) fn header_ptr(self) -> *mut Header {
        self.ptr.0.as_ptr()
    }

    /// Whether two locals name the same object.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let (a, b) = (mu.alloc_str("same"), mu.alloc_str("same"));
    /// assert!(gc_runtime::Gc::ptr_eq(a, a) && !gc_runtime::Gc::ptr_eq(a, b));
    /// ```
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

impl<'m, T: ?Sized + Object> Gc<'m, T> {
    /// A reference to the object that lives as long as the mutator borrow.
    #[inline]
    pub fn into_ref(self) -> &'m T {
        // SAFETY: the object is allocated until the mutator's next safepoint, which cannot
        // come while `'m` lasts (module docs), and is a `T` (every constructor of a local
        // takes a header of an object of type `T`); objects are `Sync` and only shared
        // references are handed out.
        unsafe { T::from_header(self.ptr.0.cast()) }
    }
}

impl<T: ?Sized + Object + 'static> Gc<'_, T> {
    /// Register a [`Root`] for this object.
    pub fn root(self, mu: &Mutator) -> Root<T> {
        Root::new(mu, self)
    }
}

impl<T: ?Sized> Clone for Gc<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: ?Sized> Copy for Gc<'_, T> {}

impl<T: ?Sized + Object> Deref for Gc<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        (*self).into_ref()
    }
}

impl<T: ?Sized + Object + fmt::Debug> fmt::Debug for Gc<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + Object + fmt::Display> fmt::Display for Gc<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: ?Sized> fmt::Pointer for Gc<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Pointer::fmt(&self.ptr.0, f)
    }
}
