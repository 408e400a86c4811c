// A generic #[gc] struct: type, lifetime-free, const parameters and a where clause.
#![deny(warnings)]

use std::fmt::Debug;

use gc_runtime::{gc, Gc, Trace};

#[gc]
struct Cell<T, const N: usize>
where
    T: Debug,
{
    values: [T; N],
    next: Option<Gc<Cell<T, N>>>,
}

#[gc]
impl<T: Debug + Trace + Send + Sync + 'static, const N: usize> Cell<T, N> {
    fn push_front(&self, next: Gc<'_, Cell<T, N>>) {
        self.next = Some(next);
    }
}

fn main() {
    let mu = gc_runtime::attach();
    let a = Cell::new(&mu, [1_u8, 2, 3], None);
    let b = Cell::new(&mu, [4_u8, 5, 6], None);
    a.push_front(b);
    let next = a.next(&mu).expect("set by the rewritten assignment");
    assert_eq!(next.values, [4, 5, 6]);
    assert_eq!(format!("{:?}", a.values), "[1, 2, 3]");
}
