// `constructor = "name"` renames the constructor, `no_constructor` leaves it out.
#![deny(warnings)]

use gc_runtime::{gc, Gc, Member};

#[gc(constructor = "with_value")]
struct Named {
    value: u64,
    next: Option<Gc<Named>>,
}

#[gc(no_constructor)]
struct Manual {
    value: u64,
    next: Option<Gc<Manual>>,
}

impl Manual {
    fn new<'m>(mu: &'m gc_runtime::Mutator, value: u64) -> Gc<'m, Manual> {
        mu.alloc(Manual { value, next: Member::new() })
    }
}

fn main() {
    let mu = gc_runtime::attach();
    let named = Named::with_value(&mu, 1, None);
    named.set_next(Some(named));
    assert_eq!(named.next(&mu).expect("set").value, 1);

    let manual = Manual::new(&mu, 2);
    assert!(manual.next(&mu).is_none());
    manual.set_next(Some(manual));
    assert_eq!(manual.next(&mu).expect("set").value, 2);
}
