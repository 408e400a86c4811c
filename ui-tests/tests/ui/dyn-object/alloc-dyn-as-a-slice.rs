// An array does unsize to a slice, but a slice object has its own layout (header, length,
// elements), not a view: `alloc_dyn` makes trait objects only. Use `alloc_slice`.
use gc_runtime::unsize;

fn main() {
    let mu = gc_runtime::attach();
    let _ = mu.alloc_dyn([1_u8, 2, 3], unsize!([u8; 3] => [u8]));
}
