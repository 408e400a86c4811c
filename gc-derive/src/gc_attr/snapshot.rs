//! Expansion snapshots: what `#[gc]` turns each file in `ui-tests/tests/expand/` into.
//!
//! # Why not macrotest
//!
//! macrotest needs `cargo expand` and a nightly compiler; the machines this project runs on
//! have one stable toolchain. So this test runs the attribute's own entry point,
//! [`super::expand`], on the items of each input file, formats the result with prettyplease,
//! and compares it with the committed `<name>.expanded.rs`. `GC_BLESS=1` rewrites the
//! snapshots instead:
//!
//! ```text
//! GC_BLESS=1 cargo test -p gc-derive --lib snapshot
//! ```
//!
//! # What is expanded
//!
//! Every item with a `#[gc]` attribute, at any depth of inline modules, and then, as the
//! compiler would, every registry call (`__gc_slots_Node! { .. }`) and every `#[gc]` left in
//! the output. A registry is emulated from the `#[gc]` structs declared in the same file: it
//! hands their slot names back to `#[gc(__private(..))]` exactly as the generated
//! `macro_rules!` does. So a snapshot shows the final code: each rewritten assignment as a
//! `::gc_runtime::__private::assign(..)` call. Other macros (`#[derive(::gc_runtime::Trace)]`,
//! `println!`, ...) are left unexpanded. Hygiene is not visible in the text: the constructor's
//! `mu`, for one, is a mixed-site identifier that cannot clash with a field of that name.
//!
//! The input files are also compiled and run by `ui-tests/tests/expandtest.rs`, so every
//! snapshot is the expansion of a working program.

use std::{collections::BTreeMap, env, fmt::Write as _, fs, path::Path};

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use quote::{quote, ToTokens};
use syn::{ext::IdentExt, Attribute, Fields, Ident, ImplItem, Item, ItemImpl, Meta};

use super::{
    ast::Struct,
    attr::{is_gc_attr, item_attrs},
};

/// The folder of the inputs and snapshots, in the `ui-tests` crate.
const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui-tests/tests/expand");

#[test]
fn gc_expansions_match_snapshots() {
    let bless = env::var_os("GC_BLESS").is_some();
    let mut inputs: Vec<_> = fs::read_dir(DIR)
        .expect("ui-tests/tests/expand exists")
        .map(|entry| entry.expect("readable directory").path())
        .filter(|path| {
            let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default();
            name.ends_with(".rs") && !name.ends_with(".expanded.rs")
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no expansion inputs in {DIR}");

    let mut stale = String::new();
    for input in &inputs {
        let source = fs::read_to_string(input).expect("readable input");
        let expanded = expand_file(&source);
        let snapshot = input.with_extension("expanded.rs");
        if bless {
            fs::write(&snapshot, &expanded).expect("writable snapshot");
        } else if fs::read_to_string(&snapshot).ok().as_deref() != Some(expanded.as_str()) {
            let _ = writeln!(stale, "{}: expansion differs from {}", input.display(), file_name(&snapshot));
            let _ = writeln!(stale, "--- expected ---\n{expanded}");
        }
    }
    assert!(
        stale.is_empty(),
        "{stale}\nre-bless with `GC_BLESS=1 cargo test -p gc-derive --lib snapshot` and review the diff"
    );
}

/// The file name of `path`, for messages.
fn file_name(path: &Path) -> String {
    path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The pretty-printed expansion of one input file.
fn expand_file(source: &str) -> String {
    let file = syn::parse_file(source).expect("expansion input parses");
    let mut registries = BTreeMap::new();
    collect_registries(&file.items, &mut registries);
    let items = Expander { registries }.items(file.items);
    prettyplease::unparse(&syn::File { shebang: None, attrs: file.attrs, items })
}

/// The slot names of every `#[gc]` struct in `items`, at any depth of inline modules.
fn collect_registries(items: &[Item], registries: &mut BTreeMap<String, Vec<Ident>>) {
    for item in items {
        match item {
            Item::Struct(strukt)
                if matches!(strukt.fields, Fields::Named(_)) && strukt.attrs.iter().any(is_gc_attr) =>
            {
                let slots = Struct::from_syn(strukt).slot_names().cloned().collect();
                registries.insert(strukt.ident.unraw().to_string(), slots);
            }
            Item::Mod(module) => {
                if let Some((_, content)) = &module.content {
                    collect_registries(content, registries);
                }
            }
            _ => {}
        }
    }
}

/// Expands `#[gc]` and registry calls until none is left.
struct Expander {
    /// Slot names by struct name, standing in for the `__gc_slots_*` macros.
    registries: BTreeMap<String, Vec<Ident>>,
}

impl Expander {
    /// `items`, each expanded.
    fn items(&self, items: Vec<Item>) -> Vec<Item> {
        items.into_iter().flat_map(|item| self.item(item)).collect()
    }

    /// One item, expanded into the items it becomes.
    fn item(&self, mut item: Item) -> Vec<Item> {
        if let Some(attrs) = item_attrs(&mut item) {
            if let Some(index) = attrs.iter().position(is_gc_attr) {
                let attr = attrs.remove(index);
                return self.reparse(super::expand(args_of(&attr), item.into_token_stream()));
            }
        }
        match item {
            Item::Macro(call) if registry_name(&call.mac.path).is_some() => {
                let name = registry_name(&call.mac.path).unwrap_or_default();
                self.reparse(self.registry(&name, call.mac.tokens))
            }
            Item::Mod(mut module) => {
                if let Some((brace, content)) = module.content.take() {
                    module.content = Some((brace, self.items(content)));
                }
                vec![Item::Mod(module)]
            }
            Item::Impl(imp) => vec![Item::Impl(self.impl_items(imp))],
            other => vec![other],
        }
    }

    /// An impl block whose methods may carry `#[gc]` (or registry calls, after one).
    fn impl_items(&self, mut imp: ItemImpl) -> ItemImpl {
        let mut items = Vec::new();
        for impl_item in imp.items {
            let expanded = match impl_item {
                ImplItem::Fn(mut method) if method.attrs.iter().any(is_gc_attr) => {
                    let index = method.attrs.iter().position(is_gc_attr).unwrap_or_default();
                    let attr = method.attrs.remove(index);
                    Some(super::expand(args_of(&attr), method.into_token_stream()))
                }
                ImplItem::Macro(call) if registry_name(&call.mac.path).is_some() => {
                    let name = registry_name(&call.mac.path).unwrap_or_default();
                    Some(self.registry(&name, call.mac.tokens))
                }
                other => {
                    items.push(other);
                    None
                }
            };
            if let Some(tokens) = expanded {
                let wrapped: ItemImpl = syn::parse2(quote!(impl X { #tokens })).expect("impl items");
                items.extend(self.impl_items(wrapped).items);
            }
        }
        imp.items = items;
        imp
    }

    /// What `__gc_slots_<name>! { [slots] [types] item }` expands to.
    fn registry(&self, name: &str, tokens: TokenStream) -> TokenStream {
        let slots = self.registries.get(name).unwrap_or_else(|| panic!("no #[gc] struct `{name}` in this file"));
        let mut trees = tokens.into_iter();
        let mut bracketed = || match trees.next() {
            Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::Bracket => group.stream(),
            other => panic!("malformed registry call at {other:?}"),
        };
        let (gathered, types) = (bracketed(), bracketed());
        let item: TokenStream = trees.collect();
        quote! {
            #[::gc_runtime::gc(__private(slots(#gathered #(#slots,)*), types(#types)))]
            #item
        }
    }

    /// Parses an expansion back into items and expands what is left in them.
    fn reparse(&self, tokens: TokenStream) -> Vec<Item> {
        let file: syn::File =
            syn::parse2(tokens.clone()).unwrap_or_else(|err| panic!("expansion does not parse ({err}):\n{tokens}"));
        self.items(file.items)
    }
}

/// The tokens inside `#[gc(...)]`.
fn args_of(attr: &Attribute) -> TokenStream {
    match &attr.meta {
        Meta::List(list) => list.tokens.clone(),
        _ => TokenStream::new(),
    }
}

/// `Node` for a path ending in `__gc_slots_Node`.
fn registry_name(path: &syn::Path) -> Option<String> {
    let last = path.segments.last()?.ident.to_string();
    last.strip_prefix("__gc_slots_").map(str::to_owned)
}
