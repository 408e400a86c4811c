//! Runs every measuring program at its smallest size and checks its exit status and the shape
//! of its output (the figures themselves are not checked: they depend on the machine).

use std::path::PathBuf;

use gc_bench_support::run_check::{run_ok as run, table_row};

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gc-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn binary_trees_box_prints_what_the_gc_example_prints() {
    // The same text as examples/tests/examples_run.rs expects from `binary_trees` (GC nodes).
    let expected = "stretch tree of depth 7\t check: 255\n\
                    64\t trees of depth 4\t check: 1984\n\
                    16\t trees of depth 6\t check: 2032\n\
                    long lived tree of depth 6\t check: 127\n";
    let (out, err) = run(env!("CARGO_BIN_EXE_binary_trees_box"), &["6"]);
    assert_eq!(out, expected);
    assert!(err.lines().any(|l| l.starts_with("time: ") && l.ends_with(" s")), "{err}");
    let (threaded, _) = run(env!("CARGO_BIN_EXE_binary_trees_box"), &["6", "--threads", "3"]);
    assert_eq!(threaded, expected);
}

#[test]
fn pause_bench_compares_both_modes() {
    let (stdout, _) = run(env!("CARGO_BIN_EXE_pause_bench"), &["--live", "20000", "--seconds", "1", "--mode", "both"]);
    for label in
        ["thread pause max", "thread MMU 1 / 10 / 100 ms", "max pause", "p99 pause", "p50 pause", "cycles", "pauses"]
    {
        let cells = table_row(&stdout, label);
        assert_eq!(cells.len(), 3, "row {label:?}: {cells:?}");
        assert!(cells.iter().all(|c| *c != "?" && *c != "failed"), "row {label:?}: {cells:?}");
    }
    for c in table_row(&stdout, "cycles") {
        assert!(c.parse::<u64>().is_ok_and(|n| n > 0), "no cycle ran: {c}\n{stdout}");
    }
    assert!(stdout.contains("concurrent mode: built") && stdout.contains("stop-the-world mode: built"), "{stdout}");
    assert!(!stdout.contains("@@"), "child protocol lines leaked:\n{stdout}");
}

#[test]
fn pause_bench_single_mode() {
    let (stdout, _) = run(env!("CARGO_BIN_EXE_pause_bench"), &["--live", "5000", "--seconds", "0.3", "--mode", "stw"]);
    assert!(stdout.contains("stop-the-world mode: built") && stdout.contains("pauses: max"), "{stdout}");
    assert!(!stdout.contains("@@"), "{stdout}");
    let args = ["--live", "5000", "--seconds", "0.3", "--mode", "concurrent", "--value-stack", "500"];
    let (stdout, _) = run(env!("CARGO_BIN_EXE_pause_bench"), &args);
    assert!(stdout.contains("value stack: 500 nodes") && stdout.contains("pauses as the threads saw them"), "{stdout}");
}

#[test]
fn pause_plot_draws_the_svg() {
    let dir = scratch("pause-plot");
    let svg = dir.join("pauses.svg");
    let (stdout, _) = run(
        env!("CARGO_BIN_EXE_pause_plot"),
        &["--sizes", "4000,8000", "--seconds", "0.3", "--out", svg.to_str().unwrap()],
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("| 4000 |") || l.starts_with("| 8000 |")).count(),
        2,
        "{stdout}"
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg"), "{}", svg.display());
    for legend in [
        "stop-the-world: longest pause",
        "concurrent, global stops: longest pause",
        "concurrent, global stops: longest time the world was stopped",
        "concurrent, handshakes: longest pause",
    ] {
        assert!(text.contains(legend), "{} lacks {legend}", svg.display());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mark_rate() {
    let (out, _) = run(env!("CARGO_BIN_EXE_mark_rate"), &["--objects", "70000", "--runs", "1", "--workers", "1,2,3"]);
    assert!(out.contains("98301 live objects in 3 trees"), "{out}");
    assert_eq!(out.lines().filter(|l| l.starts_with("| ") && l.contains(" ms |")).count(), 3, "{out}");
    assert_eq!(out.lines().last(), Some("ok"), "{out}");
}

/// The graph shape: every node of the random graph is reachable (the tool checks that each
/// collection marked exactly the live objects, and prints `ok` only then).
#[test]
fn mark_rate_graph() {
    let (out, _) = run(
        env!("CARGO_BIN_EXE_mark_rate"),
        &["--objects", "50000", "--runs", "1", "--workers", "1,2", "--shape", "graph"],
    );
    assert!(out.contains("50000 live objects in a graph linked in random order"), "{out}");
    assert_eq!(out.lines().filter(|l| l.starts_with("| ") && l.contains(" ms |")).count(), 2, "{out}");
    assert_eq!(out.lines().last(), Some("ok"), "{out}");
}

/// The list shape: one object found per object scanned, every one marked.
#[test]
fn mark_rate_list() {
    let (out, _) = run(
        env!("CARGO_BIN_EXE_mark_rate"),
        &["--objects", "30000", "--runs", "1", "--workers", "1", "--shape", "list"],
    );
    assert!(out.contains("30000 live objects in a linked list"), "{out}");
    assert_eq!(out.lines().filter(|l| l.starts_with("| ") && l.contains(" ms |")).count(), 1, "{out}");
    assert_eq!(out.lines().last(), Some("ok"), "{out}");
}

/// The table shapes: the random graph held by one `GcVec` (scanned a chunk per visit) or one
/// `Vec<Member<_>>` (scanned whole, its elements spilled from the worker's stack), every node
/// and the table marked, in a pause and concurrently.
#[test]
fn mark_rate_tables() {
    for (shape, holder) in [("table", "a GcVec"), ("table-vec", "a Vec<Member<_>>")] {
        for mode in ["stw", "concurrent"] {
            let (out, _) = run(
                env!("CARGO_BIN_EXE_mark_rate"),
                &["--objects", "40000", "--runs", "1", "--workers", "1,2", "--shape", shape, "--mode", mode],
            );
            assert!(out.contains(&format!("40000 live objects in a random graph held by {holder}")), "{out}");
            assert_eq!(out.lines().filter(|l| l.starts_with("| ") && l.contains(" ms |")).count(), 2, "{out}");
            assert_eq!(out.lines().last(), Some("ok"), "{out}");
        }
    }
}

#[test]
fn lox_bench_times_each_program() {
    let dir = scratch("lox-bench");
    std::fs::write(dir.join("loop.lox"), "var s = 0; for (var i = 0; i < 1000; i = i + 1) { s = s + i; } print s;\n")
        .unwrap();
    std::fs::write(dir.join("wrong.lox"), "print 1 +;\n").unwrap();
    let (out, _) = run(env!("CARGO_BIN_EXE_lox_bench"), &[dir.to_str().unwrap()]);
    let row =
        |name: &str| out.lines().find(|l| l.starts_with(&format!("| {name} |"))).unwrap_or_else(|| panic!("{out}"));
    assert!(row("loop").ends_with("| ok |"), "{out}");
    assert!(row("wrong").contains("| exit 65: "), "{out}");
    assert!(!out.contains("499500") && !out.contains("@@"), "program output or protocol lines leaked:\n{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn lox_bench_against_a_reference_prints_cpu_ratios_and_their_geometric_mean() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("lox-bench-against");
    std::fs::write(dir.join("loop.lox"), "var s = 0; for (var i = 0; i < 1000; i = i + 1) { s = s + i; } print s;\n")
        .unwrap();
    std::fs::write(dir.join("wrong.lox"), "print 1 +;\n").unwrap();
    // Skipped: the reference interpreter rejects it too.
    std::fs::write(dir.join("string_equality.lox"), "print 1;\n").unwrap();
    // A stand-in reference that burns a little CPU, and fails on `wrong.lox` as clox would.
    let reference = dir.join("reference.sh");
    std::fs::write(
        &reference,
        "#!/bin/sh\ncase \"$1\" in *wrong.lox) exit 65;; esac\ni=0; while [ $i -lt 20000 ]; do i=$((i+1)); done\n",
    )
    .unwrap();
    std::fs::set_permissions(&reference, std::fs::Permissions::from_mode(0o755)).unwrap();
    let args = ["--against", reference.to_str().unwrap(), "--runs", "2", dir.to_str().unwrap()];
    let (out, _) = run(env!("CARGO_BIN_EXE_lox_bench"), &args);
    let row =
        |name: &str| out.lines().find(|l| l.starts_with(&format!("| {name} |"))).unwrap_or_else(|| panic!("{out}"));
    let cells: Vec<&str> = row("loop").split('|').map(str::trim).collect();
    let ours: f64 = cells[2].parse().unwrap_or_else(|_| panic!("{out}"));
    let theirs: f64 = cells[3].parse().unwrap_or_else(|_| panic!("{out}"));
    assert!(ours > 0.0 && theirs > 0.0, "{out}");
    assert!(cells[4].ends_with('×') && cells[5].contains('–'), "{out}");
    assert!(row("wrong").contains("| exit 65"), "{out}");
    assert!(!out.contains("| string_equality |"), "{out}");
    assert!(row("**geometric mean**").contains("1 programs"), "{out}");
    assert!(out.contains("2 runs of each, interleaved"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn spike_prints_the_timeline_and_the_target() {
    let (stdout, _) = run(env!("CARGO_BIN_EXE_spike"), &["--mb", "8", "--seconds", "0.3", "--scavenge-after-ms", "0"]);
    assert!(stdout.contains("built 8 MiB live") && stdout.contains("target: resident"), "{stdout}");
    assert!(stdout.contains("resident MiB") && stdout.contains("released MiB") && stdout.contains("trims"), "{stdout}");
    let rows = stdout.lines().filter(|l| {
        let cells: Vec<&str> = l.split_whitespace().collect();
        cells.len() == 5 && cells.iter().all(|c| c.parse::<f64>().is_ok())
    });
    assert!(rows.count() >= 1, "no timeline row:\n{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("target met after") || l.starts_with("target not met")), "{stdout}");
    assert_eq!(stdout.lines().last(), Some("ok"), "{stdout}");
}

#[test]
fn collection_writer_times_writes_to_each_collection() {
    for (collection, control) in [("vec", false), ("map", false), ("id-map", false), ("vec", true)] {
        let mut args = vec!["--collection", collection, "--len", "5000", "--secs", "0.3"];
        if control {
            args.push("--control");
        }
        let (out, _) = run(env!("CARGO_BIN_EXE_collection_writer"), &args);
        let first = out.lines().next().unwrap_or_default();
        assert!(first.starts_with("5000 elements; ") && first.contains(" while marking: p50 "), "{collection}: {out}");
        let cycles: u64 = first.split("; ").nth(1).and_then(|c| c.strip_suffix(" cycles")?.parse().ok()).unwrap_or(0);
        assert!(cycles > 0, "{collection}: no cycle ran:\n{out}");
        assert_eq!(out.lines().last(), Some("ok"), "{collection}: {out}");
    }
}

#[test]
fn collect_latency_times_the_first_collect_and_the_rest() {
    for mode in ["stw", "concurrent"] {
        let (out, _) = run(
            env!("CARGO_BIN_EXE_collect_latency"),
            &["--depth", "10", "--garbage", "5000", "--runs", "3", "--mode", mode],
        );
        let line =
            out.lines().find(|l| l.contains("first collect")).unwrap_or_else(|| panic!("no result line:\n{out}"));
        assert!(line.starts_with("2047 live nodes, 5000 garbage nodes per cycle"), "{out}");
        assert!(line.contains("the next 2: median") && line.contains("slowest"), "{out}");
        assert_eq!(out.lines().last(), Some("ok"), "{out}");
    }
}

#[test]
fn return_latency_prints_a_row_per_setting() {
    // Exclusive marking beside the mutators off, as the figures in the docs were taken: the
    // idle drains it measures run then.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_return_latency"))
        .args(["--depth", "10", "--seconds", "1"])
        .env("GC_EXCLUSIVE_MARKING", "0")
        .output()
        .expect("run return_latency");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("| idle exclusive marking | returns | p50 µs |"), "{stdout}");
    for setting in ["off", "on"] {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {setting} |")))
            .unwrap_or_else(|| panic!("no {setting} row:\n{stdout}"));
        let collections: u64 = row.split('|').nth(8).and_then(|c| c.trim().parse().ok()).unwrap_or(0);
        assert!(collections > 0, "{setting}: no collection ran:\n{stdout}");
    }
    assert_eq!(stdout.lines().last(), Some("ok"), "{stdout}");
}

#[test]
fn vec_churn_reports_cycles_owned_bytes_and_rss() {
    let (stdout, _) = run(env!("CARGO_BIN_EXE_vec_churn"), &["--vectors", "40", "--elements", "100000"]);
    let line = stdout.lines().next().unwrap_or_default();
    assert!(line.starts_with("40 vectors of 100000 elements: "), "{stdout}");
    let cycles: u64 =
        line.split(": ").nth(1).and_then(|s| s.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or(0);
    // 40 buffers of 1 MiB through objects far below the minimum heap: only the pacer's count
    // of owned bytes starts cycles here.
    assert!(cycles >= 2, "{stdout}");
    assert!(line.contains(" MiB, peak RSS ") && line.ends_with(" MiB"), "{stdout}");
}

#[test]
fn pin_pause_reports_both_kinds_of_leak() {
    let (stdout, _) = run(
        env!("CARGO_BIN_EXE_pin_pause"),
        &["--depth", "12", "--garbage-depth", "6", "--runs", "1", "--delay-ms", "1"],
    );
    assert!(stdout.lines().filter(|l| l.starts_with("| ")).count() >= 3, "{stdout}");
}
