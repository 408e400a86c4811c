//! The marks set on mutator threads, and how they survive a mark worker that writes the same
//! words with plain stores.
//!
//! # The race
//!
//! Two kinds of marks are set on a mutator's thread while marking runs, each with a locked
//! read-modify-write of its mark word: a mutator allocating black marks its new objects (one
//! `fetch_or` per mark word, for every slot still free in a 64-slot word; see `heap/cache.rs`),
//! and a mark assist marks the objects it finds (a compare-exchange each, as outside an
//! exclusive job; see `marker/mod.rs`). A mark worker of an exclusive job sets the bits of the
//! memory it owns with a plain load and store (see `object/exclusive.rs`), and a concurrent drain
//! is such a job while mutators run. If the worker loads a word, the mutator's read-modify-write
//! lands, and the worker stores the word with its own bit added, the mutator's bits are gone:
//! its objects look white, and a sweep after the marking would free them. (The other shades of
//! a mutator set no bits: they are candidates for the workers, see `shade.rs`.) The worker's own
//! bit is never lost: a locked read-modify-write reads the last value before it.
//!
//! # The log
//!
//! So each such mark is also recorded here — a black allocation as the page's marks, the slot
//! word and the slots; an assist's marks as the objects, in one batch per assist — and the
//! collector sets the recorded bits again ([`reapply`]) before anything reads marks to decide:
//! at each termination round, after every mutator has answered (with handshakes off, at the
//! flush before the stop that ends the marking, so that the pause applies only what was recorded
//! since: applying a long marking's log there took milliseconds), and in a pause before marking
//! is declared over; ahead of the ephemeron pass, the weak verdict, checkmark and the sweep.
//! No drain runs then, so nothing can undo what it sets, and every record of a bit undone is in
//! the log by then: a mutator records before its allocation returns (an assist runs inside
//! one), and answers, or parks, after. A record is applied once, and leaves the log: a bit set
//! again with no drain running stays set, since a later owner's plain store writes back what it
//! loaded. A bit undone and not yet set again only makes its object look white to a later
//! drain, which marks and scans it once more: sound, only more work.
//!
//! The collector takes the records out of the log (a swap with an empty one, under the log's
//! lock for a moment) and sets them with no lock held, so a mutator that records meanwhile
//! does not wait for it: its record goes to the next call, and cannot be of a bit undone by
//! the drains that have ended, since the thread recorded those before it answered.
//!
//! A black allocation takes a lock once per 64 slots, an assist once per batch. Records of
//! another epoch are skipped, and the log is emptied at each mark start, so records of
//! allocation after a marking (into pages whose sweep is still due, also black) are never
//! applied to a later one.
//!
//! # The limit
//!
//! Between two termination rounds the log grows by 8 bytes per object an assist marks (and 32
//! per 64 slots allocated black): a quarter of a heap of 32-byte objects, were assists to mark
//! all of it before a round. So the log has a limit, `Config::mark_log_permille` thousandths of
//! the heap at mark start ([`clear`]). A record that takes the log over it gives the running
//! exclusive job up ([`exclusive::give_up`]): its workers leave, and the collector marks the
//! rest of the marking with locked instructions beside the mutators (the cycle's later drains
//! beside them are no exclusive jobs; if no job ran at the record, the next drain is none,
//! [`over_limit`]). Once the last such job has ended, the collector turns the log off for the
//! marking ([`stop_logging`]): with no plain store left to undo a mark, mutators record nothing
//! more. A mutator reads whether to record *before* it marks ([`logging`], `Acquire`, paired with the collector's `Release`
//! after the job's workers finished): one that finds the log off marks after every plain store
//! of every job, which its locked instruction reads. One that finds it on records, as before;
//! the records still applied at the next round are what the log holds then. (Jobs with the
//! world stopped — inside a pause, or idle ones — may still run: no mutator marks beside them.)
//!
//! The limit is a trigger, not a cap: the log grows until the job's workers leave, at their
//! next check (one starved run grew it to 849 KB against a limit of 15 KB), and a record made
//! while no job runs acts at the next drain. With `Config::exclusive_marking` off, no job runs
//! beside the mutators, and the log is off from mark start.

use crate::{
    mapped_vec::MappedVec,
    mark_bits::PageMarks,
    object::{exclusive, mark, ObjPtr},
    primitive::sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Mutex,
    },
};

/// One black allocation: `slots` of slot word `word` of the page whose marks are `marks`.
#[derive(Clone, Copy)]
struct Slots {
    marks: &'static PageMarks,
    slots: u64,
    word: u32,
    slot_size: u32,
    epoch: u64,
}

/// What the log holds: the black allocations, and the objects assists marked, in batches.
///
/// In blocks of memory of its own ([`MappedVec`]), not in `Vec`s: the log holds a few records in
/// most markings and up to its limit — 4 % of the heap by default, 40 MB of a gigabyte — in
/// some, and a `Vec` of that size, once freed, left glibc's allocator keeping tens of megabytes
/// of free memory for good (`raw.rs`, `MappedBlock`). Emptying the log keeps its blocks (it is
/// emptied at each mark start and whenever its records are set again, by default with the
/// world running); the collector gives back what the last fills did not need after each cycle
/// ([`trim`]).
#[derive(Default)]
struct Log {
    slots: MappedVec<Slots>,
    objects: MappedVec<ObjPtr>,
    /// Each assist's batch: where it ends in `objects`, and its epoch.
    batches: MappedVec<(usize, u64)>,
}

/// The log mutators record into, and the collector's side of it.
struct Logs {
    /// The records mutators add.
    recording: Mutex<Log>,
    /// The records [`Logs::reapply`] took out of `recording` to set again: empty between calls,
    /// its blocks kept for the next. Set again under `recording`'s lock, a marking's first
    /// round took 2–6 ms for 70,000–360,000 records (`pause_bench --live 8000000`), and a
    /// mutator allocating black waited all that time for the lock, inside an allocation: a
    /// pause no thread's figures showed. The swap holds it for a moment.
    taken: Mutex<Log>,
}

impl Logs {
    const fn new() -> Logs {
        const EMPTY: Log = Log { slots: MappedVec::new(), objects: MappedVec::new(), batches: MappedVec::new() };
        Logs { recording: Mutex::new(EMPTY), taken: Mutex::new(EMPTY) }
    }

    /// Set the bits of every record of the marking `epoch` again, and empty the log; returns
    /// how many records that was. One caller at a time holds `taken`; records added while it
    /// applies are the next call's.
    fn reapply(&self, epoch: u64) -> usize {
        let mut taken = self.taken.lock();
        std::mem::swap(&mut *self.recording.lock(), &mut *taken);
        let applied = taken.apply(epoch);
        taken.clear();
        applied
    }

    /// Give back the memory the last fills of both sides did not need.
    fn trim(&self) {
        self.recording.lock().trim();
        self.taken.lock().trim();
    }
}

static LOGS: Logs = Logs::new();

/// The size, in bytes, over which the log goes over its limit in the current marking (see
/// "The limit").
static LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);

/// The most bytes the log held in the current (or last) marking.
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// The marking whose log is off: no exclusive job runs beside the mutators in it any more (see
/// "The limit"). 0, before any: mark epochs start at 1.
static OFF_EPOCH: AtomicU64 = AtomicU64::new(0);

/// The marking whose log went over its limit (0 before any).
static OVER_EPOCH: AtomicU64 = AtomicU64::new(0);

impl Log {
    /// The bytes the records take.
    fn bytes(&self) -> usize {
        self.slots.len() * size_of::<Slots>()
            + self.objects.len() * size_of::<ObjPtr>()
            + self.batches.len() * size_of::<(usize, u64)>()
    }

    /// Record a black allocation.
    fn push_slots(&mut self, record: Slots) {
        self.slots.push(record);
    }

    /// Record an assist's batch, emptying `objects`.
    fn push_objects(&mut self, objects: &mut Vec<ObjPtr>, epoch: u64) {
        if !objects.is_empty() {
            self.objects.extend_from_slice(objects);
            objects.clear();
            self.batches.push((self.objects.len(), epoch));
        }
    }

    /// Set the bits of every record of the marking `epoch` again; returns how many records
    /// that was. The others are dropped.
    fn apply(&self, epoch: u64) -> usize {
        let mut applied = 0;
        for r in self.slots.iter().filter(|r| r.epoch == epoch) {
            r.marks.mark_slots(r.word as usize, r.slots, r.slot_size as usize);
            applied += 1;
        }
        let mut start = 0;
        let mut objects = self.objects.iter();
        for (end, batch_epoch) in self.batches.iter() {
            let batch = objects.by_ref().take(end - start);
            if batch_epoch == epoch {
                for obj in batch {
                    // SAFETY: an assist of this marking marked it, so it is reachable and
                    // allocated: nothing is freed before the marking ends.
                    unsafe { mark::try_mark(obj.as_ptr(), epoch) };
                }
                applied += end - start;
            } else {
                batch.for_each(drop);
            }
            start = end;
        }
        applied
    }

    /// Forget every record, keeping the memory (`MappedVec::clear`: no system call).
    fn clear(&mut self) {
        self.slots.clear();
        self.objects.clear();
        self.batches.clear();
    }

    /// Give back the memory the last fills did not need (`MappedVec::trim`).
    fn trim(&mut self) {
        self.slots.trim();
        self.objects.trim();
        self.batches.trim();
    }
}

/// Record that `slots` of slot word `word` of a page of `slot_size`-byte slots, whose marks are
/// `marks`, were marked for the marking `epoch` (allocated black).
pub(crate) fn record_black(marks: &'static PageMarks, word: usize, slots: u64, slot_size: usize, epoch: u64) {
    let record = Slots {
        marks,
        slots,
        word: u32::try_from(word).expect("a page has fewer slot words than u32::MAX"),
        slot_size: u32::try_from(slot_size).expect("a slot is smaller than 4 GiB"),
        epoch,
    };
    let mut log = LOGS.recording.lock();
    log.push_slots(record);
    check_limit(&log, epoch);
}

/// Record that a mark assist marked `objects` for the marking `epoch`, and empty the vector.
pub(crate) fn record_assisted(objects: &mut Vec<ObjPtr>, epoch: u64) {
    if !objects.is_empty() {
        let mut log = LOGS.recording.lock();
        log.push_objects(objects, epoch);
        check_limit(&log, epoch);
    }
}

/// Note the log's size, and if it is over its limit, say so for the marking `epoch` and give
/// the running exclusive job up (see "The limit").
fn check_limit(log: &Log, epoch: u64) {
    let bytes = log.bytes();
    PEAK.fetch_max(bytes, Ordering::Relaxed);
    if bytes > LIMIT.load(Ordering::Relaxed) {
        OVER_EPOCH.store(epoch, Ordering::Relaxed);
        exclusive::give_up();
    }
}

/// Whether the log went over its limit in the marking `epoch`: read by the collector between
/// drains, which then starts no more exclusive jobs beside the mutators in it (a record made
/// while none ran gave none up).
pub(crate) fn over_limit(epoch: u64) -> bool {
    OVER_EPOCH.load(Ordering::Relaxed) == epoch
}

/// Whether a mutator that is about to set marks for the marking `epoch` must record them: read
/// before it marks (see "The limit").
#[inline]
pub(crate) fn logging(epoch: u64) -> bool {
    OFF_EPOCH.load(Ordering::Acquire) != epoch
}

/// Turn the log off for the marking `epoch`: no exclusive job runs beside the mutators in it
/// any more, and the last one's workers have finished (see "The limit").
pub(crate) fn stop_logging(epoch: u64) {
    OFF_EPOCH.store(epoch, Ordering::Release);
}

/// The most bytes the log held in the current (or last) marking.
pub(crate) fn peak_bytes() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// Set the bits of every record of the marking `epoch` again, and empty the log (see "The
/// log"); returns how many records that was. Only while no drain runs.
pub(crate) fn reapply(epoch: u64) -> usize {
    // The records mutators add while these are applied are the next call's: made after the
    // caller's round was answered, none of them is of a bit the ended drains undid.
    LOGS.reapply(epoch)
}

/// Give back the log's memory that its last fills did not need: called by the collector after
/// each cycle, outside any pause (the clears, at mark start and at each [`reapply`], make no
/// system call).
pub(crate) fn trim() {
    LOGS.trim();
}

/// Forget every record: a marking begins, and the last one is over; the log goes over its limit
/// in the new one above `limit` bytes.
pub(crate) fn clear(limit: usize) {
    LOGS.recording.lock().clear();
    LIMIT.store(limit, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
}

#[cfg(all(test, not(gc_loom)))]
mod tests {
    use super::*;
    use crate::mark_bits::GRANULE;

    // The tests fill logs of their own: the process's log belongs to the markings other tests
    // may be running.

    #[test]
    fn a_log_sets_the_bits_of_its_epochs_slots_again() {
        let (ours, other) = (7, 6);
        let marks: &'static PageMarks = Box::leak(Box::new(PageMarks::new()));
        let mut log = Log::default();
        // Slots 0 and 2 of slot word 3 of 16-byte slots, for `ours`; slot 0 of word 5 of
        // 32-byte slots, for `other`.
        log.push_slots(Slots { marks, slots: 0b101, word: 3, slot_size: 2 * GRANULE as u32, epoch: ours });
        log.push_slots(Slots { marks, slots: 0b1, word: 5, slot_size: 4 * GRANULE as u32, epoch: other });
        assert_eq!(log.apply(ours), 1);
        // Slot word 3 of 16-byte slots starts at granule 3 * 64 * 2.
        let g = 3 * 64 * 2;
        assert!(marks.is_marked(g) && !marks.is_marked(g + 2) && marks.is_marked(g + 4));
        assert!(!marks.is_marked(5 * 64 * 4), "the record of another epoch is skipped");
    }

    /// A thread records while the collector sets the log again, over and over: every record
    /// is set exactly once, by the call that took it or a later one.
    #[test]
    fn records_made_while_the_log_is_set_again_are_set_once_by_a_later_call() {
        const RECORDS: usize = if cfg!(miri) { 200 } else { 20_000 };
        let epoch = 7;
        let marks: &'static PageMarks = Box::leak(Box::new(PageMarks::new()));
        let logs = Logs::new();
        let recorded = AtomicUsize::new(0);
        let mut applied = 0;
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 0..RECORDS {
                    let record = Slots { marks, slots: 1 << (i % 64), word: 0, slot_size: GRANULE as u32, epoch };
                    logs.recording.lock().push_slots(record);
                    recorded.fetch_add(1, Ordering::Release);
                }
            });
            while recorded.load(Ordering::Acquire) < RECORDS {
                applied += logs.reapply(epoch);
            }
        });
        applied += logs.reapply(epoch);
        assert_eq!(applied, RECORDS);
        assert_eq!(logs.reapply(epoch), 0, "both sides are empty");
        assert!((0..64).all(|g| marks.is_marked(g)), "the records' bits are set");
    }

    #[test]
    fn a_log_marks_the_objects_of_its_epochs_assists_again() {
        let _s = crate::test_support::serial();
        let _clear = crate::test_support::ClearMarks;
        let mu = crate::attach();
        let [a, b, c] = [(); 3].map(|()| mu.alloc(0u64));
        let obj = |g: crate::Gc<'_, u64>| ObjPtr(std::ptr::NonNull::new(g.header_ptr()).expect("an object"));
        let ours = crate::clock::mark_epoch();
        let mut log = Log::default();
        let mut batch = vec![obj(a)];
        log.push_objects(&mut batch, ours);
        assert!(batch.is_empty(), "the batch moved into the log");
        log.push_objects(&mut vec![obj(b)], ours.wrapping_sub(1));
        log.push_objects(&mut vec![obj(c)], ours);
        assert_eq!(log.apply(ours), 2);
        // SAFETY: live locals.
        let marked = |g: crate::Gc<'_, u64>| unsafe { mark::is_marked(g.header_ptr(), ours) };
        assert!(marked(a) && marked(c), "the objects of this epoch's assists are marked again");
        assert!(!marked(b), "the batch of another epoch is skipped");
    }
}
