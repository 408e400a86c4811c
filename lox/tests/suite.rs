//! The Lox conformance suite (`<workspace>/../shared/lox/test`), run against the `lox` binary
//! in three collector settings.
//!
//! Every counted `.lox` file (all directories except `scanning/` and `expressions/`, which
//! test early chapters of the book, and `benchmark/`, whose programs print timings and are run
//! by `lox-bench` instead) runs as a child process. Its standard output must be the
//! `// expect:` lines in order; its standard error must hold exactly the expected compile
//! errors, or start with the expected runtime error followed by a stack trace naming the
//! comment's line; and its exit code must be 0, 65 (compile error) or 70 (runtime error).
//! `[java line N]` expectations belong to the tree-walking interpreter and are ignored.
//!
//! Files run on two threads. The three settings are three tests that take turns (a lock), so
//! at most two interpreters run at once. Each prints passes and failures per directory and a
//! total, and fails if any file failed.

use std::{
    collections::{BTreeMap, BTreeSet},
    io::Read,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Mutex,
    },
    time::{Duration, Instant},
};

/// Directories of the suite that do not count (see the module docs).
const SKIPPED_DIRS: [&str; 3] = ["scanning", "expressions", "benchmark"];

/// How long one file may run before it counts as failed.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The three settings take turns.
static ONE_SETTING_AT_A_TIME: Mutex<()> = Mutex::new(());

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/lox/test")
}

/// What a test file expects.
#[derive(Debug, Default)]
struct Expectations {
    output: Vec<String>,
    compile_errors: BTreeSet<String>,
    runtime_error: Option<(String, u32)>,
    exit_code: i32,
}

fn parse(source: &str) -> Option<Expectations> {
    let mut e = Expectations::default();
    for (i, line) in source.lines().enumerate() {
        let line_no = i as u32 + 1;
        if line.contains("// nontest") {
            return None;
        }
        if let Some(rest) = after(line, "// expect: ") {
            e.output.push(rest.to_string());
        } else if let Some(rest) = after(line, "// expect runtime error: ") {
            e.runtime_error = Some((rest.to_string(), line_no));
            e.exit_code = 70;
        } else if let Some(rest) = after(line, "// [") {
            // `[line N] Error...`, `[c line N] Error...`, or `[java line N]` (not ours).
            let (tag, error) = rest.split_once("] ").unwrap_or(("", ""));
            let n = tag.strip_prefix("line ").or_else(|| tag.strip_prefix("c line "));
            if let (Some(n), true) = (n, error.starts_with("Error")) {
                e.compile_errors.insert(format!("[line {n}] {error}"));
                e.exit_code = 65;
            }
        } else if let Some(rest) = after(line, "// Error") {
            e.compile_errors.insert(format!("[line {line_no}] Error{rest}"));
            e.exit_code = 65;
        }
    }
    Some(e)
}

fn after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    line.find(marker).map(|i| &line[i + marker.len()..])
}

/// Run one file; `Err` says what was wrong.
fn check(file: &Path, expected: &Expectations, envs: &[(&str, &str)]) -> Result<(), String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lox"));
    cmd.arg(file).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for var in
        ["GC_MODE", "GC_CHECKMARK", "GC_MARK_WORKERS", "GC_BARRIER", "GC_PERCENT", "GC_MIN_HEAP", "LOX_STRESS_GC"]
    {
        cmd.env_remove(var);
    }
    cmd.envs(envs.iter().copied());
    let mut child = cmd.spawn().map_err(|e| format!("cannot start lox: {e}"))?;
    // Read both pipes on helper threads so a chatty child cannot block on a full pipe.
    let mut out_pipe = child.stdout.take().expect("piped");
    let mut err_pipe = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let stdout = out_reader.join().expect("reader");
    let stderr = err_reader.join().expect("reader");
    let code = status.code().unwrap_or(-1);

    let out_lines: Vec<&str> = stdout.lines().collect();
    if out_lines != expected.output {
        return Err(format!("stdout {out_lines:?}, expected {:?}", expected.output));
    }
    let err_lines: Vec<&str> = stderr.lines().filter(|l| !l.is_empty()).collect();
    if let Some((message, line)) = &expected.runtime_error {
        if err_lines.first() != Some(&message.as_str()) {
            return Err(format!("stderr {err_lines:?}, expected runtime error {message:?}"));
        }
        let trace_line = err_lines[1..].iter().find_map(|l| {
            let rest = after(l, "[line ")?;
            rest.split(']').next()?.parse::<u32>().ok()
        });
        if trace_line != Some(*line) {
            return Err(format!("stack trace {:?}, expected [line {line}]", &err_lines[1..]));
        }
    } else {
        let found: BTreeSet<String> = err_lines.iter().map(|l| l.to_string()).collect();
        if found != expected.compile_errors || found.len() != err_lines.len() {
            return Err(format!("stderr {err_lines:?}, expected {:?}", expected.compile_errors));
        }
    }
    if code != expected.exit_code {
        return Err(format!("exit code {code}, expected {}", expected.exit_code));
    }
    Ok(())
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !SKIPPED_DIRS.contains(&name) {
                collect_files(&path, out);
            }
        } else if path.extension().is_some_and(|x| x == "lox") {
            out.push(path);
        }
    }
}

/// One file's result: its directory, its path in the suite, and what went wrong if anything.
type Outcome = (String, PathBuf, Result<(), String>);

/// Run the whole suite in one setting; panics if any file fails.
fn run_suite(setting: &str, envs: &[(&str, &str)]) {
    let _turn = ONE_SETTING_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let root = suite_dir();
    assert!(root.is_dir(), "the Lox suite is missing: {}", root.display());
    let mut files = Vec::new();
    collect_files(&root, &mut files);
    let started = Instant::now();

    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Outcome>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(file) = files.get(i) else { break };
                let source = std::fs::read_to_string(file).expect("read test file");
                let Some(expected) = parse(&source) else { continue };
                let rel = file.strip_prefix(&root).expect("inside the suite");
                let dir = match rel.parent().and_then(|p| p.to_str()) {
                    Some("") | None => "(top level)".to_string(),
                    Some(d) => d.to_string(),
                };
                let result = check(file, &expected, envs);
                results.lock().expect("results").push((dir, rel.to_path_buf(), result));
            });
        }
    });

    let results = results.into_inner().expect("results");
    let mut per_dir: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for (dir, file, result) in &results {
        let entry = per_dir.entry(dir).or_default();
        match result {
            Ok(()) => entry.0 += 1,
            Err(why) => {
                entry.1 += 1;
                failures.push(format!("  {}: {why}", file.display()));
            }
        }
    }
    println!("Lox suite, setting {setting}:");
    for (dir, (pass, fail)) in &per_dir {
        println!("  {dir:<20} {pass:>4} passed {fail:>3} failed");
    }
    failures.sort();
    for f in &failures {
        println!("{f}");
    }
    let passed = results.len() - failures.len();
    println!(
        "total ({setting}): {passed} passed, {} failed, of {} in {:.1} s",
        failures.len(),
        results.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{} Lox test(s) failed in setting {setting}", failures.len());
}

#[test]
fn suite_default() {
    run_suite("default", &[]);
}

#[test]
fn suite_stress_gc() {
    run_suite("stress (LOX_STRESS_GC=1)", &[("LOX_STRESS_GC", "1")]);
}

#[test]
fn suite_concurrent_checkmark() {
    run_suite(
        "concurrent (GC_MODE=concurrent GC_CHECKMARK=1 GC_MARK_WORKERS=1 GC_MIN_HEAP=64K)",
        // A small minimum heap so that even short tests run concurrent cycles (each checked).
        &[("GC_MODE", "concurrent"), ("GC_CHECKMARK", "1"), ("GC_MARK_WORKERS", "1"), ("GC_MIN_HEAP", "64K")],
    );
}

#[test]
fn expectations_are_parsed() {
    let e = parse(
        "print 1; // expect: 1\nx; // Error at 'x': bad\n// [java line 9] Error: no\n// [c line 4] Error at end: e\n",
    )
    .expect("a test");
    assert_eq!(e.output, ["1"]);
    assert_eq!(
        e.compile_errors.into_iter().collect::<Vec<_>>(),
        ["[line 2] Error at 'x': bad", "[line 4] Error at end: e"]
    );
    assert_eq!(e.exit_code, 65);
}
