// A value read from a `GcValueVec` is in its local form: its GC pointers are locals, which
// cannot be kept across a safepoint, where the collector may free what they point to (another
// thread may remove the value meanwhile). Read it again after the safepoint, or keep the
// object in a `Root`.
use gc_runtime::{GcValueVec, Member};

fn main() {
    let mut mu = gc_runtime::attach();
    let v = mu.alloc(GcValueVec::<Member<String>>::new()).root(&mu);
    v.get(&mu).push(Some(mu.alloc(String::from("x"))));
    let first = v.get(&mu).get(0, &mu).unwrap();
    mu.safepoint();
    assert_eq!(first.as_deref().map(String::as_str), Some("x"));
}
