//! Native functions: the Rust functions a Lox program can call (clox defines `clock`).

use std::{sync::OnceLock, time::Instant};

use gc_runtime::Mutator;

use crate::value::Value;

/// When the first VM of the process was made: `clock()`'s origin.
static START: OnceLock<Instant> = OnceLock::new();

/// Start `clock()`'s count, if no VM has yet (`Vm::new` calls it). Before, the count started
/// at the first call of `clock()`, so that call returned about 0 however long the program had
/// run: `print clock() > 0.01;` after a long loop printed `false`.
pub fn start_clock() {
    START.get_or_init(Instant::now);
}

/// `clock()`: seconds since the interpreter started, as a number. (clox returns the process's
/// CPU time, `clock() / CLOCKS_PER_SEC`; programs use differences of it, which agree while
/// one thread runs.)
pub fn clock<'m>(_mu: &'m Mutator, _args: &[Value<'m>]) -> Value<'m> {
    Value::number(START.get_or_init(Instant::now).elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_counts_from_when_the_interpreter_started() {
        start_clock();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mu = gc_runtime::attach();
        let first = clock(&mu, &[]).as_number().expect("a number");
        assert!(first >= 0.02, "the first call returns the time since the start: {first}");
    }

    #[test]
    fn clock_counts_up() {
        let mu = gc_runtime::attach();
        let (Some(a), Some(b)) = (clock(&mu, &[]).as_number(), clock(&mu, &[]).as_number()) else {
            panic!("clock returns numbers");
        };
        assert!(b >= a);
    }
}
