// A static is shared by every thread, and a local is neither `Send` nor `Sync`; nor can it
// outlive its mutator borrow.
use std::sync::Mutex;

use gc_runtime::Gc;

static LAST: Mutex<Option<Gc<'static, u64>>> = Mutex::new(None);

fn main() {
    let mu = gc_runtime::attach();
    *LAST.lock().unwrap() = Some(mu.alloc(1));
}
