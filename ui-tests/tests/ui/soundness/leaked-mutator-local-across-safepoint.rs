// Leaking the mutator (`Box::leak`) gives a `&'static mut Mutator`; a local borrowed from it
// still borrows it, so the mutator cannot pass a safepoint while the local is in use.
fn main() {
    let mu: &'static mut gc_runtime::Mutator = Box::leak(Box::new(gc_runtime::attach()));
    let value = mu.alloc(3_u8);
    mu.safepoint();
    assert_eq!(*value, 3);
}
