//! The settings table: every setting's default, variable (good and bad values), setter and
//! range; the names of `Mode` and `BarrierKind`; the docs tables generated from the table.

use std::{fs, path::PathBuf};

use super::*;
use crate::named::{Named, ParseNameError};

/// `Config::default()` with `vars` applied.
fn with(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::default().apply_vars(move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
}

/// The declared setting read from `variable`.
fn setting(variable: &str) -> Setting {
    Config::default().settings().into_iter().find(|s| s.variable == variable).unwrap()
}

#[test]
fn defaults() {
    let c = Config::default();
    assert_eq!(c.mode, Mode::Concurrent);
    assert_eq!(c.barrier, BarrierKind::Dijkstra);
    assert_eq!(c.gc_percent, Some(100));
    assert_eq!(c.min_heap, 4 << 20);
    assert_eq!(c.mark_workers, 1);
    assert!(c.idle_mark_workers);
    assert!(c.exclusive_marking);
    assert_eq!(c.mark_log_permille, 40);
    assert!(!c.idle_exclusive_marking);
    assert!(!c.trace);
    assert!(!c.checkmark);
    assert!(c.handshakes);
    assert_eq!(c.safepoint_warn, Duration::from_millis(1000));
    assert_eq!(c.memory_limit, None);
    assert_eq!(c.scavenge_after, Some(Duration::from_millis(1000)));
    assert_eq!(c.force_cycle_after, Some(Duration::from_secs(120)));
    assert_eq!(c.validate(), Ok(()));
    assert_eq!(with(&[]), Ok(Config::default()), "no variables: the defaults");
    let shown: Vec<(&str, String)> = c.settings().into_iter().map(|s| (s.variable, s.default)).collect();
    let expected = [
        ("GC_MODE", "concurrent"),
        ("GC_BARRIER", "dijkstra"),
        ("GC_PERCENT", "100"),
        ("GC_MIN_HEAP", "4M"),
        ("GC_MARK_WORKERS", "1"),
        ("GC_IDLE_MARK_WORKERS", "1"),
        ("GC_EXCLUSIVE_MARKING", "1"),
        ("GC_MARK_LOG_PERMILLE", "40"),
        ("GC_IDLE_EXCLUSIVE_MARKING", "0"),
        ("GC_TRACE", "0"),
        ("GC_CHECKMARK", "0"),
        ("GC_HANDSHAKES", "1"),
        ("GC_SAFEPOINT_WARN_MS", "1000"),
        ("GC_MEMORY_LIMIT", "off"),
        ("GC_SCAVENGE_AFTER_MS", "1000"),
        ("GC_FORCE_CYCLE_AFTER_MS", "120000"),
    ];
    assert_eq!(shown, expected.map(|(v, d)| (v, d.to_string())));
}

#[test]
fn every_setting_has_a_variable_a_setter_and_a_summary() {
    let settings = Config::default().settings();
    let mut variables: Vec<&str> = settings.iter().map(|s| s.variable).collect();
    variables.sort_unstable();
    variables.dedup();
    assert_eq!(variables.len(), settings.len(), "one variable per setting");
    for s in settings {
        assert_eq!(s.setter, format!("with_{}", s.field));
        assert!(s.variable.starts_with("GC_"), "{}", s.variable);
        assert!(s.summary.ends_with('.') && !s.summary.contains(['|', '\n', '[']), "{}: {:?}", s.field, s.summary);
        assert!(!s.accepts.is_empty() && !s.accepts.contains('|'), "{}", s.field);
        assert_eq!(s.value, s.default, "{}: the value of the defaults", s.field);
    }
}

/// Each variable with texts it accepts and the setter call that gives the same `Config`.
#[test]
fn each_variable_accepts_its_values_as_its_setter_does() {
    let d = Config::default;
    let on = [" 1 ", "1", "true", "On", "YES"];
    let off = ["0", "false", "off", "No", ""];
    let mut cases: Vec<(&str, &str, Config)> = vec![
        ("GC_MODE", "concurrent", d().with_mode(Mode::Concurrent)),
        ("GC_MODE", "stw", d().with_mode(Mode::StopTheWorld)),
        ("GC_MODE", " STW ", d().with_mode(Mode::StopTheWorld)),
        ("GC_MODE", "Stop-The-World", d().with_mode(Mode::StopTheWorld)),
        ("GC_MODE", "stoptheworld", d().with_mode(Mode::StopTheWorld)),
        ("GC_BARRIER", "dijkstra", d().with_barrier(BarrierKind::Dijkstra)),
        ("GC_BARRIER", "Yuasa", d().with_barrier(BarrierKind::Yuasa)),
        ("GC_BARRIER", "HYBRID", d().with_barrier(BarrierKind::Hybrid)),
        ("GC_PERCENT", "0", d().with_gc_percent(Some(0))),
        ("GC_PERCENT", "50", d().with_gc_percent(Some(50))),
        ("GC_PERCENT", "4294967295", d().with_gc_percent(Some(u32::MAX))),
        ("GC_PERCENT", "off", d().with_gc_percent(None)),
        ("GC_PERCENT", "OFF", d().with_gc_percent(None)),
        ("GC_MIN_HEAP", "0", d().with_min_heap(0)),
        ("GC_MIN_HEAP", "4194304", d().with_min_heap(4 << 20)),
        ("GC_MIN_HEAP", "512k", d().with_min_heap(512 << 10)),
        ("GC_MIN_HEAP", "16 M", d().with_min_heap(16 << 20)),
        ("GC_MIN_HEAP", "1G", d().with_min_heap(1 << 30)),
        ("GC_MARK_WORKERS", "1", d().with_mark_workers(1)),
        ("GC_MARK_WORKERS", " 2 ", d().with_mark_workers(2)),
        ("GC_MARK_WORKERS", "256", d().with_mark_workers(256)),
        ("GC_MARK_LOG_PERMILLE", "0", d().with_mark_log_permille(0)),
        ("GC_MARK_LOG_PERMILLE", "1000", d().with_mark_log_permille(1000)),
        ("GC_SAFEPOINT_WARN_MS", "1", d().with_safepoint_warn(Duration::from_millis(1))),
        ("GC_SAFEPOINT_WARN_MS", "25", d().with_safepoint_warn(Duration::from_millis(25))),
        ("GC_MEMORY_LIMIT", "off", d().with_memory_limit(None)),
        ("GC_MEMORY_LIMIT", "0", d().with_memory_limit(Some(0))),
        ("GC_MEMORY_LIMIT", "256M", d().with_memory_limit(Some(256 << 20))),
        ("GC_SCAVENGE_AFTER_MS", "0", d().with_scavenge_after(Some(Duration::ZERO))),
        ("GC_SCAVENGE_AFTER_MS", "5000", d().with_scavenge_after(Some(Duration::from_secs(5)))),
        ("GC_SCAVENGE_AFTER_MS", "OFF", d().with_scavenge_after(None)),
        ("GC_FORCE_CYCLE_AFTER_MS", "1", d().with_force_cycle_after(Some(Duration::from_millis(1)))),
        ("GC_FORCE_CYCLE_AFTER_MS", "60000", d().with_force_cycle_after(Some(Duration::from_secs(60)))),
        (
            "GC_FORCE_CYCLE_AFTER_MS",
            "18446744073709551615",
            d().with_force_cycle_after(Some(Duration::from_millis(u64::MAX))),
        ),
        ("GC_FORCE_CYCLE_AFTER_MS", "off", d().with_force_cycle_after(None)),
    ];
    for (texts, value) in [(on, true), (off, false)] {
        for text in texts {
            cases.push(("GC_IDLE_MARK_WORKERS", text, d().with_idle_mark_workers(value)));
            cases.push(("GC_EXCLUSIVE_MARKING", text, d().with_exclusive_marking(value)));
            cases.push(("GC_IDLE_EXCLUSIVE_MARKING", text, d().with_idle_exclusive_marking(value)));
            cases.push(("GC_TRACE", text, d().with_trace(value)));
            cases.push(("GC_CHECKMARK", text, d().with_checkmark(value)));
            cases.push(("GC_HANDSHAKES", text, d().with_handshakes(value)));
        }
    }
    for (var, text, expected) in cases {
        assert_eq!(with(&[(var, text)]), Ok(expected), "{var}={text:?}");
    }
}

#[test]
fn each_setter_sets_its_field_only() {
    let d = Config::default();
    let changed = [
        d.clone().with_mode(Mode::StopTheWorld),
        d.clone().with_barrier(BarrierKind::Yuasa),
        d.clone().with_gc_percent(None),
        d.clone().with_min_heap(0),
        d.clone().with_mark_workers(3),
        d.clone().with_idle_mark_workers(false),
        d.clone().with_exclusive_marking(false),
        d.clone().with_mark_log_permille(1),
        d.clone().with_idle_exclusive_marking(true),
        d.clone().with_trace(true),
        d.clone().with_checkmark(true),
        d.clone().with_handshakes(false),
        d.clone().with_safepoint_warn(Duration::from_millis(7)),
        d.clone().with_memory_limit(Some(1 << 30)),
        d.clone().with_scavenge_after(None),
        d.clone().with_force_cycle_after(None),
    ];
    let defaults = d.settings();
    assert_eq!(changed.len(), defaults.len(), "one case per setting");
    for (i, c) in changed.iter().enumerate() {
        let differing: Vec<&str> =
            c.settings().iter().zip(&defaults).filter(|(a, b)| a.value != b.value).map(|(a, _)| a.variable).collect();
        assert_eq!(differing, [defaults[i].variable]);
    }
}

#[test]
fn each_variable_rejects_bad_values_naming_itself() {
    for (var, bad) in [
        ("GC_MODE", &["fast", "", "concurrently", "s t w"][..]),
        ("GC_BARRIER", &["steele", "", "dijkstra-yuasa"]),
        ("GC_PERCENT", &["-5", "1.5", "", "4294967296", "of"]),
        ("GC_MIN_HEAP", &["lots", "", "M", "-1", "4T", "1.5M", "99999999999999999999", "17179869184G"]),
        ("GC_MARK_WORKERS", &["0", "257", "-1", "two", ""]),
        ("GC_MARK_LOG_PERMILLE", &["1001", "-1", "4%", "", "1.5"]),
        ("GC_TRACE", &["maybe", "2", "-1"]),
        ("GC_CHECKMARK", &["2", "y"]),
        ("GC_SAFEPOINT_WARN_MS", &["0", "-1", "1.5", "", "1s"]),
        ("GC_MEMORY_LIMIT", &["a lot", "", "unlimited", "-1M"]),
        ("GC_SCAVENGE_AFTER_MS", &["-1", "1s", "", "never", "0.5"]),
        ("GC_FORCE_CYCLE_AFTER_MS", &["0", "-1", "2m", ""]),
    ] {
        let accepts = setting(var).accepts;
        for text in bad {
            let err = with(&[(var, text)]).unwrap_err();
            let expected = ConfigError { variable: var, value: text.to_string(), expected: accepts.clone() };
            assert_eq!(err, expected, "{var}={text:?}");
            assert_eq!(err.to_string(), format!("invalid {var}={text:?}: expected {accepts}"));
        }
    }
}

#[test]
fn the_error_quoted_in_the_docs() {
    let err = with(&[("GC_MODE", "fast")]).unwrap_err();
    assert_eq!(err.to_string(), "invalid GC_MODE=\"fast\": expected `concurrent` or `stw`");
    let err = with(&[("GC_MARK_WORKERS", "0")]).unwrap_err();
    assert_eq!(err.to_string(), "invalid GC_MARK_WORKERS=\"0\": expected an integer from 1 to 256");
}

#[test]
fn validate_checks_the_ranges_the_variables_have() {
    let d = Config::default;
    for ok in [
        d().with_mark_workers(1),
        d().with_mark_workers(256),
        d().with_mark_log_permille(0),
        d().with_mark_log_permille(1000),
        d().with_safepoint_warn(Duration::from_millis(1)),
        d().with_safepoint_warn(Duration::MAX),
        d().with_gc_percent(Some(0)).with_min_heap(0).with_memory_limit(Some(0)),
        d().with_gc_percent(Some(u32::MAX)).with_min_heap(usize::MAX).with_memory_limit(Some(usize::MAX)),
    ] {
        assert_eq!(ok.validate(), Ok(()), "{ok:?}");
    }
    for (bad, field, value) in [
        (d().with_mark_workers(0), "mark_workers", "0"),
        (d().with_mark_workers(257), "mark_workers", "257"),
        (d().with_mark_log_permille(1001), "mark_log_permille", "1001"),
        (d().with_safepoint_warn(Duration::ZERO), "safepoint_warn", "0ns"),
        (d().with_safepoint_warn(Duration::from_micros(999)), "safepoint_warn", "999µs"),
    ] {
        let variable = Config::default().settings().into_iter().find(|s| s.field == field).unwrap();
        let expected = ConfigError { variable: field, value: value.to_string(), expected: variable.accepts };
        assert_eq!(bad.validate(), Err(expected));
    }
}

#[test]
fn the_first_bad_variable_is_reported() {
    let err = with(&[("GC_MODE", "stw"), ("GC_BARRIER", "steele"), ("GC_MARK_WORKERS", "0")]).unwrap_err();
    assert_eq!(err.variable, "GC_BARRIER");
}

#[test]
fn settings_round_trip_through_their_variables() {
    let custom = Config::default()
        .with_mode(Mode::StopTheWorld)
        .with_barrier(BarrierKind::Hybrid)
        .with_gc_percent(None)
        .with_min_heap(3 << 10)
        .with_mark_workers(256)
        .with_mark_log_permille(0)
        .with_trace(true)
        .with_checkmark(true)
        .with_safepoint_warn(Duration::from_millis(25))
        .with_memory_limit(Some(1536))
        .with_scavenge_after(Some(Duration::from_millis(250)));
    let never_scavenge = Config::default().with_scavenge_after(None);
    for config in [Config::default(), custom, never_scavenge] {
        let vars: Vec<(&str, String)> = config.settings().into_iter().map(|s| (s.variable, s.value)).collect();
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(with(&vars), Ok(config));
    }
}

#[test]
fn mode_and_barrier_names_round_trip() {
    fn check<T: Named + fmt::Display + std::str::FromStr<Err = ParseNameError> + fmt::Debug>(
        all: &[T],
        canonical: &[&str],
        variable: &str,
    ) {
        for (value, name) in all.iter().zip(canonical) {
            assert_eq!(value.to_string(), *name);
            assert_eq!(name.parse::<T>(), Ok(*value));
            assert_eq!(name.to_ascii_uppercase().parse::<T>(), Ok(*value), "case is ignored, as in {variable}");
        }
        for (alias, value) in T::NAMES {
            assert_eq!(alias.parse::<T>(), Ok(*value));
        }
        let err = "nonsense".parse::<T>().unwrap_err();
        let expected = setting(variable).accepts;
        assert_eq!(err, ParseNameError { what: T::WHAT, value: "nonsense".into(), expected: expected.clone() });
        assert_eq!(err.to_string(), format!("unknown {} \"nonsense\": expected {expected}", T::WHAT));
        assert!(format!(" {}", canonical[0]).parse::<T>().is_err(), "FromStr does not trim; the variables do");
    }
    check(&[Mode::Concurrent, Mode::StopTheWorld], &["concurrent", "stw"], "GC_MODE");
    check(
        &[BarrierKind::Dijkstra, BarrierKind::Yuasa, BarrierKind::Hybrid],
        &["dijkstra", "yuasa", "hybrid"],
        "GC_BARRIER",
    );
    assert_eq!(setting("GC_MODE").accepts, "`concurrent` or `stw`");
    assert_eq!(setting("GC_BARRIER").accepts, "`dijkstra`, `yuasa` or `hybrid`");
}

/// The settings table of the docs, generated from the declaration.
fn markdown_table() -> String {
    let mut out = String::from("| variable | field (setter) | values | default | meaning |\n|---|---|---|---|---|\n");
    for s in Config::default().settings() {
        out += &format!(
            "| `{}` | `{}` (`{}`) | {} | `{}` | {} |\n",
            s.variable, s.field, s.setter, s.accepts, s.default, s.summary
        );
    }
    out
}

const README_START: &str =
    "<!-- settings table: generated from gc-runtime/src/config/mod.rs, checked by its tests -->\n\n";
const README_END: &str = "\n<!-- end of settings table -->";

/// A copy of the table in the docs: its file, and the markers around it (none: the whole file).
fn copies() -> [(PathBuf, &'static str, &'static str); 2] {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    [(root.join("src/config/settings.md"), "", ""), (root.join("README.md"), README_START, README_END)]
}

/// The docs tables are what the declaration generates: `settings.md` (included by the book and
/// by `Config`'s rustdoc) and the README's copy. `UPDATE_SETTINGS_TABLE=1 cargo test -p
/// gc-runtime --lib config` rewrites them.
#[test]
#[cfg_attr(miri, ignore)] // reads files, which Miri's isolation forbids
fn the_docs_tables_are_generated_from_the_declaration() {
    let table = markdown_table();
    let update = std::env::var_os("UPDATE_SETTINGS_TABLE").is_some();
    for (path, start, end) in copies() {
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (before, found, after) = if start.is_empty() {
            ("", text.as_str(), "")
        } else {
            let (before, rest) = text.split_once(start).unwrap_or_else(|| panic!("{}: no {start:?}", path.display()));
            let (found, after) = rest.split_once(end).unwrap_or_else(|| panic!("{}: no {end:?}", path.display()));
            (before, found, after)
        };
        if found == table {
            continue;
        }
        if update {
            fs::write(&path, format!("{before}{start}{table}{end}{after}")).unwrap();
        } else {
            panic!(
                "{} differs from the settings declared in gc-runtime/src/config/mod.rs; \
                 rerun with UPDATE_SETTINGS_TABLE=1 to regenerate it. Expected:\n{table}",
                path.display()
            );
        }
    }
}
