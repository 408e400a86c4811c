//! Unit tests of `#[gc]` on `proc_macro2` tokens: which inputs are rejected with which
//! messages, and what the rewrite does and does not touch.
//!
//! # Scope
//!
//! These run without a compiler, so they check messages, counts and the shape of the output,
//! not spans or rendering: `ui-tests/tests/ui/gc-attr/` covers those, `ui-tests/tests/pass/`
//! the behaviour of accepted inputs, and `snapshot` whole expansions.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::{Item, LitStr};

use super::expand;

/// The messages of the `compile_error!`s in `output`, in order.
fn errors(output: &TokenStream) -> Vec<String> {
    let file: syn::File = syn::parse2(output.clone()).unwrap_or_else(|err| panic!("output parses ({err}): {output}"));
    file.items
        .iter()
        .filter_map(|item| match item {
            Item::Macro(call) if call.mac.path.segments.last().is_some_and(|s| s.ident == "compile_error") => {
                Some(call.mac.parse_body::<LitStr>().expect("a message").value())
            }
            _ => None,
        })
        .collect()
}

/// `tokens` as a string with all whitespace removed, for substring checks.
fn squash(tokens: &TokenStream) -> String {
    tokens.to_string().split_whitespace().collect()
}

/// Expands and returns the error messages.
fn errors_of(args: TokenStream, item: TokenStream) -> Vec<String> {
    errors(&expand(args, item))
}

const UNSUPPORTED: &str =
    "#[gc] may only be used on structs with named fields, impl blocks, functions and inline modules";

#[test]
fn struct_expands_to_slots_derive_impl_and_registry() {
    let output = expand(
        TokenStream::new(),
        quote! {
            pub struct Node<T> { pub value: T, next: Option<Gc<Node<T>>>, leaf: gc_runtime::Gc<Leaf> }
        },
    );
    assert!(errors(&output).is_empty());
    let text = squash(&output);
    for expected in [
        "#[derive(::gc_runtime::Trace)]pubstructNode<T>",
        "next:::gc_runtime::Member<Node<T>>",
        "leaf:::gc_runtime::NonNullMember<Leaf>",
        "pubfnnew<'m>(mu:&'m::gc_runtime::Mutator,value:T,next:::core::option::Option<Gc<'_,Node<T>>>,\
         leaf:gc_runtime::Gc<'_,Leaf>)->::gc_runtime::Gc<'m,Self>whereT:::gc_runtime::Trace",
        "fnnext<'m>(&self,mu:&'m::gc_runtime::Mutator)->::core::option::Option<Gc<'m,Node<T>>>",
        "fnset_leaf(&self,value:gc_runtime::Gc<'_,Leaf>)",
        "macro_rules!__gc_slots_Node",
        "slots($($slots)*next,leaf,)",
        "pub(crate)use__gc_slots_Node;",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in\n{text}");
    }
}

#[test]
fn constructor_arguments() {
    let renamed = squash(&expand(
        quote!(constructor = "make"),
        quote!(
            struct S {
                a: u8,
            }
        ),
    ));
    assert!(renamed.contains("fnmake<'m>"));
    let omitted = squash(&expand(
        quote!(no_constructor),
        quote!(
            struct S {
                a: Gc<S>,
            }
        ),
    ));
    assert!(!omitted.contains("fnnew"));
    assert!(omitted.contains("fnset_a"));
}

#[test]
fn unsupported_items_are_rejected() {
    let cases = [
        (
            quote!(
                enum E {
                    A(Gc<N>),
                }
            ),
            "#[gc] supports structs with named fields; for an enum, use Member<T> fields and #[derive(Trace)]"
                .to_owned(),
        ),
        (
            quote!(
                struct S(u8);
            ),
            "#[gc] supports structs with named fields; name this struct's fields (`struct Name { field: Type }`)"
                .to_owned(),
        ),
        (
            quote!(
                struct S;
            ),
            "#[gc] supports structs with named fields; a unit struct has no slots, use #[derive(Trace)]".to_owned(),
        ),
        (quote!(union U { a: u8 }), "#[gc] supports structs with named fields; a union cannot be traced".to_owned()),
        (
            quote!(
                static S: u8 = 0;
            ),
            UNSUPPORTED.to_owned(),
        ),
        (
            quote!(
                const C: u8 = 0;
            ),
            UNSUPPORTED.to_owned(),
        ),
        (
            quote!(
                type T = u8;
            ),
            UNSUPPORTED.to_owned(),
        ),
        (
            quote!(
                use a::b;
            ),
            UNSUPPORTED.to_owned(),
        ),
        (
            quote!(
                extern "C" {}
            ),
            UNSUPPORTED.to_owned(),
        ),
        (
            quote!(
                mod m;
            ),
            "#[gc] on a module needs its body inline (`mod m { ... }`); put #[gc] on the items in that file instead"
                .to_owned(),
        ),
    ];
    for (item, message) in cases {
        assert_eq!(errors_of(TokenStream::new(), item.clone()), [message], "for {item}");
    }
    let trait_errors = errors_of(
        TokenStream::new(),
        quote!(
            trait T {
                fn f(&self) {
                    a.next = b;
                }
            }
        ),
    );
    assert_eq!(trait_errors.len(), 1);
    assert!(trait_errors[0].starts_with(UNSUPPORTED));
}

#[test]
fn rejected_items_keep_their_shape_without_cascades() {
    // An enum keeps its variants, with slot types and a derive.
    let output = squash(&expand(
        TokenStream::new(),
        quote!(
            enum E {
                A(Gc<N>),
                B(Vec<Gc<N>>),
            }
        ),
    ));
    for expected in [
        "#[derive(::gc_runtime::Trace)]enumE{",
        "A(::gc_runtime::NonNullMember<N>),",
        "B(Vec<::gc_runtime::Member<N>>)",
    ] {
        assert!(output.contains(expected), "missing `{expected}` in {output}");
    }
    // A trait's provided methods are stubbed: their assignments cannot be rewritten.
    let output = squash(&expand(
        TokenStream::new(),
        quote!(
            trait T {
                fn f(&self) {
                    a.next = b;
                }
            }
        ),
    ));
    assert!(output.contains("::core::unreachable!()"), "{output}");
    assert!(!output.contains("a.next=b"));
}

#[test]
fn argument_errors_name_the_valid_arguments() {
    let on_struct = "on a struct, #[gc] accepts `constructor = \"name\"` and `no_constructor`";
    let on_fn = "on a function, #[gc(...)] lists the #[gc] structs whose slots it assigns, as in #[gc(Node)]";
    let item = quote!(
        struct S {
            a: u8,
        }
    );
    assert_eq!(errors_of(quote!(builder), item.clone()), [format!("unknown #[gc] argument `builder`; {on_struct}")]);
    assert_eq!(errors_of(quote!(a::b = 1), item.clone()), [format!("unknown #[gc] argument `a::b`; {on_struct}")]);
    assert_eq!(
        errors_of(quote!(constructor = make), item.clone()),
        ["the constructor name is a string literal: write #[gc(constructor = \"make\")]"]
    );
    assert_eq!(
        errors_of(quote!(constructor = "a b"), item.clone()),
        ["`a b` is not a valid function name for the constructor; write an identifier, as in #[gc(constructor = \"make\")]"]
    );
    assert_eq!(
        errors_of(quote!(constructor), item.clone()),
        ["`constructor` needs a name: write #[gc(constructor = \"make\")]"]
    );
    assert_eq!(
        errors_of(quote!(no_constructor, constructor = "x"), item.clone()),
        ["`constructor` and `no_constructor` cannot be combined; keep one of them"]
    );
    assert_eq!(
        errors_of(quote!(no_constructor, no_constructor), item.clone()),
        ["duplicate `no_constructor` argument in #[gc(...)]"]
    );
    assert_eq!(
        errors_of(quote!(no_constructor = 1), item),
        ["`no_constructor` takes no value: write #[gc(no_constructor)]"]
    );
    let func = quote!(
        fn f() {}
    );
    assert_eq!(
        errors_of(quote!(Node, constructor = "x"), func.clone()),
        [format!("`constructor` only applies to #[gc] on a struct; {on_fn}")]
    );
    assert_eq!(errors_of(quote!(Node, key = 1), func.clone()), [format!("unknown #[gc] argument `key`; {on_fn}")]);
    // Every bad argument is reported, not only the first.
    assert_eq!(errors_of(quote!(a = 1, b = 2, Node), func).len(), 2);
}

#[test]
fn struct_mistakes_are_reported_together() {
    let messages = errors_of(
        quote!(bogus),
        quote! {
            #[derive(Trace)]
            #[gc]
            struct S {
                a: Gc<'a, S>,
                b: Vec<Gc<S>>,
                #[gc] c: u8,
                #[trace(skip)] d: Option<Gc<S>>,
            }
        },
    );
    assert_eq!(messages.len(), 7, "{messages:#?}");
    for fragment in [
        "duplicate #[gc] attribute",
        "unknown #[gc] argument `bogus`",
        "#[gc] already implements Trace",
        "remove this lifetime",
        "a `Gc` inside another type cannot be stored in the heap",
        "#[gc] goes on the struct, not on a field",
        "#[trace(skip)] is not allowed on a `Gc` field",
    ] {
        assert!(messages.iter().any(|m| m.contains(fragment)), "no `{fragment}` in {messages:#?}");
    }
}

#[test]
fn a_function_needs_its_types() {
    let output = expand(
        TokenStream::new(),
        quote!(
            fn f(a: A) {
                a.next = None;
            }
        ),
    );
    assert_eq!(
        errors(&output),
        ["#[gc] on a function needs the #[gc] structs whose slots it assigns: write #[gc(Node, ...)]"]
    );
    assert!(squash(&output).contains("fnf(a:A){::core::unreachable!()}"));
}

#[test]
fn impls_and_functions_ask_the_registries() {
    let impl_call = squash(&expand(
        TokenStream::new(),
        quote!(
            impl<T> a::Node<T> {
                fn f(&self) {}
            }
        ),
    ));
    assert!(impl_call.starts_with("a::__gc_slots_Node!{[][]impl<T>a::Node<T>"), "{impl_call}");
    let fn_call = squash(&expand(
        quote!(Node, b::Leaf<u8>),
        quote!(
            fn f() {}
        ),
    ));
    assert!(fn_call.starts_with("__gc_slots_Node!{[][b::Leaf<u8>]fnf(){}}"), "{fn_call}");
    // What a registry's call back does: ask the next one with the slots so far.
    let next = squash(&expand(
        quote!(__private(slots(next,), types(b::Leaf))),
        quote!(
            fn f() {}
        ),
    ));
    assert!(next.starts_with("b::__gc_slots_Leaf!{[next,][]fnf(){}}"), "{next}");
    let impl_without_path = errors_of(TokenStream::new(), quote!(impl T for &Node {}));
    assert_eq!(
        impl_without_path,
        ["#[gc] cannot tell which #[gc] struct this impl block is for; list the structs whose slots it assigns: #[gc(Node, ...)]"]
    );
}

#[test]
fn rewrite_reaches_every_expression_but_nothing_else() {
    let output = expand(
        quote!(__private(slots(next, r#type,), types())),
        quote! {
            fn f(a: A, b: B) {
                a.next = b;
                { a.next = b; }
                let c = || a.next = b;
                for x in xs { x.r#type = None; }
                match y { _ => a.next = b }
                let fut = async { a.next = b; };
                a.next += 1;
                a.other = b;
                a.0 = b;
                println!("{}", { a.next = b; 1 });
                fn inner(a: A) { a.next = b; }
            }
        },
    );
    assert!(errors(&output).is_empty());
    let text = squash(&output);
    assert_eq!(text.matches("::gc_runtime::__private::assign(").count(), 6, "{text}");
    assert!(text.contains("::gc_runtime::__private::assign(&x.r#type,None)"));
    for untouched in ["a.next+=1", "a.other=b", "a.0=b", "println!(\"{}\",{a.next=b;1})", "fninner(a:A){a.next=b;}"] {
        assert!(text.contains(untouched), "`{untouched}` changed in\n{text}");
    }
}

#[test]
fn attributes_on_assignments_are_kept() {
    let output = expand(
        quote!(__private(slots(next,), types())),
        quote! {
            fn f(a: A) {
                #[cfg(debug_assertions)]
                a.next = None;
                let _ = #[allow(unused_parens)] (a.next = None);
            }
        },
    );
    assert!(errors(&output).is_empty());
    let text = squash(&output);
    assert!(text.contains("#[cfg(debug_assertions)]::gc_runtime::__private::assign(&a.next,None);"), "{text}");
    assert!(text.contains("#[allow(unused_parens)](::gc_runtime::__private::assign(&a.next,None))"), "{text}");
}

#[test]
fn module_expands_structs_and_owns_inner_attributes() {
    let output = expand(
        TokenStream::new(),
        quote! {
            mod m {
                #[gc] pub struct A { b: Option<Gc<B>> }
                mod inner { #[gc::gc] pub struct B { a: Gc<super::A> } }
                #[gc] impl A { fn f(&self) { self.b = None; } }
                #[gc] impl Outside { fn g(&self) { self.b = None; } }
                #[gc(Other)] fn h(x: X) { x.a = y; x.other = z; }
                #[gc] fn k(x: X) { fn nested(x: X) { x.a = y; } }
                enum E { V(#[gc] u8) }
            }
        },
    );
    let text = squash(&output);
    assert_eq!(errors(&output), [UNSUPPORTED]);
    assert!(text.contains("macro_rules!__gc_slots_A") && text.contains("macro_rules!__gc_slots_B"));
    // Redundant attributes are dropped; those that name other registries are kept.
    assert!(text.contains("implA{fnf(&self){::gc_runtime::__private::assign(&self.b,None);}}"), "{text}");
    assert!(text.contains("#[::gc_runtime::gc]implOutside"), "{text}");
    assert!(text.contains("#[::gc_runtime::gc(Other)]fnh"), "{text}");
    assert!(text.contains("::gc_runtime::__private::assign(&x.a,y);x.other=z;"), "{text}");
    // Items nested in function bodies are covered in a module.
    assert!(text.contains("fnnested(x:X){::gc_runtime::__private::assign(&x.a,y);}"), "{text}");
    for stripped in ["#[gc]pub", "#[gc::gc]", "#[gc]impl", "#[gc]fn", "#[gc]u8"] {
        assert!(!text.contains(stripped), "`{stripped}` left in\n{text}");
    }
}

#[test]
fn output_of_every_accepted_input_parses() {
    for (args, item) in [
        (
            TokenStream::new(),
            quote!(
                struct S<'a, T: Clone, const N: usize>
                where
                    T: Copy,
                {
                    a: [T; N],
                    b: &'a u8,
                    c: Gc<S<'a, T, N>>,
                }
            ),
        ),
        (quote!(Node), quote!(impl Trait for Other { fn f(&self) {} })),
        (
            TokenStream::new(),
            quote!(
                mod m {
                    #[gc]
                    struct S {
                        a: Gc<S>,
                    }
                }
            ),
        ),
    ] {
        let output = expand(args, item.clone());
        assert!(errors(&output).is_empty(), "{output}");
        let _: syn::File = syn::parse2(output.into_token_stream()).expect("parses");
    }
}
