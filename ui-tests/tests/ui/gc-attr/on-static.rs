// A static holds no code to rewrite and cannot hold a GC pointer.
use gc_runtime::gc;

#[gc]
static COUNT: u64 = 0;

fn main() {}
