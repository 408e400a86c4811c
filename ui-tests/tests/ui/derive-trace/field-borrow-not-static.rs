// A field whose `NEEDS_TRACE` the derive reads (a reference, a std type, ...) must still
// implement `Trace`: a borrow shorter than `'static` does not. The error is reported once, on
// the field's type, although both `NEEDS_TRACE` and `trace` name it.
use gc_runtime::Trace;

#[derive(Trace)]
struct View<'a> {
    len: u32,
    name: &'a str,
}

fn main() {}
