//! Property-based model test: random sequences of heap operations — allocate, link, unlink,
//! root, unroot, push to and pop from a GC vector, insert into and remove from a map, upgrade a
//! weak reference, safepoint, collect, detach and re-attach — spread over three mutator threads,
//! run against the real collector and against a reference model of reachability. After every
//! collection exactly the objects the model finds reachable from the roots are alive, every
//! other object's destructor has run exactly once, and weak references answer accordingly.
//! Failing sequences shrink to a minimal one. Checkmark verifies every cycle as well.
//!
//! Pacing is off, so cycles run only at the `Collect` operations and the outcome is exact.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        atomic::{AtomicU8, Ordering},
        mpsc, Arc, Mutex,
    },
    thread,
};

use gc_runtime::{BarrierKind, Config, GcMap, GcVec, Member, Mode, Mutator, Root, Trace, Weak};
use proptest::prelude::*;

static SERIAL: Mutex<()> = Mutex::new(());

struct Probe(Arc<AtomicU8>);
impl Drop for Probe {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Trace)]
struct Obj {
    id: usize,
    slots: [Member<Obj>; 2],
    kids: GcVec<Obj>,
    by_key: GcMap<u8, Obj>,
    #[trace(skip)]
    _probe: Probe,
}

#[derive(Clone, Debug)]
enum Op {
    Alloc,
    Link {
        from: usize,
        slot: usize,
        to: usize,
    },
    Unlink {
        from: usize,
        slot: usize,
    },
    Root {
        obj: usize,
    },
    Unroot {
        root: usize,
    },
    Push {
        from: usize,
        to: usize,
    },
    Pop {
        from: usize,
    },
    Insert {
        from: usize,
        key: u8,
        to: usize,
    },
    Remove {
        from: usize,
        key: u8,
    },
    Upgrade {
        obj: usize,
    },
    Safepoint,
    Collect,
    /// Run the following operations on mutator thread `thread % THREADS`.
    On {
        thread: usize,
    },
    /// The current thread detaches (drops its mutator) and attaches again.
    Reattach,
}

/// Mutator threads the operations are spread over.
const THREADS: usize = 3;

fn op() -> impl Strategy<Value = Op> {
    let i = 0..64usize;
    prop_oneof![
        4 => Just(Op::Alloc),
        4 => (i.clone(), 0..2usize, i.clone()).prop_map(|(from, slot, to)| Op::Link { from, slot, to }),
        2 => (i.clone(), 0..2usize).prop_map(|(from, slot)| Op::Unlink { from, slot }),
        2 => i.clone().prop_map(|obj| Op::Root { obj }),
        2 => (0..16usize).prop_map(|root| Op::Unroot { root }),
        2 => (i.clone(), i.clone()).prop_map(|(from, to)| Op::Push { from, to }),
        1 => i.clone().prop_map(|from| Op::Pop { from }),
        2 => (i.clone(), 0..4u8, i.clone()).prop_map(|(from, key, to)| Op::Insert { from, key, to }),
        1 => (i.clone(), 0..4u8).prop_map(|(from, key)| Op::Remove { from, key }),
        1 => i.clone().prop_map(|obj| Op::Upgrade { obj }),
        1 => Just(Op::Safepoint),
        2 => Just(Op::Collect),
        2 => (0..THREADS).prop_map(|thread| Op::On { thread }),
        1 => Just(Op::Reattach),
    ]
}

/// The reference model: which objects exist and what points to what.
#[derive(Default)]
struct Model {
    alive: BTreeSet<usize>,
    slots: BTreeMap<usize, [Option<usize>; 2]>,
    kids: BTreeMap<usize, Vec<usize>>,
    by_key: BTreeMap<usize, BTreeMap<u8, usize>>,
    roots: Vec<usize>,
}

impl Model {
    fn reachable(&self) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<usize> = self.roots.clone();
        while let Some(o) = stack.pop() {
            if seen.insert(o) {
                stack.extend(self.slots[&o].iter().flatten());
                stack.extend(&self.kids[&o]);
                stack.extend(self.by_key[&o].values());
            }
        }
        seen
    }
}

/// The object the model says is alive, as a local.
fn get<'m>(mu: &'m Mutator, weaks: &[Weak<Obj>], o: usize) -> gc_runtime::Gc<'m, Obj> {
    weaks[o].upgrade(mu).expect("the model says it is alive")
}

/// What the worker threads share: the objects by allocation order (as weak references), the
/// roots, and each object's drop counter.
#[derive(Default)]
struct Shared {
    weaks: Vec<Weak<Obj>>,
    roots: Vec<Root<Obj>>,
    ledger: Vec<Arc<AtomicU8>>,
}

type Job = Box<dyn FnOnce(&mut Mutator, &mut Shared) -> Result<Option<usize>, TestCaseError> + Send>;

enum Msg {
    Run(Job),
    Reattach,
}

/// A mutator thread that runs jobs; between jobs it waits detached, so the collector never
/// waits for it.
struct Worker {
    jobs: mpsc::Sender<Msg>,
    results: mpsc::Receiver<Result<Option<usize>, TestCaseError>>,
    thread: thread::JoinHandle<()>,
}

impl Worker {
    fn spawn(shared: Arc<Mutex<Shared>>) -> Worker {
        let (jobs, inbox) = mpsc::channel::<Msg>();
        let (outbox, results) = mpsc::channel();
        let thread = thread::spawn(move || {
            let mut mu = Some(gc_runtime::attach());
            loop {
                let msg = mu.as_mut().unwrap().blocking(|| inbox.recv());
                match msg {
                    Ok(Msg::Run(job)) => {
                        let mut shared = shared.lock().unwrap_or_else(|e| e.into_inner());
                        let r = job(mu.as_mut().unwrap(), &mut shared);
                        drop(shared);
                        outbox.send(r).unwrap();
                    }
                    Ok(Msg::Reattach) => {
                        drop(mu.take());
                        mu = Some(gc_runtime::attach());
                        outbox.send(Ok(None)).unwrap();
                    }
                    Err(_) => return,
                }
            }
        });
        Worker { jobs, results, thread }
    }

    fn send(&self, msg: Msg) -> Result<Option<usize>, TestCaseError> {
        self.jobs.send(msg).unwrap();
        self.results.recv().expect("worker thread alive")
    }

    fn run(
        &self,
        job: impl FnOnce(&mut Mutator, &mut Shared) -> Result<Option<usize>, TestCaseError> + Send + 'static,
    ) -> Result<Option<usize>, TestCaseError> {
        self.send(Msg::Run(Box::new(job)))
    }
}

/// Objects are named by index into `weaks` (allocation order); an operation on an object the
/// model says is dead is skipped. Operations run on one of `THREADS` mutator threads, switched
/// by `On`; the others wait detached.
fn run(ops: &[Op], barrier: BarrierKind) -> Result<(), TestCaseError> {
    gc_runtime::reconfigure(
        Config::default().with_mode(Mode::Concurrent).with_barrier(barrier).with_gc_percent(None).with_checkmark(true),
    )
    .unwrap();
    let shared = Arc::new(Mutex::new(Shared::default()));
    let workers: Vec<Worker> = (0..THREADS).map(|_| Worker::spawn(shared.clone())).collect();
    let mut on = 0;
    let mut model = Model::default();
    let mut n = 0;
    let pick = |model: &Model, i: usize, n: usize| -> Option<usize> {
        (n > 0).then(|| i % n).filter(|o| model.alive.contains(o))
    };
    for op in ops {
        let w = &workers[on];
        match *op {
            Op::On { thread } => on = thread % THREADS,
            Op::Reattach => {
                w.send(Msg::Reattach)?;
            }
            Op::Alloc => {
                w.run(move |mu, sh| {
                    let probe = Arc::new(AtomicU8::new(0));
                    let o = mu.alloc(Obj {
                        id: n,
                        slots: [Member::new(), Member::new()],
                        kids: GcVec::new(),
                        by_key: GcMap::new(),
                        _probe: Probe(probe.clone()),
                    });
                    sh.ledger.push(probe);
                    sh.weaks.push(o.downgrade(mu));
                    Ok(None)
                })?;
                model.alive.insert(n);
                model.slots.insert(n, [None, None]);
                model.kids.insert(n, Vec::new());
                model.by_key.insert(n, BTreeMap::new());
                n += 1;
            }
            Op::Link { from, slot, to } => {
                if let (Some(f), Some(t)) = (pick(&model, from, n), pick(&model, to, n)) {
                    w.run(move |mu, sh| {
                        get(mu, &sh.weaks, f).slots[slot].set(Some(get(mu, &sh.weaks, t)));
                        Ok(None)
                    })?;
                    model.slots.get_mut(&f).unwrap()[slot] = Some(t);
                }
            }
            Op::Unlink { from, slot } => {
                if let Some(f) = pick(&model, from, n) {
                    w.run(move |mu, sh| {
                        get(mu, &sh.weaks, f).slots[slot].set(None);
                        Ok(None)
                    })?;
                    model.slots.get_mut(&f).unwrap()[slot] = None;
                }
            }
            Op::Root { obj } => {
                if let Some(o) = pick(&model, obj, n) {
                    w.run(move |mu, sh| {
                        let r = get(mu, &sh.weaks, o).root(mu);
                        sh.roots.push(r);
                        Ok(None)
                    })?;
                    model.roots.push(o);
                }
            }
            Op::Unroot { root } => {
                if !model.roots.is_empty() {
                    let r = root % model.roots.len();
                    w.run(move |_, sh| {
                        sh.roots.swap_remove(r);
                        Ok(None)
                    })?;
                    model.roots.swap_remove(r);
                }
            }
            Op::Push { from, to } => {
                if let (Some(f), Some(t)) = (pick(&model, from, n), pick(&model, to, n)) {
                    w.run(move |mu, sh| {
                        get(mu, &sh.weaks, f).kids.push(get(mu, &sh.weaks, t));
                        Ok(None)
                    })?;
                    model.kids.get_mut(&f).unwrap().push(t);
                }
            }
            Op::Pop { from } => {
                if let Some(f) = pick(&model, from, n) {
                    let popped = w.run(move |mu, sh| Ok(get(mu, &sh.weaks, f).kids.pop(mu).map(|o| o.id)))?;
                    prop_assert_eq!(popped, model.kids.get_mut(&f).unwrap().pop());
                }
            }
            Op::Insert { from, key, to } => {
                if let (Some(f), Some(t)) = (pick(&model, from, n), pick(&model, to, n)) {
                    w.run(move |mu, sh| {
                        get(mu, &sh.weaks, f).by_key.insert(key, get(mu, &sh.weaks, t));
                        Ok(None)
                    })?;
                    model.by_key.get_mut(&f).unwrap().insert(key, t);
                }
            }
            Op::Remove { from, key } => {
                if let Some(f) = pick(&model, from, n) {
                    let removed =
                        w.run(move |mu, sh| Ok(get(mu, &sh.weaks, f).by_key.remove(&key, mu).map(|o| o.id)))?;
                    prop_assert_eq!(removed, model.by_key.get_mut(&f).unwrap().remove(&key));
                }
            }
            Op::Upgrade { obj } => {
                if n > 0 {
                    let o = obj % n;
                    let got = w.run(move |mu, sh| Ok(sh.weaks[o].upgrade(mu).map(|g| g.id)))?;
                    prop_assert_eq!(got, model.alive.contains(&o).then_some(o));
                }
            }
            Op::Safepoint => {
                w.run(|mu, _| {
                    mu.safepoint();
                    Ok(None)
                })?;
            }
            Op::Collect => {
                let reachable = model.reachable();
                let expected = reachable.clone();
                w.run(move |mu, sh| {
                    mu.collect();
                    for o in 0..n {
                        let dropped = sh.ledger[o].load(Ordering::SeqCst);
                        prop_assert!(dropped <= 1, "object {} dropped {} times", o, dropped);
                        prop_assert_eq!(dropped == 0, expected.contains(&o), "object {}: reachable in the model?", o);
                        prop_assert_eq!(sh.weaks[o].upgrade(mu).is_some(), expected.contains(&o));
                    }
                    Ok(None)
                })?;
                for dead in model.alive.difference(&reachable) {
                    model.slots.remove(dead);
                    model.kids.remove(dead);
                    model.by_key.remove(dead);
                }
                model.alive = reachable;
            }
        }
    }
    workers[on].run(|mu, sh| {
        sh.roots.clear();
        mu.collect();
        prop_assert!(sh.ledger.iter().all(|d| d.load(Ordering::SeqCst) == 1), "with no roots everything is freed once");
        Ok(None)
    })?;
    for w in workers {
        drop(w.jobs);
        w.thread.join().unwrap();
    }
    Ok(())
}

/// 256 cases per barrier (1 under Miri, a fresh random one in every CI run); `PROPTEST_CASES`
/// sets another number (the long profile in DEVELOPMENT.md).
fn cases() -> u32 {
    match std::env::var("PROPTEST_CASES") {
        Ok(n) => n.parse().expect("PROPTEST_CASES is a number"),
        Err(_) if cfg!(miri) => 1,
        Err(_) => 256,
    }
}

/// Operations per case (fewer under Miri, where each costs a thousand times more).
const MAX_OPS: usize = if cfg!(miri) { 40 } else { 200 };

/// Miri isolates the test from the file system, so failures are not persisted there.
fn config() -> ProptestConfig {
    let config = ProptestConfig { cases: cases(), ..ProptestConfig::default() };
    if cfg!(miri) {
        ProptestConfig { failure_persistence: None, ..config }
    } else {
        config
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn model_dijkstra(ops in proptest::collection::vec(op(), 1..MAX_OPS)) {
        let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        run(&ops, BarrierKind::Dijkstra)?;
    }

    #[test]
    fn model_yuasa(ops in proptest::collection::vec(op(), 1..MAX_OPS)) {
        let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        run(&ops, BarrierKind::Yuasa)?;
    }

    #[test]
    fn model_hybrid(ops in proptest::collection::vec(op(), 1..MAX_OPS)) {
        let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        run(&ops, BarrierKind::Hybrid)?;
    }
}
