//! Compile-fail and pass tests for gc-runtime, run by trybuild.
