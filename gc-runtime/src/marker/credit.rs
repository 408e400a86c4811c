//! Assist credit: how much marking a mutator owes for what it allocates while marking runs, and
//! how the mark workers' progress pays for it (Go's assist ratio and background scan credit).
//!
//! # The ratio
//!
//! A marking is expected to mark about what the last one marked (the pacer's live heap, Go's
//! `heap_marked`), and must finish before the heap reaches the pacer's goal. So each byte a
//! mutator allocates while marking runs owes
//!
//! ```text
//! (expected marking - marked so far) / (goal - heap now)
//! ```
//!
//! bytes of marking ([`assist_ratio`]): little while the workers are ahead or the heap is far
//! from its goal, more as either closes in — where a fixed ratio made every allocating thread
//! scan twice what it allocated, even while the workers had the marking well in hand, and too
//! little when they did not. The heap still ahead is floored at a twentieth of the goal, so the
//! ratio stays finite past the goal (it is then at its steepest).
//!
//! # Background credit
//!
//! Mark workers publish what they marked as they go (after each buffer of work); it counts
//! towards "marked so far" and becomes credit. A mutator that owes marking takes what it can
//! from that credit first ([`AssistCredit::steal`]) and scans only the rest itself: as long as
//! the workers keep up, mutators do not assist at all.
//!
//! # Paying as it goes
//!
//! An assist that does start looks at the credit again after each 32 KiB it scans
//! (`MarkWorker::drain_owed`), and what the workers marked meanwhile pays the rest of its debt.
//! Where the threads outnumber the cores, an assisting thread is often preempted in the middle
//! of its assist, and the workers run while it waits: without the second look it came back to
//! scan its whole debt anyway. In the demo (four allocating threads on two cores), the CPU time
//! spent in assists fell by about an eighth: a median of 212 ms (179–284) against 245 ms
//! (217–298) per 3-second run of both concurrent modes, six interleaved pairs; the longest
//! assists, which are preemptions, stayed as long.

use crate::primitive::sync::atomic::{AtomicUsize, Ordering};

/// The marking done so far in the current cycle, and the workers' credit not yet spent.
#[derive(Default)]
pub(crate) struct AssistCredit {
    /// Bytes of objects marked in this cycle by workers and assists (as far as published).
    marked: AtomicUsize,
    /// Bytes the workers marked that no assist has taken yet.
    background: AtomicUsize,
}

impl AssistCredit {
    /// Start a new cycle's accounting (at mark start, world stopped).
    pub(crate) fn reset(&self) {
        self.marked.store(0, Ordering::Relaxed);
        self.background.store(0, Ordering::Relaxed);
    }

    /// A mark worker marked `bytes` more.
    pub(crate) fn add_background(&self, bytes: usize) {
        self.marked.fetch_add(bytes, Ordering::Relaxed);
        self.background.fetch_add(bytes, Ordering::Relaxed);
    }

    /// An assist marked `bytes`.
    pub(crate) fn add_assist(&self, bytes: usize) {
        self.marked.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Bytes marked so far in this cycle.
    pub(crate) fn marked(&self) -> usize {
        self.marked.load(Ordering::Relaxed)
    }

    /// Take up to `want` bytes of the workers' credit; returns how much was taken.
    pub(crate) fn steal(&self, want: usize) -> usize {
        let prev = self
            .background
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| Some(c - c.min(want)))
            .unwrap_or_else(|c| c);
        prev.min(want)
    }
}

/// Bytes of marking owed per byte allocated: the marking still expected over the heap still
/// ahead of the goal, the latter floored at a twentieth of the goal (see "The ratio").
pub(crate) fn assist_ratio(expected: usize, marked: usize, live: usize, goal: usize) -> f64 {
    let work_left = expected.saturating_sub(marked);
    let heap_left = goal.saturating_sub(live).max(goal / 20).max(1);
    work_left as f64 / heap_left as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ratio_grows_as_the_heap_nears_its_goal_and_falls_as_marking_progresses() {
        let (expected, goal) = (100 << 20, 200 << 20);
        let early = assist_ratio(expected, 0, 100 << 20, goal);
        assert!((early - 1.0).abs() < 1e-9, "100 MB to mark in 100 MB of heap: {early}");
        let near_goal = assist_ratio(expected, 0, 190 << 20, goal);
        assert!((near_goal - 10.0).abs() < 1e-9, "{near_goal}");
        let past_goal = assist_ratio(expected, 0, 300 << 20, goal);
        assert_eq!(past_goal, near_goal, "past the goal the heap left is floored at goal / 20");
        let half_done = assist_ratio(expected, 50 << 20, 100 << 20, goal);
        assert!((half_done - 0.5).abs() < 1e-9, "{half_done}");
        assert_eq!(
            assist_ratio(expected, expected + 1, 150 << 20, goal),
            0.0,
            "nothing owed once the expected marking is done"
        );
    }

    #[test]
    fn credit_is_taken_at_most_once_and_never_below_zero() {
        let c = AssistCredit::default();
        c.add_background(100);
        c.add_assist(30);
        assert_eq!(c.marked(), 130);
        assert_eq!(c.steal(60), 60);
        assert_eq!(c.steal(60), 40, "only what is left");
        assert_eq!(c.steal(60), 0);
        c.reset();
        assert_eq!((c.marked(), c.steal(1)), (0, 0));
    }
}
