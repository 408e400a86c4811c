//! [`GcVec`]: a growable sequence of GC pointers, shared by every thread that reaches it.
//!
//! The design — lock-free reads of a buffer of armed slots (`slot_array.rs`), a read-write lock
//! that orders the writers and the marker, and why growth cannot lose a pointer the marker is
//! scanning — is in the module header of `collections/mod.rs`.

use std::{collections::HashSet, fmt};

use super::{
    error::IndexOutOfRange,
    slots::{read_for_trace, slot_addr, AddrFmt, Armed, ChargedWrite},
};
use crate::{
    address_hash::BuildAddressHasher,
    gc::Gc,
    member::Member,
    mutator::Mutator,
    object::{Header, ScanCursor, Trace, Tracer},
    primitive::sync::RwLock,
    shared_slice::pin,
    slot_array::SlotArray,
};

const NAME: &str = "GcVec";

/// A growable sequence of GC pointers to `T`, for use inside GC objects, from several threads
/// at once.
///
/// All methods take `&self`: a `GcVec` lives in a heap object reached through shared
/// references. Stores run the write barrier; reads need a [`Mutator`] and return locals.
/// Elements are never empty: every element is a pointer to a `T`.
///
/// Reads take no lock: [`get`](GcVec::get), [`len`](GcVec::len), [`last`](GcVec::last),
/// [`iter`](GcVec::iter) and [`contains`](GcVec::contains) (unless its first look misses) load
/// atomics, so readers on many threads never contend, and never wait for a writer or for the
/// collector; [`to_vec`](GcVec::to_vec), a copy at one instant, takes the lock shared. Writers that
/// change the length take a lock that orders them among themselves and with the collector's
/// scan of the vector; a buffer replaced by growth is freed once no reader can still be
/// reading it (epoch-based reclamation, through `crossbeam-epoch`; within a cycle or two,
/// counted meanwhile in [`Stats::retired_bytes`](crate::Stats)). A reader running while a
/// writer works sees, at each index, the element from before the change or from after it.
///
/// A `GcVec` works once the object that holds it — or the `GcVec` itself — is allocated
/// ([`GcVec::new`] is *unarmed*: it reads as empty and every storing method panics).
///
/// ```
/// use gc_runtime::{GcVec, Trace};
///
/// #[derive(Trace)]
/// struct Scope {
///     name: String,
///     locals: GcVec<String>,
/// }
///
/// let mut mu = gc_runtime::attach();
/// let scope = mu.alloc(Scope { name: "main".into(), locals: GcVec::new() });
/// scope.locals.push(mu.alloc(String::from("x")));
/// scope.locals.push(mu.alloc(String::from("y")));
/// let root = scope.root(&mu);
/// mu.collect(); // the strings are reachable through the vector: they survive
/// let scope = root.get(&mu);
/// let names: Vec<&str> = scope.locals.iter(&mu).map(|s| s.into_ref().as_str()).collect();
/// assert_eq!(names, ["x", "y"]);
/// assert_eq!(*scope.locals.pop(&mu).unwrap(), "y");
/// assert_eq!(scope.locals.len(), 1);
/// ```
pub struct GcVec<T: ?Sized> {
    armed: Armed,
    /// Where the marker's chunked scan resumes (see `object/scan_cursor.rs`).
    cursor: ScanCursor,
    /// Held for writing by the writers that change the length or move elements, for reading
    /// by `set` and by the marker's scan; readers do not take it.
    lock: RwLock<()>,
    slots: SlotArray<Member<T>>,
}

impl<T: ?Sized> GcVec<T> {
    /// An empty vector, to put in a new object (it accepts elements once that object is
    /// allocated).
    ///
    /// ```
    /// use gc_runtime::GcVec;
    ///
    /// let mu = gc_runtime::attach();
    /// let loose: GcVec<u8> = GcVec::new();
    /// assert!(loose.is_empty()); // unarmed: reads as empty, `push` would panic
    /// let v = mu.alloc(GcVec::new()); // allocated: armed
    /// v.push(mu.alloc(7_u8));
    /// assert_eq!(v.len(), 1);
    /// ```
    pub fn new() -> GcVec<T> {
        GcVec::with_capacity(0)
    }

    /// An empty vector with room for `capacity` elements before it reallocates.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(gc_runtime::GcVec::with_capacity(100));
    /// v.push(mu.alloc(1_u64));
    /// # assert_eq!(v.len(), 1);
    /// ```
    pub fn with_capacity(capacity: usize) -> GcVec<T> {
        GcVec {
            armed: Armed::new(),
            cursor: ScanCursor::new(),
            lock: RwLock::new(()),
            slots: SlotArray::with_capacity(capacity),
        }
    }

    /// The number of elements.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(gc_runtime::GcVec::new());
    /// v.push(mu.alloc('a'));
    /// assert_eq!(v.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the vector has no element.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(gc_runtime::GcVec::<char>::new());
    /// assert!(v.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Append `value` (runs the write barrier).
    ///
    /// # Panics
    /// If the vector is not inside an allocated object (see the type's docs).
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(gc_runtime::GcVec::new());
    /// v.push(mu.alloc(1_i32));
    /// v.push(mu.alloc(2_i32));
    /// assert_eq!(*v.get(1, &mu).unwrap(), 2);
    /// ```
    pub fn push(&self, value: Gc<'_, T>) {
        self.armed.check("GcVec::push", NAME);
        let _writer = self.write();
        // SAFETY: the write lock is held.
        unsafe { self.slots.extend(std::iter::once(value.header_ptr())) };
    }

    /// Append every element of `values` (runs the write barrier for each). The iterator runs
    /// before the vector is locked, so it may read this vector.
    ///
    /// # Panics
    /// If the vector is not inside an allocated object.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(gc_runtime::GcVec::new());
    /// v.extend((0..3_u32).map(|i| mu.alloc(i)));
    /// assert_eq!(v.len(), 3);
    /// ```
    pub fn extend<'g>(&self, values: impl IntoIterator<Item = Gc<'g, T>>)
    where
        T: 'g,
    {
        self.armed.check("GcVec::extend", NAME);
        let new: Vec<*mut Header> = values.into_iter().map(|v| v.header_ptr()).collect();
        let _writer = self.write();
        // SAFETY: the write lock is held.
        unsafe { self.slots.extend(new.into_iter()) };
    }

    /// Remove the last element and return it, or `None` if the vector is empty.
    ///
    /// Under the Yuasa and hybrid barriers the removed pointer is shaded, as for any deletion.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(gc_runtime::GcVec::new());
    /// v.push(mu.alloc(5_u8));
    /// assert_eq!(v.pop(&mu).map(|x| *x), Some(5));
    /// assert!(v.pop(&mu).is_none());
    /// ```
    pub fn pop<'m>(&self, mu: &'m Mutator) -> Option<Gc<'m, T>> {
        let _writer = self.write();
        let last = self.slots.len().checked_sub(1)?;
        // SAFETY: the write lock is held.
        let raw = unsafe { self.slots.remove(last) }?;
        // SAFETY: read (`Acquire`) from a slot of this vector just now, on `mu`'s thread.
        unsafe { Member::local_of(raw, mu) }
    }

    /// The element at `index`, or `None` if `index >= len`.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(gc_runtime::GcVec::new());
    /// v.push(mu.alloc("zero"));
    /// assert_eq!(v.get(0, &mu).map(|s| *s), Some("zero"));
    /// assert!(v.get(1, &mu).is_none());
    /// ```
    pub fn get<'m>(&self, index: usize, mu: &'m Mutator) -> Option<Gc<'m, T>> {
        let raw = self.slots.get(index, &pin())?;
        // SAFETY: read (`Acquire`) from a slot of this vector just now, on `mu`'s thread.
        unsafe { Member::local_of(raw, mu) }
    }

    /// The last element, or `None` if the vector is empty.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(gc_runtime::GcVec::new());
    /// v.extend([mu.alloc(1_u8), mu.alloc(2_u8)]);
    /// assert_eq!(v.last(&mu).map(|x| *x), Some(2));
    /// ```
    pub fn last<'m>(&self, mu: &'m Mutator) -> Option<Gc<'m, T>> {
        let raw = self.slots.last(&pin())?;
        // SAFETY: read (`Acquire`) from a slot of this vector just now, on `mu`'s thread.
        unsafe { Member::local_of(raw, mu) }
    }

    /// Replace the element at `index` (runs the write barrier).
    ///
    /// # Panics
    /// If `index >= len` (the message gives both), or if the vector is not inside an allocated
    /// object.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(gc_runtime::GcVec::new());
    /// v.push(mu.alloc(1_u16));
    /// v.set(0, mu.alloc(10_u16));
    /// assert_eq!(*v.get(0, &mu).unwrap(), 10);
    /// ```
    #[track_caller]
    pub fn set(&self, index: usize, value: Gc<'_, T>) {
        if let Err(e) = self.try_set(index, value) {
            panic!("GcVec::set: {e}");
        }
    }

    /// Replace the element at `index` (runs the write barrier), or say why not.
    ///
    /// # Errors
    /// [`IndexOutOfRange`] if `index >= len`; the vector is unchanged.
    ///
    /// # Panics
    /// If the vector is not inside an allocated object.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(gc_runtime::GcVec::new());
    /// v.push(mu.alloc(1_u16));
    /// assert!(v.try_set(0, mu.alloc(2_u16)).is_ok());
    /// assert_eq!(v.try_set(1, mu.alloc(3_u16)).unwrap_err().len, 1);
    /// ```
    pub fn try_set(&self, index: usize, value: Gc<'_, T>) -> Result<(), IndexOutOfRange> {
        self.armed.check("GcVec::set", NAME);
        // A read lock suffices: the store is to one slot, atomic and barriered like any
        // `Member::set`; the structure does not change.
        let _setter = self.lock.read();
        // SAFETY: the read lock is held.
        let slots = unsafe { self.slots.slots_locked() };
        match slots.get(index) {
            Some(slot) => {
                slot.set(Some(value));
                Ok(())
            }
            None => Err(IndexOutOfRange { index, len: slots.len() }),
        }
    }

    /// Insert `value` at `index`, shifting the later elements up (runs the write barrier).
    ///
    /// # Panics
    /// If `index > len` (the message gives both), or if the vector is not inside an allocated
    /// object.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(gc_runtime::GcVec::new());
    /// v.push(mu.alloc(3_u8));
    /// v.insert(0, mu.alloc(1_u8));
    /// v.insert(1, mu.alloc(2_u8));
    /// assert_eq!(v.iter(&mu).map(|x| *x).collect::<Vec<_>>(), [1, 2, 3]);
    /// ```
    #[track_caller]
    pub fn insert(&self, index: usize, value: Gc<'_, T>) {
        if let Err(e) = self.try_insert(index, value) {
            panic!("GcVec::insert: {e}");
        }
    }

    /// Insert `value` at `index`, shifting the later elements up (runs the write barrier), or
    /// say why not. With other threads changing the length, this is the way to insert at an
    /// index computed from an earlier [`GcVec::len`].
    ///
    /// # Errors
    /// [`IndexOutOfRange`] if `index > len`; the vector is unchanged.
    ///
    /// # Panics
    /// If the vector is not inside an allocated object.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(gc_runtime::GcVec::new());
    /// assert!(v.try_insert(0, mu.alloc(1_u8)).is_ok()); // at the end: allowed
    /// assert_eq!(v.try_insert(2, mu.alloc(2_u8)).unwrap_err().index, 2);
    /// ```
    pub fn try_insert(&self, index: usize, value: Gc<'_, T>) -> Result<(), IndexOutOfRange> {
        self.armed.check("GcVec::insert", NAME);
        let _writer = self.write();
        let len = self.slots.len();
        if index > len {
            return Err(IndexOutOfRange { index, len });
        }
        // SAFETY: the write lock is held.
        unsafe { self.slots.insert(index, value.header_ptr()) };
        self.cursor.inserted(index);
        Ok(())
    }

    /// Remove the element at `index` and return it, shifting the later elements down.
    ///
    /// Under the Yuasa and hybrid barriers the removed pointer is shaded.
    ///
    /// # Panics
    /// If `index >= len` (the message gives both).
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(gc_runtime::GcVec::new());
    /// v.extend([mu.alloc('a'), mu.alloc('b'), mu.alloc('c')]);
    /// assert_eq!(*v.remove(1, &mu), 'b');
    /// assert_eq!(v.iter(&mu).map(|x| *x).collect::<String>(), "ac");
    /// ```
    #[track_caller]
    pub fn remove<'m>(&self, index: usize, mu: &'m Mutator) -> Gc<'m, T> {
        self.try_remove(index, mu).unwrap_or_else(|e| panic!("GcVec::remove: {e}"))
    }

    /// Remove the first element that is `value` — the same object, not an equal one — shifting
    /// the later elements down; `false`, and no change, if the vector does not hold it.
    ///
    /// One step under the writers' lock: unlike finding the element's index and removing at
    /// it, no insert or removal by another thread in between can make it remove another
    /// element. Under the Yuasa and hybrid barriers the removed pointer is shaded.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(gc_runtime::GcVec::new());
    /// let (a, b) = (mu.alloc('a'), mu.alloc('b'));
    /// v.extend([a, b, a]);
    /// assert!(v.remove_item(a));
    /// assert_eq!(v.iter(&mu).map(|x| *x).collect::<String>(), "ba");
    /// assert!(!v.remove_item(mu.alloc('b')), "an equal value is another object");
    /// ```
    pub fn remove_item(&self, value: Gc<'_, T>) -> bool {
        let _writer = self.write();
        // SAFETY: the write lock is held while the slice is used.
        let found = unsafe { self.slots.slots_locked() }.iter().position(|slot| slot.points_to(value));
        let Some(index) = found else { return false };
        // SAFETY: the write lock is held.
        let removed = unsafe { self.slots.remove(index) };
        debug_assert!(removed.is_some(), "the index was found under the lock");
        self.cursor.removed(index);
        true
    }

    /// Keep only the elements `keep` accepts: remove every element that is one of the objects
    /// it rejected, keeping the order of the rest; returns how many elements were removed.
    ///
    /// `keep` runs once per element of a snapshot ([`GcVec::to_vec`]), in order, with no lock
    /// held, so it may read and change this vector, allocate or panic (a panic removes
    /// nothing). Then, in one step under the writers' lock, the elements that are one of the
    /// rejected objects — the same object, compared by address — are removed in a single pass,
    /// wherever other threads' inserts and removals have moved them meanwhile. So an element
    /// added meanwhile is kept unless it is an object `keep` rejected, and an object that
    /// appears more than once goes everywhere if `keep` rejected it once. Under the Yuasa and
    /// hybrid barriers every removed pointer is shaded.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(gc_runtime::GcVec::new());
    /// v.extend((1..=6_u32).map(|i| mu.alloc(i)));
    /// assert_eq!(v.retain(&mu, |x| *x % 2 == 0), 3);
    /// assert_eq!(v.iter(&mu).map(|x| *x).collect::<Vec<_>>(), [2, 4, 6]);
    /// ```
    pub fn retain(&self, mu: &Mutator, mut keep: impl FnMut(Gc<'_, T>) -> bool) -> usize {
        let mut rejected: HashSet<*mut Header, BuildAddressHasher> = HashSet::default();
        for element in self.to_vec(mu) {
            if !keep(element) {
                rejected.insert(element.header_ptr());
            }
        }
        if rejected.is_empty() {
            return 0;
        }
        let _writer = self.write();
        // SAFETY: the write lock is held.
        unsafe { self.slots.remove_where(|raw| rejected.contains(&raw), |index| self.cursor.removed(index)) }
    }

    /// Remove the element at `index` and return it, shifting the later elements down, or say
    /// why not (the vector is then unchanged).
    ///
    /// # Errors
    /// [`IndexOutOfRange`] if `index >= len`.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(gc_runtime::GcVec::new());
    /// v.push(mu.alloc(1_u8));
    /// assert_eq!(v.try_remove(0, &mu).map(|x| *x), Ok(1));
    /// assert_eq!(v.try_remove(0, &mu).unwrap_err(), gc_runtime::IndexOutOfRange { index: 0, len: 0 });
    /// ```
    pub fn try_remove<'m>(&self, index: usize, mu: &'m Mutator) -> Result<Gc<'m, T>, IndexOutOfRange> {
        let _writer = self.write();
        let len = self.slots.len();
        // SAFETY: the write lock is held.
        let Some(raw) = (unsafe { self.slots.remove(index) }) else {
            return Err(IndexOutOfRange { index, len });
        };
        self.cursor.removed(index);
        // SAFETY: read (`Acquire`) from a slot of this vector just now, on `mu`'s thread.
        let value = unsafe { Member::local_of(raw, mu) };
        Ok(value.expect("the elements of a GcVec are never empty"))
    }

    /// Keep the first `len` elements and remove the rest (no effect if `len >= self.len()`).
    ///
    /// Under the Yuasa and hybrid barriers every removed pointer is shaded.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(gc_runtime::GcVec::new());
    /// v.extend((0..5_u8).map(|i| mu.alloc(i)));
    /// v.truncate(2);
    /// assert_eq!(v.len(), 2);
    /// ```
    pub fn truncate(&self, len: usize) {
        let _writer = self.write();
        // SAFETY: the write lock is held.
        unsafe { self.slots.truncate(len) };
    }

    /// Remove every element (shading each under the Yuasa and hybrid barriers).
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(gc_runtime::GcVec::new());
    /// v.push(mu.alloc(1_u8));
    /// v.clear();
    /// assert!(v.is_empty());
    /// ```
    pub fn clear(&self) {
        self.truncate(0);
    }

    /// Whether `value` (this very object, compared by address) is an element. It looks without
    /// a lock first; only if that finds nothing does it look again with the writers kept out
    /// (a writer shifting elements could have moved `value` past the first look), so an
    /// element present throughout the call is always found.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(gc_runtime::GcVec::new());
    /// let (a, b) = (mu.alloc(1_u8), mu.alloc(1_u8));
    /// v.push(a);
    /// assert!(v.contains(a));
    /// assert!(!v.contains(b)); // equal value, another object
    /// ```
    pub fn contains(&self, value: Gc<'_, T>) -> bool {
        if self.slots.slots(&pin()).iter().any(|slot| slot.points_to(value)) {
            return true;
        }
        // A miss without the lock may be a writer's shift moving `value` past the scan (from an
        // index not yet read to one already read): look again with the writers kept out.
        let _reader = self.lock.read();
        // SAFETY: the read lock is held.
        unsafe { self.slots.slots_locked() }.iter().any(|slot| slot.points_to(value))
    }

    /// Iterate over the elements as locals of `mu`.
    ///
    /// The iterator is a *live cursor*, not a snapshot: each step reads the element at the
    /// next index, as [`GcVec::get`] does (no lock). So the loop body may use the vector
    /// freely (push, set, remove, allocate), and changes made meanwhile — by this thread or
    /// another — are seen as they would be by indexing: an element pushed before the cursor
    /// reaches the end is visited, a removal before the cursor shifts the rest down by one
    /// (one element is skipped). The iteration ends at the first index past the end. For a
    /// copy of the whole vector taken at one instant, use [`GcVec::to_vec`].
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(gc_runtime::GcVec::new());
    /// v.extend((1..=3_u32).map(|i| mu.alloc(i)));
    /// let mut sum = 0;
    /// for x in v.iter(&mu) {
    ///     sum += *x;
    /// }
    /// assert_eq!(sum, 6);
    /// ```
    pub fn iter<'a, 'm>(&'a self, mu: &'m Mutator) -> GcVecIter<'a, 'm, T> {
        GcVecIter { vec: self, mu, next: 0 }
    }

    /// A snapshot of the elements: the vector's contents at one instant (it waits for a writer
    /// part way through a change, and keeps the next one out while it copies).
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(gc_runtime::GcVec::new());
    /// v.extend((1..=3_u32).map(|i| mu.alloc(i)));
    /// let copy = v.to_vec(&mu);
    /// v.clear();
    /// assert_eq!(copy.iter().map(|x| **x).collect::<Vec<_>>(), [1, 2, 3]);
    /// ```
    pub fn to_vec<'m>(&self, mu: &'m Mutator) -> Vec<Gc<'m, T>> {
        let _reader = self.lock.read();
        // SAFETY: the read lock is held.
        unsafe { self.slots.slots_locked() }.iter().filter_map(|slot| slot.get(mu)).collect()
    }
}

impl<T: ?Sized> GcVec<T> {
    /// Hold the write lock, as a writer would.
    #[cfg(test)]
    pub(super) fn write_lock_for_test(&self) -> impl Drop + '_ {
        self.lock.write()
    }
}

impl<T: ?Sized> Default for GcVec<T> {
    fn default() -> Self {
        GcVec::new()
    }
}

impl<T: ?Sized> GcVec<T> {
    /// The write lock, which charges the buffer' new size when the writer lets go
    /// (`owned_bytes.rs`).
    fn write(&self) -> ChargedWrite<'_, (), impl Fn(&()) -> usize + '_> {
        ChargedWrite::lock(&self.lock, &self.armed, |_| {
            // SAFETY: called under the write lock, which every replacement happens under.
            unsafe { self.slots.buffer_bytes_locked() }
        })
    }
}

// SAFETY: reports the armed flag (allocation sets it; no other sink acts on it), then the
// element slots, under the read lock, which every change to the set of slots excludes (see the
// module docs: growth and shifting happen under the write lock; readers change nothing). Every sink but the marker gets
// every slot; the marker gets a chunk per visit and comes back for the rest, and the writers
// that shift elements under the write lock keep its cursor on the same element
// (`object/scan_cursor.rs`), so each slot present throughout the scan is reported. It takes
// only this lock, tried, never waited for (if it is taken, the collector traces the vector
// again later), and runs no user code.
unsafe impl<T: ?Sized> Trace for GcVec<T> {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        // SAFETY: when allocation arms the vector, it is not published yet: no other thread
        // replaces its buffer.
        self.armed.trace(tracer, || unsafe { self.slots.buffer_bytes_locked() });
        let Some(_scan) = read_for_trace(&self.lock, &self.cursor, tracer) else {
            return;
        };
        // SAFETY: the read lock is held.
        let slots = unsafe { self.slots.slots_locked() };
        tracer.owned_bytes(&self.cursor, self.armed.charged());
        for slot in &slots[tracer.scan_window(&self.cursor, slots.len())] {
            slot.trace(tracer);
        }
    }
}

impl<T: ?Sized> fmt::Debug for GcVec<T> {
    /// The length and the elements' addresses (as [`Gc::addr`] gives them): the elements
    /// are not followed, so a vector that reaches itself prints without recursing.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(gc_runtime::GcVec::new());
    /// let x = mu.alloc(1_u8);
    /// v.push(x);
    /// assert_eq!(format!("{:?}", *v), format!("GcVec {{ len: 1, elements: [{:#x}] }}", x.addr()));
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Copy the addresses out first: no formatting (user code) with the epoch pinned. A slot
        // a concurrent pop or removal emptied after the length was read is not an element.
        let addrs: Vec<AddrFmt> =
            self.slots.slots(&pin()).iter().map(slot_addr).filter(|&addr| addr != 0).map(AddrFmt).collect();
        let mut s = f.debug_struct(NAME);
        s.field("len", &addrs.len());
        if !self.armed.get() {
            s.field("armed", &false);
        }
        s.field("elements", &addrs).finish()
    }
}

/// The iterator of [`GcVec::iter`]: a live cursor over the elements, as locals of a mutator.
///
/// Each step pins the epoch for its one read, like [`GcVec::get`]: an iterator kept alive for a
/// long time (or forgotten) holds nothing back.
///
/// ```
/// let mu = gc_runtime::attach();
/// let v = mu.alloc(gc_runtime::GcVec::new());
/// v.push(mu.alloc(1_u8));
/// let mut it: gc_runtime::GcVecIter<'_, '_, u8> = v.iter(&mu);
/// assert_eq!(it.next().map(|x| *x), Some(1));
/// assert!(it.next().is_none());
/// ```
pub struct GcVecIter<'a, 'm, T: ?Sized> {
    vec: &'a GcVec<T>,
    mu: &'m Mutator,
    next: usize,
}

impl<'m, T: ?Sized> Iterator for GcVecIter<'_, 'm, T> {
    type Item = Gc<'m, T>;

    fn next(&mut self) -> Option<Gc<'m, T>> {
        let raw = self.vec.slots.get(self.next, &pin())?;
        // SAFETY: read (`Acquire`) from a slot of the vector just now, on `mu`'s thread.
        let value = unsafe { Member::local_of(raw, self.mu) }?;
        self.next += 1;
        Some(value)
    }
}

impl<T: ?Sized> fmt::Debug for GcVecIter<'_, '_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcVecIter").field("next", &self.next).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{collections::tests::count, test_support};

    #[test]
    fn trace_reports_a_write_locked_vector_instead_of_waiting() {
        let _s = test_support::serial();
        let mu = crate::attach();
        let v = mu.alloc(GcVec::new());
        v.push(mu.alloc(1_u8));
        let writer = v.lock.write();
        let c = count(&*v);
        assert_eq!((c.flags, c.slots, c.locked), (1, 0, 1), "flag reported, lock reported, no slot");
        drop(writer);
        let c = count(&*v);
        assert_eq!((c.flags, c.slots, c.locked), (1, 1, 0));
        // A reader does not keep the collector out.
        let reader = v.lock.read();
        assert_eq!(count(&*v).slots, 1);
        drop(reader);
    }

    #[test]
    fn trace_reports_the_armed_flag_then_every_element() {
        let _s = test_support::serial();
        let mu = crate::attach();
        let loose = GcVec::<u8>::new();
        let c = count(&loose);
        assert_eq!((c.flags, c.slots), (1, 0));
        let v = mu.alloc(GcVec::new());
        v.extend((0..5_u8).map(|i| mu.alloc(i)));
        let c = count(&*v);
        assert_eq!((c.flags, c.slots), (1, 5));
        const { assert!(<GcVec<u8>>::NEEDS_TRACE) };
    }

    #[test]
    fn allocation_arms_a_nested_vector() {
        let _s = test_support::serial();
        let mu = crate::attach();
        let nested = mu.alloc((1_u8, Some(Box::new(GcVec::<u8>::new()))));
        let v = nested.1.as_ref().expect("some");
        assert!(v.armed.get());
        v.push(mu.alloc(3));
        assert_eq!(v.len(), 1);
    }
}
