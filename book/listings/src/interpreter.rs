//! Tutorial 3: the core of an interpreter: environments, values and closures in the GC heap.

// ANCHOR: expr
use std::sync::Arc;

use gc_runtime::{Gc, GcMap, GlobalRoot, Member, Mutator, Trace};

/// The syntax tree: plain Rust data, owned by the program, not by the GC heap.
#[derive(Debug)]
pub enum Expr {
    /// An integer literal.
    Num(i64),
    /// A variable reference.
    Var(&'static str),
    /// `a + b`.
    Add(Box<Expr>, Box<Expr>),
    /// `let name = value in body`.
    Let(&'static str, Box<Expr>, Box<Expr>),
    /// `fn param => body` (the body is shared with every closure made from it).
    Lambda(&'static str, Arc<Expr>),
    /// `f(arg)`.
    Call(Box<Expr>, Box<Expr>),
}
// ANCHOR_END: expr

// ANCHOR: heap
/// A scope: its variables, and the scope it is nested in. Environment chains are shared by
/// closures, so they form a graph in the heap, cycles included (a recursive closure stored in
/// the scope it captured).
#[derive(Trace)]
pub struct Env {
    /// Variables, by name, to GC values.
    pub vars: GcMap<String, Value>,
    /// The enclosing scope; empty for the global one.
    pub parent: Member<Env>,
}

/// A runtime value.
#[derive(Trace)]
pub enum Value {
    /// An integer.
    Num(i64),
    /// A function value with its captured environment.
    Closure(Closure),
}

/// A closure: code plus the environment it was made in.
#[derive(Trace)]
pub struct Closure {
    /// The parameter's name.
    pub param: &'static str,
    /// The body: plain data, not a GC pointer, so it is not traced.
    #[trace(skip)]
    pub body: Arc<Expr>,
    /// The captured scope.
    pub env: Member<Env>,
}
// ANCHOR_END: heap

// ANCHOR: eval
/// A new scope nested in `parent`.
pub fn scope<'m>(mu: &'m Mutator, parent: Option<Gc<'_, Env>>) -> Gc<'m, Env> {
    let env = mu.alloc(Env { vars: GcMap::new(), parent: Member::new() });
    env.parent.set(parent);
    env
}

/// Look `name` up along the chain of scopes.
pub fn lookup<'m>(mu: &'m Mutator, mut env: Gc<'m, Env>, name: &str) -> Gc<'m, Value> {
    loop {
        if let Some(v) = env.vars.get(name, mu) {
            return v;
        }
        env = env.parent.get(mu).unwrap_or_else(|| panic!("unbound variable {name}"));
    }
}

/// Evaluate `e` in `env`. It takes `&Mutator`: no safepoint can happen inside, so every
/// local it makes stays valid until it returns.
pub fn eval<'m>(mu: &'m Mutator, env: Gc<'m, Env>, e: &Expr) -> Gc<'m, Value> {
    match e {
        Expr::Num(n) => mu.alloc(Value::Num(*n)),
        Expr::Var(name) => lookup(mu, env, name),
        Expr::Add(a, b) => match (&*eval(mu, env, a), &*eval(mu, env, b)) {
            (Value::Num(a), Value::Num(b)) => mu.alloc(Value::Num(a + b)),
            _ => panic!("+ wants numbers"),
        },
        Expr::Let(name, value, body) => {
            let inner = scope(mu, Some(env));
            inner.vars.insert(name.to_string(), eval(mu, env, value));
            eval(mu, inner, body)
        }
        Expr::Lambda(param, body) => {
            let closure = Closure { param, body: Arc::clone(body), env: Member::new() };
            let v = mu.alloc(Value::Closure(closure));
            if let Value::Closure(c) = &*v {
                c.env.set(Some(env)); // slots are set after allocation, through the barrier
            }
            v
        }
        Expr::Call(f, arg) => {
            let f = eval(mu, env, f);
            let arg = eval(mu, env, arg);
            let Value::Closure(c) = &*f else { panic!("not a function") };
            let frame = scope(mu, c.env.get(mu));
            frame.vars.insert(c.param.to_string(), arg);
            eval(mu, frame, &c.body)
        }
    }
}
// ANCHOR_END: eval

// ANCHOR: repl
/// The global scope lives in a `static`: a root any thread can reach.
pub static GLOBALS: GlobalRoot<Env> = GlobalRoot::new();

/// Run top-level definitions and an expression, one statement at a time, with a safepoint
/// (here, a full collection) between statements. Returns the expression's value.
pub fn run(definitions: &[(&'static str, Expr)], expr: &Expr) -> i64 {
    let mut mu = gc_runtime::attach();
    GLOBALS.set(&mu, scope(&mu, None));
    for (name, e) in definitions {
        let globals = GLOBALS.get(&mu).unwrap();
        let v = eval(&mu, globals, e);
        globals.vars.insert(name.to_string(), v);
        mu.collect(); // between statements: every temporary of `eval` is garbage now
    }
    let result = match &*eval(&mu, GLOBALS.get(&mu).unwrap(), expr) {
        Value::Num(n) => *n,
        Value::Closure(_) => panic!("a function is not a result"),
    };
    GLOBALS.clear();
    result
}
// ANCHOR_END: repl

#[cfg(test)]
mod tests {
    use super::Expr::*;
    use super::*;

    #[test]
    fn closures_keep_their_environment_across_collections() {
        // add = fn x => fn y => x + y ; add5 = add(5) ; let z = 10 in add5(z) + 1
        let add = Lambda("x", Arc::new(Lambda("y", Arc::new(Add(Box::new(Var("x")), Box::new(Var("y")))))));
        let add5 = Call(Box::new(Var("add")), Box::new(Num(5)));
        let expr = Let(
            "z",
            Box::new(Num(10)),
            Box::new(Add(Box::new(Call(Box::new(Var("add5")), Box::new(Var("z")))), Box::new(Num(1)))),
        );
        assert_eq!(run(&[("add", add), ("add5", add5)], &expr), 16);
    }
}
