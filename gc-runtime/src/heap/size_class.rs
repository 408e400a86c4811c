//! Size classes: the slot sizes pages are carved into.
//!
//! Object sizes (header included) are rounded up to one of 32 classes: every multiple of 16
//! up to 128 bytes, then four classes per power of two up to [`MAX_SMALL`] (at most 25% internal
//! waste, 12.5% on average). Larger objects are allocated on their own (see `large.rs`).
//! The class of a type is computed at compile time, so the allocation fast path indexes the
//! mutator's cache with a constant.

/// The largest object (header included) that goes into a size-classed page.
pub(crate) const MAX_SMALL: usize = 8192;

/// The number of size classes.
pub(crate) const NUM_CLASSES: usize = 32;

/// Slot size of each class, in bytes.
pub(crate) const CLASS_SIZES: [usize; NUM_CLASSES] = {
    let mut sizes = [0; NUM_CLASSES];
    let mut i = 0;
    while i < 8 {
        sizes[i] = 16 * (i + 1);
        i += 1;
    }
    let mut base = 128;
    while i < NUM_CLASSES {
        let mut q = 1;
        while q <= 4 {
            sizes[i] = base + base / 4 * q;
            i += 1;
            q += 1;
        }
        base *= 2;
    }
    sizes
};

/// The class for an object of `size` bytes, or `None` if it is a large object.
pub(crate) const fn class_of(size: usize) -> Option<usize> {
    if size > MAX_SMALL {
        return None;
    }
    let mut i = 0;
    while i < NUM_CLASSES {
        if CLASS_SIZES[i] >= size {
            return Some(i);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_increasing_multiples_of_16_up_to_max() {
        assert_eq!(CLASS_SIZES[0], 16);
        assert_eq!(CLASS_SIZES[NUM_CLASSES - 1], MAX_SMALL);
        for w in CLASS_SIZES.windows(2) {
            assert!(w[0] < w[1] && w[1] % 16 == 0, "{w:?}");
            assert!(w[1] - w[0] <= w[0] / 4 || w[1] <= 128, "waste bound {w:?}");
        }
    }

    #[test]
    fn class_of_picks_the_smallest_fitting_class() {
        assert_eq!(class_of(1), Some(0));
        assert_eq!(class_of(16), Some(0));
        assert_eq!(class_of(17), Some(1));
        assert_eq!(class_of(129), Some(8));
        assert_eq!(CLASS_SIZES[8], 160);
        assert_eq!(class_of(MAX_SMALL), Some(NUM_CLASSES - 1));
        assert_eq!(class_of(MAX_SMALL + 1), None);
    }
}
