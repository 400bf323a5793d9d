//! Lab 01 — chroot: give one process a `/` of its own.
//!
//! The program around your step is written: it reads the flags, finds the
//! rootfs and, at the end, execs the command. You write the kernel step in
//! between, in `enter_root`. Read labs/01-chroot/README.md first; check
//! with `sudo wharf lab check 1`; stuck? `wharf lab hint 1`.

// Until each step is written, some imports and arguments go unused.
#![allow(unused)]

use std::path::{Path, PathBuf};

use clap::Parser;
use wharf::cli::lesson::{self, Lesson};
use wharf::rootfs::{self, exec};
use wharf::sys;

/// Run a command with another directory as its root.
#[derive(Debug, Parser)]
#[command(name = "lab01-chroot")]
struct Args {
    #[command(flatten)]
    lesson: Lesson,

    /// The root filesystem to enter (default: the built-in one).
    #[arg(long, value_name = "DIR")]
    rootfs: Option<PathBuf>,

    /// The command to run inside, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    cmd: Vec<String>,
}

fn main() {
    let args = Args::parse();
    args.lesson.start();
    lesson::finish("lab01-chroot", run(&args))
}

fn run(args: &Args) -> anyhow::Result<i32> {
    lesson::require_root("lab01-chroot")?;
    let root = rootfs::choose(args.rootfs.as_deref())?;
    enter_root(&root)?;
    // execve resolves the command's path from our root: the rootfs's
    // /bin/sleep, not the host's.
    Err(exec::exec(&args.cmd, &exec::default_env(None)))
}

/// Make `root` this process's root directory, so that every path starting
/// with `/` resolves inside it, and leave no way back through the current
/// directory. `wharf::sys::chroot` and `wharf::sys::chdir` make the calls
/// (and show them under --explain); so do `nix::unistd::chroot`/`chdir`.
fn enter_root(root: &Path) -> anyhow::Result<()> {
    // TODO(lab 01): your steps here.
    todo!("lab 01: enter the rootfs (see labs/01-chroot/README.md)")
}
