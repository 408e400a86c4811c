// `unsize!(T => dyn Trait)` compiles only if `T` implements the trait: the coercion is the
// compiler's own, so a view can never carry another type's vtable.
use gc_runtime::{dyn_object, unsize, Trace};

trait Shape {
    fn area(&self) -> f64;
}
dyn_object!(dyn Shape);

#[derive(Trace)]
struct Label(String);

fn main() {
    let mu = gc_runtime::attach();
    let _ = mu.alloc_dyn(Label("not a shape".into()), unsize!(Label => dyn Shape));
}
