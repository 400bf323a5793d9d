//! Chapter 05 — union mounts: many read-only layers, one root.
//!
//! Chapter 02 gave the container a root by pivoting into one directory, so
//! every container needed a directory of its own. An image instead is a
//! stack of layers, shared by every container started from it. Here the
//! child, inside its new private mount namespace and before pivot_root,
//! mounts an overlay: the layers as `lowerdir` (read-only, top first), its
//! own `upperdir` for writes and a `workdir` for the kernel's bookkeeping.
//! The host never sees that mount; the kernel drops it with the namespace.
//!
//! The first write to a layer's file copies it up into the upper dir; a
//! delete leaves a whiteout there. The layers stay untouched, so two
//! containers from the same layers see only their own changes.
//! `--driver copy` builds the same root by copying every layer instead, as
//! Docker's vfs driver does, so the cost of not sharing can be measured.
//! aufs did this job before overlay (branches `br=rw:ro:ro`), never entered
//! mainline Linux, and left us its `.wh.` whiteout names in layer tars.

use clap::Parser;
use wharf::cgroup::Limits;
use wharf::cli::flags::{ExecFlags, LayerFlags, LimitFlags, NamespaceFlags, PrintSpecFlag};
use wharf::cli::lesson::{self, Lesson};
use wharf::cli::union_demo as demo;
use wharf::container::{ChapterFlags, ContainerDir, OciSpec, Runtime, SpecBuilder};
use wharf::union::changes;
use wharf::union::Rootfs;

const NAME: &str = "ch05-union";

/// Run a command on a root assembled from read-only layers.
#[derive(Debug, Parser)]
#[command(name = "ch05-union", version)]
struct Args {
    #[command(flatten)]
    lesson: Lesson,

    /// `exec PID -- CMD`: enter a running container (chapter 04's exec).
    #[command(subcommand)]
    exec: Option<ExecFlags>,

    /// Which namespaces to create (default: all but --user).
    #[command(flatten)]
    ns: NamespaceFlags,

    /// The hostname inside the new UTS namespace.
    #[arg(long)]
    hostname: Option<String>,

    #[command(flatten)]
    union: LayerFlags,

    #[command(flatten)]
    limits: LimitFlags,

    /// Make three small layers from the built-in rootfs, start two
    /// containers on them at once, and compare both drivers.
    #[arg(long, conflicts_with_all = ["layer", "layers", "keep", "id"])]
    demo: bool,

    /// With --demo: containers to start with each driver for the comparison.
    #[arg(long, value_name = "N", default_value_t = 5, requires = "demo",
          value_parser = clap::value_parser!(u32).range(1..=50))]
    containers: u32,

    #[command(flatten)]
    spec: PrintSpecFlag,

    /// The command to run inside, after `--`.
    #[arg(last = true, value_name = "CMD")]
    cmd: Vec<String>,
}

fn main() {
    let args = Args::parse();
    args.lesson.start();
    lesson::finish(NAME, chapter(&args))
}

/// The container the flags describe, on the root at `root`: chapter 04's,
/// without chapter 08's hardening.
fn describe(args: &Args, root: &std::path::Path, limits: &Limits) -> OciSpec {
    let flags = ChapterFlags {
        ns: args.ns.ns(),
        hostname: args.hostname.as_deref(),
        limits: *limits,
    };
    SpecBuilder::unhardened(root, args.cmd.clone(), &flags).build()
}

fn chapter(args: &Args) -> anyhow::Result<i32> {
    let limits = args.limits.limits().parse()?;
    if let Some(code) = args
        .spec
        .print(|| Ok(describe(args, "rootfs".as_ref(), &limits)))?
    {
        return Ok(code);
    }
    lesson::require_root(NAME)?;
    if let Some(exec) = &args.exec {
        let new = args.ns.ns().chosen() || args.limits.limits().given();
        let more = args.hostname.is_some() || args.union.layers().given() || args.demo;
        return exec.run(new || more);
    }
    if args.demo {
        return demo::run(args.union.layers().driver, args.containers);
    }
    args.ns.ns().check(args.hostname.as_deref())?;
    if !args.ns.ns().effective().mount {
        anyhow::bail!("{NAME} needs a mount namespace (--mount): the overlay is mounted inside it, where the host cannot see it");
    }
    if args.cmd.is_empty() {
        anyhow::bail!("no command given: add one after `--`, e.g. `{NAME} --layer DIR -- /bin/sh`");
    }
    let lowers = args.union.lowers()?;

    // ANCHOR: prepare
    let mut dir = ContainerDir::create(args.union.layers().id.as_deref())?;
    dir.keep(args.union.layers().keep);
    let mut root = Rootfs::prepare(args.union.layers().driver, &lowers, &dir.path)?;
    // ANCHOR_END: prepare

    // ANCHOR: run
    // The spec these flags describe (see --print-spec), built into a
    // container by wharf::container: the overlay is mounted in the child,
    // in its new mount namespace, by `root` (its build_root hook).
    let spec = describe(args, &root.root(), &limits);
    let ran = Runtime::default_root().run(&dir.id, &dir.path, &spec, &mut root)?;
    // ANCHOR_END: run
    if let Some(usage) = &ran.usage {
        eprint!("{usage}");
    }

    report(&root, &dir.id, args.union.layers().keep)?;
    Ok(ran.exit_code())
}

/// Tell the learner where the container's writes went.
fn report(root: &Rootfs, id: &str, keep: bool) -> anyhow::Result<()> {
    eprintln!(
        "{NAME}: container {id} ran on {} layer(s) with the {} driver;",
        root.lowers.len(),
        root.driver
    );
    for line in changes::report(root)? {
        eprintln!("{NAME}: {line}");
    }
    let fate = if keep { "kept" } else { "removed" };
    eprintln!("{NAME}: {fate} {}", root.dir.display());
    Ok(())
}
