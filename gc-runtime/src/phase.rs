//! The phase word: which part of the cycle the collector is in, read by every barriered store.
//!
//! # Encoding
//!
//! One global byte. Bit 0 is "write barrier on", so the barrier's fast path is one relaxed
//! load and a test of that bit:
//!
//! | value | phase | barrier | allocation colour | what runs |
//! |---|---|---|---|---|
//! | 0 | [`Phase::Off`] | off | white for the next cycle | mutators only; leftover lazy sweeping |
//! | 1 | [`Phase::Mark`] | **on** | black | root scan, background marking, assists |
//! | 3 | [`Phase::MarkTermination`] | **on** | (world stopped) | final checks, checkmark |
//! | 2 | [`Phase::Sweep`] | off | black (survives this sweep) | background and lazy sweep |
//!
//! # Who writes it
//!
//! Only the collector, only through [`set_phase`], and only while it holds the world stopped
//! (or, for `Sweep → Off`, when turning the barrier on or off is not involved). Mutators read
//! it with `Relaxed`: a change of the barrier bit happens inside a stop-the-world pause, whose
//! handshake (a lock acquired by every parked mutator on its way out) orders the store before
//! the mutator's next read.
//!
//! The two epochs that give the mark word its meaning (see [`crate::header`]) live here too,
//! for the same reason: they change only inside pauses and are read on hot paths.

#[cfg(not(gc_loom))]
use crate::primitive::sync::atomic::AtomicU64;
use crate::primitive::sync::atomic::{AtomicU8, Ordering};

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

const BARRIER_BIT: u8 = 1;

/// A phase word: the encoding above in one atomic byte.
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
    pub(crate) fn get(&self) -> Phase {
        Phase::from_bits(self.0.load(Ordering::Relaxed))
    }

    /// The barrier fast-path test: one relaxed load and a bit test.
    #[inline(always)]
    pub(crate) fn barrier_on(&self) -> bool {
        self.0.load(Ordering::Relaxed) & BARRIER_BIT != 0
    }

    /// Store a new phase (collector only; see the module header for when).
    pub(crate) fn set(&self, phase: Phase) {
        // SeqCst: pairs with the handshake that follows; a plain store would do on the mutator
        // side (they synchronise through the handshake lock), but marker threads read it
        // without the lock, and the strongest order keeps that argument trivial. Not a hot
        // path.
        self.0.store(phase as u8, Ordering::SeqCst);
    }
}

#[cfg(not(gc_loom))]
static PHASE: PhaseWord = PhaseWord::new();
#[cfg(not(gc_loom))]
static MARK_EPOCH: AtomicU64 = AtomicU64::new(1);
#[cfg(not(gc_loom))]
static SWEEP_EPOCH: AtomicU64 = AtomicU64::new(1);

impl Phase {
    fn from_bits(bits: u8) -> Phase {
        match bits {
            0 => Phase::Off,
            1 => Phase::Mark,
            3 => Phase::MarkTermination,
            _ => Phase::Sweep,
        }
    }

    /// Short name used in trace lines.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Off => "off",
            Phase::Mark => "mark",
            Phase::MarkTermination => "marktermination",
            Phase::Sweep => "sweep",
        }
    }
}

/// The current phase.
#[cfg(not(gc_loom))]
#[inline]
pub fn current() -> Phase {
    PHASE.get()
}

/// The barrier fast-path test: one relaxed load and a bit test.
#[cfg(not(gc_loom))]
#[inline(always)]
pub(crate) fn barrier_on() -> bool {
    PHASE.barrier_on()
}

/// Store a new phase. Called only by the collector (see the module header for when).
#[cfg(not(gc_loom))]
pub(crate) fn set_phase(phase: Phase) {
    PHASE.set(phase);
}

#[cfg(not(gc_loom))]
/// The epoch of the current (or last) marking; new objects are marked with it.
#[inline]
pub(crate) fn mark_epoch() -> u64 {
    MARK_EPOCH.load(Ordering::Relaxed)
}

#[cfg(not(gc_loom))]
/// The epoch against which pages are swept: objects whose mark is older are dead.
#[inline]
pub(crate) fn sweep_epoch() -> u64 {
    SWEEP_EPOCH.load(Ordering::Acquire)
}

#[cfg(not(gc_loom))]
/// Start a new marking epoch (world stopped, before the barrier goes on).
pub(crate) fn begin_mark_epoch() -> u64 {
    MARK_EPOCH.fetch_add(1, Ordering::SeqCst) + 1
}

#[cfg(not(gc_loom))]
/// Make the finished marking the reference for sweeping (after termination, once weak
/// references to dead objects are cleared).
pub(crate) fn publish_sweep_epoch() {
    // Release: pairs with the Acquire in `sweep_epoch`, so a sweeper that sees the new epoch
    // also sees every mark made by the marking it ends.
    SWEEP_EPOCH.store(MARK_EPOCH.load(Ordering::SeqCst), Ordering::Release);
}
