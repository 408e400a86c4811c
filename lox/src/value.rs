//! Lox values: [`Value<'m>`] in running code, [`Slot`] in the heap.
//!
//! # Two representations
//!
//! Running code (the VM between two safepoints, the compiler) holds values as [`Value<'m>`]:
//! a small `Copy` enum whose object case is a local, `Gc<'m, Obj>`, borrowed from the
//! thread's mutator. Locals cannot cross a safepoint, so whatever must survive one — globals,
//! constants, fields, closed upvalues — is stored in the heap as a [`Slot`]: a word
//! and a GC pointer field written through the write barrier. The word holds a number's bits,
//! or, for anything else, a quiet NaN that no number is stored as (NaNs are stored as the
//! canonical one) with the kind of value in its low bits. The VM's stack is the exception: it
//! holds `Value`s themselves, in the thread's own value stack ([`Values`]), which the
//! collector has the thread scan instead of barriering its stores.
//!
//! | Lox value | `Value<'m>` | `Slot` |
//! |---|---|---|
//! | `nil`, `true`, `false` | `Nil`, `True`, `False` | word `NIL`, `TRUE`, `FALSE`; pointer field empty |
//! | a number | `Number(_)`: the `f64`'s bits | word: the bits (a NaN: `f64::NAN`'s); pointer field empty |
//! | an object | `Obj(Gc<'m, Obj>)` | word `OBJECT` + pointer field |
//! | (an undefined global) | — | word `UNDEFINED` |
//!
//! Storing a non-object clears the pointer field, so a slot never keeps a dead object alive.

use std::{
    fmt,
    sync::atomic::{AtomicU64, Ordering},
};

use gc_runtime::{gc, Gc, Mutator, StackTracer, StackValue};

use crate::object::Obj;

/// A Lox value held by running code; valid until the mutator's next safepoint.
#[derive(Clone, Copy)]
pub enum Value<'m> {
    /// `nil`.
    Nil,
    /// `false`.
    False,
    /// `true`.
    True,
    /// A number.
    Number(NumberBits),
    /// A heap object.
    Obj(Gc<'m, Obj>),
}

/// The marker naming [`Value<'m>`] for every `'m`: the element type of the VM's value stack
/// (a [`ValueStack<Values>`](gc_runtime::ValueStack)).
pub enum Values {}

// SAFETY: a `Value`'s one GC pointer, the object case's, is reported; nothing else runs.
unsafe impl StackValue for Values {
    type At<'m> = Value<'m>;

    #[inline]
    fn trace(value: &Value<'_>, tracer: &mut StackTracer<'_>) {
        if let Value::Obj(o) = value {
            tracer.gc(*o);
        }
    }
}

/// A number's `f64`, kept as its bits.
///
/// So that every case of [`Value`] with data holds a word-sized integer or a pointer: the
/// compiler then represents a `Value` as a pair of registers (tag, payload) and copies it as
/// two words. With an `f64` case beside the pointer case, a `Value` is an opaque 16 bytes,
/// built byte by byte in memory and copied as one 16-byte vector — a load that the CPU cannot
/// forward from the narrower stores just before it, which stalls the VM on every push.
#[derive(Clone, Copy, Debug)]
pub struct NumberBits(u64);

impl NumberBits {
    /// The number.
    #[inline(always)]
    pub fn get(self) -> f64 {
        f64::from_bits(self.0)
    }
}

impl<'m> Value<'m> {
    /// The value of number `n`.
    #[inline(always)]
    pub fn number(n: f64) -> Value<'m> {
        Value::Number(NumberBits(n.to_bits()))
    }

    /// The value of boolean `b`.
    #[inline(always)]
    pub fn bool(b: bool) -> Value<'m> {
        if b {
            Value::True
        } else {
            Value::False
        }
    }

    /// The number, if this is one.
    #[inline(always)]
    pub fn as_number(self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(n.get()),
            _ => None,
        }
    }

    /// Lox truthiness: `nil` and `false` are false, everything else is true.
    #[inline]
    pub fn is_falsey(self) -> bool {
        matches!(self, Value::Nil | Value::False)
    }

    /// The object, if this is one.
    #[inline]
    pub fn as_obj(self) -> Option<Gc<'m, Obj>> {
        match self {
            Value::Obj(o) => Some(o),
            _ => None,
        }
    }

    /// Lox `==`: numbers by value (so `NaN != NaN`), strings by content, other objects by
    /// identity.
    pub fn equals(self, other: Value<'_>) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::False, Value::False) | (Value::True, Value::True) => true,
            (Value::Number(a), Value::Number(b)) => a.get() == b.get(),
            (Value::Obj(a), Value::Obj(b)) => {
                a.addr() == b.addr()
                    || match (a.as_string(), b.as_string()) {
                        (Some(a), Some(b)) => a.hash == b.hash && a.chars == b.chars,
                        _ => false,
                    }
            }
            _ => false,
        }
    }
}

impl Value<'_> {
    /// Write the value as `print` shows it.
    pub fn write(self, mu: &Mutator, out: &mut String) {
        match self {
            Value::Nil => out.push_str("nil"),
            Value::False => out.push_str("false"),
            Value::True => out.push_str("true"),
            Value::Number(n) => out.push_str(&format_number(n.get())),
            Value::Obj(o) => o.write(mu, out),
        }
    }
}

/// Format a number as C's `printf("%g", n)` does (what clox prints).
pub fn format_number(n: f64) -> String {
    if n.is_nan() {
        return "nan".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "inf".into() } else { "-inf".into() };
    }
    const PRECISION: i32 = 6;
    // The exponent after rounding to PRECISION significant digits.
    let sci = format!("{:.*e}", (PRECISION - 1) as usize, n);
    let (mantissa, exp) = sci.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent digits");
    if (-4..PRECISION).contains(&exp) {
        let decimals = (PRECISION - 1 - exp) as usize;
        strip_zeros(&format!("{n:.decimals$}")).to_string()
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", strip_zeros(mantissa), exp.abs())
    }
}

/// Drop trailing zeros after a decimal point, and the point if nothing follows it.
fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// A slot's word for anything but a number: a quiet NaN with the value's kind in its low bits
/// (the top 16 bits are `0x7ffc`). Numbers are stored as their bits, every NaN as the canonical
/// one (`0x7ff8...`), so no number's bits look like a tag. Lox cannot tell NaNs apart (it prints
/// every one as `nan`).
const TAG: u64 = 0x7ffc_0000_0000_0000;
const TAG_MASK: u64 = 0xffff_0000_0000_0000;
const UNDEFINED: u64 = TAG;
const NIL: u64 = TAG | 1;
const FALSE: u64 = TAG | 2;
const TRUE: u64 = TAG | 3;
const OBJECT: u64 = TAG | 4;

/// The word that stores number `n`.
#[inline(always)]
fn number_word(n: f64) -> u64 {
    if n.is_nan() {
        f64::NAN.to_bits()
    } else {
        n.to_bits()
    }
}

/// A Lox value stored in a heap object: one word (a number's bits, or the kind of a value that
/// is not a number) and a GC pointer field; 16 bytes.
///
/// A slot works only inside an allocated object (its pointer field is armed by allocation);
/// a new slot holds the *undefined* marker, which only globals ever read.
#[gc(no_constructor)]
pub struct Slot {
    word: AtomicU64,
    obj: Option<Gc<Obj>>,
}

impl Default for Slot {
    fn default() -> Self {
        Slot::new()
    }
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = self.word.load(Ordering::Relaxed);
        let mut s = f.debug_struct("Slot");
        match word {
            UNDEFINED => s.field("value", &"undefined"),
            NIL => s.field("value", &"nil"),
            FALSE => s.field("value", &false),
            TRUE => s.field("value", &true),
            OBJECT => s.field("value", &"object"),
            _ => s.field("value", &f64::from_bits(word)),
        };
        s.finish()
    }
}

// Relaxed orderings: the word is only used by the thread that runs the program (one mutator
// per VM); the collector reads only the pointer field, which the barrier publishes.
#[gc]
impl Slot {
    /// An undefined slot, to put in a new object.
    pub fn new() -> Slot {
        Slot { word: AtomicU64::new(UNDEFINED), obj: gc_runtime::Member::new() }
    }

    /// The object, if the slot holds one: one load, no decoding of the word (the pointer field
    /// is empty whenever the slot holds anything else).
    #[inline(always)]
    pub fn object<'m>(&self, mu: &'m Mutator) -> Option<Gc<'m, Obj>> {
        self.obj(mu)
    }

    /// The number, if the slot holds one.
    #[inline(always)]
    pub fn number(&self) -> Option<f64> {
        let word = self.word.load(Ordering::Relaxed);
        (word & TAG_MASK != TAG).then(|| f64::from_bits(word))
    }

    /// The value, or `None` if the slot was never set.
    #[inline]
    pub fn get<'m>(&self, mu: &'m Mutator) -> Option<Value<'m>> {
        let word = self.word.load(Ordering::Relaxed);
        if word & TAG_MASK != TAG {
            return Some(Value::Number(NumberBits(word)));
        }
        Some(match word {
            NIL => Value::Nil,
            FALSE => Value::False,
            TRUE => Value::True,
            OBJECT => Value::Obj(self.obj(mu).expect("an object slot holds an object")),
            _ => return None,
        })
    }

    /// The value; `nil` if the slot was never set.
    #[inline]
    pub fn value<'m>(&self, mu: &'m Mutator) -> Value<'m> {
        self.get(mu).unwrap_or(Value::Nil)
    }

    /// Whether the slot was ever set.
    #[inline]
    pub fn is_defined(&self) -> bool {
        self.word.load(Ordering::Relaxed) != UNDEFINED
    }

    /// Store `value` (the pointer field through the write barrier).
    #[inline]
    pub fn set(&self, value: Value<'_>) {
        let word = match value {
            Value::Nil => NIL,
            Value::False => FALSE,
            Value::True => TRUE,
            Value::Number(n) => number_word(n.get()),
            Value::Obj(o) => {
                self.obj = Some(o);
                self.word.store(OBJECT, Ordering::Relaxed);
                return;
            }
        };
        // A load and a store, not a swap: only this thread writes the word, and a swap is a
        // locked instruction, paid on every store of a number.
        let old = self.word.load(Ordering::Relaxed);
        self.word.store(word, Ordering::Relaxed);
        if old == OBJECT {
            self.obj = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_like_printf_g() {
        let cases = [
            (123.0, "123"),
            (-0.0, "-0"),
            (0.0, "0"),
            (123.456, "123.456"),
            (-0.001, "-0.001"),
            (1.0 / 3.0, "0.333333"),
            (1234567.0, "1.23457e+06"),
            (1e21, "1e+21"),
            (0.00001, "1e-05"),
            (100000.0, "100000"),
            (999999.5, "1e+06"),
            (f64::INFINITY, "inf"),
        ];
        for (n, s) in cases {
            assert_eq!(format_number(n), s, "{n}");
        }
    }

    #[test]
    fn slots_round_trip_values() {
        let mu = gc_runtime::attach();
        let slot = mu.alloc(Slot::new());
        assert!(slot.get(&mu).is_none());
        slot.set(Value::number(2.5));
        assert!(matches!(slot.get(&mu), Some(Value::Number(n)) if n.get() == 2.5));
        slot.set(Value::True);
        assert!(matches!(slot.get(&mu), Some(Value::True)));
        slot.set(Value::Nil);
        assert!(matches!(slot.get(&mu), Some(Value::Nil)));
        slot.set(Value::False);
        assert!(matches!(slot.get(&mu), Some(Value::False)));
        let o = Obj::string(&mu, "o");
        slot.set(Value::Obj(o));
        assert!(matches!(slot.get(&mu), Some(Value::Obj(p)) if p.addr() == o.addr()));
        // A NaN whose bits look like a tag is stored as the canonical NaN: still a number.
        for bits in [UNDEFINED, NIL, OBJECT, TAG | 0xdead, f64::NAN.to_bits(), (-f64::NAN).to_bits()] {
            slot.set(Value::number(f64::from_bits(bits)));
            assert!(matches!(slot.get(&mu), Some(Value::Number(n)) if n.get().is_nan()), "{bits:#x}");
            assert!(slot.is_defined());
        }
        for n in [0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, f64::MIN_POSITIVE, -1e300] {
            slot.set(Value::number(n));
            assert!(matches!(slot.get(&mu), Some(Value::Number(m)) if m.get().to_bits() == n.to_bits()), "{n}");
        }
        assert_eq!(std::mem::size_of::<Slot>(), 16);
    }
}
