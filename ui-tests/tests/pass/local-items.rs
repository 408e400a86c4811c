// A #[gc] struct and #[gc] code declared inside a function body.
#![deny(warnings)]

use gc_runtime::{gc, Gc};

fn main() {
    #[gc]
    struct Local {
        value: u64,
        next: Option<Gc<Local>>,
    }

    #[gc]
    impl Local {
        fn point_at(&self, other: Gc<'_, Local>) {
            self.next = Some(other);
        }
    }

    #[gc(Local)]
    fn clear(node: Gc<'_, Local>) {
        node.next = None;
    }

    let mu = gc_runtime::attach();
    let a = Local::new(&mu, 1, None);
    let b = Local::new(&mu, 2, None);
    a.point_at(b);
    assert_eq!(a.next(&mu).expect("set").value, 2);
    clear(a);
    assert!(a.next(&mu).is_none());
}
