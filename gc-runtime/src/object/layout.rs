//! Object layouts: how an object's header address becomes a reference to its value, for sized
//! types and for the two unsized kinds, slices (`[E]`) and `str` (trait objects: see
//! `dyn_object.rs`).
//!
//! # Why every GC pointer is one word
//!
//! A slot ([`Member`](crate::Member)) is one atomic word, which the barrier swaps and the
//! marker reads without a lock, and a pointer to a slice would need two (address and length).
//! So a GC pointer is always the header's address, for every type; what a fat reference needs
//! besides — a slice's length — lives in the object, right after the header:
//!
//! | type | in the heap | reference from the header |
//! |---|---|---|
//! | `T: Sized` | [`GcBox<T>`]: header, value | the `value` field |
//! | `[E]` | [`ArrayBox<E>`]: header, length, the elements | the elements, with the stored length |
//! | `str` | `ArrayBox<u8>`, bytes that are UTF-8 | as `[u8]`, then `from_utf8_unchecked` |
//!
//! A fourth kind, trait objects (`dyn Trait`, a sized value with a view of it after the
//! header), is in `dyn_object.rs`.
//!
//! [`Object`] is the sealed trait that names these three cases (and the declared trait-object
//! types); `Gc`, `Member`, `Root` and
//! `Weak` accept any `T: ?Sized + Object`.
//!
//! # Invariants
//!
//! - An object's header is followed by the layout its descriptor describes: an array's
//!   descriptor ([`array_desc`]) is only ever put in front of an `ArrayBox<E>` of that `E`,
//!   whose length word says how many initialised elements follow. The length never changes.
//! - A `str` object was allocated from a `&str` (`Mutator::alloc_str`): its bytes are UTF-8.
//! - Every pointer handed to [`Object::from_header`] came from a local, slot, root or weak cell
//!   of the same `T`: the type system keeps them apart (a `Gc<str>` is never made from a
//!   `Gc<[u8]>`'s address except by `alloc_str`, which writes the bytes itself).

use std::{mem::offset_of, ptr::NonNull};

use super::{
    header::{GcBox, Header, TypeDesc},
    trace::{Trace, Tracer},
};

/// A type a GC pointer can point to: every sized type, slices (`[E]`) and `str`.
///
/// Sealed: the collector lays these types out itself (see the module docs). It appears in
/// bounds only when generic code accepts unsized objects: `fn f<T: ?Sized + Object>(gc:
/// Gc<'_, T>)`. Sized types implement it without being named.
///
/// ```
/// use gc_runtime::{Gc, Object};
///
/// fn describe<T: ?Sized + Object + std::fmt::Debug>(gc: Gc<'_, T>) -> String {
///     format!("{:?}", &*gc)
/// }
///
/// let mu = gc_runtime::attach();
/// assert_eq!(describe(mu.alloc(7_u8)), "7");
/// assert_eq!(describe(mu.alloc_slice([1_u8, 2])), "[1, 2]");
/// assert_eq!(describe(mu.alloc_str("hi")), "\"hi\"");
/// ```
///
/// Trait objects are objects too, once their type is declared with
/// [`dyn_object!`](crate::dyn_object) (see [`DynObject`](crate::DynObject)).
///
/// # Safety
///
/// Implemented only in this module and by [`dyn_object!`](crate::dyn_object) (the trait is
/// sealed): `from_header` must read the value laid out behind the header exactly as the
/// allocator wrote it.
pub unsafe trait Object: sealed::Sealed {
    /// The value of the object whose header is at `header` (the header's address, its type
    /// erased: `Header` is private).
    ///
    /// # Safety
    /// `header` is the header of an allocated, initialised object of type `Self`, which stays
    /// allocated for `'a`.
    #[doc(hidden)]
    unsafe fn from_header<'a>(header: NonNull<()>) -> &'a Self;
}

pub(crate) mod sealed {
    /// Seals [`Object`](super::Object): only this crate's impls and `dyn_object!`'s.
    pub trait Sealed {}
    impl<T> Sealed for T {}
    impl<E> Sealed for [E] {}
    impl Sealed for str {}
}

// SAFETY: a sized object is a `GcBox<T>` (`thread_state::alloc`), whose first field is the
// header (`repr(C)`).
unsafe impl<T> Object for T {
    #[inline(always)]
    unsafe fn from_header<'a>(header: NonNull<()>) -> &'a T {
        // SAFETY: the caller guarantees a live, initialised `GcBox<T>` at `header`.
        unsafe { &(*header.cast::<GcBox<T>>().as_ptr()).value }
    }
}

// SAFETY: a slice object is an `ArrayBox<E>` with `len` initialised elements
// (`thread_state::alloc_array`).
unsafe impl<E> Object for [E] {
    #[inline(always)]
    unsafe fn from_header<'a>(header: NonNull<()>) -> &'a [E] {
        // SAFETY: the caller guarantees a live, initialised `ArrayBox<E>` at `header`.
        unsafe { ArrayBox::<E>::elements(header.as_ptr().cast()) }
    }
}

// SAFETY: a `str` object is an `ArrayBox<u8>` whose bytes were copied from a `&str`.
unsafe impl Object for str {
    #[inline(always)]
    unsafe fn from_header<'a>(header: NonNull<()>) -> &'a str {
        // SAFETY: the caller guarantees a live `str` object at `header`: its bytes are an
        // `ArrayBox<u8>`'s elements, copied from a `&str`, so they are UTF-8.
        unsafe { std::str::from_utf8_unchecked(ArrayBox::<u8>::elements(header.as_ptr().cast())) }
    }
}

/// An array object as laid out in the heap: header, length, then `len` elements starting at
/// `elements` (aligned for `E` by `repr(C)`).
#[repr(C)]
pub(crate) struct ArrayBox<E> {
    pub(crate) header: Header,
    pub(crate) len: usize,
    pub(crate) elements: [E; 0],
}

impl<E> ArrayBox<E> {
    /// Where the elements start, from the header.
    pub(crate) const ELEMENTS_OFFSET: usize = offset_of!(ArrayBox<E>, elements);

    /// The layout of an array object of `len` elements, or `None` if it overflows `isize`.
    pub(crate) fn layout(len: usize) -> Option<std::alloc::Layout> {
        let size = std::mem::size_of::<E>().checked_mul(len)?.checked_add(Self::ELEMENTS_OFFSET)?;
        std::alloc::Layout::from_size_align(size, std::mem::align_of::<ArrayBox<E>>()).ok()
    }

    /// The elements of the array object at `header`.
    ///
    /// # Safety
    /// `header` is the header of an initialised `ArrayBox<E>` that stays allocated for `'a`.
    #[inline(always)]
    pub(crate) unsafe fn elements<'a>(header: *const Header) -> &'a [E] {
        let array = header.cast::<ArrayBox<E>>();
        // SAFETY: the caller guarantees an initialised `ArrayBox<E>`: its length word is
        // written, and `len` initialised elements follow at `elements`, inside the block the
        // header's pointer has provenance over (the whole object).
        unsafe { std::slice::from_raw_parts((&raw const (*array).elements).cast::<E>(), (*array).len) }
    }
}

/// Gives every element type a `'static` descriptor for arrays of it (`[E]`, and `str` with
/// `STR_DESC`).
trait DescribeArray: Trace + Sized {
    /// Whether arrays of this type have slots to arm and trace. A zero-sized type cannot
    /// hold a slot (a slot is a word), whatever its `NEEDS_TRACE` says: its arrays are never
    /// walked, so a zero-sized array of any count costs nothing to allocate or mark.
    const ARRAY_NEEDS_TRACE: bool = Self::NEEDS_TRACE && std::mem::size_of::<Self>() != 0;

    const ARRAY_DESC: TypeDesc = TypeDesc {
        trace: if Self::ARRAY_NEEDS_TRACE { Some(trace_array::<Self>) } else { None },
        mark_run: None,
        drop: if std::mem::needs_drop::<Self>() { Some(drop_array::<Self>) } else { None },
        size: ArrayBox::<Self>::ELEMENTS_OFFSET,
        element_size: std::mem::size_of::<Self>(),
        value_offset: ArrayBox::<Self>::ELEMENTS_OFFSET,
        type_name: std::any::type_name::<[Self]>,
    };
}

impl<E: Trace> DescribeArray for E {}

/// The descriptor of `[E]` objects.
pub(crate) fn array_desc<E: Trace>() -> &'static TypeDesc {
    &<E as DescribeArray>::ARRAY_DESC
}

/// Whether a new `[E]` object's elements must be armed (see `DescribeArray`).
pub(crate) const fn array_needs_arming<E: Trace>() -> bool {
    <E as DescribeArray>::ARRAY_NEEDS_TRACE
}

/// The descriptor of `str` objects: arrays of bytes with their own name.
pub(crate) static STR_DESC: TypeDesc = TypeDesc {
    trace: None,
    mark_run: None,
    drop: None,
    size: ArrayBox::<u8>::ELEMENTS_OFFSET,
    element_size: 1,
    value_offset: ArrayBox::<u8>::ELEMENTS_OFFSET,
    type_name: std::any::type_name::<str>,
};

/// The length word of an array object (for the descriptor's per-object size).
///
/// # Safety
/// `header` is the header of an allocated array object (`desc.element_size != 0` says so).
#[inline]
pub(crate) unsafe fn array_len(header: *const Header) -> usize {
    // SAFETY: the caller guarantees an array object; the length word sits at the same offset
    // for every element type (header, then `len`, both before the elements).
    unsafe { (*header.cast::<ArrayBox<()>>()).len }
}

/// # Safety
/// `obj` points to a live, initialised `ArrayBox<E>`.
unsafe fn trace_array<E: Trace>(obj: *const Header, tracer: &mut Tracer<'_>) {
    // SAFETY: guaranteed by the caller.
    for element in unsafe { ArrayBox::<E>::elements(obj) } {
        element.trace(tracer);
    }
}

/// Drops the elements one at a time, each under its own `catch_unwind`. One `drop_in_place`
/// of the whole slice would go on dropping the rest while unwinding from a first panicking
/// element, and a second panic during that unwinding aborts the process (Rust's rule); the
/// collector's promise is that a panicking destructor is caught, counted and its object freed
/// (`heap::run_destructor`). So every element is dropped, the first panic is raised again once
/// they all are — for the caller to catch and count, once per object — and later ones are
/// dropped quietly.
///
/// # Safety
/// `obj` points to an initialised `ArrayBox<E>` that is never used again.
unsafe fn drop_array<E>(obj: *mut Header) {
    let array = obj.cast::<ArrayBox<E>>();
    // SAFETY: the caller guarantees an initialised `ArrayBox<E>` nobody uses again.
    let (start, len) = unsafe { ((&raw mut (*array).elements).cast::<E>(), (*array).len) };
    let mut first_panic = None;
    for i in 0..len {
        // SAFETY: element `i` of `len` initialised ones, dropped exactly once (here), never
        // touched again.
        let dropped =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe { std::ptr::drop_in_place(start.add(i)) }));
        if let Err(payload) = dropped {
            match first_panic {
                None => first_panic = Some(payload),
                Some(_) => crate::report::drop_payload(payload),
            }
        }
    }
    if let Some(payload) = first_panic {
        std::panic::resume_unwind(payload);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    };

    use super::*;
    use crate::{test_support, Gc, Member};

    #[test]
    fn array_descriptors_reflect_the_element_type() {
        let plain = array_desc::<u32>();
        assert!(plain.trace.is_none() && plain.drop.is_none());
        assert_eq!(plain.element_size, 4);
        assert!(plain.name().contains("[u32]"));
        let slots = array_desc::<Member<u8>>();
        assert!(slots.trace.is_some(), "an array of slots is traced");
        let strings = array_desc::<String>();
        assert!(strings.drop.is_some(), "an array of strings drops its elements");
        assert_eq!(STR_DESC.name(), "str");
    }

    #[test]
    fn the_length_word_sits_in_the_same_place_for_every_element_type() {
        assert_eq!(offset_of!(ArrayBox<u8>, len), offset_of!(ArrayBox<()>, len));
        assert_eq!(offset_of!(ArrayBox<u128>, len), offset_of!(ArrayBox<()>, len));
        assert_eq!(ArrayBox::<u8>::ELEMENTS_OFFSET, 16);
        assert_eq!(ArrayBox::<u128>::ELEMENTS_OFFSET % std::mem::align_of::<u128>(), 0);
        assert_eq!(ArrayBox::<u64>::layout(3).unwrap().size(), 16 + 24);
        assert!(ArrayBox::<u64>::layout(usize::MAX / 4).is_none());
    }

    /// Counts its drops.
    struct Counted(Arc<AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    // SAFETY: holds no GC pointer.
    unsafe impl Trace for Counted {
        const NEEDS_TRACE: bool = false;
        fn trace(&self, _: &mut Tracer<'_>) {}
    }

    /// Allocation, reading, tracing, the per-object size and the drop of arrays — the unsafe
    /// code of this module and of `thread_state::alloc_array_with` — small enough for Miri.
    #[test]
    fn arrays_are_written_read_traced_sized_and_dropped_through_their_header() {
        let _s = test_support::serial();
        let drops = Arc::new(AtomicUsize::new(0));
        let mut mu = crate::attach();
        let root = {
            let slots: Gc<'_, [Member<str>]> = mu.alloc_slice(vec![Member::new(), Member::new(), Member::new()]);
            slots[0].set(Some(mu.alloc_str("zero")));
            slots[2].set(Some(mu.alloc_str("two")));
            let header = slots.header_ptr();
            // SAFETY: a live local's header.
            let desc = unsafe { &*header }.desc();
            // SAFETY: as above.
            assert_eq!(unsafe { desc.size_of(header) }, 16 + 3 * 8);
            let counted = mu.alloc_slice(vec![Counted(drops.clone()), Counted(drops.clone())]);
            // SAFETY: as above.
            assert!(unsafe { &*counted.header_ptr() }.desc().drop.is_some());
            let numbers = mu.alloc_slice(vec![u128::MAX, 1]);
            assert_eq!(numbers.as_ptr() as usize % std::mem::align_of::<u128>(), 0);
            assert_eq!(&*numbers, &[u128::MAX, 1]);
            slots.root(&mu)
        };
        // A half-made array: `make` panics at element 2, the two elements made so far are
        // dropped with it.
        let half = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            mu.alloc_slice_from_fn(4, |i| {
                assert!(i < 2, "make fails at 2");
                Counted(drops.clone())
            })
            .len()
        }));
        assert!(half.is_err());
        mu.collect();
        mu.collect();
        assert_eq!(drops.load(Ordering::SeqCst), 4, "the elements of the dead arrays were dropped, once");
        let slots = root.get(&mu);
        let read: Vec<Option<String>> = slots.iter().map(|m| m.get(&mu).map(|s| s.to_string())).collect();
        assert_eq!(read, [Some("zero".to_string()), None, Some("two".to_string())]);
    }
}
