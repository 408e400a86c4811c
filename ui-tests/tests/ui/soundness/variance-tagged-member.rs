// Sub is a subtype of Sup: a function accepting any `&str` can stand in for one accepting only
// `&'static str`. A handle writable through `&self` that coerced from `Sub` to `Sup` would let
// a `Sup` object be stored where the object's own type says `Sub`, and read back as a `Sub`
// (a use-after-free). Every such handle is invariant, so the widening coercion is rejected.
use gc_runtime::{TaggedMember, Trace};

type Sub = &'static for<'a> fn(&'a str);
type Sup = &'static fn(&'static str);

#[derive(Trace)]
struct Holder {
    slot: TaggedMember<Sub>,
}

fn widen<'r>(slot: &'r TaggedMember<Sub>) -> &'r TaggedMember<Sup> {
    slot
}

fn main() {
    let mu = gc_runtime::attach();
    let holder = mu.alloc(Holder { slot: TaggedMember::new() });
    let _widened = widen(&holder.slot);
}
