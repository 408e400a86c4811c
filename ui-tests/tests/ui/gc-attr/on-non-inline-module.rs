// #[gc] on `mod m;` cannot see the module's items; write the body inline, or put #[gc] on the
// items in the module's file.
use gc_runtime::gc;

#[gc]
mod nodes;

fn main() {}
