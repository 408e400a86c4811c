//! Collector configuration: from code ([`Config`]) and from environment variables.
//!
//! # Variables
//!
//! | variable | values | default | meaning |
//! |---|---|---|---|
//! | `GC_MODE` | `concurrent`, `stw` | `concurrent` | mark concurrently with mutators, or mark and sweep with the world stopped |
//! | `GC_BARRIER` | `dijkstra`, `yuasa`, `hybrid` | `dijkstra` | which write barrier runs while marking |
//! | `GC_PERCENT` | integer ≥ 0, or `off` | `100` | start a cycle when the heap has grown this many percent over the last live heap |
//! | `GC_MIN_HEAP` | bytes, with optional `K`/`M`/`G` suffix | `4M` | never start a pacer-triggered cycle below this heap size |
//! | `GC_MARK_WORKERS` | integer ≥ 1 | `1` | background threads that mark during a cycle |
//! | `GC_TRACE` | `0`, `1` | `0` | print one line per cycle on stderr |
//! | `GC_CHECKMARK` | `0`, `1` | `0` | verify every concurrent mark with a stop-the-world mark |
//! | `GC_SAFEPOINT_WARN_MS` | integer ≥ 1 | `1000` | warn when a mutator takes this long to reach a safepoint |
//! | `GC_MEMORY_LIMIT` | bytes, with optional `K`/`M`/`G` suffix, or `off` | `off` | hard limit on the live heap (see [`Config::memory_limit`]) |
//!
//! A value that does not parse is an error naming the variable and what it accepts; it is never
//! silently replaced by the default.

use std::{fmt, time::Duration};

/// How a collection cycle runs relative to the mutators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Mutators keep running while roots are scanned, the heap is marked and swept; the world
    /// stops only to turn the barrier on and to terminate marking.
    Concurrent,
    /// The whole cycle — mark and sweep — runs with the world stopped (the seed's `if false`
    /// switch). The baseline for benchmarks and a debugging aid.
    StopTheWorld,
}

/// Which write barrier runs on pointer stores while marking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BarrierKind {
    /// Dijkstra insertion barrier: shade the pointer being stored (the seed's barrier).
    Dijkstra,
    /// Yuasa deletion barrier: shade the pointer being overwritten (snapshot at the beginning).
    Yuasa,
    /// Go 1.8's hybrid barrier: shade both the overwritten and the stored pointer.
    Hybrid,
}

impl BarrierKind {
    /// Lower-case name, as accepted by `GC_BARRIER`.
    pub fn name(self) -> &'static str {
        match self {
            BarrierKind::Dijkstra => "dijkstra",
            BarrierKind::Yuasa => "yuasa",
            BarrierKind::Hybrid => "hybrid",
        }
    }
}

impl Mode {
    /// Lower-case name, as accepted by `GC_MODE`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Concurrent => "concurrent",
            Mode::StopTheWorld => "stw",
        }
    }
}

/// Collector settings. Build one with [`Config::default`] or [`Config::from_env`] and the
/// `with_*` methods, then pass it to [`init`](crate::init) or
/// [`reconfigure`](crate::reconfigure).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Concurrent or stop-the-world cycles.
    pub mode: Mode,
    /// The barrier used while marking.
    pub barrier: BarrierKind,
    /// Growth over the last live heap, in percent, that triggers a cycle; `None` disables
    /// pacer-triggered cycles (only [`Mutator::collect`](crate::Mutator::collect) runs one).
    pub gc_percent: Option<u32>,
    /// The heap size below which the pacer never triggers a cycle, in bytes.
    pub min_heap: usize,
    /// Number of threads that mark concurrently with the mutators (at least 1). Marking inside
    /// a pause (stop-the-world mode) uses at least one thread per core.
    pub mark_workers: usize,
    /// Print one line per cycle on stderr.
    pub trace: bool,
    /// After each concurrent mark, re-mark from the roots with the world stopped and abort
    /// with a report if an object reachable from a root was left unmarked.
    pub checkmark: bool,
    /// How long the collector waits for mutators to reach a safepoint before it prints a
    /// warning (it keeps waiting).
    pub safepoint_warn: Duration,
    /// A hard limit on the heap, in bytes. The pacer starts cycles before it is reached; an
    /// allocation that would exceed it requests a collection and, if the heap is still over,
    /// fails ([`Mutator::try_alloc`](crate::Mutator::try_alloc)) or panics
    /// ([`Mutator::alloc`](crate::Mutator::alloc)). Checked when a mutator takes a new page
    /// (64 KiB) or allocates a large object, so the heap can exceed it by at most one page per
    /// size class per mutator.
    pub memory_limit: Option<usize>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::Concurrent,
            barrier: BarrierKind::Dijkstra,
            gc_percent: Some(100),
            min_heap: 4 << 20,
            mark_workers: 1,
            trace: false,
            checkmark: false,
            safepoint_warn: Duration::from_millis(1000),
            memory_limit: None,
        }
    }
}

/// A configuration value that could not be accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable or field at fault, e.g. `GC_PERCENT`.
    pub variable: &'static str,
    /// The rejected value.
    pub value: String,
    /// What would have been accepted.
    pub expected: &'static str,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}={:?}: expected {}", self.variable, self.value, self.expected)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// The defaults overridden by every `GC_*` variable that is set (see the module docs).
    ///
    /// # Errors
    /// The first variable whose value does not parse.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::default().apply_vars(|name| std::env::var(name).ok())
    }

    /// Apply variables read through `get` (the testable core of [`Config::from_env`]).
    ///
    /// # Errors
    /// The first variable whose value does not parse.
    pub fn apply_vars(mut self, get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let bad = |variable, value: &str, expected| ConfigError { variable, value: value.to_owned(), expected };
        if let Some(v) = get("GC_MODE") {
            self.mode = match v.trim().to_ascii_lowercase().as_str() {
                "concurrent" => Mode::Concurrent,
                "stw" | "stoptheworld" | "stop-the-world" => Mode::StopTheWorld,
                _ => return Err(bad("GC_MODE", &v, "`concurrent` or `stw`")),
            };
        }
        if let Some(v) = get("GC_BARRIER") {
            self.barrier = match v.trim().to_ascii_lowercase().as_str() {
                "dijkstra" => BarrierKind::Dijkstra,
                "yuasa" => BarrierKind::Yuasa,
                "hybrid" => BarrierKind::Hybrid,
                _ => return Err(bad("GC_BARRIER", &v, "`dijkstra`, `yuasa` or `hybrid`")),
            };
        }
        if let Some(v) = get("GC_PERCENT") {
            let t = v.trim();
            self.gc_percent = if t.eq_ignore_ascii_case("off") {
                None
            } else {
                Some(t.parse().map_err(|_| bad("GC_PERCENT", &v, "a non-negative integer or `off`"))?)
            };
        }
        if let Some(v) = get("GC_MIN_HEAP") {
            self.min_heap = parse_bytes(&v)
                .ok_or_else(|| bad("GC_MIN_HEAP", &v, "a byte count such as `4194304`, `512K` or `4M`"))?;
        }
        if let Some(v) = get("GC_MARK_WORKERS") {
            self.mark_workers = match v.trim().parse::<usize>() {
                Ok(n) if (1..=256).contains(&n) => n,
                _ => return Err(bad("GC_MARK_WORKERS", &v, "an integer from 1 to 256")),
            };
        }
        if let Some(v) = get("GC_TRACE") {
            self.trace = parse_flag(&v).ok_or_else(|| bad("GC_TRACE", &v, "`0` or `1`"))?;
        }
        if let Some(v) = get("GC_CHECKMARK") {
            self.checkmark = parse_flag(&v).ok_or_else(|| bad("GC_CHECKMARK", &v, "`0` or `1`"))?;
        }
        if let Some(v) = get("GC_SAFEPOINT_WARN_MS") {
            self.safepoint_warn = match v.trim().parse::<u64>() {
                Ok(ms) if ms >= 1 => Duration::from_millis(ms),
                _ => return Err(bad("GC_SAFEPOINT_WARN_MS", &v, "a positive integer number of milliseconds")),
            };
        }
        if let Some(v) = get("GC_MEMORY_LIMIT") {
            self.memory_limit = if v.trim().eq_ignore_ascii_case("off") {
                None
            } else {
                Some(
                    parse_bytes(&v)
                        .ok_or_else(|| bad("GC_MEMORY_LIMIT", &v, "a byte count such as `512M`, or `off`"))?,
                )
            };
        }
        Ok(self)
    }

    /// Check values that the field types alone do not constrain.
    ///
    /// # Errors
    /// `mark_workers` outside 1..=256.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=256).contains(&self.mark_workers) {
            return Err(ConfigError {
                variable: "mark_workers",
                value: self.mark_workers.to_string(),
                expected: "an integer from 1 to 256",
            });
        }
        if self.safepoint_warn < Duration::from_millis(1) {
            return Err(ConfigError {
                variable: "safepoint_warn",
                value: format!("{:?}", self.safepoint_warn),
                expected: "at least 1 ms (as GC_SAFEPOINT_WARN_MS)",
            });
        }
        Ok(())
    }

    /// Set [`Config::mode`].
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }
    /// Set [`Config::barrier`].
    pub fn with_barrier(mut self, barrier: BarrierKind) -> Self {
        self.barrier = barrier;
        self
    }
    /// Set [`Config::gc_percent`].
    pub fn with_gc_percent(mut self, percent: Option<u32>) -> Self {
        self.gc_percent = percent;
        self
    }
    /// Set [`Config::min_heap`].
    pub fn with_min_heap(mut self, bytes: usize) -> Self {
        self.min_heap = bytes;
        self
    }
    /// Set [`Config::mark_workers`].
    pub fn with_mark_workers(mut self, workers: usize) -> Self {
        self.mark_workers = workers;
        self
    }
    /// Set [`Config::trace`].
    pub fn with_trace(mut self, on: bool) -> Self {
        self.trace = on;
        self
    }
    /// Set [`Config::memory_limit`].
    pub fn with_memory_limit(mut self, bytes: Option<usize>) -> Self {
        self.memory_limit = bytes;
        self
    }
    /// Set [`Config::checkmark`].
    pub fn with_checkmark(mut self, on: bool) -> Self {
        self.checkmark = on;
        self
    }
}

fn parse_flag(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => Some(true),
        "0" | "false" | "off" | "no" | "" => Some(false),
        _ => None,
    }
}

fn parse_bytes(v: &str) -> Option<usize> {
    let t = v.trim();
    let (digits, shift) = match t.chars().last()?.to_ascii_uppercase() {
        'K' => (&t[..t.len() - 1], 10),
        'M' => (&t[..t.len() - 1], 20),
        'G' => (&t[..t.len() - 1], 30),
        _ => (t, 0),
    };
    let n: usize = digits.trim().parse().ok()?;
    n.checked_mul(1usize << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::default().apply_vars(move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn no_variables_give_defaults() {
        assert_eq!(with(&[]).unwrap(), Config::default());
    }

    #[test]
    fn every_variable_is_read() {
        let c = with(&[
            ("GC_MODE", "stw"),
            ("GC_BARRIER", "Hybrid"),
            ("GC_PERCENT", "50"),
            ("GC_MIN_HEAP", "16M"),
            ("GC_MARK_WORKERS", "2"),
            ("GC_TRACE", "1"),
            ("GC_CHECKMARK", "true"),
            ("GC_SAFEPOINT_WARN_MS", "25"),
            ("GC_MEMORY_LIMIT", "256M"),
        ])
        .unwrap();
        assert_eq!(c.mode, Mode::StopTheWorld);
        assert_eq!(c.barrier, BarrierKind::Hybrid);
        assert_eq!(c.gc_percent, Some(50));
        assert_eq!(c.min_heap, 16 << 20);
        assert_eq!(c.mark_workers, 2);
        assert!(c.trace && c.checkmark);
        assert_eq!(c.safepoint_warn, Duration::from_millis(25));
        assert_eq!(c.memory_limit, Some(256 << 20));
        assert_eq!(with(&[("GC_MEMORY_LIMIT", "off")]).unwrap().memory_limit, None);
        assert_eq!(with(&[("GC_PERCENT", "off")]).unwrap().gc_percent, None);
    }

    #[test]
    fn bad_values_are_errors_naming_the_variable() {
        for (k, v) in [
            ("GC_MODE", "fast"),
            ("GC_BARRIER", "steele"),
            ("GC_PERCENT", "-5"),
            ("GC_MIN_HEAP", "lots"),
            ("GC_MARK_WORKERS", "0"),
            ("GC_TRACE", "maybe"),
            ("GC_CHECKMARK", "2"),
            ("GC_SAFEPOINT_WARN_MS", "0"),
            ("GC_MEMORY_LIMIT", "a lot"),
        ] {
            let err = with(&[(k, v)]).unwrap_err();
            assert_eq!(err.variable, k);
            assert!(err.to_string().contains(k) && err.to_string().contains(v), "{err}");
        }
    }

    #[test]
    fn validate_rejects_zero_workers() {
        assert!(Config::default().with_mark_workers(0).validate().is_err());
        assert!(Config::default().validate().is_ok());
    }

    #[test]
    fn validate_rejects_a_warning_period_under_a_millisecond() {
        let zero = Config { safepoint_warn: Duration::ZERO, ..Config::default() };
        let err = zero.validate().unwrap_err();
        assert_eq!(err.variable, "safepoint_warn");
        assert!(err.to_string().contains("at least 1 ms"), "{err}");
        let one = Config { safepoint_warn: Duration::from_millis(1), ..Config::default() };
        assert!(one.validate().is_ok());
    }
}
