//! Unit tests of the pipeline on `proc_macro2` tokens: which inputs are rejected, with which
//! messages, and what the fallback emits.
//!
//! # Scope
//!
//! These run without a compiler in the loop, so they check messages and counts, not spans or
//! how rustc renders the errors; the trybuild cases (`ui-tests/tests/ui/derive-trace/`) cover
//! those. Behaviour of accepted inputs is tested in `mock/tests/expand.rs`.

use proc_macro2::TokenStream;
use syn::{parse_quote, DeriveInput};

use super::{derive, fallback};

/// The messages of every error `derive` reports for `input`, in order.
fn errors(input: &DeriveInput) -> Vec<String> {
    match derive(input) {
        Ok(_) => Vec::new(),
        Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
    }
}

/// `tokens` as a string with all whitespace removed, for substring checks.
fn squash(tokens: &TokenStream) -> String {
    tokens.to_string().split_whitespace().collect()
}

#[test]
fn union_is_rejected() {
    let input = parse_quote! {
        union U { a: u32, b: f32 }
    };
    assert_eq!(
        errors(&input),
        ["#[derive(Trace)] does not support unions; the collector cannot tell which field is \
          live, so use an enum, or write an `unsafe impl Trace` by hand"]
    );
}

#[test]
fn unknown_argument_is_rejected() {
    let input = parse_quote! {
        struct S { #[trace(foo)] a: u32, #[trace(a::b = 1, skip)] b: u32 }
    };
    assert_eq!(
        errors(&input),
        [
            "unknown trace attribute `foo`; the only field attribute is #[trace(skip)]",
            "unknown trace attribute `a::b`; the only field attribute is #[trace(skip)]",
        ]
    );
}

#[test]
fn duplicate_skip_is_rejected() {
    let same_attr = parse_quote! {
        struct S { #[trace(skip, skip)] a: u32 }
    };
    let two_attrs = parse_quote! {
        struct S(#[trace(skip)] #[trace(skip)] u32);
    };
    let expected = ["duplicate #[trace(skip)] attribute on this field; remove one of them"];
    assert_eq!(errors(&same_attr), expected);
    assert_eq!(errors(&two_attrs), expected);
}

#[test]
fn skip_with_a_value_is_rejected() {
    let input = parse_quote! {
        struct S { #[trace(skip = true)] a: u32, #[trace(skip(always))] b: u32 }
    };
    let expected = "#[trace(skip)] takes no value; write #[trace(skip)]";
    assert_eq!(errors(&input), [expected, expected]);
}

#[test]
fn malformed_trace_attributes_are_rejected() {
    let input = parse_quote! {
        struct S {
            #[trace] a: u32,
            #[trace = "skip"] b: u32,
            #[trace()] c: u32,
            #[trace("skip")] d: u32,
        }
    };
    let found = errors(&input);
    assert_eq!(
        found[..3],
        [
            "#[trace] needs an argument; write #[trace(skip)] to leave this field untraced",
            "#[trace = ...] is not supported; write #[trace(skip)] to leave this field untraced",
            "empty #[trace()] attribute; write #[trace(skip)] to leave this field untraced, or \
             remove the attribute",
        ]
    );
    // The literal is reported by `syn`'s own parser.
    assert_eq!(found.len(), 4);
}

#[test]
fn trace_attribute_outside_fields_is_rejected() {
    let on_struct = parse_quote! {
        #[trace(skip)]
        struct S { a: u32 }
    };
    let on_enum_and_variant = parse_quote! {
        #[trace]
        enum E { #[trace(skip)] A(u32), B }
    };
    assert_eq!(
        errors(&on_struct),
        ["#[trace(skip)] is only allowed on fields, not on a struct; put #[trace(skip)] on each \
          field that should not be traced"]
    );
    assert_eq!(
        errors(&on_enum_and_variant),
        [
            "#[trace(...)] is only allowed on fields, not on an enum variant; put #[trace(skip)] \
             on each field that should not be traced",
            "#[trace] needs an argument; write #[trace(bound = \"...\")] to replace the automatic \
             `T: Trace` bounds, or put #[trace(skip)] on each field that should not be traced",
        ]
    );
}

#[test]
fn bound_replaces_the_automatic_bounds_of_the_trace_impl_only() {
    let input: DeriveInput = parse_quote! {
        #[trace(bound = "T: Trace + Clone, U: 'static")]
        struct W<'a, T, U: Copy, const N: usize> where T: Default { a: &'a [T; N], b: PhantomData<U> }
    };
    let out = squash(&derive(&input).unwrap_or_else(|e| panic!("{e}")));
    let generics = "<'a,T,U:Copy,constN:usize>";
    let clause = "whereT:Default,T:Trace+Clone,U:'static";
    assert!(out.contains(&format!("unsafeimpl{generics}::gc_runtime::TraceforW<'a,T,U,N>{clause}{{")), "{out}");
    assert!(
        out.contains(&format!(
            "impl{generics}::gc_runtime::__private::TraceTypesMustNotImplementDropforW<'a,T,U,N>whereT:Default{{}}"
        )),
        "{out}"
    );
    // The fields are traced as without the attribute.
    assert!(out.contains("<&'a[T;N]as::gc_runtime::Trace>::trace(__binding_0,tracer);"), "{out}");
}

#[test]
fn empty_bound_leaves_the_parameters_unbounded() {
    let input: DeriveInput = parse_quote! {
        #[trace(bound = "")]
        enum Tagged<T> { A(PhantomData<T>), B }
    };
    let out = squash(&derive(&input).unwrap_or_else(|e| panic!("{e}")));
    assert!(out.contains("unsafeimpl<T>::gc_runtime::TraceforTagged<T>{"), "{out}");
    assert!(out.contains("impl<T>::gc_runtime::__private::TraceTypesMustNotImplementDropforTagged<T>{}"), "{out}");
}

#[test]
fn misused_bound_is_rejected() {
    let input = parse_quote! {
        #[trace(bound = "T: Trace", bound = "")]
        #[trace(bound = T, bound, bound(x))]
        #[trace(bound = "T Trace", skip, nope)]
        enum E<T> {
            #[trace(bound = "")]
            A { #[trace(bound = "")] t: T },
        }
    };
    let example = "write the where-predicates as a string, such as #[trace(bound = \"T: Trace\")], \
                   or #[trace(bound = \"\")] for no bounds";
    let duplicate = "duplicate #[trace(bound = \"...\")] on an enum; write all the predicates in one \
                     string, separated by commas";
    assert_eq!(
        errors(&input),
        [
            // The variant and its field are built before the enum's own attributes are read.
            "#[trace(bound = \"...\")] is only allowed on the struct or enum itself, not on an \
             enum variant; move it onto the type"
                .to_owned(),
            "#[trace(bound = \"...\")] is only allowed on the struct or enum itself, not on a \
             field; move it onto the type"
                .to_owned(),
            duplicate.to_owned(),
            duplicate.to_owned(),
            duplicate.to_owned(),
            duplicate.to_owned(),
            duplicate.to_owned(),
            "#[trace(skip)] is only allowed on fields, not on an enum; put #[trace(skip)] on each \
             field that should not be traced"
                .to_owned(),
            "unknown trace attribute `nope` on an enum; the only attribute on the type is \
             #[trace(bound = \"...\")], and fields take #[trace(skip)]"
                .to_owned(),
        ]
    );
    // Each malformed value on its own, so no earlier `bound` makes it a duplicate.
    for (input, message) in [
        (
            parse_quote!(
                #[trace(bound = T)]
                struct S;
            ),
            format!("#[trace(bound = ...)] takes a string literal; {example}"),
        ),
        (
            parse_quote!(
                #[trace(bound)]
                struct S;
            ),
            format!("#[trace(bound)] needs a value; {example}"),
        ),
        (
            parse_quote!(
                #[trace(bound(T: Trace))]
                struct S;
            ),
            format!("expected `=` after `bound`; {example}"),
        ),
        (
            parse_quote!(
                #[trace(bound = "T Trace")]
                struct S;
            ),
            "#[trace(bound = \"...\")] is not a list of where-predicates: expected `:`; write \
             predicates separated by commas, such as \"T: Trace, U: Clone\""
                .to_owned(),
        ),
    ] {
        let input: DeriveInput = input;
        assert_eq!(errors(&input), [message]);
    }
}

#[test]
fn skip_on_gc_pointer_is_rejected_at_any_depth() {
    let input = parse_quote! {
        enum E<T> {
            A(#[trace(skip)] Vec<Option<Member<T>>>),
            B { #[trace(skip)] g: gc_runtime::Gc<T> },
            C(#[trace(skip)] [(u8, NonNullMember<T>); 2]),
            D(#[trace(skip)] &'static dyn Fn(GcVec<T>)),
            E(#[trace(skip)] <Member<T> as Iterator>::Item),
            F(#[trace(skip)] Vec<Members>),
            G(#[trace(skip)] std::sync::Mutex<GcMap<u8, T>>),
            H(#[trace(skip)] Box<gc_runtime::GcIdMap<T, T>>),
            J(#[trace(skip)] gc_runtime::GcWeakMap<T, T>),
            I(#[trace(skip)] Root<T>, #[trace(skip)] GlobalRoot<T>, #[trace(skip)] Weak<T>),
        }
    };
    let message = |name: &str| {
        format!(
            "#[trace(skip)] is not allowed on a field holding a GC pointer (`{name}`); the \
             collector would not see it and could free its referent; remove #[trace(skip)]"
        )
    };
    // `Members` is another name, so `F` is accepted. The collector finds the pointers of
    // `Root`, `GlobalRoot` and `Weak` without `Trace` (or must not find them), so skipping
    // them changes nothing and `I` is accepted too.
    assert_eq!(
        errors(&input),
        [
            message("Member"),
            message("Gc"),
            message("NonNullMember"),
            message("GcVec"),
            message("Member"),
            message("GcMap"),
            message("GcIdMap"),
            message("GcWeakMap"),
        ]
    );
}

#[test]
fn repr_packed_is_rejected() {
    let input = parse_quote! {
        #[repr(C, packed(2))]
        struct S { a: u32 }
    };
    assert_eq!(
        errors(&input),
        ["#[derive(Trace)] does not support #[repr(packed)] types, whose fields may be \
          unaligned and cannot be borrowed for tracing; remove `packed`, or write an \
          `unsafe impl Trace` by hand"]
    );
    let aligned: DeriveInput = parse_quote! {
        #[repr(C, align(8))]
        struct S { a: u32 }
    };
    assert!(errors(&aligned).is_empty());
}

#[test]
fn errors_from_every_stage_are_reported_together() {
    let input = parse_quote! {
        #[trace(skip)]
        enum E {
            #[trace(skip)]
            A { #[trace(skip)] #[trace(skip)] m: Member<()>, #[trace(nope)] n: u32 },
        }
    };
    assert_eq!(errors(&input).len(), 5);
}

#[test]
fn fallback_emits_errors_and_a_stub() {
    let input: DeriveInput = parse_quote! {
        struct S<'a, T: Copy, const N: usize> where T: Clone { #[trace(bad)] a: &'a [T; N] }
    };
    let Err(error) = derive(&input) else {
        panic!("input should be rejected");
    };
    let out = squash(&fallback::expand(&input, error));
    assert!(out.contains("compile_error!"), "{out}");
    assert!(
        out.contains(
            "unsafeimpl<'a,T:Copy+::gc_runtime::Trace,constN:usize>::gc_runtime::TraceforS<'a,T,N>whereT:Clone"
        ),
        "{out}"
    );
    assert!(out.contains("::core::unreachable!()"), "{out}");
    // No Drop guard: a Drop impl on a rejected type should not add a second error.
    assert!(!out.contains("TraceTypesMustNotImplementDrop"), "{out}");
}

#[test]
fn fallback_for_a_union_is_only_the_error() {
    let input: DeriveInput = parse_quote! {
        union U { a: u32 }
    };
    let Err(error) = derive(&input) else {
        panic!("input should be rejected");
    };
    let out = squash(&fallback::expand(&input, error));
    assert!(out.starts_with("::core::compile_error!"), "{out}");
    assert!(!out.contains("const_:()"), "{out}");
}

#[test]
fn accepted_input_expands_both_impls() {
    let input: DeriveInput = parse_quote! {
        struct Foo<'a, T, const N: usize> where T: Clone {
            a: &'a T,
            #[trace(skip)]
            b: [u8; N],
            c: Member<T>,
        }
    };
    let out = squash(&derive(&input).unwrap_or_else(|e| panic!("{e}")));
    assert!(out.starts_with("#[allow("), "{out}");
    assert!(out.contains("const_:()={"), "{out}");
    assert!(
        out.contains("unsafeimpl<'a,T:::gc_runtime::Trace,constN:usize>::gc_runtime::TraceforFoo<'a,T,N>whereT:Clone{constNEEDS_TRACE:bool=true;"),
        "{out}"
    );
    assert!(out.contains("Self{a:__binding_0,c:__binding_2,..}=>{<&'aTas::gc_runtime::Trace>::trace(__binding_0,tracer);<Member<T>as::gc_runtime::Trace>::trace(__binding_2,tracer);}"), "{out}");
    // The guard impl: the type's generics and `where` clause as written, no added bound.
    assert!(out.contains("impl<'a,T,constN:usize>::gc_runtime::__private::TraceTypesMustNotImplementDropforFoo<'a,T,N>whereT:Clone{}"), "{out}");
    // The guard's check, in a block of its own that loads gc-runtime (`runtime_crate.rs`).
    assert!(
        out.ends_with(
            "const_:()={#[allow(unused_extern_crates)]externcrategc_runtime;\
             gc_runtime::__private::check_drop_guard::<dyn::gc_runtime::__private::TraceTypesMustNotImplementDrop,>();};"
        ),
        "{out}"
    );
}

#[test]
fn needs_trace_is_false_without_traced_fields() {
    for input in [
        parse_quote!(
            struct U;
        ),
        parse_quote!(
            struct S {
                #[trace(skip)]
                a: u32,
            }
        ),
        parse_quote!(
            enum E {
                A,
                B(),
                C {},
            }
        ),
        parse_quote!(
            enum V {}
        ),
    ] {
        let out = squash(&derive(&input).unwrap_or_else(|e| panic!("{e}")));
        assert!(out.contains("constNEEDS_TRACE:bool=false;"), "{out}");
        assert!(out.contains("let_=tracer;"), "{out}");
    }
}

/// The expression the derive emits for `NEEDS_TRACE`, without whitespace.
fn needs_trace_of(input: &DeriveInput) -> String {
    let out = squash(&derive(input).unwrap_or_else(|e| panic!("{e}")));
    let start = out.find("constNEEDS_TRACE:bool=").unwrap_or_else(|| panic!("no NEEDS_TRACE in {out}"));
    let value = &out[start + "constNEEDS_TRACE:bool=".len()..];
    // An array type has a `;` of its own; the constant ends where `trace` begins.
    value[..value.find(";#[inline(always)]").unwrap_or_else(|| panic!("unterminated NEEDS_TRACE in {out}"))].to_owned()
}

/// `<ty as ::gc_runtime::Trace>::NEEDS_TRACE`, squashed.
fn read(ty: &str) -> String {
    format!("<{ty}as::gc_runtime::Trace>::NEEDS_TRACE")
}

#[test]
fn needs_trace_reads_primitive_and_std_field_types() {
    let plain = parse_quote! {
        struct P { a: i32, b: i32 }
    };
    // The same type twice is read once.
    assert_eq!(needs_trace_of(&plain), read("i32"));

    let generic = parse_quote! {
        struct G<'a, T, U: ?Sized, const N: usize> {
            x: T,
            v: Vec<Option<String>>,
            t: (u8, [T; N], &'a str),
            m: std::collections::HashMap<u64, ::std::boxed::Box<U>>,
            f: fn(bool) -> core::primitive::char,
            p: std::marker::PhantomData<&'a ()>,
            c: AtomicCell<f64>,
        }
    };
    let expected = [
        read("T"),
        read("Vec<Option<String>>"),
        read("(u8,[T;N],&'astr)"),
        read("std::collections::HashMap<u64,::std::boxed::Box<U>>"),
        read("fn(bool)->core::primitive::char"),
        read("std::marker::PhantomData<&'a()>"),
        read("AtomicCell<f64>"),
    ]
    .join("||");
    assert_eq!(needs_trace_of(&generic), expected);
}

#[test]
fn needs_trace_reads_every_variant_and_ignores_skipped_fields() {
    let input = parse_quote! {
        enum E<T> {
            A(u32, #[trace(skip)] Opaque),
            B { b: Result<T, String> },
            C,
        }
    };
    assert_eq!(needs_trace_of(&input), [read("u32"), read("Result<T,String>")].join("||"));
}

#[test]
fn needs_trace_is_true_for_a_field_naming_another_type() {
    // Each of these could reach the input itself (or does), so its constant is not read.
    let inputs: [DeriveInput; 14] = [
        parse_quote! { struct Node { v: u32, children: Vec<Node> } },
        parse_quote! { struct L { next: Link, v: u32 } },
        parse_quote! { struct Foo { n: Node2<Foo> } },
        parse_quote! { enum Expr { Block(Vec<Stmt>), Lit(u32) } },
        parse_quote! { struct S { a: u32, m: Member<S> } },
        parse_quote! { struct S { next: Option<Box<Self>> } },
        parse_quote! { struct S { r: &'static Node } },
        parse_quote! { struct S<T: Iterator> { item: T::Item } },
        parse_quote! { struct S<T> { item: <T as IntoIterator>::Item } },
        parse_quote! { struct S { f: Box<dyn Fn()> } },
        parse_quote! { struct S { m: ty_macro!() } },
        parse_quote! { struct S { p: *const u8 } },
        // A path into the user's crate, or into a crate not known to hold only std types.
        parse_quote! { struct S { v: crate::Vec<u8>, w: other::Option<u8> } },
        // The input's own name is never taken for the std type it shadows.
        parse_quote! { struct String { parts: Vec<String> } },
    ];
    for input in &inputs {
        assert_eq!(needs_trace_of(input), "true", "{}", squash(&quote::quote!(#input)));
    }
}

#[test]
fn needs_trace_is_false_when_every_field_is_skipped() {
    let input = parse_quote! {
        struct S { #[trace(skip)] a: Opaque, #[trace(skip)] b: Vec<Node> }
    };
    assert_eq!(needs_trace_of(&input), "false");
}
