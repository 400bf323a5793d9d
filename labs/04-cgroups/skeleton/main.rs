//! Lab 04 — cgroups: limit a container's CPU, memory and number of tasks.
//!
//! The program around your steps is written: the flags (checked before
//! anything is made), where this run's cgroup lives in each hierarchy, and
//! chapter 02's container (clone, private mounts, hostname, /proc,
//! pivot_root). You write the four cgroup steps: a cgroup is a directory,
//! its limits are files, and a process joins it by writing its pid. Read
//! labs/04-cgroups/README.md first; check with `sudo wharf lab check 4`;
//! stuck? `wharf lab hint 4`.
//!
//! `sys::mkdir`, `sys::write` and `sys::rmdir` make the calls (and show
//! them under --explain).

// Until each step is written, some imports and arguments go unused.
#![allow(unused)]

use std::path::{Path, PathBuf};

use clap::Parser;
use nix::sched::CloneFlags;
use nix::unistd::Pid;
use wharf::cgroup::Limits;
use wharf::cli::flags::LimitFlags;
use wharf::cli::lesson::{self, Lesson};
use wharf::probe::cgroup::{Cgroupfs, Dirs};
use wharf::rootfs::{self, exec, pivot};
use wharf::sys::{self, Fork};

const NAME: &str = "lab04-cgroups";

/// Run a command in new namespaces, in a cgroup that limits it.
#[derive(Debug, Parser)]
#[command(name = "lab04-cgroups")]
struct Args {
    #[command(flatten)]
    lesson: Lesson,

    /// --cpus, --memory, --pids-limit (and --cpu-quota, --cpu-period).
    #[command(flatten)]
    limits: LimitFlags,

    /// The hostname inside the new UTS namespace.
    #[arg(long)]
    hostname: Option<String>,

    /// The root filesystem (default: the built-in one).
    #[arg(long, value_name = "DIR")]
    rootfs: Option<PathBuf>,

    /// The command to run inside, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    cmd: Vec<String>,
}

fn main() {
    let args = Args::parse();
    args.lesson.start();
    lesson::finish(NAME, run(&args))
}

fn run(args: &Args) -> anyhow::Result<i32> {
    lesson::require_root(NAME)?;
    let limits = args.limits.limits().parse()?;
    let root = rootfs::choose(args.rootfs.as_deref())?;
    // Where the cgroup `<host tag>/lab04-PID` sits in each hierarchy: on
    // cgroup v1 (and hybrid hosts) one directory per controller, on v2 one
    // directory for all. The tag is made from the state root, so that
    // `wharf reset` finds exactly our cgroups.
    let fs = Cgroupfs::system()?;
    let name = format!("lab04-{}", std::process::id());
    let dirs = fs.dirs(&Path::new(&wharf::paths::host_tag()).join(name));

    create(&fs, &dirs)?;
    if let Err(e) = write_limits(&dirs, &limits) {
        let _ = remove(&dirs);
        return Err(e);
    }
    let flags = CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWNET;
    let why = "start the child in fresh namespaces; it waits until it is in the cgroup";
    let mut child = match sys::clone(flags, why)? {
        Fork::Child => lesson::finish(NAME, inside(args, &root)),
        Fork::Parent(child) => child,
    };
    // The child waits at its gate: it is placed before it runs anything,
    // so everything it starts is born inside the cgroup.
    if let Err(e) = place(&dirs, child.pid) {
        let _ = sys::kill(child.pid, nix::sys::signal::Signal::SIGKILL, "give up");
        let _ = sys::wait(child.pid, "collect the child we gave up on");
        let _ = remove(&dirs);
        return Err(e);
    }
    child.release();
    let status = sys::wait(child.pid, "wait for the container's command")?;
    remove(&dirs)?;
    Ok(status.exit_code())
}

/// Chapter 02's container: the child, in its new namespaces.
fn inside(args: &Args, root: &Path) -> anyhow::Result<i32> {
    pivot::make_private()?;
    if let Some(name) = &args.hostname {
        sys::sethostname(name, "the container's own hostname")?;
    }
    pivot::mount_proc(root)?;
    pivot::pivot_into(root)?;
    Err(exec::exec(
        &args.cmd,
        &exec::default_env(args.hostname.as_deref()),
    ))
}

/// Step 1. Make the cgroup: a `mkdir` in a cgroup filesystem creates one.
/// `dirs.unique()` lists each of its directories once; the one above them
/// (the host tag) may not exist yet. On cgroup v2 (`dirs.v2`), a parent
/// must also hand the controllers down to its children.
fn create(fs: &Cgroupfs, dirs: &Dirs) -> anyhow::Result<()> {
    // TODO(lab 04): your step here.
    todo!("lab 04 step 1: make the cgroup's directories")
}

/// Step 2. Write the limits into the cgroup's files, in this hierarchy's
/// names and units. `limits.cpu` is a quota per period (microseconds),
/// `limits.memory` bytes, `limits.pids` a number of tasks; `None` = no
/// limit.
fn write_limits(dirs: &Dirs, limits: &Limits) -> anyhow::Result<()> {
    // TODO(lab 04): your step here.
    todo!("lab 04 step 2: write the limits")
}

/// Step 3. Move the (still waiting) child into the cgroup.
fn place(dirs: &Dirs, pid: Pid) -> anyhow::Result<()> {
    // TODO(lab 04): your step here.
    todo!("lab 04 step 3: put pid {pid} into the cgroup")
}

/// Step 4. The command has ended: remove the cgroup.
fn remove(dirs: &Dirs) -> anyhow::Result<()> {
    // TODO(lab 04): your step here.
    todo!("lab 04 step 4: remove the cgroup")
}
