//! Lox values: [`Value<'m>`] in running code, [`Slot`] in the heap.
//!
//! # Two representations
//!
//! Running code (the VM between two safepoints, the compiler) holds values as [`Value<'m>`]:
//! one word, the library's [`TaggedWord`], whose object case is a local of the thread's
//! mutator. Locals cannot cross a safepoint, so whatever must survive one — globals,
//! constants, fields, closed upvalues — is stored in the heap as a [`Slot`]: the library's
//! [`TaggedMember`], the same word in a GC slot (written through the write barrier, whatever
//! it holds; the collector follows only pointers). So a value moves between the stack and the
//! heap as one word, never decoded (clox's NaN-boxing, kept by the collector). The VM's stack
//! holds `Value`s themselves, in the thread's own value stack ([`Values`]), which the collector
//! has the thread scan instead of barriering its stores.
//!
//! | Lox value | `Value<'m>` ([`Value::kind`]) | the word |
//! |---|---|---|
//! | `nil`, `false`, `true` | `Kind::Nil`, `False`, `True` | `Tagged::Data(0)`, `(1)`, `(2)` |
//! | a number | `Kind::Number(_)` | `Tagged::Number` (a NaN as the canonical one of its sign) |
//! | an object | `Kind::Obj(Gc<'m, Obj>)` | `Tagged::Ptr` |
//! | (an undefined global) | — | `Tagged::Empty`, only in a `Slot` |

use std::fmt;

use gc_runtime::{Gc, Mutator, StackTracer, StackValue, TaggedMember, TaggedWord, Trace};

use crate::object::Obj;

/// The [`Tagged::Data`](gc_runtime::Tagged::Data) values of `nil` and the booleans. A slot
/// that was never set is empty: the *undefined* marker, which only globals ever read.
const NIL: u64 = 0;
const FALSE: u64 = 1;
const TRUE: u64 = 2;

/// A Lox value held by running code, in one word; valid until the mutator's next safepoint.
#[derive(Clone, Copy)]
pub struct Value<'m>(TaggedWord<'m, Obj>);

/// What a [`Value`] is, to match on (the hot paths of the VM test the word directly:
/// [`Value::as_number`], [`Value::as_obj`], [`Value::is_falsey`]).
#[derive(Clone, Copy)]
pub enum Kind<'m> {
    /// `nil`.
    Nil,
    /// `false`.
    False,
    /// `true`.
    True,
    /// A number.
    Number(f64),
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
        if let Some(o) = value.as_obj() {
            tracer.gc(o);
        }
    }
}

impl<'m> Value<'m> {
    /// `nil`.
    #[inline(always)]
    pub fn nil() -> Value<'m> {
        Value(TaggedWord::data(NIL))
    }

    /// The value of number `n`.
    #[inline(always)]
    pub fn number(n: f64) -> Value<'m> {
        Value(TaggedWord::number(n))
    }

    /// The value of boolean `b`.
    #[inline(always)]
    pub fn bool(b: bool) -> Value<'m> {
        Value(TaggedWord::data(if b { TRUE } else { FALSE }))
    }

    /// The object `o`.
    #[inline(always)]
    pub fn obj(o: Gc<'m, Obj>) -> Value<'m> {
        Value(TaggedWord::ptr(o))
    }

    /// What the value is.
    #[inline]
    pub fn kind(self) -> Kind<'m> {
        if let Some(n) = self.0.as_number() {
            Kind::Number(n)
        } else if let Some(o) = self.0.as_gc() {
            Kind::Obj(o)
        } else {
            match self.0.as_data() {
                Some(TRUE) => Kind::True,
                Some(FALSE) => Kind::False,
                _ => Kind::Nil,
            }
        }
    }

    /// The number, if this is one: one comparison.
    #[inline(always)]
    pub fn as_number(self) -> Option<f64> {
        self.0.as_number()
    }

    /// Lox truthiness: `nil` and `false` are false, everything else is true.
    #[inline(always)]
    pub fn is_falsey(self) -> bool {
        matches!(self.0.as_data(), Some(NIL | FALSE))
    }

    /// Whether this is `nil`.
    #[inline]
    pub fn is_nil(self) -> bool {
        self.0.as_data() == Some(NIL)
    }

    /// The object, if this is one.
    #[inline(always)]
    pub fn as_obj(self) -> Option<Gc<'m, Obj>> {
        self.0.as_gc()
    }

    /// Lox `==`: numbers by value (so `NaN != NaN`), strings by content, other objects by
    /// identity.
    #[inline]
    pub fn equals(self, other: Value<'_>, mu: &Mutator) -> bool {
        if let (Some(a), Some(b)) = (self.as_number(), other.as_number()) {
            return a == b;
        }
        // Not two numbers: equal words are equal values (`nil`, the booleans, one object).
        if self.0.to_bits() == other.0.to_bits() {
            return true;
        }
        match (self.as_obj(), other.as_obj()) {
            (Some(a), Some(b)) => match (a.as_string(), b.as_string()) {
                (Some(a), Some(b)) => a.hash == b.hash && a.text(mu) == b.text(mu),
                _ => false,
            },
            _ => false,
        }
    }
}

impl Value<'_> {
    /// Write the value as `print` shows it.
    pub fn write(self, mu: &Mutator, out: &mut String) {
        match self.kind() {
            Kind::Nil => out.push_str("nil"),
            Kind::False => out.push_str("false"),
            Kind::True => out.push_str("true"),
            Kind::Number(n) => out.push_str(&format_number(n)),
            Kind::Obj(o) => o.write(mu, out),
        }
    }
}

/// Format a number as C's `printf("%g", n)` does (what clox prints).
pub fn format_number(n: f64) -> String {
    if n.is_nan() {
        // With its sign, as glibc's `printf` shows it: `0/0` is the CPU's default NaN, whose
        // sign bit is set on x86-64 (`-nan`) and clear on ARM (`nan`).
        return if n.is_sign_negative() { "-nan".into() } else { "nan".into() };
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

/// A Lox value stored in a heap object: a [`TaggedMember`], one word holding a number, a small
/// integer for `nil` and the booleans, or a GC pointer — 8 bytes, every store through the
/// write barrier.
///
/// A slot works only inside an allocated object (allocation arms it); a new slot is empty,
/// the *undefined* marker, which only globals ever read.
#[derive(Trace, Default)]
pub struct Slot {
    value: TaggedMember<Obj>,
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Slot");
        if let Some(n) = self.value.number() {
            s.field("value", &n);
        } else {
            match self.value.data() {
                Some(NIL) => s.field("value", &"nil"),
                Some(FALSE) => s.field("value", &false),
                Some(TRUE) => s.field("value", &true),
                Some(other) => s.field("data", &other),
                None if self.value.is_gc() => s.field("value", &"object"),
                None => s.field("value", &"undefined"),
            };
        }
        s.finish()
    }
}

impl Slot {
    /// An undefined slot, to put in a new object.
    pub fn new() -> Slot {
        Slot::default()
    }

    /// The object, if the slot holds one.
    #[inline(always)]
    pub fn object<'m>(&self, mu: &'m Mutator) -> Option<Gc<'m, Obj>> {
        self.value.get_word(mu).as_gc()
    }

    /// The number, if the slot holds one.
    #[inline(always)]
    pub fn number(&self) -> Option<f64> {
        self.value.number()
    }

    /// The value, or `None` if the slot was never set.
    #[inline]
    pub fn get<'m>(&self, mu: &'m Mutator) -> Option<Value<'m>> {
        let word = self.value.get_word(mu);
        (!word.is_empty()).then_some(Value(word))
    }

    /// The value; `nil` if the slot was never set.
    #[inline]
    pub fn value<'m>(&self, mu: &'m Mutator) -> Value<'m> {
        self.get(mu).unwrap_or(Value::nil())
    }

    /// Whether the slot was ever set.
    #[inline]
    pub fn is_defined(&self) -> bool {
        !self.value.is_empty()
    }

    /// Store `value` (through the write barrier).
    #[inline]
    pub fn set(&self, value: Value<'_>) {
        self.value.set_word(value.0);
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
            (f64::NEG_INFINITY, "-inf"),
            // NaNs with their sign, as glibc prints them (`0/0` is the negative one on x86-64).
            (f64::NAN, "nan"),
            (-f64::NAN, "-nan"),
            (f64::from_bits(0xfff4_dead_beef_0000), "-nan"),
        ];
        for (n, s) in cases {
            assert_eq!(format_number(n), s, "{n}");
        }
        // The sign survives a trip through a value (the tagged word keeps it).
        assert_eq!(format_number(Value::number(-f64::NAN).as_number().expect("a number")), "-nan");
        assert_eq!(format_number(Value::number(f64::NAN).as_number().expect("a number")), "nan");
    }

    #[test]
    fn slots_round_trip_values() {
        let mu = gc_runtime::attach();
        let slot = mu.alloc(Slot::new());
        assert!(slot.get(&mu).is_none());
        let read = |mu| slot.get(mu).map(Value::kind);
        slot.set(Value::number(2.5));
        assert!(matches!(read(&mu), Some(Kind::Number(n)) if n == 2.5));
        slot.set(Value::bool(true));
        assert!(matches!(read(&mu), Some(Kind::True)));
        slot.set(Value::nil());
        assert!(matches!(read(&mu), Some(Kind::Nil)));
        slot.set(Value::bool(false));
        assert!(matches!(read(&mu), Some(Kind::False)));
        let o = Obj::string(&mu, "o");
        slot.set(Value::obj(o));
        assert!(matches!(read(&mu), Some(Kind::Obj(p)) if p.addr() == o.addr()));
        // Every NaN is a number: stored as the canonical one of its sign.
        for bits in [f64::NAN.to_bits(), (-f64::NAN).to_bits(), 0x7ffc_0000_0000_0004, u64::MAX] {
            slot.set(Value::number(f64::from_bits(bits)));
            assert!(matches!(read(&mu), Some(Kind::Number(n)) if n.is_nan()), "{bits:#x}");
            assert!(slot.is_defined());
        }
        for n in [0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, f64::MIN_POSITIVE, -1e300] {
            slot.set(Value::number(n));
            assert!(matches!(read(&mu), Some(Kind::Number(m)) if m.to_bits() == n.to_bits()), "{n}");
        }
        assert_eq!(std::mem::size_of::<Slot>(), 8);
        assert_eq!(std::mem::size_of::<Value<'_>>(), 8);
    }

    #[test]
    fn values_compare_as_lox_compares_them() {
        let mu = gc_runtime::attach();
        let (a, b, c) = (Obj::string(&mu, "s"), Obj::string(&mu, "s"), Obj::string(&mu, "t"));
        let nan = Value::number(f64::NAN);
        assert!(!nan.equals(nan, &mu), "NaN is not equal to itself");
        assert!(Value::number(0.0).equals(Value::number(-0.0), &mu), "0 == -0");
        assert!(Value::number(1.0).equals(Value::number(1.0), &mu));
        assert!(!Value::number(1.0).equals(Value::bool(true), &mu));
        assert!(Value::nil().equals(Value::nil(), &mu) && !Value::nil().equals(Value::bool(false), &mu));
        assert!(Value::bool(true).equals(Value::bool(true), &mu) && !Value::bool(true).equals(Value::bool(false), &mu));
        assert!(Value::obj(a).equals(Value::obj(b), &mu), "strings by content");
        assert!(!Value::obj(a).equals(Value::obj(c), &mu));
        assert!(Value::nil().is_falsey() && Value::bool(false).is_falsey());
        assert!(!Value::bool(true).is_falsey() && !Value::number(0.0).is_falsey() && !Value::obj(a).is_falsey());
        assert!(Value::nil().is_nil() && !Value::bool(false).is_nil());
    }
}
