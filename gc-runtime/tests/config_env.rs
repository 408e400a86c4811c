//! How each entry point answers a bad `GC_*` variable, as `Config`'s docs ("A bad environment")
//! and the book's configuration reference say: the runtime does not start; `try_attach` and
//! `reconfigure` return the error, `attach`, `stats` and `config` panic with it, `init` does not
//! read the environment. The runtime is process-wide, so each case runs in a child process.

mod common;

use common::child::{child, in_child, DEADLINE};
use gc_runtime::{AttachError, Config, ConfigError, Mode};

/// A bad variable, and the error it must produce.
const BAD_MODE: (&str, &str) = ("GC_MODE", "fast");

fn bad_mode_error() -> ConfigError {
    ConfigError { variable: "GC_MODE", value: "fast".into(), expected: "`concurrent` or `stw`".into() }
}

/// What `attach`, `stats` and `config` panic with, for each bad variable.
const PANICS: [((&str, &str), &str); 2] = [
    (BAD_MODE, "gc configuration: invalid GC_MODE=\"fast\": expected `concurrent` or `stw`"),
    (
        ("GC_MARK_WORKERS", "257"),
        "gc configuration: invalid GC_MARK_WORKERS=\"257\": expected an integer from 1 to 256",
    ),
];

#[test]
fn child_attach() {
    if in_child() {
        let _mu = gc_runtime::attach();
        println!("done");
    }
}

#[test]
fn child_stats() {
    if in_child() {
        let _ = gc_runtime::stats();
        println!("done");
    }
}

#[test]
fn child_config() {
    if in_child() {
        let _ = gc_runtime::config();
        println!("done");
    }
}

#[test]
fn infallible_entry_points_panic_with_the_error() {
    for ((var, value), message) in PANICS {
        for name in ["child_attach", "child_stats", "child_config"] {
            let out = child(name, &[(var, value)], DEADLINE);
            assert!(!out.success && !out.timed_out && !out.stdout.contains("done"), "{name}: {}", out.describe());
            assert!(out.stderr.contains(message), "{name} with {var}={value}: {}", out.describe());
        }
    }
}

/// `try_attach` returns the error, again on a second call (the runtime did not start), and
/// attaches once the variable is fixed.
#[test]
fn child_try_attach() {
    if !in_child() {
        return;
    }
    for _ in 0..2 {
        match gc_runtime::try_attach() {
            Err(e) => {
                assert_eq!(e, AttachError::Config(bad_mode_error()));
                assert_eq!(e.to_string(), PANICS[0].1, "the message the panicking entry points use");
            }
            Ok(_) => panic!("attached with GC_MODE=fast"),
        }
    }
    // SAFETY: no other thread reads or writes the environment: the child runs this one test
    // (`--exact`, `--test-threads=1`), libtest's main thread only waits for it, and the runtime
    // did not start (the attaches above failed), so no collector thread exists.
    unsafe { std::env::set_var("GC_MODE", "stw") };
    let _mu = gc_runtime::try_attach().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(gc_runtime::config().mode, Mode::StopTheWorld);
    println!("done");
}

/// `reconfigure` checks its own `Config` first, then returns the environment's error (again on
/// a second call) without starting the runtime.
#[test]
fn child_reconfigure() {
    if !in_child() {
        return;
    }
    let own = gc_runtime::reconfigure(Config::default().with_mark_workers(0)).unwrap_err();
    assert_eq!(own.variable, "mark_workers");
    for _ in 0..2 {
        assert_eq!(gc_runtime::reconfigure(Config::default()), Err(bad_mode_error()));
    }
    assert!(gc_runtime::try_attach().is_err(), "the runtime did not start");
    println!("done");
}

/// `init` does not read the environment, so a bad variable does not stop it.
#[test]
fn child_init() {
    if !in_child() {
        return;
    }
    let config = Config::default().with_mark_workers(2);
    gc_runtime::init(config.clone()).unwrap();
    assert_eq!(gc_runtime::config(), config);
    let _mu = gc_runtime::attach();
    let _ = gc_runtime::stats();
    println!("done");
}

#[test]
fn fallible_entry_points_return_the_error_and_init_ignores_it() {
    for name in ["child_try_attach", "child_reconfigure", "child_init"] {
        child(name, &[BAD_MODE], DEADLINE).assert_completed();
    }
}

/// Good variables are what the runtime starts with.
#[test]
fn child_good_variables() {
    if in_child() {
        let _mu = gc_runtime::attach();
        let c = gc_runtime::config();
        assert_eq!((c.mode, c.mark_workers, c.min_heap), (Mode::StopTheWorld, 3, 64 << 10));
        println!("done");
    }
}

#[test]
fn good_variables_configure_the_runtime() {
    let vars = [("GC_MODE", "stw"), ("GC_MARK_WORKERS", "3"), ("GC_MIN_HEAP", "64K")];
    child("child_good_variables", &vars, DEADLINE).assert_completed();
}
