//! Deep nesting in the source: the compiler recurses once per level, so past
//! `compiler::MAX_NESTING` levels it reports a compile error instead of overflowing its stack,
//! and below that it compiles — on any thread: it grows its stack as it goes, so these tests
//! run it on threads with a small stack.

use gc_lox::{compiler::MAX_NESTING, InterpretError, Vm};

/// Run `source` on a fresh VM, on a thread with a 256 KiB stack: less than any system's
/// default, and a few hundred levels of the compiler's recursion at most.
fn run(source: String) -> Result<(), InterpretError> {
    std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || Vm::new(false).interpret(&source))
        .expect("spawn")
        .join()
        .expect("the interpreter did not panic")
}

/// `depth` blocks, one inside the other, around `inner`.
fn blocks(depth: usize, inner: &str) -> String {
    format!("{}{inner}{}", "{".repeat(depth), "}".repeat(depth))
}

fn nesting_error(result: Result<(), InterpretError>) -> bool {
    matches!(result, Err(InterpretError::Compile(errors)) if errors.iter().any(|e| e.contains("Too much nesting.")))
}

#[test]
fn blocks_nested_up_to_the_limit_compile_and_past_it_are_an_error() {
    // Each block is a statement (one level); the print statement and its expression add two.
    assert!(run(blocks(MAX_NESTING - 3, "print 1;")).is_ok());
    assert!(nesting_error(run(blocks(MAX_NESTING + 1, "print 1;"))));
    // Far past it: still one error, no overflow.
    assert!(nesting_error(run(blocks(3 * MAX_NESTING, ""))));
}

#[test]
fn expressions_nested_past_the_limit_are_an_error() {
    let parens = |depth: usize| format!("print {}1{};", "(".repeat(depth), ")".repeat(depth));
    assert!(run(parens(MAX_NESTING / 2)).is_ok());
    assert!(nesting_error(run(parens(MAX_NESTING + 1))));
    let negations = format!("print {}1;", "-".repeat(2 * MAX_NESTING));
    assert!(nesting_error(run(negations)));
}

#[test]
fn functions_and_classes_nested_past_the_limit_are_an_error() {
    // Each function (or class, with its method) inside the body of the one around it.
    let functions = |depth: usize| format!("{}print 1;{}", "fun f() {".repeat(depth), "}".repeat(depth));
    let classes = |depth: usize| format!("{}print 1;{}", "class C { m() {".repeat(depth), "} }".repeat(depth));
    assert!(run(functions(MAX_NESTING / 2)).is_ok());
    assert!(run(classes(MAX_NESTING / 4)).is_ok());
    assert!(nesting_error(run(functions(MAX_NESTING + 1))));
    assert!(nesting_error(run(classes(MAX_NESTING + 1))));
    // Far past it (a reviewer's program: 5,000,000 functions overflowed the stack).
    assert!(nesting_error(run(functions(10 * MAX_NESTING))));
}

#[test]
fn a_name_resolved_through_every_enclosing_function_compiles() {
    // The innermost function reads a global, and a local of the outermost: each lookup goes
    // through every enclosing function (it recursed once per function, and overflowed the
    // stack at 20,000 levels on the main thread).
    let depth = MAX_NESTING - 10;
    let global = format!("var x = 1; {}print x;{}", "fun f() {".repeat(depth), "}".repeat(depth));
    assert!(run(global).is_ok());
    let captured =
        format!("fun g() {{ var x = 1; {}print x;{} }}", "fun f() {".repeat(depth - 1), "}".repeat(depth - 1));
    assert!(run(captured).is_ok());
}
