//! Chapter 02 — namespaces: clone a child into new namespaces and give its
//! mount namespace a root of its own with pivot_root.
//!
//! Each namespace flag gives the child a private copy of one kind of kernel
//! state: pid (it is PID 1), uts (hostname), ipc, net, mnt (mounts), user
//! (ids), cgroup (its view of /proc/self/cgroup). The parent stays where it
//! was. `wharf::ns::run` packages these same steps for the later chapters.

use std::path::{Path, PathBuf};

use clap::Parser;
use wharf::cli::flags::{EscapeDemoFlag, NamespaceFlags, PrintSpecFlag};
use wharf::cli::lesson::{self, Lesson};
use wharf::container::{ChapterFlags, SpecBuilder};
use wharf::ns::{idmap, run};
use wharf::rootfs::{self, chroot, exec, pivot};
use wharf::sys::{self, Child, Fork};

/// Run a command in new namespaces, with the rootfs as its `/`.
#[derive(Debug, Parser)]
#[command(name = "ch02-namespaces", version)]
struct Args {
    #[command(flatten)]
    lesson: Lesson,

    /// Which namespaces to create (default: all but --user).
    #[command(flatten)]
    ns: NamespaceFlags,

    #[command(flatten)]
    escape: EscapeDemoFlag,

    /// The hostname inside the new UTS namespace.
    #[arg(long)]
    hostname: Option<String>,

    /// The root filesystem (default: the built-in one).
    #[arg(long, value_name = "DIR")]
    rootfs: Option<PathBuf>,

    #[command(flatten)]
    spec: PrintSpecFlag,

    /// The command to run inside, after `--`.
    #[arg(last = true, value_name = "CMD")]
    cmd: Vec<String>,
}

fn main() {
    let args = Args::parse();
    args.lesson.start();
    lesson::finish("ch02-namespaces", chapter(&args))
}

fn chapter(args: &Args) -> anyhow::Result<i32> {
    // The same container in the OCI runtime spec's words (chapter 08 builds
    // containers from such a spec): namespaces, hostname, root, command.
    let flags = ChapterFlags {
        ns: args.ns.ns(),
        hostname: args.hostname.as_deref(),
        ..Default::default()
    };
    let root = args.rootfs.clone().unwrap_or_else(|| "rootfs".into());
    let spec = || Ok(SpecBuilder::unhardened(&root, args.cmd.clone(), &flags).build());
    if let Some(code) = args.spec.print(spec)? {
        return Ok(code);
    }
    lesson::require_root("ch02-namespaces")?;
    args.ns.ns().check(args.hostname.as_deref())?;
    if args.cmd.is_empty() && !args.escape.escape_demo {
        anyhow::bail!("no command given: add one after `--`, e.g. `ch02-namespaces -- /bin/sh`");
    }
    let root = rootfs::choose(args.rootfs.as_deref())?;
    let host_root = chroot::root_id()?;

    // ANCHOR: clone
    let mut child: Child = match sys::clone(
        args.ns.ns().clone_flags(),
        "start the child in fresh namespaces; inside them it will be PID 1",
    )? {
        Fork::Child => lesson::finish("ch02-namespaces", inside(args, &root, host_root)),
        Fork::Parent(child) => child,
    };
    // ANCHOR_END: clone

    // ANCHOR: parent
    if args.ns.ns().effective().user {
        if let Err(e) = idmap::write_maps(child.pid) {
            run::abandon(child.pid);
            return Err(e);
        }
    }
    child.release();
    let status = sys::wait(
        child.pid,
        "wait for the container's command and collect its exit status",
    )?;
    Ok(status.exit_code())
    // ANCHOR_END: parent
}

/// The child: runs inside the new namespaces, ends by becoming the command.
fn inside(args: &Args, root: &Path, host_root: (u64, u64)) -> anyhow::Result<i32> {
    let ns = args.ns.ns().effective();
    // ANCHOR: inside
    if ns.user {
        idmap::become_root()?;
    }
    if ns.mount {
        pivot::make_private()?;
    }
    if let Some(name) = &args.hostname {
        sys::sethostname(
            name,
            "the UTS namespace gives the container a hostname of its own",
        )?;
    }
    if ns.pid {
        pivot::mount_proc(root)?;
    }
    if ns.mount {
        pivot::pivot_into(root)?;
    } else {
        chroot::fall_back(root)?;
    }
    // ANCHOR_END: inside

    if args.escape.escape_demo {
        print!("{}", chroot::escape_attempt(host_root)?);
        if args.cmd.is_empty() {
            return Ok(0);
        }
    }
    Err(exec::exec(
        &args.cmd,
        &exec::default_env(args.hostname.as_deref()),
    ))
}
