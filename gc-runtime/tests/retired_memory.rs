//! Memory the collections retire for their lock-free readers — a vector's buffers and a map's
//! tables replaced by growth, the map's removed keys — is freed once no reader can still see
//! it, also when the thread that retired it never reads a collection again: the collector's
//! cycles move the epoch on. (Retired buffers used to wait in the retiring thread's own batch,
//! which is handed on only after 64 retirements or at the thread's end: a thread that grew one
//! vector to 8M elements kept 64 MiB of old buffers for as long as it lived.)
//!
//! One test in this file: `Stats::retired_bytes` is process-wide.

use gc_runtime::{GcMap, GcVec, Trace};

#[derive(Trace)]
struct Element {
    canary: u64,
}

#[derive(Trace)]
struct Holder {
    vec: GcVec<Element>,
    map: GcMap<u64, Element>,
}

#[test]
fn buffers_replaced_by_growth_are_freed_while_the_thread_reads_no_collection() {
    const ELEMENTS: usize = 1 << 20;
    const KEYS: u64 = 1 << 16;
    let mut mu = gc_runtime::attach();
    let at_start = gc_runtime::stats().retired_bytes;
    {
        let holder = mu.alloc(Holder { vec: GcVec::new(), map: GcMap::new() });
        let element = mu.alloc(Element { canary: 0xC0FFEE });
        for key in 0..KEYS {
            holder.map.insert(key, element);
        }
        for key in (0..KEYS).step_by(2) {
            holder.map.remove(&key, &mu);
        }
        // Last, so that nothing retired after them pushes its buffers on.
        for _ in 0..ELEMENTS {
            holder.vec.push(element);
        }
        assert_eq!(holder.vec.get(ELEMENTS - 1, &mu).map(|e| e.canary), Some(0xC0FFEE));
        assert_eq!(holder.map.get(&(KEYS - 1), &mu).map(|e| e.canary), Some(0xC0FFEE));
        assert_eq!(holder.map.len(), KEYS as usize / 2);
    }
    // Growth to 1M elements replaced buffers of 8 MiB in all, and the map's tables more.
    // From here on this thread reads no collection: only cycles move the epoch. What may stay
    // is a batch of small retirements (up to 63 removed keys) waiting in this thread for more:
    // a removal hands on a batch of its own only when it is full (handing on each key alone
    // would cost an allocation per removal).
    const A_BATCH_OF_KEYS: usize = 64 * 1024;
    let mut retired = Vec::new();
    for _ in 0..20 {
        mu.collect();
        retired.push(gc_runtime::stats().retired_bytes);
        if *retired.last().unwrap() <= at_start + A_BATCH_OF_KEYS {
            break;
        }
    }
    assert!(
        *retired.last().unwrap() <= at_start + A_BATCH_OF_KEYS,
        "retired collection memory not freed after {} cycles: {retired:?} bytes (at start {at_start})",
        retired.len()
    );
}
