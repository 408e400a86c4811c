//! A hostile user against the macros, `#[derive(Trace)]` and `#[gc]`, in safe code only: inputs
//! the macros accept, and what the program then does at run time. (Inputs they reject are
//! ui tests: `ui-tests/tests/ui/derive-trace/` and `ui-tests/tests/ui/gc-attr/`.)
//!
//! What is tried, and the outcome each test asserts:
//!
//! - a `#[trace(skip)]` on a slot the derive's by-name check cannot see: the slot's type comes
//!   from a type macro or a type alias. The derive accepts both; the runtime's second line of
//!   defence holds: the slot is never armed, so it reads as empty, refuses every store (a
//!   panic) and never holds a pointer the marker does not see;
//! - an enum with many variants of every shape (unit, tuple, named, with skipped plain fields,
//!   generic with a `where` clause, a const-generic array of slots, a `'static` lifetime, a
//!   `Box<Self>`): every slot of every variant is armed and traced, so exactly the objects the
//!   slots reach survive collections (checkmark on);
//! - `NEEDS_TRACE` of a generic type with a `?Sized` last field, per instantiation;
//! - `#[gc]`'s rewrite evaluates the place before the value (documented on the attribute):
//!   pinned here, since it differs from a plain assignment.
//!
//! (A user type named `Option` in scope of a `#[gc]` struct was taken for the standard one and
//! silently replaced by a slot; it is a compile error now, the ui test
//! `gc-attr/user-type-named-option`.)

mod common;

use std::{
    collections::HashSet,
    marker::PhantomData,
    panic::{catch_unwind, AssertUnwindSafe},
    sync::Arc,
};

use common::{collect2, serial_with_checkmark, Canary, Ledger};
use gc_runtime::{Gc, Member, Trace};

// --- a skip the by-name check cannot see ------------------------------------------------------

/// The slot type, written where `#[trace(skip)]`'s check does not look: in a type macro's
/// tokens.
macro_rules! hidden_slot {
    () => {
        Member<Canary>
    };
}

/// The same, behind an alias.
type AliasedSlot = Member<Canary>;

/// Both skipped fields are slots; the derive accepts them, since it matches names in the type
/// as written.
#[derive(Trace)]
struct SkipsHiddenSlots {
    #[trace(skip)]
    by_macro: hidden_slot!(),
    #[trace(skip)]
    by_alias: AliasedSlot,
    traced: Member<Canary>,
}

#[test]
fn skipped_slot_hidden_from_the_name_check_is_never_armed() {
    let _s = serial_with_checkmark();
    let ledger = Ledger::new(16);
    let mut mu = gc_runtime::attach();
    let holder = mu.alloc(SkipsHiddenSlots { by_macro: Member::new(), by_alias: Member::new(), traced: Member::new() });
    let leaf = Canary::alloc(&mu, &ledger);
    for (name, slot) in [("macro", &holder.by_macro), ("alias", &holder.by_alias)] {
        let stored = catch_unwind(AssertUnwindSafe(|| slot.set(Some(leaf))));
        assert!(stored.is_err(), "an unarmed slot ({name}) refuses a store");
        assert!(slot.get(&mu).is_none(), "an unarmed slot ({name}) reads as empty");
    }
    holder.traced.set(Some(leaf));
    let kept = leaf.id;
    let holder = holder.root(&mu);
    collect2(&mut mu);
    let h = holder.get(&mu);
    assert!(h.by_macro.get(&mu).is_none() && h.by_alias.get(&mu).is_none());
    assert_eq!(h.traced.get(&mu).expect("traced slot keeps its referent").check(), kept);
    ledger.check_exactly(&HashSet::from([kept]));
}

// --- an enum with many variants ---------------------------------------------------------------

/// Every variant shape the derive handles, generic with a `where` clause and a const
/// parameter.
#[derive(Trace)]
enum Many<T, const N: usize>
where
    T: Send + Sync + 'static,
{
    Empty,
    Tuple(u8, Member<Canary>, #[trace(skip)] std::sync::Mutex<u32>),
    Named {
        #[trace(skip)]
        note: std::sync::Mutex<String>,
        first: Member<Canary>,
        rest: Vec<Member<Canary>>,
    },
    Array([Member<Canary>; N]),
    Generic(T, Option<Box<Member<Canary>>>),
    Nested(Box<Many<T, N>>),
    Static(&'static str, PhantomData<fn() -> T>, (u16, Member<Canary>)),
}

/// One object per variant, each reaching fresh canaries through all its slots.
fn all_variants<'m>(mu: &'m gc_runtime::Mutator) -> Vec<Gc<'m, Many<Member<Canary>, 3>>> {
    let mut out = vec![
        mu.alloc(Many::Empty),
        mu.alloc(Many::Tuple(1, Member::new(), std::sync::Mutex::new(2))),
        mu.alloc(Many::Named {
            note: std::sync::Mutex::new("n".into()),
            first: Member::new(),
            rest: (0..4).map(|_| Member::new()).collect(),
        }),
        mu.alloc(Many::Array([Member::new(), Member::new(), Member::new()])),
        mu.alloc(Many::Generic(Member::new(), Some(Box::new(Member::new())))),
        mu.alloc(Many::Nested(Box::new(Many::Tuple(3, Member::new(), std::sync::Mutex::new(4))))),
        mu.alloc(Many::Static("s", PhantomData, (5, Member::new()))),
    ];
    out.shrink_to_fit();
    out
}

/// Every slot of `many`, in variant order.
fn slots_of<T, const N: usize>(many: &Many<T, N>, generic: impl Fn(&T) -> Vec<&Member<Canary>>) -> Vec<&Member<Canary>>
where
    T: Send + Sync + 'static,
{
    match many {
        Many::Empty => vec![],
        Many::Tuple(_, m, _) => vec![m],
        Many::Named { first, rest, .. } => std::iter::once(first).chain(rest).collect(),
        Many::Array(a) => a.iter().collect(),
        Many::Generic(t, b) => generic(t).into_iter().chain(b.as_deref()).collect(),
        Many::Nested(inner) => slots_of(inner, generic),
        Many::Static(_, _, (_, m)) => vec![m],
    }
}

#[test]
fn every_slot_of_every_variant_is_armed_and_traced() {
    const { assert!(Many::<u32, 2>::NEEDS_TRACE && Many::<Member<Canary>, 0>::NEEDS_TRACE) };
    let _s = serial_with_checkmark();
    let ledger = Ledger::new(64);
    let mut mu = gc_runtime::attach();
    let mut alive = HashSet::new();
    let roots: Vec<_> = all_variants(&mu)
        .into_iter()
        .map(|object| {
            for slot in slots_of(&*object, |t| vec![t]) {
                let leaf = Canary::alloc(&mu, &ledger);
                slot.set(Some(leaf));
                alive.insert(leaf.id);
                // Garbage next to each live leaf.
                Canary::alloc(&mu, &ledger);
            }
            object.root(&mu)
        })
        .collect();
    assert_eq!(alive.len(), 13, "every slot was armed by the allocation");
    collect2(&mut mu);
    let mut seen = HashSet::new();
    for root in &roots {
        let object = root.get(&mu).into_ref();
        // The skipped plain fields read back intact.
        match object {
            Many::Tuple(n, _, m) => assert_eq!(*m.lock().unwrap(), u32::from(*n) + 1),
            Many::Named { note, .. } => assert_eq!(*note.lock().unwrap(), "n"),
            _ => {}
        }
        for slot in slots_of(object, |t| vec![t]) {
            seen.insert(slot.get(&mu).expect("kept by its object").check());
        }
    }
    assert_eq!(seen, alive);
    ledger.check_exactly(&alive);
    drop(roots);
    collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
}

// --- `NEEDS_TRACE` with a `?Sized` last field -------------------------------------------------

/// A generic type whose last field may be unsized.
#[derive(Trace)]
struct Tail<T: ?Sized> {
    len: u32,
    tail: T,
}

const _: () = {
    assert!(!<Tail<str> as Trace>::NEEDS_TRACE);
    assert!(!<Tail<[u64]> as Trace>::NEEDS_TRACE);
    assert!(!<Tail<Arc<Member<Canary>>> as Trace>::NEEDS_TRACE, "an Arc is never traced");
    assert!(<Tail<[Member<Canary>]> as Trace>::NEEDS_TRACE);
    assert!(<Tail<Option<Member<Canary>>> as Trace>::NEEDS_TRACE);
};

#[test]
fn unsized_tail_is_traced_through_a_box() {
    let _s = serial_with_checkmark();
    let ledger = Ledger::new(16);
    let mut mu = gc_runtime::attach();
    let boxed: Box<Tail<[Member<Canary>]>> = Box::new(Tail { len: 2, tail: [Member::new(), Member::new()] });
    let holder = mu.alloc(boxed);
    let ids: HashSet<u64> = holder
        .tail
        .iter()
        .map(|slot| {
            let leaf = Canary::alloc(&mu, &ledger);
            slot.set(Some(leaf));
            leaf.id
        })
        .collect();
    assert_eq!(holder.len, 2);
    let holder = holder.root(&mu);
    collect2(&mut mu);
    let seen: HashSet<u64> = holder.get(&mu).tail.iter().map(|s| s.get(&mu).expect("kept").check()).collect();
    assert_eq!(seen, ids);
    ledger.check_exactly(&ids);
}

// --- `#[gc]`: evaluation order of a rewritten assignment --------------------------------------

mod order {
    use std::cell::RefCell;

    use gc_runtime::{gc, Gc};

    #[gc]
    pub struct Node {
        pub next: Option<Gc<Node>>,
    }

    /// `{place}.next = {value}` with both sides logging: a plain assignment evaluates the
    /// value first; the rewrite, a call `assign(&place.next, value)`, the place first.
    #[gc(Node)]
    pub fn assign_logged(a: Gc<'_, Node>, b: Gc<'_, Node>, log: &RefCell<Vec<&'static str>>) {
        ({
            log.borrow_mut().push("place");
            a
        })
        .next = {
            log.borrow_mut().push("value");
            Some(b)
        };
    }
}

#[test]
fn rewritten_assignment_evaluates_the_place_first() {
    let _s = common::serial_only();
    let mu = gc_runtime::attach();
    let (a, b) = (order::Node::new(&mu, None), order::Node::new(&mu, None));
    let log = std::cell::RefCell::new(Vec::new());
    order::assign_logged(a, b, &log);
    assert!(a.next(&mu).is_some_and(|n| Gc::ptr_eq(n, b)));
    // The documented difference from a plain assignment (`value`, then `place`).
    assert_eq!(log.into_inner(), ["place", "value"]);
}
