//! What the macros recognise in a field's type, and what `#[gc]` puts in its place.
//!
//! # By name, not by resolution
//!
//! A macro sees tokens, not resolved types, so the runtime's types are recognised by the name
//! of a path segment: `Gc`, `gc_runtime::Gc` and `::gc_runtime::Gc` all are `Gc`, and a user
//! type of the same name is taken for ours. Nothing here reports an error: each function says
//! what it found, and the caller decides whether that is a mistake and how to word it.
//!
//! # Searching a type
//!
//! [`find_segment`] finds the first path segment with one of a list of names anywhere in a
//! type: `#[derive(Trace)]` looks for the GC pointer types in a skipped field, `#[gc]` for a
//! `Gc` nested inside a field's type.
//!
//! # Whose `NEEDS_TRACE` `#[derive(Trace)]` may read
//!
//! [`needs_trace_can_be_read`] says whether a field's type is built only from primitives, the
//! input's own type parameters and the std types of [`STD_TRACE_TYPES`], so that the derived
//! `NEEDS_TRACE` can defer to the field type's own without a const-evaluation cycle (the
//! argument is on the function).
//!
//! # The slot types of `#[gc]`
//!
//! [`classify`] sorts the type of a `#[gc]` struct's field into a [`FieldType`]: `Gc<T>` (a
//! non-null slot), `Option<Gc<T>>` (a nullable slot), a `Gc` written with the wrong arguments,
//! or any other type, in which a `Gc` may still be nested.
//!
//! # What `#[gc]` puts in their place
//!
//! A slot field's type becomes `::gc_runtime::NonNullMember<T>` or `::gc_runtime::Member<T>`
//! ([`Slot::field_type`]). [`without_gc`] repairs a `Gc` nested in another type the way the
//! error message suggests, by turning it into a `Member<T>`. Both are used by the expansion of
//! a struct and by the fallback of a rejected enum or tuple struct; [`keep_used`] then names
//! the user's `Gc` paths once more, so that the `use` that brought `Gc` in stays used.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned, ToTokens};
use syn::{
    parse_quote_spanned,
    spanned::Spanned,
    visit_mut::{self, VisitMut},
    GenericArgument, Ident, Lifetime, Path, PathArguments, PathSegment, ReturnType, Type, TypePath,
};

use crate::{
    symbol::{Symbol, GC_TYPE, OPTION, PRIMITIVE_TYPES, STD_CRATES, STD_TRACE_TYPES},
    util::last_ident_is,
};

/// How the type of a `#[gc]` struct's field is written.
pub(crate) enum FieldType<'a> {
    /// `Gc<T>` or `Option<Gc<T>>`: the field becomes a slot.
    Slot {
        /// What the slot holds.
        slot: Slot<'a>,
        /// Lifetime arguments written on the `Gc` (`Gc<'a, T>`): a mistake, which the slot
        /// ignores.
        lifetimes: Vec<&'a Lifetime>,
        /// The first `Gc` inside the referent (`Gc<Vec<Gc<T>>>`): a mistake.
        nested: Option<PathSegment>,
    },
    /// A `Gc` (or `Option<Gc>`) whose arguments are not exactly one type (`Gc`, `Gc<A, B>`):
    /// a mistake; the field is not a slot.
    MalformedGc {
        /// The `Gc` type itself (inside the `Option`, if any).
        gc: &'a Type,
        /// Its lifetime arguments, each a mistake of its own.
        lifetimes: Vec<&'a Lifetime>,
    },
    /// Any other type: a plain field.
    Plain {
        /// The first `Gc` inside it (`Vec<Gc<T>>`): a mistake.
        nested: Option<PathSegment>,
    },
}

/// A field declared `Gc<T>` or `Option<Gc<T>>`.
pub(crate) struct Slot<'a> {
    /// `Option<Gc<T>>` (a `Member<T>`) rather than `Gc<T>` (a `NonNullMember<T>`).
    pub(crate) nullable: bool,
    /// `T`.
    pub(crate) referent: &'a Type,
    /// The `Gc` path as written (`Gc`, `gc_runtime::Gc`, ...), reused for the accessors' and
    /// the constructor's types: they resolve as the field did, and the user's `use` of `Gc`
    /// stays used.
    pub(crate) gc: &'a Path,
    /// The field type as written, for spans.
    pub(crate) written: &'a Type,
}

impl Slot<'_> {
    /// The user's path to `Gc`, without arguments.
    pub(crate) fn gc_path(&self) -> Path {
        let mut gc = self.gc.clone();
        if let Some(last) = gc.segments.last_mut() {
            last.arguments = PathArguments::None;
        }
        gc
    }

    /// `::gc_runtime::Member` or `::gc_runtime::NonNullMember`, spanned at the field type.
    pub(crate) fn slot_path(&self) -> TokenStream {
        if self.nullable {
            quote_spanned!(self.written.span()=> ::gc_runtime::Member)
        } else {
            quote_spanned!(self.written.span()=> ::gc_runtime::NonNullMember)
        }
    }

    /// For a nullable slot, a check that the `Option` its field names is the standard one:
    /// `Option` is recognised by name, and a user's own `Option` in scope would otherwise be
    /// silently replaced. The written path with `()` for its argument must be
    /// `core::option::Option<()>` (a bound with a message of its own, spanned at the field
    /// type).
    pub(crate) fn option_check(&self) -> Option<TokenStream> {
        if !self.nullable {
            return None;
        }
        let Type::Path(TypePath { qself: None, path }) = self.written else { return None };
        let mut option = path.clone();
        option.segments.last_mut()?.arguments = PathArguments::None;
        Some(quote_spanned!(self.written.span()=>
            const _: fn() = ::gc_runtime::__private::slot_option_is_std::<#option<()>>;
        ))
    }

    /// The field's type once it is a slot: `Member<T>` or `NonNullMember<T>`.
    pub(crate) fn field_type(&self) -> Type {
        let (slot_type, referent) = (self.slot_path(), self.referent);
        parse_quote_spanned!(self.written.span()=> #slot_type<#referent>)
    }
}

/// Sorts the type of a `#[gc]` struct's field (see [`FieldType`]).
///
/// Also used on enum and tuple-struct fields by `#[gc]`'s fallback, so a rejected item does
/// not add a "missing lifetime" error per `Gc` field.
pub(crate) fn classify(ty: &Type) -> FieldType<'_> {
    let (nullable, gc) = match option_argument(ty) {
        Some(inner) if gc_path(inner).is_some() => (true, inner),
        _ if gc_path(ty).is_some() => (false, ty),
        _ => return FieldType::Plain { nested: find_segment(ty, &[GC_TYPE]) },
    };
    let (referent, lifetimes) = gc_arguments(gc);
    match (referent, gc_path(gc)) {
        (Some(referent), Some(path)) => FieldType::Slot {
            slot: Slot { nullable, referent, gc: path, written: ty },
            lifetimes,
            nested: find_segment(referent, &[GC_TYPE]),
        },
        _ => FieldType::MalformedGc { gc, lifetimes },
    }
}

/// The `T` of `Option<T>` (any path ending in `Option`).
fn option_argument(ty: &Type) -> Option<&Type> {
    let segment = plain_path(ty)?.segments.last()?;
    if segment.ident != OPTION {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>()[..] {
        [GenericArgument::Type(inner)] => Some(inner),
        _ => None,
    }
}

/// `ty`'s path if it is a path ending in `Gc`.
fn gc_path(ty: &Type) -> Option<&Path> {
    plain_path(ty).filter(|path| last_ident_is(path, GC_TYPE))
}

/// A type path without a `<T as Trait>::` qualifier.
fn plain_path(ty: &Type) -> Option<&Path> {
    match ty {
        Type::Path(TypePath { qself: None, path }) => Some(path),
        _ => None,
    }
}

/// The arguments of a `Gc`: its referent, if it has exactly one type argument and nothing but
/// lifetimes besides, and its lifetime arguments.
fn gc_arguments(gc: &Type) -> (Option<&Type>, Vec<&Lifetime>) {
    let mut types = Vec::new();
    let mut lifetimes = Vec::new();
    let mut well_formed = true;
    let arguments = gc_path(gc).and_then(|path| path.segments.last()).map(|segment| &segment.arguments);
    if let Some(PathArguments::AngleBracketed(args)) = arguments {
        for arg in &args.args {
            match arg {
                GenericArgument::Lifetime(lifetime) => lifetimes.push(lifetime),
                GenericArgument::Type(ty) => types.push(ty),
                _ => well_formed = false,
            }
        }
    }
    let referent = match types[..] {
        [referent] if well_formed => Some(referent),
        _ => None,
    };
    (referent, lifetimes)
}

/// The first path segment in `ty`, at any depth, whose name is one of `names`.
///
/// Segments are visited in source order, each before its own generic arguments, so in
/// `Vec<Option<Member<T>>>` the `Member` is found, and in `Gc<Gc<T>>` the outer `Gc`.
pub(crate) fn find_segment(ty: &Type, names: &[Symbol]) -> Option<PathSegment> {
    /// Records the first matching segment.
    struct Finder<'n> {
        /// The names looked for.
        names: &'n [Symbol],
        /// The segment, once found.
        found: Option<PathSegment>,
    }
    impl VisitMut for Finder<'_> {
        fn visit_path_segment_mut(&mut self, segment: &mut PathSegment) {
            if self.found.is_none() && self.names.iter().any(|name| segment.ident == *name) {
                self.found = Some(segment.clone());
            }
            visit_mut::visit_path_segment_mut(self, segment);
        }
    }
    // syn is built with `visit-mut` (for the `#[gc]` rewrite) but not `visit`. Walking a
    // clone keeps the search exhaustive over every type form without another syn feature.
    let mut finder = Finder { names, found: None };
    finder.visit_type_mut(&mut ty.clone());
    finder.found
}

/// Whether `#[derive(Trace)]` on the type `own` (with the type parameters `params`) may use
/// `<ty as Trace>::NEEDS_TRACE` for a field of type `ty`, rather than `true`.
///
/// Yes when `ty`, read syntactically, names only:
///
/// - a primitive type ([`PRIMITIVE_TYPES`]);
/// - one of `params`, written as a bare identifier;
/// - a type of [`STD_TRACE_TYPES`], by the last segment of its path, written bare (`Vec<T>`)
///   or from a crate of [`STD_CRATES`] (`std::vec::Vec<T>`), with arguments that are lifetimes,
///   constants, or types that qualify in turn;
///
/// combined through tuples, arrays, slices, references, parentheses and `fn` pointers. Any
/// other path (a user type, a type alias, `Self`, `<T as X>::Y`, `T::Y`), a macro, `dyn` or
/// `impl Trait`, a raw pointer, `!` makes it no.
///
/// # Why reading such a type's constant cannot cycle
///
/// Say every derived constant is built this way. Then the constant of a derived type
/// `D<A1, .., An>` reads only the constants of types built from primitives, std types and
/// the `Ai`; the std impls forward only to their type arguments, and primitives to nothing;
/// so it depends on the constants of the `Ai` alone, which are strictly smaller types than
/// `D<A1, .., An>`. Each step of the evaluation goes to a smaller type, so it ends, and no
/// constant depends on itself. Recursion must be written with a path not on the list
/// (`Vec<Node>` names `Node`; `type Link = Option<Box<L>>` hides `L` behind `Link`), and such
/// a field contributes `true`, which stops the chain.
///
/// The names are matched, not resolved. So `own` is taken off the list: a type that is itself
/// called `String` or `Box` and recurses through its own name (`struct String { parts:
/// Vec<String> }`) would otherwise read its own constant. The argument still fails, with a
/// compile error (E0391), never an unsound constant, if a listed name is shadowed by a type
/// alias whose body leads back to the input (`type Result<T> = std::result::Result<T,
/// Box<Input>>`), by a user type with a hand-written `Trace` impl whose constant does, or by
/// several derived types that are mutually recursive through such names alone; and if an
/// array length or a const argument is an expression that reads the input's own
/// `NEEDS_TRACE` (`[u8; <Input as Trace>::NEEDS_TRACE as usize]`), since the read type is
/// normalised, and its length evaluated, before its constant is.
pub(crate) fn needs_trace_can_be_read(ty: &Type, params: &[&Ident], own: &Ident) -> bool {
    let readable = |ty: &Type| needs_trace_can_be_read(ty, params, own);
    match ty {
        Type::Path(TypePath { qself: None, path }) => readable_path(path, params, own),
        Type::Array(array) => readable(&array.elem),
        Type::Slice(slice) => readable(&slice.elem),
        Type::Reference(reference) => readable(&reference.elem),
        Type::Paren(paren) => readable(&paren.elem),
        // The invisible group around a `$ty` a `macro_rules!` pasted into the item.
        Type::Group(group) => readable(&group.elem),
        Type::Tuple(tuple) => tuple.elems.iter().all(readable),
        Type::BareFn(function) => {
            function.variadic.is_none()
                && function.inputs.iter().all(|input| readable(&input.ty))
                && match &function.output {
                    ReturnType::Default => true,
                    ReturnType::Type(_, output) => readable(output),
                }
        }
        _ => false,
    }
}

/// [`needs_trace_can_be_read`] for a path without a `<T as Trait>::` qualifier.
fn readable_path(path: &Path, params: &[&Ident], own: &Ident) -> bool {
    let Some(last) = path.segments.last() else {
        return false;
    };
    let bare = path.leading_colon.is_none() && path.segments.len() == 1;
    if bare && params.contains(&&last.ident) {
        return last.arguments.is_none();
    }
    let prefix_ok = if bare {
        last.ident != *own
    } else {
        // `std::vec::Vec<T>`: a crate root, then modules, without arguments before the type.
        let before_last = path.segments.len().saturating_sub(1);
        path.segments.first().is_some_and(|root| is_one_of(&root.ident, STD_CRATES))
            && path.segments.iter().take(before_last).all(|segment| segment.arguments.is_none())
    };
    let listed = is_one_of(&last.ident, PRIMITIVE_TYPES) || is_one_of(&last.ident, STD_TRACE_TYPES);
    if !prefix_ok || !listed {
        return false;
    }
    match &last.arguments {
        PathArguments::None => true,
        PathArguments::AngleBracketed(args) => args.args.iter().all(|arg| match arg {
            GenericArgument::Type(ty) => needs_trace_can_be_read(ty, params, own),
            // Neither changes which impl is used or what it forwards to.
            GenericArgument::Lifetime(_) | GenericArgument::Const(_) => true,
            _ => false,
        }),
        PathArguments::Parenthesized(_) => false,
    }
}

/// Whether `ident` is one of `names`.
fn is_one_of(ident: &Ident, names: &[Symbol]) -> bool {
    names.iter().any(|name| ident == *name)
}

/// `ty` with every `Gc<T>` (or `Gc<'a, T>`) inside it replaced by `::gc_runtime::Member<T>`,
/// and the paths of the `Gc`s replaced.
///
/// Only used where the nested `Gc` was reported: it is the fix the message suggests, and it
/// keeps the expansion free of the compiler's own errors about that `Gc`.
pub(crate) fn without_gc(ty: &Type) -> (Type, Vec<Path>) {
    /// Replaces bottom-up, recording each replaced path.
    struct Replace(Vec<Path>);
    impl VisitMut for Replace {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            visit_mut::visit_type_mut(self, ty);
            let Some(segment) = gc_path(ty).and_then(|path| path.segments.last()) else {
                return;
            };
            let PathArguments::AngleBracketed(args) = &segment.arguments else {
                return;
            };
            let types: Vec<_> = args
                .args
                .iter()
                .filter_map(|arg| match arg {
                    GenericArgument::Type(ty) => Some(ty),
                    _ => None,
                })
                .collect();
            if let [referent] = types[..] {
                let mut gc = gc_path(ty).cloned().unwrap_or_else(|| segment.ident.clone().into());
                if let Some(last) = gc.segments.last_mut() {
                    last.arguments = PathArguments::None;
                }
                *ty = parse_quote_spanned!(segment.ident.span()=> ::gc_runtime::Member<#referent>);
                self.0.push(gc);
            }
        }
    }
    let mut ty = ty.clone();
    let mut replace = Replace(Vec::new());
    replace.visit_type_mut(&mut ty);
    (ty, replace.0)
}

/// Names each of `gc_paths` (the user's paths to `Gc`, replaced by slot types next to an
/// error) once more, so their `use gc_runtime::Gc` does not add an "unused import" warning
/// to the error.
pub(crate) fn keep_used(gc_paths: &[Path]) -> TokenStream {
    let mut seen: Vec<String> = Vec::new();
    let mut tokens = TokenStream::new();
    for gc in gc_paths {
        let key = gc.to_token_stream().to_string();
        if !seen.contains(&key) {
            seen.push(key);
            tokens.extend(quote! {
                const _: ::core::marker::PhantomData<#gc<'static, ()>> = ::core::marker::PhantomData;
            });
        }
    }
    tokens
}
