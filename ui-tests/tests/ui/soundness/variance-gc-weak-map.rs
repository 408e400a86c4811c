// Sub is a subtype of Sup: a function accepting any `&str` can stand in for one accepting only
// `&'static str`. A handle writable through `&self` that coerced from `Sub` to `Sup` would let
// a `Sup` object be stored where the object's own type says `Sub`, and read back as a `Sub`
// (a use-after-free). Every such handle is invariant, so the widening coercion is rejected.
use gc_runtime::GcWeakMap;

type Sub = &'static for<'a> fn(&'a str);
type Sup = &'static fn(&'static str);

fn widen_values<'r>(m: &'r GcWeakMap<u32, Sub>) -> &'r GcWeakMap<u32, Sup> {
    m
}

fn widen_keys<'r>(m: &'r GcWeakMap<Sub, u32>) -> &'r GcWeakMap<Sup, u32> {
    m
}

fn main() {}
