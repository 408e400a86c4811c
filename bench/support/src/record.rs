//! The machine-readable result line a child process prints last, and its parser.
//!
//! Format: the prefix [`RECORD_PREFIX`], then space-separated `key=value` pairs in the order
//! they were added, values without spaces, e.g.
//!
//! ```text
//! @@result mode=concurrent pause_max_ns=412000 pause_p99_ns=98000 cycles=42
//! ```
//!
//! Durations are given in the unit their key names (`_ns`, `_ms`); [`Record::with_ms`] writes
//! milliseconds with four decimals.

use std::{fmt::Display, time::Duration};

/// What a record line starts with.
pub const RECORD_PREFIX: &str = "@@result ";

/// An ordered list of `key=value` results.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    fields: Vec<(String, String)>,
}

impl Record {
    /// An empty record.
    pub fn new() -> Self {
        Record::default()
    }

    /// Add a field (builder style).
    ///
    /// # Panics
    /// If the key is empty or contains `=` or a space, or the value contains whitespace: the
    /// line would not parse back.
    pub fn with(mut self, key: &str, value: impl Display) -> Self {
        let value = value.to_string();
        assert!(
            !key.is_empty() && !key.contains(['=', ' ']) && !value.contains(char::is_whitespace),
            "bad record field {key:?}={value:?}"
        );
        self.fields.push((key.to_owned(), value));
        self
    }

    /// Add a duration in milliseconds, with four decimals.
    pub fn with_ms(self, key: &str, d: Duration) -> Self {
        self.with(key, format!("{:.4}", d.as_secs_f64() * 1e3))
    }

    /// Append every field of `other`, after this record's own.
    pub fn append(mut self, other: Record) -> Self {
        self.fields.extend(other.fields);
        self
    }

    /// The fields, in insertion order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The raw value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The value of `key` as an unsigned integer.
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key)?.parse().ok()
    }

    /// The value of `key` as a float.
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        self.get(key)?.parse().ok()
    }

    /// The line to print (with the prefix, without a newline).
    pub fn to_line(&self) -> String {
        format!("{RECORD_PREFIX}{}", self.pairs())
    }

    /// The fields as `key=value` pairs separated by spaces, without the prefix.
    pub fn pairs(&self) -> String {
        self.fields.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    }

    /// Parse a line made by [`Record::to_line`]; `None` if it is not a record line.
    pub fn parse(line: &str) -> Option<Record> {
        Record::parse_pairs(line.trim_end().strip_prefix(RECORD_PREFIX)?)
    }

    /// Parse `key=value` pairs separated by whitespace (what [`Record::pairs`] makes); `None`
    /// if a word has no `=`.
    pub fn parse_pairs(text: &str) -> Option<Record> {
        let fields = text
            .split_whitespace()
            .map(|pair| pair.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
            .collect::<Option<Vec<_>>>()?;
        Some(Record { fields })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let r = Record::new().with("mode", "stw").with("cycles", 12).with("ops_per_s", 1.5);
        let line = r.to_line();
        assert_eq!(line, "@@result mode=stw cycles=12 ops_per_s=1.5");
        let p = Record::parse(&line).unwrap();
        assert_eq!(p, r);
        assert_eq!(p.get_u64("cycles"), Some(12));
        assert_eq!(p.get_f64("ops_per_s"), Some(1.5));
        assert_eq!(p.get("missing"), None);
        assert_eq!(Record::parse("gc 1 @0.1s ..."), None);
        assert_eq!(Record::parse_pairs("a=1 b=x"), Some(Record::new().with("a", 1).with("b", "x")));
    }

    #[test]
    fn milliseconds_and_append() {
        let r = Record::new().with_ms("t_ms", Duration::from_micros(1500)).append(Record::new().with("n", 3));
        assert_eq!(r.pairs(), "t_ms=1.5000 n=3");
    }
}
