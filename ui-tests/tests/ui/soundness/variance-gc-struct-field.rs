// Sub is a subtype of Sup: a function accepting any `&str` can stand in for one accepting only
// `&'static str`. A handle writable through `&self` that coerced from `Sub` to `Sup` would let
// a `Sup` object be stored where the object's own type says `Sub`, and read back as a `Sub`
// (a use-after-free). Every such handle is invariant, so the widening coercion is rejected.
// A `#[gc]` struct's `Gc<T>` field becomes a slot: the struct is invariant in `T` too.
use gc_runtime::{gc, Gc};

type Sub = &'static for<'a> fn(&'a str);
type Sup = &'static fn(&'static str);

#[gc]
struct Holder<T: 'static> {
    slot: Gc<T>,
}

fn widen<'r>(holder: &'r Holder<Sub>) -> &'r Holder<Sup> {
    holder
}

fn main() {}
