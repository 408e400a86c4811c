//! Variance of the handle types: why every type that can be written through `&self` is
//! invariant in the type it points to.
//!
//! A handle such as [`Member<T>`](crate::Member) stores an address and remembers the pointee's
//! type only in a marker field. If that marker were `PhantomData<T>`, the handle would be
//! *covariant*: a `&Member<Sub>` would coerce to a `&Member<Sup>` whenever `Sub` is a subtype
//! of `Sup` (in Rust, a type with a longer or more general lifetime, e.g.
//! `&'static for<'a> fn(&'a str)` under `&'static fn(&'static str)`). Reading through the
//! widened handle is harmless, but *writing* is not: `set` would store a `Sup` object into a
//! slot that the object's own type still declares as `Sub`, and the next read through the
//! original field hands out the `Sup` object as a `Sub` — a function pointer that only accepts
//! `'static` strings called with a short-lived one, a use-after-free in safe code.
//!
//! So every handle whose referent can be replaced through a shared reference — [`Member`],
//! [`NonNullMember`], [`TaggedMember`], [`Root`], [`GlobalRoot`], the collections — is invariant in its type
//! parameter: its marker is [`Invariant<T>`], which is `PhantomData<fn(T) -> T>` (a function
//! type is contravariant in its argument and covariant in its result, so both together are
//! invariant). [`Weak`] is invariant too: it cannot be written, but a uniform rule is easier to
//! keep than an argument per type. The collections get the same property from the locks and
//! cells inside them (`UnsafeCell<T>` is invariant).
//!
//! Locals ([`Gc<'m, T>`]) stay covariant, in `T` and in `'m`: a local cannot be written
//! through, so widening one only forgets something true about the object it names.
//!
//! Each of these types has a compile-fail test in `ui-tests/tests/ui/soundness/variance-*`.
//!
//! [`Member`]: crate::Member
//! [`NonNullMember`]: crate::NonNullMember
//! [`TaggedMember`]: crate::TaggedMember
//! [`Root`]: crate::Root
//! [`GlobalRoot`]: crate::GlobalRoot
//! [`Weak`]: crate::Weak
//! [`Gc<'m, T>`]: crate::Gc

use std::marker::PhantomData;

/// The marker that makes a handle invariant in `T` (see the module docs). It is `Send`,
/// `Sync` and `Copy` whatever `T` is, like the bare address it sits next to: a handle's thread
/// rules come from the objects it can point to (always `Send + Sync`) and from explicit
/// markers, never from this field.
pub(crate) type Invariant<T> = PhantomData<fn(*const T) -> *const T>;
