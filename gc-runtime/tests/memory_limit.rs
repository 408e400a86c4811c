//! The memory limit: reaching it triggers a collection; if the heap is still over, a fallible
//! allocation returns the value in an error and an infallible one panics with the limit and the
//! live heap. The heap stays consistent either way (checkmark verifies the next cycles).

use std::{sync::Mutex, thread};

use gc_runtime::{Config, Member, Root, Trace};

static SERIAL: Mutex<()> = Mutex::new(());

const LIMIT: usize = 8 << 20;

#[derive(Trace)]
struct Chunk {
    bytes: Vec<u8>,
    next: Member<Chunk>,
}

fn limited() -> std::sync::MutexGuard<'static, ()> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    gc_runtime::reconfigure(Config::default().with_memory_limit(Some(LIMIT)).with_checkmark(true)).unwrap();
    // A cycle takes its configuration when it starts: one the pacer started before the line
    // above runs without checkmark, and would be counted as this test's if it ended after the
    // test read the cycle count. A collection ends every cycle started before it.
    gc_runtime::attach().collect();
    guard
}

fn unlimited() {
    gc_runtime::reconfigure(Config::default()).unwrap();
}

/// Fill the heap with rooted objects until the limit refuses one (each is charged its own few
/// dozen bytes: the 1,000 bytes its `Vec` owns are outside the GC heap, which the limit bounds).
fn fill(mu: &mut gc_runtime::Mutator) -> (Vec<Root<Chunk>>, gc_runtime::AllocError<Chunk>) {
    let mut roots = Vec::new();
    loop {
        match mu.try_alloc(Chunk { bytes: vec![7; 1000], next: Member::new() }) {
            Ok(c) => roots.push(c.root(mu)),
            Err(e) => return (roots, e),
        }
        mu.safepoint();
    }
}

#[test]
fn try_alloc_returns_the_value_and_the_heap_recovers() {
    let _s = limited();
    let mut mu = gc_runtime::attach();
    let (roots, err) = fill(&mut mu);
    let state = err.state();
    assert_eq!(state.limit, LIMIT);
    assert!(state.live + state.requested > LIMIT, "{state}");
    let msg = err.to_string();
    assert!(msg.contains("memory limit") && msg.contains(&LIMIT.to_string()), "{msg}");
    let value = err.into_value();
    assert_eq!(value.bytes.len(), 1000, "the refused value comes back intact");
    assert!(roots.len() > 1000, "the limit allowed {} objects", roots.len());
    // Everything rooted is intact; reserving fails while it is all live.
    assert!(mu.try_reserve(LIMIT).is_err());
    for r in &roots {
        assert!(r.get(&mu).bytes.iter().all(|&b| b == 7));
    }
    // Drop the roots: a reservation collects and then succeeds.
    drop(roots);
    mu.try_reserve(1 << 20).expect("room after a collection");
    let again = mu.try_alloc(value).expect("allocation works again");
    assert_eq!(again.bytes.len(), 1000);
    mu.collect(); // checkmark verifies the heap
    unlimited();
}

#[test]
fn infallible_alloc_panics_with_the_limit_and_the_heap_stays_usable() {
    let _s = limited();
    let result = thread::spawn(|| {
        let mut mu = gc_runtime::attach();
        let mut roots = Vec::new();
        loop {
            roots.push(mu.alloc(Chunk { bytes: vec![1; 1000], next: Member::new() }).root(&mu));
            mu.safepoint();
        }
    })
    .join();
    let panic = result.expect_err("allocation past the limit panics");
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("memory limit reached") && msg.contains(&LIMIT.to_string()), "{msg}");
    assert!(msg.contains("try_alloc"), "the message names the fallible API: {msg}");
    // The panicking thread dropped its roots while unwinding: the heap is usable again.
    let mut mu = gc_runtime::attach();
    mu.try_reserve(1 << 20).expect("room after a collection");
    let c = mu.alloc(Chunk { bytes: vec![2; 10], next: Member::new() });
    let root = c.root(&mu);
    mu.collect();
    assert_eq!(root.get(&mu).bytes, [2; 10]);
    unlimited();
}

/// A value whose destructor panics.
#[derive(Trace)]
struct PanicsOnDrop {
    #[trace(skip)]
    _armed: Armed,
}

struct Armed;

impl Drop for Armed {
    fn drop(&mut self) {
        panic!("the refused value's destructor panics");
    }
}

/// An infallible allocation over the limit, of a value whose destructor panics: the value is
/// dropped before the limit's panic starts (during its unwinding, the destructor's panic would
/// abort the process), and the caller sees the limit's panic. The heap stays usable.
#[test]
fn over_the_limit_a_value_whose_destructor_panics_is_dropped_before_the_limit_panics() {
    let _s = limited();
    let result = thread::spawn(|| {
        let mut mu = gc_runtime::attach();
        let (roots, refused) = fill(&mut mu);
        drop(refused);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = mu.alloc(PanicsOnDrop { _armed: Armed });
        }));
        let panic = caught.expect_err("allocation past the limit panics");
        let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        drop(roots);
        msg
    })
    .join();
    let msg = result.expect("the thread caught the limit's panic: the process did not abort");
    assert!(msg.contains("memory limit reached"), "the limit's panic, not the destructor's: {msg}");
    let mut mu = gc_runtime::attach();
    mu.try_reserve(1 << 20).expect("room after a collection");
    unlimited();
}

#[test]
fn large_objects_count_against_the_limit() {
    let _s = limited();
    let mu = gc_runtime::attach();
    let big = mu.try_alloc(vec![0u8; 1024]).map(|v| v.len());
    assert_eq!(big.unwrap(), 1024, "the Vec's buffer is outside the GC heap; the object is small");
    drop(mu);
    // A 16 MiB value is built on the stack before it is moved into the heap: use a big stack.
    thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| {
            let mu = gc_runtime::attach();
            let err = mu.try_alloc([0u64; 2 << 20]).expect_err("a 16 MiB object cannot fit under an 8 MiB limit");
            // The object and its one-word header.
            assert_eq!(err.state().requested, std::mem::size_of::<[u64; 2 << 20]>() + 8);
        })
        .unwrap()
        .join()
        .unwrap();
    unlimited();
}

/// Whether checkmark verified each of the last `n` cycles (as far as the stats remember).
fn last_cycles_checkmarked(n: usize) -> bool {
    gc_runtime::stats().recent.iter().rev().take(n).all(|c| c.checkmarked_objects.is_some())
}

#[test]
fn the_limit_reached_by_concurrent_allocators_leaves_a_consistent_heap() {
    let _s = limited();
    let cycles_before = gc_runtime::stats().cycles;
    // Three threads fill the heap together; each links its chunks into a list (so the marker
    // has pointers to follow) and keeps every tenth one rooted.
    let threads: Vec<_> = (0..3u8)
        .map(|t| {
            thread::spawn(move || {
                let mut mu = gc_runtime::attach();
                let mut roots = Vec::new();
                let mut refused = 0;
                let mut prev: Option<Root<Chunk>> = None;
                let mut allocated = 0usize;
                while refused < 20 {
                    match mu.try_alloc(Chunk { bytes: vec![t; 1000], next: Member::new() }) {
                        Ok(c) => {
                            allocated += 1;
                            if let Some(p) = &prev {
                                c.next.set(Some(p.get(&mu)));
                            }
                            let r = c.root(&mu);
                            if allocated % 10 == 0 {
                                roots.push(c.root(&mu));
                            }
                            prev = Some(r);
                        }
                        Err(e) => {
                            assert!(e.state().live + e.state().requested > LIMIT, "{}", e.state());
                            refused += 1;
                        }
                    }
                    mu.safepoint();
                }
                // Every list is intact: walk it and check the bytes.
                let mut n = 0;
                let mut cur = prev.as_ref().map(|r| r.get(&mu));
                while let Some(c) = cur {
                    assert!(c.bytes.iter().all(|&b| b == t), "a chunk of thread {t} was overwritten");
                    n += 1;
                    cur = c.next.get(&mu);
                }
                assert_eq!(n, allocated, "thread {t}'s list lost chunks");
                (allocated, roots.len())
            })
        })
        .collect();
    let counts: Vec<_> = threads.into_iter().map(|t| t.join().expect("allocator thread")).collect();
    assert!(counts.iter().all(|&(allocated, _)| allocated > 100), "each thread allocated: {counts:?}");
    // The threads are gone, their roots with them: everything is garbage now.
    let mut mu = gc_runtime::attach();
    mu.collect();
    mu.try_reserve(LIMIT / 2).expect("the whole heap was freed");
    let cycles = (gc_runtime::stats().cycles - cycles_before) as usize;
    assert!(cycles >= 2, "the limit forced collections ({cycles})");
    assert!(
        last_cycles_checkmarked(cycles),
        "checkmark verified every cycle: {:?}",
        gc_runtime::stats()
            .recent
            .iter()
            .rev()
            .take(cycles)
            .map(|c| (c.cycle, c.checkmarked_objects))
            .collect::<Vec<_>>()
    );
    unlimited();
}

/// `try_reserve(size)` then an allocation of `size`: the reservation answers for what the
/// allocation is charged — a page for a small object, taken when the thread's cache needs a new
/// one — not for the value's bytes. With less than a page of room left, a reservation of a
/// small value said `Ok` without collecting, the allocation was refused again, and the
/// documented retry (`try_alloc`, `try_reserve`, `alloc`) never got anywhere, garbage or not.
#[test]
fn a_reservation_makes_room_for_the_allocation_it_was_made_for() {
    let _s = limited();
    // Less than a page of room once the heap is full of pages.
    gc_runtime::reconfigure(Config::default().with_memory_limit(Some(LIMIT + 4096)).with_checkmark(true)).unwrap();
    let mut mu = gc_runtime::attach();
    let size = std::mem::size_of::<Chunk>();
    let (mut roots, err) = fill(&mut mu);
    let mut value = err.into_value();
    // All of it live: no room for a page, so no room for this value either.
    let state = mu.try_reserve(size).expect_err("a reservation granted with no page of room left");
    assert!(state.live + state.requested > LIMIT + 4096, "{state}");
    assert!(mu.try_alloc(Chunk { bytes: Vec::new(), next: Member::new() }).is_err(), "the refusal was right");
    // Half of it garbage: the retry succeeds at once.
    let mut i = 0;
    roots.retain(|_| {
        i += 1;
        i % 2 == 0
    });
    for attempt in 0..3 {
        match mu.try_alloc(value) {
            Ok(c) => {
                assert_eq!(c.bytes.len(), 1000);
                assert!(attempt <= 1, "the retry after a reservation was refused ({attempt} attempts)");
                break;
            }
            Err(e) => value = e.into_value(),
        }
        assert!(attempt < 2, "the allocation after a granted reservation was refused again");
        mu.try_reserve(size).expect("half of the heap is garbage");
    }
    // A reservation that finds room is still a safepoint; the survivors are intact.
    mu.try_reserve(size).expect("room");
    for r in &roots {
        assert!(r.get(&mu).bytes.iter().all(|&b| b == 7));
    }
    mu.collect();
    unlimited();
}
