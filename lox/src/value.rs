//! Lox values: [`Value<'m>`] in running code, [`Slot`] in the heap.
//!
//! # Two representations
//!
//! Running code (the VM between two safepoints, the compiler) holds values as [`Value<'m>`]:
//! a small `Copy` enum whose object case is a local, `Gc<'m, Obj>`, borrowed from the
//! thread's mutator. Locals cannot cross a safepoint, so whatever must survive one — the VM
//! stack, globals, constants, fields, upvalues — is stored in the heap as a [`Slot`]: a tag,
//! the number's bits, and a GC pointer field written through the write barrier.
//!
//! | Lox value | `Value<'m>` | `Slot` |
//! |---|---|---|
//! | `nil`, `true`, `false` | `Nil`, `Bool(_)` | tag only, pointer field empty |
//! | a number | `Number(f64)` | tag + bits, pointer field empty |
//! | an object | `Obj(Gc<'m, Obj>)` | tag + pointer field |
//! | (an undefined global) | — | tag `UNDEFINED` |
//!
//! Storing a non-object clears the pointer field, so a slot never keeps a dead object alive.

use std::{
    fmt,
    sync::atomic::{AtomicU64, AtomicU8, Ordering},
};

use gc_runtime::{gc, Gc, Mutator};

use crate::object::Obj;

/// A Lox value held by running code; valid until the mutator's next safepoint.
#[derive(Clone, Copy)]
pub enum Value<'m> {
    /// `nil`.
    Nil,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A heap object.
    Obj(Gc<'m, Obj>),
}

impl<'m> Value<'m> {
    /// Lox truthiness: `nil` and `false` are false, everything else is true.
    #[inline]
    pub fn is_falsey(self) -> bool {
        matches!(self, Value::Nil | Value::Bool(false))
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
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a == b,
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
            Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(&format_number(n)),
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

const UNDEFINED: u8 = 0;
const NIL: u8 = 1;
const FALSE: u8 = 2;
const TRUE: u8 = 3;
const NUMBER: u8 = 4;
const OBJECT: u8 = 5;

/// A Lox value stored in a heap object: a tag, a number's bits, and a GC pointer field.
///
/// A slot works only inside an allocated object (its pointer field is armed by allocation);
/// a new slot holds the *undefined* marker, which only globals ever read.
#[gc(no_constructor)]
pub struct Slot {
    tag: AtomicU8,
    bits: AtomicU64,
    obj: Option<Gc<Obj>>,
}

impl Default for Slot {
    fn default() -> Self {
        Slot::new()
    }
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slot").field("tag", &self.tag.load(Ordering::Relaxed)).finish_non_exhaustive()
    }
}

// Relaxed orderings: tag and bits are only used by the thread that runs the program (one
// mutator per VM); the collector reads only the pointer field, which the barrier publishes.
#[gc]
impl Slot {
    /// An undefined slot, to put in a new object.
    pub fn new() -> Slot {
        Slot { tag: AtomicU8::new(UNDEFINED), bits: AtomicU64::new(0), obj: gc_runtime::Member::new() }
    }

    /// The value, or `None` if the slot was never set.
    #[inline]
    pub fn get<'m>(&self, mu: &'m Mutator) -> Option<Value<'m>> {
        Some(match self.tag.load(Ordering::Relaxed) {
            NIL => Value::Nil,
            FALSE => Value::Bool(false),
            TRUE => Value::Bool(true),
            NUMBER => Value::Number(f64::from_bits(self.bits.load(Ordering::Relaxed))),
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
        self.tag.load(Ordering::Relaxed) != UNDEFINED
    }

    /// Store `value` (the pointer field through the write barrier).
    #[inline]
    pub fn set(&self, value: Value<'_>) {
        let tag = match value {
            Value::Nil => NIL,
            Value::Bool(false) => FALSE,
            Value::Bool(true) => TRUE,
            Value::Number(n) => {
                self.bits.store(n.to_bits(), Ordering::Relaxed);
                NUMBER
            }
            Value::Obj(o) => {
                self.obj = Some(o);
                self.tag.store(OBJECT, Ordering::Relaxed);
                return;
            }
        };
        // A load and a store, not a swap: only this thread writes the tag, and a swap is a
        // locked instruction, paid on every store of a number.
        let old = self.tag.load(Ordering::Relaxed);
        self.tag.store(tag, Ordering::Relaxed);
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
        slot.set(Value::Number(2.5));
        assert!(matches!(slot.get(&mu), Some(Value::Number(n)) if n == 2.5));
        slot.set(Value::Bool(true));
        assert!(matches!(slot.get(&mu), Some(Value::Bool(true))));
        slot.set(Value::Nil);
        assert!(matches!(slot.get(&mu), Some(Value::Nil)));
    }
}
