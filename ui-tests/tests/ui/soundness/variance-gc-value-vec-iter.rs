// Sub is a subtype of Sup (a function accepting any `&str` can stand in for one accepting only
// `&'static str`). A handle that can be written through `&self` and coerced from `Sub` to
// `Sup` would let a `Sup` object be stored where the owner's type says `Sub` and read back as a
// `Sub` (a use-after-free in safe code). It must be invariant: the widening is rejected.
// Handle under test: GcValueVecIter (holds the vector).
use gc_runtime::{GcValueVecIter, Member};

type Sub = &'static for<'a> fn(&'a str);
type Sup = &'static fn(&'static str);

fn widen<'a, 'm>(it: GcValueVecIter<'a, 'm, Member<Sub>>) -> GcValueVecIter<'a, 'm, Member<Sup>> {
    it
}

fn main() {}
