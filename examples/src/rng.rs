//! A tiny, fast, deterministic pseudo-random number generator (xorshift64), so the examples
//! need no `rand` crate. Not for cryptography.

/// Xorshift64 generator (Marsaglia, 2003): period 2^64 - 1, never yields 0.
#[derive(Clone, Debug)]
pub struct XorShift64 {
    state: u64,
}

impl XorShift64 {
    /// A generator seeded from `seed` (any value, 0 included: the seed is scrambled first).
    pub fn new(seed: u64) -> Self {
        let s = splitmix64(seed);
        XorShift64 { state: if s == 0 { 0x9E37_79B9_7F4A_7C15 } else { s } }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }

    /// A number in `0..n` (`n > 0`), by multiply-shift (bias below 2^-32 for the sizes used here).
    #[inline]
    pub fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// `true` with probability `percent` / 100.
    #[inline]
    pub fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent as usize
    }
}

/// SplitMix64 finaliser: a bijective 64-bit mixer, used for seeds and for canary values.
#[inline]
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_in_range() {
        let mut a = XorShift64::new(7);
        let mut b = XorShift64::new(7);
        for _ in 0..1000 {
            let x = a.below(10);
            assert_eq!(x, b.below(10));
            assert!(x < 10);
        }
        assert_ne!(XorShift64::new(0).next_u64(), 0);
    }

    #[test]
    fn roughly_uniform() {
        let mut r = XorShift64::new(1);
        let mut counts = [0u32; 4];
        for _ in 0..40_000 {
            counts[r.below(4)] += 1;
        }
        assert!(counts.iter().all(|&c| (9_000..11_000).contains(&c)), "{counts:?}");
    }
}
