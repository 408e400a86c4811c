//! The pacer: when to start the next cycle.
//!
//! After each cycle the goal is `max(min_heap, live × (1 + gc_percent/100))` (Go's GOGC rule),
//! where `live` is what the cycle *marked*: the bytes it found reachable plus those allocated
//! black while it marked — Go's `heap_marked`. Not the heap after the sweep, which also holds
//! what was allocated during the sweep and pages still unswept in mutators' caches. Allocation slow paths (page refills and
//! large objects — not the per-object fast path) compare the live-heap figure to the goal
//! and ask the collector thread for a cycle when it is reached. `gc_percent = None` turns
//! pacing off: only explicit collections run (and those forced by the memory limit).
//!
//! With a memory limit the goal never exceeds 90% of it, so that cycles start while there is
//! still room to allocate during them.

use crate::{
    config::Config,
    primitive::sync::atomic::{AtomicUsize, Ordering},
};

/// The trigger threshold and the settings behind it.
pub(crate) struct Pacer {
    trigger: AtomicUsize,
    percent: AtomicUsize,
    min_heap: AtomicUsize,
    last_live: AtomicUsize,
    limit: AtomicUsize,
}

const OFF: usize = usize::MAX;

impl Pacer {
    /// A pacer for `config`, before any cycle (the goal is the minimum heap).
    pub(crate) fn new(config: &Config) -> Pacer {
        let p = Pacer {
            trigger: AtomicUsize::new(OFF),
            percent: AtomicUsize::new(OFF),
            min_heap: AtomicUsize::new(0),
            last_live: AtomicUsize::new(0),
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
        let goal = if limit == OFF { paced } else { paced.min(limit / 10 * 9) };
        self.trigger.store(goal, Ordering::Relaxed);
        goal
    }

    /// Record the live heap after a cycle; returns the new goal.
    pub(crate) fn after_cycle(&self, live: usize) -> usize {
        self.last_live.store(live, Ordering::Relaxed);
        self.recompute()
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
    /// (with pacing off, the last live heap plus 10 %). Pages beyond it that stay empty go
    /// back to the OS (see `heap/pool.rs`).
    pub(crate) fn scavenge_retain(&self) -> usize {
        let goal = self.trigger.load(Ordering::Relaxed);
        let base = if goal == OFF { self.last_live() } else { goal };
        base.saturating_add(base / 10)
    }

    /// The current goal (`usize::MAX` when pacing is off).
    #[cfg(test)]
    pub(crate) fn goal(&self) -> usize {
        self.trigger.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goal_is_percent_over_live_with_a_floor() {
        let p = Pacer::new(&Config::default().with_gc_percent(Some(100)).with_min_heap(1000));
        assert_eq!(p.goal(), 1000, "before any cycle: the floor");
        assert!(!p.should_trigger(999) && p.should_trigger(1000));
        assert_eq!(p.after_cycle(4000), 8000);
        assert!(!p.should_trigger(7999) && p.should_trigger(8000));
        assert_eq!(p.after_cycle(100), 1000, "the floor again");
        assert_eq!(p.scavenge_retain(), 1100, "the goal plus 10 %");
        p.configure(&Config::default().with_gc_percent(None));
        assert_eq!(p.scavenge_retain(), 110, "pacing off: the last live heap plus 10 %");
    }

    #[test]
    fn percent_changes_the_goal_and_off_disables_it() {
        let p = Pacer::new(&Config::default().with_gc_percent(Some(50)).with_min_heap(0));
        assert_eq!(p.after_cycle(1000), 1500);
        p.configure(&Config::default().with_gc_percent(None));
        assert!(!p.should_trigger(usize::MAX - 1));
    }

    #[test]
    fn a_memory_limit_caps_the_goal() {
        let p =
            Pacer::new(&Config::default().with_gc_percent(Some(100)).with_min_heap(0).with_memory_limit(Some(1000)));
        assert_eq!(p.after_cycle(800), 900, "90% of the limit, not 1600");
        assert_eq!(p.after_cycle(100), 200);
        assert_eq!(p.limit(), Some(1000));
        p.configure(&Config::default().with_gc_percent(None).with_memory_limit(Some(1000)));
        assert_eq!(p.goal(), 900, "the limit triggers cycles even with pacing off");
    }
}
