//! Running a scenario in a child process: the test binary re-runs itself with one test selected
//! and a marker variable set, so a crash or a hang fails only that scenario; the parent checks
//! the exit status, the output and a deadline. Also the loops those scenarios share.

use std::{
    io::Read,
    process::{Command, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

/// The variable that tells a test it runs as the child.
const CHILD_VAR: &str = "GC_HOSTILE_CHILD";

/// The default deadline of a child run.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// What a child run left behind.
pub struct Outcome {
    /// Exited with status 0.
    pub success: bool,
    /// Killed at the deadline.
    pub timed_out: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl Outcome {
    /// Everything, for a failure message (standard error cut short if a child flooded it).
    pub fn describe(&self) -> String {
        format!(
            "success: {}, timed out: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.success,
            self.timed_out,
            self.stdout,
            self.stderr.chars().take(6000).collect::<String>()
        )
    }

    /// The child ran to the end and printed `done`.
    pub fn assert_completed(&self) {
        assert!(self.success && !self.timed_out && self.stdout.contains("done"), "{}", self.describe());
    }
}

/// Run the test `name` of this binary in a child process with `env`, killing it after
/// `deadline`.
pub fn child(name: &str, env: &[(&str, &str)], deadline: Duration) -> Outcome {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, "1")
        .env("RUST_BACKTRACE", "0")
        .env_remove("GC_TRACE")
        .env_remove("RUST_MIN_STACK")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut proc = cmd.spawn().unwrap();
    let mut out_pipe = proc.stdout.take().unwrap();
    let mut err_pipe = proc.stderr.take().unwrap();
    let out_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
        s
    });
    let err_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let (success, timed_out) = loop {
        if let Some(status) = proc.try_wait().unwrap() {
            break (status.success(), false);
        }
        if start.elapsed() > deadline {
            let _ = proc.kill();
            let _ = proc.wait();
            break (false, true);
        }
        thread::sleep(Duration::from_millis(10));
    };
    Outcome { success, timed_out, stdout: out_reader.join().unwrap(), stderr: err_reader.join().unwrap() }
}

/// Whether this process is a child run (the scenario itself runs only then).
pub fn in_child() -> bool {
    std::env::var_os(CHILD_VAR).is_some()
}

/// Call `step` until `millis` have passed.
pub fn run_for(millis: u64, mut step: impl FnMut()) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(millis) {
        step();
    }
}

/// How long [`run_until`] goes on at most: well within [`DEADLINE`], so that a collector stuck
/// short of what the scenario needs fails the scenario's assertion rather than the deadline.
pub const RUN_AT_MOST: Duration = Duration::from_secs(40);

/// Call `step` until `millis` have passed and then until `enough()` (the work the caller's
/// assertions count: a loaded machine may need longer for it), for [`RUN_AT_MOST`] at most.
pub fn run_until(millis: u64, enough: impl Fn() -> bool, mut step: impl FnMut()) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(millis) || (!enough() && start.elapsed() < RUN_AT_MOST) {
        step();
    }
}

/// A thread that collects back to back until `stop` is set; returns how many cycles it ran.
/// Join it detached (`Mutator::blocking`) from an attached thread.
pub fn spawn_collector(stop: &Arc<AtomicBool>) -> thread::JoinHandle<u64> {
    spawn_counted_collector(stop, &Arc::default())
}

/// [`spawn_collector`], adding each cycle it ran to `ran` as it goes (for a caller that waits
/// for them).
pub fn spawn_counted_collector(stop: &Arc<AtomicBool>, ran: &Arc<AtomicU64>) -> thread::JoinHandle<u64> {
    let (stop, ran) = (stop.clone(), ran.clone());
    thread::spawn(move || {
        let mut mu = gc_runtime::attach();
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            mu.collect();
            n += 1;
            ran.fetch_add(1, Ordering::Relaxed);
        }
        n
    })
}
