//! Runs the demo and binary-trees examples at a small size and checks their exit status and the
//! shape of their output.

use gc_bench_support::run_check::{run_ok as run, table_row};

#[test]
fn demo_compares_handshakes_stops_and_stop_the_world() {
    let (stdout, _) =
        run(env!("CARGO_BIN_EXE_demo"), &["--seconds", "1", "--nodes", "5000", "--threads", "2", "--quiet"]);
    let header = stdout.lines().find(|l| {
        l.contains("concurrent, handshakes")
            && l.contains("concurrent, stops")
            && l.contains("stop-the-world")
            && !l.contains("===")
    });
    assert!(header.is_some(), "no table header in:\n{stdout}");
    for label in [
        "thread pause max",
        "thread MMU 1 / 10 / 100 ms",
        "max pause",
        "p99 pause",
        "cycles (pauses)",
        "throughput",
        "peak heap",
    ] {
        let cells = table_row(&stdout, label);
        assert_eq!(cells.len(), 3, "row {label:?}: {cells:?}");
        assert!(cells.iter().all(|c| *c != "?" && *c != "failed"), "row {label:?}: {cells:?}");
    }
    assert_eq!(table_row(&stdout, "canary failures"), ["0", "0", "0"]);
    // With handshakes no cycle stops the world: the collector records no pause.
    let cycles = table_row(&stdout, "cycles (pauses)");
    assert!(cycles[0].ends_with("(0)"), "{cycles:?}");
    assert_eq!(stdout.matches("final check:").count(), 3, "{stdout}");
    assert!(!stdout.contains("@@"), "child protocol lines leaked:\n{stdout}");
}

/// What binary-trees prints for depth 6; `binary_trees_box` (bench/tools) checks the same text.
const BINARY_TREES_6: &str = "stretch tree of depth 7\t check: 255\n\
                              64\t trees of depth 4\t check: 1984\n\
                              16\t trees of depth 6\t check: 2032\n\
                              long lived tree of depth 6\t check: 127\n";

#[test]
fn binary_trees_prints_the_benchmark_output() {
    let (out, err) = run(env!("CARGO_BIN_EXE_binary_trees"), &["6"]);
    assert_eq!(out, BINARY_TREES_6);
    let time = err.lines().find_map(|l| l.strip_prefix("time: ")).expect("a time line on stderr");
    let secs = time.strip_suffix(" s").expect("time in seconds");
    assert!(secs.parse::<f64>().is_ok() && secs.split('.').nth(1).is_some_and(|d| d.len() == 3), "{time}");
    let (threaded, _) = run(env!("CARGO_BIN_EXE_binary_trees"), &["6", "--threads", "3"]);
    assert_eq!(threaded, BINARY_TREES_6);
}
