//! Parsing of the `#[trace(...)]` helper attribute.
//!
//! # Grammar
//!
//! The only accepted form is `#[trace(skip)]` on a field. Everything else is rejected with a
//! spanned error that says what to write instead:
//!
//! | written                               | error points at   |
//! | ------------------------------------- | ----------------- |
//! | `#[trace]`, `#[trace = ...]`          | the attribute     |
//! | `#[trace()]`                          | the attribute     |
//! | `#[trace(foo)]`                       | `foo`             |
//! | `#[trace(skip = ...)]`, `skip(...)`   | the value         |
//! | `skip` twice on one field             | the second `skip` |
//! | `#[trace(...)]` on a type or variant  | the attribute     |
//!
//! # Recovery
//!
//! Parsing goes on after an error so that one compile reports every mistake: a rejected
//! argument's value is skipped up to the next top-level `,`, and the rest of the list is still
//! read. Only a malformed list (say `#[trace(skip skip)]`) stops at its first error, which
//! `syn` reports.

use syn::{meta::ParseNestedMeta, Attribute, Meta, Path};

use crate::{
    ctxt::Ctxt,
    symbol::{SKIP, TRACE},
    util::{path_to_string, take_value},
};

/// What the `#[trace(...)]` attributes on one field asked for.
#[derive(Default)]
pub(crate) struct FieldAttrs {
    /// The `skip` of `#[trace(skip)]`, kept for its span; `None` if the field is traced.
    pub(crate) skip: Option<Path>,
}

/// Where a `#[trace(...)]` that is not on a field was found, for the error message.
#[derive(Copy, Clone)]
pub(crate) enum NotAField {
    /// On the struct or enum itself.
    Container(&'static str),
    /// On an enum variant.
    Variant,
}

/// Parses the `#[trace(...)]` attributes of one field, reporting misuse to `cx`.
pub(crate) fn field_attrs(cx: &Ctxt, attrs: &[Attribute]) -> FieldAttrs {
    let mut parsed = FieldAttrs::default();
    for attr in attrs.iter().filter(|attr| attr.path() == TRACE) {
        match &attr.meta {
            Meta::Path(_) => cx.error_spanned_by(
                &attr.meta,
                "#[trace] needs an argument; write #[trace(skip)] to leave this field untraced",
            ),
            Meta::NameValue(_) => cx.error_spanned_by(
                &attr.meta,
                "#[trace = ...] is not supported; write #[trace(skip)] to leave this field untraced",
            ),
            Meta::List(list) if list.tokens.is_empty() => cx.error_spanned_by(
                &attr.meta,
                "empty #[trace()] attribute; write #[trace(skip)] to leave this field untraced, \
                 or remove the attribute",
            ),
            Meta::List(_) => {
                let result = attr.parse_nested_meta(|meta| parse_field_arg(cx, &mut parsed, &meta));
                if let Err(err) = result {
                    cx.syn_error(err);
                }
            }
        }
    }
    parsed
}

/// Parses one argument inside `#[trace(...)]` on a field.
///
/// Misuse is reported to `cx` and `Ok` returned, so the following arguments are still read;
/// `Err` is left for malformed token streams, which stop the list.
fn parse_field_arg(cx: &Ctxt, parsed: &mut FieldAttrs, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.path != SKIP {
        take_value(meta.input)?;
        cx.error_spanned_by(
            &meta.path,
            format_args!(
                "unknown trace attribute `{}`; the only field attribute is #[trace(skip)]",
                path_to_string(&meta.path),
            ),
        );
        return Ok(());
    }
    let value = take_value(meta.input)?;
    if !value.is_empty() {
        cx.error_spanned_by(value, "#[trace(skip)] takes no value; write #[trace(skip)]");
    } else if parsed.skip.is_some() {
        cx.error_spanned_by(&meta.path, "duplicate #[trace(skip)] attribute on this field; remove one of them");
    } else {
        parsed.skip = Some(meta.path.clone());
    }
    Ok(())
}

/// Rejects every `#[trace(...)]` in `attrs`, which belong to something other than a field.
pub(crate) fn reject_not_on_field(cx: &Ctxt, attrs: &[Attribute], place: NotAField) {
    let place = match place {
        NotAField::Container(kind) => kind,
        NotAField::Variant => "an enum variant",
    };
    for attr in attrs.iter().filter(|attr| attr.path() == TRACE) {
        cx.error_spanned_by(
            &attr.meta,
            format_args!(
                "#[trace(...)] is only allowed on fields, not on {place}; \
                 put #[trace(skip)] on each field that should not be traced"
            ),
        );
    }
}
