// A slice object cannot hold locals: a `Gc` is not `Trace` (it would be a pointer the collector
// does not know about, dangling after the next safepoint). Allocate an array of `Member`s and
// set each slot through the barrier instead.
fn main() {
    let mu = gc_runtime::attach();
    let a = mu.alloc(1_u32);
    let _pair = mu.alloc_slice(vec![a, a]);
}
