// `collect` is a safepoint: locals made before it cannot be used after it.
fn main() {
    let mut mu = gc_runtime::attach();
    let value = mu.alloc(String::from("temporary"));
    mu.collect();
    println!("{}", *value);
}
