//! Types whose values are spelled as names: [`Mode`](crate::Mode),
//! [`BarrierKind`](crate::BarrierKind), [`Phase`](crate::Phase), [`PauseKind`](crate::PauseKind)
//! and [`HandshakeKind`](crate::HandshakeKind). Each lists its names once ([`Named::NAMES`]);
//! [`display_and_from_str!`] derives `Display` and `FromStr` from that list, and parse errors
//! ([`ParseNameError`]) name what is accepted.

use std::fmt;

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

/// A name that a named type ([`Mode`](crate::Mode), [`BarrierKind`](crate::BarrierKind),
/// [`Phase`](crate::Phase), [`PauseKind`](crate::PauseKind),
/// [`HandshakeKind`](crate::HandshakeKind)) does not know: their `FromStr` error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseNameError {
    /// What was being parsed: `mode`, `barrier`, `phase`, `pause kind` or `handshake kind`.
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

/// Parse a [`Named`] value (ASCII case ignored), or say what is accepted.
pub(crate) fn parse_name<T: Named>(text: &str) -> Result<T, ParseNameError> {
    T::from_name(text).ok_or_else(|| ParseNameError { what: T::WHAT, value: text.to_owned(), expected: T::accepted() })
}

/// `Display` (the canonical name) and `FromStr` (any listed name, ASCII case ignored, error
/// [`ParseNameError`]) for [`Named`] types.
macro_rules! display_and_from_str {
    ($($ty:ty),* $(,)?) => {$(
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str($crate::named::Named::name(*self))
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::named::ParseNameError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                $crate::named::parse_name(text)
            }
        }
    )*};
}
pub(crate) use display_and_from_str;
