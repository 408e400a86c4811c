// Field names that could clash with generated names (`mu`, `value`, `__gc_object`), raw
// identifiers, and a `ptr` field (a private field of `Gc` has that name) reached through a
// local.
#![deny(warnings)]

use gc_runtime::{gc, Gc};

#[gc]
struct Odd {
    mu: u32,
    value: u32,
    ptr: u32,
    __gc_object: u32,
    r#type: Option<Gc<Odd>>,
}

#[gc]
impl Odd {
    fn retype(&self, to: Gc<'_, Odd>) {
        self.r#type = Some(to);
    }
}

fn main() {
    let mu = gc_runtime::attach();
    let odd = Odd::new(&mu, 1, 2, 3, 4, None);
    odd.retype(odd);
    assert_eq!(odd.mu + odd.value + odd.ptr + odd.__gc_object, 10);
    assert!(Gc::ptr_eq(odd.r#type(&mu).expect("retyped"), odd));
    odd.set_type(None);
    assert!(odd.r#type(&mu).is_none());
}
