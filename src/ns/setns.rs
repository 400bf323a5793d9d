//! Chapter 03: joining the namespaces of a running process — what
//! `docker exec` does.
//!
//! Every namespace a process is in shows up as a file in /proc/PID/ns/.
//! Opening one gives a handle on the namespace itself; `setns(fd, type)`
//! moves the calling process into it. Three rules shape the order:
//! - the user namespace goes first: it grants the capabilities that the
//!   other joins are checked against;
//! - all files are opened *before* joining the mount namespace, since after
//!   it /proc/PID may mean something else (or nothing);
//! - joining a pid namespace changes only where our *children* go
//!   (pid_for_children): we must fork for the command to be inside it.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::unistd::Pid;

use super::idmap;
use crate::probe::ns::{self as probe_ns, inodes, Inodes};
use crate::rootfs::exec;
use crate::sys::{self, Child, Fork};

/// The namespace kinds, in the order they are joined, and what joining
/// each one changes.
pub const JOIN_ORDER: [(&str, CloneFlags, &str); 7] = [
    ("user", CloneFlags::CLONE_NEWUSER, "join the target's user namespace first: it grants the capabilities the other joins are checked against"),
    ("ipc", CloneFlags::CLONE_NEWIPC, "join the target's ipc namespace: its SysV IPC objects and message queues"),
    ("uts", CloneFlags::CLONE_NEWUTS, "join the target's uts namespace: its hostname"),
    ("net", CloneFlags::CLONE_NEWNET, "join the target's network namespace: its devices, addresses and ports"),
    ("pid", CloneFlags::CLONE_NEWPID, "join the target's pid namespace: this sets pid_for_children; we ourselves keep our pid"),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP, "join the target's cgroup namespace: its view of /proc/self/cgroup"),
    ("mnt", CloneFlags::CLONE_NEWNS, "join the target's mount namespace last: after it, /proc/PID paths may no longer lead to the target"),
];

/// One namespace of the target that we are not in yet.
pub struct NsHandle {
    pub kind: &'static str,
    pub nstype: CloneFlags,
    why: &'static str,
    pub path: PathBuf,
    fd: OwnedFd,
}

/// A running process whose namespaces we are about to join.
pub struct Target {
    pub pid: Pid,
    pub joins: Vec<NsHandle>,
    /// The target's namespace inodes, read before joining.
    pub inodes: Inodes,
    root: OwnedFd,
}

/// Open the target's namespace files and its root directory, keeping only
/// the namespaces we do not already share (rejoining our own user
/// namespace is an error, and the others would be no-ops).
pub fn open_target(pid: Pid) -> anyhow::Result<Target> {
    if !crate::probe::procs::exists(pid.as_raw()) {
        anyhow::bail!("no process with pid {pid}: is the container still running? (start one with `ch03-setns run -- sleep 1000`)");
    }
    let theirs = inodes(&probe_ns::ns_dir(pid.as_raw()))?;
    let ours = inodes(Path::new("/proc/self/ns"))?;
    let mut joins = Vec::new();
    for (kind, nstype, why) in JOIN_ORDER {
        if theirs.get(kind) != ours.get(kind) {
            let path = probe_ns::ns_path(pid.as_raw(), kind);
            let fd = sys::open(
                &path,
                "a handle on the target's namespace, for setns; opened while /proc is still the host's",
            )?;
            joins.push(NsHandle {
                kind,
                nstype,
                why,
                fd,
                path,
            });
        }
    }
    let root = sys::open(
        &probe_ns::root_path(pid.as_raw()),
        "a handle on the target's root directory, to fchdir into once we are in its mount namespace",
    )?;
    Ok(Target {
        pid,
        joins,
        inodes: theirs,
        root,
    })
}

/// Join every namespace of the target, in order, then take its root.
pub fn join(target: &Target) -> anyhow::Result<()> {
    for ns in &target.joins {
        sys::setns(&ns.fd, &ns.path.display().to_string(), ns.nstype, ns.why)?;
        if ns.nstype == CloneFlags::CLONE_NEWUSER {
            idmap::become_root()?;
        }
    }
    let shown = format!("/proc/{}/root", target.pid);
    sys::fchdir(
        &target.root,
        &shown,
        "step into the target's root directory, opened before we changed mount namespace",
    )?;
    sys::chroot(
        std::path::Path::new("."),
        "make the target's root our root, as its own processes see it",
    )?;
    Ok(())
}

/// After joining (in the forked child): our namespace inodes next to the
/// target's, one line each — equal inodes mean the same namespace.
pub fn compare_with_target(target: &Target) -> anyhow::Result<String> {
    let ours = inodes(Path::new("/proc/self/ns"))?;
    let mut out = String::from("TYPE     TARGET        OURS          SAME\n");
    for (kind, _, _) in JOIN_ORDER {
        let (t, o) = (target.inodes.get(kind), ours.get(kind));
        let show = |v: Option<&u64>| v.map(u64::to_string).unwrap_or_else(|| "-".into());
        let same = if t == o { "yes" } else { "NO" };
        out.push_str(&format!(
            "{kind:<8} {:<13} {:<13} {same}\n",
            show(t),
            show(o)
        ));
    }
    Ok(out)
}

/// After [`join`]: run `cmd` inside, and wait for it. Joining a pid
/// namespace changed only where our children are born, so we fork; the
/// child shows its namespaces beside the target's, then becomes `cmd`.
pub fn run_forked(target: &Target, cmd: &[String]) -> anyhow::Result<i32> {
    // ANCHOR: fork
    let mut child: Child = match sys::clone(
        CloneFlags::empty(),
        "fork: only a child of ours is born inside the target's pid namespace",
    )? {
        Fork::Child => {
            let compared = compare_with_target(target);
            if let Ok(table) = &compared {
                sys::journal::emit(table);
            }
            let err = compared
                .err()
                .unwrap_or_else(|| exec::exec(cmd, &exec::default_env(None)));
            sys::child_exit(Err(err))
        }
        Fork::Parent(child) => child,
    };
    // ANCHOR_END: fork
    child.release();
    let why = "wait for the command we ran inside the container";
    Ok(sys::wait(child.pid, why)?.exit_code())
}
