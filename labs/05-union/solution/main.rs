//! Lab 05 — union mounts, the reference solution (see labs/05-union/README.md).

use std::path::{Path, PathBuf};

use clap::Parser;
use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use wharf::cli::lesson::{self, Lesson};
use wharf::rootfs::{self, exec, pivot};
use wharf::sys::{self, Fork};

const NAME: &str = "lab05-union";

/// Run a command on an overlay of layers.
#[derive(Debug, Parser)]
#[command(name = "lab05-union")]
struct Args {
    #[command(flatten)]
    lesson: Lesson,

    /// A read-only layer directory; repeat it, lowest layer first
    /// (default: the built-in rootfs alone).
    #[arg(long = "layer", value_name = "DIR")]
    layers: Vec<PathBuf>,

    /// The hostname inside the new UTS namespace.
    #[arg(long)]
    hostname: Option<String>,

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
    let lowers = match args.layers.is_empty() {
        true => vec![rootfs::choose(None)?],
        false => args.layers.clone(),
    };
    if let Some(missing) = lowers.iter().find(|l| !l.is_dir()) {
        anyhow::bail!("--layer {}: not a directory", missing.display());
    }
    // The container's own directory: its upper, work and merged dirs.
    let dir = wharf::paths::containers_dir().join(format!("lab05-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let ran = container(args, &lowers, &dir);
    // The overlay was mounted in the child's mount namespace, and went
    // with it: what is left is plain directories.
    let _ = std::fs::remove_dir_all(&dir);
    ran
}

fn container(args: &Args, lowers: &[PathBuf], dir: &Path) -> anyhow::Result<i32> {
    let flags = CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWNET;
    let mut child = match sys::clone(flags, "start the child in fresh namespaces")? {
        Fork::Child => lesson::finish(NAME, inside(args, lowers, dir)),
        Fork::Parent(child) => child,
    };
    child.release();
    let status = sys::wait(child.pid, "wait for the container's command")?;
    Ok(status.exit_code())
}

/// The child: private mounts first, so that the overlay is seen only in
/// this mount namespace; then your overlay; then into it.
fn inside(args: &Args, lowers: &[PathBuf], dir: &Path) -> anyhow::Result<i32> {
    pivot::make_private()?;
    make_dirs(dir)?;
    let merged = dir.join("merged");
    mount_overlay(&overlay_options(lowers, dir), &merged)?;
    if let Some(name) = &args.hostname {
        sys::sethostname(name, "the container's own hostname")?;
    }
    pivot::mount_proc(&merged)?;
    pivot::pivot_into(&merged)?;
    Err(exec::exec(
        &args.cmd,
        &exec::default_env(args.hostname.as_deref()),
    ))
}

/// Step 1. The directories overlay needs in `dir`: `upper` (where the
/// container's writes land), `work` (overlay's scratch space, on the same
/// filesystem as upper) and `merged` (where the union is mounted).
fn make_dirs(dir: &Path) -> anyhow::Result<()> {
    for d in ["upper", "work", "merged"] {
        std::fs::create_dir(dir.join(d))?;
    }
    Ok(())
}

/// Step 2. The overlay's mount options: the lower layers, the upper dir,
/// the work dir. `lowers` is lowest first, as given on the command line.
fn overlay_options(lowers: &[PathBuf], dir: &Path) -> String {
    // overlay reads lowerdir left to right, topmost layer first: a file
    // in an earlier one hides the same path in the later ones.
    let lower: Vec<String> = lowers
        .iter()
        .rev()
        .map(|l| l.display().to_string())
        .collect();
    format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        dir.join("upper").display(),
        dir.join("work").display()
    )
}

/// Step 3. Mount the overlay at `merged`.
fn mount_overlay(options: &str, merged: &Path) -> anyhow::Result<()> {
    sys::mount(
        Some(Path::new("overlay")),
        merged,
        Some("overlay"),
        MsFlags::empty(),
        Some(options),
        "union the layers: reads fall through to the lowers, writes land in upper",
    )?;
    Ok(())
}
