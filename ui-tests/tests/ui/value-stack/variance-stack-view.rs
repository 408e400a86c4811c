// A view is invariant in the mutator borrow `'m`: were it covariant, a view of a long-lived
// mutator borrow could be shortened, given a value that dies sooner, and lengthened back.
use gc_runtime::{Gc, StackView};

fn shorten<'s, 'a, 'b: 'a>(view: StackView<'s, 'b, Gc<'static, u64>>) -> StackView<'s, 'a, Gc<'static, u64>> {
    view
}

fn main() {}
