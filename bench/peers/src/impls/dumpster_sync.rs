//! `dumpster` 2.1, `sync` flavour: the thread-safe variant (`Send + Sync` pointers, a global
//! collector), with the same collect condition and explicit `sync::collect()`. Mutable links
//! are `Mutex`es.
//!
//! Pauses (pause workload): as for the `unsync` flavour.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Mutex as Cell, MutexGuard,
};

use dumpster::{
    sync::{collect, default_collect_condition, set_collect_condition, CollectInfo, Gc},
    Trace,
};
use gc_bench_support::{record::Record, rng, stats};

use super::{BinaryTrees, FullGc, Ring};
use crate::{chains_for, next_mutation, Params, Workload, BATCH, BUCKET_SLOTS, CHAIN};

fn read<T>(c: &Cell<T>) -> MutexGuard<'_, T> {
    c.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(c: &Cell<T>) -> MutexGuard<'_, T> {
    read(c)
}

include!("dumpster_common.rs");
