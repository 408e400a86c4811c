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
//! and a NaN is stored as one of two canonical ones, by its sign: `0x7ff8_0000_0000_0000`
//! ([`f64::NAN`]'s) or `0xfff8_0000_0000_0000` (`-f64::NAN`'s), so adding 2^49 never wraps. The
//! sign is kept because programs print it (C's `printf` shows `-nan`, and `0.0 / 0.0` is the
//! negative one on x86-64); the payload is not. JavaScriptCore offsets its doubles the same way, so that a pointer is
//! stored as itself: the marker and the barrier read this slot exactly as a `Member`'s.
//!
//! # Why the collector never takes an immediate for a pointer
//!
//! - Every reader of slots — the marker, checkmark, the barrier's shades, the ephemeron pass —
//!   asks `slot::is_object` of the value it loaded, which is false from 2^48 on. The test is on
//!   the loaded value, never on an earlier load, so a store racing with the marker cannot slip
//!   an immediate past it.
//! - No object lies at or above 2^48: the heap's memory comes from `raw.rs`, which refuses
//!   any other (current 64-bit systems give programs lower addresses unless asked).
//! - A store of an immediate goes through the write barrier like a store of `None`: under a
//!   deletion barrier (Yuasa, hybrid) the pointer it overwrites is shaded; an immediate is
//!   never shaded. A thread without a running mutator takes the root table's locked path, as
//!   for any store that carries no local (`barrier::write_non_object`).
//!
//! # The same word in running code: [`TaggedWord`]
//!
//! [`Tagged`] is the local form that code matches on: an enum, 16 bytes. An interpreter's value
//! stack wants the word itself — 8 bytes a value, a constant or a global copied without
//! decoding, a number told apart by one comparison — which is what clox's NaN-boxed stack has.
//! [`TaggedWord<'m, T>`] is that: the encoding above in one word, with the lifetime of a local.
//! Its pointer comes only from a [`Gc<'m, T>`] (or from a slot, read as a `Gc` would be), so it
//! is valid exactly as long as one, and it goes back into the heap only through
//! [`TaggedMember::set_word`], which runs the write barrier as [`TaggedMember::set`] does.
//!
//! On targets whose pointers are narrower than 64 bits the type does not exist.

use std::{fmt, marker::PhantomData, ptr::NonNull};

use crate::{
    barrier,
    collections::HeapValue,
    gc::Gc,
    member::{unarmed, Member},
    mutator::Mutator,
    object::{Header, Trace, Tracer},
    primitive::sync::atomic::{AtomicPtr, Ordering},
    slot::{is_object, IMMEDIATE_MIN, UNARMED_ADDR},
    value_stack::{StackTracer, StackValue},
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
    /// A number. A NaN is stored as the canonical one of its sign, so it reads back as
    /// [`f64::NAN`]'s bits or `-f64::NAN`'s, whatever its payload was.
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
    let bits = match n {
        n if !n.is_nan() => n.to_bits(),
        n if n.is_sign_negative() => (-f64::NAN).to_bits(),
        _ => f64::NAN.to_bits(),
    };
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
            Tagged::Ptr(gc) => barrier::write_slot(&self.ptr, gc.header_ptr()),
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

    /// What the slot holds as one word ([`TaggedWord`]): no decoding, so a copy onto an
    /// interpreter's stack is a load and a store. A GC pointer in it is a local of `mu`.
    #[inline(always)]
    pub fn get_word<'m>(&self, _mu: &'m Mutator) -> TaggedWord<'m, T> {
        // Acquire: pairs with the barrier's Release store, as `Member::get`.
        let p = self.ptr.load(Ordering::Acquire);
        // An unarmed slot reads as empty, as in `get`.
        let p = if p.addr() == UNARMED_ADDR { std::ptr::null_mut() } else { p };
        // What `mu`'s thread just read from a slot of `T`s, with Acquire: null, an immediate, or
        // a pointer to a `T` that stays allocated until `mu`'s next safepoint (as `get`'s).
        TaggedWord { word: Word(p), _local: PhantomData }
    }

    /// Store `value` through the write barrier, as [`set`](Self::set) stores the [`Tagged`]
    /// it encodes.
    ///
    /// # Panics
    /// If the slot is not inside an allocated object (as [`Member::set`]); the slot is left as
    /// it was.
    #[inline(always)]
    pub fn set_word(&self, value: TaggedWord<'_, T>) {
        let p = value.word.0;
        if is_object(p) {
            // A pointer of a local (`TaggedWord`'s invariant): the barrier may shade it.
            barrier::write_slot(&self.ptr, p);
        } else if p.is_null() {
            barrier::clear_member(&self.ptr);
        } else {
            barrier::write_non_object(&self.ptr, p);
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

/// A [`Tagged`] in one word, encoded as a [`TaggedMember`] stores it (see the module docs):
/// the form of a dynamic value for an interpreter's stack, 8 bytes, copied to and from slots
/// without decoding ([`TaggedMember::get_word`], [`TaggedMember::set_word`]).
///
/// A local like [`Gc<'m, T>`]: valid until `mu`'s next safepoint, on `mu`'s thread. A
/// [`ValueStack<TaggedWord<'static, T>>`](crate::ValueStack) holds them across safepoints (so
/// does one of [`Tagged<'static, T>`]), reporting each word's pointer to the collector.
///
/// ```
/// use gc_runtime::{Tagged, TaggedMember, TaggedWord, Trace};
///
/// #[derive(Trace)]
/// struct Global {
///     value: TaggedMember<String>,
/// }
///
/// let mu = gc_runtime::attach();
/// let g = mu.alloc(Global { value: TaggedMember::new() });
/// let two = TaggedWord::number(2.0);
/// assert_eq!(two.as_number(), Some(2.0));
/// g.value.set_word(two);
/// assert_eq!(g.value.number(), Some(2.0));
///
/// let s = TaggedWord::ptr(mu.alloc(String::from("s")));
/// g.value.set_word(s);
/// let back = g.value.get_word(&mu);
/// assert_eq!(back.to_bits(), s.to_bits()); // the same word
/// assert!(matches!(back.get(), Tagged::Ptr(p) if *p == "s"));
/// assert_eq!(std::mem::size_of::<TaggedWord<'_, String>>(), 8);
/// ```
pub struct TaggedWord<'m, T: ?Sized> {
    /// Null (empty), an immediate (`immediate`), or the header of a `T` that a local of the
    /// lifetime `'m` pointed to. A pointer type, so that the pointer keeps its provenance.
    word: Word,
    /// A local, as `Gc<'m, T>`: its lifetime, variance and thread affinity.
    _local: PhantomData<Gc<'m, T>>,
}

/// The word of a [`TaggedWord`]. `Send + Sync` itself, so that the type's thread affinity
/// comes from its `Gc` marker (and the compiler's errors name that marker).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Word(*mut Header);

// SAFETY: a word alone grants nothing; `TaggedWord` restricts its thread use with a `!Send`,
// `!Sync` marker (its `PhantomData<Gc>`).
unsafe impl Send for Word {}
// SAFETY: as above.
unsafe impl Sync for Word {}

impl<'m, T: ?Sized> TaggedWord<'m, T> {
    /// Nothing ([`Tagged::Empty`]).
    #[inline(always)]
    pub fn empty() -> Self {
        TaggedWord { word: Word(std::ptr::null_mut()), _local: PhantomData }
    }

    /// Number `n` ([`Tagged::Number`]); a NaN becomes the canonical one of its sign.
    #[inline(always)]
    pub fn number(n: f64) -> Self {
        TaggedWord { word: Word(immediate(number_word(n))), _local: PhantomData }
    }

    /// Small integer `d` ([`Tagged::Data`]).
    ///
    /// # Panics
    /// If `d` is above [`TAGGED_DATA_MAX`].
    #[inline(always)]
    pub fn data(d: u64) -> Self {
        if d > TAGGED_DATA_MAX {
            data_too_large(d);
        }
        TaggedWord { word: Word(immediate(DATA_BASE + d)), _local: PhantomData }
    }

    /// The GC pointer `gc` ([`Tagged::Ptr`]).
    #[inline(always)]
    pub fn ptr(gc: Gc<'m, T>) -> Self {
        TaggedWord { word: Word(gc.header_ptr()), _local: PhantomData }
    }

    /// The value as [`Tagged`], to match on.
    #[inline(always)]
    pub fn get(self) -> Tagged<'m, T> {
        let word = self.to_bits();
        if word >= NUMBER_OFFSET {
            Tagged::Number(f64::from_bits(word - NUMBER_OFFSET))
        } else if word >= DATA_BASE {
            Tagged::Data(word - DATA_BASE)
        } else {
            match self.as_gc() {
                Some(gc) => Tagged::Ptr(gc),
                None => Tagged::Empty,
            }
        }
    }

    /// The number, if this is one: one comparison.
    #[inline(always)]
    pub fn as_number(self) -> Option<f64> {
        let word = self.to_bits();
        (word >= NUMBER_OFFSET).then(|| f64::from_bits(word - NUMBER_OFFSET))
    }

    /// The small integer, if this is one.
    #[inline(always)]
    pub fn as_data(self) -> Option<u64> {
        let word = self.to_bits();
        (DATA_BASE..NUMBER_OFFSET).contains(&word).then(|| word - DATA_BASE)
    }

    /// The GC pointer, if this is one.
    #[inline(always)]
    pub fn as_gc(self) -> Option<Gc<'m, T>> {
        let p = self.word.0;
        if !is_object(p) {
            return None;
        }
        // SAFETY: a word below 2^48 other than null is the header of a `T` taken from a local
        // of lifetime `'m` (`ptr`) or read from a slot of `T`s as a local of `'m` would be
        // (`get_word`); `is_object` excludes null and immediates.
        Some(unsafe { Gc::from_header_unbound(NonNull::new_unchecked(p)) })
    }

    /// Whether this is empty.
    #[inline(always)]
    pub fn is_empty(self) -> bool {
        self.word.0.is_null()
    }

    /// The encoded word (see the module docs): equal words are equal values, and numbers are
    /// the only values that can be equal with different words (`0.0` and `-0.0`).
    #[inline(always)]
    pub fn to_bits(self) -> u64 {
        self.word.0.addr() as u64
    }
}

// Not derived: a derive would ask `T: Clone`.
impl<T: ?Sized> Clone for TaggedWord<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for TaggedWord<'_, T> {}

impl<'m, T: ?Sized> From<Tagged<'m, T>> for TaggedWord<'m, T> {
    /// # Panics
    /// If the value is [`Tagged::Data`] above [`TAGGED_DATA_MAX`].
    #[inline(always)]
    fn from(value: Tagged<'m, T>) -> Self {
        match value {
            Tagged::Empty => TaggedWord::empty(),
            Tagged::Ptr(gc) => TaggedWord::ptr(gc),
            Tagged::Number(n) => TaggedWord::number(n),
            Tagged::Data(d) => TaggedWord::data(d),
        }
    }
}

impl<'m, T: ?Sized> From<TaggedWord<'m, T>> for Tagged<'m, T> {
    #[inline(always)]
    fn from(word: TaggedWord<'m, T>) -> Self {
        word.get()
    }
}

impl<T: ?Sized> fmt::Debug for TaggedWord<'_, T> {
    /// As the [`Tagged`] it encodes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaggedWord({:?})", self.get())
    }
}

// SAFETY: the pointer, if the word holds one, is reported; immediates hold none.
unsafe impl<T: ?Sized + 'static> StackValue for TaggedWord<'static, T> {
    type At<'m> = TaggedWord<'m, T>;

    #[inline]
    fn trace(value: &TaggedWord<'_, T>, tracer: &mut StackTracer<'_>) {
        if let Some(gc) = value.as_gc() {
            tracer.gc(gc);
        }
    }
}

// SAFETY: as above.
unsafe impl<T: ?Sized + 'static> StackValue for Tagged<'static, T> {
    type At<'m> = Tagged<'m, T>;

    #[inline]
    fn trace(value: &Tagged<'_, T>, tracer: &mut StackTracer<'_>) {
        if let Tagged::Ptr(gc) = value {
            tracer.gc(*gc);
        }
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
        runtime::Runtime,
        test_support, thread_state, Trace,
    };

    #[derive(Trace)]
    struct Obj {
        slot: TaggedMember<Obj>,
    }

    fn shaded(g: Gc<'_, Obj>) -> bool {
        // SAFETY: `g` is a live local.
        unsafe { test_support::shaded(g.header_ptr()) }
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
        // Every NaN, whatever its payload, is stored as the canonical one of its sign: it must
        // not wrap around into the pointer range, and its sign reads back.
        for bits in [f64::NAN.to_bits(), (-f64::NAN).to_bits(), u64::MAX, 0x7ff0_0000_0000_0001, 0xfff4_dead_beef_0000]
        {
            o.slot.set(Tagged::Number(f64::from_bits(bits)));
            let canonical = if bits >> 63 == 1 { (-f64::NAN).to_bits() } else { f64::NAN.to_bits() };
            assert_eq!(o.slot.number().map(f64::to_bits), Some(canonical), "{bits:#x}");
            assert!(word(&o.slot) >= NUMBER_OFFSET, "{bits:#x} is stored above the data range");
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

    /// A `TaggedWord` is the slot's word: every kind of value goes through it and back
    /// unchanged, in both directions, and decodes as `get` does.
    #[test]
    fn words_carry_every_kind_of_value_between_slots_unchanged() {
        let mu = crate::attach();
        let o = mu.alloc(Obj { slot: TaggedMember::new() });
        let p = mu.alloc(Obj { slot: TaggedMember::new() });
        let values = [
            Tagged::Empty,
            Tagged::Ptr(p),
            Tagged::Number(-0.0),
            Tagged::Number(f64::NEG_INFINITY),
            Tagged::Number(f64::from_bits(0xfff4_dead_beef_0000)), // a NaN: stored canonical
            Tagged::Data(0),
            Tagged::Data(TAGGED_DATA_MAX),
        ];
        for value in values {
            o.slot.set(value);
            let stored = word(&o.slot);
            let w = o.slot.get_word(&mu);
            assert_eq!(w.to_bits(), stored, "{value:?}: the slot's word");
            assert_eq!(TaggedWord::from(value).to_bits(), stored, "{value:?}: encoded as the slot does");
            assert_eq!(format!("{:?}", w.get()), format!("{:?}", o.slot.get(&mu)), "decoded as `get` does");
            assert_eq!(w.as_number().map(f64::to_bits), o.slot.number().map(f64::to_bits));
            assert_eq!(w.as_data(), o.slot.data());
            assert_eq!(w.as_gc().is_some(), o.slot.is_gc());
            assert_eq!(w.is_empty(), o.slot.is_empty());
            o.slot.set(Tagged::Data(7));
            o.slot.set_word(w);
            assert_eq!(word(&o.slot), stored, "{value:?}: stored back as it was read");
        }
        o.slot.set(Tagged::Empty);
        assert!(o.slot.get_word(&mu).is_empty());
        assert!(TaggedWord::<Obj>::number(f64::NAN).as_number().is_some_and(f64::is_nan));
        assert!(TaggedWord::ptr(p).as_gc().is_some_and(|g| Gc::ptr_eq(g, p)));
        let too_large = std::panic::catch_unwind(|| TaggedWord::<Obj>::data(TAGGED_DATA_MAX + 1));
        assert!(too_large.is_err(), "data above the maximum is refused");
    }

    #[test]
    fn an_unarmed_slot_reads_as_an_empty_word_and_refuses_words() {
        let mu = crate::attach();
        let loose = TaggedMember::<Obj>::new();
        let read = loose.get_word(&mu);
        assert!(read.is_empty() && read.to_bits() == 0 && read.as_gc().is_none());
        let p = mu.alloc(Obj { slot: TaggedMember::new() });
        for value in [TaggedWord::number(1.0), TaggedWord::data(1), TaggedWord::empty(), TaggedWord::ptr(p)] {
            let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| loose.set_word(value)));
            assert!(refused.is_err(), "{value:?} stored into an unarmed slot");
            assert_eq!(word(&loose), crate::slot::UNARMED_ADDR as u64, "the slot stays unarmed");
        }
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
        // Stores through `set`, and through `set_word` (which must run the same barrier).
        fn store(slot: &TaggedMember<Obj>, value: Tagged<'_, Obj>, as_word: bool) {
            if as_word {
                slot.set_word(TaggedWord::from(value));
            } else {
                slot.set(value);
            }
        }
        for (kind, as_word) in test_support::barrier_kinds().iter().flat_map(|&kind| [(kind, false), (kind, true)]) {
            for immediate in [Tagged::Number(2.0), Tagged::Data(5), Tagged::Empty] {
                let a = mu.alloc(Obj { slot: TaggedMember::new() });
                let b = mu.alloc(Obj { slot: TaggedMember::new() });
                let c = mu.alloc(Obj { slot: TaggedMember::new() });
                a.slot.set(Tagged::Ptr(b));
                c.slot.set(immediate);
                let _clear = test_support::ClearMarks;
                clock::force(Phase::Mark, kind);
                store(&a.slot, immediate, as_word); // overwrites b
                store(&c.slot, Tagged::Ptr(b), as_word); // stores b over an immediate
                clock::force(Phase::Off, kind);
                assert!(shaded(b), "{kind:?}: b was overwritten (deletion) or stored (insertion)");
                drop(_clear);
                let _clear = test_support::ClearMarks;
                clock::force(Phase::Mark, kind);
                store(&c.slot, immediate, as_word); // overwrites b again
                clock::force(Phase::Off, kind);
                assert_eq!(shaded(b), kind.shades_old(), "{kind:?} {immediate:?}: the overwritten pointer");
                assert!(!shaded(a) && !shaded(c), "{kind:?}: containers are not shaded");
                thread_state::with_running_mutator(|mu| mu.shade.flush(mu.grey)).expect("a running mutator");
                Runtime::get().grey.clear();
            }
        }
    }
}
