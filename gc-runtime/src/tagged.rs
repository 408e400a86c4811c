//! [`TaggedMember<T>`]: a slot that holds a GC pointer *or* an immediate — a number or a small
//! integer — in one word. The heap form of a dynamic language's value in 8 bytes.
//!
//! # Why
//!
//! A [`Member`] holds a pointer or nothing. A dynamic language's value is a
//! number, a boolean, `nil` or an object, so without this type a value in the heap needs a word
//! for the data beside its `Member` (16 bytes), or a boxed object per number. Interpreters in C
//! put both in one word by *NaN-boxing*: a pointer is stored as a NaN bit pattern no arithmetic
//! produces. The collector must then know which words are pointers; this type is that
//! agreement, kept by the collector, so user code never decodes a pointer itself.
//!
//! # Encoding
//!
//! | word | meaning | read as |
//! |---|---|---|
//! | `0` | empty | [`Tagged::Empty`] |
//! | `1` | unarmed: outside an allocated object (see `member.rs`) | [`Tagged::Empty`] |
//! | `2 ..< 2^48` | the header address of a `T` | [`Tagged::Ptr`] |
//! | `2^48 ..< 2^49` | `2^48 + d`, for `d < 2^48` | [`Tagged::Data`]`(d)` |
//! | `2^49 ..= 2^64 - 1` | a number's bits `+ 2^49` | [`Tagged::Number`] |
//!
//! Every `f64` that is not a NaN has bits in `0 ..= 0xfff0_0000_0000_0000` (−∞ is the largest),
//! and NaNs are stored as the canonical one (`0x7ff8_0000_0000_0000`, [`f64::NAN`]'s), so adding
//! 2^49 never wraps. JavaScriptCore offsets its doubles the same way, so that a pointer is
//! stored as itself: the marker and the barrier read this slot exactly as a `Member`'s.
//!
//! # Why the collector never takes an immediate for a pointer
//!
//! - Every reader of slots — the marker, checkmark, the barrier's shades, the ephemeron pass —
//!   asks `slot::is_object` of the value it loaded, which is false from 2^48 on. The test is on
//!   the loaded value, never on an earlier load, so a store racing with the marker cannot slip
//!   an immediate past it.
//! - No object lies at or above 2^48: the heap's memory comes from `heap/raw.rs`, which refuses
//!   any other (current 64-bit systems give programs lower addresses unless asked).
//! - A store of an immediate goes through the write barrier like a store of `None`: under a
//!   deletion barrier (Yuasa, hybrid) the pointer it overwrites is shaded; an immediate is
//!   never shaded. A thread without a running mutator takes the root table's locked path, as
//!   for any store that carries no local (`barrier::write_non_object`).
//!
//! On targets whose pointers are narrower than 64 bits the type does not exist.

use std::{fmt, marker::PhantomData};

use crate::{
    barrier,
    collections::HeapValue,
    gc::Gc,
    member::{unarmed, Member},
    mutator::Mutator,
    object::{Header, Trace, Tracer},
    primitive::sync::atomic::{AtomicPtr, Ordering},
    slot::{is_object, IMMEDIATE_MIN},
    variance::Invariant,
};

/// The offset added to a number's bits (module docs, "Encoding").
const NUMBER_OFFSET: u64 = 1 << 49;

/// The first word of the [`Tagged::Data`] range.
const DATA_BASE: u64 = IMMEDIATE_MIN as u64;

/// The largest value [`Tagged::Data`] holds: `2^48 - 1`.
pub const TAGGED_DATA_MAX: u64 = (1 << 48) - 1;

/// What a [`TaggedMember`] holds, as running code reads and writes it: its GC pointer is a
/// local of the mutator it was read with.
pub enum Tagged<'m, T: ?Sized> {
    /// Nothing: a new slot, or one emptied.
    Empty,
    /// A GC pointer.
    Ptr(Gc<'m, T>),
    /// A number. Every NaN is stored as the canonical one, so a NaN reads back as
    /// [`f64::NAN`]'s bits, whatever its sign and payload were.
    Number(f64),
    /// A small integer, at most [`TAGGED_DATA_MAX`] (2^48 − 1): a tag of the caller's own
    /// (`nil`, `true`, `false`, …), a character, an index.
    Data(u64),
}

impl<'m, T: ?Sized> Tagged<'m, T> {
    /// The GC pointer, if this is one.
    #[inline]
    pub fn as_gc(self) -> Option<Gc<'m, T>> {
        match self {
            Tagged::Ptr(gc) => Some(gc),
            _ => None,
        }
    }

    /// The number, if this is one.
    #[inline]
    pub fn as_number(self) -> Option<f64> {
        match self {
            Tagged::Number(n) => Some(n),
            _ => None,
        }
    }

    /// The small integer, if this is one.
    #[inline]
    pub fn as_data(self) -> Option<u64> {
        match self {
            Tagged::Data(d) => Some(d),
            _ => None,
        }
    }
}

// Not derived: a derive would ask `T: Copy`, and a local is `Copy` whatever its referent.
impl<T: ?Sized> Clone for Tagged<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for Tagged<'_, T> {}

impl<T: ?Sized> fmt::Debug for Tagged<'_, T> {
    /// A pointer prints as its address: printing the referent could recurse on a cycle.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tagged::Empty => f.write_str("Empty"),
            Tagged::Ptr(gc) => write!(f, "Ptr({:p})", gc.header_ptr()),
            Tagged::Number(n) => f.debug_tuple("Number").field(n).finish(),
            Tagged::Data(d) => f.debug_tuple("Data").field(d).finish(),
        }
    }
}

/// The word that stores number `n`.
#[inline(always)]
fn number_word(n: f64) -> u64 {
    let bits = if n.is_nan() { f64::NAN.to_bits() } else { n.to_bits() };
    bits + NUMBER_OFFSET
}

/// The word of an immediate as a slot value: an address-less pointer, never dereferenced
/// (`is_object` is false for it).
#[inline(always)]
fn immediate(word: u64) -> *mut Header {
    debug_assert!(word >= DATA_BASE);
    std::ptr::without_provenance_mut(word as usize)
}

/// A GC slot holding a pointer to a `T`, a number, a small integer, or nothing, in one word
/// (see the module docs for the encoding).
///
/// Like a [`Member`], it works only inside an allocated object: [`TaggedMember::new`] makes an
/// unarmed slot, which reads as empty and refuses stores; allocation arms it. Every store goes
/// through the write barrier, immediates included: overwriting a pointer with a number is a
/// deletion the barrier must see.
///
/// ```
/// use gc_runtime::{Tagged, TaggedMember, Trace};
///
/// #[derive(Trace)]
/// struct Str(String);
///
/// /// A field of a dynamic language's object: `nil`, a boolean, a number or a string.
/// #[derive(Trace)]
/// struct Field {
///     value: TaggedMember<Str>,
/// }
///
/// const NIL: u64 = 0;
///
/// let mu = gc_runtime::attach();
/// let field = mu.alloc(Field { value: TaggedMember::new() });
/// field.value.set(Tagged::Number(1.5));
/// assert_eq!(field.value.number(), Some(1.5));
/// field.value.set(Tagged::Ptr(mu.alloc(Str("one and a half".into()))));
/// assert_eq!(field.value.get(&mu).as_gc().unwrap().0, "one and a half");
/// field.value.set(Tagged::Data(NIL)); // the barrier sees the string overwritten
/// assert!(matches!(field.value.get(&mu), Tagged::Data(NIL)));
/// assert_eq!(std::mem::size_of::<TaggedMember<Str>>(), 8);
/// ```
pub struct TaggedMember<T: ?Sized> {
    ptr: AtomicPtr<Header>,
    /// Invariant in `T`: a slot is written through `&self` (see `variance.rs`).
    _t: Invariant<T>,
}

impl<T: ?Sized> TaggedMember<T> {
    /// An empty slot, to put in a new object (it works once the object is allocated).
    pub fn new() -> TaggedMember<T> {
        TaggedMember { ptr: AtomicPtr::new(unarmed()), _t: PhantomData }
    }

    /// What the slot holds; a GC pointer as a local of `mu`.
    #[inline]
    pub fn get<'m>(&self, mu: &'m Mutator) -> Tagged<'m, T> {
        // Acquire: pairs with the barrier's Release store, as `Member::get`.
        let p = self.ptr.load(Ordering::Acquire);
        let word = p.addr() as u64;
        if word >= NUMBER_OFFSET {
            Tagged::Number(f64::from_bits(word - NUMBER_OFFSET))
        } else if word >= DATA_BASE {
            Tagged::Data(word - DATA_BASE)
        } else {
            // SAFETY: read from this slot just now, with Acquire, by `mu`'s thread (`mu` is
            // `!Send`); a word below 2^48 is null, unarmed or a pointer to a `T` (only locals of
            // type `T` are stored as pointers).
            match unsafe { Member::<T>::local_of(p, mu) } {
                Some(gc) => Tagged::Ptr(gc),
                None => Tagged::Empty,
            }
        }
    }

    /// The number, if the slot holds one (needs no mutator: it produces no pointer).
    #[inline]
    pub fn number(&self) -> Option<f64> {
        let word = self.ptr.load(Ordering::Relaxed).addr() as u64;
        (word >= NUMBER_OFFSET).then(|| f64::from_bits(word - NUMBER_OFFSET))
    }

    /// The small integer, if the slot holds one (needs no mutator).
    #[inline]
    pub fn data(&self) -> Option<u64> {
        let word = self.ptr.load(Ordering::Relaxed).addr() as u64;
        (DATA_BASE..NUMBER_OFFSET).contains(&word).then(|| word - DATA_BASE)
    }

    /// Store `value` through the write barrier.
    ///
    /// # Panics
    /// If the slot is not inside an allocated object (as [`Member::set`]), or if `value` is
    /// [`Tagged::Data`] above [`TAGGED_DATA_MAX`]; either way the slot is left as it was.
    // Always inlined: the caller usually knows which kind it stores (a number, say), and then
    // only that kind's store is left, with no `Tagged` built and dispatched on.
    #[inline(always)]
    pub fn set(&self, value: Tagged<'_, T>) {
        match value {
            Tagged::Ptr(gc) => barrier::write_member(&self.ptr, gc.header_ptr()),
            Tagged::Empty => barrier::clear_member(&self.ptr),
            Tagged::Number(n) => barrier::write_non_object(&self.ptr, immediate(number_word(n))),
            Tagged::Data(d) => {
                if d > TAGGED_DATA_MAX {
                    data_too_large(d);
                }
                barrier::write_non_object(&self.ptr, immediate(DATA_BASE + d));
            }
        }
    }

    /// Whether the slot holds a GC pointer (needs no mutator: it produces none).
    #[inline]
    pub fn is_gc(&self) -> bool {
        is_object(self.ptr.load(Ordering::Relaxed))
    }

    /// Whether the slot is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.ptr.load(Ordering::Relaxed).addr() <= crate::slot::UNARMED_ADDR
    }

    /// Whether the slot points to `other`.
    #[inline]
    pub fn points_to(&self, other: Gc<'_, T>) -> bool {
        self.ptr.load(Ordering::Relaxed) == other.header_ptr()
    }
}

#[cold]
#[inline(never)]
fn data_too_large(d: u64) -> ! {
    panic!(
        "Tagged::Data({d:#x}) does not fit a TaggedMember: data is at most TAGGED_DATA_MAX \
         (2^48 - 1); store a larger integer as a number, or in an object of its own"
    )
}

/// A tagged slot as a value: a vector or map of these holds dynamic values in 8 bytes each.
///
/// ```
/// use gc_runtime::{GcValueVec, Tagged, TaggedMember};
///
/// let mu = gc_runtime::attach();
/// let v = mu.alloc(GcValueVec::<TaggedMember<String>>::new());
/// v.push(Tagged::Number(-0.5));
/// v.push(Tagged::Ptr(mu.alloc(String::from("s"))));
/// v.push(Tagged::Data(3));
/// assert_eq!(v.get(0, &mu).unwrap().as_number(), Some(-0.5));
/// assert_eq!(*v.get(1, &mu).unwrap().as_gc().unwrap(), "s");
/// assert_eq!(v.get(2, &mu).unwrap().as_data(), Some(3));
/// ```
impl<T: ?Sized + 'static> HeapValue for TaggedMember<T> {
    type Local<'m> = Tagged<'m, T>;

    fn empty() -> TaggedMember<T> {
        TaggedMember::new()
    }

    #[inline]
    fn load<'m>(&self, mu: &'m Mutator) -> Tagged<'m, T> {
        self.get(mu)
    }

    #[inline]
    fn store(&self, value: Tagged<'_, T>) {
        self.set(value);
    }
}

impl<T: ?Sized> Default for TaggedMember<T> {
    fn default() -> Self {
        TaggedMember::new()
    }
}

// SAFETY: reports its one slot; the marker and every other tracer skip immediates
// (`slot::is_object`), and allocation arms the slot like a `Member`'s.
unsafe impl<T: ?Sized> Trace for TaggedMember<T> {
    #[inline]
    fn trace(&self, tracer: &mut Tracer<'_>) {
        tracer.report_slot(&self.ptr);
    }
}

impl<T: ?Sized> fmt::Debug for TaggedMember<T> {
    /// Prints a pointer as its address only (following it needs a mutator), and immediates
    /// as they are.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.ptr.load(Ordering::Relaxed);
        let word = p.addr() as u64;
        if word >= NUMBER_OFFSET {
            write!(f, "TaggedMember(Number({:?}))", f64::from_bits(word - NUMBER_OFFSET))
        } else if word >= DATA_BASE {
            write!(f, "TaggedMember(Data({}))", word - DATA_BASE)
        } else if is_object(p) {
            write!(f, "TaggedMember({p:p})")
        } else {
            write!(f, "TaggedMember(Empty)")
        }
    }
}

#[cfg(all(test, not(gc_loom)))]
mod tests {
    use super::*;
    use crate::{
        clock::{self, Phase},
        config::BarrierKind,
        object::mark,
        runtime::Runtime,
        test_support, thread_state, Trace,
    };

    #[derive(Trace)]
    struct Obj {
        slot: TaggedMember<Obj>,
    }

    fn marked(g: Gc<'_, Obj>) -> bool {
        // SAFETY: `g` is a live local.
        unsafe { mark::is_marked(g.header_ptr(), clock::mark_epoch()) }
    }

    fn word(slot: &TaggedMember<Obj>) -> u64 {
        slot.ptr.load(Ordering::Relaxed).addr() as u64
    }

    #[test]
    fn every_kind_of_value_reads_back_as_stored() {
        let mu = crate::attach();
        let o = mu.alloc(Obj { slot: TaggedMember::new() });
        assert!(matches!(o.slot.get(&mu), Tagged::Empty) && o.slot.is_empty() && !o.slot.is_gc());
        let numbers = [
            0.0,
            -0.0,
            1.5,
            -1e300,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            f64::from_bits(1), // the smallest subnormal
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for n in numbers {
            o.slot.set(Tagged::Number(n));
            let back = o.slot.get(&mu).as_number().expect("a number");
            assert_eq!(back.to_bits(), n.to_bits(), "{n:e}");
            assert_eq!(o.slot.number().map(f64::to_bits), Some(n.to_bits()));
            assert!(o.slot.data().is_none() && !o.slot.is_gc() && !o.slot.is_empty());
            assert!(word(&o.slot) >= NUMBER_OFFSET, "{n:e} is stored above the data range");
        }
        // Every NaN, whatever its sign and payload, is stored as the canonical one: it must not
        // wrap around into the pointer range.
        for bits in [f64::NAN.to_bits(), (-f64::NAN).to_bits(), u64::MAX, 0x7ff0_0000_0000_0001, 0xfff4_dead_beef_0000]
        {
            o.slot.set(Tagged::Number(f64::from_bits(bits)));
            assert_eq!(o.slot.number().map(f64::to_bits), Some(f64::NAN.to_bits()), "{bits:#x}");
        }
        for d in [0, 1, 2, 0xdead_beef, TAGGED_DATA_MAX] {
            o.slot.set(Tagged::Data(d));
            assert!(matches!(o.slot.get(&mu), Tagged::Data(x) if x == d));
            assert_eq!(o.slot.data(), Some(d));
            assert!(o.slot.number().is_none() && !o.slot.is_gc());
        }
        let p = mu.alloc(Obj { slot: TaggedMember::new() });
        o.slot.set(Tagged::Ptr(p));
        assert!(o.slot.get(&mu).as_gc().is_some_and(|g| Gc::ptr_eq(g, p)));
        assert!(o.slot.is_gc() && o.slot.points_to(p) && o.slot.number().is_none() && o.slot.data().is_none());
        assert_eq!(format!("{:?}", o.slot), format!("TaggedMember({:p})", p.header_ptr()));
        o.slot.set(Tagged::Empty);
        assert!(o.slot.is_empty() && matches!(o.slot.get(&mu), Tagged::Empty));
        assert_eq!(std::mem::size_of::<TaggedMember<Obj>>(), 8);
    }

    #[test]
    fn data_above_the_maximum_is_refused_and_the_slot_keeps_its_value() {
        let mu = crate::attach();
        let o = mu.alloc(Obj { slot: TaggedMember::new() });
        o.slot.set(Tagged::Number(7.0));
        let refused =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| o.slot.set(Tagged::Data(TAGGED_DATA_MAX + 1))));
        let message = refused.expect_err("refused");
        let message = message.downcast_ref::<String>().expect("a formatted message");
        assert!(message.contains("at most TAGGED_DATA_MAX"), "{message}");
        assert_eq!(o.slot.number(), Some(7.0));
    }

    #[test]
    fn an_unarmed_slot_reads_as_empty_and_refuses_immediates() {
        let _mu = crate::attach();
        let loose = TaggedMember::<Obj>::new();
        assert!(loose.is_empty() && !loose.is_gc() && loose.number().is_none() && loose.data().is_none());
        for value in [Tagged::Number(1.0), Tagged::Data(1), Tagged::Empty] {
            let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| loose.set(value)));
            assert!(refused.is_err(), "{value:?} stored into an unarmed slot");
            assert_eq!(word(&loose), crate::slot::UNARMED_ADDR as u64, "the slot stays unarmed");
        }
    }

    /// An immediate overwriting a pointer is a deletion: the deletion barriers shade the
    /// pointer. An immediate is never shaded, and a pointer stored over an immediate is shaded
    /// by the insertion barriers, as in a `Member`.
    #[test]
    fn immediates_overwriting_pointers_are_deletions_to_the_barrier() {
        let _s = test_support::serial();
        let mu = crate::attach();
        for kind in [BarrierKind::Dijkstra, BarrierKind::Yuasa, BarrierKind::Hybrid] {
            for immediate in [Tagged::Number(2.0), Tagged::Data(5)] {
                let a = mu.alloc(Obj { slot: TaggedMember::new() });
                let b = mu.alloc(Obj { slot: TaggedMember::new() });
                let c = mu.alloc(Obj { slot: TaggedMember::new() });
                a.slot.set(Tagged::Ptr(b));
                c.slot.set(immediate);
                let _clear = test_support::ClearMarks;
                clock::force(Phase::Mark, kind);
                a.slot.set(immediate); // overwrites b
                c.slot.set(Tagged::Ptr(b)); // stores b over an immediate
                clock::force(Phase::Off, kind);
                assert!(marked(b), "{kind:?}: b was overwritten (deletion) or stored (insertion)");
                drop(_clear);
                let _clear = test_support::ClearMarks;
                clock::force(Phase::Mark, kind);
                c.slot.set(immediate); // overwrites b again
                clock::force(Phase::Off, kind);
                assert_eq!(marked(b), kind.shades_old(), "{kind:?} {immediate:?}: the overwritten pointer");
                assert!(!marked(a) && !marked(c), "{kind:?}: containers are not shaded");
                thread_state::with_running_mutator(|mu| mu.shade.flush(mu.grey)).expect("a running mutator");
                Runtime::get().grey.clear();
            }
        }
    }
}
