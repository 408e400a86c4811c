//! Weak references: they do not keep objects alive, are cleared when their referent dies
//! (before its destructor runs), and an upgrade during marking keeps the object alive.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    thread,
    time::{Duration, Instant},
};

use gc_runtime::{BarrierKind, Config, Member, Mode, Root, Trace, Weak};

static SERIAL: Mutex<()> = Mutex::new(());

struct Probe(Arc<AtomicUsize>);
impl Drop for Probe {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Trace)]
struct Obj {
    id: u64,
    next: Member<Obj>,
    #[trace(skip)]
    _probe: Probe,
}

#[test]
fn weak_references_do_not_keep_objects_alive() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    gc_runtime::reconfigure(Config::default().with_gc_percent(None)).unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let mut mu = gc_runtime::attach();
    let kept = mu.alloc(Obj { id: 1, next: Member::new(), _probe: Probe(drops.clone()) });
    let lost = mu.alloc(Obj { id: 2, next: Member::new(), _probe: Probe(drops.clone()) });
    let weak_kept = kept.downgrade(&mu);
    let weak_lost = Weak::new(&mu, lost);
    let also_lost = lost.downgrade(&mu);
    let root: Root<Obj> = kept.root(&mu);
    assert_eq!(weak_lost.upgrade(&mu).unwrap().id, 2, "alive before any collection");
    let cycle = gc_runtime::stats().cycles + 1;
    mu.collect();
    assert!(weak_lost.is_cleared() && also_lost.is_cleared());
    assert!(weak_lost.upgrade(&mu).is_none());
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the weakly referenced object was freed once");
    let record = gc_runtime::stats().recent.into_iter().find(|c| c.cycle == cycle).unwrap();
    assert_eq!(record.weaks_cleared, 2, "the two weak references to the dead object");
    assert_eq!(weak_kept.upgrade(&mu).unwrap().id, 1);
    assert!(format!("{weak_lost:?}").contains("cleared"));
    drop(root);
    mu.collect();
    assert!(weak_kept.upgrade(&mu).is_none());
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

#[test]
fn upgrades_and_drops_work_on_any_thread() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (weak, root) = {
        let mu = gc_runtime::attach();
        let o = mu.alloc(Obj { id: 9, next: Member::new(), _probe: Probe(Arc::default()) });
        (o.downgrade(&mu), o.root(&mu))
    };
    let weak = thread::spawn(move || {
        let mu = gc_runtime::attach();
        assert_eq!(weak.upgrade(&mu).unwrap().id, 9);
        weak
    })
    .join()
    .unwrap();
    drop(root);
    thread::spawn(move || drop(weak)).join().unwrap(); // dropped on an unattached thread
}

/// Objects reachable only through weak references are upgraded during marking and stored
/// into rooted objects. Under the Yuasa barrier the store does not shade the stored pointer,
/// so only the upgrade's shading keeps them alive: checkmark verifies every cycle.
fn upgrade_during_marking(barrier: BarrierKind) {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    gc_runtime::reconfigure(
        Config::default().with_mode(Mode::Concurrent).with_barrier(barrier).with_checkmark(true).with_gc_percent(None),
    )
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let collector = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut mu = gc_runtime::attach();
            while !stop.load(Ordering::Relaxed) {
                mu.collect();
            }
        })
    };
    let mut mu = gc_runtime::attach();
    let anchors: Vec<Root<Obj>> = (0..16)
        .map(|i| mu.alloc(Obj { id: i, next: Member::new(), _probe: Probe(Arc::default()) }).root(&mu))
        .collect();
    let mut weaks: Vec<Weak<Obj>> = Vec::new();
    let deadline = Instant::now() + Duration::from_millis(if cfg!(miri) { 100 } else { 1500 });
    let (mut upgraded, mut n) = (0u64, 0u64);
    while Instant::now() < deadline {
        for _ in 0..64 {
            n += 1;
            // Make an object reachable only weakly...
            let o = mu.alloc(Obj { id: 1000 + n, next: Member::new(), _probe: Probe(Arc::default()) });
            weaks.push(o.downgrade(&mu));
            // ...and revive an older one, if it still exists, by storing it into an anchor.
            let i = (n as usize * 7) % weaks.len();
            if let Some(revived) = weaks[i].upgrade(&mu) {
                upgraded += 1;
                let anchor = anchors[(n % 16) as usize].get(&mu);
                anchor.next.set(Some(revived));
            }
        }
        weaks.retain(|w| !w.is_cleared());
        mu.safepoint();
    }
    stop.store(true, Ordering::Relaxed);
    // Joining blocks: detach meanwhile, or the collector thread's pause waits for us forever.
    mu.blocking(|| collector.join()).unwrap();
    mu.collect();
    for a in &anchors {
        if let Some(o) = a.get(&mu).next.get(&mu) {
            assert!(o.id > 1000, "an anchored object is intact");
        }
    }
    assert!(upgraded > 0);
}

#[test]
fn upgrade_during_marking_dijkstra() {
    upgrade_during_marking(BarrierKind::Dijkstra);
}

#[test]
fn upgrade_during_marking_yuasa() {
    upgrade_during_marking(BarrierKind::Yuasa);
}

/// A thread that upgrades a weak reference without pause makes every termination round busy;
/// the collector then stops the world after a few such rounds (8), not after the 64 it allows
/// rounds that found grey work. With 64, a cycle beside such a poller took 64 rounds (a
/// `collect` of a near-empty heap: 8–9 ms instead of 1.4–2.1 ms on a 2-core machine). The
/// object stays alive while it is polled, and dies once it is not.
#[test]
fn a_weak_polled_in_a_loop_costs_few_termination_rounds() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    gc_runtime::reconfigure(Config::default().with_gc_percent(None)).unwrap();
    let mut mu = gc_runtime::attach();
    let dropped = Arc::new(AtomicUsize::new(0));
    let weak = mu.alloc(Obj { id: 7, next: Member::new(), _probe: Probe(dropped.clone()) }).downgrade(&mu);
    let stop = AtomicBool::new(false);
    let before = gc_runtime::stats().cycles;
    thread::scope(|s| {
        let poller = s.spawn(|| {
            let mut mu = gc_runtime::attach();
            let mut seen = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if let Some(o) = weak.upgrade(&mu) {
                    seen += o.id;
                }
                mu.safepoint();
            }
            seen
        });
        mu.blocking(|| thread::sleep(Duration::from_millis(20)));
        for _ in 0..5 {
            mu.collect();
        }
        stop.store(true, Ordering::Relaxed);
        assert!(mu.blocking(|| poller.join()).unwrap() > 0, "the poller saw its object");
    });
    let stats = gc_runtime::stats();
    let retries: Vec<u32> = stats.recent.iter().filter(|c| c.cycle > before).map(|c| c.termination_retries).collect();
    assert!(retries.len() >= 5, "{retries:?}");
    assert!(retries.iter().all(|&r| r <= 24), "termination rounds per cycle beside the poller: {retries:?}");
    mu.collect();
    mu.collect();
    assert!(weak.is_cleared(), "nobody polls it any more: it died");
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}
