// The derive's local names are mixed-site, which keeps them apart from the user's variables
// but not from the user's constants: a constant named `tracer` in scope turns the parameter
// of the generated `trace` into a constant pattern. Rejected, but the error points at the
// derive and talks about generated code.
#![allow(non_upper_case_globals)]
use gc_runtime::{Member, Trace};

const tracer: u32 = 3;

#[derive(Trace)]
struct Node {
    next: Member<Node>,
}

fn main() {}
