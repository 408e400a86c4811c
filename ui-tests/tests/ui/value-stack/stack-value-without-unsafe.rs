// `StackValue` is an `unsafe` trait: its `trace` promises to report every GC pointer in a
// value, and the collector frees whatever it leaves out. Write `unsafe impl`, and check the
// promise.
use gc_runtime::{Gc, StackTracer, StackValue};

#[derive(Clone, Copy)]
enum Value<'m> {
    Nil,
    Str(Gc<'m, str>),
}

enum Values {}

impl StackValue for Values {
    type At<'m> = Value<'m>;
    fn trace(_value: &Value<'_>, _tracer: &mut StackTracer<'_>) {}
}

fn main() {
    let _ = (Value::Nil, Value::Str);
}
