//! Chapter 03 — setns: enter the namespaces of a running container, the
//! mechanism behind `docker exec`.
//!
//! `ch03-setns run` starts a container exactly as chapter 02 does;
//! `ch03-setns exec PID -- CMD` joins its namespaces and runs CMD there.

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use nix::unistd::Pid;
use wharf::cli::flags::{NamespaceFlags, PrintSpecFlag};
use wharf::cli::lesson::{self, Lesson};
use wharf::container::{ChapterFlags, Runtime, SpecBuilder};
use wharf::ns::run::Hooks;
use wharf::ns::setns;
use wharf::rootfs;

/// Start a container, or join the namespaces of a running one.
#[derive(Debug, Parser)]
#[command(name = "ch03-setns", version)]
struct Args {
    #[command(flatten)]
    lesson: Lesson,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Start a container as chapter 02 does (prints its pid for `exec`).
    Run {
        #[command(flatten)]
        ns: NamespaceFlags,
        #[arg(long)]
        hostname: Option<String>,
        #[arg(long, value_name = "DIR")]
        rootfs: Option<PathBuf>,
        #[command(flatten)]
        spec: PrintSpecFlag,
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
    lesson::finish("ch03-setns", chapter(args))
}

fn chapter(args: Args) -> anyhow::Result<i32> {
    match args.cmd {
        Cmd::Run {
            ns,
            hostname,
            rootfs,
            spec,
            cmd,
        } => {
            // Chapter 02's container, described as an OCI runtime spec and
            // built from it by wharf::container, as every later chapter is.
            let flags = ChapterFlags {
                ns: ns.ns(),
                hostname: hostname.as_deref(),
                ..Default::default()
            };
            let describe = |root: &Path| SpecBuilder::unhardened(root, cmd.clone(), &flags).build();
            if let Some(code) = spec.print(|| Ok(describe("rootfs".as_ref())))? {
                return Ok(code);
            }
            lesson::require_root("ch03-setns")?;
            let rootfs = rootfs::choose(rootfs.as_deref())?;
            let id = format!("ch03-{}", std::process::id());
            let runtime = Runtime::default_root();
            Ok(runtime
                .run(&id, &rootfs, &describe(&rootfs), &mut AnnouncePid)?
                .exit_code())
        }
        Cmd::Exec { pid, cmd } => {
            lesson::require_root("ch03-setns")?;
            exec_into(Pid::from_raw(pid), &cmd)
        }
    }
}

/// Tell the learner which pid to `exec` into.
struct AnnouncePid;
impl Hooks for AnnouncePid {
    fn in_parent(&mut self, child: Pid) -> anyhow::Result<()> {
        eprintln!(
            "ch03-setns: container started as pid {child} (try `ch03-setns exec {child} -- ps`)"
        );
        Ok(())
    }
}

fn exec_into(pid: Pid, cmd: &[String]) -> anyhow::Result<i32> {
    // ANCHOR: open
    // Open every namespace file first: after joining the mount namespace,
    // /proc/PID may no longer lead to the target.
    let target = setns::open_target(pid)?;
    // ANCHOR_END: open

    // ANCHOR: join
    setns::join(&target)?;
    // ANCHOR_END: join

    // ANCHOR: fork
    // setns into a pid namespace applies to our children only: fork, and
    // run the command in the child (wharf::ns::setns::run_forked).
    setns::run_forked(&target, cmd)
    // ANCHOR_END: fork
}
