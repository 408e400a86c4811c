// A field of a std type whose `NEEDS_TRACE` the derive reads must still implement `Trace`:
// tuples implement it up to eight elements, so this one does not. The error is reported once,
// on the field's type, although both `NEEDS_TRACE` and `trace` name it.
use gc_runtime::Trace;

#[derive(Trace)]
struct Wide {
    len: u32,
    cells: Vec<(u8, u8, u8, u8, u8, u8, u8, u8, u8)>,
}

fn main() {}
