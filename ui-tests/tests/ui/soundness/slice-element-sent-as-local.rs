// The element reference a slice object hands out lives only as long as the local it came
// from: it cannot be sent to another thread. Make a `Root<[T]>` and read it there.
fn main() {
    let mu = gc_runtime::attach();
    let numbers = mu.alloc_slice(vec![1_u64, 2]);
    std::thread::spawn(move || numbers[0]).join().unwrap();
}
