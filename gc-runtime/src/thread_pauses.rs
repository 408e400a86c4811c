//! Pauses as each mutator thread sees them: the time it spent inside the collector's
//! handshakes and doing the collector's marking (assists), recorded by the thread itself.
//!
//! # Why the collector's own figure is not enough
//!
//! The collector times a stop-the-world pause from its stop request to the return of its
//! restart call ([`Pause`](crate::Pause)). With more runnable threads than cores that figure
//! says little about any one thread. On 2 cores with 4 mutators, a mark-start pause whose world
//! was stopped for a few microseconds of collector work was reported as 4, 8 or 12 ms: when the
//! collector wakes the parked mutators, one of them takes its core, and the collector itself —
//! whose clock is still running — waits for a scheduler tick (4 ms) or three to get a core back
//! and read the time. The mutators' side is different again: each woken thread must take the
//! handshake lock in turn, so a thread woken onto a busy core delays the others behind it, and
//! the threads saw parks of 4–12 ms (multiples of the tick) while the collector's log showed the
//! pause it caused as over.
//!
//! So every mutator times each of its visits to the collector from entry to exit on its own
//! clock — a safepoint that acknowledged a request or parked for a stopped world, and a return
//! from [`Mutator::blocking`](crate::Mutator::blocking), or an attach, that waited for a pause to end, and a
//! mark assist (marking an allocation owed, see `marker/credit.rs`) that found work — and
//! records it here: into the thread's own log of recent intervals, from which the minimum mutator
//! utilisation is computed, into the running maximum of the current cycle, and into one
//! histogram over all threads (the distribution of pauses any thread saw). A thread only
//! *tries* to lock its log and the histogram, so that recording never makes it wait (see
//! [`ThreadPauses::record`]).
//!
//! # Minimum mutator utilisation
//!
//! For a window length `w`, a thread's MMU is the smallest fraction of any `w`-long window of
//! its attached life that it spent outside the collector's handshakes and assists (Cheng and Blelloch,
//! PLDI 2001). A worst window starts where a pause starts (see [`mmu`]), so only those windows
//! are measured, in one pass over the log. [`ThreadPauseStats`] reports the worst thread's
//! figure for 1, 10 and 100 ms windows. A log keeps the last [`LOG_CAPACITY`] intervals; when it
//! drops older ones, its MMU covers the retained span only. An ended thread's log changes no
//! more, and its figures are computed once.

use std::{cell::RefCell, collections::VecDeque, sync::Arc, time::Duration};

use hdrhistogram::Histogram;

use crate::primitive::sync::{
    atomic::{AtomicU64, Ordering},
    Mutex,
};

/// Intervals a thread's log keeps.
pub(crate) const LOG_CAPACITY: usize = 16 * 1024;

/// Logs of detached threads kept for the MMU figures beyond the attached ones.
const ENDED_LOGS: usize = 64;

/// The MMU windows reported.
pub const MMU_WINDOWS: [Duration; 3] =
    [Duration::from_millis(1), Duration::from_millis(10), Duration::from_millis(100)];

/// Pauses as the mutator threads saw them: the time each spent inside the collector's
/// handshakes (parked for a stopped world, acknowledging a request, or waiting to re-attach
/// after [`Mutator::blocking`](crate::Mutator::blocking) or to attach while the world was
/// stopped) and doing its marking as assists, measured by the thread itself.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ThreadPauseStats {
    /// Pauses recorded, over all threads.
    pub count: u64,
    /// Their sum.
    pub total: Duration,
    /// The longest any thread saw.
    pub max: Duration,
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// 99.9th percentile.
    pub p999: Duration,
    /// Minimum mutator utilisation of the worst thread for 1, 10 and 100 ms windows
    /// ([`MMU_WINDOWS`]), from 0 to 1; `None` for a window longer than every thread's log.
    pub mmu: [Option<f64>; 3],
}

/// One thread's log: when it attached, when it left, and its recent pauses.
struct ThreadLog {
    /// Nanoseconds since the runtime started: attach, and detach for good (`None`: attached).
    since: u64,
    until: Option<u64>,
    /// `(start, length)` in nanoseconds since the runtime started, in order, not overlapping.
    intervals: VecDeque<(u64, u64)>,
    /// Whether older intervals were dropped (the MMU then covers the retained span only).
    truncated: bool,
    /// Lengths not yet in the shared histogram (see [`ThreadPauses::record`]).
    unmerged: Vec<u64>,
    /// The MMU figures of an ended thread's log, which nothing changes any more: computed by
    /// the first snapshot that reads it, and kept (most logs are ended threads' in a program
    /// that attaches per request).
    ended_mmu: Option<[Option<f64>; 3]>,
}

impl ThreadLog {
    /// The span the MMU covers: from the attach, or from the oldest interval kept if older
    /// ones were dropped, to the detach or `now`.
    fn span(&self, now: Duration) -> (u64, u64) {
        let start = if self.truncated { self.intervals.front().map_or(self.since, |&(s, _)| s) } else { self.since };
        (start, self.until.unwrap_or(nanos(now)))
    }

    /// Append the interval `[start, start + ns)`, dropping the oldest at capacity.
    fn push(&mut self, start: u64, ns: u64) {
        // A thread's pauses do not overlap; clamp clock jitter so the log stays ordered.
        let start = self.intervals.back().map_or(start, |&(s, n)| start.max(s + n));
        if self.intervals.len() == LOG_CAPACITY {
            self.intervals.pop_front();
            self.truncated = true;
        }
        self.intervals.push_back((start, ns));
        self.unmerged.push(ns);
    }
}

/// A mutator's handle on its log, used by its own thread only.
pub(crate) struct ThreadPauseLog {
    shared: Arc<Mutex<ThreadLog>>,
    /// Intervals recorded while a snapshot held the log's lock, oldest first: moved into the
    /// log by the next record that gets the lock (see [`ThreadPauses::record`]).
    pending: RefCell<Vec<(u64, u64)>>,
}

struct Totals {
    all: Histogram<u64>,
    total: Duration,
}

impl Totals {
    /// Move `lengths` (ns) into the histogram and the sum.
    fn merge(&mut self, lengths: &mut Vec<u64>) {
        for ns in lengths.drain(..) {
            self.all.saturating_record(ns);
            self.total += Duration::from_nanos(ns);
        }
    }
}

/// The logs a snapshot reads: every attached thread's, and those of the threads that ended
/// most recently. Kept apart so that neither an attach nor a detach looks at the others' logs
/// (pruning by a scan of every log, each locked, took a fifth of a program's time that
/// attached for each request).
#[derive(Default)]
struct Logs {
    attached: Vec<Arc<Mutex<ThreadLog>>>,
    /// Oldest first; at most [`ENDED_LOGS`].
    ended: VecDeque<Arc<Mutex<ThreadLog>>>,
}

impl Logs {
    fn all(&self) -> Vec<Arc<Mutex<ThreadLog>>> {
        self.attached.iter().chain(&self.ended).cloned().collect()
    }
}

/// Every thread's pauses.
pub(crate) struct ThreadPauses {
    totals: Mutex<Totals>,
    logs: Mutex<Logs>,
    /// The longest pause recorded since the collector last took it (once per cycle), in ns.
    cycle_max: AtomicU64,
}

impl Default for ThreadPauses {
    fn default() -> Self {
        ThreadPauses {
            totals: Mutex::new(Totals { all: pause_histogram(), total: Duration::ZERO }),
            logs: Mutex::new(Logs::default()),
            cycle_max: AtomicU64::new(0),
        }
    }
}

/// An empty histogram of pause lengths in nanoseconds: 1 ns to 1 hour at
/// [`SIGNIFICANT_DIGITS`] (also the collector's pause histogram, `stats.rs`).
pub(crate) fn pause_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, SIGNIFICANT_DIGITS)
        .unwrap_or_else(|_| unreachable!("valid histogram bounds"))
}

/// The pause histograms' precision: 3 significant digits (a pause is reported within 0.1 %).
/// Under Miri, 2: a percentile walks the histogram's counters one by one (33,792 at 3
/// digits, 4,608 at 2), which cost the Miri tests that read [`crate::stats()`] most of their
/// interpreted time; this module is safe code, so Miri checks nothing in it that the lower
/// precision leaves out.
const SIGNIFICANT_DIGITS: u8 = if cfg!(miri) { 2 } else { 3 };

/// The median, 99th and 99.9th percentiles of a pause histogram, in one walk over its
/// counters instead of one per percentile; zero for an empty histogram.
pub(crate) fn percentiles(h: &Histogram<u64>) -> [Duration; 3] {
    let mut out = [Duration::ZERO; 3];
    if !h.is_empty() {
        for (slot, nanos) in out.iter_mut().zip(h.value_at_quantiles([0.5, 0.99, 0.999])) {
            *slot = Duration::from_nanos(nanos);
        }
    }
    out
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl ThreadPauses {
    /// A log for a thread attaching `now` after the runtime started.
    pub(crate) fn register(&self, now: Duration) -> ThreadPauseLog {
        let log = Arc::new(Mutex::new(ThreadLog {
            since: nanos(now),
            until: None,
            intervals: VecDeque::new(),
            truncated: false,
            unmerged: Vec::new(),
            ended_mmu: None,
        }));
        self.logs.lock().attached.push(log.clone());
        ThreadPauseLog { shared: log, pending: RefCell::new(Vec::new()) }
    }

    /// The thread of `log` spent `[start, start + length)` (since the runtime started) inside
    /// a handshake.
    ///
    /// Recording must not become a wait of its own, which the figures would not show, so no
    /// lock is waited for. The thread's log is only *tried*: a snapshot (a [`crate::stats()`]
    /// call on another thread) may hold it, and that thread may be preempted; the interval
    /// then waits in the handle's `pending` list, which only this thread touches, until a
    /// later record gets the lock. The shared histogram is only tried too: threads answer a
    /// round at about the same moment, and one preempted while holding the histogram's lock
    /// would otherwise hold up the others for a scheduler tick. A length that does not get in
    /// stays in the log's `unmerged` list until a later record or the next snapshot merges it.
    pub(crate) fn record(&self, log: &ThreadPauseLog, start: Duration, length: Duration) {
        let ns = nanos(length).max(1);
        let mut pending = log.pending.borrow_mut();
        pending.push((nanos(start), ns));
        if let Some(mut l) = log.shared.try_lock() {
            for (start, ns) in pending.drain(..) {
                l.push(start, ns);
            }
            if let Some(mut t) = self.totals.try_lock() {
                t.merge(&mut l.unmerged);
            }
        }
        drop(pending);
        self.cycle_max.fetch_max(ns, Ordering::Relaxed);
    }

    /// The thread of `log` detached for good `now` after the runtime started (its pending
    /// intervals go into the log: the thread leaves, so it may wait here).
    pub(crate) fn ended(&self, log: &ThreadPauseLog, now: Duration) {
        {
            let mut l = log.shared.lock();
            for (start, ns) in log.pending.borrow_mut().drain(..) {
                l.push(start, ns);
            }
            l.until = Some(nanos(now));
        }
        // Keep the most recently ended logs. A dropped log's lengths not yet in the totals go
        // there (after the logs' locks: a snapshot holds the totals' lock while it takes each
        // log's), or a program that attaches per request would lose its threads' pauses.
        let mut orphaned = Vec::new();
        {
            let mut logs = self.logs.lock();
            if let Some(i) = logs.attached.iter().position(|l| Arc::ptr_eq(l, &log.shared)) {
                let ended = logs.attached.swap_remove(i);
                logs.ended.push_back(ended);
            }
            while logs.ended.len() > ENDED_LOGS {
                if let Some(oldest) = logs.ended.pop_front() {
                    orphaned.append(&mut oldest.lock().unmerged);
                }
            }
        }
        if !orphaned.is_empty() {
            self.totals.lock().merge(&mut orphaned);
        }
    }

    /// The longest pause recorded since the last call (the collector calls it once per cycle).
    pub(crate) fn take_cycle_max(&self) -> Duration {
        Duration::from_nanos(self.cycle_max.swap(0, Ordering::Relaxed))
    }

    /// The figures, `now` after the runtime started.
    pub(crate) fn snapshot(&self, now: Duration) -> ThreadPauseStats {
        let logs = self.logs.lock().all();
        let mut t = self.totals.lock();
        for log in &logs {
            t.merge(&mut log.lock().unmerged);
        }
        let [p50, p99, p999] = percentiles(&t.all);
        let mut stats = ThreadPauseStats {
            count: t.all.len(),
            total: t.total,
            max: Duration::from_nanos(if t.all.is_empty() { 0 } else { t.all.max() }),
            p50,
            p99,
            p999,
            mmu: [None; 3],
        };
        drop(t);
        for log in logs {
            let l = log.lock();
            let (start, end) = l.span(now);
            let figures = match l.ended_mmu {
                Some(figures) => figures,
                None => {
                    // The lock is held for a copy only: the thread records into its log, and a
                    // thread that ends may prune an ended one while holding the list of logs.
                    let ended = l.until.is_some();
                    let intervals: Vec<(u64, u64)> = l.intervals.iter().copied().collect();
                    drop(l);
                    let figures = mmu_figures(&intervals, start, end);
                    if ended {
                        // Nothing records into an ended log any more: keep its figures.
                        log.lock().ended_mmu = Some(figures);
                    }
                    figures
                }
            };
            for (worst, u) in stats.mmu.iter_mut().zip(figures) {
                if let Some(u) = u {
                    *worst = Some(worst.map_or(u, |m: f64| m.min(u)));
                }
            }
        }
        stats
    }
}

/// The MMU of one log for each of the [`MMU_WINDOWS`].
fn mmu_figures(intervals: &[(u64, u64)], start: u64, end: u64) -> [Option<f64>; 3] {
    MMU_WINDOWS.map(|w| mmu(intervals, start, end, nanos(w)))
}

/// The minimum utilisation over every `window`-long span of `[start, end]`, given the pauses
/// `intervals` (`(start, length)`, ordered, not overlapping); `None` if the span is shorter
/// than the window.
///
/// Only the windows that start where a pause starts (or as near to it as the span allows) are
/// measured. As a window slides right its paused time grows while its right edge is in a
/// pause and shrinks while its left edge is, so it is largest where the right edge leaves a
/// pause or the left edge enters one. From a window whose right edge has just left a pause,
/// sliding right changes nothing until the left edge enters a pause, the right edge enters
/// one (a larger window lies further on) or the span ends; the first and the last are windows
/// measured here, of the same paused time. (The unit tests compare every window start.) The
/// starts are in the intervals' order, so the paused time up to each window's start and end is
/// read by cursors that only move forward ([`PausedUntil`]): one pass over the log. (A binary
/// search per window edge, over twice the windows, made `stats()` take over a hundred
/// milliseconds once 65 logs were full.)
pub(crate) fn mmu(intervals: &[(u64, u64)], start: u64, end: u64, window: u64) -> Option<f64> {
    if window == 0 || end.saturating_sub(start) < window {
        return None;
    }
    let (mut from, mut to) = (PausedUntil::new(intervals), PausedUntil::new(intervals));
    let worst = intervals
        .iter()
        .map(|&(s, _)| {
            let a = s.clamp(start, end - window);
            to.at(a + window) - from.at(a)
        })
        .max()
        .unwrap_or(0);
    Some(1.0 - worst.min(window) as f64 / window as f64)
}

/// The paused time of a log's intervals up to a time `t` that never decreases from one call to
/// the next: a cursor over the intervals (see [`mmu`]).
struct PausedUntil<'a> {
    intervals: &'a [(u64, u64)],
    /// The intervals starting at or before the last `t`.
    begun: usize,
    /// Their total length.
    sum: u64,
}

impl<'a> PausedUntil<'a> {
    fn new(intervals: &'a [(u64, u64)]) -> Self {
        PausedUntil { intervals, begun: 0, sum: 0 }
    }

    /// The paused time in `[0, t]`; `t` at least the last call's.
    fn at(&mut self, t: u64) -> u64 {
        while let Some(&(s, n)) = self.intervals.get(self.begun) {
            if s > t {
                break;
            }
            self.sum += n;
            self.begun += 1;
        }
        match self.begun.checked_sub(1).map(|last| self.intervals[last]) {
            // The last interval begun may still be under way at `t`.
            Some((s, n)) => self.sum - n + n.min(t - s),
            None => 0,
        }
    }
}

// Not under Miri: safe code only (Miri looks for undefined behaviour, which safe code cannot
// cause), and minutes of interpreted time. `.ci/run` checks that it stays so.
#[cfg(all(test, not(miri)))]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn percentiles_in_one_walk_match_hdrhistograms_one_walk_each() {
        let mut h = pause_histogram();
        assert_eq!(percentiles(&h), [Duration::ZERO; 3], "empty");
        // Pauses from 1 µs to about 30 ms, skewed towards the short end, and a few outliers.
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for i in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = 1_000 + (x % 50_000) * (x % 7 + 1) + if i % 997 == 0 { 30_000_000 } else { 0 };
            h.record(len).unwrap();
        }
        let one_each = [0.5, 0.99, 0.999].map(|q| Duration::from_nanos(h.value_at_quantile(q)));
        assert_eq!(percentiles(&h), one_each);
        assert!(one_each[0] < one_each[1] && one_each[1] < one_each[2], "{one_each:?}");
    }

    #[test]
    fn mmu_of_a_span_without_pauses_is_one() {
        assert_eq!(mmu(&[], 0, 50 * MS, 10 * MS), Some(1.0));
    }

    #[test]
    fn mmu_is_undefined_for_a_window_longer_than_the_span() {
        assert_eq!(mmu(&[(MS, MS)], 0, 5 * MS, 10 * MS), None);
    }

    #[test]
    fn mmu_finds_the_worst_window() {
        // 2 ms paused at 10 ms, 3 ms at 14 ms: a 10 ms window can hold both (5 ms paused).
        let pauses = [(10 * MS, 2 * MS), (14 * MS, 3 * MS)];
        let u = mmu(&pauses, 0, 100 * MS, 10 * MS).unwrap();
        assert!((u - 0.5).abs() < 1e-9, "{u}");
        // A 1 ms window inside a pause is fully paused.
        assert_eq!(mmu(&pauses, 0, 100 * MS, MS), Some(0.0));
        // 100 ms holds all 5 ms.
        let u = mmu(&pauses, 0, 100 * MS, 100 * MS).unwrap();
        assert!((u - 0.95).abs() < 1e-9, "{u}");
    }

    /// Intervals from `(gap before, length)` pairs, ordered and not overlapping.
    fn laid_out(pairs: &[(u64, u64)]) -> Vec<(u64, u64)> {
        let mut at = 0;
        pairs
            .iter()
            .map(|&(gap, n)| {
                let s = at + gap;
                at = s + n;
                (s, n)
            })
            .collect()
    }

    proptest::proptest! {
        /// Against every window start from `start` to `end - window`, each window's paused
        /// time summed interval by interval: the cursors read the same worst window (and the
        /// worst window does start or end at a pause).
        #[test]
        fn mmu_matches_every_window_measured_the_slow_way(
            pairs in proptest::collection::vec((0..20_u64, 0..20_u64), 0..30),
            start in 0..10_u64,
            after in 0..40_u64,
            window in 1..80_u64,
        ) {
            let intervals = laid_out(&pairs);
            let end = intervals.last().map_or(start, |&(s, n)| (s + n).max(start)) + after;
            let slow = (end - start >= window).then(|| {
                let paused_in = |a: u64| -> u64 {
                    intervals.iter().map(|&(s, n)| (s + n).min(a + window).saturating_sub(s.max(a))).sum()
                };
                let worst = (start..=end - window).map(paused_in).max().unwrap_or(0);
                1.0 - worst as f64 / window as f64
            });
            proptest::prop_assert_eq!(mmu(&intervals, start, end, window), slow);
        }
    }

    #[test]
    fn mmu_clips_windows_to_the_span() {
        // A pause at the very start: the window cannot begin before the thread attached.
        let u = mmu(&[(0, 4 * MS)], 0, 30 * MS, 10 * MS).unwrap();
        assert!((u - 0.6).abs() < 1e-9, "{u}");
        // And at the very end.
        let u = mmu(&[(27 * MS, 3 * MS)], 0, 30 * MS, 10 * MS).unwrap();
        assert!((u - 0.7).abs() < 1e-9, "{u}");
    }

    #[test]
    fn records_reach_the_histogram_the_cycle_maximum_and_the_worst_thread() {
        let p = ThreadPauses::default();
        let a = p.register(Duration::ZERO);
        let b = p.register(Duration::ZERO);
        p.record(&a, Duration::from_millis(5), Duration::from_micros(20));
        p.record(&b, Duration::from_millis(5), Duration::from_millis(4));
        assert_eq!(p.take_cycle_max(), Duration::from_millis(4));
        assert_eq!(p.take_cycle_max(), Duration::ZERO, "taken once per cycle");
        let s = p.snapshot(Duration::from_millis(50));
        assert_eq!(s.count, 2);
        assert!(s.max >= Duration::from_millis(4) && s.max < Duration::from_micros(4010));
        // Thread b: 4 ms of a 10 ms window paused; thread a barely.
        let u10 = s.mmu[1].unwrap();
        assert!((u10 - 0.6).abs() < 1e-3, "{u10}");
        assert_eq!(s.mmu[2], None, "no thread lived 100 ms");
        // A thread that detached keeps its log until enough others ended.
        p.ended(&b, Duration::from_millis(50));
        let s = p.snapshot(Duration::from_millis(80));
        assert!((s.mmu[1].unwrap() - 0.6).abs() < 1e-3);
    }

    /// An ended thread's figures are computed once and kept: its span ends where it detached,
    /// however late the snapshot. An attached thread's span grows with each snapshot's `now`.
    #[test]
    fn an_ended_threads_figures_are_kept_and_an_attached_ones_follow_the_clock() {
        let ms = Duration::from_millis;
        let p = ThreadPauses::default();
        let ended = p.register(Duration::ZERO);
        // 60 ms paused of the ended thread's 100 ms life: the worst 100 ms window is 40 % used.
        p.record(&ended, ms(20), ms(60));
        p.ended(&ended, ms(100));
        let attached = p.register(ms(100));
        assert_eq!(ended.shared.lock().ended_mmu, None, "nothing computed before a snapshot");
        let first = p.snapshot(ms(150));
        let kept = ended.shared.lock().ended_mmu.expect("computed by the first snapshot");
        assert!((kept[2].unwrap() - 0.4).abs() < 1e-9, "{kept:?}");
        assert_eq!(first.mmu, kept, "the attached thread, 50 ms without a pause, is better everywhere");
        // Much later: the ended thread's figures are the same, read from what was kept.
        assert_eq!(p.snapshot(ms(10_000)).mmu, kept);
        // 90 ms paused by the attached thread, from 200 ms: its 100 ms window is 10 % used, once
        // its span is that long; the ended thread's kept figures take part as before.
        p.record(&attached, ms(200), ms(90));
        let s = p.snapshot(ms(290));
        assert!((s.mmu[2].unwrap() - 0.1).abs() < 1e-9, "{s:?}");
        assert_eq!(ended.shared.lock().ended_mmu, Some(kept));
        assert_eq!(attached.shared.lock().ended_mmu, None, "an attached thread's figures are not kept");
    }

    #[test]
    fn a_record_never_waits_for_the_shared_histogram() {
        let p = ThreadPauses::default();
        let a = p.register(Duration::ZERO);
        let held = p.totals.lock();
        // Would deadlock if `record` waited for the histogram's lock.
        p.record(&a, Duration::from_millis(1), Duration::from_micros(7));
        assert_eq!(held.all.len(), 0, "not merged while the histogram was busy");
        drop(held);
        assert_eq!(a.shared.lock().unmerged, [7_000]);
        let s = p.snapshot(Duration::from_millis(2));
        assert_eq!((s.count, s.total), (1, Duration::from_micros(7)), "merged by the snapshot");
        assert!(a.shared.lock().unmerged.is_empty());
    }

    /// Pauses recorded while the histogram was busy wait in their log; a log pruned once more
    /// than `ENDED_LOGS` threads have ended hands them to the histogram first (threads that
    /// attach per request end by the thousand).
    #[test]
    fn pruned_logs_keep_their_pauses_in_the_figures() {
        let p = ThreadPauses::default();
        let threads = ENDED_LOGS + 10;
        for i in 0..threads {
            let log = p.register(Duration::from_millis(i as u64));
            let held = p.totals.lock();
            p.record(&log, Duration::from_millis(i as u64), Duration::from_micros(3));
            drop(held);
            p.ended(&log, Duration::from_millis(i as u64 + 1));
        }
        assert_eq!(p.logs.lock().all().len(), ENDED_LOGS, "ended logs are pruned");
        let s = p.snapshot(Duration::from_millis(threads as u64 + 1));
        assert_eq!((s.count, s.total), (threads as u64, Duration::from_micros(3) * threads as u32));
    }

    #[test]
    fn a_record_never_waits_for_its_own_log() {
        let p = ThreadPauses::default();
        let a = p.register(Duration::ZERO);
        p.record(&a, Duration::from_millis(1), Duration::from_micros(5));
        let held = a.shared.lock();
        // Would deadlock if `record` waited for the log (a snapshot holding it).
        p.record(&a, Duration::from_millis(2), Duration::from_micros(9));
        assert_eq!(p.take_cycle_max(), Duration::from_micros(9), "the maximum does not wait");
        assert_eq!(held.intervals.len(), 1, "the second interval waits with the thread");
        drop(held);
        assert_eq!(*a.pending.borrow(), [(2_000_000, 9_000)]);
        p.record(&a, Duration::from_millis(3), Duration::from_micros(2));
        assert!(a.pending.borrow().is_empty(), "moved in by the next record");
        let starts: Vec<u64> = a.shared.lock().intervals.iter().map(|&(s, _)| s).collect();
        assert_eq!(starts, [1_000_000, 2_000_000, 3_000_000], "in order");
        assert_eq!(p.snapshot(Duration::from_millis(4)).count, 3);
        // One left pending when the thread ends is not lost.
        let held = a.shared.lock();
        p.record(&a, Duration::from_millis(5), Duration::from_micros(4));
        drop(held);
        p.ended(&a, Duration::from_millis(6));
        assert_eq!(p.snapshot(Duration::from_millis(7)).count, 4);
    }

    #[test]
    fn a_log_keeps_its_most_recent_intervals() {
        let p = ThreadPauses::default();
        let a = p.register(Duration::ZERO);
        for i in 0..LOG_CAPACITY as u64 + 10 {
            p.record(&a, Duration::from_micros(100 * i), Duration::from_micros(1));
        }
        let l = a.shared.lock();
        assert_eq!(l.intervals.len(), LOG_CAPACITY);
        assert!(l.truncated);
        assert_eq!(l.intervals.front().unwrap().0, 10 * 100_000);
    }

    #[test]
    fn ended_logs_are_bounded() {
        let p = ThreadPauses::default();
        for _ in 0..ENDED_LOGS + 20 {
            let l = p.register(Duration::ZERO);
            p.ended(&l, Duration::from_millis(1));
        }
        let attached = p.register(Duration::ZERO);
        let logs = p.logs.lock();
        assert_eq!(logs.ended.len(), ENDED_LOGS);
        assert_eq!(logs.attached.len(), 1);
        assert!(logs.attached.iter().any(|l| Arc::ptr_eq(l, &attached.shared)), "an attached thread's log is kept");
    }
}
