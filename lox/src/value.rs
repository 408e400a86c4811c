//! Lox values: [`Value<'m>`] in running code, [`Slot`] in the heap.
//!
//! # Two representations
//!
//! Running code (the VM between two safepoints, the compiler) holds values as [`Value<'m>`]:
//! a small `Copy` enum whose object case is a local, `Gc<'m, Obj>`, borrowed from the
//! thread's mutator. Locals cannot cross a safepoint, so whatever must survive one — globals,
//! constants, fields, closed upvalues — is stored in the heap as a [`Slot`]: the library's
//! [`TaggedMember`], one word that holds a number, a small integer or a GC pointer (written
//! through the write barrier, whatever it holds; the collector follows only pointers). The VM's
//! stack is the exception: it holds `Value`s themselves, in the thread's own value stack
//! ([`Values`]), which the collector has the thread scan instead of barriering its stores.
//!
//! | Lox value | `Value<'m>` | `Slot` |
//! |---|---|---|
//! | `nil`, `false`, `true` | `Nil`, `False`, `True` | `Tagged::Data(0)`, `(1)`, `(2)` |
//! | a number | `Number(_)`: the `f64`'s bits | `Tagged::Number` (every NaN as the canonical one) |
//! | an object | `Obj(Gc<'m, Obj>)` | `Tagged::Ptr` |
//! | (an undefined global) | — | `Tagged::Empty` |

use std::fmt;

use gc_runtime::{Gc, Mutator, StackTracer, StackValue, Tagged, TaggedMember, Trace};

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

/// The [`Tagged::Data`] values of a slot's non-number, non-object values. A slot that was
/// never set is [`Tagged::Empty`]: the *undefined* marker, which only globals ever read.
const NIL: u64 = 0;
const FALSE: u64 = 1;
const TRUE: u64 = 2;

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
        self.value.get(mu).as_gc()
    }

    /// The number, if the slot holds one.
    #[inline(always)]
    pub fn number(&self) -> Option<f64> {
        self.value.number()
    }

    /// The value, or `None` if the slot was never set.
    #[inline]
    pub fn get<'m>(&self, mu: &'m Mutator) -> Option<Value<'m>> {
        Some(match self.value.get(mu) {
            Tagged::Number(n) => Value::number(n),
            Tagged::Ptr(o) => Value::Obj(o),
            Tagged::Data(NIL) => Value::Nil,
            Tagged::Data(FALSE) => Value::False,
            Tagged::Data(TRUE) => Value::True,
            Tagged::Data(_) | Tagged::Empty => return None,
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
        !self.value.is_empty()
    }

    /// Store `value` (through the write barrier).
    #[inline]
    pub fn set(&self, value: Value<'_>) {
        self.value.set(match value {
            Value::Nil => Tagged::Data(NIL),
            Value::False => Tagged::Data(FALSE),
            Value::True => Tagged::Data(TRUE),
            Value::Number(n) => Tagged::Number(n.get()),
            Value::Obj(o) => Tagged::Ptr(o),
        });
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
        // Every NaN is a number: stored as the canonical one.
        for bits in [f64::NAN.to_bits(), (-f64::NAN).to_bits(), 0x7ffc_0000_0000_0004, u64::MAX] {
            slot.set(Value::number(f64::from_bits(bits)));
            assert!(matches!(slot.get(&mu), Some(Value::Number(n)) if n.get().is_nan()), "{bits:#x}");
            assert!(slot.is_defined());
        }
        for n in [0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, f64::MIN_POSITIVE, -1e300] {
            slot.set(Value::number(n));
            assert!(matches!(slot.get(&mu), Some(Value::Number(m)) if m.get().to_bits() == n.to_bits()), "{n}");
        }
        assert_eq!(std::mem::size_of::<Slot>(), 8);
    }
}
