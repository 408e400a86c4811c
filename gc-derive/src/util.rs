//! Small helpers shared by `#[derive(Trace)]` and `#[gc]`.
//!
//! # Attribute argument scanning
//!
//! [`take_value`] lets an argument parser skip whatever follows a rejected key, so one compile
//! reports every mistake in an argument list instead of stopping at the first.
//!
//! # Recognising attributes and types by name
//!
//! The macros see tokens, not resolved paths, so they recognise `#[gc]`, `Gc<T>` or
//! `derive(Trace)` by the last segment of a path ([`last_ident_is`]): `Gc`,
//! `gc_runtime::Gc` and `::gc_runtime::Gc` all match. A user type of the same name is
//! therefore taken for ours; the crate docs say so.

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::{parse::ParseStream, Attribute, Path};

use crate::symbol::{Symbol, CFG, CFG_ATTR};

/// Consumes the tokens after an argument's path up to the next top-level `,` (or the end),
/// returning them: empty for a bare `skip`, `= value` or `(...)` otherwise.
///
/// Commas inside delimiters are part of a single token tree and do not stop the scan.
pub(crate) fn take_value(input: ParseStream<'_>) -> syn::Result<TokenStream> {
    input.step(|cursor| {
        let mut taken = TokenStream::new();
        let mut rest = *cursor;
        while let Some((tree, next)) = rest.token_tree() {
            if matches!(&tree, TokenTree::Punct(punct) if punct.as_char() == ',') {
                break;
            }
            tree.to_tokens(&mut taken);
            rest = next;
        }
        Ok((taken, rest))
    })
}

/// `a::b` for display in a message, without the spaces `quote` would put around `::`.
pub(crate) fn path_to_string(path: &Path) -> String {
    let segments = path.segments.iter().map(|segment| segment.ident.to_string());
    let joined = segments.collect::<Vec<_>>().join("::");
    if path.leading_colon.is_some() {
        format!("::{joined}")
    } else {
        joined
    }
}

/// Whether the last segment of `path` is `word` (`Gc`, `a::Gc` and `::a::Gc` all are `Gc`).
pub(crate) fn last_ident_is(path: &Path, word: Symbol) -> bool {
    path.segments.last().is_some_and(|segment| segment.ident == word)
}

/// Whether `attr` is a `#[cfg(...)]`, or a `#[cfg_attr(...)]` that can only produce `cfg`s.
///
/// These are the attributes `#[gc]` copies from a field or an item onto the code it generates
/// for it, so that code disappears with it. Any other `cfg_attr` (say
/// `#[cfg_attr(feature = "serde", serde(skip))]`) stays where the user wrote it: what it
/// produces may not be allowed on a function parameter or a statement.
pub(crate) fn is_cfg_only(attr: &Attribute) -> bool {
    if attr.path() == CFG {
        return true;
    }
    if attr.path() != CFG_ATTR {
        return false;
    }
    // `cfg_attr(predicate, attr, attr, ...)`: every produced attribute must itself be a `cfg`
    // or a cfg-only `cfg_attr`.
    let Ok(list) = attr.meta.require_list() else {
        return false;
    };
    let Ok(items) = list.parse_args_with(syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated)
    else {
        return false;
    };
    let mut produced = items.iter().skip(1).peekable();
    produced.peek().is_some()
        && produced.all(|meta| {
            let attr = Attribute {
                pound_token: attr.pound_token,
                style: attr.style,
                bracket_token: attr.bracket_token,
                meta: meta.clone(),
            };
            is_cfg_only(&attr)
        })
}
