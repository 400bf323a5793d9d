//! Lab 02 — namespaces: clone a child into new namespaces and give its
//! mount namespace a root of its own with pivot_root.
//!
//! The program around your steps is written: the flags, the clone, the
//! parent's wait, the final execve. You write the five kernel steps, one
//! function each, below `run`. Read labs/02-namespaces/README.md first;
//! check with `sudo wharf lab check 2`; stuck? `wharf lab hint 2`.
//!
//! Make the calls through `wharf::sys` (`sys::mount`, `sys::umount2`,
//! `sys::pivot_root`, `sys::chdir`, `sys::sethostname`): they are nix's
//! calls, and `--explain` shows each one decoded with your `why`.

// Until each step is written, some imports and arguments go unused.
#![allow(unused)]

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
    // TODO(lab 02): your step here.
    todo!("lab 02 step 1: the clone flags")
}

/// Step 2. The child's mount table is a copy of the host's, and systemd
/// makes `/` a *shared* mount: stop mount events crossing between the two.
fn private_mounts() -> anyhow::Result<()> {
    // TODO(lab 02): your step here.
    todo!("lab 02 step 2: no mount propagation between us and the host")
}

/// Step 3. Give the container its own hostname.
fn set_hostname(name: &str) -> anyhow::Result<()> {
    // TODO(lab 02): your step here.
    todo!("lab 02 step 3: the hostname {name:?}")
}

/// Step 4. A fresh procfs at `<root>/proc`, so that `ps` inside lists only
/// the container's processes (a procfs shows the pid namespace of whoever
/// mounts it). Mount it while the host's /proc is still visible.
fn mount_proc(root: &Path) -> anyhow::Result<()> {
    // TODO(lab 02): your step here.
    todo!("lab 02 step 4: a proc at {}/proc", root.display())
}

/// Step 5. Make `root` the root *mount* of this mount namespace and detach
/// the old one, so that no path leads back to the host's files.
fn pivot_into(root: &Path) -> anyhow::Result<()> {
    // TODO(lab 02): your steps here.
    todo!("lab 02 step 5: pivot_root into {}", root.display())
}
