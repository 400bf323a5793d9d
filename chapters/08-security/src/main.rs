//! Chapter 08 — one container from one spec, hardened.
//!
//! Chapter 07 assembled its container by hand. Here the same container is
//! first *described*, as the OCI runtime spec that runc reads (print it
//! with `--print-spec`), and then built from that description by
//! `wharf::container`, in two halves as the spec defines: `create` sets
//! everything up and leaves the init waiting just before execve on a FIFO;
//! `start` opens the FIFO and the init becomes the command.
//!
//! The hardening is what stops root in a container from being root on the
//! host: the capability sets, no_new_privs, a seccomp filter, a /dev with
//! only harmless devices, and /proc files masked or made read-only.

use clap::Parser;
use wharf::cli::flags::{
    ExecFlags, HardeningFlags, LayerFlags, LimitFlags, NamespaceFlags, PrintSpecFlag,
};
use wharf::cli::lesson::{self, Lesson};
use wharf::container::{ChapterFlags, ContainerDir, CreateOptions, Runtime, SpecBuilder};
use wharf::security;
use wharf::union::Rootfs;
use wharf::volume::{self, initlayer, Attached, WithVolumes};

const NAME: &str = "ch08-security";

/// Run a command in a container built from an OCI runtime spec.
#[derive(Debug, Parser)]
#[command(name = "ch08-security", version)]
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

    /// A volume: HOST:CTR[:ro], NAME:CTR[:ro] or CTR (as chapter 07).
    #[arg(short = 'v', long = "volume", value_name = "SPEC")]
    volume: Vec<String>,

    #[command(flatten)]
    harden: HardeningFlags,

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

/// The spec that the flags describe, for a root at `root`.
fn describe(
    args: &Args,
    root: &std::path::Path,
    hostname: Option<&str>,
) -> anyhow::Result<wharf::container::OciSpec> {
    let flags = ChapterFlags {
        ns: args.ns.ns(),
        hostname,
        limits: args.limits.limits().parse()?,
    };
    // The plain settings: --read-only, --systempaths, --init, device rules.
    let h = &args.harden;
    let mut b = h.settings(SpecBuilder::new(root, args.cmd.clone()).chapter(&flags))?;

    // ANCHOR: hardening
    // lab:solution-begin give the process Docker's 14 capabilities, changed by --cap-add/--cap-drop: b.capabilities(security::caps::with_changes(…)?)
    b = b.capabilities(security::caps::with_changes(&h.cap_add, &h.cap_drop)?);
    // lab:solution-end
    // lab:solution-begin no_new_privs (unless --no-new-privs false), and Docker's seccomp profile (unless --seccomp unconfined): security::seccomp::docker_default
    b = b
        .no_new_privileges(h.no_new_privs)
        .seccomp((h.seccomp == "default").then(security::seccomp::docker_default));
    // lab:solution-end
    // ANCHOR_END: hardening
    Ok(b.build())
}

fn chapter(args: &Args) -> anyhow::Result<i32> {
    let hostname = args.hostname.as_deref();
    if let Some(code) = args
        .spec
        .print(|| describe(args, "rootfs".as_ref(), hostname))?
    {
        return Ok(code);
    }
    lesson::require_root(NAME)?;
    let (ns, layers) = (args.ns.ns(), args.union.layers());
    if let Some(exec) = &args.exec {
        return exec.run(ns.chosen() || args.limits.limits().given() || !args.volume.is_empty());
    }
    ns.check(args.hostname.as_deref())?;
    if ns.effective().user {
        anyhow::bail!("{NAME} does not take --user: from inside a user namespace the kernel refuses (EPERM) the overlay of layers that the host's root owns; see a user namespace with `ch03-setns run --user --pid --mount -- /bin/sh`");
    }
    if args.cmd.is_empty() {
        anyhow::bail!("no command given: add one after `--`, e.g. `{NAME} -- /bin/sh`");
    }
    let specs = volume::parse_all(&args.volume)?;
    volume::check_sources(&specs)?;
    let image = args.union.lowers()?;
    let mut dir = ContainerDir::create(layers.id.as_deref())?;
    dir.keep(layers.keep);
    let hostname = args
        .hostname
        .clone()
        .or_else(|| ns.effective().uts.then(|| dir.id.clone()));

    // Chapter 07's root: the image's layers, an init layer, volumes.
    let init = initlayer::create(&dir.path, hostname.as_deref().unwrap_or(&dir.id), &image)?;
    let root = Rootfs::prepare(layers.driver, &[image, vec![init]].concat(), &dir.path)?;
    let vols = Attached::attach(&specs, &dir.id, false)?;
    let mut hooks = WithVolumes {
        rootfs: &root,
        mounts: &vols.mounts,
    };

    // ANCHOR: run
    let spec = describe(args, &root.root(), hostname.as_deref())?;
    // The devices cgroup too: its allow-list, not CAP_MKNOD, keeps the
    // host's disks out of reach.
    let opts = CreateOptions {
        oci_cgroups: true,
        ..Default::default()
    };
    let runtime = Runtime::default_root();
    let status = runtime.run_with(&dir.id, &dir.path, &spec, &mut hooks, &opts)?;
    // ANCHOR_END: run
    for line in volume::report(&root, &vols, &dir.id, layers.keep)? {
        eprintln!("{NAME}: {line}");
    }
    Ok(status.exit_code())
}
