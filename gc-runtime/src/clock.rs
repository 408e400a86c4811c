//! The collector's clock: the phase word (with the cycle's barrier kind in it) and the three
//! epochs. Every other part of the collector reads them here; only the collector moves them,
//! through the transitions below.
//!
//! # State table
//!
//! The phase word is one atomic byte: bits 0–1 the phase, bits 2–3 the barrier kind of the
//! cycle. Bit 0 is "write barrier on", so the barrier's fast path is one relaxed load and a bit
//! test, and its slow path finds the kind in the same byte — the kind is set by the very store
//! that turns the barrier on, as Go's `setGCPhase` derives `writeBarrier.enabled` from
//! `gcphase`.
//!
//! | transition (collector, world stopped unless noted) | phase | barrier | mark epoch | weak verdict | sweep epoch | allocation |
//! |---|---|---|---|---|---|---|
//! | (start) | [`Phase::Off`] | off | 1 | 0 | 1 | white |
//! | [`begin_marking`] | [`Phase::Mark`] | **on**, kind set | *e* + 1 | 0 | *e* | black |
//! | [`begin_marking_window`] (handshakes: world running) | [`Phase::Mark`], no scanning | **on**: Dijkstra, or hybrid for a Yuasa or hybrid cycle | *e* + 1 | 0 | *e* | white until the mutator acknowledges, then black |
//! | [`open_marking`] (handshakes: after every mutator acknowledged) | [`Phase::Mark`] | **on**, the cycle's kind | *e* + 1 | 0 | *e* | black |
//! | [`confirm_marking`] | [`Phase::MarkTermination`] | **on** | *e* + 1 | 0 | *e* | (world stopped) |
//! | [`set_weak_verdict`] (handshakes: world running, after the deciding round) | [`Phase::Mark`] | **on** | *e* + 1 | *e* + 1 | *e* | black |
//! | [`end_marking`] | [`Phase::Sweep`] | off | *e* + 1 | *e* + 1 | *e* | black (survives this sweep) |
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
//! mutator may see either value, which the mark-start window allows for. The slow path re-reads
//! the word with `Acquire`, and the collector stores a new mark epoch before the word, so a
//! slow path that sees the barrier on shades with the new epoch. Marker threads read it without the
//! lock, so the collector's stores are `SeqCst` (not a hot path). The sweep epoch is published
//! with `Release` and read with `Acquire`, so a sweeper that sees it also sees every mark the
//! marking made.

#[cfg(not(gc_loom))]
use crate::primitive::sync::atomic::AtomicU64;
use crate::{
    config::BarrierKind,
    named::{display_and_from_str, Named},
    primitive::sync::atomic::{AtomicU8, Ordering},
};

/// The phase of the collection cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Phase {
    /// No cycle running; write barrier off; mutators allocate white (for the next cycle).
    Off = 0,
    /// Concurrent root scan and marking; write barrier on; allocation is black.
    Mark = 1,
    /// The world is stopped to confirm marking is complete (and to run checkmark).
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

/// A phase word: the encoding of the state table in one atomic byte.
///
/// The collector has exactly one, in a process-wide static; the type exists on its own so the
/// loom models (`gc-loom-models`) can run the real load and store orderings.
pub(crate) struct PhaseWord(AtomicU8);

impl PhaseWord {
    /// A word in [`Phase::Off`].
    #[cfg(not(gc_loom))]
    pub(crate) const fn new() -> Self {
        PhaseWord(AtomicU8::new(Phase::Off as u8))
    }

    /// A word in [`Phase::Off`] (loom's atomics have no `const` constructor).
    #[cfg(gc_loom)]
    pub(crate) fn new() -> Self {
        PhaseWord(AtomicU8::new(Phase::Off as u8))
    }

    /// The phase.
    #[inline]
    pub(crate) fn phase(&self) -> Phase {
        phase_of(self.0.load(Ordering::Relaxed))
    }

    /// The barrier fast-path test: one relaxed load and a bit test.
    #[inline(always)]
    pub(crate) fn barrier_on(&self) -> bool {
        self.0.load(Ordering::Relaxed) & BARRIER_BIT != 0
    }

    /// The barrier in force, if it is on (the slow path's load: phase and kind in one).
    ///
    /// Acquire: the collector stores the new mark epoch before it turns the barrier on, so a
    /// slow path that sees the barrier on also sees the epoch it must shade with, even when
    /// the barrier goes on without a pause (see "Memory ordering").
    #[inline]
    pub(crate) fn barrier(&self) -> Option<BarrierKind> {
        let word = self.0.load(Ordering::Acquire);
        (word & BARRIER_BIT != 0).then(|| kind_of(word))
    }

    /// Whether objects may be scanned: the barrier is on and the mark-start window is over.
    #[inline]
    pub(crate) fn scanning_allowed(&self) -> bool {
        self.0.load(Ordering::Relaxed) & (BARRIER_BIT | WINDOW_BIT) == BARRIER_BIT
    }

    /// Store a phase and the barrier kind that goes with it (collector only; see the state
    /// table for when).
    pub(crate) fn set(&self, phase: Phase, kind: BarrierKind) {
        // SeqCst: see "Memory ordering".
        self.0.store(phase as u8 | kind_bits(kind), Ordering::SeqCst);
    }

    /// Phase `Mark` with the barrier `kind`, in the mark-start window: no scanning yet.
    pub(crate) fn set_window(&self, kind: BarrierKind) {
        self.0.store(Phase::Mark as u8 | kind_bits(kind) | WINDOW_BIT, Ordering::SeqCst);
    }

    /// The barrier kind last stored (kept across the phases of a cycle).
    fn kind(&self) -> BarrierKind {
        kind_of(self.0.load(Ordering::Relaxed))
    }
}

#[cfg(not(gc_loom))]
static WORD: PhaseWord = PhaseWord::new();
#[cfg(not(gc_loom))]
static MARK_EPOCH: AtomicU64 = AtomicU64::new(1);
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

/// The barrier in force, if it is on.
#[cfg(not(gc_loom))]
#[inline]
pub(crate) fn barrier() -> Option<BarrierKind> {
    WORD.barrier()
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
    MARK_EPOCH.load(Ordering::Relaxed)
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
    let epoch = MARK_EPOCH.fetch_add(1, Ordering::SeqCst) + 1;
    WORD.set(Phase::Mark, kind);
    epoch
}

/// Off → Mark without a pause (world running, root table locked): a new mark epoch, then the
/// barrier on with `kind` in the mark-start window, in which no object is scanned (see
/// `collector/mod.rs`, "Mark start without a pause"). Returns the new epoch.
#[cfg(not(gc_loom))]
pub(crate) fn begin_marking_window(kind: BarrierKind) -> u64 {
    // The epoch first: a barrier slow path that sees the barrier on (Acquire) sees it.
    let epoch = MARK_EPOCH.fetch_add(1, Ordering::SeqCst) + 1;
    WORD.set_window(kind);
    epoch
}

/// End of the mark-start window (root table locked): the cycle's barrier `kind`, and scanning
/// allowed.
#[cfg(not(gc_loom))]
pub(crate) fn open_marking(kind: BarrierKind) {
    WORD.set(Phase::Mark, kind);
}

/// Mark → MarkTermination (world stopped, marking complete); the barrier stays on.
#[cfg(not(gc_loom))]
pub(crate) fn confirm_marking() {
    WORD.set(Phase::MarkTermination, WORD.kind());
}

/// Marking decided complete by a handshake round, the barrier still on (world running, under
/// the weak gate; see `collector/mod.rs`, "Termination without a pause"): the marking's epoch
/// becomes the weak verdict, so from now on an upgrade of an unmarked referent fails.
#[cfg(not(gc_loom))]
pub(crate) fn set_weak_verdict() {
    WEAK_VERDICT.store(MARK_EPOCH.load(Ordering::SeqCst), Ordering::SeqCst);
}

/// MarkTermination → Sweep (world stopped, or world running after [`set_weak_verdict`] with
/// per-thread handshakes): the marking's epoch becomes the weak verdict, then the barrier goes
/// off.
#[cfg(not(gc_loom))]
pub(crate) fn end_marking() {
    WEAK_VERDICT.store(MARK_EPOCH.load(Ordering::SeqCst), Ordering::SeqCst);
    WORD.set(Phase::Sweep, WORD.kind());
}

/// Sweep (world running, weak cells of dead referents cleared, no upgrade that read one in
/// flight): the finished marking becomes the reference for sweeping, and the weak verdict is
/// no longer needed.
#[cfg(not(gc_loom))]
pub(crate) fn publish_sweep() {
    // Release: pairs with the Acquire in `sweep_epoch`, so a sweeper that sees the new epoch
    // also sees every mark made by the marking it ends.
    SWEEP_EPOCH.store(MARK_EPOCH.load(Ordering::SeqCst), Ordering::Release);
    WEAK_VERDICT.store(0, Ordering::SeqCst);
}

/// Sweep → Off: the cycle is over.
#[cfg(not(gc_loom))]
pub(crate) fn finish() {
    WORD.set(Phase::Off, WORD.kind());
}

/// Test support: put the clock in `phase` with `kind`, keeping the epochs (the world is not
/// stopped: only for tests that run no collector cycle meanwhile, and that clear the mark bits
/// they cause before one runs, see `test_support::ClearMarks`). Returns the mark epoch.
#[cfg(all(test, not(gc_loom)))]
pub(crate) fn force(phase: Phase, kind: BarrierKind) -> u64 {
    WORD.set(phase, kind);
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
                w.set(phase, kind);
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
            w.set_window(kind);
            assert_eq!((w.phase(), w.barrier(), w.barrier_on()), (Phase::Mark, Some(kind), true));
            assert!(!w.scanning_allowed());
            w.set(Phase::Mark, BarrierKind::Yuasa);
            assert_eq!(w.barrier(), Some(BarrierKind::Yuasa));
            assert!(w.scanning_allowed());
            w.set(Phase::Sweep, BarrierKind::Yuasa);
            assert!(!w.scanning_allowed() && !w.barrier_on());
        }
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
