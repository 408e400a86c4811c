//! Typed IR of a `#[gc]` input.
//!
//! # Shape
//!
//! [`Input`] says what the attribute was put on and what it is asked to do:
//!
//! - [`Input::Struct`]: a struct with named fields, as a [`Struct`] whose [`Field`]s are each
//!   sorted by their type (`Gc<T>` and `Option<Gc<T>>` are slots, see `crate::types`), with
//!   the constructor the arguments ask for;
//! - [`Input::Code`]: an impl block, a function or an inline module, as [`Code`]: the
//!   registries of the `#[gc]` structs whose slots it assigns, still to be asked, and the slot
//!   names gathered from those already asked;
//! - [`Input::Rejected`]: anything `#[gc]` cannot expand. Each kind of item gets here for one
//!   reason, which `valid` puts into words, and `fallback` gives the item a stand-in.
//!
//! Every node borrows from the item, so later stages can point errors and generated code at the
//! user's own tokens.
//!
//! # What is reported here
//!
//! Building the IR reports what is wrong with the attribute itself: a second `#[gc]` on the
//! item, and the arguments, which `args` parses for the item's kind. Everything that needs the
//! item (a field's type, a missing list of structs, an unsupported kind) is left to `valid`, so
//! the IR also carries what is wrong with the item, for `valid` to report and for `expand` to
//! repair: the lifetime on a `Gc<'a, T>` field, a `Gc` nested in another type, a `#[gc]` on a
//! field, a `#[derive(Trace)]`, a `#[trace(skip)]` on a slot.

use proc_macro2::TokenStream;
use syn::{Attribute, Fields, Ident, Item, ItemStruct, Path, Type, TypePath};

use super::{
    args::{self, Constructor, Target},
    attr::{self, cfgs_of, derive_trace_paths, is_gc_attr, item_attrs, trace_bound, trace_skip},
};
use crate::{
    ctxt::Ctxt,
    types::{classify, without_gc, FieldType, Slot},
};

/// What `#[gc]` was put on, with its arguments.
pub(crate) enum Input<'a> {
    /// A struct with named fields, and the constructor to generate for it.
    Struct(Struct<'a>, Constructor),
    /// An impl block, a function or an inline module.
    Code(Code<'a>),
    /// Something `#[gc]` cannot expand:
    ///
    /// - a function whose `#[gc]` lists no structs (there is nothing to ask for slot names);
    /// - an impl block whose self type is not a path (`impl T for &Node`), with no list;
    /// - a module without an inline body (`mod m;`);
    /// - any other kind of item (an enum, a tuple struct, a trait, a static, ...).
    Rejected(&'a Item),
}

/// A `#[gc]` struct with named fields.
pub(crate) struct Struct<'a> {
    /// The struct as written.
    pub(crate) original: &'a ItemStruct,
    /// Its named fields, in declaration order.
    pub(crate) fields: Vec<Field<'a>>,
    /// The struct's `#[cfg]`s, copied onto every item generated next to it.
    pub(crate) cfgs: Vec<&'a Attribute>,
    /// Every `Trace` in its `#[derive(...)]`s: a mistake, after which the user's derive is
    /// kept rather than doubled.
    pub(crate) derive_trace: Vec<Path>,
    /// Whether it has a `#[trace(bound = "...")]`, which the derive reads: then the `Trace`
    /// bounds of the constructor are the derive's business too.
    pub(crate) trace_bound: bool,
}

/// One named field.
pub(crate) struct Field<'a> {
    /// The field as written.
    pub(crate) original: &'a syn::Field,
    /// Its name.
    pub(crate) ident: &'a Ident,
    /// How its type is written: a slot or a plain type, and what is wrong with it.
    pub(crate) ty: FieldType<'a>,
    /// A plain field's type as emitted: as written, except that a `Gc` nested in it (a
    /// mistake) becomes `Member`, so the error is not followed by "missing lifetime" ones.
    pub(crate) plain_type: Type,
    /// The paths of the `Gc`s so replaced.
    pub(crate) replaced: Vec<Path>,
    /// `#[gc]` on the field: a mistake; the attribute is dropped.
    pub(crate) gc_attrs: Vec<&'a Attribute>,
    /// The `skip` of a `#[trace(skip)]` on the field: a mistake on a slot, where it is dropped.
    pub(crate) skip: Option<Path>,
    /// Its `#[cfg]`s, copied onto the code generated for it.
    pub(crate) cfgs: Vec<&'a Attribute>,
}

/// Code whose slot assignments `#[gc]` rewrites: an impl block, a function or an inline
/// module.
pub(crate) struct Code<'a> {
    /// The item, an `Item::Impl`, an `Item::Fn` or an `Item::Mod` with a body.
    pub(crate) item: &'a Item,
    /// The `#[gc]` structs whose registries are still to be asked, in order.
    pub(crate) registries: Vec<Path>,
    /// The slot names handed back by the registries already asked.
    pub(crate) slots: Vec<Ident>,
}

impl<'a> Input<'a> {
    /// Builds the IR of `#[gc(args)] item`, removing and reporting a second `#[gc]` on the item,
    /// and reporting misused arguments to `cx`.
    pub(crate) fn from_syn(cx: &Ctxt, args: TokenStream, item: &'a mut Item) -> Self {
        if let Some(attrs) = item_attrs(item) {
            attr::strip_duplicates(cx, attrs);
        }
        let item: &'a Item = item;
        match item {
            Item::Struct(strukt) if matches!(strukt.fields, Fields::Named(_)) => {
                let args = args::parse(cx, args, Target::Struct);
                Input::Struct(Struct::from_syn(strukt), args.constructor)
            }
            Item::Impl(imp) => {
                let mut args = args::parse(cx, args, Target::Impl);
                if !args.from_registry && args.types.is_empty() {
                    // `#[gc] impl Node`: the self type's registry.
                    match self_type_path(&imp.self_ty) {
                        Some(path) => args.types.push(path),
                        None => return Input::Rejected(item),
                    }
                }
                Input::Code(Code { item, registries: args.types, slots: args.slots })
            }
            Item::Fn(_) => {
                let args = args::parse(cx, args, Target::Fn);
                if !args.from_registry && args.types.is_empty() {
                    return Input::Rejected(item);
                }
                Input::Code(Code { item, registries: args.types, slots: args.slots })
            }
            Item::Mod(module) => {
                let args = args::parse(cx, args, Target::Mod);
                if module.content.is_none() {
                    return Input::Rejected(item);
                }
                Input::Code(Code { item, registries: args.types, slots: args.slots })
            }
            item => Input::Rejected(item),
        }
    }
}

impl<'a> Struct<'a> {
    /// Reads `item`, whose fields must be named. Reports nothing: what is wrong is kept in the
    /// IR for `valid`.
    pub(crate) fn from_syn(item: &'a ItemStruct) -> Self {
        let fields = item
            .fields
            .iter()
            .filter_map(|field| {
                let ident = field.ident.as_ref()?;
                let ty = classify(&field.ty);
                let (plain_type, replaced) = match ty {
                    FieldType::Slot { .. } => (field.ty.clone(), Vec::new()),
                    _ => without_gc(&field.ty),
                };
                Some(Field {
                    original: field,
                    ident,
                    ty,
                    plain_type,
                    replaced,
                    gc_attrs: field.attrs.iter().filter(|attr| is_gc_attr(attr)).collect(),
                    skip: field.attrs.iter().find_map(trace_skip),
                    cfgs: cfgs_of(&field.attrs),
                })
            })
            .collect();
        Struct {
            original: item,
            fields,
            cfgs: cfgs_of(&item.attrs),
            derive_trace: derive_trace_paths(&item.attrs),
            trace_bound: item.attrs.iter().any(|attr| trace_bound(attr).is_some()),
        }
    }

    /// The slot fields' names, for the registry and for a module's rewrite.
    pub(crate) fn slot_names(&self) -> impl Iterator<Item = &'a Ident> + '_ {
        self.fields.iter().filter(|field| field.slot().is_some()).map(|field| field.ident)
    }
}

impl<'a> Field<'a> {
    /// `Some` if the field is a slot.
    pub(crate) fn slot(&self) -> Option<&Slot<'a>> {
        match &self.ty {
            FieldType::Slot { slot, .. } => Some(slot),
            FieldType::MalformedGc { .. } | FieldType::Plain { .. } => None,
        }
    }
}

/// The path of an impl's self type (`Node<T>` is `Node`), if it is a plain path.
fn self_type_path(ty: &Type) -> Option<Path> {
    match ty {
        Type::Path(TypePath { qself: None, path }) if path.segments.last()?.ident != "Self" => Some(path.clone()),
        Type::Group(group) => self_type_path(&group.elem),
        Type::Paren(paren) => self_type_path(&paren.elem),
        _ => None,
    }
}
