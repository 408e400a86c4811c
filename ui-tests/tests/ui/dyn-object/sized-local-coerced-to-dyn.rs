// A plain object has no view, so a `Gc<Square>` cannot become a `Gc<dyn Shape>` (and a GC
// pointer does not coerce like `Box`): allocate the value with `alloc_dyn` to use it as one.
use gc_runtime::{dyn_object, Gc, Trace};

trait Shape {
    fn area(&self) -> f64;
}
dyn_object!(dyn Shape);

#[derive(Trace)]
struct Square(f64);

impl Shape for Square {
    fn area(&self) -> f64 {
        self.0 * self.0
    }
}

fn main() {
    let mu = gc_runtime::attach();
    let square: Gc<Square> = mu.alloc(Square(2.0));
    let _shape: Gc<dyn Shape> = square;
}
