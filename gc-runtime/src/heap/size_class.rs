//! Size classes: the slot sizes pages are carved into.
//!
//! Object sizes (header included) are rounded up to one of 33 classes: 16 and 24 bytes, every
//! multiple of 16 from 32 to 128 bytes, then four classes per power of two up to [`MAX_SMALL`]
//! (at most 25% internal waste, 12.5% on average) — Go's small classes up to 128 bytes. The
//! 24-byte class holds the most common object of all, a header and two pointers; its slots
//! are 8-aligned, so types aligned to 16 skip it. Larger objects are allocated on their own
//! (see `large.rs`). The class of a type is computed at compile time, so the allocation fast
//! path indexes the mutator's cache with a constant.

/// The largest object (header included) that goes into a size-classed page.
pub(crate) const MAX_SMALL: usize = 8192;

/// The number of size classes.
pub(crate) const NUM_CLASSES: usize = 33;

/// Slot size of each class, in bytes.
pub(crate) const CLASS_SIZES: [usize; NUM_CLASSES] = {
    let mut sizes = [0; NUM_CLASSES];
    sizes[0] = 16;
    sizes[1] = 24;
    let mut i = 2;
    while i < 9 {
        sizes[i] = 16 * i;
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

/// The class for an object of `size` bytes aligned to `align`, or `None` if it is a large
/// object (too big, or aligned beyond 16). Slots of a class are aligned to the largest power
/// of two dividing its size (pages are 64 KiB aligned), so the class's size must be a multiple
/// of `align`.
pub(crate) const fn class_of(size: usize, align: usize) -> Option<usize> {
    if size > MAX_SMALL || align > 16 {
        return None;
    }
    let mut i = 0;
    while i < NUM_CLASSES {
        if CLASS_SIZES[i] >= size && CLASS_SIZES[i] % align == 0 {
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
    fn classes_are_increasing_multiples_of_8_up_to_max() {
        assert_eq!(CLASS_SIZES[..3], [16, 24, 32]);
        assert_eq!(CLASS_SIZES[NUM_CLASSES - 1], MAX_SMALL);
        for w in CLASS_SIZES.windows(2) {
            assert!(w[0] < w[1] && w[1] % 8 == 0, "{w:?}");
            assert!(w[1] - w[0] <= w[0] / 4 || w[1] <= 128, "waste bound {w:?}");
        }
    }

    #[test]
    fn class_of_picks_the_smallest_fitting_class() {
        assert_eq!(class_of(1, 8), Some(0));
        assert_eq!(class_of(16, 8), Some(0));
        assert_eq!(class_of(17, 8), Some(1));
        assert_eq!(class_of(24, 8), Some(1));
        assert_eq!(class_of(17, 16), Some(2), "16-aligned objects skip the 24-byte class");
        assert_eq!(CLASS_SIZES[2], 32);
        assert_eq!(class_of(129, 8), Some(9));
        assert_eq!(CLASS_SIZES[9], 160);
        assert_eq!(class_of(MAX_SMALL, 16), Some(NUM_CLASSES - 1));
        assert_eq!(class_of(MAX_SMALL + 1, 8), None);
        assert_eq!(class_of(64, 32), None, "over-aligned objects are large");
    }
}
