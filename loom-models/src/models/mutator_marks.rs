//! Model (k): a mutator's marks beside a mark worker's plain stores — the log of mutators'
//! marks (`mutator_marks.rs`).
//!
//! In a concurrent drain that is an exclusive job, a mark worker sets the bits of the memory it
//! owns with a plain load and store (`mark_bits::try_mark_bit_owned`), while mutators keep
//! marking with locked instructions: allocating black (a `fetch_or` of the new objects' bits,
//! `PageMarks::mark_slots`) and assisting the marking (a compare-exchange per object found),
//! each recorded in the log. Here one mutator sets a bit of a mark word so, records it and
//! detaches (which answers any round), and one worker marks an old object of the same word as
//! its owner. The job ends (the worker is joined), the collector runs a termination round (a
//! ragged flush) and sets the logged bits again, as `ragged_round` does before it reads marks.
//! The mutator's object must be marked then, in every schedule.
//!
//! The controls leave the log out: loom must find the schedule in which the worker loads the
//! word, the mutator's locked instruction lands, and the worker's store undoes it — the object
//! would look white to the sweep and be freed while reachable.
//!
//! The log's limit (`mutator_marks.rs`, "The limit"): once the log outgrew it, the collector
//! turns it off, after the last exclusive job's workers have finished, and a mutator asks
//! whether to record *before* it marks. The models with the log turned off after the job keep
//! the bit in every schedule, whether the mutator found the log on (and recorded) or off (and
//! marked after the worker's store); the control turns it off while the job may still run, and
//! loom must find the mutator that records nothing and loses its mark.

use loom::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    thread,
};
use rusty_fork::rusty_fork_test;

use super::{explore, find_losing_schedule, ragged::WARN_AFTER};
use crate::{
    handshake::{AnswerAt, Handshake},
    mark_bits::{PageMarks, GRANULE},
};

/// The slot size of the model's page: 16 bytes, two granules per slot.
const SLOT: usize = 2 * GRANULE;
/// The mutator's object's slot (0, granule 0) and the old object's granule (2, slot 1): one word.
const NEW_SLOT: u64 = 0b1;
const NEW_GRANULE: usize = 0;
const OLD_GRANULE: usize = 2;

/// How the mutator marks its object.
#[derive(Clone, Copy)]
enum Marks {
    /// Allocation black: `PageMarks::mark_slots`.
    Black,
    /// A mark assist: a compare-exchange of the bit.
    Assist,
}

/// When the collector turns the log off (`mutator_marks::stop_logging`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum LogOff {
    /// Never: the log as it is below its limit.
    Never,
    /// Once the job's workers have finished, as `Cycle::drain` does.
    AfterTheJob,
    /// While the job may still run (the control).
    DuringTheJob,
}

/// One execution; returns whether the mutator's object was left unmarked.
///
/// Only the mutator's bit is checked. The worker's cannot be lost: a locked read-modify-write
/// reads the last value before its own write in the modification order, so a plain store is
/// either read by it or comes after it. loom does not model that rule (its `rmw` can read a
/// store that a later plain store turns out to precede), and would report the worker's bit lost
/// in schedules no hardware runs.
fn run(marks_by: Marks, reapply: bool, log_off: LogOff) -> bool {
    let marks = Arc::new(PageMarks::new());
    let log = Arc::new(Mutex::new(Vec::<(usize, u64)>::new()));
    let off = Arc::new(AtomicBool::new(false));
    let hs = Arc::new(Handshake::default());
    let id = hs.register("mutator".into());
    let mutator = {
        let (marks, log, off, hs) = (marks.clone(), log.clone(), off.clone(), hs.clone());
        thread::spawn(move || {
            // Ask whether to record before marking (`mutator_marks::logging`); mark, then
            // record, before the allocation (and its assist) returns.
            let record = !off.load(Ordering::Acquire);
            match marks_by {
                Marks::Black => marks.mark_slots(0, NEW_SLOT, SLOT),
                Marks::Assist => assert!(marks.try_mark(NEW_GRANULE), "the object is white"),
            }
            if record {
                log.lock().unwrap().push((0, NEW_SLOT));
            }
            hs.unregister(id, || {});
        })
    };
    let worker = {
        let marks = marks.clone();
        thread::spawn(move || {
            assert!(marks.try_mark_owned(OLD_GRANULE), "the old object is white");
        })
    };
    if log_off == LogOff::DuringTheJob {
        off.store(true, Ordering::Release);
    }
    // The job ends when its workers have returned; then a termination round, then the log.
    worker.join().unwrap();
    if log_off == LogOff::AfterTheJob {
        off.store(true, Ordering::Release);
    }
    hs.ragged_flush(WARN_AFTER, AnswerAt::Safepoints);
    if reapply {
        for &(word, slots) in log.lock().unwrap().iter() {
            marks.mark_slots(word, slots, SLOT);
        }
    }
    let lost = !marks.is_marked(NEW_GRANULE);
    mutator.join().unwrap();
    lost
}

rusty_fork_test! {
    #[test]
    fn black_allocations_undone_by_an_owners_plain_store_are_set_again() {
        explore("black allocation beside an exclusive drain", 3, || {
            assert!(!run(Marks::Black, true, LogOff::Never), "a black allocation was lost though the log was applied");
        });
    }

    #[test]
    fn an_assists_marks_undone_by_an_owners_plain_store_are_set_again() {
        explore("a mark assist beside an exclusive drain", 3, || {
            assert!(!run(Marks::Assist, true, LogOff::Never), "an assist's mark was lost though the log was applied");
        });
    }

    /// The log turned off once the job's workers have finished: the bit is kept whether the
    /// mutator found the log on or off.
    #[test]
    fn black_allocations_are_kept_when_the_log_is_turned_off_after_the_job() {
        explore("black allocation, the log turned off after the job", 3, || {
            assert!(!run(Marks::Black, true, LogOff::AfterTheJob), "a black allocation was lost");
        });
    }

    #[test]
    fn an_assists_marks_are_kept_when_the_log_is_turned_off_after_the_job() {
        explore("a mark assist, the log turned off after the job", 3, || {
            assert!(!run(Marks::Assist, true, LogOff::AfterTheJob), "an assist's mark was lost");
        });
    }

    /// The control: the log turned off while the job may still run loses the assist's mark.
    #[test]
    fn the_log_turned_off_during_the_job_is_caught() {
        find_losing_schedule("a mark assist, the log turned off during the job", 3, || {
            run(Marks::Assist, true, LogOff::DuringTheJob)
        });
    }

    /// The controls: without the log, the owner's plain store undoes the mutator's bit.
    #[test]
    fn a_black_allocation_without_the_log_is_caught() {
        find_losing_schedule("black allocation beside an exclusive drain, no log", 3, || run(Marks::Black, false, LogOff::Never));
    }

    #[test]
    fn an_assists_mark_without_the_log_is_caught() {
        find_losing_schedule("a mark assist beside an exclusive drain, no log", 3, || run(Marks::Assist, false, LogOff::Never));
    }
}
