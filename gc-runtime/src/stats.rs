//! Statistics: a record per cycle, totals, a pause histogram, and the trace line.
//!
//! # The trace line
//!
//! With `GC_TRACE=1` (or [`Config::trace`](crate::Config::trace)) the collector prints one
//! line per cycle on stderr, like Go's `GODEBUG=gctrace=1`:
//!
//! ```text
//! gc 12 @3.456s concurrent/dijkstra: pauses none (longest in a thread 0.030), handshakes 4 (collector waited 0.410 ms, longest 0.250), mark 4.10 ms, sweep 2.30 ms, heap 12.3->5.1 MB, peak 13.0 MB (goal 13.2 MB), marked 4.8 MB (next goal 9.6 MB, trigger 8.3 MB), 80012 objects marked, 120345 freed, 4 mutators
//! gc 13 @3.501s concurrent/dijkstra: pauses 0.021+0.034 ms (to safepoint 0.015+0.020; longest in a thread 0.030), handshakes 3 (collector waited 0.120 ms, longest 0.080), mark 4.02 ms, sweep 2.25 ms, heap 12.1->5.0 MB, peak 12.9 MB (goal 13.2 MB), marked 4.8 MB (next goal 9.6 MB, trigger 8.3 MB), 80004 objects marked, 120011 freed, 4 mutators
//! ```
//!
//! The first line is a cycle whose phase changes were all handshakes (the default); the
//! second one with global stops (`GC_HANDSHAKES=0`), which still runs the flush, publish-sweep
//! and hand-back-pages rounds.
//!
//! | field | meaning |
//! |---|---|
//! | `gc 12` | cycle number, from 1 |
//! | `@3.456s` | time since the runtime started |
//! | `concurrent/dijkstra` | mode and barrier of the cycle |
//! | `pauses a+b ms` | every stop-the-world pause of the cycle, in order (mark start, then mark termination and any retries; one full pause in stop-the-world mode), from stop request to restart; `none` when every phase change was a handshake |
//! | `to safepoint` | the part of each pause spent waiting for the last running mutator to reach a safepoint |
//! | `longest in a thread` | the longest time any mutator thread spent inside the collector (answering a handshake, parked in a pause, waiting to re-attach, or in a mark assist) since the last cycle ended, measured by the thread (see `thread_pauses.rs`): the pause as the program saw it |
//! | `handshakes n` | every handshake round of the cycle ([`HandshakeRound`]): the mark-start and termination rounds, and the flush, publish-sweep and hand-back-pages rounds; requests each running mutator answers at its own next safepoint (the publish-sweep and hand-back-pages rounds also where an allocation refills its cache) |
//! | `collector waited`, `longest` | the collector's latency: the sum and the longest, over the handshakes, of the time from request to the last answer. It delays the cycle, not any thread |
//! | `mark`, `sweep` | wall time of the mark phase (from barrier on to termination) and of the background sweep |
//! | `heap a->b MB` | live heap when the cycle started and after its sweep (as every heap figure of the line, with the buffers the collections own outside it, [`Stats::owned_bytes`]) |
//! | `peak MB (goal MB)` | live heap when marking terminated (nearly the cycle's largest: see [`CycleStats::heap_peak`]), and the goal the cycle ran under (`off` with pacing off) |
//! | `marked MB` | bytes of objects the marking found reachable (the pacer's live heap), with the buffers the collections among them own |
//! | `owned MB` | of those, the collections' buffers and tables, outside the heap (shown only when not 0) |
//! | `next goal`, `trigger` | the heap the next cycle should stay under, and the heap at which it will start (the goal less the runway) |
//! | `objects marked`, `freed` | objects the cycle marked (scanned by workers and assists) and freed |
//! | `mutators` | attached threads when the cycle started |

use std::{collections::VecDeque, fmt, time::Duration};

use hdrhistogram::Histogram;

use crate::{
    clock::Phase,
    config::{BarrierKind, Mode},
    handshake::MutatorCounts,
    heap::SweepTotals,
    named::{display_and_from_str, Named},
    primitive::sync::{
        atomic::{AtomicU64, Ordering},
        Mutex,
    },
    thread_pauses::{percentiles, ThreadPauseStats},
};

/// What a worker or assist did, for statistics and the pacer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct MarkWork {
    /// Objects scanned.
    pub(crate) objects: usize,
    /// Bytes of objects marked: scanned ones plus those with nothing to scan, plus the owned
    /// bytes below. The pacer's measure of the live heap.
    pub(crate) marked_bytes: usize,
    /// Of `marked_bytes`, the memory the collections marked own outside the heap (see
    /// `owned_bytes.rs`).
    pub(crate) owned_bytes: usize,
    /// Objects found in pages another worker of an exclusive job owned, and forwarded to it
    /// (see `object/exclusive.rs`).
    pub(crate) forwarded: usize,
}

impl std::ops::AddAssign for MarkWork {
    fn add_assign(&mut self, o: MarkWork) {
        self.objects += o.objects;
        // Saturating: declared external memory may add up past `usize::MAX` (`ExternalBytes`).
        self.marked_bytes = self.marked_bytes.saturating_add(o.marked_bytes);
        self.owned_bytes = self.owned_bytes.saturating_add(o.owned_bytes);
        self.forwarded += o.forwarded;
    }
}

/// How many cycle records [`Stats::recent`] keeps.
pub const RECENT_CYCLES: usize = 256;

/// What a handshake was for: a request that every running mutator answers at its own next
/// safepoint (or, for [`PublishSweep`](Self::PublishSweep) and
/// [`HandBackPages`](Self::HandBackPages), where an allocation refills its cache), the collector
/// waiting for the last answer (see [`HandshakeRound`]). A concurrent cycle runs those two
/// whether handshakes are on or off; a stop-the-world cycle runs only the last, after its pause.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HandshakeKind {
    /// Mark start without a pause: each mutator takes up the barrier and the new epoch (one
    /// round for Dijkstra, two for Yuasa and the hybrid).
    MarkStart,
    /// A round of the termination without a pause: each mutator publishes its shade buffer;
    /// a quiet round ends marking.
    Termination,
    /// A flush before a termination with the world stopped (handshakes off, or their
    /// fallback).
    Flush,
    /// Before the sweep epoch is published: no barrier slow path that saw the barrier on, and no
    /// weak read that loaded a cell before it was cleared, is still running.
    PublishSweep,
    /// After the sweep epoch is published: each mutator hands back its cached pages.
    HandBackPages,
}

impl HandshakeKind {
    /// Every kind of handshake.
    pub const ALL: [HandshakeKind; 5] = [
        HandshakeKind::MarkStart,
        HandshakeKind::Termination,
        HandshakeKind::Flush,
        HandshakeKind::PublishSweep,
        HandshakeKind::HandBackPages,
    ];
}

/// Handshake kinds are written and parsed as in reports: `mark start`, `termination`,
/// `flush`, `publish sweep`, `hand back pages`.
impl Named for HandshakeKind {
    const WHAT: &'static str = "handshake kind";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("mark start", HandshakeKind::MarkStart),
        ("termination", HandshakeKind::Termination),
        ("flush", HandshakeKind::Flush),
        ("publish sweep", HandshakeKind::PublishSweep),
        ("hand back pages", HandshakeKind::HandBackPages),
    ];
}

display_and_from_str!(HandshakeKind);

/// One handshake, seen from the collector: how long it waited for the last answer. No mutator
/// waits for another in a handshake, so this time delays only the cycle; what each thread
/// spent answering is in [`ThreadPauseStats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandshakeRound {
    /// What it was for.
    pub kind: HandshakeKind,
    /// When it was requested, since the runtime started (the clock of
    /// [`CycleStats::started_at`]).
    pub started_at: Duration,
    /// From the request until the collector saw the last running mutator's answer (it
    /// polls, sleeping 20 µs at first and at most 0.5 ms between looks).
    pub latency: Duration,
    /// Running mutators that had not answered when the request was made: the threads it
    /// waited for.
    pub waited_for: usize,
}

/// What a stop-the-world pause was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PauseKind {
    /// Concurrent mode: stop, start a marking epoch, turn the barrier on.
    MarkStart,
    /// Concurrent mode: stop, confirm no grey object is left, (checkmark,) barrier off.
    MarkTermination,
    /// Concurrent mode: a termination attempt that found grey objects and resumed marking.
    MarkTerminationRetry,
    /// Stop-the-world mode: the whole cycle.
    FullCycle,
}

impl PauseKind {
    /// Every kind of pause.
    pub const ALL: [PauseKind; 4] =
        [PauseKind::MarkStart, PauseKind::MarkTermination, PauseKind::MarkTerminationRetry, PauseKind::FullCycle];
}

/// Pause kinds are written and parsed as in reports: `mark start`, `mark termination`,
/// `mark termination (retry)`, `full cycle`.
impl Named for PauseKind {
    const WHAT: &'static str = "pause kind";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("mark start", PauseKind::MarkStart),
        ("mark termination", PauseKind::MarkTermination),
        ("mark termination (retry)", PauseKind::MarkTerminationRetry),
        ("full cycle", PauseKind::FullCycle),
    ];
}

display_and_from_str!(PauseKind);

/// One stop-the-world pause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pause {
    /// What it was for.
    pub kind: PauseKind,
    /// When the stop was requested, since the runtime started (the same clock as
    /// [`CycleStats::started_at`]); with `duration`, enough to compute minimum mutator
    /// utilisation from these records.
    pub started_at: Duration,
    /// From the stop request to the restart: the longest any mutator can have waited.
    pub duration: Duration,
    /// From the stop request until the last running mutator reached a safepoint. Mutators
    /// still running meanwhile are not paused; those already parked are. A large value means
    /// some thread runs long stretches without a safepoint.
    pub time_to_safepoint: Duration,
}

impl Pause {
    /// How long every mutator was stopped at once (`duration - time_to_safepoint`).
    pub fn world_stopped(&self) -> Duration {
        self.duration.saturating_sub(self.time_to_safepoint)
    }
}

/// One phase change, in order, with whether the world was stopped when it happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhaseChange {
    /// The phase entered.
    pub phase: Phase,
    /// Whether the world was stopped at that moment.
    pub world_stopped: bool,
}

/// The record of one collection cycle.
#[derive(Clone, Debug, PartialEq)]
pub struct CycleStats {
    /// Cycle number, from 1.
    pub cycle: u64,
    /// Mode of the cycle.
    pub mode: Mode,
    /// Barrier of the cycle.
    pub barrier: BarrierKind,
    /// When the cycle started, since the runtime started.
    pub started_at: Duration,
    /// Every pause, in order.
    pub pauses: Vec<Pause>,
    /// The longest time any mutator thread spent inside one of the collector's handshakes
    /// (parked, acknowledging, or waiting to re-attach) or in one mark assist, recorded by the
    /// end of this cycle:
    /// the pause as the program saw it (see [`ThreadPauseStats`]).
    pub thread_pause_max: Duration,
    /// Every handshake round of the cycle, in order, with the collector's latency for each: the
    /// mark-start and termination rounds of phase changes made without a pause, the flush
    /// before a termination with the world stopped, and the publish-sweep and hand-back-pages
    /// rounds after marking, which run with handshakes off too (see [`HandshakeKind`]).
    pub handshakes: Vec<HandshakeRound>,
    /// Every phase change, in order (`Mark`, `MarkTermination`, `Sweep`, `Off`).
    pub phases: Vec<PhaseChange>,
    /// Wall time of marking.
    pub mark_time: Duration,
    /// Wall time of sweeping.
    pub sweep_time: Duration,
    /// Live heap bytes when the cycle started. This and the other `heap_*` figures, the goals
    /// and the trigger are the heap as the pacer sees it: the GC objects plus the memory the
    /// collections own outside the heap, their buffers and tables ([`Stats::owned_bytes`]),
    /// less those of collections the last marking found dead whose destructors have not run yet.
    pub heap_before: usize,
    /// Live heap bytes after sweeping (includes objects allocated during the cycle, which
    /// survive it).
    pub heap_after: usize,
    /// Bytes marked by the cycle: objects the marking found reachable plus objects allocated
    /// (black) while it ran, and the buffers those collections own (`owned_marked`) — the live
    /// heap the pacer uses, as Go's `heap_marked`.
    pub heap_marked: usize,
    /// Of `heap_marked`, the bytes of the buffers and tables owned by the collections the
    /// marking reached, plus the growth of all owned bytes while it ran (as objects allocated
    /// black count); never more than were owned when it terminated.
    pub owned_marked: usize,
    /// Live heap bytes when marking terminated. The heap grows while marking, and may grow a
    /// little more until the sweep epoch is published (a thread that needs a page before then
    /// takes a new one; the rounds in between are answered at allocations too, so that window
    /// is short): a lower bound of the cycle's largest heap.
    pub heap_peak: usize,
    /// The goal this cycle ran under (the previous cycle's `heap_goal`; `usize::MAX` with
    /// pacing off): the peak should not exceed it. See [`CycleStats::overshoot`].
    pub cycle_goal: usize,
    /// The goal for the next cycle: the heap it should stay under.
    pub heap_goal: usize,
    /// The live heap at which the next cycle starts: `heap_goal` less the bytes the heap is
    /// expected to grow by while the next cycle marks (the pacer's runway).
    pub next_trigger: usize,
    /// Objects marked (scanned) by workers and assists.
    pub objects_marked: usize,
    /// Objects freed since the previous cycle ended, up to the end of this one: by this
    /// cycle's sweep, by lazy sweeping, and by the finalizer thread (which may still be
    /// finishing the previous cycle's garbage). Consecutive records count every free once.
    pub objects_freed: u64,
    /// Bytes freed, counted like `objects_freed`.
    pub bytes_freed: u64,
    /// Bytes scanned by mutator assists.
    pub assist_bytes: u64,
    /// Termination attempts that had to resume marking.
    pub termination_retries: u32,
    /// The most threads that marked at once in this cycle, the collector's own included: the
    /// configured mark workers, one per core inside a pause, and the idle workers added for
    /// mutators waiting in `collect` (see `Config::idle_mark_workers`).
    pub mark_workers: usize,
    /// Objects that mark workers of an exclusive drain (inside a pause, or beside the mutators)
    /// found in memory another worker of the same drain had claimed, and handed to it to mark:
    /// each 4 KiB of a page is marked by one worker there, without a locked instruction (see
    /// the book's "Marking without a locked instruction").
    /// Counted per hand-over: an object two workers found is counted twice.
    pub objects_forwarded: usize,
    /// Exclusive drains (inside the pause, or beside the mutators) that gave exclusive marking
    /// up because forwarding dominated (a heap linked in random order: most objects a worker
    /// finds lie in memory another worker owns), and marked the rest, and every later drain of
    /// the cycle, with locked instructions; or because the record of mutators' marks outgrew
    /// its limit (`mark_log_over_limit`), and marked the rest, and every later drain beside the
    /// mutators, so (see the book's "Marking without a locked instruction"). 0 or 1.
    pub exclusive_jobs_given_up: u32,
    /// Drains of a concurrent marking that ran as exclusive jobs beside the running mutators:
    /// each mark bit set by one worker without a locked instruction (see
    /// `Config::exclusive_marking` and the book's "Marking without a locked instruction").
    pub exclusive_drains_beside_mutators: u32,
    /// The most memory, in bytes, the record of mutators' marks held in the marking (marks
    /// set beside exclusive drains, kept until a termination round sets them again; see the
    /// book's "Marking without a locked instruction").
    pub mark_log_peak_bytes: usize,
    /// Whether that record outgrew `Config::mark_log_permille` thousandths of the heap at mark
    /// start and was turned off: the drain running then, if any, was given up (counted in
    /// `exclusive_jobs_given_up`), the rest of the marking's drains beside the mutators set
    /// their bits with locked instructions, and mutators recorded nothing more once that
    /// drain's workers had left. (A record that outgrows it in the round that ends the marking,
    /// with no drain after it, is not acted on and not counted here.)
    pub mark_log_over_limit: bool,
    /// Records of that log set again in the marking: at its termination rounds, before the
    /// stop that ends it (handshakes off), and inside pauses.
    pub mark_log_applied: usize,
    /// Of those, the records set again with the world stopped: only those made since the last
    /// round, or since the flush before the stop that ends the marking, so the pause does not
    /// grow with the log (a long marking beside allocating threads logs megabytes).
    pub mark_log_applied_in_pause: usize,
    /// Drains of a concurrent marking that ran while no mutator was running, with the world
    /// stopped at no one's expense and each mark bit set by one worker without a locked
    /// instruction, as inside a pause (see `Config::idle_exclusive_marking` and the book's
    /// "Marking without a locked instruction").
    pub idle_exclusive_drains: u32,
    /// Of those, the drains a thread ended early because it wanted to run (attaching, or coming
    /// back from `collect` or a blocking section): the workers handed their work back, the
    /// world started, and the marking went on with locked instructions.
    pub idle_drains_yielded: u32,
    /// The threads the sweep inside the cycle's pause ran with, the collector's own included
    /// (as for `mark_workers`, the workers asked for: a helper that wakes after the pages are
    /// swept finds nothing left): in stop-the-world mode one per 64 unswept pages, up to the
    /// pause's mark workers (at least one per core) (see the book's "Sweep and destructors"); 0 in a concurrent cycle, whose sweep
    /// runs on the collector thread with the world running.
    pub sweep_workers: usize,
    /// Objects checked by checkmark, when it ran.
    pub checkmarked_objects: Option<usize>,
    /// Destructors that panicked, counted like `objects_freed`.
    pub drop_panics: u64,
    /// Weak references cleared because their referent died.
    pub weaks_cleared: usize,
    /// Weak-map entries removed because their key died ([`GcWeakMap`](crate::GcWeakMap)).
    pub weak_map_entries_cleared: usize,
    /// Mutators by state when the cycle started.
    pub mutators: MutatorCounts,
}

impl CycleStats {
    /// The longest pause of the cycle.
    pub fn max_pause(&self) -> Duration {
        self.pauses.iter().map(|p| p.duration).max().unwrap_or_default()
    }

    /// The longest the collector waited for a handshake's last answer in this cycle.
    pub fn max_handshake_latency(&self) -> Duration {
        self.handshakes.iter().map(|h| h.latency).max().unwrap_or_default()
    }

    /// By how many bytes the heap exceeded the cycle's goal while the cycle marked (`0` when it
    /// stayed under it).
    pub fn overshoot(&self) -> usize {
        self.heap_peak.saturating_sub(self.cycle_goal)
    }

    /// The trace line (see the module docs).
    pub fn trace_line(&self) -> String {
        let mb = |b: usize| b as f64 / (1 << 20) as f64;
        let mb_or_off = |b: usize| if b == usize::MAX { "off".to_owned() } else { format!("{:.1} MB", mb(b)) };
        let ms = |d: Duration| format!("{:.3}", d.as_secs_f64() * 1e3);
        let pauses = if self.pauses.is_empty() {
            format!("pauses none (longest in a thread {})", ms(self.thread_pause_max))
        } else {
            let pauses: Vec<String> = self.pauses.iter().map(|p| ms(p.duration)).collect();
            let ttsp: Vec<String> = self.pauses.iter().map(|p| ms(p.time_to_safepoint)).collect();
            format!(
                "pauses {} ms (to safepoint {}; longest in a thread {})",
                pauses.join("+"),
                ttsp.join("+"),
                ms(self.thread_pause_max)
            )
        };
        let waited: Duration = self.handshakes.iter().map(|h| h.latency).sum();
        let owned =
            if self.owned_marked == 0 { String::new() } else { format!("owned {:.1} MB, ", mb(self.owned_marked)) };
        format!(
            "gc {} @{:.3}s {}/{}: {}, handshakes {} (collector waited {} ms, longest {}), mark {:.2} ms, \
             sweep {:.2} ms, heap {:.1}->{:.1} MB, peak {:.1} MB (goal {}), marked {:.1} MB ({}next goal {}, \
             trigger {}), {} objects marked, {} freed, {} mutators",
            self.cycle,
            self.started_at.as_secs_f64(),
            self.mode,
            self.barrier,
            pauses,
            self.handshakes.len(),
            ms(waited),
            ms(self.max_handshake_latency()),
            self.mark_time.as_secs_f64() * 1e3,
            self.sweep_time.as_secs_f64() * 1e3,
            mb(self.heap_before),
            mb(self.heap_after),
            mb(self.heap_peak),
            mb_or_off(self.cycle_goal),
            mb(self.heap_marked),
            owned,
            mb_or_off(self.heap_goal),
            mb_or_off(self.next_trigger),
            self.objects_marked,
            self.objects_freed,
            self.mutators.running + self.mutators.at_safepoint + self.mutators.detached,
        )
    }
}

/// A snapshot of the collector's statistics; see [`stats()`](crate::stats()).
#[derive(Clone, Debug)]
pub struct Stats {
    /// Cycles completed.
    pub cycles: u64,
    /// The last [`RECENT_CYCLES`] cycle records, oldest first.
    pub recent: Vec<CycleStats>,
    /// The collector's stop-the-world pauses since start: every [`Pause`] of every cycle
    /// completed (not only the [`recent`](Self::recent) ones), each a stop of every mutator at
    /// once. A stop-the-world cycle makes one; a concurrent cycle with handshakes off
    /// (`GC_HANDSHAKES=0`, [`Config::with_handshakes`](crate::Config::with_handshakes)) two or
    /// more. In the default concurrent mode, whose phase changes are handshakes, it stays 0,
    /// and so do the other `pause_*` figures, unless a cycle stopped the world to verify its
    /// termination (checkmark on) or fell back to a stopped world (a thread ended with its
    /// mutator leaked; termination rounds kept finding work). What the threads themselves
    /// waited for, in every mode, is [`thread_pauses`](Self::thread_pauses).
    pub pause_count: u64,
    /// Sum of the pauses counted in [`pause_count`](Self::pause_count), each from the stop
    /// request to the restart ([`Pause::duration`]); zero when there were none.
    pub pause_total: Duration,
    /// Longest of the pauses counted in [`pause_count`](Self::pause_count) (from the pause
    /// histogram, within 0.1 %); zero when there were none, as in the default concurrent mode.
    /// Not the longest time a thread waited: that is
    /// [`thread_pauses.max`](ThreadPauseStats::max).
    pub pause_max: Duration,
    /// Median of the pauses counted in [`pause_count`](Self::pause_count) (within 0.1 %); zero
    /// when there were none.
    pub pause_p50: Duration,
    /// 99th percentile of the pauses counted in [`pause_count`](Self::pause_count) (within
    /// 0.1 %); zero when there were none.
    pub pause_p99: Duration,
    /// 99.9th percentile of the pauses counted in [`pause_count`](Self::pause_count) (within
    /// 0.1 %); zero when there were none.
    pub pause_p999: Duration,
    /// Bytes handed to mutators since start (page refills and large objects).
    pub bytes_allocated: u64,
    /// Objects freed since start (by every sweep and by the finalizer, up to this snapshot).
    pub objects_freed: u64,
    /// Destructors that panicked since start.
    pub drop_panics: u64,
    /// Live heap bytes now: never more than `heap_committed`.
    pub heap_live: usize,
    /// Bytes the collections own outside the heap now: the buffers and tables of every
    /// [`GcVec`](crate::GcVec), [`GcMap`](crate::GcMap), [`GcIdMap`](crate::GcIdMap),
    /// [`GcWeakMap`](crate::GcWeakMap), [`GcValueVec`](crate::GcValueVec) and
    /// [`GcValueMap`](crate::GcValueMap) (not `GcMap`'s boxed keys), and what the
    /// [`ExternalBytes`](crate::ExternalBytes) fields of live objects declare. The pacer counts
    /// them with the heap, so a program whose collections grow starts cycles as one that
    /// allocates does; the memory limit does not (see [`Config::memory_limit`](crate::Config)).
    pub owned_bytes: usize,
    /// Bytes of memory the heap holds from the system: pages whose memory is resident (in use
    /// or empty), plus large objects.
    pub heap_committed: usize,
    /// Bytes of empty pages whose memory the scavenger gave back to the OS (the heap keeps the
    /// address range and reuses it, zeroed, when it needs a page again), counted from the
    /// moment the scavenger takes a page to release it. See
    /// [`Config::scavenge_after`](crate::Config).
    pub heap_released: usize,
    /// Bytes outside the heap held by the collections for their lock-free readers: buffers
    /// and tables replaced by growth (and removed map keys) that a reader may still be
    /// looking at, freed once none can (crossbeam-epoch's reclamation; usually within a cycle
    /// or two, sooner while threads read collections). Not counted against the memory limit.
    pub retired_bytes: usize,
    /// Times the scavenger had the system allocator give back the free memory that dead large
    /// objects (over 8 KiB) left in it, and some went back: glibc's allocator keeps freed
    /// blocks resident otherwise (`malloc_trim`; always 0 with other C libraries, whose
    /// allocators return large free blocks themselves). See
    /// [`Config::scavenge_after`](crate::Config).
    pub allocator_trims: u64,
    /// Registered roots.
    pub roots: usize,
    /// Live weak references, counted by cell: a [`Weak`](crate::Weak) and its clones share one.
    pub weak_refs: usize,
    /// Objects kept for the rest of the process because a thread ended with its mutator
    /// leaked (see [`Mutator`](crate::Mutator), "Threads that exit"); normally 0.
    pub pinned_objects: usize,
    /// Mutators by state.
    pub mutators: MutatorCounts,
    /// Pauses as the mutator threads saw them, measured by each thread: what the program
    /// waited for, where the pause figures above are the collector's view.
    pub thread_pauses: ThreadPauseStats,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} cycles, {} pauses: max {:.3} ms, p99 {:.3} ms, p50 {:.3} ms, total {:.1} ms; {:.1} MB allocated, {} objects freed, heap {:.1} MB live / {:.1} MB committed / {:.1} MB released, {:.1} MB owned by collections",
            self.cycles,
            self.pause_count,
            self.pause_max.as_secs_f64() * 1e3,
            self.pause_p99.as_secs_f64() * 1e3,
            self.pause_p50.as_secs_f64() * 1e3,
            self.pause_total.as_secs_f64() * 1e3,
            self.bytes_allocated as f64 / (1 << 20) as f64,
            self.objects_freed,
            self.heap_live as f64 / (1 << 20) as f64,
            self.heap_committed as f64 / (1 << 20) as f64,
            self.heap_released as f64 / (1 << 20) as f64,
            self.owned_bytes as f64 / (1 << 20) as f64,
        )
    }
}

struct Recorded {
    cycles: u64,
    recent: VecDeque<CycleStats>,
    pauses: Histogram<u64>,
    pause_total: Duration,
}

/// Where the collector records, and where [`Stats`] snapshots come from.
pub(crate) struct StatsRecorder {
    recorded: Mutex<Recorded>,
    bytes_allocated: AtomicU64,
    allocated_black: AtomicU64,
    assist_bytes: AtomicU64,
    assist_objects: AtomicU64,
    assist_marked_bytes: AtomicU64,
    assist_owned_bytes: AtomicU64,
}

impl Default for StatsRecorder {
    fn default() -> Self {
        let pauses = crate::thread_pauses::pause_histogram();
        StatsRecorder {
            recorded: Mutex::new(Recorded { cycles: 0, recent: VecDeque::new(), pauses, pause_total: Duration::ZERO }),
            bytes_allocated: AtomicU64::new(0),
            allocated_black: AtomicU64::new(0),
            assist_bytes: AtomicU64::new(0),
            assist_objects: AtomicU64::new(0),
            assist_marked_bytes: AtomicU64::new(0),
            assist_owned_bytes: AtomicU64::new(0),
        }
    }
}

impl StatsRecorder {
    pub(crate) fn note_allocation(&self, bytes: usize, black: bool) {
        self.bytes_allocated.fetch_add(bytes as u64, Ordering::Relaxed);
        if black {
            self.allocated_black.fetch_add(bytes as u64, Ordering::Relaxed);
        }
    }

    /// Bytes allocated while marking (black) so far.
    pub(crate) fn allocated_black(&self) -> u64 {
        self.allocated_black.load(Ordering::Relaxed)
    }

    pub(crate) fn note_assist(&self, work: MarkWork, scanned_bytes: usize) {
        self.assist_objects.fetch_add(work.objects as u64, Ordering::Relaxed);
        self.assist_marked_bytes.fetch_add(work.marked_bytes as u64, Ordering::Relaxed);
        self.assist_owned_bytes.fetch_add(work.owned_bytes as u64, Ordering::Relaxed);
        self.assist_bytes.fetch_add(scanned_bytes as u64, Ordering::Relaxed);
    }

    /// Work done by assists so far, and bytes they scanned (the collector takes differences
    /// per cycle).
    pub(crate) fn assist_totals(&self) -> (MarkWork, u64) {
        let work = MarkWork {
            objects: self.assist_objects.load(Ordering::Relaxed) as usize,
            marked_bytes: self.assist_marked_bytes.load(Ordering::Relaxed) as usize,
            owned_bytes: self.assist_owned_bytes.load(Ordering::Relaxed) as usize,
            // Assists mark with the world running: never in an exclusive job.
            forwarded: 0,
        };
        (work, self.assist_bytes.load(Ordering::Relaxed))
    }

    /// Store a finished cycle.
    pub(crate) fn record(&self, cycle: CycleStats) {
        let mut r = self.recorded.lock();
        r.cycles += 1;
        for p in &cycle.pauses {
            let ns = u64::try_from(p.duration.as_nanos()).unwrap_or(u64::MAX).max(1);
            r.pauses.saturating_record(ns);
            r.pause_total += p.duration;
        }
        if r.recent.len() == RECENT_CYCLES {
            r.recent.pop_front();
        }
        r.recent.push_back(cycle);
    }

    /// Cycles recorded so far.
    pub(crate) fn cycles(&self) -> u64 {
        self.recorded.lock().cycles
    }

    /// A snapshot (heap and mutator figures filled in by the caller).
    pub(crate) fn snapshot(
        &self,
        heap: (usize, usize, usize, usize, u64),
        swept: SweepTotals,
        handles: (usize, usize, usize),
        mutators: MutatorCounts,
        thread_pauses: ThreadPauseStats,
    ) -> Stats {
        let (
            (heap_live, heap_committed, heap_released, retired_bytes, allocator_trims),
            (roots, weak_refs, pinned_objects),
        ) = (heap, handles);
        let r = self.recorded.lock();
        let [pause_p50, pause_p99, pause_p999] = percentiles(&r.pauses);
        Stats {
            cycles: r.cycles,
            recent: r.recent.iter().cloned().collect(),
            pause_count: r.pauses.len(),
            pause_total: r.pause_total,
            pause_max: Duration::from_nanos(if r.pauses.is_empty() { 0 } else { r.pauses.max() }),
            pause_p50,
            pause_p99,
            pause_p999,
            bytes_allocated: self.bytes_allocated.load(Ordering::Relaxed),
            objects_freed: swept.freed_objects,
            drop_panics: swept.drop_panics,
            heap_live,
            owned_bytes: crate::owned_bytes::current(),
            heap_committed,
            heap_released,
            retired_bytes,
            allocator_trims,
            roots,
            weak_refs,
            pinned_objects,
            mutators,
            thread_pauses,
        }
    }
}

// Not under Miri: safe code only (Miri looks for undefined behaviour, which safe code cannot
// cause), and minutes of interpreted time. `.ci/run` checks that it stays so.
#[cfg(all(test, not(miri)))]
mod tests {
    use super::*;

    #[test]
    fn handshake_kind_names_round_trip() {
        for k in HandshakeKind::ALL {
            assert_eq!(k.to_string().parse::<HandshakeKind>(), Ok(k));
        }
        assert!("hand-back".parse::<HandshakeKind>().is_err());
    }

    #[test]
    fn pause_kind_names_round_trip() {
        for k in PauseKind::ALL {
            assert_eq!(k.to_string().parse::<PauseKind>(), Ok(k));
        }
        let err = "mark-start".parse::<PauseKind>().unwrap_err();
        assert!(err.to_string().contains("`mark start`, `mark termination`"), "{err}");
    }

    fn cycle(n: u64, pauses_us: &[u64]) -> CycleStats {
        CycleStats {
            cycle: n,
            mode: Mode::Concurrent,
            barrier: BarrierKind::Dijkstra,
            started_at: Duration::from_millis(1500),
            pauses: pauses_us
                .iter()
                .map(|&us| Pause {
                    kind: PauseKind::MarkStart,
                    started_at: Duration::from_millis(1500),
                    duration: Duration::from_micros(us),
                    time_to_safepoint: Duration::from_micros(us / 2),
                })
                .collect(),
            thread_pause_max: Duration::from_micros(40),
            handshakes: [(HandshakeKind::Flush, 120), (HandshakeKind::HandBackPages, 80)]
                .into_iter()
                .map(|(kind, us)| HandshakeRound {
                    kind,
                    started_at: Duration::from_millis(1502),
                    latency: Duration::from_micros(us),
                    waited_for: 2,
                })
                .collect(),
            phases: Vec::new(),
            mark_time: Duration::from_micros(4100),
            sweep_time: Duration::from_micros(2300),
            heap_before: 12 << 20,
            heap_after: 5 << 20,
            heap_marked: 4 << 20,
            owned_marked: 0,
            heap_peak: 13 << 20,
            cycle_goal: 12 << 20,
            heap_goal: 8 << 20,
            next_trigger: 7 << 20,
            objects_marked: 7,
            objects_freed: 9,
            bytes_freed: 90,
            assist_bytes: 0,
            termination_retries: 0,
            mark_workers: 0,
            objects_forwarded: 0,
            exclusive_jobs_given_up: 0,
            exclusive_drains_beside_mutators: 0,
            mark_log_peak_bytes: 0,
            mark_log_over_limit: false,
            mark_log_applied: 0,
            mark_log_applied_in_pause: 0,
            idle_exclusive_drains: 0,
            idle_drains_yielded: 0,
            sweep_workers: 0,
            checkmarked_objects: None,
            drop_panics: 0,
            weaks_cleared: 0,
            weak_map_entries_cleared: 0,
            mutators: MutatorCounts { running: 2, at_safepoint: 0, detached: 1 },
        }
    }

    #[test]
    fn trace_line_has_every_field() {
        let line = cycle(12, &[21, 34]).trace_line();
        assert_eq!(
            line,
            "gc 12 @1.500s concurrent/dijkstra: pauses 0.021+0.034 ms (to safepoint 0.010+0.017; longest in a thread 0.040), \
             handshakes 2 (collector waited 0.200 ms, longest 0.120), mark 4.10 ms, sweep 2.30 ms, \
             heap 12.0->5.0 MB, peak 13.0 MB (goal 12.0 MB), marked 4.0 MB (next goal 8.0 MB, trigger 7.0 MB), \
             7 objects marked, 9 freed, 3 mutators"
        );
        let owning = CycleStats { owned_marked: 3 << 19, ..cycle(12, &[21, 34]) }.trace_line();
        assert!(owning.contains("marked 4.0 MB (owned 1.5 MB, next goal 8.0 MB, trigger 7.0 MB)"), "{owning}");
        let by_handshakes = CycleStats { handshakes: Vec::new(), ..cycle(13, &[]) }.trace_line();
        assert!(
            by_handshakes.contains(": pauses none (longest in a thread 0.040), handshakes 0 (collector waited 0.000 ms, longest 0.000), mark"),
            "{by_handshakes}"
        );
        let c = cycle(12, &[21, 34]);
        assert_eq!(c.overshoot(), 1 << 20, "peak 13 MB over a goal of 12 MB");
        let off = CycleStats { cycle_goal: usize::MAX, heap_goal: usize::MAX, next_trigger: usize::MAX, ..c };
        assert_eq!(off.overshoot(), 0, "no goal, no overshoot");
        assert!(off.trace_line().contains("peak 13.0 MB (goal off), marked 4.0 MB (next goal off, trigger off)"));
    }

    #[test]
    fn histogram_and_totals_accumulate() {
        let rec = StatsRecorder::default();
        rec.record(cycle(1, &[10, 1000]));
        rec.record(cycle(2, &[20]));
        let swept = SweepTotals { freed_objects: 18, freed_bytes: 180, drop_panics: 1 };
        let s = rec.snapshot((0, 0, 0, 0, 0), swept, (0, 0, 0), MutatorCounts::default(), ThreadPauseStats::default());
        assert_eq!(s.cycles, 2);
        assert_eq!(s.pause_count, 3);
        assert_eq!((s.objects_freed, s.drop_panics), (18, 1));
        assert_eq!(s.pause_total, Duration::from_micros(1030));
        assert!(
            s.pause_max >= Duration::from_micros(999) && s.pause_max <= Duration::from_micros(1001),
            "{:?}",
            s.pause_max
        );
        assert!(
            s.pause_p50 >= Duration::from_micros(19) && s.pause_p50 <= Duration::from_micros(21),
            "{:?}",
            s.pause_p50
        );
        assert_eq!(s.recent.len(), 2);
        let shown = Stats { heap_live: 3 << 20, owned_bytes: 5 << 19, ..s }.to_string();
        assert!(
            shown.ends_with("heap 3.0 MB live / 0.0 MB committed / 0.0 MB released, 2.5 MB owned by collections"),
            "{shown}"
        );
    }

    #[test]
    fn recent_keeps_a_bounded_window() {
        let rec = StatsRecorder::default();
        for n in 1..=(RECENT_CYCLES as u64 + 5) {
            rec.record(cycle(n, &[1]));
        }
        let s = rec.snapshot(
            (0, 0, 0, 0, 0),
            SweepTotals::default(),
            (0, 0, 0),
            MutatorCounts::default(),
            ThreadPauseStats::default(),
        );
        assert_eq!(s.recent.len(), RECENT_CYCLES);
        assert_eq!(s.recent[0].cycle, 6);
    }
}
