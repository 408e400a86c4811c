//! Noticing that a thread ended with its mutator still attached.
//!
//! A [`Mutator`](crate::Mutator) detaches when it is dropped, and a thread's locals (a
//! `thread_local!` holding it included) are dropped when the thread ends. A mutator that was
//! *leaked* (`Box::leak`, `mem::forget`) never is: its thread ends while the collector still
//! counts it as running, and every later cycle would wait for it forever.
//!
//! So each thread that attaches registers its mutator under a POSIX thread-specific key whose
//! destructor runs when the thread ends — after the thread's Rust `thread_local!` values were
//! destroyed (glibc runs C++/Rust thread-local destructors first, then key destructors), so a
//! mutator kept in a thread-local has been dropped by then and cleared the key. A key still set
//! at that point belongs to a leaked mutator — or to the one `with_mutator` keeps between its
//! calls (`kept.rs`), which stays watched, marked as kept, so that it outlives every
//! thread-local whose destructor might still use it — and the destructor hands it to the
//! thread state's `thread_exited`, which frees a kept one and reports a leaked one.
//!
//! Outside Unix there is no such hook here: a leaked mutator's thread is never noticed, and the
//! slow-safepoint warning names it; a kept mutator is freed by a thread-local's destructor
//! instead (`kept.rs`).
//!
//! # Invariants
//!
//! - The key's value is null, or points to the `ThreadState` of the mutator attached on this
//!   thread, or else of the one `with_mutator` keeps; freeing a state points it back at the kept
//!   one or nulls it (`kept::watch_again`) before the state is freed.
//! - The destructor only runs for a non-null value, once, on the exiting thread.

#[cfg(unix)]
mod imp {
    use std::{ffi::c_void, sync::OnceLock};

    /// The process-wide key; `None` if the system refused to create one (then leaks are not
    /// noticed, as outside Unix).
    static KEY: OnceLock<Option<libc::pthread_key_t>> = OnceLock::new();

    unsafe extern "C" fn on_exit(state: *mut c_void) {
        // SAFETY: a non-null value was set by `watch` for this thread's mutator, which was
        // never dropped (dropping it nulls the value), so its state was never freed.
        unsafe { super::super::thread_exited(state.cast_const().cast()) };
    }

    fn key() -> Option<libc::pthread_key_t> {
        *KEY.get_or_init(|| {
            let mut key: libc::pthread_key_t = 0;
            // SAFETY: `key` is a valid place for the new key; `on_exit` has the destructor's
            // signature.
            let rc = unsafe { libc::pthread_key_create(&mut key, Some(on_exit)) };
            (rc == 0).then_some(key)
        })
    }

    pub(super) fn hooked() -> bool {
        key().is_some()
    }

    /// Set this thread's value (null to clear it).
    pub(super) fn set(state: *const ()) {
        if let Some(key) = key() {
            // SAFETY: `key` was created by `pthread_key_create`; the value is only handed back
            // to `on_exit`. Failure (out of memory) leaves leaks unnoticed, nothing worse.
            unsafe { libc::pthread_setspecific(key, state.cast()) };
        }
    }
}

#[cfg(not(unix))]
mod imp {
    pub(super) fn set(_state: *const ()) {}

    pub(super) fn hooked() -> bool {
        false
    }
}

/// Watch this thread: if it ends with `state`'s mutator still attached (or kept), call
/// `thread_state::thread_exited(state)` on its way out. Null stops watching.
pub(crate) fn watch(state: *const ()) {
    imp::set(state);
}

/// Whether a watched state is handed to `thread_exited` when its thread ends (false outside
/// Unix, or if the system refused the key).
pub(crate) fn hooked() -> bool {
    imp::hooked()
}
