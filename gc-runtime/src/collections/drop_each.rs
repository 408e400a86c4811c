//! Dropping a collection's keys one at a time, so that one key's panicking destructor neither
//! aborts the process nor keeps the other keys from being dropped.
//!
//! A map drops keys it removed (`clear`, a later write after `remove`) and, when it is dropped
//! itself, every key it still holds; a value collection drops the values it removes or holds
//! when it dies (a `GcValueMap` an entry's key and value as two items). Their destructors are
//! user code. Dropped together — as a
//! `Vec`, or a table's own drop — a first panic unwinds through the rest of the drop, and a
//! second key that panics then aborts the process (a panic while panicking), on the finalizer
//! thread too, where the collector otherwise counts a panicking destructor and frees the object
//! all the same. [`drop_each`] drops each item under its own `catch_unwind`, and resumes the
//! first panic once every item is dropped: the caller sees the panic, as with one key, and no
//! key is leaked. Unless the thread is unwinding already — a map dropped as a field of an
//! object whose other field's destructor panicked, say — where a panic leaving a destructor
//! would abort: then the keys' panics end here.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

/// Drop every item of `items`, each on its own; if any destructor panicked, resume the first
/// panic once all are dropped, unless the thread is unwinding already (module header). The
/// payloads not resumed are dropped; one whose own destructor panics is forgotten.
pub(super) fn drop_each<T>(items: impl IntoIterator<Item = T>) {
    let mut first = None;
    for item in items {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(item))) {
            if first.is_none() && !std::thread::panicking() {
                first = Some(payload);
            } else {
                drop_payload(payload);
            }
        }
    }
    if let Some(payload) = first {
        resume_unwind(payload);
    }
}

/// Drop a panic's payload that is not resumed; forget it if its destructor panics.
fn drop_payload(payload: Box<dyn std::any::Any + Send>) {
    if let Err(payload_of_payload) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(payload_of_payload);
    }
}

// Safe code only: not built under Miri, which looks for undefined behaviour (and spends 16 s on
// the full backtrace std captures for a panic while another unwinds).
#[cfg(all(test, not(miri)))]
mod tests {
    use std::{
        cell::Cell,
        panic::{catch_unwind, AssertUnwindSafe},
    };

    use super::drop_each;

    /// Counts its drop; panics in it if `panics`.
    struct Key<'a> {
        drops: &'a Cell<usize>,
        panics: bool,
    }

    impl Drop for Key<'_> {
        fn drop(&mut self) {
            self.drops.set(self.drops.get() + 1);
            if self.panics {
                panic!("key {} panics", self.drops.get());
            }
        }
    }

    #[test]
    fn every_item_is_dropped_and_the_first_panic_comes_back() {
        let drops = Cell::new(0);
        let keys = (0..10).map(|i| Key { drops: &drops, panics: i % 3 == 1 }).collect::<Vec<_>>();
        let payload = catch_unwind(AssertUnwindSafe(|| drop_each(keys))).expect_err("a key panicked");
        assert_eq!(drops.get(), 10, "three panics, and still every key dropped (no abort)");
        assert_eq!(payload.downcast_ref::<String>().map(String::as_str), Some("key 2 panics"), "the first panic");
        drops.set(0);
        drop_each((0..4).map(|_| Key { drops: &drops, panics: false }));
        assert_eq!(drops.get(), 4);
    }

    /// Dropped while the thread unwinds (a field after one whose destructor panicked): the
    /// keys' panics end inside, every key is dropped, and the process lives.
    #[test]
    fn while_unwinding_the_keys_panics_end_inside() {
        struct Fields<'a> {
            _first: Key<'a>,
            keys: Vec<Key<'a>>,
        }
        impl Drop for Fields<'_> {
            fn drop(&mut self) {
                drop_each(std::mem::take(&mut self.keys));
            }
        }
        struct Object<'a> {
            _panicking: Key<'a>,
            _fields: Fields<'a>,
        }
        let drops = Cell::new(0);
        let object = Object {
            _panicking: Key { drops: &drops, panics: true },
            _fields: Fields {
                _first: Key { drops: &drops, panics: false },
                keys: (0..5).map(|i| Key { drops: &drops, panics: i % 2 == 0 }).collect(),
            },
        };
        let payload = catch_unwind(AssertUnwindSafe(|| drop(object))).expect_err("the first field panicked");
        assert_eq!(payload.downcast_ref::<String>().map(String::as_str), Some("key 1 panics"), "the first panic");
        assert_eq!(drops.get(), 7, "every key dropped");
    }
}
