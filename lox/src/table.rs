//! [`Table`]: an instance's fields and a class's methods — a hash table keyed by interned
//! strings, as clox's `Table`, whose entries live in one GC array object.
//!
//! # Layout
//!
//! The entries are a `Gc<[Entry]>`: one unsized array object whose elements are (name, value)
//! pairs — a slot for the name and a [`Slot`] for the value — armed by allocation like the
//! fields of any object. The table's capacity is the array's length, a power of two; it is
//! open-addressed with linear probing from the name's cached FNV hash, and grows (a new array
//! of twice the length, every entry stored into it through the barrier, then the table's slot
//! pointed at it) before it is three-quarters full — or, up to [`SMALL`] entries, only once it
//! is full: a probe of a small table that finds no free entry stops after one pass, and a
//! typical instance's four fields then take one array of four entries, not a second array of
//! eight. Nothing is ever removed: Lox cannot delete a field or a method.
//!
//! Names are interned, so a lookup compares addresses, never characters.
//!
//! # The first capacity
//!
//! An instance's first table has as many entries as the largest table an instance of its
//! class has grown to ([`Table::insert_new_for_class`]; at least [`MIN_CAPACITY`]). Instances
//! of one class usually get the same fields, in the same order, in their initializer, so the
//! second instance of a class with six fields starts at eight entries instead of growing from
//! four to eight — and its one array is allocated right after the instance, before the
//! initializer makes anything else. That matters to a program that builds a tree in its
//! initializers and then walks it (`trees.lox`): grown late, after a node's first children, a
//! node's array lies far from the node in memory, and each visit of a node was a second cache
//! miss. The capacity learned is at most [`MAX_FIRST_CAPACITY`]: one instance given thousands
//! of fields (by a loop, say) would otherwise make every later instance of its class start
//! with a table that size — 2,000 one-field instances took 4 GB after one instance had 50,000
//! fields. Wider instances grow their tables from there as any table grows.
//!
//! # Two shortcuts
//!
//! - **A filter for absent names**: the table keeps one bit per name it holds, bit
//!   `hash % 32` of a word beside the count (a one-word Bloom filter). A lookup whose bit is
//!   clear returns at once; the VM looks for a name the table does not hold on every method
//!   call (a field of that name would shadow the method).
//! - **A hint per access site** ([`Table::get_hinted`]): the VM keeps, for each field name
//!   constant of a function, the entry index where that name was found last. Instances that
//!   got the same fields in the same order (those of one class, usually) hold each name at the
//!   same index, so the next access there is one comparison of the entry's key with the name,
//!   with no hashing or probing; a wrong hint only costs that comparison.
//!
//! # Concurrency
//!
//! One thread runs a program and is the only one to read or change its tables; the collector
//! reads only the GC slots, which the barrier publishes. So the count is `Relaxed`.

use std::sync::atomic::{AtomicU32, Ordering};

use gc_runtime::{Gc, Member, Mutator, Trace};

use crate::{
    object::Obj,
    value::{Slot, Value},
};

/// One entry: a name (an interned string), empty while the entry is free, and its value.
#[derive(Trace, Default)]
pub struct Entry {
    key: Member<Obj>,
    value: Slot,
}

/// A hash table from interned names to values (see the module docs).
#[derive(Trace, Default)]
pub struct Table {
    /// Entries in use.
    count: AtomicU32,
    /// Bit `hash % 32` set for every name held (module docs).
    names: AtomicU32,
    /// The entries; empty until the first insertion.
    entries: Member<[Entry]>,
}

/// The capacity of a new table: a typical instance's fields (a larger first table costs
/// every small instance memory and marking time).
const MIN_CAPACITY: usize = 4;

/// The largest first table an instance gets from its class ("The first capacity"): more
/// fields than any initializer writes by hand, and a table of 1 KiB.
const MAX_FIRST_CAPACITY: usize = 64;

/// Tables up to this capacity fill up completely before they grow (module docs).
pub const SMALL: usize = 8;

/// The hash of a name: the FNV hash its string object caches.
#[inline(always)]
fn hash_of(name: Gc<'_, Obj>) -> usize {
    name.as_string().expect("a table key is a string").hash as usize
}

/// The bit of the absent-name filter (module docs) for a name of hash `hash`.
#[inline(always)]
fn name_bit(hash: usize) -> u32 {
    1 << (hash % 32)
}

/// The entry for `name` in `entries`: the one holding it, or the free one where it would go;
/// `None` if the table is full and does not hold it.
#[inline(always)]
fn probe<'e>(entries: &'e [Entry], name: Gc<'_, Obj>) -> Option<&'e Entry> {
    probe_index(entries, name).map(|i| &entries[i])
}

/// The index of [`probe`]'s entry.
#[inline(always)]
fn probe_index(entries: &[Entry], name: Gc<'_, Obj>) -> Option<usize> {
    let mask = entries.len() - 1;
    let mut i = hash_of(name) & mask;
    for _ in 0..entries.len() {
        let entry = &entries[i];
        if entry.key.points_to(name) || entry.key.is_none() {
            return Some(i);
        }
        i = (i + 1) & mask;
    }
    None
}

impl Table {
    /// An empty table, to put in a new object.
    pub fn new() -> Table {
        Table::default()
    }

    /// The value slot of `name`, if the table has it.
    #[inline]
    pub fn get<'m>(&self, mu: &'m Mutator, name: Gc<'_, Obj>) -> Option<&'m Slot> {
        let entries = self.entries.get(mu)?.into_ref();
        self.index_of(entries, name).map(|i| &entries[i].value)
    }

    /// The index in `entries` (this table's) of the entry holding `name`, if the table holds
    /// it: the absent-name filter first, then the probe.
    #[inline(always)]
    fn index_of(&self, entries: &[Entry], name: Gc<'_, Obj>) -> Option<usize> {
        if self.names.load(Ordering::Relaxed) & name_bit(hash_of(name)) == 0 {
            return None;
        }
        let index = probe_index(entries, name)?;
        (!entries[index].key.is_none()).then_some(index)
    }

    /// [`get`](Self::get), trying the entry at index `hint` first and leaving the index where
    /// `name` was found in it (module docs).
    #[inline(always)]
    pub fn get_hinted<'m>(&self, mu: &'m Mutator, name: Gc<'_, Obj>, hint: &AtomicU32) -> Option<&'m Slot> {
        let entries = self.entries.get(mu)?.into_ref();
        if let Some(entry) = entries.get(hint.load(Ordering::Relaxed) as usize) {
            if entry.key.points_to(name) {
                return Some(&entry.value);
            }
        }
        self.get_and_hint(entries, name, hint)
    }

    /// The slow path of [`get_hinted`](Self::get_hinted).
    #[inline(never)]
    fn get_and_hint<'m>(&self, entries: &'m [Entry], name: Gc<'_, Obj>, hint: &AtomicU32) -> Option<&'m Slot> {
        let index = self.index_of(entries, name)?;
        hint.store(index as u32, Ordering::Relaxed);
        Some(&entries[index].value)
    }

    /// Whether adding a new name would allocate (the table is empty or too full): the caller
    /// must be at a point where allocating is allowed (the VM's stress mode yields first).
    #[inline]
    pub fn insert_allocates(&self, mu: &Mutator) -> bool {
        match self.entries.get(mu) {
            None => true,
            Some(entries) => {
                let after = self.count.load(Ordering::Relaxed) as usize + 1;
                if entries.len() <= SMALL {
                    after > entries.len()
                } else {
                    after * 4 > entries.len() * 3
                }
            }
        }
    }

    /// Set `name` to `value`, adding the entry if it is new (growing the table first if needed).
    /// Returns whether the name was new.
    pub fn set(&self, mu: &Mutator, name: Gc<'_, Obj>, value: Value<'_>) -> bool {
        if let Some(slot) = self.get(mu, name) {
            slot.set(value);
            return false;
        }
        self.insert_new(mu, name, value);
        true
    }

    /// Add `name`, which the table does not hold, with `value` (growing the table first if
    /// needed).
    pub fn insert_new(&self, mu: &Mutator, name: Gc<'_, Obj>, value: Value<'_>) {
        self.insert_new_sized(mu, name, value, MIN_CAPACITY);
    }

    /// [`insert_new`](Self::insert_new) into an instance's fields: a first table gets the
    /// capacity `class_capacity` records (at least [`MIN_CAPACITY`]), and `class_capacity`
    /// learns this table's capacity if it is larger, up to [`MAX_FIRST_CAPACITY`] (module
    /// docs, "The first capacity").
    pub fn insert_new_for_class(&self, mu: &Mutator, name: Gc<'_, Obj>, value: Value<'_>, class_capacity: &AtomicU32) {
        let known = class_capacity.load(Ordering::Relaxed) as usize;
        let capacity = self.insert_new_sized(mu, name, value, known.max(MIN_CAPACITY)).min(MAX_FIRST_CAPACITY);
        if capacity > known {
            class_capacity.store(capacity as u32, Ordering::Relaxed);
        }
    }

    /// [`insert_new`](Self::insert_new), with `first` entries in a first table; returns the
    /// capacity after.
    fn insert_new_sized(&self, mu: &Mutator, name: Gc<'_, Obj>, value: Value<'_>, first: usize) -> usize {
        debug_assert!(self.get(mu, name).is_none(), "insert_new of a name already there");
        debug_assert!(first.is_power_of_two());
        let entries =
            if self.insert_allocates(mu) { self.grow(mu, first) } else { self.entries.get(mu).expect("grown") };
        let entry = probe(entries.into_ref(), name).expect("room for a new entry");
        entry.value.set(value);
        entry.key.set(Some(name));
        // Loads and stores, not locked read-modify-writes: only this thread changes the table.
        self.count.store(self.count.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        self.names.store(self.names.load(Ordering::Relaxed) | name_bit(hash_of(name)), Ordering::Relaxed);
        entries.len()
    }

    /// Call `f` with every (name, value) pair, in table order.
    pub fn for_each<'m>(&self, mu: &'m Mutator, mut f: impl FnMut(Gc<'m, Obj>, Value<'m>)) {
        let Some(entries) = self.entries.get(mu) else { return };
        for entry in entries.into_ref() {
            if let Some(key) = entry.key.get(mu) {
                f(key, entry.value.value(mu));
            }
        }
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed) as usize
    }

    /// Whether the table has no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Move the entries into an array of twice the capacity (or, for the first array, of
    /// `first` entries) and return it.
    fn grow<'m>(&self, mu: &'m Mutator, first: usize) -> Gc<'m, [Entry]> {
        let old = self.entries.get(mu);
        let capacity = old.map_or(first, |o| o.len() * 2);
        let new = mu.alloc_slice_from_fn(capacity, |_| Entry::default());
        for entry in old.iter().flat_map(|o| o.into_ref()) {
            if let Some(key) = entry.key.get(mu) {
                let slot = probe(new.into_ref(), key).expect("a grown table has room");
                if let Some(v) = entry.value.get(mu) {
                    slot.value.set(v);
                }
                slot.key.set(Some(key));
            }
        }
        self.entries.set(Some(new));
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Kind;

    #[derive(Trace)]
    struct Holder {
        table: Table,
    }

    #[test]
    fn names_map_to_values_across_growth_and_collections() {
        let mut mu = gc_runtime::attach();
        let holder = mu.alloc(Holder { table: Table::new() }).root(&mu);
        let names: Vec<_> = {
            let names: Vec<_> = (0..100).map(|i| Obj::string(&mu, &format!("name{i}")).root(&mu)).collect();
            let table = &holder.get(&mu).table;
            for (i, n) in names.iter().enumerate() {
                assert!(table.set(&mu, n.get(&mu), Value::number(i as f64)));
            }
            assert!(!table.set(&mu, names[7].get(&mu), Value::bool(true)), "an existing name is replaced");
            let value = Obj::string(&mu, "a value");
            table.set(&mu, names[8].get(&mu), Value::obj(value));
            names
        };
        mu.collect();
        let table = &holder.get(&mu).table;
        assert_eq!(table.len(), 100);
        for (i, n) in names.iter().enumerate() {
            let v = table.get(&mu, n.get(&mu)).expect("present").value(&mu);
            match i {
                7 => assert!(matches!(v.kind(), Kind::True)),
                8 => assert_eq!(
                    v.as_obj().and_then(|o| o.into_ref().as_string().map(|s| s.text(&mu).to_string())).as_deref(),
                    Some("a value")
                ),
                _ => assert_eq!(v.as_number(), Some(i as f64)),
            }
        }
        let other = Obj::string(&mu, "name7"); // equal text, another object: not interned here
        assert!(table.get(&mu, other).is_none());
        let mut seen = 0;
        table.for_each(&mu, |_, _| seen += 1);
        assert_eq!(seen, 100);
    }

    #[test]
    fn an_instance_table_starts_at_the_capacity_its_class_has_seen() {
        let mu = gc_runtime::attach();
        let class_capacity = AtomicU32::new(0);
        let names: Vec<_> = (0..6).map(|i| Obj::string(&mu, &format!("f{i}"))).collect();
        let capacity = |t: &Table| t.entries.get(&mu).map_or(0, |e| e.len());
        // The first instance starts small and grows; the class learns the capacity it reached.
        let first = mu.alloc(Holder { table: Table::new() });
        first.table.insert_new_for_class(&mu, names[0], Value::nil(), &class_capacity);
        assert_eq!(capacity(&first.table), MIN_CAPACITY);
        for (i, &n) in names.iter().enumerate().skip(1) {
            first.table.insert_new_for_class(&mu, n, Value::number(i as f64), &class_capacity);
        }
        assert_eq!(capacity(&first.table), 8);
        assert_eq!(class_capacity.load(Ordering::Relaxed), 8);
        // The next starts at that capacity, holds its first field there, and never grows for
        // the six.
        let next = mu.alloc(Holder { table: Table::new() });
        next.table.insert_new_for_class(&mu, names[0], Value::nil(), &class_capacity);
        assert_eq!(capacity(&next.table), 8);
        let array = next.table.entries.get(&mu).map(|e| e.addr());
        for (i, &n) in names.iter().enumerate().skip(1) {
            next.table.insert_new_for_class(&mu, n, Value::number(i as f64), &class_capacity);
        }
        assert_eq!(next.table.entries.get(&mu).map(|e| e.addr()), array, "no second array");
        for (i, &n) in names.iter().enumerate().skip(1) {
            assert!(next.table.get(&mu, n).and_then(|s| s.value(&mu).as_number()) == Some(i as f64));
        }
        assert_eq!(class_capacity.load(Ordering::Relaxed), 8, "a smaller table never lowers it");
    }

    #[test]
    fn one_wide_instance_does_not_make_its_class_s_instances_wide() {
        let mu = gc_runtime::attach();
        let class_capacity = AtomicU32::new(0);
        let names: Vec<_> = (0..1000).map(|i| Obj::string(&mu, &format!("f{i}"))).collect();
        let capacity = |t: &Table| t.entries.get(&mu).map_or(0, |e| e.len());
        let wide = mu.alloc(Holder { table: Table::new() });
        for (i, &n) in names.iter().enumerate() {
            wide.table.insert_new_for_class(&mu, n, Value::number(i as f64), &class_capacity);
        }
        assert!(capacity(&wide.table) >= 1000);
        assert_eq!(class_capacity.load(Ordering::Relaxed) as usize, MAX_FIRST_CAPACITY);
        let narrow = mu.alloc(Holder { table: Table::new() });
        narrow.table.insert_new_for_class(&mu, names[0], Value::nil(), &class_capacity);
        assert_eq!(capacity(&narrow.table), MAX_FIRST_CAPACITY);
        // The wide one still holds every field.
        for (i, &n) in names.iter().enumerate() {
            assert!(wide.table.get(&mu, n).and_then(|s| s.value(&mu).as_number()) == Some(i as f64));
        }
    }

    #[test]
    fn hinted_reads_find_every_name_whatever_the_hint() {
        let mu = gc_runtime::attach();
        let holder = mu.alloc(Holder { table: Table::new() });
        let table = &holder.table;
        let names: Vec<_> = (0..40).map(|i| Obj::string(&mu, &format!("field{i}"))).collect();
        let hint = AtomicU32::new(0);
        for (i, &n) in names.iter().enumerate() {
            // Absent (its filter bit may be set by another name): no entry, and the hint kept.
            hint.store(3, Ordering::Relaxed);
            assert!(table.get_hinted(&mu, n, &hint).is_none());
            assert!(table.get(&mu, n).is_none());
            assert_eq!(hint.load(Ordering::Relaxed), 3);
            table.insert_new(&mu, n, Value::number(i as f64));
        }
        for (i, &n) in names.iter().enumerate() {
            // A wrong hint, one past the end, and then the hint the miss left.
            for start in [0, u32::MAX, 1_000] {
                hint.store(start, Ordering::Relaxed);
                let slot = table.get_hinted(&mu, n, &hint).expect("present");
                assert_eq!(slot.value(&mu).as_number(), Some(i as f64));
                let found = hint.load(Ordering::Relaxed);
                let again = table.get_hinted(&mu, n, &hint).expect("present");
                assert!(std::ptr::eq(slot, again));
                assert_eq!(hint.load(Ordering::Relaxed), found, "a hit leaves the hint");
            }
        }
        // Absent names, whether another name set their filter bit (40 names: most bits are
        // set) or not, are not found.
        let absent: Vec<_> = (0..64).map(|i| Obj::string(&mu, &format!("absent{i}"))).collect();
        for a in absent {
            assert!(table.get(&mu, a).is_none());
        }
    }
}
