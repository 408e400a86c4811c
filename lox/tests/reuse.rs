//! One VM running program after program, as the REPL runs line after line: globals are kept,
//! and a runtime error in one program leaves nothing the next one can trip over.

use gc_lox::{InterpretError, Vm};

fn runtime_error(result: Result<(), InterpretError>) -> String {
    match result {
        Err(InterpretError::Runtime(message)) => message,
        other => panic!("expected a runtime error, got {other:?}"),
    }
}

/// A closure kept in a global captured a local of a function that failed: the error closes
/// the capture over the local's value. (It used to stay open, an index into the stack: the
/// next program's `set` wrote into another function's local, and `get` read past the stack's
/// end and panicked.)
#[test]
fn closures_that_outlive_a_failed_program_keep_their_own_variables() {
    let mut vm = Vm::new(false);
    let message = runtime_error(vm.interpret(
        "var get; var set;
         fun f() {
           var x = \"captured\";
           fun g() { return x; }
           fun s(v) { x = v; }
           get = g; set = s;
           nil();
         }
         f();",
    ));
    assert!(message.starts_with("Can only call functions and classes."), "{message}");
    // Each check fails with a runtime error of its own (calling nil) if it does not hold.
    let checks = "{
        var p = \"p\"; var q = \"q\";
        if (get() != \"captured\") nil();
        set(\"changed\");
        if (p != \"p\" or q != \"q\") nil();
        if (get() != \"changed\") nil();
      }";
    vm.interpret(checks).expect("the closures see their own variable, and only it");
    // A deeper stack than the failed program had.
    vm.interpret(
        "fun deep(n) { if (n > 0) return deep(n - 1); set(\"deep\"); return get(); }
                  if (deep(40) != \"deep\") nil();",
    )
    .expect("a deeper stack");
}
