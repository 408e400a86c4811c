// Sub is a subtype of Sup (a function accepting any `&str` can stand in for one accepting only
// `&'static str`). A handle that can be written through `&self` and coerced from `Sub` to
// `Sup` would let a `Sup` object be stored where the owner's type says `Sub` and read back as a
// `Sub` (a use-after-free in safe code). It must be invariant: the widening is rejected.
// Handle under test: GcVecIter (holds the vector).
use gc_runtime::GcVecIter;

type Sub = &'static for<'a> fn(&'a str);
type Sup = &'static fn(&'static str);

fn widen<'a, 'm>(it: GcVecIter<'a, 'm, Sub>) -> GcVecIter<'a, 'm, Sup> {
    it
}

fn main() {}
