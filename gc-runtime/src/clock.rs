//! The collector's clock: the phase word (with the cycle's barrier kind in it) and the three
//! epochs. Every other part of the collector reads them here; only the collector moves them,
//! through the transitions below.
//!
//! # State table
//!
//! The phase word is one atomic 64-bit word: bits 0–1 the phase, bits 2–3 the barrier kind of
//! the cycle, bit 4 the mark-start window, and the bits from 8 up the mark epoch. Bit 0 is
//! "write barrier on", so the barrier's fast path is one relaxed load and a bit test, and its
//! slow path finds the kind and the epoch in the same word — the kind is set by the very store
//! that turns the barrier on, as Go's `setGCPhase` derives `writeBarrier.enabled` from
//! `gcphase`, and so is the epoch of the marking that begins.
//!
//! | transition (collector, world stopped unless noted) | phase | barrier | mark epoch | weak verdict | sweep epoch | allocation |
//! |---|---|---|---|---|---|---|
//! | (start) | [`Phase::Off`] | off | 1 | 0 | 1 | white |
//! | [`begin_marking`] | [`Phase::Mark`] | **on**, kind set | *e* + 1 | 0 | *e* | black |
//! | [`begin_marking_window`] (handshakes: world running) | [`Phase::Mark`], no scanning | **on**: Dijkstra, or hybrid for a Yuasa or hybrid cycle | *e* + 1 | 0 | *e* | white until the mutator acknowledges, then black |
//! | [`open_marking`] (handshakes: after every mutator acknowledged) | [`Phase::Mark`] | **on**, the cycle's kind | *e* + 1 | 0 | *e* | black |
//! | [`confirm_marking`] (handshakes without checkmark: world running, after [`set_weak_verdict`]) | [`Phase::MarkTermination`] | **on** | *e* + 1 | 0 (*e* + 1 after [`set_weak_verdict`]) | *e* | (world stopped), or black |
//! | [`set_weak_verdict`] (handshakes: world running, after the deciding round) | [`Phase::Mark`] | **on** | *e* + 1 | *e* + 1 | *e* | black |
//! | [`end_marking`] (handshakes without checkmark: world running) | [`Phase::Sweep`] | off | *e* + 1 | *e* + 1 | *e* | black (survives this sweep) |
//! | [`publish_sweep`] (world running; inside the pause in stop-the-world mode) | [`Phase::Sweep`] | off | *e* + 1 | 0 | *e* + 1 | black in pages not yet swept for *e* + 1, white in the others |
//! | [`finish`] (either) | [`Phase::Off`] | off | *e* + 1 | 0 | *e* + 1 | white (every page is swept) |
//!
//! - **Mark epoch**: the current (or last) marking. A new object is allocated black exactly
//!   when the mark epoch is newer than the epoch its page was last swept for (see
//!   `heap/cache.rs`); a large object's mark word holds the epoch of the last marking that
//!   reached it (see `object/mark.rs`).
//! - **Weak verdict**: the epoch of a finished marking whose verdict has not yet reached every
//!   weak cell; 0 when none is pending. While it is set, a weak upgrade treats a referent
//!   marked before it as dead (see `weak_table.rs`, "Clearing").
//! - **Sweep epoch**: the marking whose verdict the sweep acts on; sweepers read it with `Acquire`
//!   (and the lazy sweep of a size class under that class's lock, so a page is filed as swept
//!   only against the newest epoch; see `heap/central.rs`). It moves only after the weak cells are cleared, so nothing a weak reference may
//!   still name is freed early.
//!
//! # Memory ordering
//!
//! Mutators read the phase word with `Relaxed` on the barrier's fast path. A change of the
//! barrier bit happens inside a stop-the-world pause, whose handshake (a lock acquired by every
//! parked mutator on its way out) orders the store before the mutator's next read — or, with
//! per-thread handshakes, before a round the collector waits out, whose acknowledgement orders
//! it the same way for each mutator (see `collector/mod.rs`). Before that acknowledgement a
//! mutator may see either value, which the mark-start window allows for. Marker threads read
//! it without the lock, so the collector's stores are `SeqCst` (not a hot path). The sweep
//! epoch is published with `Release` and read with `Acquire`, so a sweeper that sees it also
//! sees every mark the marking made.
//!
//! # Why the mark epoch is in the phase word
//!
//! A mutator allocates black for the marking whose epoch it last took (`heap/cache.rs`, "Whose
//! mark epoch"), and a black object must never be stored into without the barrier. With the
//! epoch in a word of its own, advanced just before the barrier went on, a mutator attaching
//! between the two stores (the collector preempted there) took the new epoch while its
//! barrier tests still read "off": it allocated black and stored into the new objects
//! unbarriered, and the marking never scanned them. In one word the two cannot disagree: a
//! thread that reads an epoch reads the barrier state stored with it, and by coherence its
//! later reads of the word see that store or a later one. The barrier's slow path likewise
//! finds the epoch to shade with in the word it tested.

use crate::{
    config::BarrierKind,
    named::{display_and_from_str, Named},
    primitive::sync::atomic::{AtomicU64, Ordering},
};

/// The phase of the collection cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Phase {
    /// No cycle running; write barrier off; mutators allocate white (for the next cycle).
    Off = 0,
    /// Concurrent root scan and marking; write barrier on; allocation is black.
    Mark = 1,
    /// Marking is confirmed complete; write barrier on. The world is stopped in this phase when
    /// handshakes are off or fall back to a pause, and when checkmark runs (it runs here);
    /// otherwise a handshake round decided it, and the collector goes straight on to `Sweep`.
    MarkTermination = 3,
    /// Marking is done; dead objects are being swept; write barrier off.
    Sweep = 2,
}

impl Phase {
    /// Every phase, in cycle order.
    pub const ALL: [Phase; 4] = [Phase::Off, Phase::Mark, Phase::MarkTermination, Phase::Sweep];

    /// Whether the write barrier is on in this phase.
    pub const fn barrier_on(self) -> bool {
        self as u8 & BARRIER_BIT != 0
    }
}

/// Phases are written and parsed as in trace lines: `off`, `mark`, `marktermination`,
/// `sweep`.
impl Named for Phase {
    const WHAT: &'static str = "phase";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("off", Phase::Off),
        ("mark", Phase::Mark),
        ("marktermination", Phase::MarkTermination),
        ("sweep", Phase::Sweep),
    ];
}

display_and_from_str!(Phase);

const BARRIER_BIT: u8 = 1;
// `barrier_on_or_odd` tests the barrier bit and a `Member` slot's bit 0 with one bit test (the
// barrier asserts that bit 0 tells an unarmed slot from null and object addresses).
const _: () = assert!(BARRIER_BIT == 1);
/// The mark epoch before the first marking (the sweep epoch starts there too).
pub(crate) const FIRST_EPOCH: u64 = 1;
/// The mark epoch's place in the phase word.
const EPOCH_SHIFT: u32 = 8;
/// The word's bits below the epoch: phase, kind and window.
const STATE_MASK: u64 = (1 << EPOCH_SHIFT) - 1;
const PHASE_BITS: u8 = 0b11;
const KIND_SHIFT: u32 = 2;
const KIND_BITS: u8 = 0b11;
/// Set during the mark-start window of a handshake start: the barrier is on, but no object may
/// be scanned yet (see `collector/mod.rs`, "Mark start without a pause").
const WINDOW_BIT: u8 = 1 << 4;

const fn kind_bits(kind: BarrierKind) -> u8 {
    (match kind {
        BarrierKind::Dijkstra => 0,
        BarrierKind::Yuasa => 1,
        BarrierKind::Hybrid => 2,
    }) << KIND_SHIFT
}

const fn kind_of(word: u8) -> BarrierKind {
    match (word >> KIND_SHIFT) & KIND_BITS {
        0 => BarrierKind::Dijkstra,
        1 => BarrierKind::Yuasa,
        _ => BarrierKind::Hybrid,
    }
}

const fn phase_of(word: u8) -> Phase {
    match word & PHASE_BITS {
        0 => Phase::Off,
        1 => Phase::Mark,
        3 => Phase::MarkTermination,
        _ => Phase::Sweep,
    }
}

/// A phase word: the encoding of the state table — phase, barrier kind, mark-start window and
/// mark epoch — in one atomic word (see "Why the mark epoch is in the phase word").
///
/// The collector has exactly one, in a process-wide static, and is its only writer; the type
/// exists on its own so the loom models (`gc-loom-models`) can run the real load and store
/// orderings.
pub(crate) struct PhaseWord(AtomicU64);

/// The state bits of a word (phase, kind, window): its low byte.
const fn state(word: u64) -> u8 {
    (word & STATE_MASK) as u8
}

impl PhaseWord {
    /// A word in [`Phase::Off`], mark epoch [`FIRST_EPOCH`].
    #[cfg(not(gc_loom))]
    pub(crate) const fn new() -> Self {
        PhaseWord(AtomicU64::new(FIRST_EPOCH << EPOCH_SHIFT | Phase::Off as u64))
    }

    /// A word in [`Phase::Off`], mark epoch [`FIRST_EPOCH`] (loom's atomics have no `const`
    /// constructor).
    #[cfg(gc_loom)]
    pub(crate) fn new() -> Self {
        PhaseWord(AtomicU64::new(FIRST_EPOCH << EPOCH_SHIFT | Phase::Off as u64))
    }

    /// The phase.
    #[inline]
    pub(crate) fn phase(&self) -> Phase {
        phase_of(state(self.0.load(Ordering::Relaxed)))
    }

    /// The barrier fast-path test: one relaxed load and a bit test.
    #[inline(always)]
    pub(crate) fn barrier_on(&self) -> bool {
        state(self.0.load(Ordering::Relaxed)) & BARRIER_BIT != 0
    }

    /// The barrier fast-path test folded with a test of `slot_value`'s bit 0: one relaxed load,
    /// an OR and one bit test. True when the barrier is on (its bit is bit 0 of the word) or
    /// `slot_value` is odd — for a `Member` slot, which holds only null, an object's address
    /// (aligned) or the unarmed sentinel (1), only when the slot is unarmed.
    #[inline(always)]
    pub(crate) fn barrier_on_or_odd(&self, slot_value: usize) -> bool {
        (self.0.load(Ordering::Relaxed) | slot_value as u64) & u64::from(BARRIER_BIT) != 0
    }

    /// Whether the barrier is on, read with `Acquire` (see [`barrier_on_acquire`]).
    #[inline]
    pub(crate) fn barrier_on_acquire(&self) -> bool {
        state(self.0.load(Ordering::Acquire)) & BARRIER_BIT != 0
    }

    /// The mark epoch: the current (or last) marking's.
    #[inline]
    pub(crate) fn epoch(&self) -> u64 {
        self.0.load(Ordering::Relaxed) >> EPOCH_SHIFT
    }

    /// The barrier in force, if it is on (the slow path's load: phase and kind in one).
    #[inline]
    pub(crate) fn barrier(&self) -> Option<BarrierKind> {
        self.barrier_state().map(|b| b.kind)
    }

    /// The barrier in force, the epoch of its marking and whether the mark-start window is
    /// open, if the barrier is on: one load, so they belong together.
    ///
    /// Acquire: what the collector wrote before it turned the barrier on (the grey queue
    /// emptied, the assist credit reset) is seen by a slow path that sees the barrier on.
    #[inline]
    pub(crate) fn barrier_state(&self) -> Option<BarrierState> {
        let word = self.0.load(Ordering::Acquire);
        let bits = state(word);
        (bits & BARRIER_BIT != 0).then(|| BarrierState {
            kind: kind_of(bits),
            epoch: word >> EPOCH_SHIFT,
            window: bits & WINDOW_BIT != 0,
        })
    }

    /// Whether objects may be scanned: the barrier is on and the mark-start window is over.
    #[inline]
    pub(crate) fn scanning_allowed(&self) -> bool {
        state(self.0.load(Ordering::Relaxed)) & (BARRIER_BIT | WINDOW_BIT) == BARRIER_BIT
    }

    /// Store the state bits `bits` with the mark epoch `epoch` (the collector, the only writer).
    fn store(&self, bits: u8, epoch: u64) {
        // SeqCst: see "Memory ordering".
        self.0.store(epoch << EPOCH_SHIFT | u64::from(bits), Ordering::SeqCst);
    }

    /// Store a phase and the barrier kind that goes with it, with the mark epoch `epoch` — the
    /// current one, which the collector knows: it began the marking (collector only; see the
    /// state table for when). The loom models pass the epoch rather than this method reading
    /// it: a load of the word just before the store hid from loom a schedule in which a
    /// mutator reads an old value of it (`ragged start: Yuasa, one round (control)`).
    pub(crate) fn set(&self, phase: Phase, kind: BarrierKind, epoch: u64) {
        self.store(phase as u8 | kind_bits(kind), epoch);
    }

    /// A new marking: the next mark epoch and phase `Mark` with the barrier `kind` — in the
    /// mark-start window if `window` — in one store. Returns the new epoch.
    pub(crate) fn begin_marking(&self, kind: BarrierKind, window: bool) -> u64 {
        let epoch = self.epoch() + 1;
        let window = if window { WINDOW_BIT } else { 0 };
        self.store(Phase::Mark as u8 | kind_bits(kind) | window, epoch);
        epoch
    }

    /// The barrier kind last stored (kept across the phases of a cycle).
    fn kind(&self) -> BarrierKind {
        kind_of(state(self.0.load(Ordering::Relaxed)))
    }
}

impl BarrierKind {
    /// Whether this barrier shades the overwritten pointer.
    pub(crate) fn shades_old(self) -> bool {
        matches!(self, BarrierKind::Yuasa | BarrierKind::Hybrid)
    }

    /// Whether this barrier shades the stored pointer.
    pub(crate) fn shades_new(self) -> bool {
        matches!(self, BarrierKind::Dijkstra | BarrierKind::Hybrid)
    }
}

/// What a barrier slow path reads from the phase word: see [`PhaseWord::barrier_state`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BarrierState {
    /// The barrier in force.
    pub(crate) kind: BarrierKind,
    /// The epoch of the marking it serves (shades mark with it).
    pub(crate) epoch: u64,
    /// Whether the mark-start window is open (nothing scanned yet).
    pub(crate) window: bool,
}

impl BarrierState {
    /// Whether a store must shade the pointer it overwrites.
    #[inline]
    pub(crate) fn shades_old(self) -> bool {
        self.kind.shades_old()
    }

    /// Whether a mutator that last scanned its value stacks during the marking of epoch
    /// `last_scan` must scan them now, at a handshake answer, park, detach or attach (see
    /// `stack_scan.rs`, rule 1): always under Dijkstra (the stacks are grey roots, rescanned
    /// at termination); under Yuasa and hybrid at every answer in the mark-start window, then
    /// only if it has not scanned during this marking.
    #[inline]
    pub(crate) fn stack_scan_due(self, last_scan: u64) -> bool {
        match self.kind {
            BarrierKind::Dijkstra => true,
            BarrierKind::Yuasa | BarrierKind::Hybrid => self.window || last_scan != self.epoch,
        }
    }

    /// Whether a store must shade the pointer it stores.
    ///
    /// The barrier shades stored pointers so that no black object comes to point to a white
    /// one. In the mark-start window nothing has been scanned, so the only black objects are
    /// those allocated black — by a mutator that took this marking's epoch for its allocations
    /// (it answered the mark start, or attached since). Until one has, no object is black and
    /// the stored pointer needs no shade: the objects a mutator fills while the collector
    /// waits for the last answer stay white, and die in this cycle if they are garbage by the
    /// root scan. A thread can only store into another's black object after receiving it,
    /// through a chain of release and acquire that also carries that thread's
    /// [`AllocationViews::take`], so it sees that black allocation began.
    #[inline]
    pub(crate) fn shades_new(self, views: &AllocationViews) -> bool {
        self.kind.shades_new() && (!self.window || views.black_possible(self.epoch))
    }
}

/// The newest mark epoch a mutator has taken to allocate with (see
/// [`BarrierState::shades_new`]). The collector has one, in a process-wide static; the type
/// exists on its own for the loom models.
pub(crate) struct AllocationViews(AtomicU64);

impl AllocationViews {
    /// No mutator has taken an epoch newer than the first.
    #[cfg(not(gc_loom))]
    pub(crate) const fn new() -> Self {
        AllocationViews(AtomicU64::new(1))
    }

    /// As the other `new` (loom's atomics have no `const` constructor).
    #[cfg(gc_loom)]
    pub(crate) fn new() -> Self {
        AllocationViews(AtomicU64::new(1))
    }

    /// A mutator takes the mark epoch in `word` to allocate with (black for that marking, if
    /// it is running); recorded before the mutator allocates anything with it. Returns it.
    pub(crate) fn take(&self, word: &PhaseWord) -> u64 {
        let epoch = word.epoch();
        if self.0.load(Ordering::Relaxed) < epoch {
            // Release: ordered before every object this mutator then allocates and publishes.
            self.0.fetch_max(epoch, Ordering::Release);
        }
        epoch
    }

    /// Whether some mutator may allocate black for the marking `epoch`.
    #[inline]
    pub(crate) fn black_possible(&self, epoch: u64) -> bool {
        self.0.load(Ordering::Acquire) >= epoch
    }
}

#[cfg(not(gc_loom))]
static WORD: PhaseWord = PhaseWord::new();
#[cfg(not(gc_loom))]
static VIEWS: AllocationViews = AllocationViews::new();
#[cfg(not(gc_loom))]
static SWEEP_EPOCH: AtomicU64 = AtomicU64::new(1);
#[cfg(not(gc_loom))]
static WEAK_VERDICT: AtomicU64 = AtomicU64::new(0);

/// The current phase.
#[cfg(not(gc_loom))]
#[inline]
pub(crate) fn phase() -> Phase {
    WORD.phase()
}

/// The barrier fast-path test: one relaxed load and a bit test.
#[cfg(not(gc_loom))]
#[inline(always)]
pub(crate) fn barrier_on() -> bool {
    WORD.barrier_on()
}

/// The barrier fast-path test folded with a `Member` slot's armed test (see
/// [`PhaseWord::barrier_on_or_odd`]).
#[cfg(not(gc_loom))]
#[inline(always)]
pub(crate) fn barrier_on_or_odd(slot_value: usize) -> bool {
    WORD.barrier_on_or_odd(slot_value)
}

/// Whether the barrier is on, read with `Acquire`: a reader that finds it off sees every store
/// the collector made before turning it off — the weak verdict of [`end_marking`] and
/// [`set_weak_verdict`] above all. (The fast path's [`barrier_on`] is `Relaxed`: a weak read
/// that found the barrier off through it could still read a verdict older than the phase.)
#[cfg(not(gc_loom))]
#[inline]
pub(crate) fn barrier_on_acquire() -> bool {
    WORD.barrier_on_acquire()
}

/// The barrier in force, if it is on.
#[cfg(not(gc_loom))]
#[inline]
pub(crate) fn barrier() -> Option<BarrierKind> {
    WORD.barrier()
}

/// The barrier in force, its marking's epoch and the window, if it is on (one load; see
/// [`PhaseWord::barrier_state`]).
#[cfg(not(gc_loom))]
#[inline]
pub(crate) fn barrier_state() -> Option<BarrierState> {
    WORD.barrier_state()
}

/// The mutators' allocation views (see [`BarrierState::shades_new`]).
#[cfg(not(gc_loom))]
#[inline]
pub(crate) fn allocation_views() -> &'static AllocationViews {
    &VIEWS
}

/// The mark epoch a mutator takes to allocate with, recorded in the allocation views (see
/// `heap/cache.rs`, "Whose mark epoch").
#[cfg(not(gc_loom))]
pub(crate) fn take_allocation_epoch() -> u64 {
    VIEWS.take(&WORD)
}

/// Whether objects may be scanned now (assists check it; see [`PhaseWord::scanning_allowed`]).
#[cfg(not(gc_loom))]
#[inline]
pub(crate) fn scanning_allowed() -> bool {
    WORD.scanning_allowed()
}

/// The epoch of the current (or last) marking; new objects are marked with it.
#[cfg(not(gc_loom))]
#[inline]
pub(crate) fn mark_epoch() -> u64 {
    WORD.epoch()
}

/// The epoch against which pages are swept: objects whose mark is older are dead.
#[cfg(not(gc_loom))]
#[inline]
pub(crate) fn sweep_epoch() -> u64 {
    SWEEP_EPOCH.load(Ordering::Acquire)
}

/// The epoch of a finished marking whose verdict weak cells have not all received yet; 0 when
/// none is pending.
#[cfg(not(gc_loom))]
#[inline]
pub(crate) fn weak_verdict() -> u64 {
    // Acquire: pairs with the SeqCst store in `end_marking`.
    WEAK_VERDICT.load(Ordering::Acquire)
}

/// Off → Mark (world stopped): a new mark epoch, then the barrier on with `kind`. Returns the
/// new epoch.
#[cfg(not(gc_loom))]
pub(crate) fn begin_marking(kind: BarrierKind) -> u64 {
    WORD.begin_marking(kind, false)
}

/// Off → Mark without a pause (world running, root table locked): a new mark epoch, then the
/// barrier on with `kind` in the mark-start window, in which no object is scanned (see
/// `collector/mod.rs`, "Mark start without a pause"). Returns the new epoch.
#[cfg(not(gc_loom))]
pub(crate) fn begin_marking_window(kind: BarrierKind) -> u64 {
    // Epoch and barrier in one store (see "Why the mark epoch is in the phase word").
    WORD.begin_marking(kind, true)
}

/// End of the mark-start window (root table locked): the cycle's barrier `kind`, and scanning
/// allowed.
#[cfg(not(gc_loom))]
pub(crate) fn open_marking(kind: BarrierKind) {
    WORD.set(Phase::Mark, kind, WORD.epoch());
}

/// Mark → MarkTermination (marking complete: world stopped, or decided by a handshake round
/// without checkmark, world running); the barrier stays on.
#[cfg(not(gc_loom))]
pub(crate) fn confirm_marking() {
    WORD.set(Phase::MarkTermination, WORD.kind(), WORD.epoch());
}

/// Marking decided complete by a handshake round, the barrier still on (world running, under
/// the weak gate; see `collector/mod.rs`, "Termination without a pause"): the marking's epoch
/// becomes the weak verdict, so from now on an upgrade of an unmarked referent fails.
#[cfg(not(gc_loom))]
pub(crate) fn set_weak_verdict() {
    WEAK_VERDICT.store(WORD.epoch(), Ordering::SeqCst);
}

/// MarkTermination → Sweep (world stopped, or world running after [`set_weak_verdict`] with
/// per-thread handshakes): the marking's epoch becomes the weak verdict, then the barrier goes
/// off.
#[cfg(not(gc_loom))]
pub(crate) fn end_marking() {
    WEAK_VERDICT.store(WORD.epoch(), Ordering::SeqCst);
    WORD.set(Phase::Sweep, WORD.kind(), WORD.epoch());
}

/// Sweep (world running, weak cells of dead referents cleared, no upgrade that read one in
/// flight): the finished marking becomes the reference for sweeping, and the weak verdict is
/// no longer needed.
#[cfg(not(gc_loom))]
pub(crate) fn publish_sweep() {
    // Release: pairs with the Acquire in `sweep_epoch`, so a sweeper that sees the new epoch
    // also sees every mark made by the marking it ends.
    SWEEP_EPOCH.store(WORD.epoch(), Ordering::Release);
    WEAK_VERDICT.store(0, Ordering::SeqCst);
}

/// Sweep → Off: the cycle is over.
#[cfg(not(gc_loom))]
pub(crate) fn finish() {
    WORD.set(Phase::Off, WORD.kind(), WORD.epoch());
}

/// Test support: set the weak verdict to `epoch` (0: none pending), as a termination would;
/// only for tests that run no collector cycle meanwhile.
#[cfg(all(test, not(gc_loom)))]
pub(crate) fn force_weak_verdict(epoch: u64) {
    WEAK_VERDICT.store(epoch, Ordering::SeqCst);
}

/// Test support: put the clock in `phase` with `kind`, keeping the epochs (the world is not
/// stopped: only for tests that run no collector cycle meanwhile, and that clear the mark bits
/// they cause before one runs, see `test_support::ClearMarks`). Returns the mark epoch.
#[cfg(all(test, not(gc_loom)))]
pub(crate) fn force(phase: Phase, kind: BarrierKind) -> u64 {
    WORD.set(phase, kind, WORD.epoch());
    mark_epoch()
}

#[cfg(all(test, not(gc_loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_word_holds_phase_and_kind_together() {
        let w = PhaseWord::new();
        assert_eq!((w.phase(), w.barrier()), (Phase::Off, None));
        for kind in [BarrierKind::Dijkstra, BarrierKind::Yuasa, BarrierKind::Hybrid] {
            for phase in Phase::ALL {
                w.set(phase, kind, FIRST_EPOCH);
                assert_eq!(w.phase(), phase);
                assert_eq!(w.barrier_on(), phase.barrier_on());
                assert_eq!(w.barrier(), phase.barrier_on().then_some(kind), "{phase} {kind:?}");
            }
        }
    }

    #[test]
    fn the_window_keeps_the_barrier_on_and_scanning_off() {
        let w = PhaseWord::new();
        for kind in [BarrierKind::Dijkstra, BarrierKind::Hybrid] {
            w.begin_marking(kind, true);
            assert_eq!((w.phase(), w.barrier(), w.barrier_on()), (Phase::Mark, Some(kind), true));
            assert!(!w.scanning_allowed());
            w.set(Phase::Mark, BarrierKind::Yuasa, w.epoch());
            assert_eq!(w.barrier(), Some(BarrierKind::Yuasa));
            assert!(w.scanning_allowed());
            w.set(Phase::Sweep, BarrierKind::Yuasa, w.epoch());
            assert!(!w.scanning_allowed() && !w.barrier_on());
        }
    }

    #[test]
    fn a_marking_begins_with_its_epoch_and_its_barrier_in_one_store() {
        let w = PhaseWord::new();
        assert_eq!((w.epoch(), w.barrier_state()), (1, None));
        for (window, kind) in [(true, BarrierKind::Dijkstra), (false, BarrierKind::Yuasa), (true, BarrierKind::Hybrid)]
        {
            let before = w.epoch();
            let epoch = w.begin_marking(kind, window);
            assert_eq!(epoch, before + 1);
            let state = BarrierState { kind, epoch, window };
            assert_eq!(w.barrier_state(), Some(state), "the epoch is read with its barrier");
            assert_eq!(w.scanning_allowed(), !window);
            // Every later transition of the cycle keeps the epoch, up to the next marking.
            for phase in [Phase::Mark, Phase::MarkTermination, Phase::Sweep, Phase::Off] {
                w.set(phase, kind, epoch);
                assert_eq!((w.phase(), w.epoch()), (phase, epoch));
            }
        }
    }

    #[test]
    fn in_the_window_stored_pointers_are_shaded_once_a_mutator_may_allocate_black() {
        let (w, views) = (PhaseWord::new(), AllocationViews::new());
        assert_eq!(views.take(&w), 1);
        for kind in [BarrierKind::Dijkstra, BarrierKind::Hybrid] {
            let epoch = w.begin_marking(kind, true);
            let state = w.barrier_state().expect("on");
            assert!(!state.shades_new(&views), "{kind:?}: nobody allocates black yet");
            assert_eq!(state.shades_old(), kind.shades_old(), "{kind:?}: deletions are shaded all along");
            assert_eq!(views.take(&w), epoch);
            assert!(state.shades_new(&views), "{kind:?}: a mutator took the marking's epoch");
            // Out of the window: the kind alone decides.
            w.set(Phase::Mark, kind, epoch);
            assert!(w.barrier_state().expect("on").shades_new(&AllocationViews::new()));
            w.set(Phase::Off, kind, epoch);
        }
        let epoch = w.begin_marking(BarrierKind::Yuasa, false);
        assert!(!w.barrier_state().expect("on").shades_new(&views), "Yuasa never shades stored pointers");
        assert_eq!(views.take(&w), epoch);
    }

    #[test]
    fn the_barrier_is_on_exactly_while_marking() {
        let on: Vec<_> = Phase::ALL.into_iter().filter(|p| p.barrier_on()).collect();
        assert_eq!(on, [Phase::Mark, Phase::MarkTermination]);
    }

    #[test]
    fn phase_names_round_trip() {
        for p in Phase::ALL {
            assert_eq!(p.to_string().parse::<Phase>(), Ok(p));
        }
        let err = "marking".parse::<Phase>().unwrap_err();
        assert!(err.to_string().contains("`off`, `mark`, `marktermination` or `sweep`"), "{err}");
    }
}
