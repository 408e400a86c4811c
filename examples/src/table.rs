//! A plain-text table with aligned columns, for side-by-side comparisons.

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
}
