// A trait-object type must be declared once with `dyn_object!` before objects can be made of
// it: the message says so.
use gc_runtime::{unsize, Trace};

trait Shape {
    fn area(&self) -> f64;
}

#[derive(Trace)]
struct Square(f64);

impl Shape for Square {
    fn area(&self) -> f64 {
        self.0 * self.0
    }
}

fn main() {
    let mu = gc_runtime::attach();
    let _ = mu.alloc_dyn(Square(2.0), unsize!(Square => dyn Shape));
}
