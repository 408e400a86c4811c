//! Trait objects in the heap: `Gc<dyn Trait>`, `Member<dyn Trait>`, `Root<dyn Trait>`.
//!
//! # Why the vtable lives in the object
//!
//! A GC pointer is one word, the header's address, for every type (see `layout.rs`): a slot is
//! one atomic word for the barrier and the marker. A `&dyn Trait` is two words, the value's
//! address and its vtable. So, as a slice keeps its length after its header, a trait object
//! keeps its *view* there: the whole fat pointer `*const dyn Trait` to its own value, written
//! once at allocation. Reading a `Gc<dyn Trait>` reads the view; the object's descriptor,
//! like any sized object's, is its concrete type's, so the collector traces and drops the
//! concrete value and never looks at the view.
//!
//! | in the heap | reference from the header |
//! |---|---|
//! | `GcBox<DynValue<U, T>>`: header, view (a `*const U` to `value`), the `T` value | the view, at the value offset the descriptor records |
//!
//! The view sits at the start of the `DynValue`, whose offset from the header depends on `T`'s
//! alignment (8 bytes for most types, more for an over-aligned one): the reader does not know
//! `T`, so it takes the offset from the object's descriptor (`TypeDesc::value_offset`).
//!
//! A trait object costs 16 bytes more than the plain object (the view), and an existing
//! `Gc<Circle>` cannot become a `Gc<dyn Shape>`: it has no view. A value meant to be used as a
//! trait object is allocated as one ([`Mutator::alloc_dyn`](crate::Mutator::alloc_dyn)).
//!
//! # Why the coercion comes from a macro
//!
//! On stable Rust a generic function cannot ask "`T` unsizes to `U`" (`Unsize` and
//! `CoerceUnsized` are unstable), so the coercion is written where both types are named, by
//! [`unsize!`](crate::unsize): `|p: *const T| -> *const U { p }`, which compiles only as an
//! unsizing coercion, so the view's metadata is the one the compiler made for `T` as a `U`.
//! A hand-written function could return any pointer with any metadata — another value's
//! vtable, a slice length of a million — so [`Unsize::new_unchecked`], which takes one, is
//! `unsafe`, and the macro is the safe way.
//!
//! # Which types are trait-object types
//!
//! A `Gc<U>` reads its object by `U`'s [`Object`](super::Object) impl, and only objects
//! allocated by `alloc_dyn` have a view. So `U` must be declared a trait-object type, once, by
//! [`dyn_object!`](crate::dyn_object): it implements `Object` (reading the view) and
//! [`DynObject`] (which `alloc_dyn` requires) for that `dyn Trait`. It cannot be declared for
//! a sized type (its `Object` impl would conflict with the one every sized type has), nor for
//! a slice or `str` (theirs already exist), and Rust's orphan rules allow it only in the crate
//! that defines the trait — or here, for `dyn Any`, `dyn Debug` and `dyn Display`.
//!
//! # Invariants
//!
//! - Every object whose pointer is a `Gc<U>`, `Member<U>`, `Root<U>` or `Weak<U>` for a
//!   [`DynObject`] type `U` was allocated by `alloc_dyn` as a `GcBox<DynValue<U, T>>` for some
//!   `T`, whose view was written, before the object was published, to point at its own value
//!   with the metadata of an unsizing coercion of `T` to `U`.

use std::{
    fmt,
    marker::PhantomData,
    ptr::{self, NonNull},
};

use super::{
    header::{GcBox, Header},
    trace::{Trace, Tracer},
};

/// The fat pointer a trait object keeps to its own value.
#[repr(transparent)]
pub(crate) struct View<U: ?Sized>(*const U);

// SAFETY: a view is an address and a vtable; it is only dereferenced by `dyn_from_header`,
// under the object's own rules, and the value it points to is `Send + Sync` (`alloc_dyn`
// requires it of `T`).
unsafe impl<U: ?Sized> Send for View<U> {}
// SAFETY: as for `Send`.
unsafe impl<U: ?Sized> Sync for View<U> {}

/// A trait object's value as laid out after its header: the view, then the concrete value.
#[repr(C)]
pub(crate) struct DynValue<U: ?Sized, T> {
    view: View<U>,
    value: T,
}

// SAFETY: reports the value's slots (the view holds no GC pointer), and holds nothing else;
// `NEEDS_TRACE` is the value's.
unsafe impl<U: ?Sized, T: Trace> Trace for DynValue<U, T> {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;

    #[inline]
    fn trace(&self, tracer: &mut Tracer<'_>) {
        self.value.trace(tracer);
    }
}

impl<U: ?Sized, T> DynValue<U, T> {
    /// The value, with a placeholder view: [`set_view`] writes the real one once the object
    /// has its address.
    pub(crate) fn new(value: T, unsize: Unsize<T, U>) -> Self {
        DynValue { view: View((unsize.coerce)(ptr::null())), value }
    }

    /// The concrete value of the allocated trait object `obj`.
    ///
    /// # Safety
    /// `obj` is an allocated, initialised object that stays allocated for `'a`.
    pub(crate) unsafe fn value<'a>(obj: NonNull<GcBox<Self>>) -> &'a T {
        // SAFETY: the caller guarantees an allocated, initialised object for `'a`.
        unsafe { &(*obj.as_ptr()).value.value }
    }

    /// The value back (an allocation the memory limit refused).
    pub(crate) fn into_value(self) -> T {
        self.value
    }
}

/// Point the view of a freshly allocated trait object at its own value.
///
/// # Safety
/// `obj` is a freshly allocated, initialised object that nothing else can see yet (not yet
/// published).
pub(crate) unsafe fn set_view<U: ?Sized, T>(obj: NonNull<GcBox<DynValue<U, T>>>, unsize: Unsize<T, U>) {
    let dyn_value = obj.as_ptr();
    // SAFETY: the object is allocated and initialised, and only this thread can see it (the
    // caller), so writing its view through the allocation's own pointer races with nothing.
    // The value pointer keeps that pointer's provenance (the whole object).
    unsafe {
        let value = &raw const (*dyn_value).value.value;
        (&raw mut (*dyn_value).value.view).write(View((unsize.coerce)(value)));
    }
}

/// The value of the trait object at `header`, through its view.
///
/// # Safety
/// `header` is the header of an allocated trait object of type `U` (see the module's
/// invariants) that stays allocated for `'a`.
#[doc(hidden)]
#[inline]
pub unsafe fn dyn_from_header<'a, U: ?Sized>(header: NonNull<()>) -> &'a U {
    let header = header.cast::<Header>();
    // SAFETY: the caller guarantees a trait object of type `U`: a `GcBox<DynValue<U, T>>`
    // for some `T`, whose `DynValue` (first field: the view, `repr(C)`) sits at the value
    // offset its descriptor records, and whose view was written before it was published.
    unsafe {
        let offset = header.as_ref().desc().value_offset;
        let view = header.cast::<u8>().add(offset).cast::<View<U>>();
        &*view.as_ref().0
    }
}

/// Proof that `T` unsizes to `U` (as `Circle` to `dyn Shape`): what
/// [`Mutator::alloc_dyn`](crate::Mutator::alloc_dyn) needs to give a `T` a view as a `U`.
/// Made by [`unsize!`](crate::unsize).
pub struct Unsize<T, U: ?Sized> {
    coerce: fn(*const T) -> *const U,
    _t: PhantomData<fn(T) -> T>,
}

impl<T, U: ?Sized> Unsize<T, U> {
    /// Wrap a coercion function. Use [`unsize!`](crate::unsize), which writes the function
    /// itself.
    ///
    /// # Safety
    /// `coerce` must return its argument unsized: the same address, with the metadata of an
    /// unsizing coercion of `*const T` to `*const U` (what `|p| p` with that signature
    /// compiles to), for every pointer it is given.
    #[doc(hidden)]
    pub const unsafe fn new_unchecked(coerce: fn(*const T) -> *const U) -> Self {
        Unsize { coerce, _t: PhantomData }
    }
}

impl<T, U: ?Sized> Clone for Unsize<T, U> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T, U: ?Sized> Copy for Unsize<T, U> {}

impl<T, U: ?Sized> fmt::Debug for Unsize<T, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Unsize<{} => {}>", std::any::type_name::<T>(), std::any::type_name::<U>())
    }
}

/// A trait-object type that GC pointers can point to: `Gc<dyn Shape>`, `Member<dyn Shape>`.
/// Declare one with [`dyn_object!`](crate::dyn_object); this crate declares `dyn Any` (also
/// `+ Send`, `+ Send + Sync`), `dyn Debug` and `dyn Display`.
///
/// # Safety
/// Implemented only by [`dyn_object!`](crate::dyn_object), together with an
/// [`Object`](super::Object) impl that reads the object through its view. An impl written by
/// hand promises the same.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not declared as a trait-object type for GC pointers",
    label = "`alloc_dyn` makes objects of trait-object types only",
    note = "a `dyn Trait` type is declared once, next to its trait: `gc_runtime::dyn_object!(dyn Trait);` (slices and `str` have allocators of their own: `alloc_slice`, `alloc_str`)"
)]
pub unsafe trait DynObject: super::Object {}

/// An [`Unsize`] proof for `Concrete => dyn Trait`, for
/// [`Mutator::alloc_dyn`](crate::Mutator::alloc_dyn). Compiles only if `Concrete` unsizes to
/// the target (it implements the trait, for a trait object).
///
/// ```
/// use gc_runtime::{dyn_object, unsize, Gc, Trace};
///
/// trait Shape {
///     fn area(&self) -> f64;
/// }
/// dyn_object!(dyn Shape);
///
/// #[derive(Trace)]
/// struct Square(f64);
/// impl Shape for Square {
///     fn area(&self) -> f64 {
///         self.0 * self.0
///     }
/// }
///
/// let mu = gc_runtime::attach();
/// let s: Gc<dyn Shape> = mu.alloc_dyn(Square(3.0), unsize!(Square => dyn Shape));
/// assert_eq!(s.area(), 9.0);
/// ```
#[macro_export]
macro_rules! unsize {
    ($from:ty => $($to:tt)+) => {{
        // The parentheses keep `dyn A + B` one type after `*const`.
        #[allow(unused_parens)]
        let coerce: fn(*const $from) -> *const ($($to)+) = |p| p;
        // SAFETY: `coerce` is the identity, and its signature makes the return an unsizing
        // coercion: the same address, with the metadata the compiler made.
        unsafe { $crate::Unsize::new_unchecked(coerce) }
    }};
}

/// Declare a `dyn Trait` type as one GC pointers can point to (`Gc<dyn Trait>`,
/// `Member<dyn Trait>`, `Root`, `Weak`, collections), once, in the crate that defines the
/// trait. Generic traits list their parameters first: `dyn_object!(<T> dyn Handler<T>)`. A
/// struct of the crate with an unsized last field works the same way (`dyn_object!(Framed<[u64]>)`,
/// made by `unsize!(Framed<[u64; 4]> => Framed<[u64]>)`): its view carries the length.
///
/// ```
/// use gc_runtime::{dyn_object, unsize, Member, Trace};
///
/// trait Handler<E> {
///     fn handle(&self, event: E) -> String;
/// }
/// dyn_object!(<E> dyn Handler<E>);
///
/// #[derive(Trace)]
/// struct Printer;
/// impl Handler<u32> for Printer {
///     fn handle(&self, event: u32) -> String {
///         format!("event {event}")
///     }
/// }
///
/// #[derive(Trace)]
/// struct Bus {
///     handler: Member<dyn Handler<u32>>,
/// }
///
/// let mut mu = gc_runtime::attach();
/// let bus = mu.alloc(Bus { handler: Member::new() });
/// bus.handler.set(Some(mu.alloc_dyn(Printer, unsize!(Printer => dyn Handler<u32>))));
/// let bus = bus.root(&mu);
/// mu.collect(); // the handler is reachable through the bus: it survives
/// let bus = bus.get(&mu);
/// assert_eq!(bus.handler.get(&mu).unwrap().handle(7), "event 7");
/// ```
#[macro_export]
macro_rules! dyn_object {
    (<$($param:ident),+ $(,)?> $($ty:tt)+) => {
        impl<$($param),+> $crate::__private::Sealed for $($ty)+ {}
        // SAFETY: `DynObject` lets only `alloc_dyn` make objects of this type, which gives
        // each a view (see `object/dyn_object.rs`); this impl reads it.
        unsafe impl<$($param),+> $crate::Object for $($ty)+ {
            #[inline]
            unsafe fn from_header<'a>(header: ::core::ptr::NonNull<()>) -> &'a Self {
                // SAFETY: the caller guarantees an allocated object of this type.
                unsafe { $crate::__private::dyn_from_header(header) }
            }
        }
        // SAFETY: the `Object` impl above reads the view.
        unsafe impl<$($param),+> $crate::DynObject for $($ty)+ {}
    };
    ($($ty:tt)+) => {
        impl $crate::__private::Sealed for $($ty)+ {}
        // SAFETY: `DynObject` lets only `alloc_dyn` make objects of this type, which gives
        // each a view (see `object/dyn_object.rs`); this impl reads it.
        unsafe impl $crate::Object for $($ty)+ {
            #[inline]
            unsafe fn from_header<'a>(header: ::core::ptr::NonNull<()>) -> &'a Self {
                // SAFETY: the caller guarantees an allocated object of this type.
                unsafe { $crate::__private::dyn_from_header(header) }
            }
        }
        // SAFETY: the `Object` impl above reads the view.
        unsafe impl $crate::DynObject for $($ty)+ {}
    };
}

crate::dyn_object!(dyn std::any::Any);
crate::dyn_object!(dyn std::any::Any + Send);
crate::dyn_object!(dyn std::any::Any + Send + Sync);
crate::dyn_object!(dyn std::fmt::Debug);
crate::dyn_object!(dyn std::fmt::Display);

#[cfg(test)]
mod tests {
    use std::sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    };

    use super::*;
    use crate::{test_support, Gc, Member, Mutator};

    trait Named {
        fn name(&self) -> String;
        fn next(&self) -> Option<&Member<dyn Named>> {
            None
        }
    }
    crate::dyn_object!(dyn Named);

    /// Counts its drops; holds a slot of a trait-object type.
    struct Link {
        id: u32,
        next: Member<dyn Named>,
        drops: Arc<AtomicUsize>,
    }

    impl Drop for Link {
        fn drop(&mut self) {
            self.drops.fetch_add(1, Ordering::SeqCst);
        }
    }

    // SAFETY: reports its one slot.
    unsafe impl Trace for Link {
        fn trace(&self, tracer: &mut Tracer<'_>) {
            self.next.trace(tracer);
        }
    }

    impl Named for Link {
        fn name(&self) -> String {
            format!("link {}", self.id)
        }
        fn next(&self) -> Option<&Member<dyn Named>> {
            Some(&self.next)
        }
    }

    /// Over-aligned: its view sits 32 bytes after the header, not 8.
    #[repr(align(32))]
    struct Aligned(u8);

    // SAFETY: holds no GC pointer.
    unsafe impl Trace for Aligned {
        const NEEDS_TRACE: bool = false;
        fn trace(&self, _: &mut Tracer<'_>) {}
    }

    impl Named for Aligned {
        fn name(&self) -> String {
            format!("aligned {}", self.0)
        }
    }

    #[test]
    fn the_view_sits_at_the_value_offset_the_descriptor_records() {
        let plain = <DynValue<dyn Named, u8> as crate::object::header::Describe>::DESC;
        assert_eq!(plain.value_offset, 8);
        let aligned = <DynValue<dyn Named, Aligned> as crate::object::header::Describe>::DESC;
        assert_eq!(aligned.value_offset, 32);
        assert_eq!(std::mem::offset_of!(DynValue<dyn Named, Aligned>, view), 0);
    }

    /// Allocation, the view, reading through it, tracing and dropping a trait object's value —
    /// this module's unsafe code — small enough for Miri.
    #[test]
    fn trait_objects_are_read_traced_and_dropped_through_their_view() {
        let _s = test_support::serial();
        let drops = Arc::new(AtomicUsize::new(0));
        let mut mu = crate::attach();
        fn link<'m>(mu: &'m Mutator, id: u32, drops: &Arc<AtomicUsize>) -> Gc<'m, dyn Named> {
            let value = Link { id, next: Member::new(), drops: drops.clone() };
            mu.alloc_dyn(value, crate::unsize!(Link => dyn Named))
        }
        let root = {
            let a: Gc<'_, dyn Named> = link(&mu, 1, &drops);
            let b = link(&mu, 2, &drops);
            let c = mu.alloc_dyn(Aligned(7), crate::unsize!(Aligned => dyn Named));
            a.next().unwrap().set(Some(b));
            b.next().unwrap().set(Some(c));
            assert_eq!(c.name(), "aligned 7");
            let value: &dyn Named = c.into_ref();
            assert_eq!((value as *const dyn Named).cast::<u8>().addr() % 32, 0);
            let _garbage = link(&mu, 3, &drops);
            a.root(&mu)
        };
        mu.collect();
        mu.collect();
        assert_eq!(drops.load(Ordering::SeqCst), 1, "only the unreachable link was dropped");
        let a = root.get(&mu);
        let b = a.next().unwrap().get(&mu).unwrap();
        let c = b.next().unwrap().get(&mu).unwrap();
        assert_eq!([a.name(), b.name(), c.name()], ["link 1", "link 2", "aligned 7"]);
        drop(root);
        mu.collect();
        mu.collect();
        assert_eq!(drops.load(Ordering::SeqCst), 3, "every link was dropped, once");
    }
}
