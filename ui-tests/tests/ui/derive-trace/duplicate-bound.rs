// `bound` may be given once per type; its string holds all the predicates.
use gc_runtime::Trace;

#[derive(Trace)]
#[trace(bound = "T: Trace")]
#[trace(bound = "U: Trace")]
struct Pair<T, U> {
    a: T,
    b: U,
}

fn main() {}
