//! Parsing of the arguments in `#[gc(...)]`.
//!
//! # Grammar, by the item the attribute is on
//!
//! | item          | accepted arguments                                         |
//! | ------------- | ---------------------------------------------------------- |
//! | struct        | `constructor = "name"`, `no_constructor`                   |
//! | impl block    | a list of `#[gc]` struct types, e.g. `#[gc(Node, a::Leaf)]` |
//! | function      | the same list, which it must have                          |
//! | inline module | the same list, for structs declared outside the module     |
//!
//! Everything else is rejected with a spanned error that names the arguments valid for that
//! item. The registry macros generated for `#[gc]` structs call the attribute back with a
//! hidden form, `__private(slots(a, b), types(C))`, that users never write (see the parent
//! module's docs).
//!
//! # Recovery
//!
//! The list is split at top-level commas first and each argument is read on its own, so one
//! malformed argument does not hide the next one's error.

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use syn::{
    ext::IdentExt,
    parse::{ParseStream, Parser},
    punctuated::Punctuated,
    Ident, LitStr, Path, Token,
};

use crate::{
    ctxt::Ctxt,
    symbol::{CONSTRUCTOR, NO_CONSTRUCTOR, PRIVATE, SLOTS, TYPES},
    util::{path_to_string, take_value},
};

/// The kind of item `#[gc]` was put on: it decides which arguments are valid.
#[derive(Copy, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A struct with named fields.
    Struct,
    /// An `impl` block.
    Impl,
    /// A free function or a method.
    Fn,
    /// An inline module.
    Mod,
}

impl Target {
    /// What this item accepts, for the end of an "unknown argument" message.
    fn accepted(self) -> &'static str {
        match self {
            Target::Struct => "on a struct, #[gc] accepts `constructor = \"name\"` and `no_constructor`",
            Target::Impl => {
                "on an impl block, #[gc(...)] lists the #[gc] structs whose slots it assigns, \
                 as in #[gc(Node)]"
            }
            Target::Fn => {
                "on a function, #[gc(...)] lists the #[gc] structs whose slots it assigns, \
                 as in #[gc(Node)]"
            }
            Target::Mod => {
                "on a module, #[gc(...)] lists the #[gc] structs declared outside it whose slots \
                 it assigns, as in #[gc(Node)]"
            }
        }
    }
}

/// What the constructor of a `#[gc]` struct is called, if there is one.
pub(crate) enum Constructor {
    /// `new`, or the name given with `constructor = "name"`.
    Named(Ident),
    /// `no_constructor`.
    Omitted,
}

/// The parsed arguments of one `#[gc(...)]`.
pub(crate) struct Args {
    /// Struct only: the constructor's name, or that there is none.
    pub(crate) constructor: Constructor,
    /// Impl, function, module: the `#[gc]` structs whose slots the code assigns, in order;
    /// after a registry call, the ones whose registries are still to be asked.
    pub(crate) types: Vec<Path>,
    /// Slot field names handed back by registries (`__private(slots(...))`).
    pub(crate) slots: Vec<Ident>,
    /// Whether this is a registry's call (`__private(...)`), not the user's attribute.
    pub(crate) from_registry: bool,
}

/// One comma-separated argument, before it is checked against the target.
enum RawArg {
    /// `path`
    Bare(Path),
    /// `path = value...`; the value is everything after the `=` up to the next comma.
    NameValue(Path, TokenStream),
    /// `path(...)`
    List(Path),
    /// `__private(slots(...), types(...))`, with the `__private` keyword for its span.
    Private(Ident, Vec<Ident>, Vec<Path>),
}

/// Parses the tokens inside `#[gc(...)]` for an item of kind `target`, reporting misuse to
/// `cx`. Never fails: what could not be read is reported and left out.
pub(crate) fn parse(cx: &Ctxt, tokens: TokenStream, target: Target) -> Args {
    let mut args = Args {
        constructor: Constructor::Named(Ident::new("new", proc_macro2::Span::call_site())),
        types: Vec::new(),
        slots: Vec::new(),
        from_registry: false,
    };
    let mut seen_constructor: Option<Path> = None;
    let parser = |input: ParseStream<'_>| -> syn::Result<()> {
        while !input.is_empty() {
            let arg = take_value(input)?;
            if arg.is_empty() {
                // `#[gc(,)]` or `#[gc(a,,b)]`; a single trailing comma ends the loop below.
                return Err(input.error("expected a #[gc] argument before this comma"));
            }
            match parse_raw(arg) {
                Ok(raw) => apply(cx, &mut args, &mut seen_constructor, raw, target),
                Err(err) => cx.syn_error(err),
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(())
    };
    if let Err(err) = parser.parse2(tokens) {
        cx.syn_error(err);
    }
    args
}

/// Reads one argument's tokens into its shape.
fn parse_raw(tokens: TokenStream) -> syn::Result<RawArg> {
    let parser = |input: ParseStream<'_>| -> syn::Result<RawArg> {
        if input.peek(Ident::peek_any) && input.fork().call(Ident::parse_any)? == PRIVATE {
            let keyword = input.call(Ident::parse_any)?;
            let content;
            syn::parenthesized!(content in input);
            return parse_private(keyword, &content);
        }
        if !(input.peek(Ident::peek_any) || input.peek(Token![::])) {
            return Err(input.error(
                "expected a #[gc] argument: a struct type such as `Node`, \
                 `constructor = \"name\"` or `no_constructor`",
            ));
        }
        // `Path`'s parser takes generic arguments too (`Node<T>`).
        let path: Path = input.parse()?;
        if input.is_empty() {
            return Ok(RawArg::Bare(path));
        }
        if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            return Ok(RawArg::NameValue(path, input.parse()?));
        }
        if let Some((TokenTree::Group(group), _)) = input.cursor().token_tree() {
            if group.delimiter() == Delimiter::Parenthesis {
                input.parse::<TokenTree>()?;
                if input.is_empty() {
                    return Ok(RawArg::List(path));
                }
            }
        }
        Err(input.error("unexpected tokens in #[gc] argument; arguments are separated by commas"))
    };
    parser.parse2(tokens)
}

/// `slots(a, b, ...), types(A, B, ...)`, as a registry writes it.
fn parse_private(keyword: Ident, input: ParseStream<'_>) -> syn::Result<RawArg> {
    let mut slots = Vec::new();
    let mut types = Vec::new();
    while !input.is_empty() {
        let key = input.call(Ident::parse_any)?;
        let content;
        syn::parenthesized!(content in input);
        if key == SLOTS {
            slots.extend(Punctuated::<Ident, Token![,]>::parse_terminated_with(&content, Ident::parse_any)?);
        } else if key == TYPES {
            types.extend(Punctuated::<Path, Token![,]>::parse_terminated(&content)?);
        } else {
            return Err(syn::Error::new(
                key.span(),
                format_args!(
                    "`{key}` is not a key of `__private`, which is #[gc]'s own (its expansion passes \
                     a struct's slots along in it); remove `__private(...)` and list the #[gc] structs \
                     instead: #[gc(Node, ...)]"
                ),
            ));
        }
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
    }
    Ok(RawArg::Private(keyword, slots, types))
}

/// Checks one argument against `target` and records it in `args`.
fn apply(cx: &Ctxt, args: &mut Args, seen_constructor: &mut Option<Path>, raw: RawArg, target: Target) {
    match raw {
        RawArg::Private(_, slots, types) if target != Target::Struct => {
            args.from_registry = true;
            args.slots.extend(slots);
            args.types.extend(types);
        }
        RawArg::Private(keyword, ..) => {
            cx.error_spanned_by(keyword, format_args!("unknown #[gc] argument `__private`; {}", target.accepted()));
        }
        RawArg::Bare(path) if path == NO_CONSTRUCTOR || path == CONSTRUCTOR => {
            if target != Target::Struct {
                struct_only(cx, &path, target);
            } else if path == CONSTRUCTOR {
                cx.error_spanned_by(&path, "`constructor` needs a name: write #[gc(constructor = \"make\")]");
            } else if check_first_constructor(cx, seen_constructor, &path) {
                args.constructor = Constructor::Omitted;
            }
        }
        RawArg::Bare(path) if target == Target::Struct => unknown(cx, &path, target),
        RawArg::Bare(path) => args.types.push(path),
        RawArg::NameValue(path, value) if path == CONSTRUCTOR => {
            if target != Target::Struct {
                struct_only(cx, &path, target);
            } else if let Some(name) = constructor_name(cx, &path, &value) {
                if check_first_constructor(cx, seen_constructor, &path) {
                    args.constructor = Constructor::Named(name);
                }
            }
        }
        RawArg::List(path) if path == CONSTRUCTOR && target == Target::Struct => {
            cx.error_spanned_by(&path, "the constructor name is given as #[gc(constructor = \"make\")]");
        }
        RawArg::NameValue(path, _) | RawArg::List(path) => {
            if path == NO_CONSTRUCTOR || path == CONSTRUCTOR {
                if target == Target::Struct {
                    cx.error_spanned_by(&path, "`no_constructor` takes no value: write #[gc(no_constructor)]");
                } else {
                    struct_only(cx, &path, target);
                }
            } else {
                unknown(cx, &path, target);
            }
        }
    }
}

/// Records the first of `constructor = ...` / `no_constructor`; reports any later one.
fn check_first_constructor(cx: &Ctxt, seen: &mut Option<Path>, path: &Path) -> bool {
    match seen {
        None => {
            *seen = Some(path.clone());
            true
        }
        Some(first) if first == path => {
            cx.error_spanned_by(path, format_args!("duplicate `{}` argument in #[gc(...)]", path_to_string(path)));
            false
        }
        Some(_) => {
            cx.error_spanned_by(path, "`constructor` and `no_constructor` cannot be combined; keep one of them");
            false
        }
    }
}

/// The function name in `constructor = "name"`, or `None` after reporting why not.
fn constructor_name(cx: &Ctxt, key: &Path, value: &TokenStream) -> Option<Ident> {
    let mut trees = value.clone().into_iter();
    let (first, second) = (trees.next(), trees.next());
    match (first, second) {
        (Some(TokenTree::Literal(lit)), None) => {
            let Ok(lit) = syn::parse2::<LitStr>(TokenTree::Literal(lit.clone()).into()) else {
                cx.error_spanned_by(lit, "expected the constructor name as a string: #[gc(constructor = \"make\")]");
                return None;
            };
            match syn::parse_str::<Ident>(&lit.value()) {
                Ok(mut ident) => {
                    ident.set_span(lit.span());
                    Some(ident)
                }
                Err(_) => {
                    cx.error_spanned_by(
                        &lit,
                        format_args!(
                            "`{}` is not a valid function name for the constructor; \
                             write an identifier, as in #[gc(constructor = \"make\")]",
                            lit.value()
                        ),
                    );
                    None
                }
            }
        }
        (Some(TokenTree::Ident(ident)), None) => {
            cx.error_spanned_by(
                &ident,
                format_args!(
                    "the constructor name is a string literal: write #[gc(constructor = \"{}\")]",
                    ident.unraw()
                ),
            );
            None
        }
        (None, _) => {
            cx.error_spanned_by(key, "`constructor = ` needs a name: write #[gc(constructor = \"make\")]");
            None
        }
        _ => {
            cx.error_spanned_by(value, "expected the constructor name as a string: #[gc(constructor = \"make\")]");
            None
        }
    }
}

/// Reports `constructor`/`no_constructor` on something other than a struct.
fn struct_only(cx: &Ctxt, path: &Path, target: Target) {
    cx.error_spanned_by(
        path,
        format_args!("`{}` only applies to #[gc] on a struct; {}", path_to_string(path), target.accepted()),
    );
}

/// Reports an argument `target` does not know.
fn unknown(cx: &Ctxt, path: &Path, target: Target) {
    cx.error_spanned_by(path, format_args!("unknown #[gc] argument `{}`; {}", path_to_string(path), target.accepted()));
}
