//! Tutorial 2, continued: scoped threads that attach, and a parent that waits for them.

// ANCHOR: scoped
use gc_runtime::{Member, Root, Trace};

/// What the children store, shared by all of them.
#[derive(Trace)]
pub struct Tally {
    /// Every part any child stored.
    pub results: gc_runtime::GcVec<Part>,
}

/// One child's result.
#[derive(Trace)]
pub struct Part {
    /// Which child.
    pub child: usize,
    /// What it computed.
    pub sum: u64,
    /// The part the same child stored before (a chain, to have a pointer in a slot).
    pub previous: Member<Part>,
}

/// `children` scoped threads each attach, add `rounds` parts to a shared tally and collect now
/// and then; the parent waits for them. Returns the sum of every part.
pub fn run(children: usize, rounds: u64) -> u64 {
    let mut mu = gc_runtime::attach();
    let tally = mu.alloc(Tally { results: gc_runtime::GcVec::new() });
    // Share the object through a root, not through `&Tally` (`tally.into_ref()`): a borrowed
    // reference would keep this thread's mutator borrowed, so it could not detach below.
    let root: Root<Tally> = tally.root(&mu);
    // The parent waits for its children detached: they collect, and a cycle waits for every
    // attached thread to reach a safepoint. A parent that joined while attached would wait
    // for its children while they wait for it (the collector's warning names both).
    mu.blocking(|| {
        std::thread::scope(|s| {
            for child in 0..children {
                let root = &root;
                s.spawn(move || {
                    let mut mu = gc_runtime::attach();
                    let mut previous = None;
                    for round in 0..rounds {
                        let part = mu.alloc(Part { child, sum: round, previous: Member::new() });
                        part.previous.set(previous);
                        root.get(&mu).results.push(part);
                        previous = Some(part);
                        if round % 16 == 15 {
                            previous = None; // a local cannot live across the safepoint
                            mu.collect(); // fine: the parent is detached
                        }
                    }
                });
            }
        });
    });
    let tally = root.get(&mu);
    tally.results.iter(&mu).map(|p| p.sum).sum()
}
// ANCHOR_END: scoped

#[cfg(test)]
mod tests {
    #[test]
    fn children_collect_while_the_parent_waits_detached() {
        let (children, rounds) = (3, 64);
        let expected = children as u64 * (0..rounds).sum::<u64>();
        assert_eq!(super::run(children, rounds), expected);
    }
}
