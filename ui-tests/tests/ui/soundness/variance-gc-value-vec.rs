// Sub is a subtype of Sup: a function accepting any `&str` can stand in for one accepting only
// `&'static str`. A handle writable through `&self` that coerced from `Sub` to `Sup` would let
// a `Sup` object be stored where the object's own type says `Sub`, and read back as a `Sub`
// (a use-after-free). Every such handle is invariant, so the widening coercion is rejected.
// Handle under test: GcValueVec (its values' type).
use gc_runtime::{GcValueVec, Member};

type Sub = &'static for<'a> fn(&'a str);
type Sup = &'static fn(&'static str);

fn widen<'r>(v: &'r GcValueVec<Member<Sub>>) -> &'r GcValueVec<Member<Sup>> {
    v
}

fn main() {}
