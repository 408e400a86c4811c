//! Model (f): a weak read's verdict across the sweep's publication (`weak_table::condemned`).
//!
//! When marking ends, its epoch becomes the *weak verdict*: a weak read (an upgrade, a weak
//! map's lookup) of an object whose mark is unset fails, even if the object's cell is not
//! cleared yet. Later the collector publishes the sweep epoch (`clock::publish_sweep`) and
//! clears the verdict, and sweeps start: a sweep clears a page's marks as it reads them
//! (`mark_bits.rs`, `take_slot_bits`). A read that loaded the verdict just before the
//! publication and the mark of a *live* object just after a sweep cleared it took the object
//! for dead: an upgrade of a rooted object returned `None` (a reviewer's stress program found
//! it; `tests/weak.rs`, `a_rooted_objects_weak_reference_always_upgrades`).
//!
//! The read now checks, after finding the mark unset, that the sweep for the verdict is not
//! published; a sweep clears marks only after a Release fence that follows its Acquire load of
//! the sweep epoch, and the read has an Acquire fence after its mark load. Here one live
//! object, marked by the finished marking, and three threads: the collector publishing the
//! sweep (the sweep epoch, then the verdict cleared), a sweeper that sweeps the object's page
//! if it sees the new epoch (or the collector sweeping it itself, right after publishing), and
//! a reader. The read must never condemn the object. Three controls, in each of which loom must find
//! the schedule that condemns it: the read of the verdict and the mark only, as before; and the
//! sweep epoch checked without the Acquire fence, or the sweep without its Release fence (the
//! load may then miss the publication that the cleared mark came after).

use loom::{
    sync::{
        atomic::{fence, AtomicU64, Ordering},
        Arc,
    },
    thread,
};
use rusty_fork::rusty_fork_test;

use super::{explore, find_losing_schedule};

/// The epoch of the marking that just ended; the sweep epoch before the publication is the
/// one before it.
const ENDED: u64 = 2;

/// The clock's verdict and sweep epoch, and the live object's mark word.
struct State {
    verdict: AtomicU64,
    sweep_epoch: AtomicU64,
    mark: AtomicU64,
}

/// How the read decides.
#[derive(Clone, Copy, PartialEq)]
enum Read {
    /// `weak_table::condemned` as it is.
    Sound,
    /// Control: the verdict and the mark only, as before the fix.
    MarkTrusted,
    /// Control: the sweep epoch checked, without the Acquire fence after the mark's load.
    NoFence,
    /// Control: the read as it is, and a sweep without its Release fence.
    SweepUnfenced,
}

/// `weak_table::condemned` for the object.
fn condemned(s: &State, read: Read) -> bool {
    let verdict = s.verdict.load(Ordering::Acquire);
    if verdict == 0 || s.mark.load(Ordering::Relaxed) != 0 {
        return false;
    }
    if read == Read::MarkTrusted {
        return true;
    }
    if read != Read::NoFence {
        fence(Ordering::Acquire);
    }
    s.sweep_epoch.load(Ordering::Acquire) < verdict
}

/// A sweep of the object's page for the epoch the caller read: clear the marks as they are read
/// (`Page::sweep`), after the Release fence.
fn sweep(s: &State, read: Read) {
    if read != Read::SweepUnfenced {
        fence(Ordering::Release);
    }
    s.mark.store(0, Ordering::Relaxed);
}

/// One execution: whether the reader condemned the live object. `collector_sweeps`: the
/// collector sweeps the page itself after publishing, else another thread does if it sees the
/// new epoch.
fn run(read: Read, collector_sweeps: bool) -> bool {
    let s = Arc::new(State {
        verdict: AtomicU64::new(ENDED),
        sweep_epoch: AtomicU64::new(ENDED - 1),
        mark: AtomicU64::new(1),
    });
    let collector = {
        let s = s.clone();
        thread::spawn(move || {
            // `clock::publish_sweep`.
            s.sweep_epoch.store(ENDED, Ordering::Release);
            s.verdict.store(0, Ordering::SeqCst);
            if collector_sweeps {
                sweep(&s, read);
            }
        })
    };
    let sweeper = (!collector_sweeps).then(|| {
        let s = s.clone();
        thread::spawn(move || {
            if s.sweep_epoch.load(Ordering::Acquire) == ENDED {
                sweep(&s, read);
            }
        })
    });
    let condemned = condemned(&s, read);
    collector.join().unwrap();
    if let Some(sweeper) = sweeper {
        sweeper.join().unwrap();
    }
    condemned
}

rusty_fork_test! {
    #[test]
    fn a_weak_read_across_the_sweeps_publication_never_condemns_a_live_object() {
        explore("weak verdict across the sweep's publication: another thread sweeps", 4, || {
            assert!(!run(Read::Sound, false), "a live object was condemned");
        });
    }

    #[test]
    fn a_weak_read_across_the_collectors_own_sweep_never_condemns_a_live_object() {
        explore("weak verdict across the sweep's publication: the collector sweeps", 4, || {
            assert!(!run(Read::Sound, true), "a live object was condemned");
        });
    }

    #[test]
    fn a_weak_read_that_trusts_a_cleared_mark_is_caught() {
        find_losing_schedule("weak verdict across the sweep's publication: mark trusted (control)", 2, || {
            run(Read::MarkTrusted, false)
        });
    }

    #[test]
    fn a_weak_read_without_the_acquire_fence_is_caught() {
        find_losing_schedule("weak verdict across the sweep's publication: no Acquire fence (control)", 2, || {
            run(Read::NoFence, true)
        });
    }

    #[test]
    fn a_sweep_without_the_release_fence_is_caught() {
        find_losing_schedule("weak verdict across the sweep's publication: sweep without Release fence (control)", 2, || {
            run(Read::SweepUnfenced, false)
        });
    }
}
