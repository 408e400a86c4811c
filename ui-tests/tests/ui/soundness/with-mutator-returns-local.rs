// `with_mutator` detaches the thread when its closure returns: a local (or a reference borrowed
// from one) must not escape the closure, or it would outlive its mutator.
fn main() {
    let text: &String = gc_runtime::with_mutator(|mu| mu.alloc(String::from("escaped")).into_ref());
    println!("{text}");
}
