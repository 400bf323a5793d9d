//! The one table shape the three views share: a header and rows of text,
//! printed compactly with tabled and compared row by row for `--show-diff`.

use std::collections::HashMap;

use tabled::builder::Builder;
use tabled::settings::{Padding, Style};

/// A view of the kernel as text: one row per namespace, mount or cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub headers: Vec<&'static str>,
    pub rows: Vec<Row>,
    /// Columns whose change alone is not worth reporting in a diff (a pid
    /// that differs because we now look at the child, a mount ID that is new
    /// because the mount was copied into a new namespace, CPU usage).
    pub volatile: Vec<usize>,
}

/// One row; `key` says which row of an earlier table it is the same thing as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub key: String,
    pub cells: Vec<String>,
}

/// What happened to one row between two tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Added,
    Removed,
    Changed,
}

impl Change {
    fn mark(self) -> &'static str {
        match self {
            Change::Added => "+",
            Change::Removed => "-",
            Change::Changed => "~",
        }
    }
}

impl Table {
    /// The table as aligned columns, every line starting with `indent`.
    pub fn render(&self, indent: &str) -> String {
        let mut b = Builder::default();
        b.push_record(self.headers.iter().copied());
        for r in &self.rows {
            b.push_record(r.cells.iter().map(String::as_str));
        }
        grid(b, indent)
    }

    /// Only the rows that were added (`+`), removed (`-`) or changed (`~`,
    /// each changed cell shown as `old → new`) since `before`; `None` when
    /// nothing that matters changed.
    pub fn diff(&self, before: &Table, indent: &str) -> Option<String> {
        let changes = self.changes(before);
        if changes.is_empty() {
            return None;
        }
        let mut b = Builder::default();
        b.push_record(std::iter::once("").chain(self.headers.iter().copied()));
        for (change, cells) in changes {
            b.push_record(std::iter::once(change.mark().to_string()).chain(cells));
        }
        Some(grid(b, indent))
    }

    /// Removed rows first (in their old order), then added and changed rows
    /// in the new order.
    fn changes(&self, before: &Table) -> Vec<(Change, Vec<String>)> {
        let old: HashMap<&str, &Row> = before.rows.iter().map(|r| (r.key.as_str(), r)).collect();
        let new: HashMap<&str, &Row> = self.rows.iter().map(|r| (r.key.as_str(), r)).collect();
        let mut out: Vec<(Change, Vec<String>)> = before
            .rows
            .iter()
            .filter(|r| !new.contains_key(r.key.as_str()))
            .map(|r| (Change::Removed, r.cells.clone()))
            .collect();
        for r in &self.rows {
            match old.get(r.key.as_str()) {
                None => out.push((Change::Added, r.cells.clone())),
                Some(was) if self.differs(was, r) => {
                    out.push((Change::Changed, self.merge(was, r)))
                }
                Some(_) => {}
            }
        }
        out
    }

    /// True when a column that is not volatile changed.
    fn differs(&self, was: &Row, now: &Row) -> bool {
        let n = was.cells.len().max(now.cells.len());
        (0..n).any(|i| !self.volatile.contains(&i) && was.cells.get(i) != now.cells.get(i))
    }

    /// The new cells, with `old → new` in every cell that changed.
    fn merge(&self, was: &Row, now: &Row) -> Vec<String> {
        now.cells
            .iter()
            .enumerate()
            .map(|(i, cell)| match was.cells.get(i) {
                Some(old) if old != cell && !self.volatile.contains(&i) => {
                    format!("{old} → {cell}")
                }
                _ => cell.clone(),
            })
            .collect()
    }
}

/// Columns two spaces apart, no borders, each line indented.
fn grid(b: Builder, indent: &str) -> String {
    let mut t = b.build();
    t.with(Style::empty()).with(Padding::new(0, 2, 0, 0));
    let mut out = String::new();
    for line in t.to_string().lines() {
        out.push_str(indent);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[(&str, &[&str])]) -> Table {
        Table {
            headers: vec!["NAME", "VALUE", "PID"],
            rows: rows
                .iter()
                .map(|(k, cells)| Row {
                    key: k.to_string(),
                    cells: cells.iter().map(|c| c.to_string()).collect(),
                })
                .collect(),
            volatile: vec![2],
        }
    }

    #[test]
    fn renders_aligned_and_indented() {
        let t = table(&[("a", &["a", "1", "7"]), ("long", &["long", "22", "7"])]);
        assert_eq!(
            t.render("   "),
            "   NAME  VALUE  PID\n   a     1      7\n   long  22     7\n"
        );
    }

    #[test]
    fn diff_marks_added_removed_changed() {
        let before = table(&[("a", &["a", "1", "7"]), ("b", &["b", "2", "7"])]);
        let after = table(&[("a", &["a", "9", "8"]), ("c", &["c", "3", "8"])]);
        let d = after.diff(&before, "").expect("a change");
        let lines: Vec<&str> = d.lines().collect();
        assert_eq!(lines.len(), 4, "{d}");
        assert!(lines[1].starts_with("-  b"), "{d}");
        assert!(
            lines[2].starts_with("~  a") && lines[2].contains("1 → 9"),
            "{d}"
        );
        // The pid column is volatile: shown as it is now, not as a change.
        assert!(lines[2].ends_with(" 8"), "{d}");
        assert!(lines[3].starts_with("+  c"), "{d}");
    }

    #[test]
    fn volatile_change_alone_is_no_change() {
        let before = table(&[("a", &["a", "1", "7"])]);
        let after = table(&[("a", &["a", "1", "8"])]);
        assert_eq!(after.diff(&before, ""), None);
        assert_eq!(before.diff(&before, ""), None);
    }
}
