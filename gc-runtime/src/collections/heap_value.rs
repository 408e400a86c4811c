//! [`HeapValue`]: a value type that a collection holds by value — a number, a boolean, a GC
//! pointer, a tag and a pointer together — with its GC pointers in armed slots.
//!
//! # Two forms of a value
//!
//! A dynamic language's value mixes plain data and pointers (`nil`, a number, an object). In
//! the heap such a value needs slots ([`Member`]) for its pointers, so that every store runs
//! the write barrier and the marker finds them; running code wants it as a local, borrowed
//! from its mutator (`Gc<'m, T>` for the pointers). A `HeapValue` is the heap form, and names
//! its local form with [`HeapValue::Local`]; `load` reads one from the other, `store` writes
//! the other way, through the slots' barrier.
//!
//! The trait is safe to implement: all it does is use the heap form's own safe API (slots,
//! atomics) through `&self`, and the `Trace` impl — derived, or an `unsafe impl` whose promise
//! is the usual one — is what tells the collector where the slots are.
//!
//! # How a collection uses it
//!
//! A [`GcValueVec`](super::GcValueVec) or [`GcValueMap`](super::GcValueMap) makes each element
//! with [`HeapValue::empty`], arms its slots (as allocation arms an object's: see
//! `collections/mod.rs`, "Armed and unarmed collections") and stores the value into it before
//! the element joins the collection (`new_element`, below) — all of it inside a user-code guard,
//! so the thread lets no cycle pass until the element is in place (see `new_element`); after
//! that, the element moves only with the collection's write lock held (growth, shifting,
//! rehashing), which no reader and no marker can see part way. A removed or replaced element's
//! slots are emptied through the barrier under that lock (`empty_slots`: the deletion barriers
//! shade what they held) before it is dropped.

use crate::{
    barrier,
    gc::Gc,
    member::Member,
    mutator::Mutator,
    object::{Header, Trace, TraceSink, Tracer},
    primitive::sync::atomic::{AtomicBool, AtomicPtr, Ordering},
    slot,
    thread_state::{self, user_code},
};

/// A value type held by value in a [`GcValueVec`](crate::GcValueVec) or a
/// [`GcValueMap`](crate::GcValueMap): its heap form, whose GC
/// pointers live in slots ([`Member`]s) reported by its [`Trace`] impl, and the local form that
/// running code reads and writes ([`HeapValue::Local`]).
///
/// `load` runs with the collection's lock held (shared for a read, exclusive for a removal), so
/// it must not use the same collection (that would deadlock, never corrupt); `store` runs
/// before the element joins the collection, with no lock held. Both should be quick: they are
/// the collection's reads and writes. Both run as code inside a collection's call, as a map
/// key's `Eq` does: a safepoint there does nothing, [`Mutator::collect`] panics, attaching a
/// mutator is refused, and dropping the thread's mutator detaches it only once the
/// collection's call returns. (What `store` writes is in no place the collector scans until
/// the element joins its collection: the thread must not let a cycle pass meanwhile.) So no
/// cycle can end while they run: waiting there for another thread's collection never ends
/// (the collector reports the wait after a few seconds), and neither does waiting for a thread
/// that attaches a mutator while a pause is due. A thread without a running mutator that writes
/// a value type with slots is attached for the call (and detached after it): nothing else would
/// hold a cycle up while the new value, its slots armed, waits to join — `store` could lend it
/// to another thread (values are `Sync`) that writes an object into it, collects, and reads the
/// freed object back. (Inside [`Mutator::blocking`] its own mutator runs again for the call.)
/// Where that thread cannot attach (on a collector thread, inside another collection's call)
/// the write panics before `store` runs, leaving the collection unchanged. Types without slots are written from any thread as they
/// are.
///
/// A value that reads something other than what was stored is the impl's own bug, not a
/// memory-safety one: slots keep every pointer they hold alive, whatever the impl does.
///
/// # No collections inside a value
///
/// A value may hold slots, plain data, boxes and options of them — but not a GC collection
/// (`GcVec`, `GcMap`, `GcIdMap`, `GcWeakMap`, `GcValueVec`, `GcValueMap`), nor an
/// [`ExternalBytes`](crate::ExternalBytes) (it counts from its object's allocation, and an
/// element is no object): storing such a value panics, and the collection is left unchanged. The marker scans a large collection a chunk
/// per visit and keeps its place in a cursor, which a collection can only do for itself, not
/// for another collection hidden in one of its elements. A dynamic language's nested array is
/// an object of its own anyway: hold a `Member` to it in the value.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use gc_runtime::{Gc, GcValueVec, HeapValue, Member, Mutator, Trace};
///
/// #[derive(Trace)]
/// struct Str(String);
///
/// /// A dynamic language's value as running code holds it.
/// #[derive(Clone, Copy)]
/// enum Value<'m> {
///     Nil,
///     Number(f64),
///     Str(Gc<'m, Str>),
/// }
///
/// /// Its heap form: a tag and a number's bits in one word, and a slot for the pointer.
/// #[derive(Trace)]
/// struct Cell {
///     word: AtomicU64,
///     obj: Member<Str>,
/// }
///
/// const NIL: u64 = u64::MAX;
/// const OBJ: u64 = u64::MAX - 1;
///
/// impl HeapValue for Cell {
///     type Local<'m> = Value<'m>;
///
///     fn empty() -> Cell {
///         Cell { word: AtomicU64::new(NIL), obj: Member::new() }
///     }
///
///     fn load<'m>(&self, mu: &'m Mutator) -> Value<'m> {
///         match self.word.load(Ordering::Relaxed) {
///             NIL => Value::Nil,
///             OBJ => Value::Str(self.obj.get(mu).expect("an object cell holds an object")),
///             bits => Value::Number(f64::from_bits(bits)),
///         }
///     }
///
///     fn store(&self, value: Value<'_>) {
///         let word = match value {
///             Value::Nil => NIL,
///             Value::Number(n) if n.is_nan() => f64::NAN.to_bits(), // never NIL's or OBJ's bits
///             Value::Number(n) => n.to_bits(),
///             Value::Str(s) => {
///                 self.obj.set(Some(s));
///                 OBJ
///             }
///         };
///         self.word.store(word, Ordering::Relaxed);
///     }
/// }
///
/// let mut mu = gc_runtime::attach();
/// let array = mu.alloc(GcValueVec::<Cell>::new());
/// array.push(Value::Number(1.5));
/// array.push(Value::Str(mu.alloc(Str("one and a half".into()))));
/// array.push(Value::Nil);
/// let root = array.root(&mu);
/// mu.collect(); // the string is reachable through the array: it survives
/// let array = root.get(&mu);
/// assert!(matches!(array.get(0, &mu), Some(Value::Number(n)) if n == 1.5));
/// assert!(matches!(array.get(1, &mu), Some(Value::Str(s)) if s.0 == "one and a half"));
/// assert!(matches!(array.pop(&mu), Some(Value::Nil)));
/// assert_eq!(array.len(), 2);
/// ```
pub trait HeapValue: Trace + Send + Sync + 'static {
    /// The value as running code holds it, valid until the mutator's next safepoint: GC
    /// pointers in it are locals, `Gc<'m, _>`.
    type Local<'m>;

    /// A new element, before it joins a collection (its slots unarmed, as [`Member::new`]
    /// makes them; the collection arms them). What a collection of these would read for an
    /// element that `store` never wrote; collections always store after `empty`.
    fn empty() -> Self;

    /// Read the value as a local of `mu`.
    fn load<'m>(&self, mu: &'m Mutator) -> Self::Local<'m>;

    /// Write `value`: its GC pointers through the slots' write barrier ([`Member::set`]).
    fn store(&self, value: Self::Local<'_>);
}

/// A slot as a value: a GC pointer or nothing (a vector of these has elements that may be
/// empty, unlike a [`GcVec`](crate::GcVec)).
///
/// ```
/// use gc_runtime::{GcValueVec, Member};
///
/// let mu = gc_runtime::attach();
/// let v = mu.alloc(GcValueVec::<Member<u8>>::new());
/// v.push(None);
/// v.push(Some(mu.alloc(7)));
/// assert!(v.get(0, &mu).unwrap().is_none());
/// assert_eq!(*v.get(1, &mu).unwrap().unwrap(), 7);
/// ```
impl<T: ?Sized + 'static> HeapValue for Member<T> {
    type Local<'m> = Option<Gc<'m, T>>;

    fn empty() -> Member<T> {
        Member::new()
    }

    #[inline]
    fn load<'m>(&self, mu: &'m Mutator) -> Option<Gc<'m, T>> {
        self.get(mu)
    }

    #[inline]
    fn store(&self, value: Option<Gc<'_, T>>) {
        self.set(value);
    }
}

/// A new element holding `value`: made, armed, then written, before it joins a collection.
/// `what` names the storing method, for the panic if `H` holds a GC collection.
///
/// The caller holds `_in_call`, a user-code guard, from before this call until the element has
/// joined its collection (or been dropped): `store` is user code, and the pointers it writes
/// are kept alive only by this thread's staying running, with no safepoint, until the element
/// is where the marker finds it (`thread_state/user_code.rs`, "Values under construction").
/// On a thread without a running mutator nothing holds a cycle up: `store`, or a thread it lends
/// the element to (`H: Sync` allows that), could write an object into an armed slot that no
/// cycle sees, and read it back after a cycle freed it. So for a value type with slots such a
/// thread is attached for the call (its own mutator again, inside `Mutator::blocking`), before
/// anything is armed, and detached when the call's guard ends, after the join; where it cannot
/// attach (inside another collection's call, a collector thread) the value is refused.
pub(super) fn new_element<H: HeapValue>(value: H::Local<'_>, what: &'static str, _in_call: &user_code::Guard) -> H {
    /// Arms each slot, as allocation arms a new object's (the element is about to live in an
    /// armed collection, inside the heap, and nothing has stored into it yet), and counts the
    /// collections inside the element, which it leaves unarmed.
    struct Arm {
        collections: usize,
    }
    impl TraceSink for Arm {
        fn visit_slot(&mut self, slot: &AtomicPtr<Header>) {
            debug_assert_eq!(slot.load(Ordering::Relaxed).addr(), slot::UNARMED_ADDR, "a new element's slot was armed");
            // Relaxed: the element is not published yet; it joins its collection under a lock.
            slot.store(std::ptr::null_mut(), Ordering::Relaxed);
        }

        fn visit_armed_flag(&mut self, _flag: &AtomicBool) {
            self.collections += 1;
        }

        fn visit_locked(&mut self) {
            debug_assert!(false, "a collection inside a new element was locked");
        }
    }
    // While the guard lives whether the thread runs cannot change (a dropped mutator detaches
    // only when the guard ends, and attaching is refused but here).
    let attached_for_the_call = if H::NEEDS_TRACE && !thread_state::running_here() {
        let refused = |why: String| written_without_a_running_mutator(what, std::any::type_name::<H>(), &why);
        if !user_code::outermost() {
            refused("it runs inside another GC collection's call".into());
        }
        if thread_state::attach_again_for_the_call() {
            None // inside `Mutator::blocking`: its mutator runs again until the guard ends
        } else {
            Some(crate::mutator::attach_for_a_collection_call().unwrap_or_else(|e| refused(e.to_string())))
        }
    } else {
        None
    };
    let element = H::empty();
    if H::NEEDS_TRACE {
        let mut arm = Arm { collections: 0 };
        element.trace(&mut Tracer::new(&mut arm));
        if arm.collections > 0 {
            holds_a_collection(what, std::any::type_name::<H>());
        }
    }
    element.store(value);
    // Detached when the call's guard ends, after the element has joined (`user_code.rs`).
    drop(attached_for_the_call);
    element
}

/// The refusal of a value type with slots on a thread without a running mutator that cannot
/// attach one for the call (see [`new_element`]), `why`.
#[cold]
#[inline(never)]
fn written_without_a_running_mutator(what: &str, value_type: &str, why: &str) -> ! {
    panic!(
        "{what}: values of type `{value_type}` have GC slots, and this thread has no running \
         mutator and cannot attach one for the call ({why}): nothing would keep the objects a new \
         value's slots are given alive until it joins the collection; write such values from a \
         thread with a running mutator, outside Mutator::blocking (the collection is unchanged)"
    )
}

/// The refusal of a value type that holds a GC collection: see [`HeapValue`], "No collections
/// inside a value".
#[cold]
#[inline(never)]
fn holds_a_collection(what: &str, value_type: &str) -> ! {
    panic!(
        "{what}: the value type `{value_type}` holds a GC collection (a GcVec, GcMap, GcIdMap, \
         GcWeakMap, GcValueVec or GcValueMap) or an ExternalBytes, which a value in a collection \
         cannot hold; put it in an object of its own and hold a `Member` to the object in the \
         value"
    )
}

/// The value of an element that has just left its collection (under the write lock), then its
/// slots emptied through the barrier — also if `load` panics, so a deletion barrier never misses
/// the pointers of an element that left.
pub(super) fn load_leaving<'m, H: HeapValue>(element: &H, mu: &'m Mutator) -> H::Local<'m> {
    struct EmptyAfter<'a, H: HeapValue>(&'a H);
    impl<H: HeapValue> Drop for EmptyAfter<'_, H> {
        fn drop(&mut self) {
            empty_slots(self.0);
        }
    }
    let _empty_after = EmptyAfter(element);
    let _user_code = user_code::Guard::enter();
    element.load(mu)
}

/// Empty every slot `element` reports, through the barrier (the deletion barriers shade what
/// they held): the element is leaving its collection, under the write lock.
pub(super) fn empty_slots<H: HeapValue>(element: &H) {
    struct Empty;
    impl TraceSink for Empty {
        fn visit_slot(&mut self, slot: &AtomicPtr<Header>) {
            barrier::clear_member(slot);
        }

        fn visit_armed_flag(&mut self, _flag: &AtomicBool) {}

        fn visit_locked(&mut self) {
            // A collection inside the element is reached only through the element, which is
            // ours alone now (its collection is write-locked and hands out no references to
            // its elements), so its lock is free.
            debug_assert!(false, "a collection inside a removed element was locked");
        }
    }
    if H::NEEDS_TRACE {
        element.trace(&mut Tracer::new(&mut Empty));
    }
}

/// Store every slot `element` reports back through the barrier, which shades its referent
/// while marking runs (as `Member::reshade` does): for the entries of a table that rehashed
/// while the marker's scan of it was part way through, under the write lock.
pub(super) fn reshade_slots<H: HeapValue>(element: &H) {
    struct Reshade;
    impl TraceSink for Reshade {
        fn visit_slot(&mut self, slot: &AtomicPtr<Header>) {
            barrier::write_slot(slot, slot.load(Ordering::Relaxed));
        }

        fn visit_armed_flag(&mut self, _flag: &AtomicBool) {}

        fn visit_locked(&mut self) {
            // As in `empty_slots`: the element's collection is write-locked, so is nothing in it.
            debug_assert!(false, "a collection inside an element was locked");
        }
    }
    if H::NEEDS_TRACE {
        element.trace(&mut Tracer::new(&mut Reshade));
    }
}
