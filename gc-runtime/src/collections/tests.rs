//! Unit tests: each storing and removing method of each collection shades exactly what the
//! cycle's barrier promises — the removed or overwritten pointer under Yuasa and hybrid, the
//! stored one under Dijkstra and hybrid — checked on mark bits with a pretend marking, for
//! every barrier kind. (The integration tests in `tests/collections.rs` check the same end to
//! end, with real cycles and checkmark, but only probabilistically.)

use crate::{
    clock::{self, Phase},
    config::BarrierKind,
    object::mark,
    runtime::Runtime,
    test_support, thread_state, Gc, GcIdMap, GcMap, GcVec, Mutator, Trace,
};

#[derive(Trace)]
struct Obj {
    v: GcVec<Obj>,
    m: GcMap<u32, Obj>,
    i: GcIdMap<Obj, Obj>,
}

fn obj(mu: &Mutator) -> Gc<'_, Obj> {
    mu.alloc(Obj { v: GcVec::new(), m: GcMap::new(), i: GcIdMap::new() })
}

fn marked(g: Gc<'_, Obj>) -> bool {
    // SAFETY: `g` is a live local: its object is allocated and initialised.
    unsafe { mark::is_marked(g.header_ptr(), clock::mark_epoch()) }
}

/// Turns the pretend marking off again, also if an assertion fails.
pub(super) struct PhaseOff;

impl Drop for PhaseOff {
    fn drop(&mut self) {
        clock::force(Phase::Off, BarrierKind::Dijkstra);
        thread_state::with_running_mutator(|mu| mu.shade.flush(mu.grey));
        Runtime::get().grey.clear();
        drop(test_support::ClearMarks);
    }
}

type Op = fn(&Mutator, Gc<'_, Obj>, Gc<'_, Obj>, Gc<'_, Obj>);

/// `(name, removes or overwrites old, stores new, op(mu, container, old, new))`; before each
/// op, `old` is in the container's vector (index 0), map (key 1) and id map (key and value).
const CASES: &[(&str, bool, bool, Op)] = &[
    ("GcVec::pop", true, false, |mu, c, _, _| {
        let _ = c.v.pop(mu);
    }),
    ("GcVec::try_remove", true, false, |mu, c, _, _| {
        let _ = c.v.try_remove(0, mu);
    }),
    ("GcVec::truncate", true, false, |_, c, _, _| c.v.truncate(0)),
    ("GcVec::clear", true, false, |_, c, _, _| c.v.clear()),
    ("GcVec::set", true, true, |_, c, _, new| c.v.set(0, new)),
    ("GcVec::push", false, true, |_, c, _, new| c.v.push(new)),
    ("GcVec::insert", false, true, |_, c, _, new| c.v.insert(0, new)),
    ("GcVec::extend", false, true, |_, c, _, new| c.v.extend([new])),
    ("GcMap::insert over a key", true, true, |_, c, _, new| {
        let _ = c.m.insert(1, new);
    }),
    ("GcMap::insert of a new key", false, true, |_, c, _, new| {
        let _ = c.m.insert(2, new);
    }),
    ("GcMap::remove", true, false, |mu, c, _, _| {
        let _ = c.m.remove(&1, mu);
    }),
    ("GcMap::clear", true, false, |_, c, _, _| c.m.clear()),
    ("GcIdMap::insert over a key", true, true, |_, c, old, new| {
        let _ = c.i.insert(old, new);
    }),
    ("GcIdMap::insert of a new key", false, true, |_, c, _, new| {
        let _ = c.i.insert(new, new);
    }),
    ("GcIdMap::remove", true, false, |mu, c, old, _| {
        let _ = c.i.remove(old, mu);
    }),
    ("GcIdMap::clear", true, false, |_, c, _, _| c.i.clear()),
];

#[test]
fn every_store_and_removal_shades_what_the_barrier_promises() {
    let _s = test_support::serial();
    let mu = crate::attach();
    for kind in [BarrierKind::Dijkstra, BarrierKind::Yuasa, BarrierKind::Hybrid] {
        for &(name, removes, stores, op) in CASES {
            let (c, old, new) = (obj(&mu), obj(&mu), obj(&mu));
            c.v.push(old);
            c.m.insert(1, old);
            c.i.insert(old, old);
            assert!(!marked(c) && !marked(old) && !marked(new), "objects are white outside a marking");
            // Pretend a cycle started: barrier on.
            clock::force(Phase::Mark, kind);
            let off = PhaseOff;
            op(&mu, c, old, new);
            let removed_shaded = removes && kind.shades_old();
            let stored_shaded = stores && kind.shades_new();
            let (old_marked, new_marked, c_marked) = (marked(old), marked(new), marked(c));
            drop(off);
            assert_eq!(old_marked, removed_shaded, "{kind:?}, {name}: the removed or overwritten pointer");
            assert_eq!(new_marked, stored_shaded, "{kind:?}, {name}: the stored pointer");
            assert!(!c_marked, "{kind:?}, {name}: the container is not shaded");
        }
    }
}
