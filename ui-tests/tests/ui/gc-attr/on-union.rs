// A union cannot be traced, so #[gc] rejects it.
use gc_runtime::gc;

#[gc]
union Bits {
    int: u64,
    float: f64,
}

fn main() {}
