//! Which namespaces a process is in, read from /proc/PID/ns/.
//!
//! Every process is in exactly one namespace of each type. The kernel shows
//! them as magic symbolic links in /proc/PID/ns/: `readlink` on
//! /proc/PID/ns/net gives `net:[4026531840]`, where the number is the inode
//! of the namespace in the kernel's internal `nsfs` filesystem. Two processes
//! are in the same namespace exactly when those inodes are equal — this is
//! how `lsns` and this module tell "shared with the host" from "new".
//!
//! `pid_for_children` and `time_for_children` name the namespace the
//! process's *next children* will be born in: after `unshare(CLONE_NEWPID)`
//! the caller stays in its pid namespace but its children go to the new one.
//!
//! We only `readlink` these links; we never open them (an open ns file
//! would keep the namespace alive), so probing changes nothing.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Serialize;

use super::table::{Row, Table};

/// The namespace types Linux has, as named in /proc/PID/ns/ (a kernel
/// without one of them, e.g. `time` before 5.6, simply has no such link).
pub const TYPES: [&str; 10] = [
    "cgroup",
    "ipc",
    "mnt",
    "net",
    "pid",
    "pid_for_children",
    "time",
    "time_for_children",
    "user",
    "uts",
];

/// One namespace of a process, like a row of `lsns`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NsRow {
    /// `mnt`, `net`, … as named in /proc/PID/ns/.
    #[serde(rename = "type")]
    pub kind: String,
    /// The namespace's inode number: its identity.
    pub inode: u64,
    /// The process we looked at (as the /proc we read numbers it).
    pub pid: i32,
    /// Same inode as the host's (pid 1's, see [`host`]); `None` when the
    /// host's view could not be read.
    pub shared_with_host: Option<bool>,
}

/// Namespace type → inode, as read from one ns directory.
pub type Inodes = BTreeMap<String, u64>;

/// The directory of `pid`'s namespace files: `/proc/PID/ns`.
pub fn ns_dir(pid: i32) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/ns"))
}

/// `pid`'s file for the namespace `kind`: `/proc/PID/ns/KIND`.
pub fn ns_path(pid: i32, kind: &str) -> PathBuf {
    ns_dir(pid).join(kind)
}

/// `pid`'s root directory as the kernel shows it: `/proc/PID/root`.
pub fn root_path(pid: i32) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/root"))
}

/// The namespaces of `pid`, compared with the host's.
pub fn rows(pid: i32) -> io::Result<Vec<NsRow>> {
    let mine = inodes(&ns_dir(pid))?;
    Ok(compare(pid, &mine, host()))
}

/// Read every ns link in `dir` (a /proc/PID/ns directory). A missing
/// directory means the process does not exist (NotFound); a type this kernel
/// lacks is left out.
pub fn inodes(dir: &Path) -> io::Result<Inodes> {
    let mut out = Inodes::new();
    for kind in TYPES {
        match std::fs::read_link(dir.join(kind)) {
            Ok(target) => {
                let text = target.to_string_lossy();
                let inode = parse_link(kind, &text).ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "{}/{kind} points to {text:?}, not {kind}:[INODE]",
                            dir.display()
                        ),
                    )
                })?;
                out.insert(kind.to_string(), inode);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && dir.is_dir() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// `net:[4026531840]` → 4026531840.
pub fn parse_link(kind: &str, text: &str) -> Option<u64> {
    // pid_for_children links to a `pid:[…]` namespace, time_for_children to `time:[…]`.
    let base = kind.trim_end_matches("_for_children");
    text.strip_prefix(base)?
        .strip_prefix(":[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Rows for `pid`'s inodes, each marked shared or not with `host`.
pub fn compare(pid: i32, mine: &Inodes, host: Option<&Inodes>) -> Vec<NsRow> {
    mine.iter()
        .map(|(kind, &inode)| NsRow {
            kind: kind.clone(),
            inode,
            pid,
            shared_with_host: host.and_then(|h| h.get(kind)).map(|&h| h == inode),
        })
        .collect()
}

/// The host's namespaces: those of pid 1, read once and kept. Keeping them
/// matters: a child that made a new pid namespace and mounted its own /proc
/// would find *itself* as pid 1 there, so the reference is taken while
/// /proc still shows the host (a clone()d child inherits the copy read
/// before the clone). `None` when it cannot be read (not root, no /proc).
pub fn host() -> Option<&'static Inodes> {
    static HOST: OnceLock<Inodes> = OnceLock::new();
    if let Some(h) = HOST.get() {
        return Some(h);
    }
    let read = read_host().ok()?;
    Some(HOST.get_or_init(|| read))
}

/// Pid 1's namespaces, or kthreadd's when pid 1 will not let us look.
///
/// Reading another process's ns links needs ptrace-read access to it; the
/// init of a VM sandbox may deny even root that. Kernel threads always run
/// in the initial namespaces, so kthreadd (pid 2, a kernel thread in the
/// initial pid namespace) answers the same question. In a child pid
/// namespace pid 2 is an ordinary process and is not used.
fn read_host() -> io::Result<Inodes> {
    if super::proc_self() == Ok(1) {
        // We are pid 1 of the /proc we see: the init of a new pid namespace
        // that mounted its own /proc. The host is out of sight.
        return Err(io::Error::other("the host's pid 1 is not visible here"));
    }
    match inodes(Path::new("/proc/1/ns")) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied && is_kernel_thread(2) => {
            inodes(Path::new("/proc/2/ns"))
        }
        other => other,
    }
}

/// PF_KTHREAD in the flags of /proc/PID/stat: the kernel's own thread.
fn is_kernel_thread(pid: i32) -> bool {
    const PF_KTHREAD: u32 = 0x0020_0000;
    procfs::process::Process::new(pid)
        .and_then(|p| p.stat())
        .is_ok_and(|s| s.flags & PF_KTHREAD != 0)
}

/// TYPE, NS, PID, SHARED-WITH-HOST — the columns of `lsns`, plus the answer
/// to the question containers are about.
pub fn table(rows: &[NsRow]) -> Table {
    Table {
        headers: vec!["TYPE", "NS", "PID", "SHARED-WITH-HOST"],
        rows: rows
            .iter()
            .map(|r| Row {
                keys: vec![r.kind.clone()],
                cells: vec![
                    r.kind.clone(),
                    r.inode.to_string(),
                    r.pid.to_string(),
                    match r.shared_with_host {
                        Some(true) => "yes".into(),
                        Some(false) => "no".into(),
                        None => "?".into(),
                    },
                ],
            })
            .collect(),
        // Looking at the child instead of the parent is not a change of namespace.
        volatile: vec![2],
        copied: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A fake /proc/PID/ns: ordinary symlinks whose targets read like nsfs links.
    fn fake_ns(links: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, target) in links {
            symlink(target, dir.path().join(name)).expect("symlink");
        }
        dir
    }

    #[test]
    fn parses_links() {
        assert_eq!(parse_link("net", "net:[4026531840]"), Some(4026531840));
        assert_eq!(
            parse_link("pid_for_children", "pid:[4026531836]"),
            Some(4026531836)
        );
        assert_eq!(parse_link("net", "uts:[4026531840]"), None);
        assert_eq!(parse_link("net", "net:[abc]"), None);
    }

    #[test]
    fn reads_dir_and_skips_missing_types() {
        let d = fake_ns(&[("net", "net:[10]"), ("uts", "uts:[11]")]);
        let got = inodes(d.path()).expect("read");
        assert_eq!(
            got.into_iter().collect::<Vec<_>>(),
            vec![("net".into(), 10), ("uts".into(), 11)]
        );
    }

    #[test]
    fn malformed_link_is_an_error() {
        let d = fake_ns(&[("net", "socket:[10]")]);
        let err = inodes(d.path()).expect_err("malformed");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("net:[INODE]"), "{err}");
    }

    #[test]
    fn missing_process_is_not_found() {
        let d = tempfile::tempdir().expect("tempdir");
        let err = inodes(&d.path().join("gone")).expect_err("gone");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn marks_shared_with_host() {
        let host = fake_ns(&[
            ("net", "net:[10]"),
            ("uts", "uts:[11]"),
            ("mnt", "mnt:[12]"),
        ]);
        let me = fake_ns(&[
            ("net", "net:[10]"),
            ("uts", "uts:[99]"),
            ("time", "time:[5]"),
        ]);
        let host = inodes(host.path()).unwrap();
        let rows = compare(42, &inodes(me.path()).unwrap(), Some(&host));
        let got: Vec<(&str, Option<bool>)> = rows
            .iter()
            .map(|r| (r.kind.as_str(), r.shared_with_host))
            .collect();
        assert_eq!(
            got,
            vec![("net", Some(true)), ("time", None), ("uts", Some(false))]
        );
        assert!(rows.iter().all(|r| r.pid == 42));
        let unknown = compare(42, &inodes(me.path()).unwrap(), None);
        assert!(unknown.iter().all(|r| r.shared_with_host.is_none()));
    }

    #[test]
    fn table_says_yes_no() {
        let rows = vec![
            NsRow {
                kind: "net".into(),
                inode: 10,
                pid: 3,
                shared_with_host: Some(true),
            },
            NsRow {
                kind: "uts".into(),
                inode: 11,
                pid: 3,
                shared_with_host: Some(false),
            },
        ];
        let text = table(&rows).render("");
        assert!(text.lines().nth(1).unwrap().ends_with("yes"), "{text}");
        assert!(text.lines().nth(2).unwrap().ends_with("no"), "{text}");
    }
}
