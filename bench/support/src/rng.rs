//! The one pseudo-random generator of the measuring code: [`fastrand::Rng`] (wyrand), seeded.
//!
//! # Why this one
//!
//! The workloads need a fast, seeded, reproducible stream of numbers and unbiased numbers
//! below a bound; nothing here needs cryptographic strength or statistical quality beyond
//! "spreads the mutations over the heap". `fastrand` is small (no dependencies), maintained
//! with smol, and its `usize(..n)` is Lemire's unbiased multiply-shift, so there is nothing
//! left to write by hand. Each program seeds its generator ([`seeded`]), so a run repeats
//! exactly, and every implementation of the peer comparison sees the same mutations.
//!
//! Useful calls: `rng.usize(..n)` (a number in `0..n`), `rng.u64(..)` (64 random bits),
//! `rng.u32(..100) < percent` (a chance in percent).

pub use fastrand::Rng;

/// A generator seeded with `seed`: the same seed gives the same sequence.
pub fn seeded(seed: u64) -> Rng {
    Rng::with_seed(seed)
}

/// A 64-bit value derived from `x` by one step of the generator: a fast, well-mixed hash for
/// check values (such as the canaries of the demo's nodes).
pub fn mix(x: u64) -> u64 {
    Rng::with_seed(x).u64(..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_in_range() {
        let (mut a, mut b) = (seeded(7), seeded(7));
        for _ in 0..1000 {
            let x = a.usize(..10);
            assert_eq!(x, b.usize(..10));
            assert!(x < 10);
        }
        assert_eq!(mix(3), mix(3));
        assert_ne!(mix(3), mix(4));
    }
}
