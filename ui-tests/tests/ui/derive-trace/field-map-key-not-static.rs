// A std type whose impl needs more than the `Trace` bound the derive puts on each parameter
// (`HashMap<K, V>` needs `K: 'static`) is an error on the field's type, reported once.
use std::collections::HashMap;

use gc_runtime::Trace;

#[derive(Trace)]
struct Index<K> {
    by_key: HashMap<K, u32>,
}

fn main() {}
