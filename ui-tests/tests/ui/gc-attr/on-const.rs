// #[gc] has nothing to do on a constant.
use gc_runtime::gc;

#[gc]
const LIMIT: usize = 64;

fn main() {}
