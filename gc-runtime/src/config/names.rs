//! The settings whose values are names: [`Mode`] and [`BarrierKind`].
//!
//! Each lists its names once ([`Named::NAMES`]); `Display`, `FromStr` (see `named.rs`), the
//! `GC_MODE` and `GC_BARRIER` parsing and the accepted values in errors and in the settings
//! table are all read from that list. Parsing ignores ASCII case (`STW`, `Hybrid`), as the
//! environment variables always have.

use crate::named::{display_and_from_str, Named};

/// How a collection cycle runs relative to the mutators.
///
/// Written and parsed as `concurrent` or `stw` (`stop-the-world` is accepted too; any ASCII
/// case):
///
/// ```
/// use gc_runtime::Mode;
///
/// assert_eq!("stw".parse::<Mode>(), Ok(Mode::StopTheWorld));
/// assert_eq!(Mode::Concurrent.to_string(), "concurrent");
/// let err = "fast".parse::<Mode>().unwrap_err();
/// assert_eq!(err.to_string(), "unknown mode \"fast\": expected `concurrent` or `stw`");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Mutators keep running while roots are scanned, the heap is marked and swept. With
    /// per-thread handshakes (the default) the barrier is turned on and marking terminated by
    /// handshake rounds, without stopping the world (it stops only as a fallback, and for
    /// checkmark); with them off, the world stops for those two steps.
    Concurrent,
    /// The whole cycle — mark and sweep — runs with the world stopped (the `if false` switch
    /// of Go's first write-barrier change, golang.org/cl/172190043). The baseline for
    /// benchmarks and a debugging aid.
    StopTheWorld,
}

/// Which write barrier runs on pointer stores while marking.
///
/// Written and parsed as `dijkstra`, `yuasa` or `hybrid` (any ASCII case):
///
/// ```
/// use gc_runtime::BarrierKind;
///
/// assert_eq!("Yuasa".parse::<BarrierKind>(), Ok(BarrierKind::Yuasa));
/// assert_eq!(BarrierKind::Hybrid.to_string(), "hybrid");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BarrierKind {
    /// Dijkstra insertion barrier: shade the pointer being stored (the barrier of Go's first
    /// write-barrier change, golang.org/cl/172190043).
    Dijkstra,
    /// Yuasa deletion barrier: shade the pointer being overwritten (snapshot at the beginning).
    Yuasa,
    /// Go 1.8's hybrid barrier: shade both the overwritten and the stored pointer.
    Hybrid,
}

impl Named for Mode {
    const WHAT: &'static str = "mode";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("concurrent", Mode::Concurrent),
        ("stw", Mode::StopTheWorld),
        ("stop-the-world", Mode::StopTheWorld),
        ("stoptheworld", Mode::StopTheWorld),
    ];
}

impl Named for BarrierKind {
    const WHAT: &'static str = "barrier";
    const NAMES: &'static [(&'static str, Self)] =
        &[("dijkstra", BarrierKind::Dijkstra), ("yuasa", BarrierKind::Yuasa), ("hybrid", BarrierKind::Hybrid)];
}

display_and_from_str!(Mode, BarrierKind);
