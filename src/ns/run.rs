//! Running a command in new namespaces: the sequence chapter 02 teaches,
//! with hooks where later chapters add their one idea (a cgroup in the
//! parent, an overlay or volumes in the child before pivot_root).

use std::path::{Path, PathBuf};

use anyhow::Context;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::{idmap, Namespaces};
use crate::rootfs::{chroot, exec, pivot};
use crate::sys::{self, ExitReport, Fork};

/// What to run, and in which namespaces.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub ns: Namespaces,
    pub hostname: Option<String>,
    pub rootfs: PathBuf,
    pub cmd: Vec<String>,
}

/// Where a later chapter plugs in its idea.
pub trait Hooks {
    /// In the parent, after clone and before the child may go on: the
    /// place to put the child into a cgroup.
    fn in_parent(&mut self, _child: Pid) -> anyhow::Result<()> {
        Ok(())
    }

    /// In the child, inside its new private mount namespace, before
    /// pivot_root: assemble the root (overlay, volumes) and return the
    /// directory to pivot into.
    fn build_root(&mut self, rootfs: &Path) -> anyhow::Result<PathBuf> {
        Ok(rootfs.to_path_buf())
    }
}

/// No extra steps: chapter 02 as it is.
pub struct NoHooks;
impl Hooks for NoHooks {}

/// Refuse a rootfs that is not there before any namespace is made.
pub fn check_rootfs(rootfs: &Path) -> anyhow::Result<()> {
    if !rootfs.is_dir() {
        anyhow::bail!(
            "rootfs {} does not exist: create one with `wharf rootfs create {}` or leave out --rootfs for the built-in one",
            rootfs.display(),
            rootfs.display()
        );
    }
    Ok(())
}

/// Clone into new namespaces, set the child up, run `spec.cmd` as its
/// program, and wait for it.
pub fn run(spec: &RunSpec, hooks: &mut dyn Hooks) -> anyhow::Result<ExitReport> {
    spec.ns.check(spec.hostname.as_deref())?;
    check_rootfs(&spec.rootfs)?;
    // Where the host's root is, for the escape demo to compare with.
    let host_root = match spec.ns.escape_demo {
        true => Some(chroot::root_id()?),
        false => None,
    };
    let flags = spec.ns.clone_flags();
    let mut child = match sys::clone(
        flags,
        "start the child in fresh namespaces; it waits until we have set up its side",
    )? {
        Fork::Child => child_main(spec, hooks, host_root),
        Fork::Parent(c) => c,
    };
    if let Err(e) = parent_setup(spec, hooks, child.pid) {
        abandon(child.pid);
        return Err(e);
    }
    child.release();
    Ok(sys::wait(
        child.pid,
        "wait for the container's command to end and collect its status",
    )?)
}

/// The parent's part: uid/gid maps for a user namespace, then the hook.
fn parent_setup(spec: &RunSpec, hooks: &mut dyn Hooks, pid: Pid) -> anyhow::Result<()> {
    if spec.ns.effective().user {
        idmap::write_maps(pid)?;
    }
    hooks.in_parent(pid)
}

/// Kill and reap a child we could not finish setting up.
pub fn abandon(pid: Pid) {
    let _ = sys::kill(pid, Signal::SIGKILL, "setup failed: stop the waiting child");
    let _ = sys::wait(pid, "reap it so no zombie is left");
}

/// The child's part; it never returns: it becomes the command or exits.
fn child_main(spec: &RunSpec, hooks: &mut dyn Hooks, host_root: Option<(u64, u64)>) -> ! {
    if let Err(e) = enter(spec, hooks) {
        sys::child_exit(Err(e))
    }
    if let Some(host_root) = host_root {
        // Chapter 01's escape, tried again from inside the new root.
        match chroot::escape_attempt(host_root) {
            Ok(report) => {
                print!("{report}");
                let _ = std::io::Write::flush(&mut std::io::stdout());
            }
            Err(e) => sys::child_exit(Err(e)),
        }
        if spec.cmd.is_empty() {
            sys::child_exit(Ok(0))
        }
    }
    let err = exec::exec(&spec.cmd, &exec::default_env(spec.hostname.as_deref()));
    sys::child_exit(Err(err))
}

/// Private mounts, hostname, the root, /proc: the child's setup in order.
fn enter(spec: &RunSpec, hooks: &mut dyn Hooks) -> anyhow::Result<()> {
    let ns = spec.ns.effective();
    if ns.user {
        idmap::become_root()?;
    }
    if ns.mount {
        pivot::make_private()?;
    }
    if let Some(h) = &spec.hostname {
        sys::sethostname(
            h,
            "the UTS namespace gives the container a hostname of its own",
        )?;
    }
    let root = hooks
        .build_root(&spec.rootfs)
        .context("building the container's root")?;
    if ns.pid {
        pivot::mount_proc(&root)?;
    }
    if ns.mount {
        pivot::pivot_into(&root)?;
    } else {
        chroot::fall_back(&root)?;
    }
    Ok(())
}
