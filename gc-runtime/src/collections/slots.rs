//! Helpers shared by the collections: the armed flag, and reading a slot's address without a
//! mutator (for `Debug`).

use std::{
    fmt,
    ops::{Deref, DerefMut},
    time::{Duration, Instant},
};

use hashbrown::HashTable;

use crate::{
    member::Member,
    object::{Header, ScanCursor, ScanState, Trace, TraceSink, Tracer},
    owned_bytes,
    primitive::sync::{
        atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering},
        RwLock, RwLockReadGuard, RwLockWriteGuard,
    },
};

/// Whether a collection is inside an allocated object (see the module docs, "Armed and
/// unarmed collections"), set once, by allocation, before the object is published; and the
/// bytes of its buffers it has charged as owned memory since (`owned_bytes.rs`: an unarmed
/// collection charges nothing, no marking could count it), released when it is dropped.
pub(crate) struct Armed {
    flag: AtomicBool,
    charged: AtomicUsize,
}

impl Armed {
    /// Unarmed.
    pub(crate) fn new() -> Armed {
        Armed { flag: AtomicBool::new(false), charged: AtomicUsize::new(0) }
    }

    /// Whether allocation armed it.
    #[inline]
    pub(crate) fn get(&self) -> bool {
        // Relaxed: the flag is set before the object is published (a Release store of its
        // address into a slot or root, read with Acquire), or on this very thread.
        self.flag.load(Ordering::Relaxed)
    }

    /// Panic unless armed: `what` is the storing method, e.g. `"GcVec::push"`.
    #[inline]
    pub(crate) fn check(&self, what: &'static str, collection: &'static str) {
        if !self.get() {
            unarmed_store(what, collection);
        }
    }

    /// Report the flag to `tracer` (the allocation sink sets it; every other sink ignores it);
    /// when that arms the collection, charge its buffers, `bytes()` — read without the lock:
    /// the object is not published yet.
    #[inline]
    pub(crate) fn trace(&self, tracer: &mut Tracer<'_>, bytes: impl FnOnce() -> usize) {
        if tracer.report_armed_flag(&self.flag) {
            self.charge_to(bytes());
        }
    }

    /// The collection's buffers now take `bytes`: charge or release the difference, if the
    /// collection is armed. Called by its writers, under the write lock, and by allocation.
    pub(crate) fn charge_to(&self, bytes: usize) {
        if self.get() {
            let old = self.charged.swap(bytes, Ordering::Relaxed);
            owned_bytes::resize(old, bytes);
        }
    }

    /// The bytes charged: what the marker counts live (read under the read lock, which keeps
    /// the writers that change it out).
    #[inline]
    pub(crate) fn charged(&self) -> usize {
        self.charged.load(Ordering::Relaxed)
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        owned_bytes::release(*self.charged.get_mut());
    }
}

#[cold]
#[inline(never)]
fn unarmed_store(what: &'static str, collection: &'static str) -> ! {
    panic!(
        "{what} on a {collection} that is not inside an allocated object; \
         put the {collection} in an object and allocate it with `mu.alloc` (or allocate the \
         {collection} itself), then store into it"
    )
}

/// Reads the one slot a `Member` reports.
struct ReadAddr(usize);

impl TraceSink for ReadAddr {
    fn visit_slot(&mut self, slot: &AtomicPtr<Header>) {
        // Relaxed: only the address is used (printed), never dereferenced.
        self.0 = slot.load(Ordering::Relaxed).addr();
    }

    fn visit_locked(&mut self) {
        // A `Member` takes no lock.
    }
}

/// The longest a collection's `trace` waits for its lock at a time before it reads its
/// patience again ([`read_for_trace`]).
const LOCK_WAIT_SLICE: Duration = Duration::from_millis(1);

/// Take a collection's read lock for its `trace`. Returns `None` if the marker already scanned
/// the collection in this marking (its cursor says so: nothing to report), or if a writer holds
/// the lock — then the object is reported as locked, so the collector traces it again later
/// instead of waiting (see "Locks, safepoints and pauses" in `collections/mod.rs`).
///
/// A first visit takes the lock recursively, so a thread that already reads the collection
/// further up its stack (and then allocates and assists) gets through even if a writer is
/// queued. The marker coming back for the next chunk of a large collection takes it fairly — it
/// fails while a writer waits — so the writer gets in between two chunks
/// (`object/scan_cursor.rs`).
///
/// A mark worker that has found the object locked for a while, and the collector's walks
/// inside a pause, then wait for the lock, up to [`Tracer::lock_patience`], queued with the
/// lock's writers: a writer that releases the
/// lock and takes it again at once (back-to-back insertions whose key's `Eq` is slow) would
/// otherwise hold it at nearly every try, and the marking would never end (see
/// `marker/mod.rs`, "Locked collections"). If it had to wait, it scans more than one chunk in
/// this visit, the more the longer it waited ([`Tracer::waited_for_lock`]).
pub(crate) fn read_for_trace<'a, T>(
    lock: &'a RwLock<T>,
    cursor: &ScanCursor,
    tracer: &mut Tracer<'_>,
) -> Option<RwLockReadGuard<'a, T>> {
    let state = tracer.scan_state(cursor);
    let tried = match state {
        ScanState::Done => return None,
        ScanState::Partway => lock.try_read(),
        ScanState::Fresh => lock.try_read_recursive(),
    };
    // The patience is read only after a failed try: most visits find the lock free. The wait
    // is cut into slices, between which the patience is read again: it ends early when the
    // marker's job does (`MarkVisitor::patience_now`).
    let guard = tried.or_else(|| {
        let patience = tracer.lock_patience()?;
        let start = Instant::now();
        let waited = loop {
            let left = patience.saturating_sub(start.elapsed());
            let slice = left.min(LOCK_WAIT_SLICE);
            let waited = match state {
                ScanState::Partway => lock.try_read_for(slice),
                _ => lock.try_read_recursive_for(slice),
            };
            if waited.is_some() || left <= LOCK_WAIT_SLICE || tracer.lock_patience().is_none() {
                break waited;
            }
        };
        if waited.is_some() {
            tracer.waited_for_lock(start.elapsed());
        }
        waited
    });
    if guard.is_none() {
        tracer.report_locked();
    }
    guard
}

/// For a collection with nothing to scan (its values hold no pointers): report `bytes` of
/// owned memory on the marker's first visit of the marking, as the others do before they scan
/// ([`Tracer::owned_bytes`]), and mark the scan done. The object that holds the collection may
/// be visited again in the same marking — once per chunk of a large collection beside it — and
/// must not count it twice.
pub(crate) fn report_owned_once(cursor: &ScanCursor, tracer: &mut Tracer<'_>, bytes: usize) {
    tracer.owned_bytes(cursor, bytes);
    tracer.scan_window(cursor, 0);
}

/// A collection's write lock, which brings what the collection has charged as owned memory
/// up to date when the writer lets go (`owned_bytes.rs`): `bytes(&locked)`, the size of its
/// buffers, read while the lock is still held. Every writer of a collection takes its lock
/// through this, so growth anywhere under the lock is counted.
pub(crate) struct ChargedWrite<'a, T, F: Fn(&T) -> usize> {
    guard: RwLockWriteGuard<'a, T>,
    armed: &'a Armed,
    bytes: F,
}

impl<'a, T, F: Fn(&T) -> usize> ChargedWrite<'a, T, F> {
    /// Take `lock` for writing; `armed` charges `bytes` of what it guards when it is let go.
    pub(crate) fn lock(lock: &'a RwLock<T>, armed: &'a Armed, bytes: F) -> Self {
        ChargedWrite { guard: lock.write(), armed, bytes }
    }
}

impl<T, F: Fn(&T) -> usize> Deref for ChargedWrite<'_, T, F> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T, F: Fn(&T) -> usize> DerefMut for ChargedWrite<'_, T, F> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T, F: Fn(&T) -> usize> Drop for ChargedWrite<'_, T, F> {
    fn drop(&mut self) {
        // Before the guard (a field) is dropped: the size is read under the lock.
        self.armed.charge_to((self.bytes)(&self.guard));
    }
}

/// Make room for one more entry in a hash table, under its write lock, before inserting it. If
/// that rehashes the table — entries change buckets — while the marker's scan of it is part way
/// through, an entry may have moved behind the scan's cursor, so every entry's slots are
/// shaded again with `reshade` (see `object/scan_cursor.rs`). With no scan part way through, a
/// rehash is harmless and the insertion makes room itself.
///
/// `capacity()` is the entries the table holds without rehashing; an insertion rehashes only
/// when it is reached (which `reserve` does first, here), and a rehash always raises it.
pub(crate) fn reserve_one<T>(
    table: &mut HashTable<T>,
    cursor: &ScanCursor,
    hasher: impl Fn(&T) -> u64,
    reshade: impl Fn(&T),
) {
    if !cursor.mid_scan() {
        return;
    }
    let room = table.capacity();
    table.reserve(1, hasher);
    if table.capacity() != room {
        table.iter().for_each(reshade);
    }
}

/// Report the slots of the entries in the hash-table buckets the tracer asks for (all of them,
/// or the marker's next chunk), under the table's read lock.
pub(crate) fn trace_buckets<T>(
    table: &HashTable<T>,
    cursor: &ScanCursor,
    tracer: &mut Tracer<'_>,
    mut trace_entry: impl FnMut(&T, &mut Tracer<'_>),
) {
    let buckets = table.num_buckets();
    let window = tracer.scan_window(cursor, buckets);
    if window == (0..buckets) {
        table.iter().for_each(|e| trace_entry(e, tracer));
    } else {
        window.filter_map(|i| table.get_bucket(i)).for_each(|e| trace_entry(e, tracer));
    }
}

/// The address a slot holds (0 if empty), as [`Gc::addr`](crate::Gc::addr) gives it: for
/// `Debug`, which must not follow pointers (a cycle would recurse forever) and has no mutator.
pub(crate) fn slot_addr<T: ?Sized>(slot: &Member<T>) -> usize {
    let mut sink = ReadAddr(0);
    slot.trace(&mut Tracer::new(&mut sink));
    if sink.0 == crate::slot::UNARMED_ADDR {
        0
    } else {
        sink.0
    }
}

/// An object address, printed as `0x…` (or `null`).
#[derive(Clone, Copy)]
pub(crate) struct AddrFmt(pub(crate) usize);

impl fmt::Debug for AddrFmt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            f.write_str("null")
        } else {
            write!(f, "{:#x}", self.0)
        }
    }
}

/// The `Debug` output of an identity-keyed map (`GcIdMap`, `GcWeakMap`): its name, length,
/// an unarmed map's flag, and the entries as key and value addresses, copied out beforehand (no
/// formatting under the map's lock).
pub(crate) fn debug_address_map(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    armed: bool,
    entries: &[(AddrFmt, AddrFmt)],
) -> fmt::Result {
    struct Entries<'a>(&'a [(AddrFmt, AddrFmt)]);
    impl fmt::Debug for Entries<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_map().entries(self.0.iter().map(|(k, v)| (k, v))).finish()
        }
    }
    let mut s = f.debug_struct(name);
    s.field("len", &entries.len());
    if !armed {
        s.field("armed", &false);
    }
    s.field("entries", &Entries(entries)).finish()
}
