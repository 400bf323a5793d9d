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
use super::options::InitIo;
use super::plan::{Plan, Process};
use super::{console, hooks, knobs, nopivot, reaper};
use crate::ns::idmap;
use crate::ns::run::Hooks;
use crate::rootfs::{chroot, exec, pivot};
use crate::security::{caps, dev, nnp, paths, rlimits, seccomp};
use crate::sys;

pub fn main(
    plan: &Plan,
    hooks: &mut dyn Hooks,
    mut report: UnixStream,
    fifo: OwnedFd,
    joins: &[(CloneFlags, OwnedFd, String)],
    detach: Detach,
    io: InitIo,
) -> ! {
    let keep_fds = io.keep_fds;
    let state = match hooks::in_container(plan.hooks.as_ref()) {
        true => match state_from_parent(&report) {
            Ok(st) => Some(st),
            Err(e) => fail(&mut report, &e),
        },
        false => None,
    };
    let program = match setup(plan, hooks, joins, detach, io, state.as_ref()) {
        Ok(p) => p,
        Err(e) => fail(&mut report, &e),
    };
    // Once `ok` is sent `create` returns; `start` lets us go.
    let ready = move || {
        let _ = report.write_all(b"ok\n");
    };
    let why = "wait here, before execve, until `start` opens the exec FIFO";
    let waited = match plan.has_mount_ns() {
        true => sys::fifo::wait_for_start(&fifo, ready, why),
        // `fifo` is the state directory (see create).
        false => sys::fifo::wait_for_start_at(&fifo, super::state::FIFO, ready, why),
    };
    if let Err(e) = waited {
        eprintln!("container init: {e}");
        exit(1);
    }
    drop(fifo);
    if let Some(st) = &state {
        let list = hooks::of(plan.hooks.as_ref(), "startContainer");
        if let Err(e) = hooks::run(list, "startContainer", st) {
            eprintln!("container init: {e:#}");
            exit(1);
        }
    }
    if let Err(e) = exec::clean_slate() {
        eprintln!("container init: {e}");
        exit(1);
    }
    if keep_fds > 0 {
        if let Err(e) = sys::keep_fds(
            3,
            keep_fds,
            "--preserve-fds / LISTEN_FDS: these descriptors of the caller are for the command",
        ) {
            eprintln!("container init: {e}");
            exit(1);
        }
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

/// The state the parent sends for the hooks the init runs (one line).
fn state_from_parent(report: &UnixStream) -> anyhow::Result<oci_spec::runtime::State> {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(report)
        .read_line(&mut line)
        .context("reading the state for the hooks")?;
    Ok(serde_json::from_str(&line)?)
}

fn fail(report: &mut UnixStream, e: &anyhow::Error) -> ! {
    let _ = writeln!(report, "{}", sys::report_line(e));
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
    io: InitIo,
    state: Option<&oci_spec::runtime::State>,
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
    if plan.has_mount_ns() {
        pivot::make_private()?;
    }
    if let Some(h) = &plan.hostname {
        sys::sethostname(
            h,
            "the UTS namespace gives the container a hostname of its own",
        )?;
    }
    if !plan.has_mount_ns() {
        create_container_hooks(plan, state)?;
        chroot::fall_back(&plan.root)?;
    } else {
        build_root(plan, hooks, io.no_pivot, state)?;
    }
    knobs::apply(plan)?;
    if let Some(sock) = io.console {
        console::attach(sock, plan.process.console_size)?;
    }
    if plan.has_mount_ns() {
        seal_root(plan)?;
    }
    harden(&plan.process, plan.seccomp.as_ref())?;
    enter_cwd(&plan.process.cwd)?;
    find_program(&plan.process.args)
}

/// In the container's own mount namespace: its mounts, /dev, and the
/// switch of root.
fn build_root(
    plan: &Plan,
    hooks: &mut dyn Hooks,
    no_pivot: bool,
    state: Option<&oci_spec::runtime::State>,
) -> anyhow::Result<()> {
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
    create_container_hooks(plan, state)?;
    if no_pivot {
        nopivot::move_root(&root)?;
    } else {
        pivot::pivot_into(&root)?;
    }
    for m in &plan.mounts {
        m.after_pivot()?;
    }
    if let Some(flags) = plan.rootfs_propagation {
        sys::mount(
            None,
            Path::new("/"),
            None,
            flags,
            None,
            "linux.rootfsPropagation: how mount events reach the container's root, and leave it",
        )?;
    }
    Ok(())
}

/// The createContainer hooks: in the container's namespaces, before its
/// root becomes `/`.
fn create_container_hooks(
    plan: &Plan,
    state: Option<&oci_spec::runtime::State>,
) -> anyhow::Result<()> {
    if let Some(st) = state {
        let list = hooks::of(plan.hooks.as_ref(), "createContainer");
        hooks::run(list, "createContainer", st)?;
    }
    Ok(())
}

/// Once the kernel knobs are set: hide the masked paths, make the
/// read-only ones (and root.readonly) so.
fn seal_root(plan: &Plan) -> anyhow::Result<()> {
    paths::mask(Path::new("/"), &plan.masked)?;
    paths::readonly(Path::new("/"), &plan.readonly)?;
    if plan.readonly_root {
        readonly_root()?;
    }
    Ok(())
}

/// Chapter 08: what stops root in the container. Resource limits first,
/// while CAP_SYS_RESOURCE still lets us raise a hard limit; the bounding
/// set shrinks while we are still root; PR_SET_KEEPCAPS carries the permitted set
/// across the uid change; the other sets are set after it; no_new_privs
/// and seccomp come last, the filter once nothing more needs a denied call
/// (first, when the spec turns no_new_privs off: see below).
// ANCHOR: harden
pub(super) fn harden(p: &Process, filter: Option<&seccomp::Compiled>) -> anyhow::Result<()> {
    // First, while we still hold CAP_SYS_RESOURCE: raising a hard limit
    // above the one we inherited (podman asks for nofile 1048576) needs it.
    rlimits::apply(&p.rlimits)?;
    // Without no_new_privs, attaching a filter needs CAP_SYS_ADMIN: attach
    // it first, while we still hold it (runc does the same); it then also
    // filters the calls below, which the profile allows.
    let filter_first = !p.no_new_privs;
    if let (true, Some(filter)) = (filter_first, filter) {
        seccomp::install(filter)?;
    }
    if let Some(c) = &p.caps {
        caps::drop_bounding(c)?;
        sys::set_keepcaps(
            true,
            "keep the permitted capabilities across the change of uid below",
        )?;
    }
    become_user(p)?;
    if let Some(c) = &p.caps {
        caps::set_sets(c)?;
    }
    if p.no_new_privs {
        nnp::no_new_privs()?;
    }
    if let (false, Some(filter)) = (filter_first, filter) {
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
fn become_user(p: &Process) -> anyhow::Result<()> {
    sys::setgroups(
        &p.groups,
        "the supplementary groups of process.user.additionalGids, and none of the host's",
    )?;
    sys::setresgid(p.gid, "act as the spec's group")?;
    sys::setresuid(p.uid, "act as the spec's user")?;
    Ok(())
}

pub(super) fn enter_cwd(cwd: &Path) -> anyhow::Result<()> {
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
pub(super) fn find_program(args: &[String]) -> anyhow::Result<PathBuf> {
    // The error keeps its code (127 not found, 126 not executable).
    Ok(exec::resolve(&args[0])?)
}
