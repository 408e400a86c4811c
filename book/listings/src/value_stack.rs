//! Value stacks: an interpreter's operand stack kept across safepoints without a barrier.

// ANCHOR: all
use gc_runtime::{Gc, StackTracer, StackValue, ValueStack};

/// An interpreter's value, as running code holds it.
#[derive(Clone, Copy)]
pub enum Value<'m> {
    /// Nothing.
    Nil,
    /// A number.
    Number(f64),
    /// A string in the GC heap.
    Str(Gc<'m, str>),
}

/// Names `Value<'m>` for every `'m`: the stack's element type.
pub enum Values {}

// SAFETY: `trace` reports the one GC pointer a `Value` can hold.
unsafe impl StackValue for Values {
    type At<'m> = Value<'m>;
    fn trace(value: &Value<'_>, tracer: &mut StackTracer<'_>) {
        if let Value::Str(s) = value {
            tracer.gc(*s);
        }
    }
}

/// Pushes three values, passes a safepoint and a full collection, and returns the string the
/// stack kept alive.
pub fn value_stack() -> String {
    let mut mu = gc_runtime::attach();
    let mut stack = ValueStack::<Values>::with_capacity(&mu, 256);
    {
        let mut s = stack.open(&mu); // a view: plain pushes, pops and indexing
        s.push(Value::Nil);
        s.push(Value::Number(1.0));
        s.push(Value::Str(mu.alloc_str("kept across safepoints")));
    }
    mu.safepoint(); // no view is open here: the thread may scan its stacks
    mu.collect();
    let s = stack.open(&mu);
    match s[2] {
        Value::Str(text) => text.to_string(),
        Value::Nil | Value::Number(_) => unreachable!("a string was pushed third"),
    }
}
// ANCHOR_END: all

#[cfg(test)]
mod tests {
    #[test]
    fn the_stack_keeps_its_string_across_a_collection() {
        assert_eq!(super::value_stack(), "kept across safepoints");
    }
}
