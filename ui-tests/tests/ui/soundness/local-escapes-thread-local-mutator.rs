// A mutator kept in a thread-local is reached inside `with`: a local borrowed from it cannot be
// carried out of the closure, where the mutator could pass a safepoint (or be dropped).
use std::cell::RefCell;

use gc_runtime::Mutator;

thread_local! {
    static MU: RefCell<Option<Mutator>> = const { RefCell::new(None) };
}

fn main() {
    MU.with(|m| *m.borrow_mut() = Some(gc_runtime::attach()));
    let value: &u64 = MU.with(|m| m.borrow().as_ref().unwrap().alloc(5_u64).into_ref());
    MU.with(|m| m.borrow_mut().as_mut().unwrap().safepoint());
    assert_eq!(*value, 5);
}
