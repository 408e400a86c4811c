// `#[trace(bound = "...")]` replaces the automatic `T: Trace` bounds, on a derive and on a
// `#[gc]` struct.
#![deny(warnings)]

use std::marker::PhantomData;

use gc_runtime::{gc, Gc, Member, Trace};

/// Not `Trace`: only ever a type argument, never stored.
struct NotTrace;

/// `Trace` for every `T`: no field holds a `T`.
#[derive(Trace)]
#[trace(bound = "")]
struct Tagged<T> {
    id: u32,
    _marker: PhantomData<T>,
}

/// The bound spelled by the user, with the `Trace` in scope here.
#[derive(Trace)]
#[trace(bound = "T: Trace + Clone")]
struct Wrapper<T: Clone> {
    value: T,
    next: Member<Wrapper<T>>,
}

/// A `#[gc]` struct passes the attribute on to the derive it adds.
#[gc]
#[trace(bound = "")]
struct Labelled<T: Send + Sync + 'static> {
    kind: PhantomData<T>,
    next: Option<Gc<Labelled<T>>>,
}

fn main() {
    let mut mu = gc_runtime::attach();
    let tagged = mu.alloc(Tagged::<NotTrace> { id: 7, _marker: PhantomData });
    let first = mu.alloc(Wrapper { value: String::from("a"), next: Member::new() });
    let second = mu.alloc(Wrapper { value: String::from("b"), next: Member::new() });
    first.next.set(Some(second));
    let label = Labelled::<NotTrace>::new(&mu, PhantomData, None);
    label.set_next(Some(Labelled::new(&mu, PhantomData, None)));

    let roots = (tagged.root(&mu), first.root(&mu), label.root(&mu));
    mu.collect();
    assert_eq!(roots.0.get(&mu).id, 7);
    let first = roots.1.get(&mu);
    assert_eq!(first.value.clone() + &first.next.get(&mu).expect("kept by the root").value, "ab");
    assert!(roots.2.get(&mu).next(&mu).is_some());
}
