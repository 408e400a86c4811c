// An `Arc` of plain data (strings, byte slices, vectors of numbers) is a field like any other
// in a GC object: shared with code outside the heap, never traced.
use std::sync::Arc;

use gc_runtime::{Member, Trace};

#[derive(Trace)]
struct Symbol {
    name: Arc<str>,
    bytes: Arc<[u8]>,
    next: Member<Symbol>,
}

fn main() {
    let mut mu = gc_runtime::attach();
    let name: Arc<str> = Arc::from("lambda");
    let first = mu.alloc(Symbol { name: name.clone(), bytes: Arc::from(&b"\x01\x02"[..]), next: Member::new() });
    let second = mu.alloc(Symbol { name: Arc::from("mu"), bytes: Arc::from(&[][..]), next: Member::new() });
    first.next.set(Some(second));
    let root = first.root(&mu);
    mu.collect();
    let first = root.get(&mu);
    assert_eq!(&*first.name, "lambda");
    assert_eq!(Arc::strong_count(&name), 2, "the object's clone and ours");
    assert_eq!(&*first.bytes, &[1, 2]);
    assert_eq!(&*first.next.get(&mu).unwrap().name, "mu");
}
