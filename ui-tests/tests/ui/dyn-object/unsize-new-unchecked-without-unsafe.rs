// A hand-written coercion could return any metadata (another type's vtable): only the macro's
// `|p| p` is safe, so the constructor that takes a function is `unsafe`.
use gc_runtime::Unsize;

trait Shape {}

struct Square;
impl Shape for Square {}

fn main() {
    let coerce: fn(*const Square) -> *const dyn Shape = |p| p;
    let _ = Unsize::new_unchecked(coerce);
}
