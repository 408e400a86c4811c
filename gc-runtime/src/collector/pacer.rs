//! The pacer: when to start the next cycle.
//!
//! # The goal
//!
//! After each cycle the goal is `max(min_heap, live × (1 + gc_percent/100))` (Go's GOGC rule),
//! where `live` is what the cycle *marked*: the bytes it found reachable plus those allocated
//! black while it marked — Go's `heap_marked`. Not the heap after the sweep, which also holds
//! what was allocated during the sweep and pages still unswept in mutators' caches.
//! `gc_percent = None` turns pacing off: only explicit collections run (and those forced by the
//! memory limit). With a memory limit the goal never exceeds 90% of it, so that cycles start
//! while there is still room to allocate during them.
//!
//! The heap here is the pacer's (`Runtime::paced_bytes`): the GC objects plus the memory the
//! collections own outside the heap, their buffers and tables (`owned_bytes.rs`); `live`
//! counts the buffers of the collections the cycle marked. The memory limit bounds the GC
//! objects alone, so its cap on the goal leaves room for the owned bytes the cycle found live
//! on top of the 90 %: live buffers larger than the limit do not make every cycle start the
//! next at once.
//!
//! # The trigger: the goal less a runway
//!
//! A concurrent cycle does not stop the program: the heap keeps growing while it marks, and
//! only the sweep afterwards frees anything. Started at the goal, every cycle would overshoot
//! it by what the program allocates during marking. So the cycle starts earlier, at the
//! *trigger*: the goal less the *runway*, the bytes the program is expected to allocate while
//! the next cycle marks (Go's pacer does the same, from its model of mark cost and allocation
//! rate). The runway is measured: each cycle records how much the heap grew from mark start to
//! mark termination, and the runway follows it — at once when it grows, halfway when it shrinks,
//! so one quiet cycle does not leave the next without room.
//!
//! The trigger stays at least 30 % of the way from the live heap to the goal
//! ([`FLOOR_TENTHS`]), so that a program that allocates as fast as the marker marks still gets
//! cycles of a useful size (the goal is then exceeded; the overshoot is in the cycle's record,
//! `CycleStats::overshoot`). Go bounds its trigger at 70 %, and holds its goal beyond that with
//! mark assists, which make an allocating goroutine mark until the marking can finish. Here a
//! late cycle is rarely waiting for the marking: it waits for threads to reach safepoints, which
//! no assist brings nearer. A program that allocates a large structure between two safepoints
//! (binary-trees builds a 12 MB tree in one call) grows by up to one structure while the mark
//! start waits, and by one or two more before a thread answers the termination round (one if
//! the workers finish marking before the thread ends its next structure, two if not). With the
//! bound at 70 %, the measured runway could not move the trigger that far back, and
//! binary-trees at depth 18 ran its last phase 24 % over its goal, three trees on top of the
//! long-lived one. At 30 % the trigger moves back, and the phase mostly runs at its goal, with
//! the same number of cycles (see the book's "The pacer"). An earlier measurement, on code
//! since changed, had found that a bound of 50 % ran 35 % more cycles on binary-trees; at 30 %
//! it now runs as many as at 70 % (84–97 per run either way).
//!
//! Allocation slow paths (page refills and large objects — not the per-object fast path) and
//! the growth of a collection's buffer compare the pacer's heap to the trigger and ask the
//! collector thread for a cycle when it is reached.

use crate::{
    config::Config,
    primitive::sync::atomic::{AtomicUsize, Ordering},
};

/// The trigger's lowest point, in tenths of the way from the live heap to the goal (see "The
/// trigger").
pub(crate) const FLOOR_TENTHS: usize = 3;

/// The trigger threshold and the settings behind it.
pub(crate) struct Pacer {
    trigger: AtomicUsize,
    goal: AtomicUsize,
    /// Bytes the heap is expected to grow by while a cycle marks (see "The trigger").
    runway: AtomicUsize,
    percent: AtomicUsize,
    min_heap: AtomicUsize,
    last_live: AtomicUsize,
    /// Of `last_live`, the owned bytes (see the module docs).
    last_owned: AtomicUsize,
    limit: AtomicUsize,
}

const OFF: usize = usize::MAX;

impl Pacer {
    /// A pacer for `config`, before any cycle (the goal is the minimum heap).
    pub(crate) fn new(config: &Config) -> Pacer {
        let p = Pacer {
            trigger: AtomicUsize::new(OFF),
            goal: AtomicUsize::new(OFF),
            runway: AtomicUsize::new(0),
            percent: AtomicUsize::new(OFF),
            min_heap: AtomicUsize::new(0),
            last_live: AtomicUsize::new(0),
            last_owned: AtomicUsize::new(0),
            limit: AtomicUsize::new(OFF),
        };
        p.configure(config);
        p
    }

    /// Take new settings; the goal is recomputed from the last live heap.
    pub(crate) fn configure(&self, config: &Config) {
        self.percent.store(config.gc_percent.map_or(OFF, |p| p as usize), Ordering::Relaxed);
        self.min_heap.store(config.min_heap, Ordering::Relaxed);
        self.limit.store(config.memory_limit.unwrap_or(OFF), Ordering::Relaxed);
        self.recompute();
    }

    fn recompute(&self) -> usize {
        let percent = self.percent.load(Ordering::Relaxed);
        let paced = if percent == OFF {
            OFF
        } else {
            let live = self.last_live.load(Ordering::Relaxed);
            let grown = live.saturating_add(live.saturating_mul(percent) / 100);
            grown.max(self.min_heap.load(Ordering::Relaxed))
        };
        let limit = self.limit.load(Ordering::Relaxed);
        let owned = self.last_owned.load(Ordering::Relaxed);
        let goal = if limit == OFF { paced } else { paced.min((limit / 10 * 9).saturating_add(owned)) };
        self.goal.store(goal, Ordering::Relaxed);
        self.trigger.store(trigger_for(goal, self.last_live(), self.runway.load(Ordering::Relaxed)), Ordering::Relaxed);
        goal
    }

    /// Record what a cycle marked (`live`, of which `owned` bytes outside the heap) and how much
    /// the heap grew while it marked; returns the new goal and trigger.
    pub(crate) fn after_cycle(&self, live: usize, owned: usize, grown_while_marking: usize) -> (usize, usize) {
        self.last_live.store(live, Ordering::Relaxed);
        self.last_owned.store(owned.min(live), Ordering::Relaxed);
        let old = self.runway.load(Ordering::Relaxed);
        // Up at once, down halfway (see "The trigger").
        let runway = grown_while_marking.max(old / 2 + grown_while_marking / 2);
        self.runway.store(runway, Ordering::Relaxed);
        let goal = self.recompute();
        (goal, self.trigger.load(Ordering::Relaxed))
    }

    /// The memory limit, if any.
    pub(crate) fn limit(&self) -> Option<usize> {
        Some(self.limit.load(Ordering::Relaxed)).filter(|&l| l != OFF)
    }

    /// The live heap the last cycle left (what it marked).
    pub(crate) fn last_live(&self) -> usize {
        self.last_live.load(Ordering::Relaxed)
    }

    /// Whether a heap of `live` bytes should start a cycle.
    #[inline]
    pub(crate) fn should_trigger(&self, live: usize) -> bool {
        live >= self.trigger.load(Ordering::Relaxed)
    }

    /// The heap the scavenger leaves in place: the goal plus 10 %, as Go's scavenger retains
    /// (with pacing off, the last live heap plus 10 %), less the owned bytes the last cycle
    /// found live, which are not in pages. Pages beyond it that stay empty go back to the OS
    /// (see `heap/pool.rs`).
    pub(crate) fn scavenge_retain(&self) -> usize {
        let goal = self.goal.load(Ordering::Relaxed);
        let base = if goal == OFF { self.last_live() } else { goal };
        let base = base.saturating_sub(self.last_owned.load(Ordering::Relaxed));
        base.saturating_add(base / 10)
    }

    /// The current goal: the heap the next cycle should stay under (`usize::MAX` when pacing
    /// is off).
    pub(crate) fn goal(&self) -> usize {
        self.goal.load(Ordering::Relaxed)
    }

    /// The goal, if there is one (pacing on, or a memory limit).
    pub(crate) fn paced_goal(&self) -> Option<usize> {
        Some(self.goal()).filter(|&g| g != OFF)
    }

    /// The heap at which the next cycle starts (`usize::MAX` when pacing is off).
    #[cfg(test)]
    pub(crate) fn trigger(&self) -> usize {
        self.trigger.load(Ordering::Relaxed)
    }
}

/// The goal less the runway, but at least [`FLOOR_TENTHS`] of the way from the live heap to the
/// goal (see "The trigger").
fn trigger_for(goal: usize, live: usize, runway: usize) -> usize {
    if goal == OFF {
        return OFF;
    }
    let floor = live.min(goal) + (goal - live.min(goal)) / 10 * FLOOR_TENTHS;
    goal.saturating_sub(runway).max(floor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goal_is_percent_over_live_with_a_floor() {
        let p = Pacer::new(&Config::default().with_gc_percent(Some(100)).with_min_heap(1000));
        assert_eq!(p.goal(), 1000, "before any cycle: the floor");
        assert!(!p.should_trigger(999) && p.should_trigger(1000));
        assert_eq!(p.after_cycle(4000, 0, 0), (8000, 8000));
        assert!(!p.should_trigger(7999) && p.should_trigger(8000));
        assert_eq!(p.after_cycle(100, 0, 0), (1000, 1000), "the floor again");
        assert_eq!(p.scavenge_retain(), 1100, "the goal plus 10 %");
        p.configure(&Config::default().with_gc_percent(None));
        assert_eq!(p.scavenge_retain(), 110, "pacing off: the last live heap plus 10 %");
    }

    #[test]
    fn percent_changes_the_goal_and_off_disables_it() {
        let p = Pacer::new(&Config::default().with_gc_percent(Some(50)).with_min_heap(0));
        assert_eq!(p.after_cycle(1000, 0, 0).0, 1500);
        p.configure(&Config::default().with_gc_percent(None));
        assert!(!p.should_trigger(usize::MAX - 1));
    }

    #[test]
    fn a_memory_limit_caps_the_goal() {
        let p =
            Pacer::new(&Config::default().with_gc_percent(Some(100)).with_min_heap(0).with_memory_limit(Some(1000)));
        assert_eq!(p.after_cycle(800, 0, 0).0, 900, "90% of the limit, not 1600");
        assert_eq!(p.after_cycle(100, 0, 0).0, 200);
        assert_eq!(p.limit(), Some(1000));
        p.configure(&Config::default().with_gc_percent(None).with_memory_limit(Some(1000)));
        assert_eq!(p.goal(), 900, "the limit triggers cycles even with pacing off");
    }

    #[test]
    fn the_trigger_leaves_the_runway_measured_while_marking() {
        let p = Pacer::new(&Config::default().with_gc_percent(Some(100)).with_min_heap(0));
        // The heap grew by 1000 while the cycle marked: the next starts 1000 before the goal.
        assert_eq!(p.after_cycle(4000, 0, 1000), (8000, 7000));
        assert!(!p.should_trigger(6999) && p.should_trigger(7000));
        // A quieter cycle: the runway comes down halfway, not all the way.
        assert_eq!(p.after_cycle(4000, 0, 200), (8000, 7400));
        // A busier one: up at once.
        assert_eq!(p.after_cycle(4000, 0, 1100), (8000, 6900));
        // At least 30 % of the way from the live heap to the goal, whatever the runway.
        assert_eq!(p.after_cycle(4000, 0, 10_000), (8000, 5200));
        assert_eq!(p.scavenge_retain(), 8800, "the scavenger retains the goal, not the trigger");
        // New settings keep the runway.
        p.configure(&Config::default().with_gc_percent(Some(200)).with_min_heap(0));
        assert_eq!((p.goal(), p.trigger()), (12_000, 6400));
        p.configure(&Config::default().with_gc_percent(None));
        assert_eq!(p.trigger(), usize::MAX, "pacing off: no trigger");
    }

    #[test]
    fn owned_bytes_count_live_and_sit_beside_the_memory_limit() {
        let p = Pacer::new(&Config::default().with_gc_percent(Some(100)).with_min_heap(0));
        // 3000 of the 4000 live bytes are buffers: the goal doubles all of it.
        assert_eq!(p.after_cycle(4000, 3000, 0), (8000, 8000));
        assert_eq!(p.scavenge_retain(), 5500, "pages for the goal less the live buffers, plus 10 %");
        let p =
            Pacer::new(&Config::default().with_gc_percent(Some(100)).with_min_heap(0).with_memory_limit(Some(10_000)));
        // The limit bounds the objects: its 90 % come on top of the live buffers, even when
        // those alone exceed the limit (a goal under the live heap would start cycles back to
        // back).
        assert_eq!(p.after_cycle(20_000, 15_000, 0).0, 24_000);
        assert_eq!(p.after_cycle(6000, 1000, 0).0, 10_000);
        assert_eq!(p.after_cycle(1000, 5000, 0).0, 2000, "owned bytes are part of the live heap, never more");
    }

    #[test]
    fn the_trigger_never_passes_the_goal_or_a_memory_limit() {
        let p =
            Pacer::new(&Config::default().with_gc_percent(Some(100)).with_min_heap(0).with_memory_limit(Some(10_000)));
        assert_eq!(p.after_cycle(8000, 0, 200), (9000, 8800));
        for (live, grown) in [(0, 0), (1, 1), (9000, 0), (20_000, 5000), (usize::MAX / 2, usize::MAX)] {
            let (goal, trigger) = p.after_cycle(live, 0, grown);
            assert!(trigger <= goal && goal <= 9000, "live {live}, grown {grown}: trigger {trigger}, goal {goal}");
        }
    }
}
