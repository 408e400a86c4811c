//! Scaffolding shared by the integration tests: a ledger of per-object drop counts (to check
//! that every freed object's fields were dropped exactly once), a small deterministic random
//! number generator, child-process scenarios ([`child`]), and what the hostile tests of marking
//! share ([`hostile`]).

#![allow(dead_code)] // each test crate uses its own part

pub mod child;
pub mod hostile;

use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicU64, AtomicU8, Ordering},
        Arc,
    },
};

/// The cores this process may use (at least 1).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Per-id drop counts for the objects of one test run.
pub struct Ledger {
    drops: Box<[AtomicU8]>,
    next: AtomicU64,
}

/// `n` drop counters at zero, in one zeroed allocation. Made one by one, the counters of a
/// large ledger (100,000 ids in some tests under Miri) cost millions of interpreted steps.
fn zeroed_counters(n: usize) -> Box<[AtomicU8]> {
    let bytes: Box<[u8]> = vec![0; n].into_boxed_slice();
    // SAFETY: `AtomicU8` has the size, alignment and bit validity of `u8`, so the `n` zero bytes
    // are `n` atomics at zero, and the allocation's layout is the same for either slice type.
    unsafe { Box::from_raw(Box::into_raw(bytes) as *mut [AtomicU8]) }
}

/// A field that records its drop in the ledger under its object's id.
pub struct DropProbe {
    /// The id this probe was given.
    pub id: u64,
    ledger: Arc<Ledger>,
}

impl Drop for DropProbe {
    fn drop(&mut self) {
        self.ledger.drops[self.id as usize].fetch_add(1, Ordering::SeqCst);
    }
}

impl Ledger {
    /// A ledger with room for `capacity` ids.
    pub fn new(capacity: usize) -> Arc<Ledger> {
        Arc::new(Ledger { drops: zeroed_counters(capacity), next: AtomicU64::new(0) })
    }

    /// A probe with the next id.
    pub fn probe(self: &Arc<Ledger>) -> DropProbe {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        assert!((id as usize) < self.drops.len(), "ledger too small for this test");
        DropProbe { id, ledger: self.clone() }
    }

    /// Ids handed out so far.
    pub fn created(&self) -> usize {
        self.next.load(Ordering::SeqCst) as usize
    }

    /// Ids available in all.
    pub fn capacity(&self) -> usize {
        self.drops.len()
    }

    /// Whether fewer than `margin` ids are left.
    pub fn nearly_full(&self, margin: usize) -> bool {
        self.created() + margin >= self.drops.len()
    }

    /// How many times the probe with `id` was dropped.
    pub fn drops(&self, id: u64) -> u8 {
        self.drops[id as usize].load(Ordering::SeqCst)
    }

    /// Drops recorded in all (only probes handed out can have been dropped).
    pub fn total_drops(&self) -> usize {
        self.drops[..self.created()].iter().map(|d| d.load(Ordering::SeqCst) as usize).sum()
    }

    /// Every created id was dropped at most once, and exactly when it is not in `alive`.
    pub fn check_exactly(&self, alive: &HashSet<u64>) {
        for id in 0..self.created() as u64 {
            let drops = self.drops(id);
            assert!(drops <= 1, "object {id} dropped {drops} times");
            assert_eq!(
                drops == 0,
                alive.contains(&id),
                "object {id}: reachable={} dropped={drops}",
                alive.contains(&id)
            );
        }
    }
}

/// xorshift64: deterministic and fast.
pub struct Rng(pub u64);

impl Rng {
    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (0 if `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Destructor panics on the finalizer thread are expected by the caller: keep the default
/// panic hook's report (and backtrace) off for them, so the test's output and time stay small.
/// Panics on every other thread are reported as before.
pub fn quiet_panics_on_the_finalizer() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() != Some("gc-finalizer") {
            default(info);
        }
    }));
}

/// A concurrent stress run: `threads` mutator threads run `work(seed, stop, ops)` — each with
/// its own seed, until `stop` is set, adding the operations it did to `ops` — for `millis`
/// milliseconds from when every thread has begun, while a collector thread runs cycles back
/// to back — and on, if fewer than two cycles completed by then (a slow or loaded machine),
/// until two have or a minute has passed, so that callers can require at least two without
/// depending on the machine's speed. Returns the cycles that completed meanwhile and the
/// operations done.
pub fn churn(
    threads: u64,
    millis: u64,
    work: impl Fn(u64, &std::sync::atomic::AtomicBool, &AtomicU64) + Sync,
) -> (u64, u64) {
    use std::{
        sync::atomic::AtomicBool,
        thread,
        time::{Duration, Instant},
    };
    let cycles_before = gc_runtime::stats().cycles;
    let stop = Arc::new(AtomicBool::new(false));
    let ops = AtomicU64::new(0);
    let begun = AtomicU64::new(0);
    let collector = child::spawn_collector(&stop);
    let started = Instant::now();
    thread::scope(|s| {
        for t in 0..threads {
            let (work, stop, ops, begun) = (&work, &stop, &ops, &begun);
            s.spawn(move || {
                begun.fetch_add(1, Ordering::Relaxed);
                work(0x2545_F491_4F6C_DD1D_u64.wrapping_mul(t + 1), stop, ops)
            });
        }
        let cycles = || gc_runtime::stats().cycles - cycles_before;
        // The run's `millis` count from when every thread has begun: on a loaded machine a
        // thread may get no core for a while after it is spawned, and one stopped before its
        // first operation does none (a run beside a dozen other processes once ended with no
        // operation done at all).
        let mut all_begun: Option<Instant> = None;
        let long_enough = |all_begun: Option<Instant>| {
            all_begun.is_some_and(|at| at.elapsed() >= Duration::from_millis(millis))
                || started.elapsed() >= Duration::from_secs(60)
        };
        while !long_enough(all_begun) || (cycles() < 2 && started.elapsed() < Duration::from_secs(60)) {
            if all_begun.is_none() && begun.load(Ordering::Relaxed) == threads {
                all_begun = Some(Instant::now());
            }
            thread::sleep(Duration::from_millis(10));
        }
        stop.store(true, Ordering::Relaxed);
    });
    collector.join().unwrap();
    (gc_runtime::stats().cycles - cycles_before, ops.load(Ordering::Relaxed))
}

/// The configurations a concurrent stress run covers: stop-the-world mode, and each barrier
/// in concurrent mode (Dijkstra and Yuasa with per-thread handshakes, the hybrid with global
/// stops).
pub fn stress_configs() -> [gc_runtime::Config; 4] {
    use gc_runtime::{BarrierKind, Config, Mode};
    let concurrent = |barrier, handshakes| {
        Config::default().with_mode(Mode::Concurrent).with_barrier(barrier).with_handshakes(handshakes)
    };
    [
        Config::default().with_mode(Mode::StopTheWorld),
        concurrent(BarrierKind::Dijkstra, true),
        concurrent(BarrierKind::Yuasa, true),
        concurrent(BarrierKind::Hybrid, false),
    ]
}

/// A concurrent stress run under `config`, with checkmark on and frequent cycles: three
/// threads run `mutate(ledger, seed, stop, ops)` for `millis` milliseconds ([`churn`]), each
/// object recording its drop in `ledger`; then, the threads' roots gone, every object must
/// have been dropped exactly once.
pub fn ledger_stress(
    config: gc_runtime::Config,
    millis: u64,
    mutate: impl Fn(&Arc<Ledger>, u64, &std::sync::atomic::AtomicBool, &AtomicU64) + Sync,
) {
    let _s = serial_only();
    let label = format!("{config:?}");
    gc_runtime::reconfigure(config.with_checkmark(true).with_gc_percent(Some(50))).unwrap();
    let ledger = Ledger::new(2_000_000);
    let (cycles, ops) = churn(3, millis, |seed, stop, ops| mutate(&ledger, seed, stop, ops));
    assert!(cycles >= 2, "{label}: only {cycles} cycles ran");
    assert!(ops > 0);
    let mut mu = gc_runtime::attach();
    mu.collect();
    mu.collect();
    ledger.check_exactly(&HashSet::new());
}

/// Two collections: the first finds the garbage dead; `collect` returns only once its
/// destructors ran and its memory was freed, and the second settles what the first left (weak
/// cells, doomed slots).
pub fn collect2(mu: &mut gc_runtime::Mutator) {
    mu.collect();
    mu.collect();
}

/// Serialises the tests of one test binary that share the process-wide heap and reconfigure
/// it (each binary has its own copy of this lock).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Take [`SERIAL`] (also after a test that panicked holding it) and configure the heap for a
/// test that collects only when it asks, with checkmark verifying every marking.
pub fn serial_with_checkmark() -> std::sync::MutexGuard<'static, ()> {
    let guard = serial_only();
    gc_runtime::reconfigure(gc_runtime::Config::default().with_gc_percent(None).with_checkmark(true)).unwrap();
    guard
}

/// Take [`SERIAL`], leaving the configuration to the caller.
pub fn serial_only() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every configuration a property of the heap must hold in: stop-the-world mode, and
/// concurrent mode under each barrier with per-thread handshakes and with global stops;
/// checkmark on, no automatic cycles.
pub fn every_config() -> Vec<gc_runtime::Config> {
    use gc_runtime::{BarrierKind, Config, Mode};
    let mut out = vec![Config::default().with_mode(Mode::StopTheWorld)];
    for barrier in [BarrierKind::Dijkstra, BarrierKind::Yuasa, BarrierKind::Hybrid] {
        for handshakes in [true, false] {
            out.push(Config::default().with_mode(Mode::Concurrent).with_barrier(barrier).with_handshakes(handshakes));
        }
    }
    out.into_iter().map(|c| c.with_checkmark(true).with_gc_percent(None)).collect()
}

/// An element whose destructor panics if told to (`panics`: 0 never; 1 with a string; 2 with a
/// payload whose own destructor panics too, on the finalizer thread where dead objects are
/// dropped), with a probe that records its drop.
pub struct Boom {
    /// Records the drop in its ledger.
    pub probe: DropProbe,
    /// How the destructor panics (see the type's docs).
    pub panics: u8,
}

/// The payload a [`Boom`] told to panic with one panics with: its destructor panics too.
pub struct ExplodingFinalizerPayload;

impl Drop for ExplodingFinalizerPayload {
    fn drop(&mut self) {
        panic!("a finalizer payload's destructor panics");
    }
}

impl Drop for Boom {
    fn drop(&mut self) {
        match self.panics {
            0 => {}
            1 => panic!("element destructor panics"),
            _ => std::panic::panic_any(ExplodingFinalizerPayload),
        }
    }
}

/// A GC object (or array element) holding a [`Boom`].
#[derive(gc_runtime::Trace)]
pub struct BoomElem {
    /// The element's destructor's behaviour.
    #[trace(skip)]
    pub boom: Boom,
}

impl BoomElem {
    /// An element recording its drop in `ledger`, whose destructor panics as `panics` says.
    pub fn new(ledger: &Arc<Ledger>, panics: u8) -> BoomElem {
        BoomElem { boom: Boom { probe: ledger.probe(), panics } }
    }
}

/// The message of the panic `f` raises (it must raise one): a `String` or `&str` payload, or
/// empty for any other.
pub fn panic_message(f: impl FnOnce()) -> String {
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).expect_err("expected a panic");
    match err.downcast::<String>() {
        Ok(s) => *s,
        Err(e) => e.downcast::<&str>().map(|s| s.to_string()).unwrap_or_default(),
    }
}

/// Leak a mutator on a thread that then exits, and return `'static` references borrowed from it
/// (the objects are pinned for the rest of the process at the collector's next pause).
pub fn leak_static<R: Send + 'static>(make: impl FnOnce(&'static gc_runtime::Mutator) -> R + Send + 'static) -> R {
    std::thread::spawn(move || {
        let mu: &'static gc_runtime::Mutator = Box::leak(Box::new(gc_runtime::attach()));
        make(mu)
    })
    .join()
    .unwrap()
}

/// The loop of a working-set stress mutator (run by [`ledger_stress`]): a rooted array of
/// `slots` slots (`S::default()`, armed by its allocation), which `step` rewires, one step at a
/// time, until `stop` is set or the ledger is nearly full, with a safepoint every eight steps;
/// then `finish` looks at the array once more. Adds the steps taken to `ops`.
pub fn rewire_working_set<S: gc_runtime::Trace + Default + Send + Sync + 'static>(
    ledger: &Arc<Ledger>,
    seed: u64,
    stop: &std::sync::atomic::AtomicBool,
    ops: &AtomicU64,
    slots: usize,
    mut step: impl FnMut(&gc_runtime::Mutator, &[S], &mut Rng),
    finish: impl FnOnce(&gc_runtime::Mutator, &[S]),
) {
    let mut mu = gc_runtime::attach();
    let mut rng = Rng(seed);
    let set = mu.alloc_slice((0..slots).map(|_| S::default()).collect::<Vec<_>>()).root(&mu);
    let mut n = 0_u64;
    while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(1000) {
        step(&mu, set.get(&mu).into_ref(), &mut rng);
        n += 1;
        if n % 8 == 0 {
            mu.safepoint();
        }
    }
    finish(&mu, set.get(&mu).into_ref());
    ops.fetch_add(n, Ordering::Relaxed);
}

/// The scramble of a [`Canary`]'s id.
const CANARY_MAGIC: u64 = 0xA5A5_5A5A_0F0F_F0F0;

/// A heap object with a canary (its id, scrambled) and a drop probe: freed while reachable and
/// reused, it fails [`Canary::check`]; freed twice or never, its ledger says so.
#[derive(gc_runtime::Trace)]
pub struct Canary {
    /// The probe's id.
    pub id: u64,
    canary: u64,
    /// Records the drop.
    #[trace(skip)]
    pub probe: DropProbe,
}

impl Canary {
    /// A new canary object with the next id of `ledger`.
    pub fn alloc<'m>(mu: &'m gc_runtime::Mutator, ledger: &Arc<Ledger>) -> gc_runtime::Gc<'m, Canary> {
        let probe = ledger.probe();
        let id = probe.id;
        mu.alloc(Canary { id, canary: id ^ CANARY_MAGIC, probe })
    }

    /// Check the canary and the probe; returns the id.
    pub fn check(&self) -> u64 {
        assert_eq!(
            self.canary,
            self.id ^ CANARY_MAGIC,
            "canary of object {} corrupted (freed while reachable?)",
            self.id
        );
        assert_eq!(self.probe.id, self.id, "probe of object {} corrupted", self.id);
        self.id
    }
}
