// A reference into the heap borrowed from a local cannot be handed to a scoped thread that runs
// while the owner is detached in `blocking`: the collector could free the object meanwhile.
fn main() {
    let mut mu = gc_runtime::attach();
    let text: &String = mu.alloc(String::from("shared")).into_ref();
    mu.blocking(|| {
        std::thread::scope(|s| {
            s.spawn(|| assert_eq!(text.len(), 6));
        })
    });
}
