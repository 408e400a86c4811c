// The `&T` from `Gc::into_ref` borrows the mutator like the local itself.
fn main() {
    let mut mu = gc_runtime::attach();
    let text: &String = mu.alloc(String::from("kept?")).into_ref();
    mu.safepoint();
    println!("{text}");
}
