//! `#[gc]`: slot fields on structs, barriered assignments in code.
//!
//! # Pipeline
//!
//! Like `#[derive(Trace)]` (`crate::trace`), the attribute runs in stages, all reporting to
//! one [`Ctxt`], so a single compile shows every mistake, each at its own token:
//!
//! 1. [`ast`] builds a typed IR of the item and its arguments ([`args`]), taking a second
//!    `#[gc]` off the item ([`attr`]). It sorts the item into a struct, code (an impl block, a
//!    function, an inline module), or a rejected item: one that `#[gc]` cannot expand.
//! 2. [`valid`] checks the IR: the fields of a struct, and why an item was rejected.
//! 3. [`expand`](mod@expand) generates the code for a struct or for code. A mistake that
//!    leaves something to expand (a lifetime on a `Gc` field, a `Gc` nested in another type,
//!    ...) is undone in the expansion, so the output is what the user most likely meant. A
//!    module's expansion sends each `#[gc]` item inside it through the same stages.
//! 4. [`fallback`] stands in for a rejected item, so that its uses do not add errors of their
//!    own.
//! 5. The errors, if any, are emitted before the output.
//!
//! | item                        | stage 3 or 4                          | what happens                                |
//! | --------------------------- | ------------------------------------- | ------------------------------------------- |
//! | struct with named fields    | `expand::strukt`                      | slot fields, derive, constructor, accessors, registry |
//! | `impl` block, function      | `expand::registry`, `expand::rewrite` | slot names asked, then slot assignments become barrier calls |
//! | inline module               | `expand::module`                      | both, for everything inside                 |
//! | anything else (`valid` says why) | [`fallback`]                     | a stand-in: stub bodies, or slot field types |
//!
//! # How the rewrite knows the slot names
//!
//! The rewrite turns `place.field = value` into a barrier call when `field` is the name of a
//! slot field of a `#[gc]` struct. A macro sees one item's tokens and no types, so the names
//! have to reach it:
//!
//! - **`#[gc] mod m { ... }`**: the slot fields of every `#[gc]` struct declared anywhere
//!   inside the module, which the module's own expansion reads directly.
//! - **`#[gc] impl Type { ... }`** (outside such a module): the slots of `Type`, from its
//!   registry, a hidden macro generated next to the struct (`expand::registry` describes the
//!   protocol). `#[gc] impl a::Type` asks `a::__gc_slots_Type!`. The struct must therefore be
//!   declared with `#[gc]` in the same module, or reached by a path, or its registry imported
//!   next to it (`use a::{Type, __gc_slots_Type};`).
//! - **`#[gc(Type1, Type2)] fn f(...)`** or **`#[gc(Type1)] impl Other`**: the slots of the
//!   listed types, asked from their registries one after another. A list replaces the impl's
//!   self type: write `#[gc(Other, Type1)]` if `Other` is a `#[gc]` struct too. `#[gc]` on a
//!   function with no list is an error, since there is nothing to ask.
//!
//! # Name collisions
//!
//! The rewrite is by field name, not by type. Inside `#[gc]` code, assigning a plain field
//! that happens to share its name with a slot field (`other.next = 3` where `next` is a slot of
//! a listed struct) is rewritten too, and fails to compile with the runtime's `SlotAssign`
//! message: "`u32` is not a GC slot that accepts `{integer}`", whose note says to assign it
//! outside `#[gc]` code or rename it. It never compiles into a wrong store.
//!
//! The generated methods have names of their own: the constructor, and per slot `f` a getter
//! `f` and a setter `set_f`. Two of them with one name (a slot `new` beside the constructor
//! `new`, slots `next` and `set_next`) are reported at the later field, which names the two
//! methods and says what to rename (`valid::name_clashes`).
//!
//! # Recognising `#[gc]` and the types
//!
//! `#[gc]`, `#[gc_runtime::gc]` and `#[::gc_runtime::gc]` are all recognised (by the last
//! path segment, [`attr`]), as are `Gc<T>` and `Option<Gc<T>>` spelled with any path
//! (`crate::types`); a user type named `Gc` in a `#[gc]` struct is taken for ours.

pub(crate) mod args;
pub(crate) mod ast;
pub(crate) mod attr;
pub(crate) mod expand;
pub(crate) mod fallback;
pub(crate) mod valid;

use proc_macro2::TokenStream;
use syn::Item;

use self::ast::Input;
use crate::ctxt::Ctxt;

/// `#[gc(args)] item`: the whole expansion, errors included.
pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    let mut item = match syn::parse2::<Item>(input.clone()) {
        Ok(item) => item,
        Err(err) => {
            // Not an item syn knows; keep the user's tokens so only this error shows.
            let mut tokens = err.into_compile_error();
            tokens.extend(input);
            return tokens;
        }
    };
    let cx = Ctxt::new();
    let input = Input::from_syn(&cx, args, &mut item);
    valid::check(&cx, &input);
    let output = match &input {
        Input::Struct(strukt, constructor) => expand::expand_struct(strukt, constructor),
        Input::Code(code) => expand::expand_code(&cx, code),
        Input::Rejected(item) => fallback::expand(item),
    };
    match cx.check() {
        Ok(()) => output,
        Err(err) => {
            let mut tokens = err.into_compile_error();
            tokens.extend(output);
            tokens
        }
    }
}

#[cfg(test)]
mod snapshot;
#[cfg(test)]
mod tests;
