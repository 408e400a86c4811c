//! What `suite.rs` (the external conformance suite) and `programs.rs` (this crate's own Lox
//! programs) share: the expectation comments of a `.lox` file, the check of one run of the
//! `lox` binary against them, the four collector settings, and a runner that checks a list of
//! files in one setting and reports.
//!
//! # Expectations
//!
//! A test file states what it expects in comments, as the Crafting Interpreters suite does:
//!
//! | comment | meaning |
//! |---|---|
//! | `// expect: <text>` | the next line of standard output is `<text>` |
//! | `// expect runtime error: <message>` | the run stops with `<message>` (exit 70), and the stack trace's innermost frame names this comment's line |
//! | `// Error at '<token>': <message>` | a compile error on this comment's line (exit 65) |
//! | `// [line N] Error ...` (or `[c line N]`) | a compile error on line `N` (exit 65) |
//! | `// [java line N] ...` | ignored: it belongs to the tree-walking interpreter |
//! | `// nontest` | the file is not a test |
//!
//! # Checking a run
//!
//! The file runs as a child process of the `lox` binary, with every `GC_*` variable and
//! `LOX_STRESS_GC` removed from its environment and the setting's added. Its standard
//! output must be the `// expect:` lines in order; its standard error must hold exactly the
//! expected compile errors, or start with the expected runtime error followed by a stack trace
//! naming the comment's line; and its exit code must be 0, 65 (compile error) or 70 (runtime
//! error) accordingly. A run longer than [`TIMEOUT`] fails.
//!
//! # Running a setting
//!
//! [`run_setting`] checks its files on two threads and prints passes and failures per
//! directory and a total. The settings of one test binary take turns (a lock), so at most two
//! interpreters run at once.

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

/// How long one file may run before it counts as failed.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// A collector setting the files run in: a name for reports and the environment it adds.
pub struct Setting {
    /// How reports name the setting.
    pub name: &'static str,
    /// The environment variables that make it.
    pub envs: &'static [(&'static str, &'static str)],
}

/// The collector's defaults.
pub const DEFAULT: Setting = Setting { name: "default", envs: &[] };

/// A full collection before every allocating instruction.
pub const STRESS_GC: Setting = Setting { name: "stress (LOX_STRESS_GC=1)", envs: &[("LOX_STRESS_GC", "1")] };

/// Concurrent cycles, each checked by a stop-the-world re-mark, with a small minimum heap so
/// that even short programs run some.
pub const CONCURRENT_CHECKMARK: Setting = Setting {
    name: "concurrent (GC_MODE=concurrent GC_CHECKMARK=1 GC_MARK_WORKERS=1 GC_MIN_HEAP=64K)",
    envs: &[("GC_MODE", "concurrent"), ("GC_CHECKMARK", "1"), ("GC_MARK_WORKERS", "1"), ("GC_MIN_HEAP", "64K")],
};

/// The hybrid barrier, whose value stacks (the VM's stack, frames and open upvalues) are
/// scanned once per marking (in the mark-start handshakes), every cycle checked by a
/// stop-the-world re-mark that reads the stacks too.
pub const HYBRID_CHECKMARK: Setting = Setting {
    name: "hybrid (GC_BARRIER=hybrid GC_CHECKMARK=1 GC_MARK_WORKERS=1 GC_MIN_HEAP=64K)",
    envs: &[("GC_BARRIER", "hybrid"), ("GC_CHECKMARK", "1"), ("GC_MARK_WORKERS", "1"), ("GC_MIN_HEAP", "64K")],
};

/// The settings of one test binary take turns.
static ONE_SETTING_AT_A_TIME: Mutex<()> = Mutex::new(());

/// What a test file expects (see the module docs).
#[derive(Debug, Default)]
pub struct Expectations {
    /// Standard output, line by line.
    pub output: Vec<String>,
    /// Compile errors as the compiler prints them: `[line N] Error...`.
    pub compile_errors: BTreeSet<String>,
    /// A runtime error's message and the line it is raised on.
    pub runtime_error: Option<(String, u32)>,
    /// 0, 65 (compile errors) or 70 (a runtime error).
    pub exit_code: i32,
}

/// The expectations of a test file's source, or `None` if it is marked `// nontest`.
pub fn parse(source: &str) -> Option<Expectations> {
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

/// What one run of the `lox` binary printed, and its exit code.
pub struct Run {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// The exit code; -1 if a signal ended the process.
    pub code: i32,
}

/// Run `lox` on one file, with the collector's and the VM's configuration variables removed
/// from the environment and `envs` added; `Err` if it cannot start or runs past [`TIMEOUT`].
pub fn run(file: &Path, envs: &[(&str, &str)]) -> Result<Run, String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lox"));
    cmd.arg(file).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (var, _) in std::env::vars_os() {
        if var.to_str().is_some_and(|v| v.starts_with("GC_") || v == "LOX_STRESS_GC") {
            cmd.env_remove(var);
        }
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
    Ok(Run { stdout, stderr, code: status.code().unwrap_or(-1) })
}

/// Run one file with `envs` added to the environment and compare what it did with what it
/// expects; `Err` says what was wrong.
pub fn check(file: &Path, expected: &Expectations, envs: &[(&str, &str)]) -> Result<(), String> {
    let Run { stdout, stderr, code } = run(file, envs)?;

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

/// Every `.lox` file under `dir`, sorted, leaving out subdirectories named in `skipped_dirs`.
pub fn collect_files(dir: &Path, skipped_dirs: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    collect_into(dir, skipped_dirs, &mut out);
    out
}

fn collect_into(dir: &Path, skipped_dirs: &[&str], out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !skipped_dirs.contains(&name) {
                collect_into(&path, skipped_dirs, out);
            }
        } else if path.extension().is_some_and(|x| x == "lox") {
            out.push(path);
        }
    }
}

/// One file's result: its directory, its path under the root, and what went wrong if anything.
type Outcome = (String, PathBuf, Result<(), String>);

/// Check `files` (under `root`, which reports name them relative to) in one setting on two
/// threads, print a report titled `title`, and panic if any file failed. Files marked
/// `// nontest` are left out.
pub fn run_setting(title: &str, root: &Path, files: &[PathBuf], setting: &Setting) {
    let _turn = ONE_SETTING_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let setting_name = setting.name;
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
                let rel = file.strip_prefix(root).expect("inside the root");
                let dir = match rel.parent().and_then(|p| p.to_str()) {
                    Some("") | None => "(top level)".to_string(),
                    Some(d) => d.to_string(),
                };
                let result = check(file, &expected, setting.envs);
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
    println!("{title}, setting {setting_name}:");
    for (dir, (pass, fail)) in &per_dir {
        println!("  {dir:<20} {pass:>4} passed {fail:>3} failed");
    }
    failures.sort();
    for f in &failures {
        println!("{f}");
    }
    let passed = results.len() - failures.len();
    println!(
        "total ({setting_name}): {passed} passed, {} failed, of {} in {:.1} s",
        failures.len(),
        results.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{} Lox test(s) failed in setting {setting_name}", failures.len());
}
