//! The one place that names atomic and cell types for state shared between threads.
//!
//! Every other module imports `crate::primitive::sync::atomic::*` instead of
//! `std::sync::atomic`, so that the protocols can later be model-checked by swapping this module
//! for loom's types under `cfg(gc_loom)` (crossbeam's `primitive` pattern).

pub(crate) mod sync {
    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering};
    }
}
