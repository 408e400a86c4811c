// The generated constructor and setters have mixed-site parameters and locals (`mu`,
// `value`, `__gc_object`), which constants of those names in scope still capture. Rejected,
// with errors at the attribute about generated code.
#![allow(non_upper_case_globals)]
use gc_runtime::{gc, Gc};

const mu: u32 = 0;
const value: u32 = 0;

#[gc]
struct Node {
    next: Option<Gc<Node>>,
}

fn main() {}
