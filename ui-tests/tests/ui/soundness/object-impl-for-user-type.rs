// `Object` is sealed: the collector lays out every type a pointer can point to itself (sized
// types, slices and `str`), and reads the value back from the header by that layout. A type of
// your own needs no impl: every sized type already is an `Object`.
struct Own;

unsafe impl gc_runtime::Object for Own {}

fn main() {}
