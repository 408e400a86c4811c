// The `&T` a local derefs to lives no longer than the mutator borrow, so it cannot be stored
// in a `'static` field of a heap object either.
use gc_runtime::Trace;

#[derive(Trace)]
struct Holder {
    name: &'static String,
}

fn main() {
    let mu = gc_runtime::attach();
    let name = mu.alloc(String::from("node"));
    let _ = mu.alloc(Holder { name: name.into_ref() });
}
