//! The collector: the cycle, step by step.
//!
//! A cycle runs on the collector thread when the pacer or [`Mutator::collect`](crate::Mutator::collect) asks for one.
//! In [`Mode::Concurrent`]:
//!
//! 1. **Sweep termination** (world running). Finish sweeping the previous cycle's pages, so
//!    the heap figures the pacer and the trace line use are exact, and every page's mark bits
//!    are clear before this marking sets them (see `mark_bits.rs`, "When bits are valid").
//!    (Unlike Go, this does not need the world stopped: the pages mutators cached were handed
//!    back at the handshake after the last termination, and no sweep waits for a destructor.)
//! 2. **Mark start** (world stopped, pause 1).
//!    a. Stop the world: every mutator parks at a safepoint, publishing its shade buffer;
//!    detached mutators are not waited for.
//!    b. Discard any stale queue entries; reset the assist credit; start a new mark epoch
//!    (from now on, new objects are black); choose the cycle's barrier; set the phase to `Mark` — the barrier is on —
//!    while holding the root-table lock, so no root can be dropped half-way across the flip.
//!    c. Start the world. Every mutator has seen the barrier on before it runs again.
//! 3. **Concurrent mark** (world running, barrier on, allocation black).
//!    a. Scan the roots: shade every root. Roots made later are shaded when made.
//!    b. Drain the shade queue with the mark workers; mutators that allocate assist. Each
//!    drain is an exclusive job beside the running mutators (`Config::exclusive_marking`: one
//!    worker sets the bits of each 4 KiB, with plain stores; see `object/exclusive.rs`).
//!    c. When the queue is quiescent, run a ragged handshake: each running mutator publishes
//!    its buffer of candidates at its next safepoint. Set the marks that mutators set and a
//!    drain may have undone again (`mutator_marks.rs`). If the round produced work, go back to
//!    (b).
//! 4. **Mark termination** (world stopped, pause 2).
//!    a. Stop the world (each mutator publishes its buffer as it parks) and take the root-table
//!    lock (publishing the grey objects that stores on threads without a running mutator —
//!    a root dropped on any thread, a slot emptied by a destructor — shaded into it).
//!    b. Set the mutators' logged marks again (as in 3(c)). If any grey object is left
//!    (queued, held by a worker, or deferred because its
//!    collection was locked), start the world again and go back to 3(b); after three such
//!    retries, drain inside the pause, so marking always terminates. Then the weak maps'
//!    fixpoint, inside the pause: values owed to keys marked since their maps were scanned are
//!    shaded and drained, until a pass shades nothing (`marker/ephemerons.rs`). Draining never holds the
//!    root-table lock: a thread without a mutator may hold a collection's lock while it waits
//!    for that table (see `marker/mod.rs`, "Locked collections").
//!    c. Phase `MarkTermination`. With checkmark on, re-mark from the roots into a separate
//!    table and abort on any reachable object the concurrent mark missed (if a collection on
//!    the way is locked, release the table, let the holder finish, and confirm again).
//!    d. Record the marking's epoch as the verdict for weak references (upgrades of unmarked
//!    referents now fail), set the phase to `Sweep` — barrier off — and start the world.
//! 5. **Weak references** (world running). Clear the weak cells of unmarked referents and remove
//!    the weak maps' entries whose keys are unmarked (`weak_map_table.rs`); a ragged handshake
//!    makes sure no upgrade that read a cell before it was cleared is still running (answered
//!    at a safepoint or where an allocation refills its cache: see "Rounds answered at an
//!    allocation"); then publish the sweep epoch: objects this cycle did not mark are now dead.
//! 6. **Sweep** (world running, barrier off). A second ragged handshake (answered at
//!    allocations too): every mutator hands back the pages it cached before the termination
//!    when it acknowledges (so garbage in any thread's cache is reached). The collector then
//!    sweeps every unswept page and the large objects; allocators sweep pages they need first
//!    (lazy sweep). No sweeper runs a destructor: pages with dead objects that need drop go to
//!    the finalizer thread (see `heap/finalize.rs`), which `collect` waits for. When all is swept: phase `Off`, record
//!    the cycle, set the pacer's next goal.
//!
//! In [`Mode::StopTheWorld`] the same steps run inside one pause: stop, finish sweep, mark
//! from the roots, (checkmark,) clear weak references, sweep, start; then the handshake of
//! step 6 reaches the pages mutators kept cached through the pause. That is the
//! `if false` switch of Go's first write-barrier change (golang.org/cl/172190043, 2014): the
//! baseline for benchmarks and a debugging aid.
//!
//! Every pause also pins every live object if a thread ended with its mutator leaked since the
//! last pause (see `thread_state/mod.rs`, "Threads that exit"): a copy of each page's bitmap of
//! live slots, a few words per page (`heap/live_snapshot.rs`). A termination pause that pins
//! is retried like one that found grey objects, and the pinned objects still unmarked are
//! shaded with the world running again, as the roots are after mark start. A panic on this thread — a bug: user
//! code here is always caught — aborts the process with a message instead of leaving the world
//! stopped.
//!
//! # Per-thread handshakes (the default)
//!
//! With [`Config::handshakes`](crate::Config) on, steps 2 and 4 stop nobody. Each becomes a
//! series of handshake rounds (`handshake.rs`, "Ragged flush"): the collector asks, every
//! running mutator answers at its own next safepoint — publishing its shade buffer, taking the
//! new mark epoch for its allocations — and goes on; the collector, not the other mutators,
//! waits for the last answer. These are the on-the-fly collectors of Doligez, Leroy and
//! Gonthier (POPL '93/'94) and Domani et al. (PLDI 2000), and HotSpot's thread-local
//! handshakes (JEP 312). What makes them possible without preempting threads: at a safepoint a
//! thread holds no GC pointer (the borrow checker proves it), and every pointer store and every
//! new root is barriered. A thread that runs long without a safepoint delays the cycle, never
//! another thread.
//!
//! ## Mark start without a pause
//!
//! 2'. a. Holding the root-table lock: discard stale queue entries, reset the assist credit,
//!    advance the mark epoch and turn the barrier on in the *mark-start window*: phase `Mark`,
//!    but nothing is scanned (assists check `clock::scanning_allowed`; the workers have not
//!    started). The window's barrier is Dijkstra for a Dijkstra cycle, hybrid (both shades)
//!    for a Yuasa or hybrid one.
//!    b. One handshake round for Dijkstra, two for Yuasa and hybrid. A mutator's answer also
//!    takes the new epoch for its allocations (`heap/cache.rs`, "Whose mark epoch"): it
//!    allocates white before, black after.
//!    c. Holding the root-table lock: the cycle's own barrier, scanning allowed. Then step 3,
//!    whose root scan comes after every answer.
//!
//! Why each barrier is sound — the world-stopped version (step 2) makes every mutator see the
//! barrier on before anything is scanned, and the window gives the same guarantee per thread:
//!
//! - **Dijkstra** keeps "no black object points to a white one". Until the round ends, no object
//!   is black: nothing is scanned, and only a mutator that has answered allocates black. A black
//!   object made by a mutator A that answered reaches another mutator B only through a store by
//!   A and a load by B (slots and roots are Release/Acquire; so are channels and locks), which
//!   orders the collector's barrier-on before B's next store: B's stores into it are
//!   barriered even if B has not answered yet. After the round every store shades what it
//!   stores, roots made later are shaded when made, and the roots are scanned after the round:
//!   the invariant holds from the first scan on. One round is enough.
//! - **Yuasa and hybrid** (snapshot at the beginning) need every object reachable at the
//!   snapshot — the root scan — marked. The first round makes sure every mutator's deletion
//!   barrier is on. The second makes sure every mutator has passed a safepoint since, so every
//!   pointer a mutator holds at the snapshot was loaded from the heap while every deletion
//!   barrier was on, and removing it from the heap afterwards shades it (DLG's two
//!   synchronous handshakes). A pointer loaded before the second round could have been
//!   unlinked, unshaded, by a thread that had not answered the first, and stored later into
//!   a scanned object; the second round kills it. Objects allocated black before the snapshot
//!   are never scanned, so until the snapshot the window's barrier also shades the stored
//!   pointer (hybrid): whatever is stored into them is grey.
//!
//! **Which stores in the window shade the stored pointer.** Only a store into a black object
//! needs that shade (a white or grey object is scanned after the round, and sees the store),
//! and in the window the only black objects are those allocated black. So the window's barrier
//! shades a stored pointer only once some mutator has taken the marking's epoch to allocate
//! with (`clock::BarrierState::shades_new`; each answer takes it, and so does an attach).
//! A thread that finds no view taken has not answered itself, so its store comes before its
//! answer and before any scan; and it cannot hold another thread's black object, because
//! receiving one synchronises with that thread's taking of the view. The deletion shades
//! (Yuasa, hybrid) stay on throughout. What this buys: while the collector waits for a slow
//! thread's answer, the objects the other threads fill stay white and die in this cycle if
//! they are garbage by the root scan — before, every pointer stored in the window was marked,
//! and a program that built a large structure and dropped it during the wait kept it for a
//! whole cycle and paced the next one on it. The loom model `ragged start: Dijkstra, black
//! allocation in the window` checks the rule, with controls that shade only after the storing
//! thread's own answer, never in the window, or take no views at the answers.
//!
//! ## Termination without a pause
//!
//! 4'. Repeat: drain the queue with the workers; a handshake round (every mutator publishes its
//!    buffer); then, holding the root-table lock (orphan shades published) and the weak gate
//!    exclusively, decide: marking is over if the queue is done (quiescent, nothing deferred),
//!    *and then* — read after that — no buffer was published or taken up since before the
//!    round and the number of busy workers is what it was then
//!    ([`GreyQueue::stamp`](crate::shade::GreyQueue)), *and* no unmarked object was upgraded
//!    from a weak reference (or read out of a weak map) since before the round (`weak.rs`),
//!    *and* a pass over the weak maps' holders shades nothing (`marker/ephemerons.rs`; why
//!    that suffices is in `collections/weak_map.rs`). If so, still holding both: the
//!    weak verdict, phase `MarkTermination`, then `Sweep` (barrier off). No drain ever runs
//!    inside a pause. After [`MAX_RAGGED_ROUNDS`] rounds that found work (or
//!    [`MAX_UPGRADE_ONLY_ROUNDS`] that found only weak upgrades), or when a leaked
//!    mutator's thread ended (pinning needs the world stopped), the termination stops the
//!    world instead (step 4). With checkmark on, the decision is confirmed with the world
//!    stopped: nothing may be grey, and checkmark must find every reachable object marked.
//!
//! Why a quiet round is enough. Call a shaded object that no worker has scanned yet *grey* —
//! in a mutator's buffer, the queue, a worker's or assist's stack, the deferred list. Take a
//! round that ran from `s` (stamp read) to `e` (the queue found done), with the stamp read
//! again after `e` unchanged: nothing was published or taken up in `[s, e]`, and as nobody is
//! busy at `e`, nobody held grey work at `s` either (the busy count is part of the stamp: a
//! worker that finished in the round lowered it, and raising it again takes a new entry).
//! Suppose
//! some mutator M shaded a white object W at a time `t` in the round after M answered (before
//! its answer, its flush would have published W and moved the stamp). M holds no pointer
//! across its answer, so W — a pointer M stores, loaded after its answer, or the one its store
//! overwrites — was in a slot or root after M's answer: W was reachable at `t`.
//! By the barrier's invariant (Dijkstra: no black-to-white edge; Yuasa: every white snapshot
//! object is protected by a grey one), a path to W passes through a grey object G at `t`. If G
//! is in the queue or a worker's hands, it is scanned by `e` (the queue is done then), and it
//! was taken up after `s` — which moves the stamp — for nobody held grey work at `s`. (Both halves
//! matter, and the loom models have a control for each: read the stamp before the queue, and
//! a worker takes and finishes G between the two reads; leave the busy count out, and a
//! worker that took G before `s` finishes it in the round unseen.) If G is in a mutator's buffer, it
//! is published at that mutator's answer if that comes after `t`, which moves the stamp — or G
//! was shaded after that mutator's answer, and the same reasoning applies to G at an earlier
//! time. The chain of earlier times is finite, so it ends in a stamp change: contradiction.
//! Hence in a quiet round nothing white was shaded after its shader's answer, nothing is grey
//! at `e`, and every reachable object is marked; from then on a mutator can only load marked
//! objects and allocates black, so turning the barrier off — each thread seeing it at its own
//! moment — loses nothing. A weak upgrade is the one way to get a pointer that is not reachable;
//! the gate makes each upgrade of an unmarked object either move the count before the decision
//! or come after the verdict and fail. Before the sweep epoch is published, a further round
//! (step 5) makes sure no barrier slow path that saw the barrier on is still running.
//!
//! A leaked mutator's thread that ends is removed from the round without answering, and it
//! may have held a pointer across the round: a `'static` borrow of its mutator, which also
//! kept it from answering earlier rounds. So a round in which such a thread ended decides
//! nothing; the termination stops the world to pin (step 4). A leaked mutator whose thread
//! ends after the decision answered the deciding round, so what it lends is marked; its
//! objects are pinned at the next cycle's first pause.
//!
//! # Stacks, and why locals need no rescan
//!
//! Go 1.5 had to rescan stacks at termination because stack writes were not barriered. Here
//! locals cannot be alive at a safepoint, so at every pause all pointers the mutators hold are
//! in slots or roots, both barriered, or in their value stacks: the Dijkstra invariant (no
//! black object points to a white one) plus "every root is grey or black" gives that every
//! reachable object is marked when the queue is empty with the world stopped. Value stacks
//! (`value_stack.rs`) are the one root region written without a barrier: each mutator scans
//! its own at its answers and parks — under Dijkstra at every one while marking, which is
//! Go 1.5's rescan — and the collector scans those of stopped mutators, in `mark_from_roots`
//! and for checkmark (`stack_scan.rs` has the rules and why they suffice).
//!
//! # Rounds answered at an allocation
//!
//! A thread that allocates a large structure between two safepoints (a deep tree built in one
//! recursive call) would hold up every round for as long as the build takes, and with them the
//! memory the cycle frees: until the sweep epoch is published, a thread that needs a page takes
//! a new one. So the rounds that ask nothing about locals may also be answered where an
//! allocation refills its cache (`handshake.rs`, "Rounds answered at an allocation"); the
//! answer there publishes the shade buffer, takes up the cycle's allocation colour and hands
//! back stale pages, as at a safepoint, but does not scan the value stacks (a view of one may
//! be open while allocating). An allocation is never inside a barrier's slow path or a weak
//! read, and none is answered while user code runs under a collection's lock
//! (`thread_state/user_code.rs`). The rounds:
//!
//! - **Publish sweep** (step 5): it asks that no weak read that loaded a cell before the
//!   clearing, and no barrier slow path that saw the barrier on, is still running. Neither
//!   contains an allocation.
//! - **Hand back pages** (step 6): it asks for the pages cached before the termination; a
//!   refill hands them back anyway.
//! - **Termination** and the stop-the-world fallback's **flush**: safepoints only — a quiet
//!   round means something only if no thread held a local across its answer (above).
//! - **Mark start**: safepoints only. Under Yuasa and hybrid the snapshot could miss a local
//!   held across the answer. Under Dijkstra an answer at an allocation would be sound (the
//!   barrier shades a local when it is stored; value stacks are rescanned at termination),
//!   but it does not pay: the thread then allocates black for the rest of the structure it is
//!   building, which survives the cycle even if it dies at once. Measured on binary-trees
//!   depth 18 (one 12 MB tree per safepoint): 24 → 36 MB marked per cycle, a heap goal half as
//!   large again, peak RSS 67 → 92–98 MiB. Waiting for the safepoint lets that tree die white.
//!
//! # Drains while no mutator runs
//!
//! A concurrent marking sets mark bits with locked instructions, because mutators set them
//! too (barrier shades, black allocation, assists). With `Config::idle_exclusive_marking`, a
//! drain that begins while no mutator is running — every one parked, detached, blocked or
//! waiting in `collect` — stops the world for itself, which waits for nobody
//! (`handshake.rs`, "Idle stops"), and runs as an exclusive job, as a drain inside a pause
//! does (`object/exclusive.rs`). A thread that wants to run meanwhile gives the job up and
//! waits: the workers see it at their next check and hand their work back, the world starts,
//! and the collector marks the forwarded leftovers and drains the rest with locked
//! instructions and the configured workers alone. Off by default: the thread that comes back
//! waits tens of microseconds, now and then milliseconds on a busy machine (the workers must
//! get a core to notice), where without it a concurrent cycle never makes a thread wait for
//! marking (`bench/tools` `return_latency`).
//!
//! # Termination detection
//!
//! The global queue being empty is not enough: a mutator may hold grey objects in its buffer,
//! a worker or assist may hold some on its private stack. Workers count themselves busy
//! before popping (see `grey_queue.rs`), buffers are flushed by the ragged handshake, and the final
//! check is repeated with the world stopped, when no mutator can shade.

pub(crate) mod pacer;
mod parallel_sweep;

/// Where the mutators may answer a round of `kind` (see "Rounds answered at an allocation").
fn answer_at(kind: HandshakeKind) -> AnswerAt {
    match kind {
        HandshakeKind::PublishSweep | HandshakeKind::HandBackPages => AnswerAt::SafepointsAndAllocations,
        HandshakeKind::MarkStart | HandshakeKind::Termination | HandshakeKind::Flush => AnswerAt::Safepoints,
    }
}

use std::time::{Duration, Instant};

use crate::{
    checkmark,
    clock::{self, Phase},
    config::{BarrierKind, Config, Mode},
    handshake::AnswerAt,
    heap::SweepTotals,
    marker::{self, EphemeronPass, MarkWorker, QuietHolders},
    mutator_marks,
    object::{
        exclusive::{self, MAX_OWNERS},
        trace::PAUSE_LOCK_PATIENCE,
    },
    owned_bytes,
    primitive::sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Condvar, Mutex, MutexGuard,
    },
    report,
    root_table::RootGuard,
    runtime::Runtime,
    shared_slice, stack_scan,
    stats::{CycleStats, HandshakeKind, HandshakeRound, MarkWork, Pause, PauseKind, PhaseChange},
    thread_state,
};

/// How long a thread in a stop-the-world `collect` polls for its cycle's pause to begin before
/// it parks (see [`Control::collect_and_wait`]). The collector thread normally stops the world
/// 20–100 µs after the request.
const POLL_BEFORE_PAUSE: Duration = Duration::from_millis(1);

/// Termination attempts that resume concurrent marking before the pause drains the rest.
const MAX_TERMINATION_RETRIES: u32 = 3;

/// Handshake rounds that found new grey work (or a weak upgrade of an unmarked object) before
/// the collector terminates marking with the world stopped instead (see "Termination without
/// a pause"): a thread that keeps upgrading a weak reference in a loop must not keep marking
/// from ending.
const MAX_RAGGED_ROUNDS: u32 = 64;

/// Of those, rounds busy only because a thread upgraded a weak reference to an unmarked object
/// (no grey work moved) before the collector stops the world: a thread polling a weak cache in
/// a loop makes every round such a round, and 64 of them made each cycle's termination last
/// milliseconds (a `collect` of a near-empty heap took 7–9 ms against 25–119 µs without the
/// poller, in a hostile review's measurement). A stopped world ends it in one round.
const MAX_UPGRADE_ONLY_ROUNDS: u32 = 8;

/// The heap at mark start below which a cycle marks with the configured workers only: no idle
/// mark workers, no extra workers inside a pause. Marking it takes well under a millisecond,
/// and every extra worker is a thread to wake and wait for — in a program that collects very
/// often (`collect` in a loop, the Lox VM's stress mode) those wake-ups cost a fifth of each
/// small cycle (churn.lox in stress mode: 24–34k cycles per 5 s with idle workers, 36–40k
/// without, three interleaved pairs).
const PARALLEL_MARK_MIN_HEAP: usize = 1 << 20;

/// What one handshake round of the termination found.
enum RaggedRound {
    /// Marking is over: the weak verdict is set; the root table is still locked.
    Over(RootGuard<'static>),
    /// Grey work was published, taken up or is left (`upgrades_only` false), or only an unmarked
    /// object was upgraded (true).
    Busy { upgrades_only: bool },
    /// A leaked mutator's thread ended: pin with the world stopped before deciding.
    MustStop,
}

#[derive(Default)]
struct Requests {
    requested: u64,
    started: u64,
    completed: u64,
    /// Finalization work queued by the end of the last completed cycle: what `collect` waits
    /// for after its cycle (see `heap/finalize.rs`).
    finalize_target: u64,
}

/// Requests for cycles, from the pacer and from `collect`.
#[derive(Default)]
pub(crate) struct Control {
    requests: Mutex<Requests>,
    wake_collector: Condvar,
    cycle_done: Condvar,
    pending: AtomicBool,
    /// `Requests::completed`, readable without the lock: a thread polling for its cycle's mark
    /// job must not take the lock the collector needs to start that cycle.
    completed: AtomicU64,
}

impl Control {
    /// Ask for a cycle without waiting (pacer). Cheap when one is already pending or running.
    pub(crate) fn request_background(&self) {
        if self.pending.load(Ordering::Relaxed) {
            return;
        }
        let mut r = self.requests.lock();
        if r.requested <= r.started && r.started == r.completed {
            r.requested = r.started + 1;
            self.pending.store(true, Ordering::Relaxed);
            self.wake_collector.notify_one();
        }
    }

    /// Wake the collector thread if it waits between cycles, without asking for a cycle (it
    /// re-reads the settings it uses while idle).
    pub(crate) fn wake_idle(&self) {
        let _r = self.requests.lock();
        self.wake_collector.notify_one();
    }

    /// Ask for a full cycle that starts after this call, and wait until it has swept. Returns
    /// the finalization mark to wait for (every object the cycle found dead is finalized once
    /// the finalizer has done that much work).
    ///
    /// With `marks_with` (a runtime in stop-the-world mode), the thread does not park at once:
    /// it polls for the cycle's jobs — its marking's, its sweep's — yielding its core between
    /// polls, and joins each that has room, until the cycle's pause is over or a job is full
    /// (see `marker/pool.rs`, "Threads waiting in `collect` join"), or — if the pause has not
    /// begun — for [`POLL_BEFORE_PAUSE`] at most; then it parks. At most one
    /// thread per core but one polls; the others park at once. Its caller is detached, so no
    /// pause waits for it. It polls without the requests lock, which the collector takes to
    /// start the cycle: a poller that held it between polls kept the woken collector waiting
    /// for it (20–45 µs of a 4 ms collection).
    pub(crate) fn collect_and_wait(&self, marks_with: Option<&'static Runtime>) -> u64 {
        let cores = cores();
        let mut r = self.requests.lock();
        let target = r.started + 1;
        r.requested = r.requested.max(target);
        self.pending.store(true, Ordering::Relaxed);
        self.wake_collector.notify_one();
        let poller = marks_with.and_then(|rt| Some((rt, rt.mark_pool.poller(cores - 1)?)));
        if let Some((rt, poller)) = poller {
            // This cycle has not begun (the lock keeps it from starting), though an earlier
            // request's may be under way: the caller detached before taking the lock. Poll
            // while a pause runs — whichever cycle's: its jobs are work this thread can take —
            // and before that only until this cycle's marking begins (a new epoch) or for
            // `POLL_BEFORE_PAUSE` at most: a stop held up by a mutator slow to reach a
            // safepoint, or a cycle that marks with the world running (the mode was changed
            // meanwhile), must not keep this thread spinning.
            let epoch_before = clock::mark_epoch();
            let after = rt.mark_pool.latest_job();
            drop(r);
            let give_up_at = Instant::now() + POLL_BEFORE_PAUSE;
            rt.mark_pool.poll_and_join(rt, after, || {
                self.completed.load(Ordering::Acquire) < target
                    && (rt.handshake.world_stopped()
                        || (clock::mark_epoch() == epoch_before && Instant::now() < give_up_at))
            });
            drop(poller);
            r = self.requests.lock();
        }
        while r.completed < target {
            self.cycle_done.wait(&mut r);
        }
        r.finalize_target
    }
}

/// The collector thread's loop.
pub(crate) fn run(rt: &'static Runtime) {
    thread_state::enter_collector_thread();
    // Asked here, off every collection's path: the first answer reads the cgroup's files
    // (about 110 µs, which the first `collect` of a process used to spend holding the
    // requests lock).
    cores();
    // The sweep counters when the last cycle ended: each cycle's record counts what was freed
    // from there to its own end, so consecutive records cover every free exactly once.
    let mut swept_at_last_end = rt.pages.swept.totals();
    let mut last_cycle_end = Instant::now();
    loop {
        let mut unasked = false;
        {
            let mut r = rt.control.requests.lock();
            while r.requested <= r.started {
                let (scavenge_after, force_after) = {
                    let config = rt.config.lock();
                    // Not under Miri, whose clock runs with the interpreted work (5 µs a basic
                    // block): two minutes pass every few seconds of a test, and the cycles
                    // would be interpreted work the tests do not ask for.
                    (config.scavenge_after, config.force_cycle_after.filter(|_| !cfg!(miri)))
                };
                // A cycle on a timer when none ran for `force_cycle_after` (see the setting):
                // an idle program's dead objects are found, freed and finalized all the same.
                // (A period too long for the clock — `Duration::MAX` — never comes due.)
                let force_in = force_after
                    .and_then(|after| last_cycle_end.checked_add(after))
                    .map(|due| due.saturating_duration_since(Instant::now()));
                if force_in == Some(Duration::ZERO) {
                    if rt.pages.live_bytes() > 0 {
                        r.requested = r.started + 1;
                        rt.control.pending.store(true, Ordering::Relaxed);
                        unasked = true;
                        break;
                    }
                    // An empty heap: nothing to find. Look again a period later.
                    last_cycle_end = Instant::now();
                    continue;
                }
                let force_wait = force_in.map(|wait| wait.max(MIN_SCAVENGE_WAIT));
                // Slots the finalizer finished with since the last cycle's sweep: freed here
                // (the finalizer wakes this thread when it has done its work), or an idle heap
                // would keep their pages until the next cycle — also with the scavenger off, for
                // allocation to reuse. Not under the requests lock.
                MutexGuard::unlocked(&mut r, || rt.pages.free_finalized());
                if r.requested > r.started {
                    continue; // asked meanwhile
                }
                // Between cycles, the scavenger (see `heap/pool.rs`): it makes system calls, so
                // not under the requests lock; a request made meanwhile is seen below.
                let Some(delay) = scavenge_after else {
                    match force_wait {
                        Some(wait) => {
                            rt.control.wake_collector.wait_for(&mut r, wait);
                        }
                        None => rt.control.wake_collector.wait(&mut r),
                    }
                    continue;
                };
                let next_due = MutexGuard::unlocked(&mut r, || scavenge(rt, delay));
                if r.requested <= r.started {
                    // Pages may also empty without a cycle (the finalizer, lazy sweeps): look
                    // again after `delay` at the latest.
                    let wait = next_due.map_or(delay, |due| due.min(delay)).max(MIN_SCAVENGE_WAIT);
                    let wait = force_wait.map_or(wait, |force| force.min(wait));
                    rt.control.wake_collector.wait_for(&mut r, wait);
                }
            }
            r.started += 1;
        }
        // A cycle on the timer warns of slow mutators only while a thread waits for it (see
        // `handshake.rs`, "Slow mutators").
        rt.handshake.set_unasked(unasked);
        report::or_abort("collector thread", || run_cycle(rt, &mut swept_at_last_end));
        rt.handshake.set_unasked(false);
        last_cycle_end = Instant::now();
        let finalize_target = rt.pages.finalizer.enqueued();
        let mut r = rt.control.requests.lock();
        r.completed += 1;
        rt.control.completed.store(r.completed, Ordering::Release);
        r.finalize_target = finalize_target;
        if r.requested <= r.started {
            rt.control.pending.store(false, Ordering::Relaxed);
        }
        rt.control.cycle_done.notify_all();
    }
}

/// The shortest the collector thread waits between two scavenges, so that a delay of zero does
/// not make it spin.
const MIN_SCAVENGE_WAIT: Duration = Duration::from_millis(10);

/// Release the memory of pages empty for `delay` beyond what the pacer expects the heap to
/// need; returns when the next page comes due.
fn scavenge(rt: &Runtime, delay: Duration) -> Option<Duration> {
    rt.pages.scavenge(delay, rt.pacer.scavenge_retain()).next_due
}

/// The finalizer thread's loop: run destructors of dead objects as sweepers hand them over.
pub(crate) fn run_finalizer(rt: &'static Runtime) {
    thread_state::enter_collector_thread();
    loop {
        if report::or_abort("finalizer thread", || rt.pages.finalize_next()) {
            // An idle collector thread frees the finalized slots (see `run`), whether or not
            // the scavenger runs.
            rt.control.wake_idle();
        }
    }
}

/// Builds the cycle record as the cycle goes.
struct Cycle {
    rt: &'static Runtime,
    config: Config,
    stats: CycleStats,
    /// Whether marking runs with the world stopped (then every core marks).
    marking_in_pause: bool,
    /// The live GC heap when marking began.
    heap_at_mark_start: usize,
    /// The pacer's heap (the GC heap and the owned bytes) when marking began: the pacer's
    /// runway is what it grew by until marking terminated.
    paced_at_mark_start: usize,
    /// The running total of charges of owned bytes (`owned_bytes.rs`) when marking began and
    /// when it terminated, the owned bytes then, and the running total of releases then: what
    /// was charged while marking counts live, as objects allocated black do, and what was
    /// owned at termination and not found live is dead.
    charged_at_mark_start: u64,
    charged_at_termination: u64,
    owned_at_termination: usize,
    released_at_termination: u64,
    /// No more exclusive jobs in this marking: one was given up because forwarding dominated
    /// (see `object/exclusive.rs`). (The record of mutators' marks going over its limit only
    /// ends the jobs beside running mutators: `stats.mark_log_over_limit`.)
    exclusive_off: bool,
}

impl Cycle {
    /// Record a phase change the clock just made.
    fn record(&mut self, phase: Phase, world_stopped: bool) {
        debug_assert_eq!(clock::phase(), phase);
        self.stats.phases.push(PhaseChange { phase, world_stopped });
    }

    /// Stop the world before marking; returns when the stop was requested and how long it
    /// took. Pins every live object first if a leaked mutator's thread ended since the last
    /// pause: the marking about to start scans them with the roots.
    fn stop(&mut self) -> (Instant, Duration) {
        debug_assert!(!clock::barrier_on(), "a stop while marking is `stop_to_terminate`");
        let t = self.stop_without_pinning();
        self.pin_for_leaked_mutators();
        t
    }

    /// Stop the world to terminate the marking in progress; returns when the stop was
    /// requested and how long it took, and whether it pinned objects (a leaked mutator's thread
    /// ended), which the marking must still shade ([`Cycle::shade_pinned`]) before it may end.
    fn stop_to_terminate(&mut self) -> ((Instant, Duration), bool) {
        let t = self.stop_without_pinning();
        (t, self.pin_for_leaked_mutators())
    }

    /// Stop the world, leaving leaked mutators' exits for the next [`Cycle::stop`] to pin.
    /// Only for the checkmark's confirmation of a handshake decision: a leaked mutator whose
    /// thread ended after that decision answered the deciding round, so everything it lent
    /// was marked (see "Termination without a pause"); pinning now would shade this cycle's
    /// garbage after marking is over.
    fn stop_without_pinning(&mut self) -> (Instant, Duration) {
        let t = Instant::now();
        self.rt.handshake.stop_the_world(self.config.safepoint_warn);
        (t, t.elapsed())
    }

    /// World stopped: if threads ended with leaked mutators, pin every object alive now (see
    /// `thread_state/mod.rs`, "Threads that exit"); returns whether it did. The pause costs a
    /// few words per page (`heap/live_snapshot.rs`). A marking in progress must then shade
    /// those of them it has not marked before it may end ([`Cycle::shade_pinned`]).
    fn pin_for_leaked_mutators(&mut self) -> bool {
        if self.rt.handshake.take_leaked_exits() == 0 {
            return false;
        }
        // SAFETY: the world is stopped, this is the current sweep epoch, and the snapshot becomes
        // the pinned set: its objects are roots from now on.
        let live = unsafe { self.rt.pages.live_snapshot(clock::sweep_epoch()) };
        let n = live.len();
        // SAFETY: `live_snapshot` holds every object alive now; the world is stopped.
        unsafe { self.rt.roots.lock().pin(live) };
        report::line(format_args!("gc: pinned {n} objects alive when a thread with a leaked Mutator ended"));
        true
    }

    /// Shade the pinned objects whose mark bits are clear, for the marking in progress: after
    /// a stop that pinned them, with the world running again (or, if the termination's retries
    /// are spent, inside its pause). Any allocated object may be shaded at any time while
    /// marking; and until this is done the marking cannot end — the pinning stop's termination
    /// was retried — so no pinned object is swept. What a pinned object held at the stop is
    /// reached through it, or was shaded by the barrier when it was overwritten, as for the
    /// roots the marking scans after its start.
    fn shade_pinned(&mut self) {
        let pinned = self.rt.roots.pinned_set();
        let mut w = MarkWorker::new(&self.rt.grey);
        pinned.for_each_on_clear_bits(|p| {
            // SAFETY: a pinned object is allocated for the rest of the process.
            unsafe { w.shade_root(p.as_ptr()) }
        });
        w.publish_all();
        self.note(w.work());
    }

    /// A handshake (every running mutator answers at its own next safepoint, or where it
    /// refills its allocation cache if the round allows it), recorded with the collector's
    /// latency.
    fn handshake(&mut self, kind: HandshakeKind) {
        let started_at = self.rt.started.elapsed();
        let at = answer_at(kind);
        let (latency, waited_for) = self.rt.handshake.ragged_flush(self.config.safepoint_warn, at);
        self.stats.handshakes.push(HandshakeRound { kind, started_at, latency, waited_for });
    }

    fn start(&mut self, (requested, time_to_safepoint): (Instant, Duration), kind: PauseKind) {
        self.rt.handshake.start_the_world();
        let started_at = requested.saturating_duration_since(self.rt.started);
        self.stats.pauses.push(Pause { kind, started_at, duration: requested.elapsed(), time_to_safepoint });
    }

    /// Record the heap as marking begins (see the fields).
    fn note_mark_start(&mut self) {
        self.heap_at_mark_start = self.rt.pages.live_bytes();
        self.paced_at_mark_start = self.rt.paced_bytes();
        self.charged_at_mark_start = owned_bytes::charged_total();
    }

    /// World stopped: new epoch, barrier choice, phase `Mark`.
    fn begin_marking(&mut self) {
        let _roots = self.rt.roots.lock();
        let (stale, _) = self.rt.grey.clear();
        debug_assert_eq!(stale, 0, "grey objects left over from the previous cycle");
        self.note_mark_start();
        mutator_marks::clear(self.mark_log_limit());
        self.rt.assist_credit.reset();
        clock::begin_marking(self.config.barrier);
        self.log_only_beside_exclusive_drains();
        self.record(Phase::Mark, true);
    }

    /// Mark start without a pause (see "Mark start without a pause"): the barrier on in the
    /// mark-start window, one handshake round (two unless the cycle's barrier is Dijkstra),
    /// then the cycle's barrier and scanning allowed. Returns `false`, having done nothing, if
    /// a leaked mutator's thread ended: its objects must be pinned with the world stopped.
    fn begin_marking_by_handshakes(&mut self) -> bool {
        let rt = self.rt;
        if rt.handshake.leaked_exits_pending() {
            return false;
        }
        let barrier = self.config.barrier;
        let window_kind = if barrier == BarrierKind::Dijkstra { barrier } else { BarrierKind::Hybrid };
        {
            let _roots = rt.roots.lock();
            let (stale, _) = rt.grey.clear();
            debug_assert_eq!(stale, 0, "grey objects left over from the previous cycle");
            self.note_mark_start();
            mutator_marks::clear(self.mark_log_limit());
            rt.assist_credit.reset();
            clock::begin_marking_window(window_kind);
            self.log_only_beside_exclusive_drains();
            self.record(Phase::Mark, false);
        }
        let rounds = if barrier == BarrierKind::Dijkstra { 1 } else { 2 };
        for _ in 0..rounds {
            self.handshake(HandshakeKind::MarkStart);
        }
        let _roots = rt.roots.lock();
        clock::open_marking(barrier);
        true
    }

    /// Shade the roots and scan what they reach, then drain the queue with the workers.
    fn mark_from_roots(&mut self) {
        let mut w = MarkWorker::new(&self.rt.grey);
        self.rt.roots.for_each(|p| {
            // SAFETY: a pointer loaded from a root cell names an allocated object.
            unsafe { w.shade_root(p) }
        });
        // The value stacks of mutators that are detached or parked: they answer no round
        // (see `stack_scan.rs`, rule 2).
        stack_scan::scan_stopped(&self.rt.handshake, &self.rt.stacks, &mut |p| {
            // SAFETY: a value stack holds locals of its mutator: allocated objects.
            unsafe { w.shade_root(p) }
        });
        // Published, not scanned here: every mark worker takes its share.
        w.publish_all();
        self.note(w.work());
        self.drain();
    }

    /// Drain the grey queue. Concurrent marking uses the configured workers, leaving cores to
    /// the mutators, plus — with `idle_mark_workers` — one per mutator that waits in `collect`
    /// for this cycle while a core is left over (the workers and the running mutators stay
    /// within the cores); marking inside a pause uses at least one worker per core, since every
    /// mutator is parked anyway. Neither adds workers to the configured ones for a heap below
    /// [`PARALLEL_MARK_MIN_HEAP`] at mark start: waking them costs more than they save.
    fn drain(&mut self) {
        let workers = self.drain_workers();
        self.stats.mark_workers = self.stats.mark_workers.max(workers);
        // A drain is an exclusive job: each mark bit has one writer (see `object/exclusive.rs`)
        // — inside a pause, and in a concurrent marking beside the running mutators, which set
        // no mark bits but their black allocations' and assists' (logged; see
        // `mutator_marks.rs`). With `exclusive_marking` off, or once that record outgrew its
        // limit, a concurrent drain is one only if no mutator runs (and
        // `idle_exclusive_marking` is on), with the world stopped until one wants to run (see
        // `handshake.rs`, "Idle stops").
        if !self.stats.mark_log_over_limit && mutator_marks::over_limit(clock::mark_epoch()) {
            // The record of mutators' marks outgrew its limit (a job running then was given
            // up): no more exclusive jobs beside the mutators in this marking, and no job runs
            // now, so no plain store is left to undo a mutator's mark (see `mutator_marks.rs`,
            // "The limit"). Jobs with the world stopped undo none: a pause's, an idle one's.
            self.stats.mark_log_over_limit = true;
            mutator_marks::stop_logging(clock::mark_epoch());
        }
        // Which job this drain is, if any: one inside a pause; one beside the running
        // mutators; or, failing those, one with the world stopped because no mutator runs (an
        // idle stop), which this drain then ends. The idle stop is asked for only when the
        // drain is not a job of the first two kinds — also when `exclusive_marking` is on but
        // the record outgrew its limit — and `idle` says whether it was taken: the world stopped
        // here must be started here, whatever else is configured.
        let beside_mutators = !self.exclusive_off
            && !self.marking_in_pause
            && self.config.exclusive_marking
            && !self.stats.mark_log_over_limit;
        let idle = !self.exclusive_off
            && !self.marking_in_pause
            && !beside_mutators
            && self.config.idle_exclusive_marking
            && self.rt.handshake.stop_if_idle(exclusive::give_up);
        let exclusive = (!self.exclusive_off && self.marking_in_pause) || beside_mutators || idle;
        if !exclusive {
            let work = marker::drain_parallel(self.rt, workers, self.marking_in_pause);
            self.note(work);
            return;
        }
        if beside_mutators {
            self.stats.exclusive_drains_beside_mutators += 1;
        }
        // The job starts and ends under the root-table lock, which orders it against orphan
        // shades; those made meanwhile are marked after it.
        {
            let _roots = self.rt.roots.lock();
            exclusive::begin(beside_mutators);
        }
        // A thread that wanted to run before the job began gave up the job that was not yet
        // there: give this one up. (One that wants to run from now on gives it up after
        // `begin`: the handshake's lock orders the two.)
        if idle && self.rt.handshake.yield_wanted() {
            exclusive::give_up();
        }
        let work = marker::drain_parallel(self.rt, workers, self.marking_in_pause);
        let mut roots = self.rt.roots.lock();
        exclusive::end();
        let mut yielded = false;
        if idle {
            // Every worker has returned and the job has ended: no bit has a plain writer any
            // more. Start the world before marking the held shades, which are ordinary locked
            // marks now: a thread that wants to run need not wait for them. (Whether one did is
            // read as the world starts: one that comes later is not this job's reason to end.)
            drop(roots);
            yielded = self.rt.handshake.start_the_world();
            self.stats.idle_exclusive_drains += 1;
            roots = self.rt.roots.lock();
        }
        roots.mark_held_shades(&self.rt.grey);
        drop(roots);
        self.note(work);
        if !exclusive::given_up() {
            if beside_mutators {
                // Candidates published after a worker had left may have been forwarded to it by
                // a worker still in the job: objects no later drain that is not a job would take.
                let leftovers = marker::mark_forwarded_leftovers(&self.rt.grey);
                self.note(leftovers);
            }
            return;
        }
        // The workers left with work published, some of it on the owners' queues, unmarked:
        // mark those, then drain the rest with locked instructions (see `object/exclusive.rs`,
        // "When forwarding dominates"). If forwarding dominated, or the record of mutators'
        // marks outgrew its limit (`mutator_marks.rs`, "The limit"), the cycle's later drains
        // mark that way too. If a thread wanted to run, only this one, and with the configured
        // workers alone: the threads that wanted to run do now, and idle workers counted while
        // nobody ran would take their cores (with them, a thread coming back waited 0.1–0.8 ms
        // once in a thousand times, against 50–90 µs).
        if !yielded {
            // No exclusive job runs beside the mutators in this marking any more, and this
            // one's workers have finished: no plain store is left to undo a mutator's mark, so
            // mutators need not record theirs (see `mutator_marks.rs`, "The limit"). Given up
            // because the record outgrew its limit, jobs with the world stopped may still run;
            // because forwarding dominated (the only reason a job with the world stopped is
            // given up for), none.
            if beside_mutators && mutator_marks::over_limit(clock::mark_epoch()) {
                self.stats.mark_log_over_limit = true;
            } else {
                self.exclusive_off = true;
            }
            mutator_marks::stop_logging(clock::mark_epoch());
        }
        let leftovers = marker::mark_forwarded_leftovers(&self.rt.grey);
        self.note(leftovers);
        let workers = if yielded {
            self.stats.idle_drains_yielded += 1;
            self.config.mark_workers.min(MAX_OWNERS)
        } else {
            self.stats.exclusive_jobs_given_up += 1;
            workers
        };
        let work = marker::drain_parallel(self.rt, workers, self.marking_in_pause);
        self.note(work);
    }

    /// Turn the record of mutators' marks off for the marking that began if no drain will
    /// run as an exclusive job beside the mutators (`exclusive_marking` off): only such a job's
    /// plain stores can undo a mutator's mark (see `mutator_marks.rs`).
    fn log_only_beside_exclusive_drains(&self) {
        if !self.config.exclusive_marking {
            mutator_marks::stop_logging(clock::mark_epoch());
        }
    }

    /// The size of the record of mutators' marks at which it is turned off in this marking
    /// (see `mutator_marks.rs`, "The limit").
    fn mark_log_limit(&self) -> usize {
        self.heap_at_mark_start / 1000 * self.config.mark_log_permille as usize
    }

    /// The threads a drain marks with (see [`Cycle::drain`]).
    fn drain_workers(&self) -> usize {
        // A drain admits at most `MAX_OWNERS` threads (an exclusive job has as many owners), so
        // more configured mark workers than that wait unused: neither woken nor counted.
        self.uncapped_drain_workers().min(MAX_OWNERS)
    }

    /// [`drain_workers`](Self::drain_workers) before the cap.
    fn uncapped_drain_workers(&self) -> usize {
        if self.heap_at_mark_start < PARALLEL_MARK_MIN_HEAP {
            self.config.mark_workers
        } else if self.marking_in_pause {
            self.pause_workers()
        } else if self.config.idle_mark_workers {
            let (running, waiting) = self.rt.handshake.running_and_waiting();
            self.config.mark_workers + waiting.min(cores().saturating_sub(self.config.mark_workers + running))
        } else {
            self.config.mark_workers
        }
    }

    /// The most threads that work inside a pause, the collector's own included: every mutator
    /// is parked, so at least one per core (more if more mark workers are configured).
    fn pause_workers(&self) -> usize {
        self.config.mark_workers.max(cores())
    }

    fn note(&mut self, work: MarkWork) {
        self.stats.objects_marked += work.objects;
        self.stats.objects_forwarded += work.forwarded;
        // Saturating, as every sum with owned bytes: declarations may add up past `usize::MAX`.
        self.stats.heap_marked = self.stats.heap_marked.saturating_add(work.marked_bytes);
        self.stats.owned_marked = self.stats.owned_marked.saturating_add(work.owned_bytes);
    }

    /// World stopped: drain until marking is complete, then return the locked root table with
    /// orphan shades flushed and nothing grey left. The drains run *without* the root-table lock:
    /// a thread without a mutator may hold a collection's lock while it waits for the root
    /// table (a barriered store on such a thread shades through it), and the markers wait for
    /// that collection (see `marker/mod.rs`, "Locked collections").
    fn finish_marking_in_pause(&mut self) -> RootGuard<'static> {
        let rt = self.rt;
        self.marking_in_pause = true;
        // The weak maps' holders found owing nothing, across this pause's passes.
        let mut quiet = QuietHolders::default();
        loop {
            if !rt.grey.is_done() {
                self.drain();
            }
            // No drain runs now, and every mutator is parked: the marks a drain's plain stores
            // undid are set again before anything decides by marks (see `mutator_marks.rs`).
            self.reapply_marks(true);
            let roots = self.lock_roots();
            if rt.grey.is_done() {
                // The weak maps' fixpoint (see `marker/ephemerons.rs`): values owed to keys
                // marked since their maps were scanned are more work; a map a writer holds
                // locked is looked at again once the writer has run.
                match marker::resolve_ephemerons(&rt.grey, Some(PAUSE_LOCK_PATIENCE), &mut quiet) {
                    EphemeronPass::Quiet => return roots,
                    EphemeronPass::Shaded(_) => {}
                    EphemeronPass::Locked => {
                        drop(roots);
                        std::thread::yield_now();
                    }
                }
            }
        }
    }

    /// Set the marks of the mutators' log again (see `mutator_marks.rs`), counting its records
    /// in the cycle's figures. Only while no drain runs.
    fn reapply_marks(&mut self, world_stopped: bool) {
        let applied = mutator_marks::reapply(clock::mark_epoch());
        self.stats.mark_log_applied += applied;
        if world_stopped {
            self.stats.mark_log_applied_in_pause += applied;
        }
    }

    /// Lock the root table and publish the grey objects root drops and threads without a
    /// mutator shaded into it: with the table held, none can be added, so `is_done` then
    /// decides (see "Termination detection").
    fn lock_roots(&self) -> RootGuard<'static> {
        let mut roots = self.rt.roots.lock();
        roots.flush_orphans(&self.rt.grey);
        roots
    }

    /// World stopped, root table locked, marking complete: phase `MarkTermination` and, with
    /// checkmark on, verify the marking. Returns the root table, still locked, once checkmark
    /// got through: if a collection it must walk is locked by another thread, the table is
    /// released so the holder can finish, and marking is confirmed again.
    fn confirm_marking(&mut self, mut roots: RootGuard<'static>) -> RootGuard<'static> {
        clock::confirm_marking();
        self.record(Phase::MarkTermination, true);
        if !self.config.checkmark {
            return roots;
        }
        // One walk across the attempts: each goes on from the last (see `checkmark::verify`).
        let mut walk = checkmark::Walk::default();
        loop {
            let mut pointers = roots.pointers();
            // The world is stopped: every mutator's value stacks are roots too.
            stack_scan::scan_stopped(&self.rt.handshake, &self.rt.stacks, &mut |p| pointers.push(p));
            // SAFETY: the world is stopped (since the walk began: this pause's) and the
            // pointers come from the locked root table.
            match unsafe { checkmark::verify(&pointers, clock::mark_epoch(), &mut walk) } {
                Ok(report) => {
                    self.stats.checkmarked_objects = Some(report.objects);
                    return roots;
                }
                Err(checkmark::CheckmarkError::Locked) => {
                    drop(roots);
                    std::thread::yield_now();
                    roots = self.finish_marking_in_pause();
                }
                Err(checkmark::CheckmarkError::Missed(failure)) => report::fatal(format_args!(
                    "{failure}\ngc: fatal: checkmark found a reachable object the concurrent mark missed; \
                     aborting before the sweep frees it"
                )),
            }
        }
    }

    /// Marking confirmed (world stopped, or decided by a handshake round): weak-reference
    /// verdict, barrier off. The sweep epoch is published later, by `publish_sweep`.
    fn terminate_marking(&mut self, world_stopped: bool) {
        // The heap is at its largest now: it grew while marking, and only the sweep frees.
        self.stats.heap_peak = self.rt.paced_bytes();
        self.charged_at_termination = owned_bytes::charged_total();
        self.owned_at_termination = owned_bytes::current();
        self.released_at_termination = owned_bytes::released_total();
        self.stats.mark_log_peak_bytes = mutator_marks::peak_bytes();
        self.rt.grey.clear_ephemeron_holders();
        clock::end_marking();
        self.record(Phase::Sweep, world_stopped);
    }

    /// One handshake round of the termination without a pause: every running mutator
    /// publishes its grey objects at its next safepoint; then, holding the root table (orphan
    /// shades flushed) and the weak gate, decide. Marking is over if no grey work is left
    /// *and* none was published or taken up, and no unmarked object was upgraded from a weak
    /// reference, since before the round (see "Termination without a pause"). If so, the weak
    /// verdict is set while the gate is held, and the locked root table is returned.
    ///
    /// A leaked mutator's thread that ended during the round may have lent `'static`
    /// references to objects nothing else reaches (its mutator could not answer while such a
    /// borrow lived, so the round waited for the thread's end): those objects are not marked,
    /// and must be pinned with the world stopped before any decision.
    fn ragged_round(&mut self) -> RaggedRound {
        let rt = self.rt;
        let before = (rt.grey.stamp(), rt.weaks.unmarked_upgrades());
        self.handshake(HandshakeKind::Termination);
        // No drain runs, and every mutator has answered since the last one ended: the marks its
        // plain stores undid are set again before the ephemeron pass and the weak verdict read
        // marks (see `mutator_marks.rs`).
        self.reapply_marks(false);
        let roots = self.lock_roots();
        if rt.handshake.leaked_exits_pending() {
            return RaggedRound::MustStop;
        }
        let _gate = rt.weak_gate.write();
        // The queue done first, then the stamp: read the other way round, a worker or an assist
        // could take and finish the last grey work between the two reads, seen by neither (the
        // loom control `ragged termination: Dijkstra, stamp read first`).
        let grey_moved = !rt.grey.is_done() || rt.grey.stamp() != before.0;
        if grey_moved || rt.weaks.unmarked_upgrades() != before.1 {
            return RaggedRound::Busy { upgrades_only: !grey_moved };
        }
        // Weak maps: a key marked since its map was scanned owes its value to this marking.
        // Shading one makes work, and a locked map cannot be looked at: either way, not yet
        // (see `collections/weak_map.rs`, "Why the fixpoint is sound without a pause").
        if marker::resolve_ephemerons(&rt.grey, None, &mut QuietHolders::default()) != EphemeronPass::Quiet {
            return RaggedRound::Busy { upgrades_only: false };
        }
        clock::set_weak_verdict();
        RaggedRound::Over(roots)
    }

    /// Mark termination by handshake rounds (see "Termination without a pause"). Returns
    /// `false` if it must stop the world instead: a leaked mutator's thread ended (its objects
    /// must be pinned with the world stopped), or rounds kept finding work.
    fn terminate_by_handshakes(&mut self) -> bool {
        let rt = self.rt;
        let mut upgrade_only_rounds = 0;
        loop {
            self.drain();
            if rt.handshake.leaked_exits_pending()
                || self.stats.termination_retries >= MAX_RAGGED_ROUNDS
                || upgrade_only_rounds >= MAX_UPGRADE_ONLY_ROUNDS
            {
                return false;
            }
            let roots = match self.ragged_round() {
                RaggedRound::Over(roots) => roots,
                RaggedRound::Busy { upgrades_only } => {
                    self.stats.termination_retries += 1;
                    upgrade_only_rounds += u32::from(upgrades_only);
                    continue;
                }
                RaggedRound::MustStop => return false,
            };
            if self.config.checkmark {
                // Verify the decision with the world stopped: nothing may be grey, and every
                // reachable object must be marked.
                drop(roots);
                let t = self.stop_without_pinning();
                let roots = self.lock_roots();
                // Candidates the mutators recorded after the decision, of objects a drain had
                // unmarked and the round marked again (`GreyQueue::clear`), are not grey work.
                marker::drop_marked_candidates(&rt.grey);
                if !rt.grey.is_done() {
                    report::fatal(format_args!(
                        "gc: fatal: grey objects left after a handshake round decided that marking was over"
                    ));
                }
                let roots = self.confirm_marking(roots);
                self.terminate_marking(true);
                drop(roots);
                self.start(t, PauseKind::MarkTermination);
            } else {
                clock::confirm_marking();
                self.record(Phase::MarkTermination, false);
                self.terminate_marking(false);
                drop(roots);
            }
            return true;
        }
    }

    /// Clear weak references to dead objects, make sure no upgrade that saw one is still in
    /// flight, then let the sweep free dead objects (see `weak_table.rs`). `world_stopped`: in
    /// stop-the-world mode no mutator runs, so no handshake is needed.
    fn publish_sweep(&mut self, world_stopped: bool) {
        self.stats.weaks_cleared = self.rt.weaks.clear_dead();
        self.stats.weak_map_entries_cleared = self.rt.weak_maps.clear_dead();
        if !world_stopped {
            self.handshake(HandshakeKind::PublishSweep);
        }
        clock::publish_sweep();
    }

    /// With the world running and the sweep epoch published: have every running mutator hand
    /// back the pages it cached before the termination (it does so when it acknowledges), so
    /// the sweep reaches the dead objects in them, then sweep everything. Afterwards every
    /// object this cycle found dead is freed, or queued for the finalizer.
    fn sweep_all(&mut self) {
        self.handshake(HandshakeKind::HandBackPages);
        self.rt.pages.finish_sweep();
    }

    fn concurrent(&mut self) {
        let rt = self.rt;
        // 1. Sweep termination.
        rt.pages.finish_sweep();
        // 2. Mark start.
        if !(self.config.handshakes && self.begin_marking_by_handshakes()) {
            let t = self.stop();
            self.begin_marking();
            self.start(t, PauseKind::MarkStart);
        }
        // 3. Concurrent mark.
        let mark_started = Instant::now();
        self.mark_from_roots();
        // 4. Mark termination.
        if !(self.config.handshakes && self.terminate_by_handshakes()) {
            self.terminate_by_stopping();
        }
        self.stats.mark_time = mark_started.elapsed();
        // 5. Weak references, then sweep.
        let sweep_started = Instant::now();
        self.publish_sweep(false);
        self.sweep_all();
        clock::finish();
        self.record(Phase::Off, false);
        self.stats.sweep_time = sweep_started.elapsed();
    }

    /// Mark termination with the world stopped (handshakes off, or as their fallback): drain
    /// and flush raggedly until the queue looks done, then confirm with the world stopped.
    fn terminate_by_stopping(&mut self) {
        let rt = self.rt;
        loop {
            self.drain();
            self.handshake(HandshakeKind::Flush);
            if !rt.grey.is_done() {
                continue;
            }
            // No drain runs, and every mutator has answered since the last one ended: the marks
            // the drains' plain stores undid are set again now, with the world running, as a
            // termination round does (see `mutator_marks.rs`), and the pause sets only those of
            // the few records made since. (Applied in the pause, the log of a long marking beside
            // allocating threads — megabytes of black allocations — took milliseconds.)
            self.reapply_marks(false);
            let (t, pinned) = self.stop_to_terminate();
            let roots = self.lock_roots();
            if (pinned || !rt.grey.is_done()) && self.stats.termination_retries < MAX_TERMINATION_RETRIES {
                self.stats.termination_retries += 1;
                drop(roots);
                self.start(t, PauseKind::MarkTerminationRetry);
                if pinned {
                    self.shade_pinned();
                }
                continue;
            }
            // Drain what is left, if anything, and make the weak maps' pass.
            drop(roots);
            if pinned {
                self.shade_pinned();
            }
            let roots = self.finish_marking_in_pause();
            let roots = self.confirm_marking(roots);
            self.terminate_marking(true);
            drop(roots);
            self.start(t, PauseKind::MarkTermination);
            return;
        }
    }

    fn stop_the_world(&mut self) {
        let rt = self.rt;
        let t = self.stop();
        self.marking_in_pause = true;
        rt.pages.finish_sweep();
        let mark_started = Instant::now();
        self.begin_marking();
        self.mark_from_roots();
        let roots = self.finish_marking_in_pause();
        let roots = self.confirm_marking(roots);
        self.terminate_marking(true);
        drop(roots);
        self.stats.mark_time = mark_started.elapsed();
        let sweep_started = Instant::now();
        self.publish_sweep(true);
        self.stats.sweep_workers = parallel_sweep::sweep_in_pause(rt, self.pause_workers());
        clock::finish();
        self.record(Phase::Off, true);
        self.stats.sweep_time = sweep_started.elapsed();
        self.start(t, PauseKind::FullCycle);
        // The pages mutators kept cached through the pause hold garbage too: they hand them
        // back at their next safepoint, and the collector sweeps them with the world running.
        self.sweep_all();
    }
}

/// The cores this process may use, asked once: `available_parallelism` reads the cgroup's CPU
/// quota from files on every call (tens of microseconds, on the collector's path inside a
/// pause, once per drain).
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

fn run_cycle(rt: &'static Runtime, swept_at_last_end: &mut SweepTotals) {
    let config = rt.config.lock().clone();
    let started_at = rt.started.elapsed();
    let (assist_work_before, assist_bytes_before) = rt.stats.assist_totals();
    let black_before = rt.stats.allocated_black();
    let mut cycle = Cycle {
        rt,
        marking_in_pause: false,
        heap_at_mark_start: 0,
        paced_at_mark_start: 0,
        charged_at_mark_start: 0,
        charged_at_termination: 0,
        owned_at_termination: 0,
        released_at_termination: 0,
        exclusive_off: false,
        stats: CycleStats {
            cycle: rt.stats.cycles() + 1,
            mode: config.mode,
            barrier: config.barrier,
            started_at,
            pauses: Vec::new(),
            handshakes: Vec::new(),
            thread_pause_max: Duration::ZERO,
            phases: Vec::new(),
            mark_time: Duration::ZERO,
            sweep_time: Duration::ZERO,
            heap_before: rt.paced_bytes(),
            heap_after: 0,
            heap_marked: 0,
            owned_marked: 0,
            heap_peak: 0,
            cycle_goal: rt.pacer.goal(),
            heap_goal: 0,
            next_trigger: 0,
            objects_marked: 0,
            objects_freed: 0,
            bytes_freed: 0,
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
            mutators: rt.handshake.counts(),
        },
        config,
    };
    match cycle.config.mode {
        Mode::Concurrent => cycle.concurrent(),
        Mode::StopTheWorld => cycle.stop_the_world(),
    }
    // Outside every pause: unmapping blocks is a system call.
    mutator_marks::trim();
    // Move the collections' epoch on, so the buffers they replaced are freed even while no
    // thread reads a collection (readers' pins do it otherwise).
    shared_slice::nudge();
    let (assist_work, assist_bytes) = rt.stats.assist_totals();
    cycle.note(MarkWork {
        objects: assist_work.objects - assist_work_before.objects,
        marked_bytes: assist_work.marked_bytes - assist_work_before.marked_bytes,
        owned_bytes: assist_work.owned_bytes - assist_work_before.owned_bytes,
        forwarded: 0,
    });
    let mut stats = cycle.stats;
    stats.thread_pause_max = rt.thread_pauses.take_cycle_max();
    stats.heap_marked = stats.heap_marked.saturating_add((rt.stats.allocated_black() - black_before) as usize);
    // Owned bytes: those of the collections the marking reached, plus all charged while it
    // marked (collections allocated or grown meanwhile, as objects allocated black count),
    // never more than were owned when it terminated; the rest of those are dead, and left out
    // of the pacer's heap until their destructors release them (`owned_bytes::paced`).
    let owned_traced = stats.owned_marked;
    let charged =
        usize::try_from(cycle.charged_at_termination.wrapping_sub(cycle.charged_at_mark_start)).unwrap_or(usize::MAX);
    stats.owned_marked = owned_traced.saturating_add(charged).min(cycle.owned_at_termination);
    stats.heap_marked = stats.heap_marked.saturating_sub(owned_traced).saturating_add(stats.owned_marked);
    owned_bytes::found_dead(cycle.owned_at_termination - stats.owned_marked, cycle.released_at_termination);
    stats.assist_bytes = assist_bytes - assist_bytes_before;
    stats.heap_after = rt.paced_bytes();
    // Pace on what the cycle marked — found reachable or allocated black while marking, as
    // Go's heap_marked — not on the heap after the sweep, which also holds what was
    // allocated during the sweep and pages still unswept in caches.
    let grown_while_marking = stats.heap_peak.saturating_sub(cycle.paced_at_mark_start);
    (stats.heap_goal, stats.next_trigger) =
        rt.pacer.after_cycle(stats.heap_marked, stats.owned_marked, grown_while_marking);
    // One snapshot of the sweep counters: every figure of the record counts the same frees —
    // those since the previous cycle ended (its finalizer work, lazy sweeps, this cycle's
    // sweep), whichever cycle found the objects dead.
    let swept_now = rt.pages.swept.totals();
    let swept = swept_now - *swept_at_last_end;
    *swept_at_last_end = swept_now;
    stats.objects_freed = swept.freed_objects;
    stats.bytes_freed = swept.freed_bytes;
    stats.drop_panics = swept.drop_panics;
    if cycle.config.trace {
        report::line(format_args!("{}", stats.trace_line()));
    }
    rt.stats.record(stats);
}
