//! The hash of an object's address, for the identity-keyed tables: [`GcIdMap`](crate::GcIdMap)'s
//! (`slot_table.rs`) and [`GcWeakMap`](crate::GcWeakMap)'s; and, as [`AddressHasher`], for
//! the collector's own `HashMap`s of objects and maps (checkmark's walk, the weak-map table).
//!
//! Keys of an identity map are addresses the allocator chose, not values a user could pick to
//! collide, so the map needs no keyed hash (SipHash cost 14 % of a Lox interpreter's time in
//! property lookups). The hash is a *folded multiply*: the 128-bit product of the address and
//! an odd constant (the golden ratio's, as in Knuth's multiplicative hashing), its two halves
//! XORed — one `mul` on x86-64. The table takes its bucket from the low bits and a 7-bit tag
//! from the top ones, and both halves of the product feed both. (The low half alone leaves
//! the low three bits of every hash zero, objects being 8-aligned; folding only the low half's
//! own top bits down filled a third fewer buckets than random hashes for objects 16 or 32
//! bytes apart. The fold fills as many as random ones would, or more.)

use std::hash::{BuildHasherDefault, Hasher};

/// 2^64 divided by the golden ratio, made odd.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The hash of the address `addr`.
#[inline]
pub(crate) fn address_hash(addr: usize) -> u64 {
    let product = u128::from(addr as u64) * u128::from(GOLDEN);
    (product as u64) ^ ((product >> 64) as u64)
}

/// A [`Hasher`] for maps keyed by addresses (`*const Header`, `usize`): [`address_hash`] of the
/// one word written. For the collector's own tables of objects, such as checkmark's walk, where
/// SipHash was most of the cost of a lookup (and, under Miri, of the whole walk).
///
/// # Panics
/// If a key writes anything but one `usize` (a pointer hashes as its address).
#[derive(Default)]
pub(crate) struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, _: &[u8]) {
        unreachable!("an address hasher hashes addresses: one usize per key")
    }

    fn write_usize(&mut self, addr: usize) {
        self.0 = address_hash(addr);
    }
}

/// Builds [`AddressHasher`]s: `HashMap<*const Header, V, BuildAddressHasher>`.
pub(crate) type BuildAddressHasher = BuildHasherDefault<AddressHasher>;

// Not under Miri: safe code only (Miri looks for undefined behaviour, which safe code cannot
// cause), and minutes of interpreted time. `.ci/run` checks that it stays so.
#[cfg(all(test, not(miri)))]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// Addresses of neighbouring objects of one size class fill a table's buckets about as
    /// well as random hashes would, and vary the top bits the table uses as tags.
    #[test]
    fn neighbouring_objects_spread_over_buckets_and_tags() {
        for stride in [16, 24, 32, 48, 64, 256, 8192] {
            let base = 0x7f12_3456_0000_usize;
            let hashes: Vec<u64> = (0..4096).map(|i| address_hash(base + i * stride)).collect();
            let buckets: HashSet<u64> = hashes.iter().map(|h| h & 4095).collect();
            let tags: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
            // Random hashes would fill 4096 × (1 − 1/e) ≈ 2589 of 4096 buckets, and every tag.
            assert!(buckets.len() >= 2400, "stride {stride}: {} of 4096 buckets", buckets.len());
            assert!(tags.len() >= 120, "stride {stride}: {} of 128 tags", tags.len());
        }
    }

    /// A map keyed by pointers through the address hasher hashes each key by its address.
    #[test]
    fn the_address_hasher_hashes_a_pointer_by_its_address() {
        use std::hash::BuildHasher;
        let p = 0x7f12_3456_0010_usize as *const u8;
        assert_eq!(BuildAddressHasher::default().hash_one(p), address_hash(0x7f12_3456_0010));
        let map: std::collections::HashMap<*const u8, usize, BuildAddressHasher> =
            (1..=1000usize).map(|i| ((i * 32) as *const u8, i)).collect();
        assert!((1..=1000usize).all(|i| map[&((i * 32) as *const u8)] == i));
    }
}
