//! A plain-text table with aligned columns, and the comparison table of several child
//! processes' [`Record`]s (one column per run, one row per metric).

use std::time::Duration;

use crate::{record::Record, units};

/// Rows of cells; the first column is left-aligned (labels), the others right-aligned.
#[derive(Clone, Debug, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table whose first row is `header`.
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Self {
        Table { rows: vec![header.into_iter().map(Into::into).collect()] }
    }

    /// Append a row.
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) -> &mut Self {
        self.rows.push(cells.into_iter().map(Into::into).collect());
        self
    }

    /// The table as text: header, a rule, then the rows; every line ends with a newline.
    pub fn render(&self) -> String {
        let ncols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..ncols)
            .map(|c| self.rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
            .collect();
        let line = |row: &Vec<String>| {
            let cells: Vec<String> = (0..ncols)
                .map(|c| {
                    let s = row.get(c).map_or("", String::as_str);
                    if c == 0 {
                        format!("{s:<w$}", w = widths[c])
                    } else {
                        format!("{s:>w$}", w = widths[c])
                    }
                })
                .collect();
            cells.join("   ").trim_end().to_owned() + "\n"
        };
        let mut out = String::new();
        for (i, row) in self.rows.iter().enumerate() {
            out += &line(row);
            if i == 0 {
                let total = widths.iter().sum::<usize>() + 3 * ncols.saturating_sub(1);
                out += &"-".repeat(total);
                out += "\n";
            }
        }
        out
    }
}

/// How to show one metric of a record in a table cell.
pub type CellFn<'a> = &'a dyn Fn(&Record) -> String;

/// A comparison table: one column per run (`columns`: header and record, `None` for a run that
/// failed, shown as `failed`), one row per metric (`rows`: label and cell formatter).
pub fn comparison(columns: &[(&str, Option<&Record>)], rows: &[(&str, CellFn<'_>)]) -> Table {
    let mut table = Table::new(std::iter::once("").chain(columns.iter().map(|(h, _)| *h)));
    for (label, cell) in rows {
        table.row(
            std::iter::once((*label).to_owned())
                .chain(columns.iter().map(|(_, r)| r.map_or_else(|| "failed".to_owned(), cell))),
        );
    }
    table
}

/// Cell text of a field holding nanoseconds, as milliseconds (`?` if missing).
pub fn ms_cell(r: &Record, key: &str) -> String {
    r.get_u64(key).map_or_else(|| "?".into(), |ns| units::ms(Duration::from_nanos(ns)))
}

/// Cell text of a field holding bytes, in MB (`?` if missing).
pub fn mb_cell(r: &Record, key: &str) -> String {
    r.get_u64(key).map_or_else(|| "?".into(), units::mb)
}

/// Cell text of a field holding a count, with a metric suffix and `unit` (`?` if missing).
pub fn count_cell(r: &Record, key: &str, unit: &str) -> String {
    r.get_f64(key).map_or_else(|| "?".into(), |v| format!("{}{unit}", units::count(v)))
}

/// Cell text of a field as it is (`?` if missing).
pub fn raw_cell(r: &Record, key: &str) -> String {
    r.get(key).unwrap_or("?").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns() {
        let mut t = Table::new(["", "concurrent", "stw"]);
        t.row(["max pause", "0.1 ms", "31.0 ms"]);
        assert_eq!(
            t.render(),
            "            concurrent       stw\n\
             --------------------------------\n\
             max pause       0.1 ms   31.0 ms\n"
        );
    }

    #[test]
    fn comparison_table() {
        let a = Record::new().with("pause_max_ns", 1_500_000).with("peak_heap", 1 << 20);
        let t = comparison(
            &[("a", Some(&a)), ("b", None)],
            &[("max pause", &|r| ms_cell(r, "pause_max_ns")), ("peak heap", &|r| mb_cell(r, "peak_heap"))],
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
