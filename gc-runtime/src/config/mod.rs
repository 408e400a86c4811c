//! Collector configuration: from code ([`Config`]) and from environment variables.
//!
//! # One table
//!
//! Every setting is declared once, in the `settings!` table below (MMTk's `options!` is the
//! model; the macro is in `declare.rs`): its field and type, default, environment variable,
//! value format (which carries its range) and setter, and one line on what it does. From that
//! table come the [`Config`] field, `Default`, the environment parsing, the `with_*` setter,
//! [`Config::validate`] and [`Config::settings`], which generates the settings table of the
//! docs (`settings.md`, included by the book and by [`Config`]'s rustdoc; copied into the
//! README). A unit test fails if a copy differs from what the table generates.
//!
//! # Strict parsing
//!
//! A value that does not parse, or is out of range, is a [`ConfigError`] naming the variable,
//! the rejected text and what is accepted; it is never silently replaced by the default.
//! Names and switches ignore ASCII case and surrounding whitespace.
//!
//! # When the environment is read
//!
//! Once, when the runtime starts by itself; a bad variable is answered the same way by every
//! entry point. The rule is in [`Config`]'s docs (section "A bad environment"), as users read it.

mod declare;
mod names;
mod values;

// Not under Miri: safe code only (Miri looks for undefined behaviour, which safe code cannot
// cause), and minutes of interpreted time. `.ci/run` checks that it stays so.
#[cfg(all(test, not(gc_loom), not(miri)))]
mod tests;

use std::{fmt, time::Duration};

use declare::settings;
pub use names::{BarrierKind, Mode};
use values::{Bytes, Flag, Format, Int, Millis, Name, OrOff};

settings! {
    /// Collector settings. Build one from [`Config::default`] or [`Config::from_env`] and the
    /// `with_*` methods, then pass it to [`init`](crate::init) or
    /// [`reconfigure`](crate::reconfigure); [`config`](fn@crate::config) returns the settings in
    /// force. The struct is `#[non_exhaustive]`: settings may be added, so it cannot be built
    /// with a struct literal outside this crate.
    ///
    /// ```
    /// use gc_runtime::{BarrierKind, Config};
    ///
    /// let config = Config::default().with_barrier(BarrierKind::Yuasa).with_mark_workers(2);
    /// assert!(config.validate().is_ok());
    /// assert!(config.with_mark_workers(0).validate().is_err());
    /// ```
    ///
    /// # Settings
    ///
    /// Generated from the declaration below (through [`Config::settings`]); a test keeps the
    /// copies in the book and the README identical.
    ///
    #[doc = include_str!("settings.md")]
    ///
    /// # A bad environment
    ///
    /// The runtime reads the `GC_*` variables once, when it starts by itself: at the first
    /// [`attach`](crate::attach), [`try_attach`](crate::try_attach), [`stats`](fn@crate::stats),
    /// [`config`](fn@crate::config) or [`reconfigure`](crate::reconfigure) of a process that has
    /// not called [`init`](crate::init). If a variable is bad, the runtime does not start and
    /// that call reports the [`ConfigError`]:
    ///
    /// - `try_attach` and `reconfigure` return it (as
    ///   [`AttachError::Config`](crate::AttachError::Config) and as is);
    /// - `attach`, `stats` and `config` panic with `gc configuration: ` and the error, e.g.
    ///   `` gc configuration: invalid GC_MODE="fast": expected `concurrent` or `stw` ``.
    ///
    /// Nothing falls back to a default. As the runtime did not start, the next such call reads
    /// the environment again and answers the same way. [`init`](crate::init) starts the
    /// runtime from its `Config` alone and never reads the environment (combine the two with
    /// `Config::from_env()?.with_…`); once the runtime runs, the environment is not read again.
    #[derive(Clone, Debug, PartialEq, Eq)]
    #[non_exhaustive]
    pub struct Config {
        /// Mark concurrently with the mutators, or mark and sweep with the world stopped.
        mode: Mode {
            default: Mode::Concurrent,
            env: GC_MODE,
            values: Name,
            setter: with_mode,
        },
        /// Which write barrier runs on pointer stores while marking.
        barrier: BarrierKind {
            default: BarrierKind::Dijkstra,
            env: GC_BARRIER,
            values: Name,
            setter: with_barrier,
        },
        /// Start a cycle when the heap has grown this many percent over the last live heap.
        ///
        /// `None` (`off`) disables pacer-triggered cycles: only
        /// [`Mutator::collect`](crate::Mutator::collect) runs one.
        gc_percent: Option<u32> {
            default: Some(100),
            env: GC_PERCENT,
            values: OrOff(Int::any()),
            setter: with_gc_percent,
        },
        /// Never start a pacer-triggered cycle below this heap size, in bytes.
        min_heap: usize {
            default: 4 << 20,
            env: GC_MIN_HEAP,
            values: Bytes,
            setter: with_min_heap,
        },
        /// Background threads that mark during a concurrent cycle.
        ///
        /// Marking without a locked instruction (stop-the-world mode) uses at least one thread per core.
        /// At most 64 threads mark at once, the collector's own included: more are accepted, and
        /// left unused.
        mark_workers: usize {
            default: 1,
            env: GC_MARK_WORKERS,
            values: Int::range(1, 256),
            setter: with_mark_workers,
        },
        /// Also mark on the cores of mutators that wait in `collect` for the cycle.
        ///
        /// A mutator that waits for a concurrent cycle leaves its core idle: with this on, the
        /// collector adds one mark worker per such mutator, as long as the workers and the
        /// running mutators together stay within the cores (Go's idle mark workers), once the
        /// heap at mark start reaches 1 MiB (a smaller one marks faster than a worker wakes).
        /// Off, a concurrent cycle marks with exactly `mark_workers` threads.
        idle_mark_workers: bool {
            default: true,
            env: GC_IDLE_MARK_WORKERS,
            values: Flag,
            setter: with_idle_mark_workers,
        },
        /// In a concurrent cycle, mark without locked instructions, beside the running mutators.
        ///
        /// Each drain of a concurrent cycle is an exclusive job, as a drain inside a pause is:
        /// each 4 KiB of memory has one mark worker, which sets its mark bits with plain stores
        /// (see the book's "Marking without a locked instruction"). Mutators set no mark bits but
        /// those of the objects they allocate and those their mark assists find, and those are
        /// set again before the marking ends (the same chapter, "Beside running mutators"). Off (`0`), a concurrent drain sets every
        /// mark bit with a locked instruction.
        exclusive_marking: bool {
            default: true,
            env: GC_EXCLUSIVE_MARKING,
            values: Flag,
            setter: with_exclusive_marking,
        },
        /// Turn the record of mutators' marks off once it outgrows this many thousandths of the heap.
        ///
        /// With `exclusive_marking`, the marks mutators set beside running drains (black
        /// allocation, mark assists) are recorded until a termination round sets them again
        /// (the book's "Marking without a locked instruction", "Beside running mutators"):
        /// 8 bytes per object an assist marks. A record that takes the record over this share of
        /// the heap at mark start gives the running drain up, and the rest of the marking's
        /// drains beside the mutators set their bits with locked instructions; once that
        /// drain's workers have left, mutators record nothing more. It is a trigger, not a cap:
        /// the record grows until the workers leave (milliseconds; more on a starved core), and
        /// a record made while no drain runs acts at the next drain. `0`: the first record
        /// triggers it. The default, 40, is 4 %.
        mark_log_permille: u32 {
            default: 40,
            env: GC_MARK_LOG_PERMILLE,
            values: Int::range(0, 1000),
            setter: with_mark_log_permille,
        },
        /// In a concurrent cycle, mark without locked instructions while no mutator runs.
        ///
        /// Only with `exclusive_marking` off: with it on, every concurrent drain marks so.
        ///
        /// When every mutator waits in `collect`, is blocked or detached, the collector stops
        /// the world — which holds nobody up — and marks as it does inside a pause: each mark
        /// bit has one writer, which sets it with a plain store (see the book's "Marking inside
        /// a pause"); a concurrent `collect` whose caller is the only mutator marks 1.5–1.7 times
        /// as fast. A thread that wants to run meanwhile (attaching, or coming back from `collect`
        /// or a blocking section) ends it and waits until the workers have handed their work
        /// back and the world has started: tens of microseconds, but now and then, on a busy
        /// machine, milliseconds (the workers must get a core to notice), and with many more
        /// runnable threads than cores as long as the scheduler takes to run them (50–60 ms
        /// with 16 threads spinning on 2 cores). Off by default, so that a concurrent cycle
        /// never makes a thread wait for marking.
        idle_exclusive_marking: bool {
            default: false,
            env: GC_IDLE_EXCLUSIVE_MARKING,
            values: Flag,
            setter: with_idle_exclusive_marking,
        },
        /// Print one line per cycle on stderr.
        trace: bool {
            default: false,
            env: GC_TRACE,
            values: Flag,
            setter: with_trace,
        },
        /// Verify every concurrent mark with a stop-the-world mark.
        ///
        /// After each concurrent mark, re-mark from the roots with the world stopped and abort
        /// with a report if an object reachable from a root was left unmarked.
        checkmark: bool {
            default: false,
            env: GC_CHECKMARK,
            values: Flag,
            setter: with_checkmark,
        },
        /// Change phases by per-thread handshakes instead of stopping the world.
        ///
        /// In concurrent mode, marking starts and terminates without a pause: to start, each
        /// mutator takes up the barrier and the new epoch at its own next safepoint (one round
        /// for Dijkstra, two for Yuasa and the hybrid) before the roots are scanned; to
        /// terminate, the collector runs handshake rounds, in which each mutator publishes its
        /// grey objects at its own next safepoint and goes on, until a round in which no grey
        /// work appeared anywhere. No mutator waits for another. `false` (`0`): stop the world
        /// for mark start and mark termination, as the seed's collector does. With checkmark
        /// on, or after a thread ended with its mutator leaked, the termination still stops the
        /// world once, to verify or to pin.
        handshakes: bool {
            default: true,
            env: GC_HANDSHAKES,
            values: Flag,
            setter: with_handshakes,
        },
        /// Warn when a mutator takes this long to reach a safepoint, or a `collect` waits this long for a destructor.
        ///
        /// The collector, or the `collect`, keeps waiting: the warning names the thread.
        safepoint_warn: Duration {
            default: Duration::from_millis(1000),
            env: GC_SAFEPOINT_WARN_MS,
            values: Millis::at_least(1),
            setter: with_safepoint_warn,
        },
        /// A hard limit on the GC heap, in bytes: past it `try_alloc` fails and `alloc` panics.
        /// Memory that objects own outside the heap is not counted.
        ///
        /// What counts is the GC objects themselves — header, fields, the elements of a slice or
        /// `str` allocated in the heap — in their pages or large-object blocks. Memory an object
        /// owns through the global allocator is not: a `Vec`'s or `String`'s buffer, a `Box`'s
        /// contents, and the buffers and tables of the GC collections (`GcVec`, `GcMap` and the
        /// others keep theirs off the heap: [`Stats::owned_bytes`](crate::Stats::owned_bytes);
        /// the pacer counts those, so their growth starts cycles, but a collection's growth is
        /// never refused). An object holding a `Vec<u8>` of 1 MiB is charged its own 32 bytes;
        /// to bound such data, allocate it in the heap (`alloc_slice`, `alloc_str`) or account
        /// for it yourself.
        ///
        /// `None` (`off`): no limit. The pacer starts cycles before it is reached; an allocation that would exceed it
        /// requests a collection and, if the heap is still over, fails
        /// ([`Mutator::try_alloc`](crate::Mutator::try_alloc)) or panics
        /// ([`Mutator::alloc`](crate::Mutator::alloc)). Checked when a mutator takes a new page
        /// (64 KiB) or allocates a large object, so the heap can exceed it by at most one page
        /// per size class per mutator.
        ///
        /// A dead object whose type needs dropping counts until the one finalizer thread has run
        /// its destructors: threads that make such garbage
        /// faster than that thread drops it reach the limit with little alive (a hostile review
        /// saw the first refusal at 64 MiB with a few KiB live, one thread allocating objects
        /// with a trivial `Drop` field). Allocation does not wait for the finalizer; a refused
        /// allocation's [`Mutator::try_reserve`](crate::Mutator::try_reserve), which collects,
        /// does, since `collect` returns only once its cycle's destructors have run.
        memory_limit: Option<usize> {
            default: None,
            env: GC_MEMORY_LIMIT,
            values: OrOff(Bytes),
            setter: with_memory_limit,
        },
        /// Give the memory of a page that has been empty this long back to the OS.
        ///
        /// The collector thread releases such pages (`madvise(MADV_DONTNEED)` on Unix; other
        /// platforms keep the memory) while the heap holds more than the pacer's goal plus
        /// 10 %; [`Stats::heap_released`](crate::Stats::heap_released) counts them. With glibc,
        /// once 4 MiB of large objects' blocks have been freed for this long, it also has the
        /// allocator give back the free memory it keeps (`malloc_trim`, which walks its free
        /// lists: [`Stats::allocator_trims`](crate::Stats::allocator_trims)). `None` (`off`):
        /// keep every page's memory, and never trim.
        scavenge_after: Option<Duration> {
            default: Some(Duration::from_millis(1000)),
            env: GC_SCAVENGE_AFTER_MS,
            values: OrOff(Millis::at_least(0)),
            setter: with_scavenge_after,
        },
        /// Start a cycle when none has run for this long and the heap holds anything.
        ///
        /// Cycles start from allocation (the pacer) or from `collect()`; a program that stops
        /// allocating — a server idle after a burst — would otherwise keep the objects it left
        /// dead, their destructors unrun (open files, `Root`s held in fields) and their memory
        /// committed, for as long as it stays idle. Go forces a collection every two minutes
        /// for the same reason; so does this collector by default. Such a cycle is an ordinary
        /// one: concurrent in concurrent mode. A thread idle while attached (a read without
        /// [`Mutator::blocking`](crate::Mutator::blocking)) holds it up until it comes back, as
        /// it would any cycle; since nobody asked for this one, it warns of that thread
        /// (`safepoint_warn`) only while another thread waits for the collector. The period
        /// starts again at the end of every cycle, so an idle program whose heap holds anything
        /// runs one cycle per period for as long as it stays idle; the collector looks at the
        /// timer at most every 10 ms, so a shorter period acts as 10 ms.
        /// `None` (`off`): never start one on a timer.
        force_cycle_after: Option<Duration> {
            default: Some(Duration::from_secs(120)),
            env: GC_FORCE_CYCLE_AFTER_MS,
            values: OrOff(Millis::at_least(1)),
            setter: with_force_cycle_after,
        },
    }
}

impl Config {
    /// The defaults overridden by every `GC_*` variable that is set (see [`Config::settings`]
    /// for the list).
    ///
    /// ```
    /// use gc_runtime::Config;
    ///
    /// // The environment's settings, but never the per-cycle trace line.
    /// let config = Config::from_env()?.with_trace(false);
    /// # Ok::<(), gc_runtime::ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// The first variable whose value does not parse or is out of range (a value that is not
    /// Unicode does not parse).
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::default().apply_vars(|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()))
    }
}

/// One setting of [`Config`], as declared: what [`Config::settings`] returns.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Setting {
    /// The [`Config`] field, e.g. `mark_workers`.
    pub field: &'static str,
    /// Its builder method, e.g. `with_mark_workers`.
    pub setter: &'static str,
    /// Its environment variable, e.g. `GC_MARK_WORKERS`.
    pub variable: &'static str,
    /// What it does, in one line.
    pub summary: &'static str,
    /// What the variable accepts, e.g. "an integer from 1 to 256" (also the `expected` of a
    /// [`ConfigError`] about it).
    pub accepts: String,
    /// The default, as the variable would spell it, e.g. `4M`.
    pub default: String,
    /// The value in the `Config` it was read from, spelled the same way (durations rounded
    /// down to whole milliseconds).
    pub value: String,
}

/// A configuration value that could not be accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable at fault, e.g. `GC_PERCENT`, or the field when [`Config::validate`]
    /// rejected a value set in code, e.g. `mark_workers`.
    pub variable: &'static str,
    /// The rejected value: the variable's text, or the field's value in `Debug` form.
    pub value: String,
    /// What would have been accepted, e.g. "an integer from 1 to 256".
    pub expected: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}={:?}: expected {}", self.variable, self.value, self.expected)
    }
}

impl std::error::Error for ConfigError {}

/// The value of `variable` written as `text` (trimmed), or why not.
fn parse_var<T>(variable: &'static str, text: &str, format: &impl Format<T>) -> Result<T, ConfigError> {
    match format.parse(text.trim()) {
        Some(value) if format.check(&value) => Ok(value),
        _ => Err(ConfigError { variable, value: text.to_owned(), expected: format.accepts() }),
    }
}

/// Whether the value of `field`, set in code, is in its format's range.
fn check_field<T: fmt::Debug>(field: &'static str, value: &T, format: &impl Format<T>) -> Result<(), ConfigError> {
    if format.check(value) {
        Ok(())
    } else {
        Err(ConfigError { variable: field, value: format!("{value:?}"), expected: format.accepts() })
    }
}

/// `setting` completed with what its format says about it.
fn describe<T>(setting: Setting, format: &impl Format<T>, default: &T, value: &T) -> Setting {
    Setting { accepts: format.accepts(), default: format.show(default), value: format.show(value), ..setting }
}
