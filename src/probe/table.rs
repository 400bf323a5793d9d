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
    /// Columns that name the thing itself (a mount's ID and parent ID):
    /// compared when a row was paired on its first key, ignored when it
    /// was paired on a later one (a copy of the thing, renumbered).
    pub copied: Vec<usize>,
}

/// One row. `keys` say which row of an earlier table is the same thing,
/// best first: a diff pairs rows on the first key, then pairs what is left
/// on the second, and so on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub keys: Vec<String>,
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
        let pairs = self.pair(before);
        let mut paired_old = vec![false; before.rows.len()];
        pairs
            .iter()
            .flatten()
            .for_each(|&(j, _)| paired_old[j] = true);
        let mut out: Vec<(Change, Vec<String>)> = before
            .rows
            .iter()
            .zip(&paired_old)
            .filter(|(_, &paired)| !paired)
            .map(|(r, _)| (Change::Removed, r.cells.clone()))
            .collect();
        for (r, pair) in self.rows.iter().zip(&pairs) {
            match pair.map(|(j, level)| (&before.rows[j], level)) {
                None => out.push((Change::Added, r.cells.clone())),
                Some((was, level)) if self.differs(was, r, level) => {
                    out.push((Change::Changed, self.merge(was, r, level)))
                }
                Some(_) => {}
            }
        }
        out
    }

    /// For each of our rows, the index of the same row in `before` and the
    /// key level they were paired on, if any.
    fn pair(&self, before: &Table) -> Vec<Option<(usize, usize)>> {
        let mut pairs = vec![None; self.rows.len()];
        let mut taken = vec![false; before.rows.len()];
        let levels = self
            .rows
            .iter()
            .chain(&before.rows)
            .map(|r| r.keys.len())
            .max()
            .unwrap_or(0);
        for level in 0..levels {
            let mut free: HashMap<&str, usize> = HashMap::new();
            for (j, r) in before.rows.iter().enumerate().filter(|(j, _)| !taken[*j]) {
                if let Some(k) = r.keys.get(level) {
                    free.entry(k.as_str()).or_insert(j);
                }
            }
            for (i, r) in self.rows.iter().enumerate() {
                if pairs[i].is_some() {
                    continue;
                }
                if let Some(j) = r.keys.get(level).and_then(|k| free.remove(k.as_str())) {
                    pairs[i] = Some((j, level));
                    taken[j] = true;
                }
            }
        }
        pairs
    }

    /// Whether column `i` is left out of the comparison of two rows paired
    /// on key `level`.
    fn ignored(&self, i: usize, level: usize) -> bool {
        self.volatile.contains(&i) || (level > 0 && self.copied.contains(&i))
    }

    /// True when a column that counts changed.
    fn differs(&self, was: &Row, now: &Row, level: usize) -> bool {
        let n = was.cells.len().max(now.cells.len());
        (0..n).any(|i| !self.ignored(i, level) && was.cells.get(i) != now.cells.get(i))
    }

    /// The new cells, with `old → new` in every cell that changed and counts.
    fn merge(&self, was: &Row, now: &Row, level: usize) -> Vec<String> {
        now.cells
            .iter()
            .enumerate()
            .map(|(i, cell)| match was.cells.get(i) {
                Some(old) if old != cell && !self.ignored(i, level) => format!("{old} → {cell}"),
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
                    keys: vec![k.to_string()],
                    cells: cells.iter().map(|c| c.to_string()).collect(),
                })
                .collect(),
            volatile: vec![2],
            copied: vec![],
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
    fn pairs_on_the_first_key_then_the_next() {
        let row = |keys: &[&str], v: &str| Row {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            cells: vec![v.into()],
        };
        let t = |rows| Table {
            headers: vec!["V"],
            rows,
            volatile: vec![],
            copied: vec![],
        };
        // "7" moved from "/a" to "/": a change of the same row, not a new one;
        // "9" is new by id but stands where "8" stood: paired by place.
        let before = t(vec![row(&["7", "/a"], "/a"), row(&["8", "/b"], "/b")]);
        let after = t(vec![row(&["7", "/"], "/"), row(&["9", "/b"], "/b")]);
        assert_eq!(
            after.changes(&before),
            vec![(Change::Changed, vec!["/a → /".to_string()])]
        );
        // A key present twice pairs once; the other is new.
        let twice = t(vec![row(&["1"], "x"), row(&["1"], "y")]);
        let once = t(vec![row(&["1"], "x")]);
        assert_eq!(
            twice.changes(&once),
            vec![(Change::Added, vec!["y".to_string()])]
        );
    }

    #[test]
    fn volatile_change_alone_is_no_change() {
        let before = table(&[("a", &["a", "1", "7"])]);
        let after = table(&[("a", &["a", "1", "8"])]);
        assert_eq!(after.diff(&before, ""), None);
        assert_eq!(before.diff(&before, ""), None);
    }
}
