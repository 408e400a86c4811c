//! Counting the set bits of a bitmap: a page's allocation bits, 64 words for its smallest
//! slots, counted whenever the page goes to a thread's allocation cache or comes back from one.
//!
//! `u64::count_ones` compiles to the `popcnt` instruction only where the build may assume the
//! CPU has it, and the default x86-64 target does not (the instruction came with SSE4.2): the
//! count is then a sequence of shifts, masks and a multiply per word. The counts of a page's
//! trip to a cache and back were about half the time of a `Mutator::blocking` followed by an
//! allocation (profiled). So on x86-64 the loop is compiled a second time with `popcnt`
//! enabled, and the CPU is asked which one to run (the standard library caches the answer; under
//! Miri, which does not model the CPU's features, the portable loop runs). A page's sweep does
//! the same with its whole loop (`Page::sweep`).

use crate::primitive::sync::atomic::{AtomicU64, Ordering};

/// The set bits of `words`, the last one masked with `last_mask` first (a page's last word may
/// have bits past its last slot). Relaxed loads: the caller owns the bitmap or reads a hint.
pub(crate) fn count(words: &[AtomicU64], last_mask: u64) -> usize {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    if cpu_has_popcnt() {
        // SAFETY: the CPU has `popcnt`, the one feature `count_with_popcnt` is compiled with.
        return unsafe { count_with_popcnt(words, last_mask) };
    }
    count_portable(words, last_mask)
}

/// Whether the CPU has `popcnt`, for the callers of a function compiled with it (asked of the
/// CPU once; the standard library keeps the answer).
#[cfg(all(target_arch = "x86_64", not(miri)))]
#[inline]
pub(crate) fn cpu_has_popcnt() -> bool {
    std::arch::is_x86_feature_detected!("popcnt")
}

/// [`count_portable`] compiled for a CPU with `popcnt`.
///
/// # Safety
/// The CPU has `popcnt`.
#[cfg(all(target_arch = "x86_64", not(miri)))]
#[target_feature(enable = "popcnt")]
unsafe fn count_with_popcnt(words: &[AtomicU64], last_mask: u64) -> usize {
    count_portable(words, last_mask)
}

/// The loop itself, inlined into each of the two functions above.
#[inline(always)]
fn count_portable(words: &[AtomicU64], last_mask: u64) -> usize {
    let Some((last, rest)) = words.split_last() else { return 0 };
    let mut n = (last.load(Ordering::Relaxed) & last_mask).count_ones() as usize;
    for w in rest {
        n += w.load(Ordering::Relaxed).count_ones() as usize;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_loops_count_the_same_bits() {
        let words: Vec<AtomicU64> =
            [u64::MAX, 0, 0x8000_0000_0000_0001, 0xF0F0, u64::MAX].into_iter().map(AtomicU64::new).collect();
        for (n, mask, expected) in
            [(0, u64::MAX, 0), (1, 0xFF, 8), (2, u64::MAX, 64), (3, u64::MAX, 66), (5, 0b111, 77)]
        {
            assert_eq!(count(&words[..n], mask), expected, "{n} words, last masked with {mask:#x}");
            assert_eq!(count_portable(&words[..n], mask), expected);
        }
    }
}
