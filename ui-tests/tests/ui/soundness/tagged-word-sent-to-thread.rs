// A `TaggedWord` may hold a local, so it stays on its mutator's thread as a `Gc` does; the
// error names what to use instead (a `Root`).
use gc_runtime::TaggedWord;

fn main() {
    let mu = gc_runtime::attach();
    let word = TaggedWord::ptr(mu.alloc(1_u32));
    std::thread::spawn(move || {
        let _ = word.as_gc();
    })
    .join()
    .unwrap();
}
