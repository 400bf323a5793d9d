//! Lab 02 — namespaces, the reference solution (see labs/02-namespaces/README.md).

use std::path::{Path, PathBuf};

use clap::Parser;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use wharf::cli::lesson::{self, Lesson};
use wharf::rootfs::{self, exec};
use wharf::sys::{self, Fork};

const NAME: &str = "lab02-namespaces";

/// Run a command in new namespaces, with the rootfs as its `/`.
#[derive(Debug, Parser)]
#[command(name = "lab02-namespaces")]
struct Args {
    #[command(flatten)]
    lesson: Lesson,

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
    let root = rootfs::choose(args.rootfs.as_deref())?;
    // clone(2) without a new stack, like fork(2): the child returns here
    // too, already inside the new namespaces. It waits until released.
    let why = "start the child in fresh namespaces; inside them it will be PID 1";
    let mut child = match sys::clone(namespaces(), why)? {
        Fork::Child => lesson::finish(NAME, inside(args, &root)),
        Fork::Parent(child) => child,
    };
    child.release();
    let status = sys::wait(child.pid, "wait for the container's command")?;
    Ok(status.exit_code())
}

/// The child, in its new namespaces: your steps 2–5, then the command.
fn inside(args: &Args, root: &Path) -> anyhow::Result<i32> {
    private_mounts()?;
    if let Some(name) = &args.hostname {
        set_hostname(name)?;
    }
    mount_proc(root)?;
    pivot_into(root)?;
    Err(exec::exec(
        &args.cmd,
        &exec::default_env(args.hostname.as_deref()),
    ))
}

/// Step 1. Which namespaces does the child get? It must be PID 1 of its
/// own pid namespace, with its own hostname, IPC objects, mount table and
/// network stack (the user namespace stays the host's).
fn namespaces() -> CloneFlags {
    CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWNET
}

/// Step 2. The child's mount table is a copy of the host's, and systemd
/// makes `/` a *shared* mount: stop mount events crossing between the two.
fn private_mounts() -> anyhow::Result<()> {
    sys::mount(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
        "systemd makes / shared; without this our mounts would leak back to the host and pivot_root would fail",
    )?;
    Ok(())
}

/// Step 3. Give the container its own hostname.
fn set_hostname(name: &str) -> anyhow::Result<()> {
    sys::sethostname(
        name,
        "the UTS namespace gives the container a hostname of its own",
    )?;
    Ok(())
}

/// Step 4. A fresh procfs at `<root>/proc`, so that `ps` inside lists only
/// the container's processes (a procfs shows the pid namespace of whoever
/// mounts it). Mount it while the host's /proc is still visible.
fn mount_proc(root: &Path) -> anyhow::Result<()> {
    sys::mount(
        Some(Path::new("proc")),
        &root.join("proc"),
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None,
        "a procfs shows the pid namespace of whoever mounts it: now ps lists only our processes",
    )?;
    Ok(())
}

/// Step 5. Make `root` the root *mount* of this mount namespace and detach
/// the old one, so that no path leads back to the host's files.
fn pivot_into(root: &Path) -> anyhow::Result<()> {
    // pivot_root wants a mount point: a bind mount of the rootfs onto
    // itself is one.
    sys::mount(
        Some(root),
        root,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
        "pivot_root needs the new root to be a mount point: bind-mount it onto itself",
    )?;
    sys::chdir(
        root,
        "pivot_root(\".\", \".\") works on the current directory",
    )?;
    // new_root and put_old both ".": the old root ends up stacked on top
    // of the new one, at "/", with no directory needed to hold it.
    sys::pivot_root(
        Path::new("."),
        Path::new("."),
        "swap the root mount: the rootfs becomes /, the old root is stacked on top of it",
    )?;
    sys::umount2(
        Path::new("."),
        MntFlags::MNT_DETACH,
        "detach the old root stacked on /: after this no path leads back to the host's files",
    )?;
    sys::chdir(Path::new("/"), "start from the new root")?;
    Ok(())
}
