//! The container's init, from clone to execve: the steps of chapters 02 to
//! 07, in the order the kernel needs them, driven by the plan. It never
//! returns: it becomes the command, or reports its failure to the parent
//! and exits. It never prints a lesson or exits through a face.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use anyhow::Context;
use nix::mount::MsFlags;
use nix::sched::CloneFlags;

use super::create::Detach;
use super::plan::Plan;
use super::reaper;
use crate::ns::idmap;
use crate::ns::run::Hooks;
use crate::rootfs::{exec, pivot};
use crate::security::{caps, dev, nnp, paths, rlimits, seccomp};
use crate::sys;

pub fn main(
    plan: &Plan,
    hooks: &mut dyn Hooks,
    mut report: UnixStream,
    fifo: OwnedFd,
    joins: &[(CloneFlags, OwnedFd, String)],
    detach: Detach,
) -> ! {
    let program = match setup(plan, hooks, joins, detach) {
        Ok(p) => p,
        Err(e) => fail(&mut report, &e),
    };
    // Once `ok` is sent `create` returns; `start` lets us go.
    let ready = move || {
        let _ = report.write_all(b"ok\n");
    };
    if let Err(e) = sys::fifo::wait_for_start(
        &fifo,
        ready,
        "wait here, before execve, until `start` opens the exec FIFO",
    ) {
        eprintln!("container init: {e}");
        exit(1);
    }
    drop(fifo);
    if let Err(e) = exec::clean_slate() {
        eprintln!("container init: {e}");
        exit(1);
    }
    if plan.reaper {
        reaper::run(|| {
            become_command(
                plan,
                &program,
                "replace the init's child with the container's command; the init stays PID 1",
            )
        })
    }
    become_command(
        plan,
        &program,
        "replace the init with the container's command; its pid, namespaces and root stay",
    )
}

/// execve the command: with `--init` in the reaper's child, else in the
/// init itself, which then is the command, PID 1 and all.
fn become_command(plan: &Plan, program: &Path, why: &str) -> ! {
    let err = sys::execve(program, &plan.process.args, &plan.process.env, why);
    eprintln!("container init: {}: {err}", plan.process.args[0]);
    exit(if err.errno == nix::errno::Errno::ENOENT {
        127
    } else {
        126
    })
}

fn fail(report: &mut UnixStream, e: &anyhow::Error) -> ! {
    let line = format!("{e:#}").replace('\n', " ");
    let _ = writeln!(report, "{line}");
    exit(1)
}

/// `_exit`: leave without running the parent's exit handlers or flushing
/// its buffers a second time (this process is a copy of it).
pub(super) fn exit(code: i32) -> ! {
    // SAFETY: _exit ends the process at once; nothing is left to run.
    unsafe { libc::_exit(code) }
}

/// Everything up to the FIFO; returns the program to execve.
fn setup(
    plan: &Plan,
    hooks: &mut dyn Hooks,
    joins: &[(CloneFlags, OwnedFd, String)],
    detach: Detach,
) -> anyhow::Result<PathBuf> {
    if detach == Detach::Yes {
        sys::clear_pdeathsig(
            "this container outlives `create`: start, kill and delete find it by its state",
        )?;
    }
    join_namespaces(joins)?;
    if plan.new_ns.contains(CloneFlags::CLONE_NEWUSER) {
        idmap::become_root()?;
    }
    if plan.new_cgroupns {
        sys::unshare(CloneFlags::CLONE_NEWCGROUP, "root the cgroup namespace at the container's own cgroup, now that we are in it: inside, it is `/`")?;
    }
    pivot::make_private()?;
    if let Some(h) = &plan.hostname {
        sys::sethostname(
            h,
            "the UTS namespace gives the container a hostname of its own",
        )?;
    }
    let root = hooks
        .build_root(&plan.root)
        .context("building the container's root")?;
    for m in &plan.mounts {
        m.mount_in(&root)
            .with_context(|| format!("mounting {}", m.dest.display()))?;
    }
    if plan.mounts.iter().any(|m| m.dest == Path::new("/dev")) {
        let user = CloneFlags::CLONE_NEWUSER;
        let in_userns =
            plan.new_ns.contains(user) || plan.join.iter().any(|(f, _)| f.contains(user));
        dev::populate(&root, &plan.devices, in_userns)?;
    }
    pivot::pivot_into(&root)?;
    paths::mask(Path::new("/"), &plan.masked)?;
    paths::readonly(Path::new("/"), &plan.readonly)?;
    if plan.readonly_root {
        readonly_root()?;
    }
    harden(plan)?;
    enter_cwd(&plan.process.cwd)?;
    find_program(plan)
}

/// Chapter 08: what stops root in the container. The bounding set shrinks
/// while we are still root; PR_SET_KEEPCAPS carries the permitted set
/// across the uid change; the other sets are set after it; no_new_privs
/// and seccomp come last, the filter once nothing more needs a denied call
/// (first, when the spec turns no_new_privs off: see below).
// ANCHOR: harden
fn harden(plan: &Plan) -> anyhow::Result<()> {
    let p = &plan.process;
    // Without no_new_privs, attaching a filter needs CAP_SYS_ADMIN: attach
    // it first, while we still hold it (runc does the same); it then also
    // filters the calls below, which the profile allows.
    let filter_first = !p.no_new_privs;
    if let (true, Some(filter)) = (filter_first, &plan.seccomp) {
        seccomp::install(filter)?;
    }
    if let Some(c) = &p.caps {
        caps::drop_bounding(c)?;
        sys::set_keepcaps(
            true,
            "keep the permitted capabilities across the change of uid below",
        )?;
    }
    become_user(plan)?;
    if let Some(c) = &p.caps {
        caps::set_sets(c)?;
    }
    rlimits::apply(&p.rlimits)?;
    if p.no_new_privs {
        nnp::no_new_privs()?;
    }
    if let (false, Some(filter)) = (filter_first, &plan.seccomp) {
        seccomp::install(filter)?;
    }
    Ok(())
}
// ANCHOR_END: harden

/// The user namespace first: joining it changes what we may do in the rest.
fn join_namespaces(joins: &[(CloneFlags, OwnedFd, String)]) -> anyhow::Result<()> {
    let (user, rest): (Vec<_>, Vec<_>) = joins
        .iter()
        .partition(|(f, ..)| *f == CloneFlags::CLONE_NEWUSER);
    for (flag, fd, shown) in user.into_iter().chain(rest) {
        sys::setns(
            fd,
            shown,
            *flag,
            "join the namespace the spec names by path instead of making a new one",
        )?;
    }
    Ok(())
}

/// root.readonly: the root mount itself becomes read-only.
fn readonly_root() -> anyhow::Result<()> {
    sys::mount(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY,
        None,
        "root.readonly: the container may not write to its root filesystem",
    )?;
    Ok(())
}

/// Groups before the gid, the gid before the uid: once the uid is not 0,
/// the kernel would refuse to change the others.
fn become_user(plan: &Plan) -> anyhow::Result<()> {
    let p = &plan.process;
    sys::setgroups(
        &p.groups,
        "the supplementary groups of process.user.additionalGids, and none of the host's",
    )?;
    sys::setresgid(p.gid, "act as the spec's group")?;
    sys::setresuid(p.uid, "act as the spec's user")?;
    Ok(())
}

fn enter_cwd(cwd: &Path) -> anyhow::Result<()> {
    if !cwd.is_dir() {
        anyhow::bail!(
            "process.cwd {} is not a directory in the container",
            cwd.display()
        );
    }
    sys::chdir(cwd, "start the command in process.cwd, inside the new root")?;
    Ok(())
}

/// Find the program now, so a missing one fails `create` with a clear line
/// instead of failing after `start`, when nobody is there to see it.
fn find_program(plan: &Plan) -> anyhow::Result<PathBuf> {
    exec::resolve(&plan.process.args[0]).map_err(|e| anyhow::anyhow!("{}", e.1))
}
