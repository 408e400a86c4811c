// The string of `bound` must parse as comma-separated where-predicates.
use gc_runtime::Trace;

#[derive(Trace)]
#[trace(bound = "T Trace")]
struct Wrapper<T> {
    value: T,
}

fn main() {}
