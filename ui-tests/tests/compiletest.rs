//! trybuild: what must not compile (`tests/ui/`, each with its `.stderr`), and what must
//! compile and run (`tests/pass/`).
//!
//! The `.stderr` files are blessed on the toolchain named in `DEVELOPMENT.md` (stable rustc
//! 1.95); re-bless with `TRYBUILD=overwrite cargo test -p ui-tests --test compiletest`, then
//! read every changed file.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/**/*.rs");
    t.pass("tests/pass/**/*.rs");
}
