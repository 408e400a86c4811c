//! The machine-readable summary line a child process prints last, and its parser.
//!
//! Format: the prefix [`SUMMARY_PREFIX`], then space-separated `key=value` pairs, values
//! without spaces, e.g.
//!
//! ```text
//! @@summary mode=concurrent pause_max_ns=412000 pause_p99_ns=98000 cycles=42
//! ```

use std::{fmt::Display, time::Duration};

use crate::{table::Table, units};

/// What a summary line starts with.
pub const SUMMARY_PREFIX: &str = "@@summary ";

/// An ordered list of `key=value` results.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    fields: Vec<(String, String)>,
}

impl Summary {
    /// An empty summary.
    pub fn new() -> Self {
        Summary::default()
    }

    /// Add a field (builder style).
    ///
    /// # Panics
    /// If the key or the value contains whitespace or `=` (in the key): they would not parse.
    pub fn with(mut self, key: &str, value: impl Display) -> Self {
        let value = value.to_string();
        assert!(
            !key.is_empty() && !key.contains(['=', ' ']) && !value.contains(char::is_whitespace),
            "bad summary field {key:?}={value:?}"
        );
        self.fields.push((key.to_owned(), value));
        self
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
        let pairs: Vec<String> = self.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{SUMMARY_PREFIX}{}", pairs.join(" "))
    }

    /// Parse a line made by [`Summary::to_line`]; `None` if it is not a summary line.
    pub fn parse(line: &str) -> Option<Summary> {
        let rest = line.trim_end().strip_prefix(SUMMARY_PREFIX)?;
        let fields = rest
            .split_whitespace()
            .map(|pair| pair.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
            .collect::<Option<Vec<_>>>()?;
        Some(Summary { fields })
    }
}

/// How to show one metric of a summary in a table cell.
pub type CellFn<'a> = &'a dyn Fn(&Summary) -> String;

/// A comparison table: one column per run (`columns`: header and summary, `None` for a run that
/// failed, shown as `failed`), one row per metric (`rows`: label and cell formatter).
pub fn comparison(columns: &[(&str, Option<&Summary>)], rows: &[(&str, CellFn<'_>)]) -> Table {
    let mut table = Table::new(std::iter::once("").chain(columns.iter().map(|(h, _)| *h)));
    for (label, cell) in rows {
        table.row(
            std::iter::once((*label).to_owned())
                .chain(columns.iter().map(|(_, s)| s.map_or_else(|| "failed".to_owned(), cell))),
        );
    }
    table
}

/// Cell text of a field holding nanoseconds, as milliseconds (`?` if missing).
pub fn ms_cell(s: &Summary, key: &str) -> String {
    s.get_u64(key).map_or_else(|| "?".into(), |ns| units::ms(Duration::from_nanos(ns)))
}

/// Cell text of a field holding bytes, in MB (`?` if missing).
pub fn mb_cell(s: &Summary, key: &str) -> String {
    s.get_u64(key).map_or_else(|| "?".into(), units::mb)
}

/// Cell text of a field holding a count, with a metric suffix and `unit` (`?` if missing).
pub fn count_cell(s: &Summary, key: &str, unit: &str) -> String {
    s.get_f64(key).map_or_else(|| "?".into(), |v| format!("{}{unit}", units::count(v)))
}

/// Cell text of a field as it is (`?` if missing).
pub fn raw_cell(s: &Summary, key: &str) -> String {
    s.get(key).unwrap_or("?").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let s = Summary::new().with("mode", "stw").with("cycles", 12).with("ops_per_s", 1.5);
        let line = s.to_line();
        assert_eq!(line, "@@summary mode=stw cycles=12 ops_per_s=1.5");
        let p = Summary::parse(&line).unwrap();
        assert_eq!(p, s);
        assert_eq!(p.get_u64("cycles"), Some(12));
        assert_eq!(p.get_f64("ops_per_s"), Some(1.5));
        assert_eq!(p.get("missing"), None);
        assert_eq!(Summary::parse("gc 1 @0.1s ..."), None);
    }

    #[test]
    fn comparison_table() {
        let a = Summary::new().with("pause_max_ns", 1_500_000).with("peak_heap", 1 << 20);
        let t = comparison(
            &[("a", Some(&a)), ("b", None)],
            &[("max pause", &|s| ms_cell(s, "pause_max_ns")), ("peak heap", &|s| mb_cell(s, "peak_heap"))],
        );
        assert_eq!(
            t.render(),
            "                   a        b\n\
             -----------------------------\n\
             max pause   1.500 ms   failed\n\
             peak heap     1.0 MB   failed\n"
        );
    }
}
