//! The kernel's view of itself, read and never changed: namespaces, mounts,
//! cgroups. This is the ONLY module that reads /proc and /sys for that.
//!
//! - [`ns`]: /proc/PID/ns/* — which namespaces a process is in;
//! - [`mounts`]: /proc/PID/mountinfo — the mount table it sees;
//! - [`cgroup`]: /proc/PID/cgroup and the cgroup files — its limits and usage;
//! - [`host`]: facts about the host as a whole.
//!
//! A [`Snapshot`] holds the views asked for with `--show`, taken after a
//! journal step, and can be printed whole or as a diff against the one before.

pub mod cgroup;
mod cgroupns;
pub mod host;
pub mod mounts;
pub mod net;
pub mod ns;
pub mod procs;
pub mod ps;
pub mod table;

use std::io;

use crate::sys::journal::Step;
use table::{Row, Table};

/// Which table to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Namespaces: /proc/PID/ns/*.
    Ns,
    /// Mounts: /proc/PID/mountinfo.
    Mounts,
    /// Cgroups: /proc/PID/cgroup and the hierarchy's files.
    Cgroup,
    /// Network: links, addresses, routes of its netns and its children's.
    Net,
}

impl View {
    pub fn name(self) -> &'static str {
        match self {
            View::Ns => "ns",
            View::Mounts => "mounts",
            View::Cgroup => "cgroup",
            View::Net => "net",
        }
    }
}

/// The kernel's view of one process at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Whose view: the journal's label of the process (`parent`, `child`),
    /// or `new child` right after a clone.
    pub whose: String,
    /// Its pid as the /proc we read numbers it; `None` without a /proc.
    pub pid: Option<i32>,
    /// Each view asked for, as its data or as the reason it could not be read.
    pub parts: Vec<(View, Result<Data, String>)>,
}

/// What one view found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    Ns(Vec<ns::NsRow>),
    Mounts(Vec<mounts::MountRow>),
    Cgroup(Vec<cgroup::CgroupRow>),
    Net(Vec<net::NetRow>),
}

impl Data {
    /// Read `view` for `pid` (a pid as the mounted /proc numbers it).
    pub fn read(view: View, pid: i32) -> io::Result<Data> {
        Ok(match view {
            View::Ns => Data::Ns(ns::rows(pid)?),
            View::Mounts => Data::Mounts(mounts::rows(pid)?),
            View::Cgroup => Data::Cgroup(cgroup::rows(pid)?),
            View::Net => Data::Net(net::rows(pid)?),
        })
    }

    /// As a flat table, the shape diffs are made from.
    pub fn table(&self) -> Table {
        match self {
            Data::Ns(rows) => ns::table(rows),
            Data::Mounts(rows) => mounts::table(rows),
            Data::Cgroup(rows) => cgroup_table(rows),
            Data::Net(rows) => net::table(rows),
        }
    }

    /// As shown in full: mounts drawn as a tree, like findmnt.
    fn shown(&self) -> Table {
        match self {
            Data::Mounts(rows) => mounts::tree_table(rows),
            other => other.table(),
        }
    }
}

/// HIERARCHY, PATH, LIMITS, USAGE. Usage changes at every step; a diff
/// reports it only when something else about the cgroup changed too.
pub fn cgroup_table(rows: &[cgroup::CgroupRow]) -> Table {
    Table {
        headers: vec!["HIERARCHY", "PATH", "LIMITS", "USAGE"],
        rows: rows
            .iter()
            .map(|r| Row {
                keys: vec![r.hierarchy.clone()],
                cells: vec![
                    r.hierarchy.clone(),
                    r.path.clone(),
                    r.limits.clone(),
                    r.usage.clone(),
                ],
            })
            .collect(),
        volatile: vec![3],
        copied: vec![],
    }
}

/// Lines under a journal step line up with its `why:` and `kernel:` lines.
const INDENT: &str = "   ";

impl Snapshot {
    /// The view right after `step`: of the new child for a clone, otherwise
    /// of the process that made the step (the journal calls its observer in
    /// that very process).
    pub fn take_after(step: &Step, views: &[View]) -> Snapshot {
        let joined_cgroupns = step.syscall == "setns"
            && step.errno.is_none()
            && step.args.iter().any(|a| a == "CLONE_NEWCGROUP");
        if joined_cgroupns {
            cgroupns::joined_other();
        }
        match new_child(step) {
            Some(child) => Snapshot::take("new child".to_string(), visible(child), views),
            None => Snapshot::take(step.process.clone(), proc_self(), views),
        }
    }

    /// The view of this process before its first step: what `--show-diff`
    /// compares the first step against (in the parent and in a child).
    pub fn take_before_start(views: &[View]) -> Snapshot {
        Snapshot::take("the start".to_string(), proc_self(), views)
    }

    fn take(whose: String, pid: Result<i32, String>, views: &[View]) -> Snapshot {
        let parts = views
            .iter()
            .map(|&v| {
                let data = pid
                    .clone()
                    .and_then(|p| Data::read(v, p).map_err(|e| explain(v, p, e)));
                (v, data)
            })
            .collect();
        Snapshot {
            whose,
            pid: pid.ok(),
            parts,
        }
    }

    /// `ns of child, pid 4212:`
    fn head(&self, view: View) -> String {
        let pid = self.pid.map_or(String::new(), |p| format!(", pid {p}"));
        format!("{INDENT}{} of {}{pid}:", view.name(), self.whose)
    }

    /// Every view in full, indented to sit under the journal step.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (view, part) in &self.parts {
            let head = self.head(*view);
            match part {
                Ok(data) => out.push_str(&format!("{head}\n{}", data.shown().render(INDENT))),
                Err(why) => out.push_str(&format!("{head} {why}\n")),
            }
        }
        out
    }

    /// Only what changed since `before`, view by view: rows marked `+`
    /// added, `-` removed, `~` changed; `(no change)` when nothing did.
    /// When `before` was another process's view (the parent looking again
    /// after showing its new child), the heading says so.
    pub fn diff(&self, before: &Snapshot) -> String {
        let mut out = String::new();
        for (view, part) in &self.parts {
            let mut head = self.head(*view);
            if before.whose != self.whose {
                head = format!(
                    "{} (compared with {}):",
                    head.trim_end_matches(':'),
                    before.whose
                );
            }
            let was = before.parts.iter().find(|(v, _)| v == view).map(|(_, p)| p);
            match (part, was) {
                (Ok(now), Some(Ok(was))) => match now.table().diff(&was.table(), INDENT) {
                    Some(d) => out.push_str(&format!("{head}\n{d}")),
                    None => out.push_str(&format!("{head} (no change)\n")),
                },
                (Err(a), Some(Err(b))) if a == b => out.push_str(&format!("{head} (no change)\n")),
                (Err(why), _) => out.push_str(&format!("{head} {why}\n")),
                (Ok(now), _) => out.push_str(&format!("{head}\n{}", now.shown().render(INDENT))),
            }
        }
        out
    }
}

/// The pid a successful clone returned, if `step` is one.
fn new_child(step: &Step) -> Option<i32> {
    let is_clone = step.syscall == "clone" || step.syscall == "clone3";
    match step.ret {
        Some(pid) if is_clone && step.errno.is_none() && pid > 0 => i32::try_from(pid).ok(),
        _ => None,
    }
}

/// Our own pid as the mounted /proc numbers it: /proc/self is a symlink to
/// that number. In a new pid namespace our getpid() is 1 while a /proc still
/// mounted from the host's namespace calls us e.g. 4213, so we ask /proc.
/// After pivot_root and before a fresh /proc is mounted there is none.
pub(crate) fn proc_self() -> Result<i32, String> {
    std::fs::read_link("/proc/self")
        .ok()
        .and_then(|p| p.to_str()?.parse().ok())
        .ok_or_else(|| "(no /proc here yet)".to_string())
}

/// A pid returned by clone is numbered in *our* pid namespace; it names the
/// child in /proc only if that /proc belongs to our pid namespace too.
fn visible(child: i32) -> Result<i32, String> {
    let me = proc_self()?;
    if me == std::process::id() as i32 {
        Ok(child)
    } else {
        Err(format!(
            "(pid {child} is not in this /proc: it was mounted by another pid namespace)"
        ))
    }
}

/// One line saying why a view could not be read.
fn explain(view: View, pid: i32, e: io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => format!("(pid {pid} has exited)"),
        io::ErrorKind::PermissionDenied => format!(
            "(not allowed to read the {} of pid {pid}: run as root)",
            view.name()
        ),
        _ => format!("(cannot read: {e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ns::NsRow;

    fn ns_snap(whose: &str, pid: i32, rows: &[(&str, u64, Option<bool>)]) -> Snapshot {
        let rows = rows
            .iter()
            .map(|&(k, inode, shared)| NsRow {
                kind: k.into(),
                inode,
                pid,
                shared_with_host: shared,
            })
            .collect();
        Snapshot {
            whose: whose.into(),
            pid: Some(pid),
            parts: vec![(View::Ns, Ok(Data::Ns(rows)))],
        }
    }

    fn step(syscall: &str, ret: Option<i64>, errno: Option<&str>) -> Step {
        Step {
            step: 1,
            process: "parent".into(),
            pid: 1,
            syscall: syscall.into(),
            args: vec![],
            ret,
            errno: errno.map(str::to_string),
            why: String::new(),
            hint: None,
            kernel: None,
        }
    }

    #[test]
    fn clone_shows_the_child_everything_else_the_caller() {
        assert_eq!(new_child(&step("clone", Some(4212), None)), Some(4212));
        assert_eq!(new_child(&step("clone", Some(-1), Some("EPERM"))), None);
        assert_eq!(new_child(&step("clone", Some(0), None)), None);
        assert_eq!(new_child(&step("unshare", Some(0), None)), None);
        assert_eq!(new_child(&step("mount", Some(0), None)), None);
    }

    #[test]
    fn snapshot_of_self_reads_our_own_namespaces() {
        let s = Snapshot::take_after(&step("mount", Some(0), None), &[View::Ns]);
        let me = std::process::id() as i32;
        assert_eq!((s.whose.as_str(), s.pid), ("parent", Some(me)));
        let Ok(Data::Ns(rows)) = &s.parts[0].1 else {
            panic!("{s:?}")
        };
        let net = std::fs::read_link("/proc/self/ns/net").unwrap();
        let row = rows.iter().find(|r| r.kind == "net").unwrap();
        assert_eq!(format!("net:[{}]", row.inode), net.to_string_lossy());
        let text = s.render();
        assert!(
            text.starts_with(&format!("   ns of parent, pid {me}:\n   TYPE")),
            "{text}"
        );
    }

    #[test]
    fn snapshot_of_a_gone_child_says_so() {
        let s = Snapshot::take_after(&step("clone", Some(i32::MAX as i64), None), &[View::Mounts]);
        assert_eq!(s.parts[0].1, Err(format!("(pid {} has exited)", i32::MAX)));
        assert_eq!(
            s.render(),
            format!(
                "   mounts of new child, pid {}: (pid {0} has exited)\n",
                i32::MAX
            )
        );
    }

    #[test]
    fn diff_reports_only_changes() {
        let before = ns_snap(
            "child",
            7,
            &[("net", 1, Some(true)), ("uts", 2, Some(true))],
        );
        let after = ns_snap(
            "child",
            8,
            &[("net", 1, Some(true)), ("uts", 3, Some(false))],
        );
        let d = after.diff(&before);
        assert!(d.starts_with("   ns of child, pid 8:\n"), "{d}");
        assert_eq!(d.lines().count(), 3, "{d}");
        let uts = d.lines().nth(2).unwrap();
        let words: Vec<&str> = uts.split_whitespace().collect();
        assert_eq!(
            words,
            ["~", "uts", "2", "→", "3", "8", "yes", "→", "no"],
            "{d}"
        );
        assert_eq!(after.diff(&after), "   ns of child, pid 8: (no change)\n");
    }

    #[test]
    fn diff_against_another_process_says_whose() {
        let child = ns_snap("new child", 8, &[("uts", 3, Some(false))]);
        let parent = ns_snap("parent", 7, &[("uts", 2, Some(true))]);
        let d = parent.diff(&child);
        assert!(
            d.starts_with("   ns of parent, pid 7 (compared with new child):\n"),
            "{d}"
        );
    }

    #[test]
    fn diff_against_an_unreadable_view_prints_it_whole() {
        let after = ns_snap("child", 1, &[("net", 1, Some(true))]);
        let before = Snapshot {
            whose: "child".into(),
            pid: None,
            parts: vec![(View::Ns, Err("(no /proc here yet)".into()))],
        };
        assert_eq!(after.diff(&before), after.render());
        assert_eq!(before.diff(&after), "   ns of child: (no /proc here yet)\n");
        assert_eq!(before.diff(&before), "   ns of child: (no change)\n");
    }
}
