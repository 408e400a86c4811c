// The predicates of `bound` are written in a string literal.
use gc_runtime::Trace;

#[derive(Trace)]
#[trace(bound = T)]
struct Wrapper<T> {
    value: T,
}

fn main() {}
