//! Typed IR of a `#[derive(Trace)]` input.
//!
//! # Shape
//!
//! [`Input`] is the item, [`Data`] says whether it is a struct or an enum, and each struct or
//! variant is a list of [`Field`]s in declaration order with their [`Style`]. Every node keeps
//! an `original` reference into the `syn` tree, so later stages can point errors and generated
//! code at the user's own tokens.
//!
//! # What is rejected here
//!
//! Building the IR parses the attributes (`attr`): `#[trace(skip)]` on fields and
//! `#[trace(bound = "...")]` on the type. It rejects `#[trace(...)]` on a variant, and unions, which have no IR: the derive cannot know which union
//! field is live, so it cannot trace one. Checks that need the whole field (its type and its
//! attributes together) live in `valid`.

use syn::{spanned::Spanned, DeriveInput, Fields, Ident, Index, Member, Type};

use super::attr::{self, ContainerAttrs, FieldAttrs};
use crate::{ctxt::Ctxt, types::needs_trace_can_be_read};

/// A struct or enum that `#[derive(Trace)]` was applied to.
pub(crate) struct Input<'a> {
    /// The whole item, for its name and generics.
    pub(crate) original: &'a DeriveInput,
    /// The struct's fields or the enum's variants.
    pub(crate) data: Data<'a>,
    /// What its own `#[trace(...)]` attributes asked for.
    pub(crate) attrs: ContainerAttrs,
}

/// The body of an [`Input`].
pub(crate) enum Data<'a> {
    /// A struct, with its fields.
    Struct(Struct<'a>),
    /// An enum, with its variants.
    Enum(Enum<'a>),
}

/// The fields of a struct.
pub(crate) struct Struct<'a> {
    /// Named, tuple or unit.
    pub(crate) style: Style,
    /// In declaration order.
    pub(crate) fields: Vec<Field<'a>>,
}

/// The variants of an enum.
pub(crate) struct Enum<'a> {
    /// In declaration order; may be empty.
    pub(crate) variants: Vec<Variant<'a>>,
}

/// One enum variant.
pub(crate) struct Variant<'a> {
    /// The variant as written, for its name.
    pub(crate) original: &'a syn::Variant,
    /// Named, tuple or unit.
    pub(crate) style: Style,
    /// In declaration order.
    pub(crate) fields: Vec<Field<'a>>,
}

/// One field of a struct or a variant.
pub(crate) struct Field<'a> {
    /// The field as written, for its type and span.
    pub(crate) original: &'a syn::Field,
    /// How a pattern names the field: its identifier or its tuple index.
    pub(crate) member: Member,
    /// What its `#[trace(...)]` attributes asked for.
    pub(crate) attrs: FieldAttrs,
}

/// The derived `NEEDS_TRACE`, as [`Input::needs_trace`] decides it.
pub(crate) enum NeedsTrace<'a> {
    /// No field is traced: `false`.
    Never,
    /// Some traced field's type is not one whose constant may be read: `true`.
    Always,
    /// The `||` of these types' own `NEEDS_TRACE`: the distinct types of the traced fields, in
    /// declaration order.
    AnyOf(Vec<&'a Type>),
}

/// How the fields of a struct or variant are written, which decides the pattern syntax.
#[derive(Copy, Clone, PartialEq, Eq)]
pub(crate) enum Style {
    /// `{ a: A, b: B }`
    Named,
    /// `(A, B)`
    Tuple,
    /// No fields and no delimiters.
    Unit,
}

impl<'a> Input<'a> {
    /// Builds the IR, reporting misuse to `cx`.
    ///
    /// Returns `None` only for a union, after reporting it to `cx`.
    pub(crate) fn from_syn(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let (data, kind) = match &input.data {
            syn::Data::Struct(data) => {
                let (style, fields) = fields_from_syn(cx, &data.fields);
                (Data::Struct(Struct { style, fields }), "a struct")
            }
            syn::Data::Enum(data) => {
                let variants = data.variants.iter().map(|variant| Variant::from_syn(cx, variant)).collect();
                (Data::Enum(Enum { variants }), "an enum")
            }
            syn::Data::Union(data) => {
                cx.error_spanned_by(
                    data.union_token,
                    "#[derive(Trace)] does not support unions; the collector cannot tell which \
                     field is live, so use an enum, or write an `unsafe impl Trace` by hand",
                );
                return None;
            }
        };
        let attrs = attr::container_attrs(cx, &input.attrs, kind);
        Some(Input { original: input, data, attrs })
    }

    /// Every field of the input, across all variants, in declaration order.
    pub(crate) fn fields(&self) -> Box<dyn Iterator<Item = &Field<'a>> + '_> {
        match &self.data {
            Data::Struct(data) => Box::new(data.fields.iter()),
            Data::Enum(data) => Box::new(data.variants.iter().flat_map(|v| v.fields.iter())),
        }
    }

    /// What the derived `NEEDS_TRACE` is made of.
    ///
    /// Skipped fields count for nothing. A traced field contributes its type's own
    /// `NEEDS_TRACE` when [`needs_trace_can_be_read`] allows it (its type is built only from
    /// primitives, this input's type parameters and std types whose impls forward to their
    /// arguments), and `true` otherwise. Both are sound: the field's impl is. Only the first
    /// could make a recursive type's constant depend on itself (rustc E0391), and the
    /// restriction rules that out: such a constant depends only on the constants of the type
    /// arguments, which are strictly smaller types, so the evaluation always ends. Recursion
    /// has to go through a path off the list (the type's own name, a user type, an alias),
    /// which contributes `true`. `needs_trace_can_be_read` has the details, and the holes
    /// name matching leaves.
    pub(crate) fn needs_trace(&self) -> NeedsTrace<'_> {
        let generics = &self.original.generics;
        let params: Vec<&Ident> = generics.type_params().map(|param| &param.ident).collect();
        let mut read: Vec<&Type> = Vec::new();
        for field in self.fields().filter(|field| field.is_traced()) {
            if !needs_trace_can_be_read(field.ty(), &params, &self.original.ident) {
                return NeedsTrace::Always;
            }
            // `a: u32, b: u32` reads `u32` once (`extra-traits`' equality ignores spans).
            if !read.contains(&field.ty()) {
                read.push(field.ty());
            }
        }
        if read.is_empty() {
            NeedsTrace::Never
        } else {
            NeedsTrace::AnyOf(read)
        }
    }

    /// Whether any field is traced, so that `trace` has something to do.
    pub(crate) fn has_traced_field(&self) -> bool {
        self.fields().any(Field::is_traced)
    }
}

impl<'a> Variant<'a> {
    /// Builds one variant, rejecting `#[trace(...)]` on the variant itself.
    fn from_syn(cx: &Ctxt, variant: &'a syn::Variant) -> Self {
        attr::reject_on_variant(cx, &variant.attrs);
        let (style, fields) = fields_from_syn(cx, &variant.fields);
        Variant { original: variant, style, fields }
    }
}

impl Field<'_> {
    /// Whether `trace` visits this field (it has no `#[trace(skip)]`).
    pub(crate) fn is_traced(&self) -> bool {
        self.attrs.skip.is_none()
    }

    /// The field's type as written.
    pub(crate) fn ty(&self) -> &Type {
        &self.original.ty
    }
}

/// The style and the fields of a struct or variant body.
fn fields_from_syn<'a>(cx: &Ctxt, fields: &'a Fields) -> (Style, Vec<Field<'a>>) {
    let style = match fields {
        Fields::Named(_) => Style::Named,
        Fields::Unnamed(_) => Style::Tuple,
        Fields::Unit => Style::Unit,
    };
    let fields = fields
        .iter()
        .enumerate()
        .map(|(i, field)| Field {
            original: field,
            member: match &field.ident {
                Some(ident) => Member::Named(ident.clone()),
                None => Member::Unnamed(Index { index: u32::try_from(i).unwrap_or(u32::MAX), span: field.span() }),
            },
            attrs: attr::field_attrs(cx, &field.attrs),
        })
        .collect();
    (style, fields)
}
