//! Reading cgroups from inside a container, where two things hide them.
//!
//! - A cgroup namespace: the kernel shows every cgroup path in
//!   /proc/PID/cgroup relative to the *reader's* cgroup namespace root. A
//!   child cloned with CLONE_NEWCGROUP and then moved into its container's
//!   cgroup reads `/../../wharf-1a2b3c4d/ch04-42`; after
//!   unshare(CLONE_NEWCGROUP) it reads `/`. A new cgroup namespace is rooted
//!   at the cgroup its creator was in at that moment, so we remember where
//!   we last were and, when our namespace changes, take that as its root.
//! - pivot_root: the new root has no /sys/fs/cgroup. The directory opened
//!   at the first look stays reachable through its descriptor, as
//!   /proc/self/fd/N (it is closed on execve, so the container's program
//!   never sees it).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use rustix::fs::{Mode, OFlags};

use super::cgroup::{Membership, SYSTEM_ROOT};

/// What this process knows of its cgroup namespace.
struct Reader {
    /// The inode of /proc/self/ns/cgroup when we last read.
    cgns: u64,
    /// Where the namespace's root is, per hierarchy, as host paths; `None`
    /// after joining another process's namespace (setns), whose root we
    /// cannot know.
    root: Option<Vec<(String, String)>>,
    /// Our own cgroups at the last read, as host paths.
    last: Vec<(String, String)>,
}

static READER: Mutex<Option<Reader>> = Mutex::new(None);

/// A hierarchy's key: its controllers, or "" for cgroup2.
fn key(m: &Membership) -> String {
    m.controllers.join(",")
}

/// `base` followed by `rel`, with `..` taken up a level: a host path.
pub fn host_path(base: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = base.split('/').filter(|s| !s.is_empty()).collect();
    for c in rel.split('/').filter(|s| !s.is_empty() && *s != ".") {
        if c == ".." {
            parts.pop();
        } else {
            parts.push(c);
        }
    }
    format!("/{}", parts.join("/"))
}

/// The memberships of a process as host paths, read by this process in
/// cgroup namespace `cgns`. `is_self`: the memberships are our own, so they
/// tell where a namespace we create next will be rooted. `Err` when our
/// namespace was joined with setns and its root is unknown.
pub fn to_host(
    members: Vec<Membership>,
    cgns: u64,
    is_self: bool,
) -> Result<Vec<Membership>, String> {
    let mut guard = READER.lock().unwrap_or_else(|e| e.into_inner());
    let reader = guard.get_or_insert_with(|| Reader {
        cgns,
        root: Some(Vec::new()),
        last: Vec::new(),
    });
    if reader.cgns != cgns {
        // A namespace we made (clone or unshare) is rooted where we were.
        let joined = reader.root.is_none();
        reader.root = (!joined).then(|| reader.last.clone());
        reader.cgns = cgns;
    }
    let Some(root) = &reader.root else {
        return Err("(in a cgroup namespace joined with setns: the paths the kernel shows are relative to its root, which is not visible from here)".into());
    };
    let base = |k: &str| {
        root.iter()
            .find(|(h, _)| h == k)
            .map_or("/", |(_, p)| p.as_str())
    };
    let host: Vec<Membership> = members
        .into_iter()
        .map(|m| Membership {
            path: host_path(base(&key(&m)), &m.path),
            ..m
        })
        .collect();
    if is_self {
        reader.last = host.iter().map(|m| (key(m), m.path.clone())).collect();
    }
    Ok(host)
}

/// After setns into a cgroup namespace: its root is another process's
/// business, so the next read says so instead of guessing.
pub fn joined_other() {
    let mut guard = READER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = guard.as_mut() {
        r.root = None;
        r.cgns = 0;
    }
}

/// /sys/fs/cgroup as this process can reach it: the path itself, or once
/// pivot_root has hidden it, the descriptor opened at the first call.
pub fn reachable_root() -> PathBuf {
    static PINNED: OnceLock<Option<OwnedFd>> = OnceLock::new();
    let here = PathBuf::from(SYSTEM_ROOT);
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let pinned = PINNED.get_or_init(|| rustix::fs::open(&here, flags, Mode::empty()).ok());
    let same = |fd: &OwnedFd| {
        let (a, b) = (rustix::fs::fstat(fd), rustix::fs::stat(&here));
        matches!((a, b), (Ok(a), Ok(b)) if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino))
    };
    match pinned {
        Some(fd) if !same(fd) => PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())),
        _ => here,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_relative_to_a_namespace_become_host_paths() {
        assert_eq!(
            host_path("/user.slice/s1", "/../../wharf-1/ch04-9"),
            "/wharf-1/ch04-9"
        );
        assert_eq!(host_path("/wharf-1/ch04-9", "/"), "/wharf-1/ch04-9");
        assert_eq!(host_path("/", "/a/./b"), "/a/b");
        assert_eq!(host_path("/", "/.."), "/");
    }
}
