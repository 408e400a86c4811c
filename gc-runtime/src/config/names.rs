//! The settings whose values are names: [`Mode`] and [`BarrierKind`].
//!
//! Each lists its names once ([`Named::NAMES`]); `Display`, `FromStr`, the `GC_MODE` and
//! `GC_BARRIER` parsing and the accepted values in errors and in the settings table are all
//! read from that list. Parsing ignores ASCII case (`STW`, `Hybrid`), as the environment
//! variables always have.

use std::{fmt, str::FromStr};

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
    /// Mutators keep running while roots are scanned, the heap is marked and swept; the world
    /// stops only to turn the barrier on and to terminate marking.
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

/// A type whose values are spelled as names.
pub(crate) trait Named: Copy + Eq + 'static {
    /// What the names name, for parse errors (`mode`, `barrier`).
    const WHAT: &'static str;
    /// Every value with its name. The first entry of a value is its canonical name (what
    /// `Display` writes, and what errors and the settings table list); later entries for the
    /// same value are accepted aliases.
    const NAMES: &'static [(&'static str, Self)];

    /// The canonical name.
    fn name(self) -> &'static str {
        Self::NAMES.iter().find(|(_, v)| *v == self).map_or_else(|| unreachable!("every value is named"), |(n, _)| n)
    }

    /// The value named `text` (ASCII case ignored).
    fn from_name(text: &str) -> Option<Self> {
        Self::NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(text)).map(|(_, v)| *v)
    }

    /// The canonical names as prose: "`a`, `b` or `c`".
    fn accepted() -> String {
        let names: Vec<String> = Self::NAMES
            .iter()
            .enumerate()
            .filter(|(i, (_, v))| !Self::NAMES[..*i].iter().any(|(_, w)| w == v))
            .map(|(_, (n, _))| format!("`{n}`"))
            .collect();
        match names.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }
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

/// A name that [`Mode`] or [`BarrierKind`] does not know (their `FromStr` error).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseNameError {
    /// What was being parsed: `mode` or `barrier`.
    pub what: &'static str,
    /// The rejected text.
    pub value: String,
    /// The accepted names, e.g. "`concurrent` or `stw`".
    pub expected: String,
}

impl fmt::Display for ParseNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} {:?}: expected {}", self.what, self.value, self.expected)
    }
}

impl std::error::Error for ParseNameError {}

fn parse_name<T: Named>(text: &str) -> Result<T, ParseNameError> {
    T::from_name(text).ok_or_else(|| ParseNameError { what: T::WHAT, value: text.to_owned(), expected: T::accepted() })
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mode {
    type Err = ParseNameError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_name(text)
    }
}

impl fmt::Display for BarrierKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BarrierKind {
    type Err = ParseNameError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_name(text)
    }
}
