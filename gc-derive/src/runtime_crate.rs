//! The check that the `Drop` guard the derive implemented is gc-runtime's.
//!
//! # Why
//!
//! The `Trace` impl `#[derive(Trace)]` emits is `unsafe`, and one of the rules it must keep is
//! that the type has no `Drop` impl (a destructor runs on the finalizer with `&mut self`, after
//! the objects its slots point to may be freed, and could move an armed slot out of the heap).
//! The derive enforces it with a second impl, of `__private::TraceTypesMustNotImplementDrop`,
//! which conflicts with gc-runtime's blanket impl of that trait for every `Drop` type. Both
//! impls name gc-runtime as `::gc_runtime`, which is what the crate's extern prelude calls
//! `gc_runtime` — and safe code can rebind that: `extern crate self as gc_runtime;` at the crate
//! root with a module `__private` holding a guard trait of its own (and a `pub use` of the real
//! `Trace`) sent the guard impl to the user's trait, where nothing conflicts, and the type got a
//! destructor that moved armed slots out of dead objects (a hostile review did exactly that).
//!
//! # The check
//!
//! So the output also holds a block, with no token of the user's in it, that loads gc-runtime
//! itself — `extern crate gc_runtime;`, which loads the crate the compiler was given as
//! `gc_runtime` (Cargo's `--extern`), whatever the code around it calls by that name — and
//! asks it whether the trait `::gc_runtime::__private::TraceTypesMustNotImplementDrop` names is
//! its own (`__private::check_drop_guard`: implemented only for `dyn` of its guard trait). If
//! `::gc_runtime` was rebound, the crate does not compile, with a message that says why.
//!
//! # Why not name everything through that `extern crate`
//!
//! The first fix did: the output's block declared `extern crate gc_runtime;` and named every
//! item through it. But the impls hold the user's tokens too — field types, bounds, the `where`
//! clause — and inside the block a path `gc_runtime::...` in those tokens then named the real
//! crate, while at the struct it named whatever the user's scope calls `gc_runtime` (a module of
//! the user's). A field type `gc_runtime::Member<T>` was a user type with a `Deref` to a real
//! `Member` at the struct, and the real `Member` in `trace`: the call went through the `Deref`,
//! which could hand `trace` another slot than the one it armed (a second review). The user's
//! tokens must be read where the user wrote them; only this check, which holds none of them,
//! loads the crate. (An alias the user cannot name would not do either: rustc's messages would
//! call gc-runtime's items by it.)
//!
//! # Inside gc-runtime
//!
//! gc-runtime derives `Trace` for types of its own, and has no crate `gc_runtime` to load (its
//! root declares `extern crate self as gc_runtime`): no check is emitted there. Cargo says
//! which crate is being compiled — package `gc-runtime`, crate `gc_runtime`: the library and its
//! doctests (its tests, examples and benches are crates of other names, checked like any
//! user's). A user's own package would have to be called `gc-runtime` to be taken for it.
//!
//! A dependency renamed in `Cargo.toml` (`gc = { package = "gc-runtime" }`) is not found by the
//! name `gc_runtime`: the derive needs gc-runtime under its own name. What the check defends
//! against is source code; the build's own configuration is beyond it, as it is beyond every
//! library: `Cargo.toml` can give another crate the name `gc_runtime`, and a build script can
//! set the variables read here or rewrite any dependency's sources.

use proc_macro2::TokenStream;
use quote::quote;

/// Whether the crate being compiled is gc-runtime itself (or one of its doctests).
fn compiling_the_runtime() -> bool {
    std::env::var("CARGO_PKG_NAME").as_deref() == Ok("gc-runtime")
        && std::env::var("CARGO_CRATE_NAME").as_deref() == Ok("gc_runtime")
}

/// The block that checks the guard named by `::gc_runtime` is gc-runtime's (module docs);
/// nothing inside gc-runtime itself. It holds no token of the user's input.
pub(crate) fn drop_guard_check() -> TokenStream {
    if compiling_the_runtime() {
        return TokenStream::new();
    }
    quote! {
        const _: () = {
            #[allow(unused_extern_crates)]
            extern crate gc_runtime;
            gc_runtime::__private::check_drop_guard::<
                dyn ::gc_runtime::__private::TraceTypesMustNotImplementDrop,
            >();
        };
    }
}
