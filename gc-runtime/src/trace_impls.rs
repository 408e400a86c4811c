//! [`Trace`] for std types.
//!
//! Types that can hold no GC pointer (numbers, `String`, atomics, …) have
//! `NEEDS_TRACE = false`, so the marker never calls them and containers of them are skipped
//! whole. Containers trace their elements; map impls trace values only — keys are plain data
//! (hashing or ordering a GC pointer by address would need the object to stay put, which it
//! does, but a slot used as a key could change under the map, so keys are not traced).
//!
//! `Arc<T>` is traced as holding nothing, and so is for plain data: a clone could take its
//! contents out of the heap, so a slot in it is never armed (see the impl).
//!
//! `PhantomData<T>` and function pointers (`fn(A, ..) -> R`, up to six arguments) hold no GC
//! pointer whatever they name. A function pointer whose arguments are references (`fn(&T)`)
//! is a higher-ranked type the generic impls do not cover; wrap it in a struct with
//! `#[trace(skip)]`.
//!
//! Deliberately missing: `Mutex`, `RwLock`, `RefCell`, `Cell` and other interior mutability
//! around slots — they would let safe code take a slot out of an object through `&mut`.
//!
//! `#[derive(Trace)]` reads the `NEEDS_TRACE` of the std types here (gc-derive's
//! `symbol::STD_TRACE_TYPES`) and of the primitives, relying on each being a constant or a
//! function of the type arguments' own `NEEDS_TRACE`, never of another type's: that is what
//! keeps a recursive derived type's constant from depending on itself (gc-derive's
//! `types::needs_trace_can_be_read`). Keep it so, and list a new std type there to make
//! derived types holding it exact.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::atomic,
};

use crate::object::{Trace, Tracer};

/// Trace a level deeper in a value, on a stack with room for it: the impls through which a
/// value can nest without bound — `Box` (a chain of boxes inside one object) and the
/// containers (`struct Node { children: Vec<Node> }`) — recurse natively, and tracing runs on
/// whatever thread needs it: the mark workers, a mutator's mark assist, allocation's arming.
/// So each such level checks the stack left (a thread-local read and a comparison) and, under
/// [`RED_ZONE`] bytes, goes on on a fresh segment of [`SEGMENT`] bytes (stacker, which maps it,
/// switches to it and unmaps it after). Any value a program could build is then traced, on any
/// thread: before, a deep value allocated on a thread with a large stack overflowed a thread
/// with the default stack whose allocation's mark assist traced it, and a thread with a stack
/// larger than the collector's 64 MiB could build a value that overflowed the collector.
///
/// Under Miri and ThreadSanitizer, which do not follow a switch of stacks, it only recurses.
#[inline]
fn deeper<R>(trace: impl FnOnce() -> R) -> R {
    #[cfg(not(any(miri, gc_tsan)))]
    {
        stacker::maybe_grow(RED_ZONE, SEGMENT, trace)
    }
    #[cfg(any(miri, gc_tsan))]
    {
        trace()
    }
}

/// The stack left under which [`deeper`] moves to a new segment: more than any one level of a
/// user's `trace` needs.
#[cfg(not(any(miri, gc_tsan)))]
const RED_ZONE: usize = 128 * 1024;

/// The size of each new segment of [`deeper`]'s: a few hundred thousand levels each.
#[cfg(not(any(miri, gc_tsan)))]
const SEGMENT: usize = 8 << 20;

macro_rules! no_pointers {
    ($($t:ty),* $(,)?) => {$(
        // SAFETY: holds no GC pointer.
        unsafe impl Trace for $t {
            const NEEDS_TRACE: bool = false;
            #[inline]
            fn trace(&self, _: &mut Tracer<'_>) {}
        }
    )*};
}

no_pointers!(
    (),
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    String,
    str,
    std::time::Duration,
    std::time::Instant,
    atomic::AtomicBool,
    atomic::AtomicU8,
    atomic::AtomicU16,
    atomic::AtomicU32,
    atomic::AtomicU64,
    atomic::AtomicUsize,
    atomic::AtomicI8,
    atomic::AtomicI16,
    atomic::AtomicI32,
    atomic::AtomicI64,
    atomic::AtomicIsize,
);

// SAFETY: a `PhantomData` holds nothing at all, whatever it names.
unsafe impl<T: ?Sized> Trace for std::marker::PhantomData<T> {
    const NEEDS_TRACE: bool = false;
    #[inline]
    fn trace(&self, _: &mut Tracer<'_>) {}
}

/// `Trace` for function pointers of up to six arguments: a function pointer is a code address
/// and holds no GC pointer, whatever its argument and return types name.
macro_rules! fn_pointers {
    ($(($($arg:ident),*)),* $(,)?) => {$(
        // SAFETY: a code address, not a GC pointer.
        unsafe impl<R, $($arg),*> Trace for fn($($arg),*) -> R {
            const NEEDS_TRACE: bool = false;
            #[inline]
            fn trace(&self, _: &mut Tracer<'_>) {}
        }
    )*};
}

fn_pointers!((), (A), (A, B), (A, B, C), (A, B, C, D), (A, B, C, D, E), (A, B, C, D, E, F));

// SAFETY: `&'static T` cannot point into the GC heap (objects are never `'static` borrows
// that the collector knows nothing about: a `Gc<'m, T>` gives `&'m T` only).
unsafe impl<T: ?Sized + 'static> Trace for &'static T {
    const NEEDS_TRACE: bool = false;
    fn trace(&self, _: &mut Tracer<'_>) {}
}

// SAFETY: traces the boxed value.
unsafe impl<T: ?Sized + Trace> Trace for Box<T> {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    #[inline]
    fn trace(&self, t: &mut Tracer<'_>) {
        deeper(|| (**self).trace(t));
    }
}

// SAFETY: reports no slot, and no slot inside it is ever armed. An `Arc` can be cloned out of
// its object through a shared reference, so its contents may outlive the object, outside the
// heap, where a slot would be a pointer the collector no longer sees. Allocation arms the slots
// it reaches by tracing; it never reaches into an `Arc`, so a `Member` or collection there
// stays unarmed — empty, refusing every store — as in a `#[trace(skip)]` field.
unsafe impl<T: ?Sized + Trace> Trace for std::sync::Arc<T> {
    const NEEDS_TRACE: bool = false;
    #[inline]
    fn trace(&self, _: &mut Tracer<'_>) {}
}

// SAFETY: traces every element.
unsafe impl<T: Trace> Trace for [T] {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    #[inline]
    fn trace(&self, t: &mut Tracer<'_>) {
        if T::NEEDS_TRACE && !self.is_empty() {
            deeper(|| {
                for x in self {
                    x.trace(t);
                }
            });
        }
    }
}

// SAFETY: traces every element.
unsafe impl<T: Trace, const N: usize> Trace for [T; N] {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    #[inline]
    fn trace(&self, t: &mut Tracer<'_>) {
        self.as_slice().trace(t);
    }
}

// SAFETY: traces every element.
unsafe impl<T: Trace> Trace for Vec<T> {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    #[inline]
    fn trace(&self, t: &mut Tracer<'_>) {
        self.as_slice().trace(t);
    }
}

// SAFETY: traces every element.
unsafe impl<T: Trace> Trace for VecDeque<T> {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    fn trace(&self, t: &mut Tracer<'_>) {
        if T::NEEDS_TRACE && !self.is_empty() {
            deeper(|| self.iter().for_each(|x| x.trace(t)));
        }
    }
}

// SAFETY: traces the value if present.
unsafe impl<T: Trace> Trace for Option<T> {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    #[inline]
    fn trace(&self, t: &mut Tracer<'_>) {
        if let Some(x) = self {
            x.trace(t);
        }
    }
}

// SAFETY: traces whichever variant is present.
unsafe impl<T: Trace, E: Trace> Trace for Result<T, E> {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE || E::NEEDS_TRACE;
    fn trace(&self, t: &mut Tracer<'_>) {
        match self {
            Ok(x) => x.trace(t),
            Err(e) => e.trace(t),
        }
    }
}

// SAFETY: traces every value (keys are plain data; see the module docs).
unsafe impl<K: 'static, V: Trace, S> Trace for HashMap<K, V, S> {
    const NEEDS_TRACE: bool = V::NEEDS_TRACE;
    fn trace(&self, t: &mut Tracer<'_>) {
        if V::NEEDS_TRACE && !self.is_empty() {
            deeper(|| self.values().for_each(|v| v.trace(t)));
        }
    }
}

// SAFETY: traces every value (keys are plain data; see the module docs).
unsafe impl<K: 'static, V: Trace> Trace for BTreeMap<K, V> {
    const NEEDS_TRACE: bool = V::NEEDS_TRACE;
    fn trace(&self, t: &mut Tracer<'_>) {
        if V::NEEDS_TRACE && !self.is_empty() {
            deeper(|| self.values().for_each(|v| v.trace(t)));
        }
    }
}

// SAFETY: holds no GC pointer: a `Copy` type cannot contain a `Member` or a GC collection
// (neither is `Copy`), and a `Gc` local inside one would make the cell `!Send`, so no object
// could hold it. Non-`Copy` contents get no impl: `AtomicCell::swap` could move an armed slot
// out of the heap (see `collections/plain_data.rs`).
unsafe impl<T: Copy + 'static> Trace for crossbeam_utils::atomic::AtomicCell<T> {
    const NEEDS_TRACE: bool = false;
    #[inline]
    fn trace(&self, _: &mut Tracer<'_>) {}
}

macro_rules! tuples {
    ($(($($n:tt $T:ident),+)),* $(,)?) => {$(
        // SAFETY: traces every component.
        unsafe impl<$($T: Trace),+> Trace for ($($T,)+) {
            const NEEDS_TRACE: bool = false $(|| $T::NEEDS_TRACE)+;
            #[inline]
            fn trace(&self, t: &mut Tracer<'_>) {
                $(self.$n.trace(t);)+
            }
        }
    )*};
}

tuples!(
    (0 A),
    (0 A, 1 B),
    (0 A, 1 B, 2 C),
    (0 A, 1 B, 2 C, 3 D),
    (0 A, 1 B, 2 C, 3 D, 4 E),
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F),
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G),
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H),
);

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicPtr;

    use super::*;
    use crate::{
        member::Member,
        object::{Header, TraceSink},
    };

    struct Count(usize);
    impl TraceSink for Count {
        fn visit_slot(&mut self, _: &AtomicPtr<Header>) {
            self.0 += 1;
        }
        fn visit_locked(&mut self) {
            panic!("no lock is taken in these tests");
        }
    }

    fn slots<T: Trace>(v: &T) -> usize {
        let mut c = Count(0);
        v.trace(&mut Tracer::new(&mut c));
        c.0
    }

    #[test]
    fn phantom_data_and_function_pointers_hold_no_gc_pointer() {
        fn double(x: u32) -> u32 {
            x * 2
        }
        fn pick(a: Member<u8>, _: u8, _: u8, _: u8, _: u8, _: u8) -> Member<u8> {
            a
        }
        const {
            assert!(!<std::marker::PhantomData<Member<u8>> as Trace>::NEEDS_TRACE);
            assert!(!<fn() as Trace>::NEEDS_TRACE);
            assert!(!<fn(Member<u8>, u8, u8, u8, u8, u8) -> Member<u8> as Trace>::NEEDS_TRACE);
        }
        let f: fn(u32) -> u32 = double;
        let g: fn(Member<u8>, u8, u8, u8, u8, u8) -> Member<u8> = pick;
        assert_eq!(slots(&std::marker::PhantomData::<Member<u8>>), 0);
        assert_eq!(slots(&f) + slots(&g), 0);
        assert_eq!(f(21), 42);
    }

    #[test]
    fn an_arc_is_traced_as_holding_nothing() {
        use std::sync::Arc;
        const {
            assert!(!<Arc<str>>::NEEDS_TRACE && !<Arc<[u8]>>::NEEDS_TRACE && !<Arc<Vec<String>>>::NEEDS_TRACE);
            assert!(!<Arc<Member<u8>>>::NEEDS_TRACE, "never traced: its slot is never armed");
        }
        assert_eq!(slots(&Arc::<str>::from("shared")), 0);
        assert_eq!(slots(&Arc::new(Member::<u8>::new())), 0);
    }

    #[test]
    fn plain_data_needs_no_trace() {
        const {
            assert!(!u64::NEEDS_TRACE && !String::NEEDS_TRACE && !<Vec<String>>::NEEDS_TRACE);
            assert!(!<HashMap<String, (u8, bool)>>::NEEDS_TRACE && !<Option<Box<[f64; 3]>>>::NEEDS_TRACE);
            assert!(!<atomic::AtomicUsize>::NEEDS_TRACE && !<Result<char, String>>::NEEDS_TRACE);
        }
    }

    #[test]
    fn containers_report_every_slot() {
        const {
            assert!(<Vec<Member<u8>>>::NEEDS_TRACE && <(u8, Option<Member<u8>>)>::NEEDS_TRACE);
        }
        let v: Vec<Member<u8>> = (0..5).map(|_| Member::new()).collect();
        assert_eq!(slots(&v), 5);
        assert_eq!(slots(&Some(Box::new([Member::<u8>::new(), Member::new()]))), 2);
        assert_eq!(slots(&None::<Member<u8>>), 0);
        let m: HashMap<&'static str, Member<u8>> = [("a", Member::new()), ("b", Member::new())].into_iter().collect();
        assert_eq!(slots(&m), 2);
        let b: BTreeMap<u32, Vec<Member<u8>>> =
            [(1, vec![Member::new()]), (2, vec![Member::new(), Member::new()])].into_iter().collect();
        assert_eq!(slots(&b), 3);
        assert_eq!(slots(&(Member::<u8>::new(), 1u8, Member::<u8>::new())), 2);
        assert_eq!(slots(&Ok::<Member<u8>, String>(Member::new())), 1);
        assert_eq!(slots(&VecDeque::from(vec![Member::<u8>::new()])), 1);
    }
}
