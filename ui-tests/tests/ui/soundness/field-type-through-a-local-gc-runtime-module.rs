// A field type is read where the user wrote it: here `gc_runtime::Member` is a type of this
// crate's (a local module `gc_runtime`) that derefs to a real slot, and has no `Trace` impl. If
// the derive read the field's type through a `gc_runtime` of its own, it would take the field
// for a real `Member` and trace whatever the `Deref` returns — another slot than the one
// allocation armed, so the armed one's referent could be freed while reachable.
mod gc_runtime {
    pub struct Member<T> {
        pub hidden: ::gc_runtime::Member<T>,
        pub decoy: ::gc_runtime::Member<T>,
    }

    impl<T> std::ops::Deref for Member<T> {
        type Target = ::gc_runtime::Member<T>;
        fn deref(&self) -> &Self::Target {
            &self.decoy
        }
    }
}

#[derive(::gc_runtime::Trace)]
struct Node {
    next: gc_runtime::Member<Node>,
}

fn main() {}
