//! Chapter 04's additions to chapter 02's sequence, as [`Hooks`] that wrap
//! those of a later chapter: the child goes into the cgroup before it may
//! go on, and gets a cgroup namespace rooted at that cgroup. And to chapter
//! 03's exec: a process entering a container joins its cgroups first.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sched::CloneFlags;
use nix::unistd::Pid;

use super::Cgroup;
use crate::ns::run::Hooks;
use crate::ns::setns;
use crate::sys;

/// Place the child in `cgroup`, then do what `inner` does.
pub struct Placement<'a> {
    cgroup: &'a Cgroup,
    cgroupns: bool,
    inner: &'a mut dyn Hooks,
    placed: Option<Instant>,
}

impl<'a> Placement<'a> {
    /// `cgroupns`: whether the container has its own cgroup namespace.
    pub fn new(cgroup: &'a Cgroup, cgroupns: bool, inner: &'a mut dyn Hooks) -> Placement<'a> {
        Placement {
            cgroup,
            cgroupns,
            inner,
            placed: None,
        }
    }

    /// Wall time since the child entered the cgroup.
    pub fn elapsed(&self) -> Duration {
        self.placed.map(|t| t.elapsed()).unwrap_or_default()
    }
}

impl Hooks for Placement<'_> {
    /// In the parent, while the child still waits: move it into the cgroup,
    /// so everything it runs from then on is born inside.
    fn in_parent(&mut self, child: Pid) -> anyhow::Result<()> {
        self.cgroup.place(child)?;
        self.placed = Some(Instant::now());
        self.inner.in_parent(child)
    }

    /// In the child, now inside its cgroup: a cgroup namespace is rooted
    /// at the cgroup its creator was in. The one made by clone was rooted
    /// at the host's; a fresh one here is rooted at the container's own
    /// cgroup, so /proc/self/cgroup shows `/` as runc's containers do.
    fn build_root(&mut self, rootfs: &Path) -> anyhow::Result<PathBuf> {
        if self.cgroupns {
            sys::unshare(
                CloneFlags::CLONE_NEWCGROUP,
                "root the cgroup namespace at the container's own cgroup: inside, it is `/`",
            )?;
        }
        self.inner.build_root(rootfs)
    }
}

/// Move this process into the cgroups of the running process `target`
/// (every hierarchy with a controller of ours), as `docker exec` does: what
/// we run inside the container then counts against its limits. Done
/// before joining its namespaces, while the paths are the host's.
pub fn join_cgroups_of(target: Pid) -> anyhow::Result<()> {
    let dirs = crate::probe::cgroup::dirs_of(target.as_raw())
        .map_err(|e| anyhow::anyhow!("cannot read the cgroups of pid {target}: {e}"))?;
    let me = std::process::id().to_string();
    for dir in dirs {
        sys::write(
            &dir.join("cgroup.procs"),
            &me,
            "join the container's cgroup: from now on its limits count what we run inside",
        )?;
    }
    Ok(())
}

/// `exec PID -- CMD`: enter a running container, as `docker exec` does.
/// Chapter 04 adds it, and every chapter after it keeps it.
#[derive(Debug, Clone)]
pub struct Exec {
    /// The running container's process, as numbered in our pid namespace.
    pub pid: i32,
    /// What to run inside it.
    pub cmd: Vec<String>,
}

impl Exec {
    /// Run it. `new_container_flags`: whether flags for starting a new
    /// container were given too; they cannot apply to a running one.
    pub fn run(&self, new_container_flags: bool) -> anyhow::Result<i32> {
        if new_container_flags {
            anyhow::bail!("exec enters a running container, with its namespaces and limits: give the flags for a new one without `exec`");
        }
        exec_into(Pid::from_raw(self.pid), &self.cmd)
    }
}

/// Chapter 03's exec, with the container's cgroups joined first: while our
/// view is still the host's, and before the fork, so the child is born in
/// them.
pub fn exec_into(pid: Pid, cmd: &[String]) -> anyhow::Result<i32> {
    // ANCHOR: exec
    let target = setns::open_target(pid)?;
    join_cgroups_of(pid)?;
    setns::join(&target)?;
    setns::run_forked(&target, cmd)
    // ANCHOR_END: exec
}
