//! `exec`: one more process in a running container, as `runc exec` (and
//! so `podman exec`, `ctr task exec`, `kubectl exec`) starts it.
//!
//! Chapter 03's setns, with the rest of the container's rules: the new
//! process joins every namespace of the init (the user namespace first,
//! the mount namespace last), is moved into the container's cgroups while
//! it waits at its gate (so even its first instruction counts against the
//! limits and sits under the freezer and the device list), and gets the
//! same hardening as the init — bounding set, uid, capabilities, rlimits,
//! no_new_privs, the container's seccomp filter. Joining a pid namespace
//! changes only where our children are born, so the runtime joins it
//! itself and forks; the child does the rest. A failing step reaches the
//! runtime over a socketpair, as in `create`.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use anyhow::{bail, Context};
use nix::sched::CloneFlags;
use nix::unistd::Pid;
use oci_spec::runtime::{ContainerState, Spec};

use super::create::{read_report, Detach};
use super::plan::{check_version, Process};
use super::{console, init, options, spec, state, Runtime};
use crate::ns::setns;
use crate::rootfs::exec as program;
use crate::security::seccomp;
use crate::sys::{self, Fork};

/// What to run in the container, and how (runc exec's flags).
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// `--process process.json`: the whole process. Without it, the
    /// container's own process (env, cwd, user, capabilities …) with
    /// `args` as the command.
    pub process: Option<oci_spec::runtime::Process>,
    pub args: Vec<String>,
    /// `--env K=V`, added to the environment.
    pub env: Vec<String>,
    pub cwd: Option<PathBuf>,
    /// `--user UID[:GID]`.
    pub user: Option<(u32, u32)>,
    /// `--tty`: a terminal, sent over `console_socket`.
    pub tty: bool,
    /// `--detach`: return once the process runs, instead of waiting.
    pub detach: bool,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: u32,
}

impl Runtime {
    /// Run a process in the container `id`. Returns its exit code, or 0
    /// once it runs when detached.
    pub fn exec(&self, id: &str, opts: &ExecOptions) -> anyhow::Result<i32> {
        let st = self.state(id)?;
        if *st.status() != ContainerState::Running && *st.status() != ContainerState::Created {
            bail!(
                "cannot exec in container {id}: it is {}, and only a created or running one has namespaces to join",
                st.status()
            );
        }
        let init_pid = Pid::from_raw(st.pid().context("the container's state has no pid")?);
        let spec = spec::load_bundle(st.bundle())?;
        let process = Process::from_oci(&exec_process(&spec, opts)?)?;
        let filter = spec
            .linux()
            .as_ref()
            .and_then(|l| l.seccomp().as_ref())
            .map(seccomp::compile)
            .transpose()
            .context("compiling the container's linux.seccomp")?;
        let detach = if opts.detach { Detach::Yes } else { Detach::No };
        let console = console::connect(process.terminal, opts.console_socket.as_deref(), detach)?;
        let cgroup = state::cgroup(&self.dir(id)?, id)?
            .with_context(|| format!("container {id} has no cgroup"))?;

        let mut target = setns::open_target(init_pid)?;
        if target
            .joins
            .iter()
            .any(|n| n.nstype == CloneFlags::CLONE_NEWPID)
        {
            target
                .joins
                .retain(|n| n.nstype != CloneFlags::CLONE_NEWPID);
            let path = crate::probe::ns::ns_path(init_pid.as_raw(), "pid");
            let fd = sys::open(&path, "a handle on the container's pid namespace")?;
            sys::setns(
                &fd,
                &path.display().to_string(),
                CloneFlags::CLONE_NEWPID,
                "join the container's pid namespace for the child we fork next: it is born in it",
            )?;
        }
        let (ours, theirs) = UnixStream::pair().context("socketpair for the child's report")?;
        let keep_fds = opts.preserve_fds + options::listen_fds();
        let mut child = match sys::clone(
            CloneFlags::empty(),
            "fork the process to run: only a child of ours is born in the container's pid namespace",
        )? {
            Fork::Child => {
                drop(ours);
                child_main(theirs, &target, &process, filter.as_ref(), console, detach, keep_fds)
            }
            Fork::Parent(c) => c,
        };
        drop(theirs);
        let placed = cgroup.place(child.pid);
        // The handle goes, the cgroup stays: it is the container's.
        cgroup.persist();
        let ready = placed.and_then(|()| {
            child.release();
            read_report(ours)
        });
        if let Err(e) = ready {
            let _ = sys::kill(
                child.pid,
                nix::sys::signal::Signal::SIGKILL,
                "exec failed: stop the child",
            );
            let _ = sys::wait(child.pid, "reap it so no zombie is left");
            return Err(e);
        }
        if let Some(f) = &opts.pid_file {
            options::write_pid_file(f, child.pid.as_raw())?;
        }
        if opts.detach {
            return Ok(0);
        }
        Ok(sys::wait(child.pid, "wait for the exec'd process to end")?.exit_code())
    }
}

/// The process to run: process.json as given, or the container's own
/// with the command and the flags' changes.
fn exec_process(spec: &Spec, opts: &ExecOptions) -> anyhow::Result<oci_spec::runtime::Process> {
    let mut p = match &opts.process {
        Some(p) => p.clone(),
        None => {
            if opts.args.is_empty() {
                bail!("exec needs a command, or --process with a process.json");
            }
            let mut p = spec.process().clone().unwrap_or_default();
            p.set_args(Some(opts.args.clone()));
            p.set_terminal(Some(opts.tty));
            p
        }
    };
    check_version(spec.version())?;
    if !opts.env.is_empty() {
        let mut env = p.env().clone().unwrap_or_default();
        env.extend(opts.env.iter().cloned());
        p.set_env(Some(env));
    }
    if let Some(cwd) = &opts.cwd {
        p.set_cwd(cwd.clone());
    }
    if let Some((uid, gid)) = opts.user {
        let mut user = p.user().clone();
        user.set_uid(uid);
        user.set_gid(gid);
        p.set_user(user);
    }
    if opts.tty {
        p.set_terminal(Some(true));
    }
    Ok(p)
}

/// The forked child: enter, report, become the command; it never returns
/// into the runtime's code.
fn child_main(
    mut report: UnixStream,
    target: &setns::Target,
    p: &Process,
    filter: Option<&seccomp::Compiled>,
    console: Option<UnixStream>,
    detach: Detach,
    keep_fds: u32,
) -> ! {
    let code = match enter(target, p, filter, console, detach) {
        Ok(path) => {
            let _ = report.write_all(b"ok\n");
            drop(report);
            run(&path, p, keep_fds)
        }
        Err(e) => {
            let _ = writeln!(report, "{}", sys::one_line(&e));
            1
        }
    };
    super::init::exit(code)
}

/// In the child: the container's namespaces and root, its terminal, its
/// hardening; returns the program to execve.
fn enter(
    target: &setns::Target,
    p: &Process,
    filter: Option<&seccomp::Compiled>,
    console: Option<UnixStream>,
    detach: Detach,
) -> anyhow::Result<PathBuf> {
    if detach == Detach::Yes {
        sys::clear_pdeathsig(
            "a detached exec outlives the runtime: the engine that asked reaps it",
        )?;
    }
    setns::join(target)?;
    if let Some(sock) = console {
        console::attach(sock, p.console_size)?;
    }
    if let Some(adj) = p.oom_score_adj {
        sys::write(
            &PathBuf::from("/proc/self/oom_score_adj"),
            &adj.to_string(),
            "process.oomScoreAdj for the exec'd process",
        )?;
    }
    init::harden(p, filter)?;
    init::enter_cwd(&p.cwd)?;
    init::find_program(&p.args)
}

/// Become the command. Returns only when execve failed: the exit code
/// for that (127 not found, 126 not runnable, as a shell says).
fn run(path: &std::path::Path, p: &Process, keep_fds: u32) -> i32 {
    let prepared = program::clean_slate().and_then(|()| match keep_fds {
        0 => Ok(()),
        n => sys::keep_fds(
            3,
            n,
            "--preserve-fds: these descriptors are for the command",
        ),
    });
    if let Err(e) = prepared {
        sys::journal::emit(&format!("wharf-oci exec: {e}\n"));
        return 1;
    }
    let err = sys::execve(
        path,
        &p.args,
        &p.env,
        "replace the forked runtime with the command, inside the container",
    );
    sys::journal::emit(&format!("wharf-oci exec: {}: {err}\n", p.args[0]));
    match err.errno {
        nix::errno::Errno::ENOENT => 127,
        _ => 126,
    }
}
