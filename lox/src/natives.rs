//! Native functions: the Rust functions a Lox program can call (clox defines `clock`).

use std::{sync::OnceLock, time::Instant};

use gc_runtime::Mutator;

use crate::value::Value;

/// `clock()`: seconds since the interpreter started, as a number.
pub fn clock<'m>(_mu: &'m Mutator, _args: &[Value<'m>]) -> Value<'m> {
    static START: OnceLock<Instant> = OnceLock::new();
    Value::number(START.get_or_init(Instant::now).elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_counts_up() {
        let mu = gc_runtime::attach();
        let (Some(a), Some(b)) = (clock(&mu, &[]).as_number(), clock(&mu, &[]).as_number()) else {
            panic!("clock returns numbers");
        };
        assert!(b >= a);
    }
}
