// `bound` belongs on the enum, not on a variant.
use std::marker::PhantomData;

use gc_runtime::Trace;

#[derive(Trace)]
enum Tagged<T> {
    #[trace(bound = "")]
    Empty(PhantomData<T>),
    Id(u32),
}

fn main() {}
