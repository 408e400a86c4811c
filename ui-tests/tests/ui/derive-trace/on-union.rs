// A union cannot be traced: the derive cannot know which field is live.
use gc_runtime::Trace;

#[derive(Trace)]
union Slot {
    int: u64,
    float: f64,
}

fn main() {}
