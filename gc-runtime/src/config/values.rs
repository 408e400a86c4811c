//! How a setting's value is written in its environment variable: the value formats named in
//! the `values:` column of the settings table (`mod.rs`).
//!
//! A format parses the variable's text, says whether a value is in range, writes a value back
//! as the variable would, and describes what it accepts. That one description is the
//! `expected` of every [`ConfigError`](super::ConfigError) about the setting and the "values"
//! column of the settings table, so a range is stated once.

use std::time::Duration;

use crate::named::Named;

/// The value format of a setting of type `T`.
pub(crate) trait Format<T> {
    /// The value written as `text` (already trimmed), range not yet checked.
    fn parse(&self, text: &str) -> Option<T>;
    /// Whether `value` is in range ([`Config::validate`](super::Config::validate) applies this
    /// to values set in code too).
    fn check(&self, _value: &T) -> bool {
        true
    }
    /// `value` as the variable would spell it.
    fn show(&self, value: &T) -> String;
    /// What is accepted, range included, e.g. "an integer from 1 to 256".
    fn accepts(&self) -> String;
}

/// A [`Named`] value, by name: `concurrent`, `hybrid`.
pub(crate) struct Name;

impl<T: Named> Format<T> for Name {
    fn parse(&self, text: &str) -> Option<T> {
        T::from_name(text)
    }
    fn show(&self, value: &T) -> String {
        value.name().to_owned()
    }
    fn accepts(&self) -> String {
        T::accepted()
    }
}

/// A decimal integer within `min..=max`.
pub(crate) struct Int {
    min: u64,
    max: u64,
}

impl Int {
    /// Any value of the integer type.
    pub(crate) const fn any() -> Int {
        Int { min: 0, max: u64::MAX }
    }

    /// From `min` to `max`, both included.
    pub(crate) const fn range(min: u64, max: u64) -> Int {
        Int { min, max }
    }
}

impl<T> Format<T> for Int
where
    T: Copy + std::str::FromStr + ToString + TryInto<u64>,
{
    fn parse(&self, text: &str) -> Option<T> {
        text.parse().ok()
    }
    fn check(&self, value: &T) -> bool {
        (*value).try_into().is_ok_and(|n| (self.min..=self.max).contains(&n))
    }
    fn show(&self, value: &T) -> String {
        value.to_string()
    }
    fn accepts(&self) -> String {
        if self.max == u64::MAX {
            format!("an integer ≥ {}", self.min)
        } else {
            format!("an integer from {} to {}", self.min, self.max)
        }
    }
}

/// A byte count, with an optional binary `K`, `M` or `G` suffix (any case): `4194304`, `4M`.
pub(crate) struct Bytes;

const SUFFIXES: [(char, u32); 3] = [('G', 30), ('M', 20), ('K', 10)];

impl Format<usize> for Bytes {
    fn parse(&self, text: &str) -> Option<usize> {
        let last = text.chars().last()?.to_ascii_uppercase();
        let (digits, shift) = match SUFFIXES.iter().find(|(s, _)| *s == last) {
            Some(&(_, shift)) => (&text[..text.len() - 1], shift),
            None => (text, 0),
        };
        let n: usize = digits.trim_end().parse().ok()?;
        n.checked_mul(1usize << shift)
    }
    fn show(&self, value: &usize) -> String {
        match SUFFIXES.iter().find(|(_, shift)| *value != 0 && value.trailing_zeros() >= *shift) {
            Some(&(suffix, shift)) => format!("{}{suffix}", value >> shift),
            None => value.to_string(),
        }
    }
    fn accepts(&self) -> String {
        "a byte count with an optional `K`, `M` or `G` suffix".to_owned()
    }
}

/// A switch: `0` or `1` (also `false`/`true`, `off`/`on`, `no`/`yes`, any case; empty is off).
pub(crate) struct Flag;

impl Format<bool> for Flag {
    fn parse(&self, text: &str) -> Option<bool> {
        const ON: [&str; 4] = ["1", "true", "on", "yes"];
        const OFF: [&str; 5] = ["0", "false", "off", "no", ""];
        let is = |words: &[&str]| words.iter().any(|w| w.eq_ignore_ascii_case(text));
        if is(&ON) {
            Some(true)
        } else if is(&OFF) {
            Some(false)
        } else {
            None
        }
    }
    fn show(&self, value: &bool) -> String {
        if *value { "1" } else { "0" }.to_owned()
    }
    fn accepts(&self) -> String {
        "`0` or `1`".to_owned()
    }
}

/// A duration in whole milliseconds, at least `min`.
pub(crate) struct Millis {
    min: u64,
}

impl Millis {
    /// At least `min` milliseconds.
    pub(crate) const fn at_least(min: u64) -> Millis {
        Millis { min }
    }
}

impl Format<Duration> for Millis {
    fn parse(&self, text: &str) -> Option<Duration> {
        text.parse().ok().map(Duration::from_millis)
    }
    fn check(&self, value: &Duration) -> bool {
        *value >= Duration::from_millis(self.min)
    }
    fn show(&self, value: &Duration) -> String {
        value.as_millis().to_string()
    }
    fn accepts(&self) -> String {
        format!("a whole number of milliseconds ≥ {}", self.min)
    }
}

/// `off` (any case) for `None`, or a value in the inner format.
pub(crate) struct OrOff<F>(pub(crate) F);

impl<T, F: Format<T>> Format<Option<T>> for OrOff<F> {
    fn parse(&self, text: &str) -> Option<Option<T>> {
        if text.eq_ignore_ascii_case("off") {
            Some(None)
        } else {
            self.0.parse(text).map(Some)
        }
    }
    fn check(&self, value: &Option<T>) -> bool {
        value.as_ref().is_none_or(|v| self.0.check(v))
    }
    fn show(&self, value: &Option<T>) -> String {
        value.as_ref().map_or_else(|| "off".to_owned(), |v| self.0.show(v))
    }
    fn accepts(&self) -> String {
        format!("{}, or `off`", self.0.accepts())
    }
}
