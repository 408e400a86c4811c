// #[gc] on an import does nothing useful, so it is rejected.
use gc_runtime::gc;

#[gc]
use std::collections::HashMap;

fn main() {
    let _ = HashMap::<u8, u8>::new();
}
