// A #[gc] module: several structs, nested modules, impls, free functions, a trait's provided
// method and an item nested in a function body, all rewritten with every slot name in it; and
// an impl of a #[gc] struct declared outside it.
#![deny(warnings)]

use gc_runtime::{gc, Gc};

// A #[gc] struct outside the module; an impl of it inside the module asks its registry.
#[gc]
struct Outer {
    inner: Option<Gc<graph::Vertex>>,
}

#[gc]
mod graph {
    use gc_runtime::{Gc, Mutator};

    #[gc]
    pub struct Vertex {
        pub id: u32,
        pub first_edge: Option<Gc<Edge>>,
    }

    #[gc]
    pub struct Edge {
        pub to: Gc<Vertex>,
        pub next_edge: Option<Gc<Edge>>,
    }

    pub mod labels {
        use gc_runtime::Gc;

        #[gc]
        pub struct Label {
            pub text: String,
            pub on: Option<Gc<super::Vertex>>,
        }

        pub fn label(label: Gc<'_, Label>, vertex: Gc<'_, super::Vertex>) {
            label.on = Some(vertex);
        }
    }

    // Redundant inside the module, and accepted.
    #[gc]
    impl Vertex {
        pub fn connect(&self, mu: &Mutator, to: Gc<'_, Vertex>) {
            let edge = Edge::new(mu, to, self.first_edge(mu));
            self.first_edge = Some(edge);
        }
    }

    pub trait Reset {
        fn vertex(&self) -> Gc<'_, Vertex>;
        fn reset(&self) {
            self.vertex().first_edge = None;
        }
    }

    // `Outer` is not declared in this module: this #[gc] is kept and asks `Outer`'s registry
    // too (and `Vertex`'s slots come from the module).
    #[gc]
    impl super::Outer {
        pub fn adopt(&self, vertex: Gc<'_, Vertex>) {
            self.inner = Some(vertex);
            vertex.first_edge = None;
        }
    }

    pub fn degree(mu: &Mutator, vertex: Gc<'_, Vertex>) -> usize {
        let mut count = 0;
        let mut edge = vertex.first_edge(mu);
        while let Some(e) = edge {
            count += 1;
            edge = e.next_edge(mu);
        }
        count
    }

    pub fn detach_all(vertices: &[Gc<'_, Vertex>]) {
        fn detach(vertex: Gc<'_, Vertex>) {
            vertex.first_edge = None;
        }
        vertices.iter().copied().for_each(detach);
    }
}

struct Holder<'m>(Gc<'m, graph::Vertex>);

impl graph::Reset for Holder<'_> {
    fn vertex(&self) -> Gc<'_, graph::Vertex> {
        self.0
    }
}

fn main() {
    use graph::Reset;

    let mu = gc_runtime::attach();
    let a = graph::Vertex::new(&mu, 1, None);
    let b = graph::Vertex::new(&mu, 2, None);
    let c = graph::Vertex::new(&mu, 3, None);
    a.connect(&mu, b);
    a.connect(&mu, c);
    assert_eq!(graph::degree(&mu, a), 2);
    assert_eq!(a.first_edge(&mu).expect("connected").to(&mu).id, 3);

    let label = graph::labels::Label::new(&mu, "start".into(), None);
    graph::labels::label(label, a);
    assert_eq!(label.on(&mu).expect("labelled").id, 1);

    Holder(a).reset();
    assert_eq!(graph::degree(&mu, a), 0);
    b.connect(&mu, c);
    graph::detach_all(&[b]);
    assert_eq!(graph::degree(&mu, b), 0);

    let outer = Outer::new(&mu, None);
    c.connect(&mu, a);
    outer.adopt(c);
    assert_eq!(outer.inner(&mu).expect("adopted").id, 3);
    assert_eq!(graph::degree(&mu, c), 0);
}
