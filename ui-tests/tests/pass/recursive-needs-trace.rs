// Recursive types keep compiling now that `#[derive(Trace)]` reads field types' own
// `NEEDS_TRACE`: a constant that depended on itself would be a const-evaluation cycle
// (E0391). Each constant is used below (a const assertion and an allocation), since rustc
// evaluates an associated constant, and would find a cycle, only when it is used.
//
// Every recursion here goes through a path the derive does not read (the type's own name, an
// alias, another user type), so each of these types is `NEEDS_TRACE = true`: conservative, as
// these hold no GC pointer, but the price of never reading a constant that could lead back.
#![deny(warnings)]

use gc_runtime::{Member, Trace};

/// Recursion through a std container.
#[derive(Trace)]
struct Node {
    value: u32,
    children: Vec<Node>,
}

/// Recursion hidden behind an alias.
type Link = Option<Box<L>>;

#[derive(Trace)]
struct L {
    next: Link,
    value: u32,
}

/// Mutual recursion between two enums.
#[derive(Trace)]
enum Expr {
    Block(Vec<Stmt>),
    Lit(u32),
}

#[derive(Trace)]
enum Stmt {
    E(Box<Expr>),
}

/// Recursion through a type parameter of another derived type.
#[derive(Trace)]
struct Node2<T> {
    v: Vec<T>,
}

#[derive(Trace)]
struct Foo {
    n: Node2<Foo>,
}

/// Recursion through `Self`.
#[derive(Trace)]
struct Tree {
    kids: Vec<Self>,
    label: String,
}

/// A type named like a std type the derive knows, recursing through its own name.
mod shadow {
    use gc_runtime::Trace;

    #[derive(Trace)]
    pub struct String {
        pub parts: Vec<String>,
    }
}

const _: () = {
    assert!(Node::NEEDS_TRACE && L::NEEDS_TRACE && Expr::NEEDS_TRACE && Stmt::NEEDS_TRACE);
    assert!(Foo::NEEDS_TRACE && Tree::NEEDS_TRACE && shadow::String::NEEDS_TRACE);
    // `Node2<T>` reads `T`'s constant: exact for plain data and for slots.
    assert!(!<Node2<u8>>::NEEDS_TRACE && <Node2<Member<u8>>>::NEEDS_TRACE);
};

fn main() {
    let mut mu = gc_runtime::attach();
    let node = mu.alloc(Node { value: 1, children: vec![Node { value: 2, children: Vec::new() }] });
    let list = mu.alloc(L { next: Some(Box::new(L { next: None, value: 4 })), value: 3 });
    let expr = mu.alloc(Expr::Block(vec![Stmt::E(Box::new(Expr::Lit(5)))]));
    let foo = mu.alloc(Foo { n: Node2 { v: vec![Foo { n: Node2 { v: Vec::new() } }] } });
    let tree = mu.alloc(Tree { kids: vec![Tree { kids: Vec::new(), label: "leaf".into() }], label: "root".into() });
    let shadowed = mu.alloc(shadow::String { parts: vec![shadow::String { parts: Vec::new() }] });
    let roots = (node.root(&mu), list.root(&mu), expr.root(&mu), foo.root(&mu), tree.root(&mu), shadowed.root(&mu));
    mu.collect();
    assert_eq!(roots.0.get(&mu).children[0].value, 2);
    assert_eq!(roots.1.get(&mu).next.as_ref().map(|l| l.value), Some(4));
    assert!(matches!(&*roots.2.get(&mu), Expr::Block(stmts) if matches!(&stmts[0], Stmt::E(e) if matches!(**e, Expr::Lit(5)))));
    assert_eq!(roots.3.get(&mu).n.v.len(), 1);
    assert_eq!(roots.4.get(&mu).kids[0].label, "leaf");
    assert_eq!(roots.5.get(&mu).parts.len(), 1);
}
