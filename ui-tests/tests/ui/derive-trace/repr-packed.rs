// The generated `trace` borrows every field, and a field of a `#[repr(packed)]` type may be
// unaligned: the derive rejects the type at `packed`, also inside `repr(C, packed(N))` and
// behind a `cfg_attr`.
use gc_runtime::Trace;

#[derive(Trace)]
#[repr(C, packed(2))]
struct Header {
    tag: u8,
    len: u32,
}

#[derive(Trace)]
#[cfg_attr(all(), repr(packed))]
struct Pair {
    a: u8,
    b: u64,
}

fn main() {}
