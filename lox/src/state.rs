//! The VM's state in the heap: the globals and the interned strings, which a
//! [`Root`](gc_runtime::Root) keeps alive.
//!
//! The value stack, the call frames and the open upvalues are not here: they are the thread's
//! own [`ValueStack`](gc_runtime::ValueStack)s (see `vm.rs`), written with plain stores like
//! clox's C arrays and scanned by the VM's thread when the collector asks.

use gc_runtime::{gc, Gc, GcMap, Mutator};

use crate::{object::Obj, value::Slot};

/// A fixed-size array of value slots: the globals.
#[gc]
pub struct ValueArray {
    /// The slots.
    pub slots: Box<[Slot]>,
}

impl ValueArray {
    /// An array of `len` undefined slots.
    pub fn with_len(mu: &Mutator, len: usize) -> Gc<'_, ValueArray> {
        ValueArray::new(mu, (0..len).map(|_| Slot::new()).collect())
    }

    /// The number of slots.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the array has no slot.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// A copy with at least `len` slots (the extra ones undefined).
    pub fn grown<'m>(&self, mu: &'m Mutator, len: usize) -> Gc<'m, ValueArray> {
        let bigger = ValueArray::with_len(mu, len.max(self.len()));
        for (new, old) in bigger.slots.iter().zip(self.slots.iter()) {
            if let Some(v) = old.get(mu) {
                new.set(v);
            }
        }
        bigger
    }
}

/// The VM's heap-resident state.
#[gc]
pub struct VmState {
    /// The global variables, by the index the compiler gave their names.
    pub globals: Gc<ValueArray>,
    /// Interned strings: every string constant and name, so equal names are one object.
    pub strings: GcMap<Box<str>, Obj>,
    /// The interned string `"init"`.
    pub init_string: Gc<Obj>,
}
