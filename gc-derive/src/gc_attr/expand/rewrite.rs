//! The assignment rewrite: slot assignments in `#[gc]` code become write-barrier calls.
//!
//! # The rewrite
//!
//! In code covered by `#[gc]`, every assignment expression `place.field = value` whose `field`
//! is a slot name (see [`Slots`]) becomes
//!
//! ```text
//! ::gc_runtime::__private::assign(&place.field, value)
//! ```
//!
//! which runs the write barrier through `SlotAssign` (`Member<T>` takes an `Option<Gc<T>>`,
//! `NonNullMember<T>` a `Gc<T>`). The call is built with `quote_spanned!` at the user's
//! tokens: the path and the parentheses at the `=`, `place.field` and `value` are the user's
//! own, so a type error points at their code, and a slot name that turns out to be a plain
//! field fails with `SlotAssign`'s own message naming the fix.
//!
//! The rewrite reaches every expression: nested blocks, loops, closures, `match` arms, `async`
//! blocks, `let` initialisers. It leaves alone:
//!
//! - compound assignments (`place.field += 1`): no slot type supports them;
//! - macro invocations (`println!(..)`, `vec![..]`): their tokens are not parsed expressions;
//! - items nested in a function body (an inner `fn`, `impl`, `mod`), unless the whole module
//!   is `#[gc]`: they are separate items, put `#[gc(...)]` on them if they assign slots.
//!
//! Evaluation order differs from a plain assignment: `place` is evaluated before `value`, as
//! for any function call (Rust evaluates an assignment's right-hand side first). It only
//! matters if both have side effects.
//!
//! # Where the slot names come from
//!
//! From the registries of the `#[gc]` structs involved (`super::registry`), for an impl block
//! or a function; a module adds those of the `#[gc]` structs declared in it (`super::module`).
//! By the time an item is rewritten, every name is in its [`Slots`].

use std::collections::BTreeSet;

use quote::quote_spanned;
use syn::{
    ext::IdentExt,
    parse_quote_spanned,
    spanned::Spanned,
    visit_mut::{self, VisitMut},
    Attribute, Expr, ExprAssign, ExprField, Ident, Item, Member,
};

/// The slot field names an item's assignments are checked against.
///
/// Names only, not types: the rewrite is syntactic, and `SlotAssign` checks the types. A name
/// is compared without its `r#`, since `r#type` and `type` name the same field.
#[derive(Default)]
pub(crate) struct Slots {
    /// Unraw'd names.
    names: BTreeSet<String>,
}

impl Slots {
    /// Adds the names in `idents`.
    pub(crate) fn extend<'a>(&mut self, idents: impl IntoIterator<Item = &'a Ident>) {
        self.names.extend(idents.into_iter().map(|ident| ident.unraw().to_string()));
    }

    /// Whether `ident` names a slot.
    fn contains(&self, ident: &Ident) -> bool {
        self.names.contains(&ident.unraw().to_string())
    }
}

/// How far the rewrite reaches.
#[derive(Copy, Clone, PartialEq, Eq)]
pub(crate) enum Reach {
    /// An impl block or a function: stop at items nested in its bodies.
    Item,
    /// An inline module: everything inside it.
    Module,
}

/// Rewrites slot assignments in an item (its nested items too if `reach` is `Module`).
pub(crate) fn rewrite_item(slots: &Slots, item: &mut Item, reach: Reach) {
    let mut rewriter = Rewriter { slots, reach };
    // The root is always entered; `visit_item_mut` below only sees nested items.
    visit_mut::visit_item_mut(&mut rewriter, item);
}

/// The visitor behind [`rewrite_item`].
struct Rewriter<'a> {
    /// Slot names.
    slots: &'a Slots,
    /// Whether nested items are entered.
    reach: Reach,
}

impl VisitMut for Rewriter<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        // Inner assignments first: `a.next = { b.next = c; d }` rewrites both.
        visit_mut::visit_expr_mut(self, expr);
        if let Expr::Assign(assign) = expr {
            if let Some(call) = self.rewrite_assign(assign) {
                *expr = call;
            }
        }
    }

    fn visit_item_mut(&mut self, item: &mut Item) {
        if self.reach == Reach::Module {
            visit_mut::visit_item_mut(self, item);
        }
    }
}

impl Rewriter<'_> {
    /// The barrier call for `place.slot = value`; `None` if the target is not a slot name.
    fn rewrite_assign(&self, assign: &ExprAssign) -> Option<Expr> {
        let Expr::Field(ExprField { member: Member::Named(field), .. }) = &*assign.left else {
            return None;
        };
        if !self.slots.contains(field) {
            return None;
        }
        let ExprAssign { attrs, left, eq_token, right } = assign;
        // An attribute written before the statement (`#[cfg(..)] a.next = b;`) is parsed onto
        // the leftmost expression, `a`; it belongs to the whole assignment, so it moves to the
        // call rather than ending up inside `&..`.
        let mut left = (**left).clone();
        let mut attrs = attrs.clone();
        attrs.extend(take_leftmost_attrs(&mut left));
        // The call's path and parentheses carry the `=`'s span; `&` the place's.
        let place = quote_spanned!(left.span()=> &#left);
        Some(parse_quote_spanned! {eq_token.span=>
            #(#attrs)* ::gc_runtime::__private::assign(#place, #right)
        })
    }
}

/// Removes and returns the outer attributes along the left edge of `expr` (`a` in `a.b.c`,
/// `f` in `f().b`), where the parser puts those written before a statement.
fn take_leftmost_attrs(expr: &mut Expr) -> Vec<Attribute> {
    let mut taken = Vec::new();
    let mut at = expr;
    loop {
        let (attrs, next): (&mut Vec<Attribute>, Option<&mut Expr>) = match at {
            Expr::Field(field) => (&mut field.attrs, Some(&mut *field.base)),
            Expr::MethodCall(call) => (&mut call.attrs, Some(&mut *call.receiver)),
            Expr::Index(index) => (&mut index.attrs, Some(&mut *index.expr)),
            Expr::Call(call) => (&mut call.attrs, Some(&mut *call.func)),
            Expr::Try(try_expr) => (&mut try_expr.attrs, Some(&mut *try_expr.expr)),
            Expr::Await(await_expr) => (&mut await_expr.attrs, Some(&mut *await_expr.base)),
            Expr::Path(path) => (&mut path.attrs, None),
            Expr::Paren(paren) => (&mut paren.attrs, None),
            _ => return taken,
        };
        taken.append(attrs);
        match next {
            Some(next) => at = next,
            None => return taken,
        }
    }
}
