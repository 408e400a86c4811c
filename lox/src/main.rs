//! `lox`: run a Lox script, or a REPL on standard input.
//!
//! ```text
//! lox [--stress-gc] [FILE]
//! ```
//!
//! With a file: runs it; exit code 65 on a compile error, 70 on a runtime error (messages on
//! standard error, as clox prints them). Without one: reads standard input line by line and
//! runs each line, keeping globals between lines. `--stress-gc` (or `LOX_STRESS_GC=1`) runs a
//! full collection before every allocating instruction. The collector is configured from the
//! `GC_*` environment variables (`GC_MODE`, `GC_CHECKMARK`, `GC_MARK_WORKERS`, ...).

use std::{
    io::{self, BufRead, Write},
    process::ExitCode,
};

use gc_lox::{InterpretError, Vm};

fn main() -> ExitCode {
    run()
}

fn run() -> ExitCode {
    let mut stress = std::env::var("LOX_STRESS_GC").is_ok_and(|v| v == "1");
    let mut file = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--stress-gc" => stress = true,
            _ if file.is_none() && !arg.starts_with("--") => file = Some(arg),
            _ => {
                eprintln!("Usage: lox [--stress-gc] [path]");
                return ExitCode::from(64);
            }
        }
    }
    let mut vm = Vm::new(stress);
    match file {
        Some(path) => run_file(&mut vm, &path),
        None => repl(&mut vm),
    }
}

fn run_file(vm: &mut Vm, path: &str) -> ExitCode {
    let source = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("Could not read file \"{path}\": {e}");
            return ExitCode::from(74);
        }
    };
    match vm.interpret(&source) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::from(match e {
                InterpretError::Compile(_) => 65,
                InterpretError::Runtime(_) => 70,
            })
        }
    }
}

fn repl(vm: &mut Vm) -> ExitCode {
    let stdin = io::stdin();
    let mut line = String::new();
    loop {
        print!("> ");
        let _ = io::stdout().flush();
        line.clear();
        // Detached while it waits for the user: a cycle (another thread's, or the collector's
        // timer's) never waits for the prompt.
        match vm.blocking(|| stdin.lock().read_line(&mut line)) {
            Ok(0) | Err(_) => {
                println!();
                return ExitCode::SUCCESS;
            }
            Ok(_) => {
                if let Err(e) = vm.interpret(&line) {
                    report(&e);
                }
            }
        }
    }
}

fn report(e: &InterpretError) {
    let stderr = io::stderr();
    let mut err = stderr.lock();
    match e {
        InterpretError::Compile(lines) => {
            for l in lines {
                let _ = writeln!(err, "{l}");
            }
        }
        InterpretError::Runtime(text) => {
            let _ = writeln!(err, "{text}");
        }
    }
}
