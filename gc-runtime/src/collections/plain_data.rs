//! Interior mutability for plain data in GC objects: which types to use, and why the runtime
//! provides no `Trace` for locks and cells.
//!
//! A GC object is shared: every thread reaches it through `&T`, and it must be
//! `Send + Sync`. Data that changes after allocation therefore needs a `Sync` cell. GC pointers
//! have their own cells — [`Member`](crate::Member) and the collections, which run the write
//! barrier. For plain data (no GC pointer), std serves, plus one crossbeam type:
//!
//! | data | field type | `Trace` |
//! |---|---|---|
//! | integers, `bool`, `usize` | `std::sync::atomic::Atomic*` | provided, `NEEDS_TRACE = false` |
//! | any other `Copy` value (`f64`, `char`, small tuples and enums) | [`AtomicCell<T>`](crate::AtomicCell) (re-exported `crossbeam_utils::atomic::AtomicCell`) | provided for `T: Copy`, `NEEDS_TRACE = false` |
//! | anything else (`String`, `Vec<u8>`, a `HashMap` of plain data) | `std::sync::Mutex<T>` or `RwLock<T>` (or parking_lot's), in a field marked `#[trace(skip)]` | deliberately not provided |
//! | GC pointers | `Member<T>`, `GcVec<T>`, `GcMap<K, V>`, `GcIdMap<K, V>` | provided |
//!
//! `Cell` and `RefCell` are not `Sync`, so an object holding one cannot be allocated.
//!
//! # Why locks get no `Trace` impl
//!
//! A `Mutex<Member<T>>` field would let safe code take the slot out of the heap:
//! `std::mem::replace(&mut *obj.slot.lock().unwrap(), Member::new())` hands back an *armed*
//! slot (one that accepts pointers) as a plain value, which could then hold a pointer across a
//! safepoint where the collector never sees it. The same holds for `RwLock`, `RefCell`, and
//! `AtomicCell<T>` for non-`Copy` `T` (`swap`). Without `Trace`, such a field can only be
//! `#[trace(skip)]`, and a skipped field is never traced by allocation, so a slot or collection
//! inside it is never armed: it reads as empty and refuses stores. So plain data behind a lock
//! goes in a `#[trace(skip)]` field, and any GC pointer next to it in a `Member` beside the lock.
//! A `Copy` type cannot contain a slot or a collection (neither is `Copy`), which is why
//! `AtomicCell<T: Copy>` is traced as holding nothing.
//!
//! # Locks and the collector
//!
//! A guard of a lock inside a GC object borrows the object, which borrows the thread's
//! mutator, so the borrow checker keeps the guard from living across a safepoint: a thread
//! waiting for such a lock waits for a running thread, never for one parked by the collector.
//! Keep critical sections short all the same — a thread blocked on a lock is not at a
//! safepoint and holds up every pause until it gets the lock.
//!
//! # Example
//!
//! ```
//! use std::sync::{
//!     atomic::{AtomicU64, Ordering},
//!     Mutex,
//! };
//!
//! use gc_runtime::{AtomicCell, Member, Trace};
//!
//! #[derive(Trace)]
//! struct Account {
//!     id: u64,                   // never changes: a plain field
//!     balance: AtomicCell<f64>,  // a `Copy` value, changed without a lock
//!     deposits: AtomicU64,       // a counter
//!     #[trace(skip)]
//!     owner: Mutex<String>,      // plain data behind a lock: skipped by the tracer
//!     joint: Member<Account>,    // a GC pointer: a slot, beside the lock
//! }
//!
//! let mut mu = gc_runtime::attach();
//! let account = mu.alloc(Account {
//!     id: 7,
//!     balance: AtomicCell::new(0.0),
//!     deposits: AtomicU64::new(0),
//!     owner: Mutex::new(String::from("ada")),
//!     joint: Member::new(),
//! });
//! // A `Copy` value: load, store, swap (read-modify-write needs `T: Eq`, or a `Mutex`).
//! account.balance.store(account.balance.load() + 60.0);
//! let root = account.root(&mu);
//! // Wait for the threads detached (`blocking`), so a pause never waits for this thread.
//! mu.blocking(|| {
//!     std::thread::scope(|s| {
//!         for _ in 0..3 {
//!             s.spawn(|| {
//!                 let mu = gc_runtime::attach(); // each thread its own mutator
//!                 let account = root.get(&mu);
//!                 account.deposits.fetch_add(1, Ordering::Relaxed);
//!                 account.owner.lock().unwrap().push('!');
//!             });
//!         }
//!     })
//! });
//! mu.collect();
//! let account = root.get(&mu);
//! assert_eq!(account.id, 7);
//! assert_eq!(account.balance.load(), 60.0);
//! assert_eq!(account.deposits.load(Ordering::Relaxed), 3);
//! assert_eq!(*account.owner.lock().unwrap(), "ada!!!");
//! assert!(account.joint.get(&mu).is_none());
//! ```
