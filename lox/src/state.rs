//! The VM's state in the heap: everything a running program needs to survive a safepoint.
//!
//! # Why the stack has two homes
//!
//! Between two safepoints the VM works on plain Rust vectors of locals (the value stack, the
//! call frames, the open upvalues), which is as fast as clox's C arrays. A local cannot cross
//! a safepoint, so before each one the VM *spills* those vectors into the [`VmState`] object,
//! which a [`Root`](gc_runtime::Root) keeps alive, and after it *reloads* them (see `vm.rs`).
//! At a safepoint, then, every value the program can still use is in a heap slot the
//! collector traces: the spilled stack, the frames' closures, the open upvalues, the globals
//! and the interned strings.

use gc_runtime::{gc, Gc, GcMap, GcVec, Mutator};

use crate::{object::Obj, value::Slot};

/// A fixed-size array of value slots: the spilled stack, or the globals.
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
    /// The value stack as of the last spill.
    pub stack: Gc<ValueArray>,
    /// The closure of each call frame, outermost first, as of the last spill.
    pub frames: GcVec<Obj>,
    /// The open upvalues, by increasing stack index, as of the last spill.
    pub open_upvalues: GcVec<Obj>,
    /// The global variables, by the index the compiler gave their names.
    pub globals: Gc<ValueArray>,
    /// Interned strings: every string constant and name, so equal names are one object.
    pub strings: GcMap<Box<str>, Obj>,
    /// The interned string `"init"`.
    pub init_string: Gc<Obj>,
}
