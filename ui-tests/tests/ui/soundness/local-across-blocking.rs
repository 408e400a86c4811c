// While a thread is detached in `blocking`, the collector does not wait for it; a local made
// before cannot be used after.
fn main() {
    let mut mu = gc_runtime::attach();
    let value = mu.alloc(7_u32);
    mu.blocking(|| std::thread::sleep(std::time::Duration::from_millis(1)));
    assert_eq!(*value, 7);
}
