// A unit struct has no fields to turn into slots.
use gc_runtime::gc;

#[gc]
struct Marker;

fn main() {}
