//! The per-object header: the type descriptor.
//!
//! # Layout
//!
//! Every sized object lives in a [`GcBox<T>`]: an 8-byte [`Header`] followed by the value (an
//! unsized one — a slice or a `str` — in an array box: see `layout.rs`). The header
//! holds a pointer to the type's [`TypeDesc`] (trace, the marker's run, drop, size, name) and nothing else: the
//! mark state lives beside the objects, in a bitmap per page (see `mark_bits.rs`), or — for a
//! large object, which has a block of its own — in a [`MarkWord`] just in front of the header
//! (see [`super::mark`]).
//!
//! # Concurrency
//!
//! `desc` is written once, by the allocating thread, before the object's address is published
//! (a `Release` store into a slot or root, a push onto a shade queue, the hand-back of its page
//! or — for a large object — its listing for the sweepers, both under a lock), and never changes
//! while the object is allocated; readers that obtained the address through those channels
//! read it without further synchronisation.

#[cfg(doc)]
use super::mark_word::MarkWord;
use super::{
    mark_visit::{mark_run, MarkVisitor, RunEnd, RunLimits},
    trace::{Trace, Tracer},
};

/// Type information the collector needs about an object: how to trace it, how to drop it.
pub(crate) struct TypeDesc {
    /// Reports the object's slots; `None` when the type holds no GC pointer (the object is
    /// black as soon as it is marked).
    pub(crate) trace: Option<unsafe fn(*const Header, &mut Tracer<'_>)>,
    /// The marker's way in for sized types with slots: scans a run of objects of this type
    /// with `trace` inlined (see `mark_visit.rs`, "Runs of one type"); `None` for arrays and
    /// `str`, and wherever `trace` is `None`.
    pub(crate) mark_run: Option<MarkRun>,
    /// Runs the value's destructor; `None` when the type needs no drop.
    pub(crate) drop: Option<unsafe fn(*mut Header)>,
    /// `size_of::<GcBox<T>>()`; for an array (`[E]`, `str`), the size of its header and
    /// length word (see `layout.rs`).
    pub(crate) size: usize,
    /// `0` for a sized type; for an array, the size of one element: the object's size is then
    /// `size + element_size * len`.
    pub(crate) element_size: usize,
    /// Where the value starts, from the header: `offset_of!(GcBox<T>, value)` (8, or more for
    /// an over-aligned type); for an array, where its elements start. A trait object's reader
    /// finds its view here without knowing the concrete type (see `dyn_object.rs`).
    pub(crate) value_offset: usize,
    /// `type_name::<T>` (not yet callable in a const), for reports.
    pub(crate) type_name: fn() -> &'static str,
}

impl TypeDesc {
    /// The Rust type name of the object.
    pub(crate) fn name(&self) -> &'static str {
        (self.type_name)()
    }

    /// The size in bytes of the object at `obj`, which this descriptor describes.
    ///
    /// # Safety
    /// `obj` is an allocated object of this descriptor's type.
    #[inline]
    pub(crate) unsafe fn size_of(&self, obj: *const Header) -> usize {
        if self.element_size == 0 {
            self.size
        } else {
            // SAFETY: an array's descriptor (`element_size != 0`) is only put in front of an
            // array object, which the caller guarantees is allocated.
            self.size + self.element_size * unsafe { super::layout::array_len(obj) }
        }
    }
}

/// A type's [`mark_run`].
pub(crate) type MarkRun = unsafe fn(ObjPtr, &'static TypeDesc, &mut MarkVisitor, &RunLimits) -> RunEnd;

/// The header in front of every object.
#[repr(C)]
pub(crate) struct Header {
    desc: &'static TypeDesc,
}

/// An object as laid out in the heap: header, then value.
#[repr(C)]
pub(crate) struct GcBox<T> {
    pub(crate) header: Header,
    pub(crate) value: T,
}

/// Gives every traceable type a `'static` descriptor.
pub(crate) trait Describe: Trace + Sized {
    const DESC: TypeDesc = TypeDesc {
        trace: if Self::NEEDS_TRACE { Some(trace_erased::<Self>) } else { None },
        mark_run: if Self::NEEDS_TRACE { Some(mark_run::<Self>) } else { None },
        drop: if std::mem::needs_drop::<Self>() { Some(drop_erased::<Self>) } else { None },
        size: std::mem::size_of::<GcBox<Self>>(),
        element_size: 0,
        value_offset: std::mem::offset_of!(GcBox<Self>, value),
        type_name: std::any::type_name::<Self>,
    };
}

impl<T: Trace> Describe for T {}

/// # Safety
/// `obj` points to a live, initialised `GcBox<T>`.
unsafe fn trace_erased<T: Trace>(obj: *const Header, tracer: &mut Tracer<'_>) {
    // SAFETY: the caller guarantees `obj` is a live `GcBox<T>`; `Header` is its first field
    // (`repr(C)`), so the cast recovers the box.
    let value = unsafe { &(*obj.cast::<GcBox<T>>()).value };
    value.trace(tracer);
}

/// # Safety
/// `obj` points to an initialised `GcBox<T>` that is never used again.
unsafe fn drop_erased<T>(obj: *mut Header) {
    // SAFETY: the caller guarantees `obj` is an initialised `GcBox<T>` that nobody uses again,
    // so its value may be dropped in place exactly once.
    unsafe { std::ptr::drop_in_place(&raw mut (*obj.cast::<GcBox<T>>()).value) };
}

impl Header {
    /// A header for a new object of type `T`.
    pub(crate) fn new<T: Trace>() -> Header {
        Header { desc: &<T as Describe>::DESC }
    }

    /// A header for a new object that `desc` describes (an array: see `layout.rs`).
    pub(crate) fn with_desc(desc: &'static TypeDesc) -> Header {
        Header { desc }
    }

    /// The type descriptor.
    #[inline]
    pub(crate) fn desc(&self) -> &'static TypeDesc {
        self.desc
    }
}

/// A non-null pointer to an object header that may cross threads (shade queues, root table).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub(crate) struct ObjPtr(pub(crate) std::ptr::NonNull<Header>);

// SAFETY: an `ObjPtr` is an address; the object it names is `Send + Sync` (allocation requires
// it) and is only dereferenced under the collector's reachability rules.
unsafe impl Send for ObjPtr {}
// SAFETY: as for `Send`.
unsafe impl Sync for ObjPtr {}

impl ObjPtr {
    /// The header, for reading `desc`.
    ///
    /// # Safety
    /// The object must be allocated (not yet swept): reachable, or named by a shade queue
    /// entry of the current cycle.
    #[inline]
    pub(crate) unsafe fn header<'a>(self) -> &'a Header {
        // SAFETY: the caller guarantees the object is allocated, so the header is initialised.
        unsafe { self.0.as_ref() }
    }

    /// The raw header pointer.
    #[inline]
    pub(crate) fn as_ptr(self) -> *mut Header {
        self.0.as_ptr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_reflects_the_type() {
        let d = <String as Describe>::DESC;
        assert!(d.trace.is_none(), "a String holds no GC pointer");
        assert!(d.drop.is_some(), "a String needs drop");
        assert_eq!(d.size, std::mem::size_of::<GcBox<String>>());
        assert!(d.name().contains("String"));
        assert_eq!(std::mem::size_of::<Header>(), 8);
    }
}
