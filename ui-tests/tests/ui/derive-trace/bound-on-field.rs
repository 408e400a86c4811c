// `bound` belongs on the type, not on a field.
use std::marker::PhantomData;

use gc_runtime::Trace;

#[derive(Trace)]
struct Tagged<T> {
    id: u32,
    #[trace(bound = "")]
    marker: PhantomData<T>,
}

fn main() {}
