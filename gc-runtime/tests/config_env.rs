//! A bad `GC_*` variable is a clear error at start-up, not a silent default.

use std::process::Command;

#[test]
fn child_attach() {
    // Only does something when run as the child of the test below.
    if std::env::var_os("GC_CONFIG_CHILD").is_some() {
        let _mu = gc_runtime::attach();
    }
}

#[test]
fn a_bad_variable_stops_start_up_with_its_name() {
    for (var, value, expected) in [
        ("GC_MODE", "fast", "invalid GC_MODE=\"fast\": expected `concurrent` or `stw`"),
        ("GC_PERCENT", "lots", "invalid GC_PERCENT"),
    ] {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_attach", "--nocapture", "--test-threads=1"])
            .env("GC_CONFIG_CHILD", "1")
            .env(var, value)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{var}={value} must fail");
        assert!(stderr.contains(expected), "{var}: {stderr}");
    }
    let ok = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_attach", "--test-threads=1"])
        .env("GC_CONFIG_CHILD", "1")
        .env("GC_MODE", "stw")
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
}
