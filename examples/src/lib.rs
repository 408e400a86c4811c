//! Example programs for gc-runtime.
