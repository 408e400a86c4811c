//! Checks of a whole program run, for the tests that run the examples and the measuring tools
//! at their smallest sizes: the run succeeded, and the output has the expected shape (never the
//! figures, which depend on the machine).

use std::process::{Command, Output};

/// Run `exe` with `args` and return its stdout and stderr.
///
/// # Panics
/// If it cannot be started or does not exit successfully; the message holds its output.
pub fn run_ok(exe: &str, args: &[&str]) -> (String, String) {
    let Output { status, stdout, stderr } =
        Command::new(exe).args(args).output().unwrap_or_else(|e| panic!("cannot run {exe}: {e}"));
    let (stdout, stderr) =
        (String::from_utf8_lossy(&stdout).into_owned(), String::from_utf8_lossy(&stderr).into_owned());
    assert!(status.success(), "{exe} {args:?} failed: {status}\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
    (stdout, stderr)
}

/// The row of a comparison table (see [`crate::table::comparison`]) that starts with `label`,
/// split into its cells.
///
/// # Panics
/// If no line of `stdout` starts with `label`.
pub fn table_row<'a>(stdout: &'a str, label: &str) -> Vec<&'a str> {
    let line =
        stdout.lines().find(|l| l.starts_with(label)).unwrap_or_else(|| panic!("no table row {label:?} in:\n{stdout}"));
    line[label.len()..].split("   ").map(str::trim).filter(|c| !c.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_row_is_split_into_cells() {
        let out = "mode         concurrent   stw\npause max    1.2 ms       30 ms\n";
        assert_eq!(table_row(out, "pause max"), ["1.2 ms", "30 ms"]);
    }

    #[test]
    #[should_panic(expected = "failed")]
    fn a_failing_run_panics_with_its_output() {
        run_ok("false", &[]);
    }
}
