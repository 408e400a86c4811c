//! Handshakes between the collector and the mutators: stop-the-world and ragged flushes.
//!
//! # Mutator states
//!
//! | state | the thread… | the collector may… |
//! |---|---|---|
//! | [`MutatorState::Running`] | runs user code, may hold locals, may store into slots | nothing that needs it to be still |
//! | [`MutatorState::AtSafepoint`] | is parked inside a safepoint (holds no local) | treat it as stopped |
//! | [`MutatorState::Detached`] | is blocked, sleeping or not using the heap; holds no local and no grey object | treat it as stopped, and never wait for it |
//!
//! All states live in one table behind one lock. Every transition takes the lock, so a
//! transition and the collector's reading of the table are ordered; the lock is also the
//! synchronisation that publishes a phase change made while the world was stopped.
//!
//! # Stop-the-world
//!
//! 1. The collector sets `stop` in the table and the `STOP` bit of the poll word.
//! 2. Each running mutator sees the bit at its next safepoint (fast path: one relaxed load),
//!    flushes its shade buffer, records `AtSafepoint` and waits on a condition variable.
//!    Detached mutators count as stopped at once; one that tries to re-attach waits.
//! 3. When no entry is `Running` the world is stopped; the collector works without holding the
//!    lock (nobody can leave the pause while `stop` is set).
//! 4. Starting the world clears `stop` and the bit and wakes everyone.
//!
//! # Idle stops
//!
//! A stop can also be had for free: when no mutator is running — every one parked, detached,
//! blocked or waiting in `collect` — the collector may stop the world without asking anyone
//! ([`Handshake::stop_if_idle`]) and work as it would inside a pause (a concurrent cycle's drains
//! then mark without locked instructions, see `object/exclusive.rs`). Nobody is held up by such a
//! stop unless they want to run: a thread that attaches, registers or comes back from a blocking
//! section while it lasts first calls the hook the collector gave ([`Handshake::stop_if_idle`]'s
//! `on_yield`, which asks the work to end early) and then waits, as for any stop, for the world to
//! start ([`Handshake::start_the_world`] tells the collector whether one did, in the step that
//! ends the stop). The hook runs under the table lock, once per waiting thread, and no idle
//! stop begins while a thread still waits to run after the last one. The world starts a few
//! microseconds after the request, once the work has handed everything back, so the thread
//! yields its core for up to [`IDLE_STOP_SPIN`] before it parks: a wake-up on a virtual machine
//! takes 50–100 µs.
//!
//! # Ragged flush
//!
//! The collector asks every mutator to publish its shade buffer without stopping them
//! together — the handshake round that every phase change is built from when the world is not
//! stopped (see `collector/mod.rs`): it bumps `flush_seq` and sets the `FLUSH` bit; each running
//! mutator flushes at its next safepoint (or, for some rounds, at an allocation: below) and
//! records the sequence number it read *before* flushing in its own acknowledgement cell, and
//! goes on. Detached mutators flushed when they detached. The collector waits until every attached entry has acknowledged — including one
//! still `AtSafepoint` after the last pause, which flushes once more on its way out (what a
//! flush publishes may have changed while it was parked: after a mark termination it also
//! hands back the mutator's cached pages for sweeping).
//!
//! An acknowledgement takes no lock and wakes nobody: the flush and the cell's update run on
//! the mutator's own data, and the collector polls the cells, sleeping 20 µs, then twice as
//! long each time up to 0.5 ms. Both alternatives were measured with four mutators on two
//! cores and made threads wait for scheduler ticks (2–8 ms, inside the acknowledgement):
//! answers recorded under the table lock waited for a thread preempted while holding it, and
//! answers that woke a sleeping collector were preempted by the collector they woke. Polling
//! moves the cost to the collector — a round ends up to one poll interval after its last
//! answer — which is the party that can afford to wait.
//!
//! # Rounds answered at an allocation
//!
//! A safepoint takes `&mut Mutator`, so the thread holds no local there; an allocation does not
//! (locals survive allocating). Most rounds need that: mark termination decides that nothing
//! is left to mark, which holds only if no thread can still hold an object that nothing else
//! reaches. Some rounds ask nothing about locals, and a thread that builds a large structure
//! between two safepoints — a deep tree in one recursive call — should not hold them up, nor
//! the memory they free: the collector may mark such a round answerable where an allocation
//! refills its cache ([`AnswerAt::SafepointsAndAllocations`]; which rounds, and why, is in
//! `collector/mod.rs`, "Rounds answered at an allocation"). The collector writes the round's
//! number into `allocation_seq` *before* it publishes the request, and only for such a round;
//! an allocation answers the request it reads only if `allocation_seq` holds that same number
//! ([`Handshake::allocation_answer_due`]). So a round meant for safepoints is never answered
//! at an allocation, even when it is requested while an allocation looks. An allocation never
//! parks: a stopped world still waits for a safepoint.
//!
//! # Slow mutators
//!
//! A mutator that does not reach a safepoint holds up the collector. After the configured time
//! the collector prints which threads it is waiting for and which wait for it (parked, or in
//! `collect`) — a running thread that waits for one of those, say a parent joining a child that
//! attached, is a deadlock, and the warning names the fix — then keeps waiting: leaving a
//! running thread behind would be unsound. A cycle the collector's timer started
//! (`force_cycle_after`), which nobody asked for, warns only while some thread waits for the
//! collector, and looks at the answers less often: a program idle while attached (a read at a
//! prompt) holds it up until it comes back, which is no deadlock while nobody waits.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use crate::{
    primitive::sync::{
        atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering},
        pause, Condvar, Mutex, MutexGuard,
    },
    report,
};

/// The state of one attached thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MutatorState {
    /// Running user code between safepoints.
    Running,
    /// Parked at a safepoint while the world is stopped.
    AtSafepoint,
    /// Detached for a blocking operation: never waited for.
    Detached,
}

const STOP: u8 = 1;
const FLUSH: u8 = 2;

/// How long the collector first sleeps between two looks at the answers of a ragged flush, and
/// the longest it sleeps (the interval doubles; see "Ragged flush").
/// Where the mutators may answer a ragged round (see "Rounds answered at an allocation").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AnswerAt {
    /// Only at a safepoint, where the thread holds no local.
    Safepoints,
    /// At a safepoint, or where an allocation refills its cache.
    SafepointsAndAllocations,
}

/// How long a thread that ends an idle stop yields, waiting for the world to start, before it
/// parks (see "Idle stops").
const IDLE_STOP_SPIN: Duration = Duration::from_micros(200);

const FIRST_POLL: Duration = Duration::from_micros(20);
const LAST_POLL: Duration = Duration::from_micros(500);
/// The longest sleep between two looks at the answers in a cycle started by the collector's
/// timer ([`Handshake::set_unasked`]).
const LAST_POLL_UNASKED: Duration = Duration::from_millis(10);

struct Entry {
    state: MutatorState,
    /// The last flush request this mutator answered; written by the mutator without the table
    /// lock (see "Ragged flush").
    ack: Arc<AtomicU64>,
    name: String,
    /// Detached inside `Mutator::collect`: waiting for a cycle to finish (for diagnostics).
    waiting_for_cycle: bool,
}

#[derive(Default)]
struct Table {
    entries: Vec<Option<Entry>>,
    free_ids: Vec<usize>,
    stop: bool,
    /// The stop is an idle stop (see "Idle stops"): what a thread that wants to run calls
    /// before it waits.
    idle_stop: Option<fn()>,
    /// A thread wanted to run during the current (or last) idle stop.
    yield_wanted: bool,
    /// Threads waiting for the world to start so that they can run (attaching, registering):
    /// no idle stop begins while one waits (see [`Handshake::stop_if_idle`]).
    waiting_to_run: usize,
    flush_seq: u64,
    /// Mutators removed because their thread ended with them leaked, whose objects the
    /// collector has not pinned yet (see [`Handshake::exit_leaked`]).
    leaked_exits: u64,
}

impl Table {
    fn entry(&mut self, id: usize) -> &mut Entry {
        self.entries[id].as_mut().unwrap_or_else(|| unreachable!("mutator {id} is registered"))
    }

    fn names(&self, pred: impl Fn(&Entry) -> bool) -> String {
        let names: Vec<String> =
            self.entries.iter().flatten().filter(|e| pred(e)).map(|e| format!("`{}`", e.name)).collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    }

    /// The slow-safepoint warning: who holds the collector up, who waits for it, and what to do.
    fn slow_warning(&self, elapsed: Duration, what: &str, lagging: impl Fn(&Entry) -> bool) -> String {
        let waiting = self.names(|e| e.waiting_for_cycle || e.state == MutatorState::AtSafepoint);
        format!(
            "gc: waiting {elapsed:.0?} for mutators to reach a safepoint ({what}); still running: {}; \
             waiting for the collector: {waiting}. If a running thread is itself waiting for one of \
             those (joining it, a lock, a channel), this is a deadlock: wrap that wait in \
             Mutator::blocking, and share objects with other threads through a Root, not a \
             reference borrowed from a local. A thread inside a collection's user code (a key's \
             Hash, Eq, Clone or Debug, a HeapValue's load or store) passes no safepoint until \
             that call returns; still waiting.",
            self.names(lagging)
        )
    }
}

/// The handshake table, its condition variables and the poll word.
#[derive(Default)]
pub(crate) struct Handshake {
    /// `STOP | FLUSH` bits: what the collector asks of running mutators.
    poll: AtomicU8,
    /// `flush_seq` of the table, readable without the lock (written under it).
    requested_seq: AtomicU64,
    /// The last round that may be answered at an allocation (see "Rounds answered at an
    /// allocation"); written before `requested_seq`.
    allocation_seq: AtomicU64,
    /// Whether the world is stopped — every mutator parked or detached — not only asked to
    /// stop: set when [`Handshake::stop_the_world`] returns, cleared when the world starts.
    stopped: AtomicBool,
    /// The current cycle was started by the collector's timer, for nobody (see "Slow
    /// mutators"): its waits warn only while some thread waits for the collector.
    unasked: AtomicBool,

    table: Mutex<Table>,
    mutators_cv: Condvar,
    collector_cv: Condvar,
}

/// Counts of mutators by state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MutatorCounts {
    /// Running between safepoints.
    pub running: usize,
    /// Parked at a safepoint.
    pub at_safepoint: usize,
    /// Detached: inside [`Mutator::blocking`](crate::Mutator::blocking) or
    /// [`Mutator::collect`](crate::Mutator::collect), or kept by a thread between its
    /// [`with_mutator`](crate::with_mutator) calls.
    pub detached: usize,
}

impl Handshake {
    /// The safepoint fast path: is there a request for mutators?
    #[inline(always)]
    pub(crate) fn poll_requested(&self) -> bool {
        // Relaxed: a stale zero only delays the mutator until its next poll; the slow path
        // takes the lock, which orders everything after it.
        self.poll.load(Ordering::Relaxed) != 0
    }

    /// The cycle about to run was started by the collector's timer (`force_cycle_after`), or
    /// the one that ran was: `false` again when it ends.
    pub(crate) fn set_unasked(&self, unasked: bool) {
        self.unasked.store(unasked, Ordering::Relaxed);
    }

    /// Whether a slow mutator is worth a warning now: always, unless the cycle is one nobody
    /// asked for and no thread waits for the collector (parked, or in `collect`). A program
    /// idle in a read while attached — a REPL at its prompt — holds such a cycle up until it
    /// comes back, as it would hold any cycle up; with nobody waiting, that is no deadlock to
    /// warn of.
    fn slow_warning_due(&self, t: &Table) -> bool {
        !self.unasked.load(Ordering::Relaxed)
            || t.entries.iter().flatten().any(|e| e.waiting_for_cycle || e.state == MutatorState::AtSafepoint)
    }

    /// Whether the world is stopped now (not only asked to stop: a stop may wait long for a
    /// mutator slow to reach a safepoint). Relaxed: for a thread that polls for the pause's
    /// work and may stop polling a little early or late.
    pub(crate) fn world_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// Wait, holding `t` between waits, until the world runs — for a thread about to run.
    fn wait_world_started(&self, t: &mut MutexGuard<'_, Table>) -> bool {
        if !t.stop {
            return false;
        }
        t.waiting_to_run += 1;
        if let Some(on_yield) = t.idle_stop {
            t.yield_wanted = true;
            on_yield();
            // The stop ends within microseconds: yield the core meanwhile rather than park
            // and wait for a wake-up (see "Idle stops").
            let until = Instant::now() + IDLE_STOP_SPIN;
            while t.stop && Instant::now() < until {
                MutexGuard::unlocked(t, std::thread::yield_now);
            }
        }
        while t.stop {
            self.mutators_cv.wait(t);
        }
        t.waiting_to_run -= 1;
        true
    }

    /// Register the calling thread as a running mutator; waits out a stopped world.
    #[cfg(any(test, gc_loom))]
    pub(crate) fn register(&self, name: String) -> usize {
        self.register_after_any_stop(name).0
    }

    /// Register the calling thread as a running mutator, after any stopped world; returns its id
    /// and whether it waited for the world to start (a pause the thread saw, which its caller
    /// records: it has no pause log before this).
    pub(crate) fn register_after_any_stop(&self, name: String) -> (usize, bool) {
        let mut t = self.table.lock();
        let waited = self.wait_world_started(&mut t);
        let ack = Arc::new(AtomicU64::new(t.flush_seq));
        let entry = Entry { state: MutatorState::Running, ack, name, waiting_for_cycle: false };
        let id = match t.free_ids.pop() {
            Some(id) => {
                t.entries[id] = Some(entry);
                id
            }
            None => {
                t.entries.push(Some(entry));
                t.entries.len() - 1
            }
        };
        (id, waited)
    }

    /// Mutator `id`'s acknowledgement cell, for [`Handshake::safepoint_slow`] (the mutator
    /// keeps it: answering a flush request then takes no lock).
    pub(crate) fn ack_cell(&self, id: usize) -> Arc<AtomicU64> {
        self.table.lock().entry(id).ack.clone()
    }

    /// Remove a mutator for good; `flush` publishes its remaining grey objects first.
    pub(crate) fn unregister(&self, id: usize, flush: impl FnOnce()) {
        let mut t = self.table.lock();
        flush();
        self.remove(&mut t, id);
    }

    /// Free `id`'s entry and tell the collector, which may be waiting for it; returns its name.
    fn remove(&self, t: &mut Table, id: usize) -> String {
        let name = t.entries[id].take().map(|e| e.name).unwrap_or_default();
        t.free_ids.push(id);
        self.collector_cv.notify_all();
        name
    }

    /// Remove a mutator whose thread ended while it was leaked (`flush` publishes its grey
    /// objects first), and ask the collector to pin every live object at its next pause: a
    /// `'static` borrow of the leaked mutator may still be in use on another thread. Returns
    /// the mutator's name.
    ///
    /// The request is made under the table lock, in the same step that stops waiting for the
    /// mutator: a pause that no longer waits for it is sure to see the request (see
    /// [`Handshake::take_leaked_exits`]).
    pub(crate) fn exit_leaked(&self, id: usize, flush: impl FnOnce()) -> String {
        let mut t = self.table.lock();
        flush();
        t.leaked_exits += 1;
        self.remove(&mut t, id)
    }

    /// Whether a leaked mutator's thread ended since the last [`Handshake::take_leaked_exits`]:
    /// the next phase change must stop the world to pin.
    pub(crate) fn leaked_exits_pending(&self) -> bool {
        self.table.lock().leaked_exits != 0
    }

    /// With the world stopped: how many leaked mutators' threads ended since the last call.
    pub(crate) fn take_leaked_exits(&self) -> u64 {
        std::mem::take(&mut self.table.lock().leaked_exits)
    }

    /// Running → Detached; `flush` publishes the mutator's grey objects first.
    pub(crate) fn detach(&self, id: usize, flush: impl FnOnce()) {
        let mut t = self.table.lock();
        flush();
        t.entry(id).state = MutatorState::Detached;
        self.collector_cv.notify_all();
    }

    /// A detached mutator now waits for a collection cycle (shown in slow-safepoint warnings).
    pub(crate) fn waiting_for_cycle(&self, id: usize) {
        self.table.lock().entry(id).waiting_for_cycle = true;
    }

    /// How many mutators are running user code (or about to: waiting for a stop to end), and
    /// how many wait (detached) for a cycle to end: the collector's estimate of the cores the
    /// mutators use and leave idle.
    pub(crate) fn running_and_waiting(&self) -> (usize, usize) {
        let t = self.table.lock();
        t.entries.iter().flatten().fold((t.waiting_to_run, 0), |(running, waiting), e| match e.state {
            MutatorState::Running => (running + 1, waiting),
            MutatorState::Detached if e.waiting_for_cycle => (running, waiting + 1),
            _ => (running, waiting),
        })
    }

    /// Detached → Running, after any pause in progress; returns whether it waited for one.
    pub(crate) fn attach(&self, id: usize) -> bool {
        let mut t = self.table.lock();
        let waited = self.wait_world_started(&mut t);
        let seq = t.flush_seq;
        let e = t.entry(id);
        e.state = MutatorState::Running;
        e.ack.fetch_max(seq, Ordering::SeqCst);
        e.waiting_for_cycle = false;
        waited
    }

    /// Whether a mutator whose acknowledgement cell is `ack` has something to do at this
    /// safepoint: a stop is requested, or a flush request it has not answered. While a round
    /// waits for a slow thread the `FLUSH` bit stays set; the threads that already answered
    /// pass their safepoints on this check, not through the slow path again.
    #[inline]
    pub(crate) fn has_request_for(&self, ack: &AtomicU64) -> bool {
        self.poll.load(Ordering::SeqCst) & STOP != 0
            || ack.load(Ordering::Relaxed) < self.requested_seq.load(Ordering::SeqCst)
    }

    /// The safepoint slow path: answer flush requests and park while the world is stopped.
    /// Returns whether the mutator was parked.
    ///
    /// The flushes run *outside* the table lock, which is held only to record a state or an
    /// acknowledgement: with more threads than cores, a thread preempted while holding the
    /// lock makes every other thread's acknowledgement wait for a scheduler tick (see
    /// `thread_pauses.rs`). A flush answers every request made before it started, so the
    /// sequence number acknowledged is the one read before flushing.
    pub(crate) fn safepoint_slow(&self, id: usize, ack: &AtomicU64, flush: &mut dyn FnMut()) -> bool {
        let requested = self.requested_seq.load(Ordering::SeqCst);
        // Publishes the shade buffer for a flush request and, as well, before parking.
        flush();
        // SeqCst: read by the collector's polls (see "Ragged flush").
        ack.fetch_max(requested, Ordering::SeqCst);
        if self.poll.load(Ordering::SeqCst) & STOP == 0 {
            // No stop requested (a stale answer only brings this thread back at its next
            // safepoint: the bit stays set until the world has started again).
            return false;
        }
        let mut t = self.table.lock();
        if !t.stop {
            return false;
        }
        t.entry(id).state = MutatorState::AtSafepoint;
        self.collector_cv.notify_all();
        self.wait_world_started(&mut t);
        t.entry(id).state = MutatorState::Running;
        let requested = t.flush_seq;
        drop(t);
        // Answer every flush requested meanwhile with one more flush: the shade buffer is
        // empty, but the collector may have changed what a flush hands back (the sweep epoch
        // advances inside a stop-the-world cycle, and the mutator's cached pages are then due).
        flush();
        ack.fetch_max(requested, Ordering::SeqCst);
        true
    }

    /// Whether an allocation by the mutator whose acknowledgement cell is `ack` may answer a
    /// round now: `Some(seq)` if a round it has not answered was requested as answerable at
    /// allocations (see "Rounds answered at an allocation"). The caller then flushes what a
    /// round answered there asks for and calls [`Handshake::acknowledge`] with `seq`.
    #[inline]
    pub(crate) fn allocation_answer_due(&self, ack: &AtomicU64) -> Option<u64> {
        if self.poll.load(Ordering::Relaxed) & FLUSH == 0 {
            return None;
        }
        let requested = self.requested_seq.load(Ordering::SeqCst);
        // The request first, then the permission: the permission of a round is written before
        // its request, so reading `requested` here means the permission read below is that
        // round's or a later one's — never equal to `requested` unless that round allows it.
        (ack.load(Ordering::Relaxed) < requested && self.allocation_seq.load(Ordering::SeqCst) == requested)
            .then_some(requested)
    }

    /// Record that the mutator answered every request up to `seq`, having flushed after reading
    /// it (see [`Handshake::allocation_answer_due`]).
    pub(crate) fn acknowledge(&self, ack: &AtomicU64, seq: u64) {
        // SeqCst: read by the collector's polls (see "Ragged flush").
        ack.fetch_max(seq, Ordering::SeqCst);
    }

    fn wait_collector(
        &self,
        t: &mut MutexGuard<'_, Table>,
        warn_after: Duration,
        what: &str,
        done: impl Fn(&Table) -> bool,
        lagging: impl Fn(&Entry) -> bool,
    ) {
        let start = Instant::now();
        let mut next_warning = warn_after;
        while !done(t) {
            let elapsed = start.elapsed();
            if elapsed >= next_warning {
                if self.slow_warning_due(t) {
                    let warning = t.slow_warning(elapsed, what, &lagging);
                    // Written without the table lock (a stderr that blocks must not keep
                    // mutators from parking or leaving a pause), and ignoring errors: a warning
                    // that cannot be written must not stop the collector — least of all with
                    // the world stopped. Nor through `std`'s stderr lock, which a parked mutator
                    // may hold (`report.rs`).
                    MutexGuard::unlocked(t, || report::line(format_args!("{warning}")));
                }
                next_warning += warn_after;
                continue;
            }
            self.collector_cv.wait_for(t, next_warning - elapsed);
        }
    }

    /// Stop every attached mutator at a safepoint (detached ones count as stopped).
    pub(crate) fn stop_the_world(&self, warn_after: Duration) {
        let mut t = self.table.lock();
        debug_assert!(!t.stop, "the world is already stopped");
        t.stop = true;
        self.poll.fetch_or(STOP, Ordering::SeqCst);
        let running = |e: &Entry| e.state == MutatorState::Running;
        self.wait_collector(
            &mut t,
            warn_after,
            "stop the world",
            |t| !t.entries.iter().flatten().any(running),
            running,
        );
        self.stopped.store(true, Ordering::Relaxed);
    }

    /// Stop the world if no mutator is running, at once, and return `true`; return `false`
    /// (and stop nothing) if one is, if a thread still waits to run after the last stop — it
    /// asked that one to end, and would wait out this one — or if the world is stopped
    /// already. A thread that wants to run while this stop lasts calls `on_yield` first, under
    /// the table lock, then waits for [`Handshake::start_the_world`] (see "Idle stops").
    pub(crate) fn stop_if_idle(&self, on_yield: fn()) -> bool {
        let mut t = self.table.lock();
        if t.stop || t.waiting_to_run > 0 || t.entries.iter().flatten().any(|e| e.state == MutatorState::Running) {
            return false;
        }
        t.stop = true;
        t.idle_stop = Some(on_yield);
        t.yield_wanted = false;
        self.poll.fetch_or(STOP, Ordering::SeqCst);
        self.stopped.store(true, Ordering::Relaxed);
        true
    }

    /// Whether a thread wanted to run during the current idle stop, or the last one (it called
    /// the stop's `on_yield`): read under the table lock, so a thread that wants to run after
    /// this returned `false` calls `on_yield` after it — what the collector relies on when it
    /// asks right after beginning its work, in case a thread called `on_yield` before.
    pub(crate) fn yield_wanted(&self) -> bool {
        self.table.lock().yield_wanted
    }

    /// Let every mutator go on. Returns whether a thread wanted to run during the stop this
    /// ends, if it is an idle stop: read in the same step, so a thread that wants to run after
    /// it is not counted (`false` for any other stop).
    pub(crate) fn start_the_world(&self) -> bool {
        self.stopped.store(false, Ordering::Relaxed);
        let mut t = self.table.lock();
        let yielded = t.idle_stop.is_some() && t.yield_wanted;
        t.stop = false;
        t.idle_stop = None;
        self.poll.fetch_and(!STOP, Ordering::SeqCst);
        self.mutators_cv.notify_all();
        yielded
    }

    /// Have every running mutator publish its shade buffer at its next safepoint — or, if `at`
    /// allows it, at its next allocation that refills its cache, if that comes first. Returns
    /// how long the collector waited for the last answer, and how many mutators it waited for.
    pub(crate) fn ragged_flush(&self, warn_after: Duration, at: AnswerAt) -> (Duration, usize) {
        let seq = {
            let mut t = self.table.lock();
            t.flush_seq += 1;
            t.flush_seq
        };
        if at == AnswerAt::SafepointsAndAllocations {
            // Before the request (see `allocation_answer_due`).
            self.allocation_seq.store(seq, Ordering::SeqCst);
        }
        self.requested_seq.store(seq, Ordering::SeqCst);
        self.poll.fetch_or(FLUSH, Ordering::SeqCst);
        // A mutator still `AtSafepoint` has not left the last pause yet: it answers on its way
        // out, so it is waited for too.
        let pending = move |e: &Entry| e.state != MutatorState::Detached && e.ack.load(Ordering::SeqCst) < seq;
        let answered = |t: &Table| !t.entries.iter().flatten().any(pending);
        let start = Instant::now();
        let mut next_warning = warn_after;
        let mut poll_interval = FIRST_POLL;
        let mut waited_for = None;
        loop {
            let t = self.table.lock();
            if answered(&t) {
                break;
            }
            waited_for.get_or_insert_with(|| t.entries.iter().flatten().filter(|e| pending(e)).count());
            let elapsed = start.elapsed();
            if elapsed >= next_warning && !self.slow_warning_due(&t) {
                next_warning += warn_after;
            } else if elapsed >= next_warning {
                let what = match at {
                    AnswerAt::Safepoints => "flush shade buffers",
                    AnswerAt::SafepointsAndAllocations => {
                        "flush shade buffers; an allocation that refills its cache answers too"
                    }
                };
                let warning = t.slow_warning(elapsed, what, pending);
                drop(t);
                // Written without the lock, ignoring errors (see `wait_collector`).
                report::line(format_args!("{warning}"));
                next_warning += warn_after;
                continue;
            }
            drop(t);
            pause(poll_interval);
            // A cycle nobody asked for may wait long for a thread idle while attached: it
            // looks less often.
            let last = if self.unasked.load(Ordering::Relaxed) { LAST_POLL_UNASKED } else { LAST_POLL };
            poll_interval = (poll_interval * 2).min(last);
        }
        self.poll.fetch_and(!FLUSH, Ordering::SeqCst);
        (start.elapsed(), waited_for.unwrap_or(0))
    }

    /// Call `f` with the id of every mutator that is not running (detached, or parked at a
    /// safepoint), holding the table's lock: none of them can re-attach or leave its park
    /// until `f` has returned for all (the collector's scan of their value stacks; see
    /// `stack_scan.rs`).
    pub(crate) fn for_each_stopped(&self, mut f: impl FnMut(usize)) {
        let t = self.table.lock();
        for (id, e) in t.entries.iter().enumerate() {
            if e.as_ref().is_some_and(|e| e.state != MutatorState::Running) {
                f(id);
            }
        }
    }

    /// Mutators by state.
    pub(crate) fn counts(&self) -> MutatorCounts {
        let t = self.table.lock();
        let mut c = MutatorCounts::default();
        for e in t.entries.iter().flatten() {
            match e.state {
                MutatorState::Running => c.running += 1,
                MutatorState::AtSafepoint => c.at_safepoint += 1,
                MutatorState::Detached => c.detached += 1,
            }
        }
        c
    }

    /// The state of mutator `id`.
    pub(crate) fn state_of(&self, id: usize) -> MutatorState {
        self.table.lock().entry(id).state
    }
}

#[cfg(all(test, not(gc_loom)))]
mod tests {
    use std::{
        sync::{
            atomic::{AtomicBool, AtomicUsize, Ordering as O},
            Arc,
        },
        thread,
    };

    use super::*;
    use crate::test_support;

    /// A mutator loop on a private handshake: polls, counts flushes, stops on request.
    fn spawn_mutator(
        hs: &Arc<Handshake>,
        quit: &Arc<AtomicBool>,
        flushes: &Arc<AtomicUsize>,
    ) -> thread::JoinHandle<()> {
        let (hs, quit, flushes) = (hs.clone(), quit.clone(), flushes.clone());
        let id = hs.register("test-mutator".into());
        let ack = hs.ack_cell(id);
        thread::spawn(move || {
            while !quit.load(O::SeqCst) {
                if hs.poll_requested() {
                    hs.safepoint_slow(id, &ack, &mut || {
                        flushes.fetch_add(1, O::SeqCst);
                    });
                }
                std::hint::spin_loop();
            }
            hs.unregister(id, || {});
        })
    }

    #[test]
    fn stop_the_world_parks_running_mutators_and_ignores_detached_ones() {
        let _s = test_support::serial();
        let hs = Arc::new(Handshake::default());
        let quit = Arc::new(AtomicBool::new(false));
        let flushes = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..2).map(|_| spawn_mutator(&hs, &quit, &flushes)).collect();
        // A detached mutator: registered, then detached; it never polls.
        let sleeper = hs.register("detached".into());
        hs.detach(sleeper, || {});
        hs.stop_the_world(Duration::from_secs(60));
        let c = hs.counts();
        assert_eq!(c, MutatorCounts { running: 0, at_safepoint: 2, detached: 1 });
        assert_eq!(flushes.load(O::SeqCst), 2, "each parked mutator flushed its buffer");
        hs.start_the_world();
        // A mutator still leaving the pause has an empty buffer and acknowledges a flush
        // without flushing; wait until both run again so both must flush.
        while hs.counts().running < 2 {
            thread::yield_now();
        }
        // Ragged flush: every running mutator flushes once more, nobody parks.
        hs.ragged_flush(Duration::from_secs(60), AnswerAt::Safepoints);
        assert!(flushes.load(O::SeqCst) >= 4);
        quit.store(true, O::SeqCst);
        threads.into_iter().for_each(|t| t.join().unwrap());
        hs.attach(sleeper);
        assert_eq!(hs.state_of(sleeper), MutatorState::Running);
        hs.unregister(sleeper, || {});
        assert_eq!(hs.counts(), MutatorCounts::default());
    }

    #[test]
    fn an_allocation_answers_only_a_round_that_allows_it() {
        let _s = test_support::serial();
        let hs = Arc::new(Handshake::default());
        let id = hs.register("m".into());
        let ack = hs.ack_cell(id);
        assert_eq!(hs.allocation_answer_due(&ack), None, "no round requested");
        let round = |at: AnswerAt| {
            let hs = hs.clone();
            thread::spawn(move || hs.ragged_flush(Duration::from_secs(60), at))
        };
        // A round for safepoints only: an allocation leaves it; a safepoint answers it.
        let collector = round(AnswerAt::Safepoints);
        while !hs.poll_requested() {
            thread::yield_now();
        }
        assert_eq!(hs.allocation_answer_due(&ack), None, "a safepoint-only round answered at an allocation");
        hs.safepoint_slow(id, &ack, &mut || {});
        collector.join().unwrap();
        // A round that allows it: the allocation answers, once.
        let collector = round(AnswerAt::SafepointsAndAllocations);
        let seq = loop {
            if let Some(seq) = hs.allocation_answer_due(&ack) {
                break seq;
            }
            thread::yield_now();
        };
        assert_eq!(seq, 2);
        hs.acknowledge(&ack, seq);
        assert_eq!(hs.allocation_answer_due(&ack), None, "answered already");
        let (_, waited_for) = collector.join().unwrap();
        assert!(waited_for <= 1);
        // The next round is for safepoints again: the earlier permission does not carry over.
        let collector = round(AnswerAt::Safepoints);
        while !hs.poll_requested() {
            thread::yield_now();
        }
        assert_eq!(hs.allocation_answer_due(&ack), None);
        hs.safepoint_slow(id, &ack, &mut || {});
        collector.join().unwrap();
        hs.unregister(id, || {});
    }

    /// A thread that attaches mutator `id` (waiting out any stop), and a flag it sets once
    /// attached.
    fn spawn_attach(hs: &Arc<Handshake>, id: usize) -> (thread::JoinHandle<()>, Arc<AtomicBool>) {
        let attached = Arc::new(AtomicBool::new(false));
        let t = {
            let (hs, attached) = (hs.clone(), attached.clone());
            thread::spawn(move || {
                hs.attach(id);
                attached.store(true, O::SeqCst);
            })
        };
        (t, attached)
    }

    static YIELDS: AtomicUsize = AtomicUsize::new(0);

    fn count_yield() {
        YIELDS.fetch_add(1, O::SeqCst);
    }

    #[test]
    fn an_idle_stop_stops_only_a_world_where_nobody_runs_and_yields_to_whoever_wants_to_run() {
        let _s = test_support::serial();
        YIELDS.store(0, O::SeqCst);
        let hs = Arc::new(Handshake::default());
        let id = hs.register("m".into());
        assert!(!hs.stop_if_idle(count_yield), "a mutator runs");
        assert!(!hs.world_stopped() && !hs.poll_requested());
        hs.detach(id, || {});
        assert!(hs.stop_if_idle(count_yield), "nobody runs");
        assert!(hs.world_stopped() && !hs.yield_wanted());
        let (t, attached) = spawn_attach(&hs, id);
        while YIELDS.load(O::SeqCst) == 0 {
            thread::yield_now();
        }
        assert!(hs.yield_wanted(), "the attaching thread asked for the world");
        assert!(!attached.load(O::SeqCst), "it waits for the world to start");
        assert!(hs.start_the_world(), "ending the stop reports that a thread wanted to run");
        t.join().unwrap();
        assert!(attached.load(O::SeqCst) && hs.state_of(id) == MutatorState::Running);
        assert_eq!(YIELDS.load(O::SeqCst), 1, "one call per waiting thread");
        // An ordinary stop calls no hook; `yield_wanted` tells of the last idle stop only.
        hs.detach(id, || {});
        hs.stop_the_world(Duration::from_secs(60));
        let t = {
            let hs = hs.clone();
            thread::spawn(move || hs.attach(id))
        };
        thread::sleep(Duration::from_millis(20));
        assert!(!hs.start_the_world(), "not an idle stop");
        t.join().unwrap();
        assert_eq!(YIELDS.load(O::SeqCst), 1, "no hook outside an idle stop");
        // A new idle stop starts with nobody wanting to run, and ends so.
        hs.detach(id, || {});
        assert!(hs.stop_if_idle(count_yield) && !hs.yield_wanted());
        assert!(!hs.start_the_world(), "nobody wanted to run");
        hs.unregister(id, || {});
    }

    #[test]
    fn attaching_waits_for_the_world_to_start() {
        let _s = test_support::serial();
        let hs = Arc::new(Handshake::default());
        let id = hs.register("m".into());
        hs.detach(id, || {});
        hs.stop_the_world(Duration::from_secs(60));
        let (t, attached) = spawn_attach(&hs, id);
        thread::sleep(Duration::from_millis(50));
        assert!(!attached.load(O::SeqCst), "re-attached during a pause");
        hs.start_the_world();
        t.join().unwrap();
        assert!(attached.load(O::SeqCst));
        assert_eq!(hs.state_of(id), MutatorState::Running);
        hs.unregister(id, || {});
    }

    /// Registering waits for a stopped world to start and says so (the new mutator records the
    /// wait as its first pause: it has no pause log before it is registered).
    #[test]
    fn registering_waits_out_a_stop_and_says_it_waited() {
        let _s = test_support::serial();
        let hs = Arc::new(Handshake::default());
        let (id, waited) = hs.register_after_any_stop("first".into());
        assert!(!waited, "the world was running");
        hs.unregister(id, || {});
        hs.stop_the_world(Duration::from_secs(60));
        let t = {
            let hs = hs.clone();
            thread::spawn(move || hs.register_after_any_stop("second".into()))
        };
        thread::sleep(Duration::from_millis(20));
        assert!(!t.is_finished(), "registered during a stop");
        hs.start_the_world();
        let (id, waited) = t.join().unwrap();
        assert!(waited, "the registration waited for the world to start");
        assert_eq!(hs.state_of(id), MutatorState::Running);
        hs.unregister(id, || {});
    }
}
