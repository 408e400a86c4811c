//! The inputs of the `#[gc]` expansion snapshots (`tests/expand/*.rs`) compile and run.
//!
//! The snapshots themselves (`tests/expand/*.expanded.rs`) are produced and checked by
//! gc-derive's unit test `gc_attr::snapshot`, which runs the attribute on these files: see
//! `DEVELOPMENT.md`. This test keeps every snapshot the expansion of a working program.

use std::{fs, path::PathBuf};

#[test]
fn expansion_inputs_compile_and_run() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/expand");
    let mut inputs: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("tests/expand exists")
        .map(|entry| entry.expect("readable directory").path())
        .filter(|path| {
            let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default();
            name.ends_with(".rs") && !name.ends_with(".expanded.rs")
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no inputs in {}", dir.display());
    let t = trybuild::TestCases::new();
    for input in inputs {
        t.pass(input.strip_prefix(env!("CARGO_MANIFEST_DIR")).expect("inside the crate"));
    }
}
