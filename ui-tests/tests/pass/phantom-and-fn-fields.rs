// `PhantomData` and function-pointer fields need no `#[trace(skip)]`: they hold no GC pointer.
use std::marker::PhantomData;

use gc_runtime::{Member, Trace};

#[derive(Trace)]
struct Handler<T: 'static> {
    on_event: fn(u32) -> u32,
    payload: PhantomData<T>,
    next: Member<Handler<T>>,
}

fn triple(x: u32) -> u32 {
    x * 3
}

fn main() {
    let mut mu = gc_runtime::attach();
    let first = mu.alloc(Handler::<String> { on_event: triple, payload: PhantomData, next: Member::new() });
    let second = mu.alloc(Handler::<String> { on_event: |x| x + 1, payload: PhantomData, next: Member::new() });
    first.next.set(Some(second));
    let root = first.root(&mu);
    mu.collect();
    let first = root.get(&mu);
    let second = first.next.get(&mu).expect("kept by the root");
    assert_eq!((first.on_event)((second.on_event)(1)), 6);
}
