//! How the derive's output names gc-runtime: through a crate it loads itself, not a path the
//! user's code can rebind.
//!
//! # Why
//!
//! The `Trace` impl `#[derive(Trace)]` emits is `unsafe`, and it is sound only if the items it
//! names are gc-runtime's: the `Trace` trait, and the `Drop` guard
//! (`__private::TraceTypesMustNotImplementDrop`, whose blanket impl for every `Drop` type makes
//! a derived type that also implements `Drop` a coherence error). An absolute path
//! `::gc_runtime::...` names whatever the crate's extern prelude calls `gc_runtime`, and safe
//! code can rebind that: `extern crate self as gc_runtime;` at the crate root and a module
//! `__private` with a guard trait of its own (and `pub use` of the real `Trace`) sent the guard
//! impl to the user's trait, where nothing conflicts, and the type got a destructor — which
//! ran on the finalizer with `&mut self` and moved an armed slot out of a dead object, a
//! pointer to freed memory (a hostile review did exactly that).
//!
//! So the output declares, inside its `const _: () = { ... };` block, `extern crate gc_runtime;`
//! and names everything by the relative path `gc_runtime::...`. `extern crate` loads the crate
//! the compiler was given as `gc_runtime` (Cargo's `--extern`), whatever the code around it
//! calls by that name; and the item belongs to the block, where it shadows every outer
//! `gc_runtime` — the extern prelude's included. (Under its own name, rustc's messages still
//! call the runtime's items `gc_runtime::...`; an alias would show up in them instead.)
//!
//! # Inside gc-runtime
//!
//! gc-runtime derives `Trace` for types of its own, and has no crate `gc_runtime` to load:
//! there the output names `::gc_runtime`, which its root declares to be itself (`extern crate
//! self as gc_runtime`), as does a doctest of gc-runtime, where it is the dependency. Cargo
//! says which crate is being compiled: package `gc-runtime`, crate `gc_runtime` (the library
//! and its doctests; its tests, examples and benches are crates of other names, and load the
//! library like any user). A user's own package would have to be called `gc-runtime` to be
//! taken for it.
//!
//! A dependency renamed in `Cargo.toml` (`gc = { package = "gc-runtime" }`) is not found by
//! the name `gc_runtime`: the derive needs gc-runtime under its own name.
//!
//! What this defends against is source code. The build's own configuration is beyond it, as it
//! is beyond every library: `Cargo.toml` can give another crate the name `gc_runtime`, and a
//! build script can set the variables read above or rewrite any dependency's sources.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

/// Whether the crate being compiled is gc-runtime itself (or one of its doctests).
fn compiling_the_runtime() -> bool {
    std::env::var("CARGO_PKG_NAME").as_deref() == Ok("gc-runtime")
        && std::env::var("CARGO_CRATE_NAME").as_deref() == Ok("gc_runtime")
}

/// How the output names gc-runtime: its `import`, to put first in the output's `const _`
/// block, and the `path` to name its items by (`#path::Trace`).
pub(crate) struct RuntimeCrate {
    /// `extern crate gc_runtime;`, or nothing inside gc-runtime.
    pub(crate) import: TokenStream,
    /// `gc_runtime` (the block's own crate item), or `::gc_runtime` inside gc-runtime.
    pub(crate) path: TokenStream,
}

/// How the output of the macro being expanded names gc-runtime (module docs).
pub(crate) fn runtime_crate() -> RuntimeCrate {
    if compiling_the_runtime() {
        return RuntimeCrate { import: TokenStream::new(), path: quote!(::gc_runtime) };
    }
    let name = Ident::new("gc_runtime", Span::call_site());
    RuntimeCrate {
        import: quote! {
            #[allow(unused_extern_crates)]
            extern crate #name;
        },
        path: quote!(#name),
    }
}
