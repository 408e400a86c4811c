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
    GenericArgument, Lifetime, Path, PathArguments, PathSegment, Type, TypePath,
};

use crate::{
    symbol::{Symbol, GC_TYPE, OPTION},
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
