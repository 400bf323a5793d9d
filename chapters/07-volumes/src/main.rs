//! Chapter 07 — volumes and the init layer.
//!
//! Chapter 05 put every write of the container into its upper dir, which
//! goes when the container goes. Data that must outlive it lives in a
//! *volume*: a host directory bind-mounted into the assembled root inside
//! the child's private mount namespace, after the overlay and before
//! pivot_root. The host never sees that mount, the data never enters the
//! upper dir, and `:ro` makes the kernel refuse writes through it (EROFS).
//!
//! Each container also needs /etc/hostname, /etc/hosts and
//! /etc/resolv.conf of its own. Like Docker, we write them into a small
//! *init layer* of the container's own, laid on top of the image's layers:
//! the image is never modified, and every container gets its own copies.

use std::path::{Path, PathBuf};

use clap::Parser;
use wharf::cgroup::Limits;
use wharf::cli::flags::{ExecFlags, LayerFlags, LimitFlags, NamespaceFlags, PrintSpecFlag};
use wharf::cli::lesson::{self, Lesson};
use wharf::container::{ChapterFlags, ContainerDir, OciSpec, Runtime, SpecBuilder};
use wharf::union::Rootfs;
use wharf::volume::{self, initlayer, Attached, WithVolumes};

const NAME: &str = "ch07-volumes";

/// Run a command on layers, with volumes and an init layer of its own.
#[derive(Debug, Parser)]
#[command(name = "ch07-volumes", version)]
struct Args {
    #[command(flatten)]
    lesson: Lesson,

    /// `exec PID -- CMD`: enter a running container (chapter 04's exec).
    #[command(subcommand)]
    exec: Option<ExecFlags>,

    /// Which namespaces to create (default: all but --user).
    #[command(flatten)]
    ns: NamespaceFlags,

    /// The hostname inside (default: the container id, as Docker does).
    #[arg(long)]
    hostname: Option<String>,

    #[command(flatten)]
    union: LayerFlags,

    #[command(flatten)]
    limits: LimitFlags,

    /// A volume: HOST:CTR[:ro], NAME:CTR[:ro] (a named volume) or CTR (an
    /// anonymous one). Repeat for more.
    #[arg(short = 'v', long = "volume", value_name = "SPEC")]
    volume: Vec<String>,

    /// Keep this container's anonymous volumes when it is removed.
    #[arg(long)]
    keep_volumes: bool,

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

/// The container the flags describe, on the root at `root`: chapter 05's,
/// without chapter 08's hardening. The volumes are not in it: they are
/// mounted by the hooks, as chapter 07 teaches.
fn describe(args: &Args, root: &Path, hostname: Option<&str>, limits: &Limits) -> OciSpec {
    let flags = ChapterFlags {
        ns: args.ns.ns(),
        hostname,
        limits: *limits,
    };
    SpecBuilder::unhardened(root, args.cmd.clone(), &flags).build()
}

fn chapter(args: &Args) -> anyhow::Result<i32> {
    let limits = args.limits.limits().parse()?;
    let hostname = args.hostname.as_deref();
    if let Some(code) = args
        .spec
        .print(|| Ok(describe(args, "rootfs".as_ref(), hostname, &limits)))?
    {
        return Ok(code);
    }
    lesson::require_root(NAME)?;
    if let Some(exec) = &args.exec {
        let new = args.ns.ns().chosen() || args.limits.limits().given();
        let more = args.hostname.is_some()
            || args.union.layers().given()
            || !args.volume.is_empty()
            || args.keep_volumes;
        return exec.run(new || more);
    }
    args.ns.ns().check(args.hostname.as_deref())?;
    if !args.ns.ns().effective().mount {
        anyhow::bail!("{NAME} needs a mount namespace (--mount): the overlay and the volumes are mounted inside it, where the host cannot see them");
    }
    if args.cmd.is_empty() {
        anyhow::bail!("no command given: add one after `--`, e.g. `{NAME} -v /data -- /bin/sh`");
    }
    // Every check that can fail comes before anything is made on disk.
    let specs = volume::parse_all(&args.volume)?;
    volume::check_sources(&specs)?;
    let image = args.union.lowers()?;

    let mut dir = ContainerDir::create(args.union.layers().id.as_deref())?;
    dir.keep(args.union.layers().keep);
    let uts = args.ns.ns().effective().uts;
    let hostname = args
        .hostname
        .clone()
        .or_else(|| uts.then(|| dir.id.clone()));

    // ANCHOR: initlayer
    let init: PathBuf = {
        // lab:solution-begin write the init layer (/etc/hostname, hosts, resolv.conf) for this container (wharf::volume::initlayer::create)
        initlayer::create(&dir.path, hostname.as_deref().unwrap_or(&dir.id), &image)?
        // lab:solution-end
    };
    let lowers = [image, vec![init]].concat();
    let root = Rootfs::prepare(args.union.layers().driver, &lowers, &dir.path)?;
    // ANCHOR_END: initlayer

    // ANCHOR: volumes
    let vols: Attached = {
        // lab:solution-begin resolve the -v specs into mounts: named, anonymous and host-path volumes (wharf::volume::Attached::attach)
        Attached::attach(&specs, &dir.id, args.keep_volumes)?
        // lab:solution-end
    };
    let mut volumes = WithVolumes {
        rootfs: &root,
        mounts: &vols.mounts,
    };
    let spec = describe(args, &root.root(), hostname.as_deref(), &limits);
    let ran = Runtime::default_root().run(&dir.id, &dir.path, &spec, &mut volumes)?;
    // ANCHOR_END: volumes
    ran.usage.iter().for_each(|usage| eprint!("{usage}"));

    for line in volume::report(&root, &vols, &dir.id, args.union.layers().keep)? {
        eprintln!("{NAME}: {line}");
    }
    Ok(ran.exit_code())
}
