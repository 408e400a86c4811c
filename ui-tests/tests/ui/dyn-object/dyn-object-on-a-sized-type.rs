// `dyn_object!` declares trait-object types only: a sized type already has its `Object` impl
// (its value right after the header), and a second one would read a view it does not have.
use gc_runtime::{dyn_object, Trace};

#[derive(Trace)]
struct Square(f64);

dyn_object!(Square);

fn main() {}
