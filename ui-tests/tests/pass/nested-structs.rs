// #[gc] structs pointing at each other, and a plain struct nested in one.
#![deny(warnings)]

use gc_runtime::{gc, Gc, Trace};

#[derive(Trace, Debug, PartialEq)]
struct Position {
    line: u32,
    column: u32,
}

#[gc]
struct Leaf {
    at: Position,
    text: String,
}

#[gc]
struct Branch {
    first: Gc<Leaf>,
    second: Option<Gc<Leaf>>,
    parent: Option<Gc<Branch>>,
}

#[gc(Branch)]
fn adopt(parent: Gc<'_, Branch>, child: Gc<'_, Branch>, leaf: Gc<'_, Leaf>) {
    child.parent = Some(parent);
    parent.second = Some(leaf);
}

fn main() {
    let mu = gc_runtime::attach();
    let a = Leaf::new(&mu, Position { line: 1, column: 2 }, "a".into());
    let b = Leaf::new(&mu, Position { line: 3, column: 4 }, "b".into());
    let branch = Branch::new(&mu, a, None, None);
    let child = Branch::new(&mu, b, None, None);
    adopt(branch, child, b);
    assert_eq!(branch.first(&mu).text, "a");
    assert_eq!(branch.second(&mu).expect("adopted").at, Position { line: 3, column: 4 });
    assert!(Gc::ptr_eq(child.parent(&mu).expect("adopted"), branch));
}
