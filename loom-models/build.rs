//! Compiles this crate — and the gc-runtime source files it includes — with `cfg(gc_loom)`, so
//! that `gc-runtime/src/primitive.rs` hands them loom's types instead of std's.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(gc_loom)");
    println!("cargo::rustc-cfg=gc_loom");
}
