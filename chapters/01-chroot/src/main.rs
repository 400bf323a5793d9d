//! Chapter 01 — chroot: the oldest way to give a process its own `/`.
//!
//! chroot changes where one process starts resolving absolute paths. That
//! is all it does: no new namespaces, the same mounts, the same hostname,
//! the same processes. `--escape-demo` shows why it is not a wall.

use std::path::PathBuf;

use clap::Parser;
use wharf::cli::lesson::{self, Lesson};
use wharf::rootfs::{self, chroot, exec};

/// Run a command with another directory as its root.
#[derive(Debug, Parser)]
#[command(name = "ch01-chroot", version)]
struct Args {
    #[command(flatten)]
    lesson: Lesson,

    /// The root filesystem to enter (default: the built-in one).
    #[arg(long, value_name = "DIR")]
    rootfs: Option<PathBuf>,

    /// From inside the chroot, climb out of it and report where `/` ends up.
    #[arg(long)]
    escape_demo: bool,

    /// The command to run inside, after `--`.
    #[arg(last = true, value_name = "CMD")]
    cmd: Vec<String>,
}

fn main() {
    let args = Args::parse();
    args.lesson.start();
    lesson::finish("ch01-chroot", chapter(&args))
}

fn chapter(args: &Args) -> anyhow::Result<i32> {
    lesson::require_root("ch01-chroot")?;
    if args.cmd.is_empty() && !args.escape_demo {
        anyhow::bail!("no command given: add one after `--`, e.g. `ch01-chroot -- /bin/sh`");
    }
    let root = rootfs::choose(args.rootfs.as_deref())?;
    // Remember which directory is the host's root, to recognise it later.
    let host_root = chroot::root_id()?;

    // ANCHOR: enter
    chroot::enter(&root)?;
    // ANCHOR_END: enter

    if args.escape_demo {
        // ANCHOR: escape
        let report = chroot::escape_attempt(host_root)?;
        print!("{report}");
        // ANCHOR_END: escape
        if args.cmd.is_empty() {
            return Ok(0);
        }
    }

    // ANCHOR: exec
    Err(exec::exec(&args.cmd, &exec::default_env(None)))
    // ANCHOR_END: exec
}
