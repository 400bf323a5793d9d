//! `create`, the parent's side: the state dir and its exec FIFO, the
//! cgroup, the clone, the id maps, then waiting for the init to say it is
//! ready (or which step failed) over a socketpair.

use std::io::{BufRead, BufReader};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use oci_spec::runtime::{ContainerState, LinuxIdMapping, State};

use super::options::{self, CreateOptions, InitIo};
use super::plan::Plan;
use super::{console, hooks, init, state, Runtime};
use crate::cgroup::Cgroup;
use crate::ns::run::Hooks;
use crate::sys::{self, Fork};

/// Whether the container outlives the process that creates it (`wharf-oci
/// create`), or dies with it (a chapter's foreground run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detach {
    No,
    Yes,
}

/// The state dir of a container being created: removed again unless the
/// create succeeds, so a failure leaves nothing behind.
struct NewDir(Option<PathBuf>);

impl Drop for NewDir {
    fn drop(&mut self) {
        if let Some(d) = self.0.take() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

pub fn create(
    rt: &Runtime,
    id: &str,
    bundle: &Path,
    plan: &Plan,
    hooks: &mut dyn Hooks,
    detach: Detach,
    opts: &CreateOptions,
) -> anyhow::Result<State> {
    let dir = rt.dir(id)?;
    // Checked before anything is made, so a wrong socket leaves nothing.
    let io = InitIo {
        console: console::connect(
            plan.process.terminal,
            opts.console_socket.as_deref(),
            detach,
        )?,
        keep_fds: opts.preserve_fds + options::listen_fds(),
        no_pivot: opts.no_pivot,
    };
    std::fs::create_dir_all(&rt.root).with_context(|| format!("creating {}", rt.root.display()))?;
    match std::fs::create_dir(&dir) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!(
                "container id {id} is already in use ({} exists)",
                dir.display()
            )
        }
        other => other.with_context(|| format!("creating {}", dir.display()))?,
    }
    let mut guard = NewDir(Some(dir.clone()));
    let _lock = state::Lock::take(&dir)?;
    let mut st = State::default();
    st.set_version(oci_spec::runtime::VERSION.to_string());
    st.set_id(id.to_string());
    st.set_status(ContainerState::Creating);
    if !plan.annotations.is_empty() {
        st.set_annotations(Some(plan.annotations.clone()));
    }
    st.set_bundle(
        bundle
            .canonicalize()
            .unwrap_or_else(|_| bundle.to_path_buf()),
    );
    state::save(&dir, &st)?;

    let fifo_path = dir.join(state::FIFO);
    sys::fifo::mkfifo(
        &fifo_path,
        "the exec FIFO: the init will block opening it until `start` opens the other end",
    )?;
    // Without a mount namespace the init has no /proc after its chroot:
    // it gets a handle on the state directory instead, to openat the FIFO.
    let fifo = match plan.has_mount_ns() {
        true => sys::fifo::open_path(&fifo_path, "a handle on the FIFO that the init can still reach after pivot_root, through /proc/self/fd")?,
        false => sys::fifo::open_path(&dir, "a handle on the FIFO's directory: after its chroot the init has no /proc, but openat from here still reaches the FIFO")?,
    };
    let joins = open_joins(plan)?;
    let mut cgroup = match &plan.cgroups_path {
        Some(rel) => {
            state::note_cgroup(&dir, rel)?;
            Cgroup::create_at(rel, &plan.limits)?
        }
        None => Cgroup::create(id, &plan.limits)?,
    };
    if opts.oci_cgroups {
        oci_cgroups(&mut cgroup, plan)?;
    }
    let pid = spawn(plan, hooks, &cgroup, (fifo, io), &joins, detach, &st)?;

    st.set_status(ContainerState::Created);
    st.set_pid(Some(pid.as_raw()));
    let published = state::note_start(&dir, pid.as_raw())
        .and_then(|()| state::save(&dir, &st))
        .and_then(|()| match &opts.pid_file {
            Some(f) => options::write_pid_file(f, pid.as_raw()),
            None => Ok(()),
        });
    if let Err(e) = published {
        let _ = sys::kill(pid, Signal::SIGKILL, "create failed: stop the init");
        return Err(e);
    }
    cgroup.persist();
    guard.0 = None;
    Ok(st)
}

/// An OCI runtime's container is also in the v1 freezer hierarchy (for
/// `pause`) and gets the device allow-list: v1's devices controller, or
/// v2's BPF program on its one directory.
fn oci_cgroups(cgroup: &mut Cgroup, plan: &Plan) -> anyhow::Result<()> {
    cgroup.add_v1("freezer")?;
    let v1_devices = cgroup.add_v1("devices")?;
    let (dir, v2) = match v1_devices {
        Some(d) => (d, false),
        None if cgroup.is_v2() => (
            cgroup
                .dir_of("devices")
                .expect("a v2 cgroup has its directory"),
            true,
        ),
        None => return Ok(()),
    };
    crate::security::devices::apply(&dir, v2, &plan.device_rules)
}

/// Open every namespace to join now, while the host's paths are visible.
/// A pid namespace is joined here, by us: setns(CLONE_NEWPID) changes only
/// where our next child is born, which is exactly the init.
fn open_joins(plan: &Plan) -> anyhow::Result<Vec<(CloneFlags, OwnedFd, String)>> {
    let mut out = Vec::new();
    for (flag, path) in &plan.join {
        let fd = sys::open(
            path,
            "a handle on the namespace to join, opened while its path is still the host's",
        )?;
        let shown = path.display().to_string();
        if *flag == CloneFlags::CLONE_NEWPID {
            sys::setns(
                &fd,
                &shown,
                *flag,
                "join the pid namespace for the child we clone next: the init is born in it",
            )?;
        } else {
            out.push((*flag, fd, shown));
        }
    }
    Ok(out)
}

/// Clone the init, finish the parent's part while it waits at the gate,
/// and wait for its report. On any failure the init is killed and reaped.
fn spawn(
    plan: &Plan,
    hooks: &mut dyn Hooks,
    cgroup: &Cgroup,
    (fifo, io): (OwnedFd, InitIo),
    joins: &[(CloneFlags, OwnedFd, String)],
    detach: Detach,
    st: &State,
) -> anyhow::Result<Pid> {
    // Both ends close on exec: the command never holds the channel.
    let (ours, theirs) = UnixStream::pair().context("socketpair for the init's report")?;
    let mut child = match sys::clone(
        plan.new_ns,
        "start the container's init in fresh namespaces; it waits until we have set up its side",
    )? {
        Fork::Child => {
            drop(ours);
            init::main(plan, hooks, theirs, fifo, joins, detach, io)
        }
        Fork::Parent(c) => c,
    };
    drop(theirs);
    // Our copy of the console socket goes: only the init may hold it.
    drop(io);
    let mut st = st.clone();
    st.set_pid(Some(child.pid.as_raw()));
    let outcome = parent_side(plan, hooks, cgroup, child.pid)
        .and_then(|()| runtime_hooks(plan, &st, &ours))
        .and_then(|()| {
            child.release();
            read_report(ours)
        });
    if let Err(e) = outcome {
        let _ = sys::kill(child.pid, Signal::SIGKILL, "create failed: stop the init");
        let _ = sys::wait(child.pid, "reap it so no zombie is left");
        return Err(e);
    }
    Ok(child.pid)
}

fn parent_side(
    plan: &Plan,
    hooks: &mut dyn Hooks,
    cgroup: &Cgroup,
    pid: Pid,
) -> anyhow::Result<()> {
    if plan.new_ns.contains(CloneFlags::CLONE_NEWUSER) {
        write_map(pid, "uid_map", &plan.uid_map)?;
        write_map(pid, "gid_map", &plan.gid_map)?;
    }
    cgroup.place(pid)?;
    hooks.in_parent(pid)
}

/// The hooks the runtime runs while the init waits at its gate (its
/// namespaces exist, nothing is set up in them yet), and the state for
/// the ones the init runs itself, sent as one line on the socketpair.
fn runtime_hooks(plan: &Plan, st: &State, ours: &UnixStream) -> anyhow::Result<()> {
    // prestart hooks see the container as created (runtime-tools checks
    // it, runc and crun do so); createRuntime sees it being created.
    let mut created = st.clone();
    created.set_status(ContainerState::Created);
    hooks::run(
        hooks::of(plan.hooks.as_ref(), "prestart"),
        "prestart",
        &created,
    )?;
    hooks::run(
        hooks::of(plan.hooks.as_ref(), "createRuntime"),
        "createRuntime",
        st,
    )?;
    if hooks::in_container(plan.hooks.as_ref()) {
        use std::io::Write;
        let mut line = serde_json::to_string(st)?;
        line.push('\n');
        (&mut &*ours)
            .write_all(line.as_bytes())
            .context("sending the state to the init")?;
    }
    Ok(())
}

/// uid_map/gid_map: one `inside outside count` line per mapping; the
/// kernel accepts the whole file once, from a process outside.
fn write_map(pid: Pid, file: &str, maps: &[LinuxIdMapping]) -> anyhow::Result<()> {
    let text: String = maps
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect();
    sys::write(
        &PathBuf::from(format!("/proc/{pid}/{file}")),
        &text,
        "map ids inside the user namespace to ids outside, as linux.uidMappings/gidMappings say",
    )?;
    Ok(())
}

/// The init writes `ok` once it waits on the FIFO, or the error of the step
/// that failed; a closed channel with neither means it died.
pub(super) fn read_report(sock: UnixStream) -> anyhow::Result<()> {
    let mut line = String::new();
    BufReader::new(sock)
        .read_line(&mut line)
        .context("reading the init's report")?;
    match line.trim_end() {
        "ok" => Ok(()),
        "" => bail!("the container's init died before it was ready"),
        // With the code the init's error carries (127: not found …).
        err => Err(sys::from_report(err)),
    }
}
