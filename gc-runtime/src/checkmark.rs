//! Checkmark: verify a concurrent mark with a stop-the-world mark (Go's `gccheckmark`).
//!
//! With the world stopped at mark termination, walk everything reachable from the roots again,
//! recording visits in a separate table (not the mark bits), and check that the concurrent
//! marking marked each object it reaches. A weak map's value counts as reached once its map
//! and its key are (ephemeron semantics, see `collections/weak_map.rs`). An object reachable
//! but unmarked would be freed by the sweep while still in use: the collector stops with a
//! report naming the object's type and the path from the root that reaches it.

use std::{collections::HashMap, fmt, time::Duration};

use crate::{
    address_hash::BuildAddressHasher,
    object::{mark, trace::PAUSE_LOCK_PATIENCE, Header, TraceSink, Tracer},
    primitive::sync::atomic::{AtomicPtr, Ordering},
    slot::is_object,
};

/// An object reachable from a root that the concurrent mark left white.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckmarkFailure {
    /// Type names from the root to the missed object, outermost first, with addresses.
    pub path: Vec<String>,
    /// The epoch of the marking that missed it.
    pub epoch: u64,
}

impl fmt::Display for CheckmarkFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "gc checkmark: object {} is reachable but was not marked by marking {}",
            self.path.last().map_or("?", String::as_str),
            self.epoch
        )?;
        write!(f, "  reached by: root -> {}", self.path.join(" -> "))
    }
}

/// What a checkmark walk found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CheckmarkReport {
    pub(crate) objects: usize,
}

/// Why a checkmark walk did not confirm the marking.
#[derive(Debug)]
pub(crate) enum CheckmarkError {
    /// A reachable object is unmarked: the sweep would free it.
    Missed(CheckmarkFailure),
    /// A collection on the way stayed locked by another thread for [`PAUSE_LOCK_PATIENCE`];
    /// the walk must go on later (see [`verify`]), with the root table released meanwhile (its
    /// holder may be waiting for that table). A walk that started over at the first lock taken
    /// never finished while threads without a mutator kept taking many (a hostile review's
    /// sixteen such threads, each taking its own vector's lock back to back, held the pause for
    /// good).
    Locked,
}

struct Collect<'a> {
    out: &'a mut Vec<*const Header>,
    /// The traced object's ephemeron entries: (key, value).
    ephemerons: &'a mut Vec<(*const Header, *const Header)>,
    locked: bool,
}

impl TraceSink for Collect<'_> {
    fn visit_slot(&mut self, slot: &AtomicPtr<Header>) {
        let p = slot.load(Ordering::Acquire);
        if is_object(p) {
            self.out.push(p);
        }
    }

    fn visit_ephemeron(&mut self, key: *const Header, value: &AtomicPtr<Header>) {
        let v = value.load(Ordering::Acquire);
        if is_object(v) {
            self.ephemerons.push((key, v));
        }
    }

    fn visit_locked(&mut self) {
        self.locked = true;
    }

    fn lock_patience(&self) -> Option<Duration> {
        Some(PAUSE_LOCK_PATIENCE)
    }
}

/// The walk's separate "bitmap", with what explains a miss: object -> parent (null for a
/// root), and the ephemeron values waiting for their keys. It lasts across the attempts of one
/// termination (see [`verify`]).
#[derive(Default)]
pub(crate) struct Walk {
    /// Each object reached -> the object it was reached from (null for a root).
    parent: Parents,
    stack: Vec<*const Header>,
    /// Objects reached whose trace found a collection locked: traced again on the next
    /// attempt.
    locked: Vec<*const Header>,
    /// key -> (value, the object holding the entry) for entries whose key is not reached yet.
    waiting: HashMap<*const Header, Vec<(*const Header, *const Header)>, BuildAddressHasher>,
}

/// Objects reached, by address, and where from: hashed by address, not SipHash (see
/// `address_hash.rs`).
type Parents = HashMap<*const Header, *const Header, BuildAddressHasher>;

impl Walk {
    /// `obj` is reached from `from`: if it is new, scan it later, and reach the values that
    /// waited for it as a key (ephemeron semantics: a value is reachable once its map and its
    /// key both are).
    fn reach(&mut self, obj: *const Header, from: *const Header) {
        let mut todo = vec![(obj, from)];
        while let Some((obj, from)) = todo.pop() {
            if let std::collections::hash_map::Entry::Vacant(e) = self.parent.entry(obj) {
                e.insert(from);
                self.stack.push(obj);
                // Most walks have no entry waiting: no lookup for them.
                if !self.waiting.is_empty() {
                    if let Some(values) = self.waiting.remove(&obj) {
                        todo.extend(values);
                    }
                }
            }
        }
    }

    /// A weak-map entry of the reached object `holder`.
    fn ephemeron(&mut self, key: *const Header, value: *const Header, holder: *const Header) {
        if self.parent.contains_key(&key) {
            self.reach(value, holder);
        } else {
            self.waiting.entry(key).or_default().push((value, holder));
        }
    }
}

/// Walk from `roots` and check every reached object is marked for `epoch`. A weak map's value
/// counts as reached once its map and its key are.
///
/// An object whose trace finds a collection locked (each lock waited for a while,
/// [`PAUSE_LOCK_PATIENCE`]) is put aside and the walk goes on; if any was, the walk ends with
/// [`CheckmarkError::Locked`], and the next call with the same `walk` goes on from there,
/// tracing those objects again — so each attempt needs only the locks still missing, not every
/// lock free at once. What the walk found stays true between attempts: the world stays stopped
/// (no object is freed, marks are only added), and a thread without a running mutator can only
/// remove pointers, never add one.
///
/// # Safety
/// The world is stopped (and has stayed stopped since `walk` began) and `roots` are the current
/// root pointers, so every object reached is allocated.
pub(crate) unsafe fn verify(
    roots: &[*const Header],
    epoch: u64,
    walk: &mut Walk,
) -> Result<CheckmarkReport, CheckmarkError> {
    for &r in roots {
        walk.reach(r, std::ptr::null());
    }
    let retried = std::mem::take(&mut walk.locked);
    walk.stack.extend(retried);
    let mut children = Vec::new();
    let mut ephemerons = Vec::new();
    while let Some(obj) = walk.stack.pop() {
        // SAFETY: reached from a root with the world stopped: allocated.
        let h = unsafe { &*obj };
        // SAFETY: as above.
        if !unsafe { mark::is_marked(obj, epoch) } {
            return Err(CheckmarkError::Missed(CheckmarkFailure { path: path_to(&walk.parent, obj), epoch }));
        }
        let Some(trace) = h.desc().trace else { continue };
        children.clear();
        ephemerons.clear();
        let mut sink = Collect { out: &mut children, ephemerons: &mut ephemerons, locked: false };
        // SAFETY: `obj` is allocated and of the type its descriptor describes.
        unsafe { trace(obj, &mut Tracer::new(&mut sink)) };
        if sink.locked {
            walk.locked.push(obj);
        }
        for &c in &children {
            walk.reach(c, obj);
        }
        for &(key, value) in &ephemerons {
            walk.ephemeron(key, value, obj);
        }
    }
    if !walk.locked.is_empty() {
        return Err(CheckmarkError::Locked);
    }
    Ok(CheckmarkReport { objects: walk.parent.len() })
}

fn path_to(parent: &Parents, mut obj: *const Header) -> Vec<String> {
    let mut path = Vec::new();
    while !obj.is_null() {
        // SAFETY: every key of `parent` was reached from a root with the world stopped.
        let name = unsafe { &*obj }.desc().name();
        path.push(format!("{name}@{obj:p}"));
        obj = parent.get(&obj).copied().unwrap_or(std::ptr::null());
    }
    path.reverse();
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{clock, test_support, Gc, Member, Trace};

    #[derive(Trace)]
    struct Link {
        next: Member<Link>,
    }

    fn header(g: Gc<'_, Link>) -> *const Header {
        g.header_ptr()
    }

    #[test]
    fn a_reachable_unmarked_object_is_reported_with_its_path() {
        let _s = test_support::serial();
        let mu = crate::attach();
        let a = mu.alloc(Link { next: Member::new() });
        let b = mu.alloc(Link { next: Member::new() });
        let c = mu.alloc(Link { next: Member::new() });
        a.next.set(Some(b));
        b.next.set(Some(c));
        let epoch = clock::mark_epoch();
        let _clear = test_support::ClearMarks;
        // A marking that reached `a` and `b` but missed `c`.
        // SAFETY: live locals (for every unsafe call below); no collection runs while they
        // exist (pacing is off), and the guard clears the pretend marks.
        unsafe {
            assert!(mark::try_mark(header(a), epoch));
            assert!(mark::try_mark(header(b), epoch));
        }
        // SAFETY: as above.
        let Err(CheckmarkError::Missed(err)) = (unsafe { verify(&[header(a)], epoch, &mut Walk::default()) }) else {
            panic!("checkmark did not report the missed object")
        };
        assert_eq!(err.path.len(), 3, "{err}");
        assert!(err.path.iter().all(|p| p.contains("Link")), "{err}");
        assert!(err.path[2].contains(&format!("{:p}", header(c))), "{err}");
        assert_eq!(err.epoch, epoch);
        assert!(err.to_string().contains("reachable but was not marked"));
        // SAFETY: as above.
        unsafe { assert!(mark::try_mark(header(c), epoch)) };
        // SAFETY: as above.
        let ok = unsafe { verify(&[header(a)], epoch, &mut Walk::default()) }.unwrap();
        assert_eq!(ok.objects, 3);
    }
}
