//! `dumpster` 2.1, `unsync` flavour: reference counting with a cycle detector that runs when
//! enough `Gc`s have been dropped (`default_collect_condition`), or on `unsync::collect()`.
//! Single-threaded; mutable links are `RefCell`s.
//!
//! Pauses (pause workload): every mutation is timed; one during which dumpster started a
//! collection (counted by wrapping its default collect condition) is recorded as a pause.

use std::{
    cell::{Ref, RefCell as Cell, RefMut},
    sync::atomic::{AtomicU64, Ordering},
};

use dumpster::{
    unsync::{collect, default_collect_condition, set_collect_condition, CollectInfo, Gc},
    Trace,
};
use gc_bench_support::{record::Record, rng, stats};

use super::{BinaryTrees, FullGc, Ring};
use crate::{chains_for, next_mutation, Params, Workload, BATCH, BUCKET_SLOTS, CHAIN};

fn read<T>(c: &Cell<T>) -> Ref<'_, T> {
    c.borrow()
}

fn write<T>(c: &Cell<T>) -> RefMut<'_, T> {
    c.borrow_mut()
}

include!("dumpster_common.rs");
