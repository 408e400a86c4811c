// A `TaggedWord` may hold a local, so another thread cannot read it through a shared reference
// either (it is not `Sync`, as `Gc` is not); the error names what to use instead (a `Root`).
use gc_runtime::TaggedWord;

fn main() {
    let mu = gc_runtime::attach();
    let word = TaggedWord::ptr(mu.alloc(1_u32));
    let shared = &word;
    std::thread::scope(|s| {
        s.spawn(|| shared.as_gc().map(|g| *g));
    });
}
