//! Lab 03 — setns, the reference solution (see labs/03-setns/README.md).

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use nix::sched::CloneFlags;
use nix::unistd::Pid;
use wharf::cli::flags::NamespaceFlags;
use wharf::cli::lesson::{self, Lesson};
use wharf::container::{ChapterFlags, Runtime, SpecBuilder};
use wharf::ns::run::NoHooks;
use wharf::probe::ns as probe_ns;
use wharf::rootfs::{self, exec};
use wharf::sys::{self, Fork};

const NAME: &str = "lab03-setns";

/// Start a container, or join the namespaces of a running one.
#[derive(Debug, Parser)]
#[command(name = "lab03-setns")]
struct Args {
    #[command(flatten)]
    lesson: Lesson,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Start a container as chapter 02 does.
    Run {
        #[command(flatten)]
        ns: NamespaceFlags,
        #[arg(long)]
        hostname: Option<String>,
        #[arg(long, value_name = "DIR")]
        rootfs: Option<PathBuf>,
        #[arg(last = true, required = true, value_name = "CMD")]
        cmd: Vec<String>,
    },
    /// Run CMD inside the namespaces and root of the running process PID.
    Exec {
        pid: i32,
        #[arg(last = true, required = true, value_name = "CMD")]
        cmd: Vec<String>,
    },
}

fn main() {
    let args = Args::parse();
    args.lesson.start();
    lesson::finish(NAME, run(args))
}

fn run(args: Args) -> anyhow::Result<i32> {
    lesson::require_root(NAME)?;
    match args.cmd {
        Cmd::Run {
            ns,
            hostname,
            rootfs,
            cmd,
        } => {
            let flags = ChapterFlags {
                ns: ns.ns(),
                hostname: hostname.as_deref(),
                ..Default::default()
            };
            let rootfs = rootfs::choose(rootfs.as_deref())?;
            let spec = SpecBuilder::unhardened(&rootfs, cmd, &flags).build();
            let id = format!("lab03-{}", std::process::id());
            let ran = Runtime::default_root().run(&id, &rootfs, &spec, &mut NoHooks)?;
            Ok(ran.exit_code())
        }
        Cmd::Exec { pid, cmd } => exec_into(Pid::from_raw(pid), &cmd),
    }
}

fn exec_into(pid: Pid, cmd: &[String]) -> anyhow::Result<i32> {
    if !wharf::probe::procs::exists(pid.as_raw()) {
        anyhow::bail!("no process with pid {pid}: is the container still running?");
    }
    let joins = open_namespaces(pid)?;
    let root = open_root(pid)?;
    join(&joins)?;
    enter_root(&root, pid)?;
    run_inside(cmd)
}

/// The namespace kinds a container may have, as /proc/PID/ns/ names them,
/// with their setns(2) type.
const KINDS: [(&str, CloneFlags); 7] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// One namespace of the target to join: a handle on it, its type, and its
/// path (for --explain).
struct Join {
    fd: OwnedFd,
    nstype: CloneFlags,
    path: PathBuf,
}

/// Step 1. Open the target's namespace files (`probe_ns::ns_path(pid,
/// kind)`), in the order they must be joined, skipping the ones we already
/// share with it (`probe_ns::inodes` reads a /proc/PID/ns dir).
fn open_namespaces(pid: Pid) -> anyhow::Result<Vec<Join>> {
    // Open them all now: once we are in the target's mount namespace,
    // /proc/PID may mean another process, or none.
    let theirs = probe_ns::inodes(&probe_ns::ns_dir(pid.as_raw()))?;
    let ours = probe_ns::inodes(Path::new("/proc/self/ns"))?;
    let mut joins = Vec::new();
    for (kind, nstype) in KINDS {
        // Rejoining a namespace we are in is a no-op (and EINVAL for our
        // own user namespace): skip the ones we share.
        if theirs.get(kind) == ours.get(kind) {
            continue;
        }
        let path = probe_ns::ns_path(pid.as_raw(), kind);
        let fd = sys::open(&path, "a handle on the target's namespace, for setns")?;
        joins.push(Join { fd, nstype, path });
    }
    Ok(joins)
}

/// Step 2. A handle on the target's root directory
/// (`probe_ns::root_path(pid)`), for after the mount namespace is joined.
fn open_root(pid: Pid) -> anyhow::Result<OwnedFd> {
    let why = "a handle on the target's root, to fchdir into once in its mount namespace";
    Ok(sys::open(&probe_ns::root_path(pid.as_raw()), why)?)
}

/// Step 3. Join each namespace, in order.
fn join(joins: &[Join]) -> anyhow::Result<()> {
    for j in joins {
        let shown = j.path.display().to_string();
        sys::setns(&j.fd, &shown, j.nstype, "move into the target's namespace")?;
    }
    Ok(())
}

/// Step 4. Make the target's root our root (and our cwd).
fn enter_root(root: &OwnedFd, pid: Pid) -> anyhow::Result<()> {
    let shown = format!("/proc/{pid}/root");
    sys::fchdir(
        root,
        &shown,
        "step into the target's root, opened before setns",
    )?;
    sys::chroot(Path::new("."), "make the target's root our root")?;
    Ok(())
}

/// Step 5. Run `cmd` (with `exec::exec(cmd, &exec::default_env(None))`,
/// which returns only on failure) where it is inside *every* namespace of
/// the target, and return its exit code.
fn run_inside(cmd: &[String]) -> anyhow::Result<i32> {
    // setns(CLONE_NEWPID) set only where our children are born: fork, and
    // run the command in the child.
    let why = "fork: only a child of ours is born inside the target's pid namespace";
    let mut child = match sys::clone(CloneFlags::empty(), why)? {
        Fork::Child => sys::child_exit(Err(exec::exec(cmd, &exec::default_env(None)))),
        Fork::Parent(child) => child,
    };
    child.release();
    let status = sys::wait(child.pid, "wait for the command run inside")?;
    Ok(status.exit_code())
}
