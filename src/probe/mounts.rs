//! The mounts a process sees, read from /proc/PID/mountinfo.
//!
//! Each mount namespace has its own mount table; /proc/PID/mountinfo is that
//! table as process PID sees it, one mount per line, parents before their
//! children:
//!
//! ```text
//! 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//! (1)(2) (3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11)
//! ```
//!
//! 1. mount ID, unique within the namespace (a new mount namespace gets
//!    *copies* of every mount, with new IDs);
//! 2. the parent mount's ID (the mount this one sits on);
//! 3. `major:minor` of the device holding the filesystem;
//! 4. which directory *of that filesystem* is mounted here — `/` for a whole
//!    filesystem, a subdirectory for a bind mount;
//! 5. the mount point, relative to the process's root (after `chroot` or
//!    `pivot_root` the paths change);
//! 6. per-mount options (`ro`, `nosuid`, … set by `mount -o remount,bind`);
//! 7. zero or more optional fields, the mount's *propagation*: `shared:N`
//!    (mount events spread to and from peer group N), `master:N` (events
//!    arrive from group N but do not go back), `propagate_from:N`,
//!    `unbindable`; none at all means `private`;
//! 8. a lone `-` ending the optional fields;
//! 9. the filesystem type; 10. the source (device, or anything for virtual
//!    filesystems); 11. the filesystem's own (super block) options, shared
//!    by every mount of it — overlay lists its layers here.
//!
//! Spaces, tabs, newlines and backslashes in paths are written as octal
//! escapes (`\040` is a space).

use std::collections::HashSet;
use std::io;
use std::path::Path;

use serde::Serialize;

use super::host::unescape;
use super::table::{Row, Table};

/// One line of mountinfo, as `findmnt` would show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountRow {
    pub id: u32,
    pub parent: u32,
    /// `major:minor` of the device.
    pub device: String,
    /// The directory of the filesystem that is mounted (`/` unless a bind mount).
    pub root: String,
    pub target: String,
    pub source: String,
    pub fstype: String,
    /// Per-mount options, in the kernel's order.
    pub options: String,
    /// The filesystem's own options, in the kernel's order.
    pub super_options: String,
    /// `private`, or the optional fields: `shared:1`, `master:3`, `unbindable`…
    pub propagation: String,
}

impl MountRow {
    /// SOURCE as findmnt prints it: a bind mount of a subdirectory shows
    /// which one, `/dev/sda1[/var/lib/x]`.
    pub fn source_shown(&self) -> String {
        if self.root == "/" {
            self.source.clone()
        } else {
            format!("{}[{}]", self.source, self.root)
        }
    }

    /// OPTIONS as findmnt prints them: the mount's options, then the
    /// filesystem's own that add something.
    pub fn options_shown(&self) -> String {
        let mut all: Vec<&str> = self.options.split(',').filter(|o| !o.is_empty()).collect();
        for o in self.super_options.split(',').filter(|o| !o.is_empty()) {
            if !all.contains(&o) {
                all.push(o);
            }
        }
        all.join(",")
    }
}

/// The mount table of `pid`'s mount namespace, as `pid` sees it.
pub fn rows(pid: i32) -> io::Result<Vec<MountRow>> {
    parse(&std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))?)
}

/// Parse the text of a mountinfo file; a malformed line is an error naming it.
pub fn parse(text: &str) -> io::Result<Vec<MountRow>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            parse_line(l).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("mountinfo line {}: cannot parse {l:?}", n + 1),
                )
            })
        })
        .collect()
}

/// One mountinfo line. Fields are separated by single spaces (a field may be
/// empty: some filesystems have no source).
fn parse_line(line: &str) -> Option<MountRow> {
    let fields: Vec<&str> = line.split(' ').collect();
    let dash = fields.iter().position(|f| *f == "-")?;
    if dash < 6 || fields.len() < dash + 3 {
        return None;
    }
    let optional = &fields[6..dash];
    Some(MountRow {
        id: fields[0].parse().ok()?,
        parent: fields[1].parse().ok()?,
        device: fields[2].to_string(),
        root: text(fields[3]),
        target: text(fields[4]),
        source: text(fields[dash + 2]),
        fstype: text(fields[dash + 1]),
        options: fields[5].to_string(),
        // Super options never contain a space, but join defensively.
        super_options: fields[dash + 3..].join(" "),
        propagation: if optional.is_empty() {
            "private".into()
        } else {
            optional.join(" ")
        },
    })
}

/// A field with the kernel's octal escapes undone.
fn text(field: &str) -> String {
    unescape(Path::new(field)).to_string_lossy().into_owned()
}

/// One mount and the mounts on top of it, for the JSON tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountNode {
    #[serde(flatten)]
    pub mount: MountRow,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<MountNode>,
}

/// The mounts as a tree. A mount whose parent is not in the table (the root
/// of the namespace sits on a mount the process cannot see) starts a tree.
pub fn tree(rows: &[MountRow]) -> Vec<MountNode> {
    let ids: HashSet<u32> = rows.iter().map(|r| r.id).collect();
    let mut seen = HashSet::new();
    rows.iter()
        .filter(|r| r.parent == r.id || !ids.contains(&r.parent))
        .filter_map(|r| node(r, rows, &mut seen))
        .collect()
}

/// `r` with its children; `seen` guards against a table with a loop in it.
fn node(r: &MountRow, rows: &[MountRow], seen: &mut HashSet<u32>) -> Option<MountNode> {
    if !seen.insert(r.id) {
        return None;
    }
    let children = rows
        .iter()
        .filter(|c| c.parent == r.id && c.id != r.id)
        .filter_map(|c| node(c, rows, seen))
        .collect();
    Some(MountNode {
        mount: r.clone(),
        children,
    })
}

/// The columns of the mount table.
const HEADERS: [&str; 7] = [
    "ID",
    "PARENT",
    "TARGET",
    "SOURCE",
    "FSTYPE",
    "OPTIONS",
    "PROPAGATION",
];

/// The mounts with full paths in TARGET, in mountinfo's order. A diff pairs
/// rows by mount ID first — IDs are unique on the whole system, so the same
/// ID is the same mount, even when pivot_root moved it to another path —
/// and then by target (and how many mounts are stacked on it): a new mount
/// namespace copies every mount with a new ID, yet to the learner it is
/// the same mount.
pub fn table(rows: &[MountRow]) -> Table {
    let mut stacked: std::collections::HashMap<&str, usize> = Default::default();
    let rows = rows
        .iter()
        .map(|r| {
            let n = stacked.entry(r.target.as_str()).or_default();
            *n += 1;
            Row {
                keys: vec![r.id.to_string(), format!("{}#{n}", r.target)],
                cells: cells(r, r.target.clone()),
            }
        })
        .collect();
    Table {
        headers: HEADERS.to_vec(),
        rows,
        volatile: vec![],
        copied: vec![0, 1],
    }
}

/// The same rows drawn as a tree in TARGET, like `findmnt`.
pub fn tree_table(rows: &[MountRow]) -> Table {
    let mut out = Vec::new();
    for root in tree(rows) {
        draw(&root, "", None, &mut out);
    }
    Table {
        headers: HEADERS.to_vec(),
        rows: out,
        volatile: vec![],
        copied: vec![0, 1],
    }
}

/// Append `n` and its subtree; `last` is None for a tree's root, otherwise
/// whether `n` is its parent's last child.
fn draw(n: &MountNode, prefix: &str, last: Option<bool>, out: &mut Vec<Row>) {
    let (branch, below) = match last {
        None => ("", String::new()),
        Some(false) => ("├─", format!("{prefix}│ ")),
        Some(true) => ("└─", format!("{prefix}  ")),
    };
    out.push(Row {
        keys: vec![n.mount.id.to_string()],
        cells: cells(&n.mount, format!("{prefix}{branch}{}", n.mount.target)),
    });
    let count = n.children.len();
    for (i, c) in n.children.iter().enumerate() {
        draw(c, &below, Some(i + 1 == count), out);
    }
}

fn cells(r: &MountRow, target: String) -> Vec<String> {
    vec![
        r.id.to_string(),
        r.parent.to_string(),
        target,
        r.source_shown(),
        r.fstype.clone(),
        r.options_shown(),
        r.propagation.clone(),
    ]
}

/// Whether `path` is the root of a mount, bind mounts included: statx(2)
/// reports it as STATX_ATTR_MOUNT_ROOT (Linux 5.8 and later).
pub fn is_mount_root(path: &Path) -> io::Result<bool> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())?;
    let mut stx = std::mem::MaybeUninit::<libc::statx>::zeroed();
    // SAFETY: a NUL-terminated path and a buffer of the size statx writes.
    let r = unsafe {
        libc::statx(
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
            libc::STATX_BASIC_STATS,
            stx.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statx succeeded and filled the buffer.
    let stx = unsafe { stx.assume_init() };
    let bit = libc::STATX_ATTR_MOUNT_ROOT as u64;
    Ok(stx.stx_attributes_mask & bit != 0 && stx.stx_attributes & bit != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KERNEL_DOC: &str =
        "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n";

    #[test]
    fn parses_the_kernel_documentation_example() {
        let rows = parse(KERNEL_DOC).expect("parse");
        assert_eq!(
            rows,
            vec![MountRow {
                id: 36,
                parent: 35,
                device: "98:0".into(),
                root: "/mnt1".into(),
                target: "/mnt2".into(),
                source: "/dev/root".into(),
                fstype: "ext3".into(),
                options: "rw,noatime".into(),
                super_options: "rw,errors=continue".into(),
                propagation: "master:1".into(),
            }]
        );
        assert_eq!(rows[0].source_shown(), "/dev/root[/mnt1]");
        assert_eq!(rows[0].options_shown(), "rw,noatime,errors=continue");
    }

    #[test]
    fn several_optional_fields_and_none() {
        let text = "1 0 0:1 / / rw shared:2 master:5 - tmpfs none rw\n\
                    2 1 0:2 / /a rw unbindable - tmpfs none rw\n\
                    3 1 0:3 / /b rw - tmpfs none rw\n";
        let p: Vec<String> = parse(text)
            .unwrap()
            .into_iter()
            .map(|r| r.propagation)
            .collect();
        assert_eq!(p, ["shared:2 master:5", "unbindable", "private"]);
    }

    #[test]
    fn empty_source_keeps_fields_aligned() {
        let rows = parse("5 1 0:9 / /x rw - tmpfs  rw,size=4k\n").unwrap();
        assert_eq!(
            (rows[0].source.as_str(), rows[0].super_options.as_str()),
            ("", "rw,size=4k")
        );
    }

    #[test]
    fn malformed_lines_are_named() {
        assert_eq!(parse("").unwrap(), vec![]);
        for bad in [
            "1 0 0:1 / / rw tmpfs none rw",
            "x 0 0:1 / / rw - tmpfs none rw",
            "1 0 - a b c",
        ] {
            let err = parse(&format!("1 0 0:1 / / rw - tmpfs none rw\n{bad}\n")).expect_err(bad);
            assert!(err.to_string().starts_with("mountinfo line 2:"), "{err}");
        }
    }

    #[test]
    fn tree_follows_parents_and_survives_loops() {
        let text = "10 1 0:1 / / rw - ext4 /dev/sda rw\n\
                    11 10 0:2 / /proc rw - proc proc rw\n\
                    12 10 0:3 / /dev rw - devtmpfs udev rw\n\
                    13 12 0:4 / /dev/pts rw - devpts devpts rw\n\
                    20 21 0:5 / /loop rw - tmpfs a rw\n\
                    21 20 0:6 / /loop rw - tmpfs b rw\n";
        let rows = parse(text).unwrap();
        let t = tree(&rows);
        assert_eq!(t.len(), 1, "the loop has no root outside itself");
        assert_eq!(t[0].children.len(), 2);
        assert_eq!(t[0].children[1].children[0].mount.target, "/dev/pts");
        let drawn: Vec<String> = tree_table(&rows)
            .rows
            .into_iter()
            .map(|r| r.cells[2].clone())
            .collect();
        assert_eq!(drawn, ["/", "├─/proc", "└─/dev", "  └─/dev/pts"]);
    }

    #[test]
    fn flat_keys_tell_stacked_mounts_apart() {
        let rows = parse("1 0 0:1 / /m rw - tmpfs a rw\n2 1 0:2 / /m rw - tmpfs b rw\n").unwrap();
        let keys: Vec<Vec<String>> = table(&rows).rows.into_iter().map(|r| r.keys).collect();
        assert_eq!(keys, [["1", "/m#1"], ["2", "/m#2"]]);
    }

    /// A fixture from tests/fixtures/mountinfo/.
    fn fixture(name: &str) -> Vec<MountRow> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/mountinfo")
            .join(name);
        parse(&std::fs::read_to_string(&path).expect("fixture")).expect("parse fixture")
    }

    #[test]
    fn systemd_host_is_shared_and_tree_is_rooted_at_slash() {
        let rows = fixture("systemd-host.txt");
        assert_eq!(rows.len(), 16);
        assert!(rows.iter().all(|r| r.propagation.starts_with("shared:")));
        let roots = tree(&rows);
        assert_eq!(roots.len(), 1);
        assert_eq!(roots[0].mount.target, "/");
        let drawn = tree_table(&rows);
        assert_eq!(drawn.rows.len(), rows.len(), "every mount drawn once");
        let cgroup = drawn
            .rows
            .iter()
            .find(|r| r.cells[2].ends_with("/sys/fs/cgroup"))
            .unwrap();
        assert_eq!(cgroup.cells[2], "│ └─/sys/fs/cgroup", "last child of /sys");
        let bind = rows.iter().find(|r| r.target == "/srv/data").unwrap();
        assert_eq!(
            bind.source_shown(),
            "/dev/sda1[/var/lib/wharf/volumes/data]"
        );
    }

    #[test]
    fn pivoted_container_root_has_an_invisible_parent() {
        let rows = fixture("container-pivoted.txt");
        let roots = tree(&rows);
        assert_eq!(roots.len(), 1);
        assert_eq!((roots[0].mount.id, roots[0].mount.parent), (612, 540));
        assert!(roots[0]
            .mount
            .super_options
            .contains("lowerdir=/var/lib/wharf/layers/2/diff:"));
        let props: Vec<&str> = rows.iter().map(|r| r.propagation.as_str()).collect();
        assert_eq!(
            props,
            ["master:1", "private", "private", "private", "unbindable"]
        );
    }

    #[test]
    fn octal_escapes_are_undone() {
        let rows = fixture("escapes.txt");
        assert_eq!(rows[1].target, "/mnt/My Files");
        assert_eq!(rows[1].root, "/home/ann/My Files");
        assert_eq!(rows[1].propagation, "master:4 propagate_from:1");
        assert_eq!(rows[2].target, "/mnt/tab\tand\\backslash");
        assert_eq!(rows[2].source, "my tmpfs");
        assert_eq!(rows[3].source, "");
    }

    #[test]
    fn diff_pairs_copies_by_place_and_moved_mounts_by_id() {
        let host = "10 1 0:1 / / rw shared:1 - ext4 /dev/sda rw\n\
                    11 10 0:2 / /proc rw shared:2 - proc proc rw\n";
        // clone(CLONE_NEWNS): the same mounts, copied with new IDs.
        let copy = host.replace("10 1 ", "40 39 ").replace("11 10 ", "41 40 ");
        let (host, copy) = (table(&parse(host).unwrap()), table(&parse(&copy).unwrap()));
        assert_eq!(copy.diff(&host, ""), None);
        // mount(NULL, "/", NULL, MS_REC|MS_PRIVATE): propagation changes.
        let private = "40 39 0:1 / / rw - ext4 /dev/sda rw\n\
                       41 40 0:2 / /proc rw - proc proc rw\n\
                       42 40 0:1 /srv/box /srv/box rw - ext4 /dev/sda rw\n";
        let private = table(&parse(private).unwrap());
        let d = private.diff(&copy, "").unwrap();
        assert_eq!(d.matches("shared:1 → private").count(), 1, "{d}");
        assert_eq!(d.lines().filter(|l| l.starts_with('+')).count(), 1, "{d}");
        // pivot_root + umount of the old root: 42 is now "/", the rest is gone.
        let pivoted = table(&parse("42 39 0:1 /srv/box / rw - ext4 /dev/sda rw\n").unwrap());
        let d = pivoted.diff(&private, "").unwrap();
        let marks: Vec<&str> = d.lines().skip(1).map(|l| &l[..1]).collect();
        assert_eq!(marks, ["-", "-", "~"], "{d}");
        assert!(d.contains("/srv/box → /"), "{d}");
    }

    #[test]
    fn a_mount_that_moves_shows_its_new_parent() {
        // pivot_root: the old root (46) now sits on the new root (75).
        let before =
            "75 44 0:1 /srv/box / rw - ext4 /dev/sda rw\n46 44 0:1 / / rw - ext4 /dev/sda rw\n";
        let after =
            "75 44 0:1 /srv/box / rw - ext4 /dev/sda rw\n46 75 0:1 / / rw - ext4 /dev/sda rw\n";
        let (before, after) = (
            table(&parse(before).unwrap()),
            table(&parse(after).unwrap()),
        );
        let d = after.diff(&before, "").unwrap();
        assert_eq!(d.lines().count(), 2, "{d}");
        assert!(
            d.lines().nth(1).unwrap().starts_with("~  46  44 → 75"),
            "{d}"
        );
    }
}
