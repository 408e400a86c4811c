// Likewise for the per-field bindings: a unit struct named `__binding_0` in scope is taken for
// a pattern in the generated `match`. Rejected, with errors about generated code only.
#![allow(non_camel_case_types)]
use gc_runtime::{Member, Trace};

struct __binding_0;

#[derive(Trace)]
struct Node {
    next: Member<Node>,
}

fn main() {}
