//! Chapter 04 — cgroups: everything chapters 02 and 03 do, plus limits on
//! what the container may consume.
//!
//! Namespaces decide what a process can *see*; cgroups decide how much it
//! may *use*. A cgroup is a directory in a cgroup filesystem: mkdir creates
//! it, its files hold the limits, writing a pid to `cgroup.procs` moves a
//! process in (its children are born inside), rmdir removes it. The kernel
//! then throttles the CPU, refuses forks, and OOM-kills inside it.
//! `ch04-cgroups exec PID -- CMD` is chapter 03's exec, in the container's
//! cgroups too: what it runs counts against the container's limits.

use std::path::PathBuf;

use anyhow::bail;
use clap::Parser;
use wharf::cgroup::demo::Demo;
use wharf::cgroup::{Cgroup, Placement};
use wharf::cli::flags::{
    DemoFlag, EscapeDemoFlag, ExecFlags, LimitFlags, NamespaceFlags, PrintSpecFlag,
};
use wharf::cli::lesson::{self, Lesson};
use wharf::container::{ChapterFlags, SpecBuilder};
use wharf::ns::run::{self, NoHooks, RunSpec};
use wharf::rootfs;

/// Run a command in new namespaces and a fresh cgroup with limits.
#[derive(Debug, Parser)]
#[command(name = "ch04-cgroups", version)]
struct Args {
    #[command(flatten)]
    lesson: Lesson,

    #[command(subcommand)]
    exec: Option<ExecFlags>,

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
    limits: LimitFlags,

    /// Run a program that runs into a limit, and report what the kernel did.
    #[arg(long, value_enum)]
    demo: Option<DemoFlag>,

    #[command(flatten)]
    spec: PrintSpecFlag,

    /// The command to run inside, after `--`.
    #[arg(last = true, value_name = "CMD")]
    cmd: Vec<String>,
}

fn main() {
    let args = Args::parse();
    args.lesson.start();
    lesson::finish("ch04-cgroups", chapter(&args))
}

fn chapter(args: &Args) -> anyhow::Result<i32> {
    if !args.spec.print_spec {
        lesson::require_root("ch04-cgroups")?;
    }
    // Chapter 03's exec, in the container's cgroups too (wharf::cgroup::exec_into).
    if let Some(exec) = &args.exec {
        let run_flags =
            args.ns.ns().chosen() || args.escape.escape_demo || args.limits.limits().given();
        let more = args.hostname.is_some() || args.rootfs.is_some() || args.demo.is_some();
        return exec.run(run_flags || more || !args.cmd.is_empty());
    }
    // Check everything the learner typed before anything is created.
    let mut limits = args.limits.limits().parse()?;
    let cmd = match (args.demo.map(Demo::from), args.cmd.is_empty()) {
        (Some(_), false) => {
            bail!("--demo runs its own program: give either --demo or a command after `--`")
        }
        (Some(demo), true) => {
            limits = demo.with_default_limit(limits);
            demo.command()
        }
        (None, true) => {
            bail!("no command given: add one after `--`, e.g. `ch04-cgroups --cpus 0.5 -- /bin/sh`")
        }
        (None, false) => args.cmd.clone(),
    };
    // The same container in the OCI runtime spec's words: the limits are
    // linux.resources, which chapter 08's runtime writes into the cgroup.
    let flags = ChapterFlags {
        ns: args.ns.ns(),
        hostname: args.hostname.as_deref(),
        limits,
    };
    let root = args.rootfs.clone().unwrap_or_else(|| "rootfs".into());
    let spec = || Ok(SpecBuilder::unhardened(&root, cmd.clone(), &flags).build());
    if let Some(code) = args.spec.print(spec)? {
        return Ok(code);
    }
    args.ns.ns().check(args.hostname.as_deref())?;
    let rootfs = rootfs::choose(args.rootfs.as_deref())?;
    let spec = RunSpec {
        ns: args.ns.ns_with(args.escape),
        hostname: args.hostname.clone(),
        rootfs,
        cmd,
    };

    // ANCHOR: create
    // mkdir the cgroup and write its limits. If anything below fails,
    // dropping `cgroup` kills what is inside and removes it.
    let cgroup = Cgroup::create(&format!("ch04-{}", std::process::id()), &limits)?;
    // ANCHOR_END: create

    // ANCHOR: run
    // Chapter 02's steps, with the child moved into the cgroup before it
    // may go on (wharf::cgroup::Placement): everything it runs from then
    // on is born inside.
    let mut nothing_more = NoHooks;
    let mut hooks = Placement::new(&cgroup, spec.ns.effective().cgroup, &mut nothing_more);
    let exit = run::run(&spec, &mut hooks)?;
    let wall = hooks.elapsed();
    // ANCHOR_END: run

    // ANCHOR: report
    // Read the kernel's counters before the cgroup goes, then remove it.
    eprint!("{}", cgroup.report(&exit, wall));
    cgroup.remove()?;
    // ANCHOR_END: report
    if exit.signal.is_some() {
        eprintln!("ch04-cgroups: the command was {}", exit.describe());
    }
    Ok(exit.exit_code())
}
