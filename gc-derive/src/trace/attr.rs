//! Parsing of the `#[trace(...)]` helper attribute.
//!
//! # Grammar
//!
//! Two forms are accepted: `#[trace(skip)]` on a field, and `#[trace(bound = "...")]` on the
//! struct or enum itself, whose string is a comma-separated list of where-predicates (possibly
//! empty) that replaces the automatic `T: Trace` bounds. Everything else is rejected with a
//! spanned error that says what to write instead:
//!
//! | written                                    | error points at    |
//! | ------------------------------------------ | ------------------ |
//! | `#[trace]`, `#[trace = ...]`               | the attribute      |
//! | `#[trace()]`                               | the attribute      |
//! | `#[trace(foo)]`                            | `foo`              |
//! | `#[trace(skip = ...)]`, `skip(...)`        | the value          |
//! | `skip` twice on one field                  | the second `skip`  |
//! | `skip` on a type                           | `skip`             |
//! | `bound` twice on one type                  | the second `bound` |
//! | `bound`, `bound(...)`, `bound = T`         | the value, or `bound` if none |
//! | `bound = "not a predicate"`                | the string         |
//! | `bound` on a field                         | `bound`            |
//! | `#[trace(...)]` on a variant               | the attribute, or `bound` in it |
//!
//! # Recovery
//!
//! Parsing goes on after an error so that one compile reports every mistake: a rejected
//! argument's value is skipped up to the next top-level `,`, and the rest of the list is still
//! read. Only a malformed list (say `#[trace(skip skip)]`) stops at its first error, which
//! `syn` reports.

use proc_macro2::{TokenStream, TokenTree};
use syn::{meta::ParseNestedMeta, punctuated::Punctuated, Attribute, LitStr, Meta, Path, Token, WherePredicate};

use crate::{
    ctxt::Ctxt,
    symbol::{BOUND, SKIP, TRACE},
    util::{path_to_string, take_value},
};

/// What the `#[trace(...)]` attributes on one field asked for.
#[derive(Default)]
pub(crate) struct FieldAttrs {
    /// The `skip` of `#[trace(skip)]`, kept for its span; `None` if the field is traced.
    pub(crate) skip: Option<Path>,
}

/// What the `#[trace(...)]` attributes on the struct or enum itself asked for.
#[derive(Default)]
pub(crate) struct ContainerAttrs {
    /// The predicates of `#[trace(bound = "...")]`, which replace the automatic `T: Trace`
    /// bounds; `None` if the attribute is absent, so every type parameter is bounded.
    pub(crate) bound: Option<Punctuated<WherePredicate, Token![,]>>,
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
    if meta.path == BOUND {
        take_value(meta.input)?;
        cx.error_spanned_by(&meta.path, bound_not_on_type("a field"));
        return Ok(());
    }
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

/// Parses the `#[trace(...)]` attributes on the struct or enum itself, reporting misuse to
/// `cx`; `kind` (`"a struct"`, `"an enum"`) names the item in messages.
pub(crate) fn container_attrs(cx: &Ctxt, attrs: &[Attribute], kind: &str) -> ContainerAttrs {
    let mut parsed = ContainerAttrs::default();
    let hint = "write #[trace(bound = \"...\")] to replace the automatic `T: Trace` bounds, \
                or put #[trace(skip)] on each field that should not be traced";
    for attr in attrs.iter().filter(|attr| attr.path() == TRACE) {
        match &attr.meta {
            Meta::Path(_) => cx.error_spanned_by(&attr.meta, format_args!("#[trace] needs an argument; {hint}")),
            Meta::NameValue(_) => {
                cx.error_spanned_by(&attr.meta, format_args!("#[trace = ...] is not supported; {hint}"));
            }
            Meta::List(list) if list.tokens.is_empty() => {
                cx.error_spanned_by(
                    &attr.meta,
                    format_args!("empty #[trace()] attribute; {hint}, or remove the attribute"),
                );
            }
            Meta::List(_) => {
                let result = attr.parse_nested_meta(|meta| parse_container_arg(cx, &mut parsed, &meta, kind));
                if let Err(err) = result {
                    cx.syn_error(err);
                }
            }
        }
    }
    parsed
}

/// Parses one argument inside `#[trace(...)]` on the struct or enum, as [`parse_field_arg`]
/// does on a field.
fn parse_container_arg(
    cx: &Ctxt,
    parsed: &mut ContainerAttrs,
    meta: &ParseNestedMeta<'_>,
    kind: &str,
) -> syn::Result<()> {
    let value = take_value(meta.input)?;
    if meta.path == SKIP {
        cx.error_spanned_by(
            &meta.path,
            format_args!(
                "#[trace(skip)] is only allowed on fields, not on {kind}; \
                 put #[trace(skip)] on each field that should not be traced"
            ),
        );
    } else if meta.path != BOUND {
        cx.error_spanned_by(
            &meta.path,
            format_args!(
                "unknown trace attribute `{}` on {kind}; the only attribute on the type is \
                 #[trace(bound = \"...\")], and fields take #[trace(skip)]",
                path_to_string(&meta.path),
            ),
        );
    } else if parsed.bound.is_some() {
        cx.error_spanned_by(
            &meta.path,
            format_args!(
                "duplicate #[trace(bound = \"...\")] on {kind}; write all the predicates in one \
                 string, separated by commas"
            ),
        );
    } else if let Some(bound) = parse_bound(cx, &meta.path, value) {
        parsed.bound = Some(bound);
    }
    Ok(())
}

/// The predicates of `bound = "..."`, given the tokens after `bound`; `None` after reporting
/// a value that is missing, not a string literal, or not where-predicates.
fn parse_bound(cx: &Ctxt, path: &Path, value: TokenStream) -> Option<Punctuated<WherePredicate, Token![,]>> {
    let example = "write the where-predicates as a string, such as #[trace(bound = \"T: Trace\")], \
                   or #[trace(bound = \"\")] for no bounds";
    let mut tokens = value.clone().into_iter();
    let literal = match tokens.next() {
        None => {
            cx.error_spanned_by(path, format_args!("#[trace(bound)] needs a value; {example}"));
            return None;
        }
        Some(TokenTree::Punct(eq)) if eq.as_char() == '=' => tokens.collect::<TokenStream>(),
        Some(_) => {
            cx.error_spanned_by(value, format_args!("expected `=` after `bound`; {example}"));
            return None;
        }
    };
    // `syn::parse2` fails on anything but exactly one string literal, which also rejects
    // `bound = "a" "b"` and byte strings.
    let Ok(literal) = syn::parse2::<LitStr>(literal.clone()) else {
        let shown = if literal.is_empty() { value } else { literal };
        cx.error_spanned_by(shown, format_args!("#[trace(bound = ...)] takes a string literal; {example}"));
        return None;
    };
    match literal.parse_with(Punctuated::<WherePredicate, Token![,]>::parse_terminated) {
        Ok(bound) => Some(bound),
        Err(err) => {
            cx.error_spanned_by(
                &literal,
                format_args!(
                    "#[trace(bound = \"...\")] is not a list of where-predicates: {err}; \
                     write predicates separated by commas, such as \"T: Trace, U: Clone\""
                ),
            );
            None
        }
    }
}

/// The message for `bound` written somewhere other than on the type; `place` is where.
fn bound_not_on_type(place: &str) -> String {
    format!(
        "#[trace(bound = \"...\")] is only allowed on the struct or enum itself, not on {place}; \
         move it onto the type"
    )
}

/// Rejects every `#[trace(...)]` on an enum variant, where no argument is allowed.
///
/// A `bound` in it gets its own message, at `bound`, since the fix (move it onto the enum)
/// differs from that for a `skip` (put it on the fields).
pub(crate) fn reject_on_variant(cx: &Ctxt, attrs: &[Attribute]) {
    for attr in attrs.iter().filter(|attr| attr.path() == TRACE) {
        let mut bound = None;
        // A malformed list is reported by the generic message below; only `bound` is sought.
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path == BOUND && bound.is_none() {
                bound = Some(meta.path.clone());
            }
            take_value(meta.input).map(drop)
        });
        match bound {
            Some(bound) => cx.error_spanned_by(bound, bound_not_on_type("an enum variant")),
            None => cx.error_spanned_by(
                &attr.meta,
                "#[trace(...)] is only allowed on fields, not on an enum variant; \
                 put #[trace(skip)] on each field that should not be traced",
            ),
        }
    }
}
