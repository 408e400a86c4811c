//! Locals (`Gc<'m, T>`) are covariant in `T`: a local cannot be written through, so widening
//! one only forgets something true about its object. Storing the widened local into a slot of
//! the wider type is sound: the object is a valid value of the wider type.
#![deny(warnings)]

use gc_runtime::{Gc, Member, Trace};

type Sub = &'static for<'a> fn(&'a str);
type Sup = &'static fn(&'static str);

#[derive(Trace)]
struct Holder {
    slot: Member<Sup>,
}

fn accepts_any(s: &str) {
    assert!(!s.is_empty());
}

static ANY: for<'a> fn(&'a str) = accepts_any;

fn main() {
    let mu = gc_runtime::attach();
    let general: Gc<'_, Sub> = mu.alloc(&ANY);
    let widened: Gc<'_, Sup> = general;
    let holder = mu.alloc(Holder { slot: Member::new() });
    holder.slot.set(Some(widened));
    let back = holder.slot.get(&mu).unwrap();
    (**back)("a 'static str");
    assert!(Gc::ptr_eq(back, widened));
}
