// A string object is a local like any other object: neither the `Gc<str>` nor the `&str` it
// derefs to can be kept across a safepoint, where the collector may free it. Copy the text out
// (`to_string()`), or keep the object in a `Root<str>`.
fn main() {
    let mut mu = gc_runtime::attach();
    let name = mu.alloc_str("kept?");
    let text: &str = &name;
    mu.safepoint();
    assert_eq!(text, "kept?");
}
