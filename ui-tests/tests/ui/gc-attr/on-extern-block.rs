// Foreign functions have no body to rewrite.
use gc_runtime::gc;

#[gc]
extern "C" {
    fn abs(x: i32) -> i32;
}

fn main() {}
