// A local obtained by upgrading a weak reference is a local like any other: it cannot be used
// after a safepoint, where the collector may free the object (keep a `Root` instead).
use gc_runtime::Weak;

fn main() {
    let mut mu = gc_runtime::attach();
    let weak: Weak<u64> = mu.alloc(1_u64).downgrade(&mu);
    let value = weak.upgrade(&mu).unwrap();
    mu.safepoint();
    assert_eq!(*value, 1);
}
