//! [`IndexOutOfRange`]: the error of the fallible indexed operations of [`GcVec`](crate::GcVec)
//! and [`GcValueVec`](crate::GcValueVec).

use std::fmt;

/// An index at or past the end of a [`GcVec`](crate::GcVec) or a
/// [`GcValueVec`](crate::GcValueVec), returned by their `try_set`, `try_insert` and
/// `try_remove` (the panicking forms put the same text after the method's name).
///
/// ```
/// use gc_runtime::{GcVec, IndexOutOfRange};
///
/// let mu = gc_runtime::attach();
/// let v = mu.alloc(GcVec::new());
/// v.push(mu.alloc(1_u32));
/// let err = v.try_set(3, mu.alloc(2_u32)).unwrap_err();
/// assert_eq!(err, IndexOutOfRange { index: 3, len: 1 });
/// assert_eq!(err.to_string(), "index 3 out of range for length 1");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IndexOutOfRange {
    /// The index asked for.
    pub index: usize,
    /// The length of the vector when the store was tried.
    pub len: usize,
}

impl fmt::Display for IndexOutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "index {} out of range for length {}", self.index, self.len)
    }
}

impl std::error::Error for IndexOutOfRange {}
