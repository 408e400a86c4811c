//! Macros for `gc-runtime`.
//!
//! This crate provides `#[derive(Trace)]`, which implements `gc_runtime::Trace` for a struct
//! or an enum by handing every field to the tracer, and the `#[gc]` attribute, which turns a
//! struct's `Gc<T>` / `Option<Gc<T>>` fields into barriered slots and rewrites slot
//! assignments in code into write-barrier calls. Use them through the re-exports
//! `gc_runtime::Trace` and `gc_runtime::gc`; this crate is an implementation detail of
//! `gc-runtime` and its generated code names only `::gc_runtime::*` paths; `#[derive(Trace)]`
//! also checks, through an `extern crate` of its own, that its `Drop` guard is gc-runtime's
//! (`runtime_crate`).
//!
//! # Layout
//!
//! The entry points below are deliberately thin. Each macro is a pipeline of the same stages:
//! parse into a typed IR (`trace::ast` with `trace::attr`; `gc_attr::ast` with
//! `gc_attr::attr` and `gc_attr::args`), check it (`trace::valid`, `gc_attr::valid`), and
//! generate code (`trace::expand`; `gc_attr::expand`, one module per kind of item), with a
//! fallback (`trace::fallback`, `gc_attr::fallback`) standing in for a rejected input. Errors
//! are collected with `ctxt::Ctxt` so that every mistake in one input is reported in one
//! compile, each pointing at the offending token.
//!
//! Shared by both: `ctxt` (the error accumulator), `symbol` (the names compared against the
//! user's tokens, including the GC pointer types listed in `pointer_types.rs`), `types` (what
//! a field's type is: a slot, a GC pointer, ...) and `util` (attribute and path helpers). No
//! two modules import each other and the imports form no cycle: the shared modules import no
//! stage, and each stage imports only shared modules and the stages it builds on.
//!
//! This crate contains no unsafe code. The `unsafe impl` it emits is justified where it is
//! emitted, in `trace::expand`.

#![forbid(unsafe_code)]

mod ctxt;
mod gc_attr;
mod runtime_crate;
mod symbol;
mod trace;
mod types;
mod util;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Implements `gc_runtime::Trace` for a struct or an enum.
///
/// The generated `trace` visits every field, in declaration order, by calling the field
/// type's `gc_runtime::Trace::trace` on it. Every generic type parameter gets a
/// `gc_runtime::Trace` bound, unless `#[trace(bound = "...")]` says otherwise (below);
/// lifetimes, const parameters and an existing `where` clause are kept as written.
///
/// `NEEDS_TRACE` is `false` when no field is traced (a unit struct, an enum whose variants
/// carry no data, a type whose fields are all skipped), and otherwise the `||` of the traced
/// fields' own `NEEDS_TRACE` wherever reading those cannot create a const-evaluation cycle:
/// when every traced field's type is built only from primitives, the type's own type
/// parameters and the std types the runtime implements `Trace` for (`String`, `Box`, `Vec`,
/// `VecDeque`, `Option`, `Result`, `HashMap`, `BTreeMap`, `PhantomData`, `Duration`,
/// `Instant`, the atomics, `AtomicCell`), through tuples, arrays, slices, references and `fn`
/// pointers. So `struct P { a: i32, b: Vec<String> }` and `G<u32>` for `struct G<T> { x: T }`
/// are `false`, and `G<Member<X>>` is `true`. A traced field of any other type (a user type,
/// an alias, `Self`, `dyn Trait`) makes it `true`: that is how recursive types such as
/// `struct Node { children: Vec<Node> }` stay free of cycles, at the price of being traced. A
/// type whose `NEEDS_TRACE` is `false` is never traced by the marker, nor armed at allocation.
///
/// The derive also makes a `Drop` impl on the type a compile error: destructors run on the
/// sweeper, after the object's neighbours may already be freed.
///
/// # Field attribute
///
/// - `#[trace(skip)]`: the field is not traced and its type need not implement `Trace`. It is
///   rejected on a field whose type mentions `Gc`, `Member`, `NonNullMember`, `GcVec`,
///   `GcMap`, `GcIdMap` or `GcWeakMap`, because the collector would then miss a pointer and could free its
///   referent. (`Root`, `GlobalRoot` and `Weak` are allowed: the collector does not find their
///   pointers through `Trace`, so skipping them changes nothing.)
///
/// # Type attribute
///
/// - `#[trace(bound = "...")]`: no type parameter gets an automatic `Trace` bound; the
///   string's where-predicates, comma-separated and possibly none, are added to the `where`
///   clause of the generated impls instead. `#[trace(bound = "")]` makes
///   `struct Tagged<T> { id: u32, _marker: PhantomData<T> }` `Trace` for every `T`. It cannot
///   make the impl unsound: every traced field is still traced, so a bound too weak for the
///   fields fails to compile at the field's type. On a `#[gc]` struct, write it after `#[gc]`.
///
/// `#[trace(skip)]` is not accepted on the type, no `#[trace(...)]` on enum variants, and
/// unions are rejected: write an `unsafe impl Trace` by hand for those.
///
/// # Example
///
/// ```
/// use std::sync::atomic::AtomicU64;
///
/// use gc_runtime::{Member, Trace};
///
/// #[derive(Trace)]
/// struct Node<T> {
///     value: T,
///     next: Member<Node<T>>,
///     #[trace(skip)]
///     visits: AtomicU64,
/// }
///
/// let mu = gc_runtime::attach();
/// let n = mu.alloc(Node { value: 1u8, next: Member::new(), visits: AtomicU64::new(0) });
/// n.next.set(Some(n));
/// assert_eq!(n.next.get(&mu).unwrap().value, 1);
/// ```
#[proc_macro_derive(Trace, attributes(trace))]
pub fn derive_trace(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    trace::derive(&input).unwrap_or_else(|error| trace::fallback::expand(&input, error)).into()
}

/// Makes a struct's GC pointer fields barriered slots, or rewrites slot assignments in code.
///
/// # On a struct with named fields
///
/// A field declared `Gc<T>` becomes a `NonNullMember<T>` slot, and `Option<Gc<T>>` a
/// `Member<T>` slot; other fields stay as declared. The struct gets
/// `#[derive(gc_runtime::Trace)]` (appended, so that it runs after `#[cfg]` on the fields;
/// a `#[trace(bound = "...")]` on the struct is moved after it and applies), and an inherent
/// impl with:
///
/// - a constructor, `new(mu, field1, field2, ...)` with one parameter per field in order (a
///   slot field takes a `Gc<'_, T>` or `Option<Gc<'_, T>>`), returning a `Gc<'m, Self>`; it
///   allocates the object and then sets each slot through the write barrier. It has the
///   struct's visibility. `#[gc(constructor = "make")]` renames it, `#[gc(no_constructor)]`
///   leaves it out;
/// - per slot field `f`: a getter `f(&self, mu: &'m Mutator)` returning the referent as a
///   local (`Gc<'m, T>`, or `Option<Gc<'m, T>>`), and a setter `set_f(&self, value)` that runs
///   the barrier, both with the field's visibility.
///
/// A field's `#[cfg(...)]` is copied onto everything generated for it, so a disabled field
/// disappears from the struct, the constructor and the accessors alike. A field `Gc<'a, T>`
/// (with a lifetime), a `Gc` nested inside another type (`Vec<Gc<T>>`: use `Member<T>`
/// elements), and `#[trace(skip)]` on a slot field are errors. A field written `Member<T>` is
/// a plain field: it keeps its type and is a constructor parameter like any other.
///
/// `#[derive(Trace)]` next to `#[gc]` is an error, not a silent no-op, so that the struct has
/// one visible source of its `Trace` impl and nobody adds the derive believing it is needed.
///
/// ```
/// use gc_runtime::{gc, Gc};
///
/// #[gc]
/// pub struct Leaf {
///     pub value: u64,
/// }
///
/// #[gc]
/// pub struct Node {
///     pub value: u64,
///     pub next: Option<Gc<Node>>, // a `Member<Node>` slot
///     pub first: Gc<Leaf>,        // a `NonNullMember<Leaf>` slot
/// }
///
/// let mu = gc_runtime::attach();
/// let leaf = Leaf::new(&mu, 7);
/// let node = Node::new(&mu, 1, None, leaf); // `next` starts empty
/// node.set_next(Some(node));                // the write barrier runs here
/// assert_eq!(node.first(&mu).value, 7);
/// ```
///
/// # On an impl block, a function or an inline module
///
/// Every assignment `place.field = value` whose `field` is a slot field name becomes
/// `::gc_runtime::__private::assign(&place.field, value)`, a write-barrier store, wherever it
/// is: nested blocks, loops, closures, `match` arms, `async` blocks. Compound assignments and
/// macro arguments are left alone, and so are items nested in a function body, except in a
/// `#[gc]` module. Which names are slot names:
///
/// - `#[gc] impl Node { ... }`: the slots of `Node`, a `#[gc]` struct declared in the same
///   module or reached by the path the impl uses (`#[gc] impl a::Node`).
/// - `#[gc(Node, Leaf)] fn f(...)` or `#[gc(Node)] impl Other`: the slots of the listed
///   `#[gc]` structs (the list replaces the impl's self type). A function must list them.
/// - `#[gc] mod m { ... }`: the slots of every `#[gc]` struct declared in the module, at any
///   depth, plus those listed in `#[gc(...)]`. The module handles the `#[gc]` attributes
///   inside it itself. The body must be inline: on `mod m;` put `#[gc]` on the items in the
///   file instead.
///
/// The rewrite goes by name: a plain field that shares a slot's name, assigned inside `#[gc]`
/// code, is rewritten too and fails to compile with a message saying so; assign it outside
/// `#[gc]` code or rename it.
///
/// Each `#[gc]` struct `Node` comes with a hidden registry macro, `__gc_slots_Node`, that
/// tells `#[gc]` code elsewhere its slot names. If the compiler says it "cannot find macro
/// `__gc_slots_Node`", then `Node` is not a `#[gc]` struct, or it is declared in another
/// module and named without its path: write `#[gc] impl path::Node` or `#[gc(path::Node)]`,
/// or import the registry along with the struct (`use path::{Node, __gc_slots_Node};`).
/// Registries are `pub(crate)`: from another crate, use the generated setters.
///
/// ```
/// use gc_runtime::{gc, Gc};
///
/// #[gc]
/// struct Node {
///     next: Option<Gc<Node>>,
/// }
///
/// #[gc(Node)]
/// fn link_all(nodes: &[Gc<'_, Node>]) {
///     for pair in nodes.windows(2) {
///         pair[0].next = Some(pair[1]); // the write barrier runs here
///     }
/// }
///
/// fn main() {
///     let mu = gc_runtime::attach();
///     let nodes = [Node::new(&mu, None), Node::new(&mu, None)];
///     link_all(&nodes);
///     assert!(nodes[0].next(&mu).is_some_and(|n| Gc::ptr_eq(n, nodes[1])));
/// }
/// ```
///
/// `#[gc]` on anything else (an enum, a trait, a static, ...) is an error.
#[proc_macro_attribute]
pub fn gc(args: TokenStream, input: TokenStream) -> TokenStream {
    gc_attr::expand(args.into(), input.into()).into()
}
