// Sub is a subtype of Sup (a function accepting any `&str` can stand in for one accepting only
// `&'static str`). A handle that can be written through `&self` and coerced from `Sub` to
// `Sup` would let a `Sup` object be stored where the owner's type says `Sub` and read back as a
// `Sub` (a use-after-free in safe code). It must be invariant: the widening is rejected.
// Handle under test: a generic #[gc] struct whose `Option<Gc<T>>` field becomes a slot.
use gc_runtime::{gc, Gc};

#[gc]
struct Holder<T: Send + Sync + gc_runtime::Trace + 'static> {
    slot: Option<Gc<T>>,
    first: Gc<T>,
}

type Sub = &'static for<'a> fn(&'a str);
type Sup = &'static fn(&'static str);

fn widen<'r>(holder: &'r Holder<Sub>) -> &'r Holder<Sup> {
    holder
}

fn main() {}
