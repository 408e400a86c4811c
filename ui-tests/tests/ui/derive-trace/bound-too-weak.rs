// A `bound` too weak for the fields does not compile: every traced field must still be
// `Trace` under the predicates given.
use gc_runtime::Trace;

#[derive(Trace)]
#[trace(bound = "")]
struct S<T> {
    x: T,
}

fn main() {}
