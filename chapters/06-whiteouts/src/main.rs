//! Chapter 06 — whiteouts: deleting what a lower layer has.
//!
//! Lower layers are read-only, so `rm` inside a container cannot delete
//! their files. overlayfs writes a *whiteout* into the upper dir instead (a
//! character device 0/0), and `rm -rf dir; mkdir dir` leaves an *opaque*
//! directory (xattr trusted.overlay.opaque=y). Shipping the upper dir as an
//! image layer turns those into aufs-style `.wh.` entries; applying the
//! layer turns them back into deletions. This lesson makes the whole trip.

use std::fs::File;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use nix::sched::CloneFlags;
use wharf::cli::lesson::{self, Lesson};
use wharf::layer::{self, ApplyOptions};
use wharf::union::{Driver, Rootfs};
use wharf::{paths, sys};

/// Delete lower-layer files in an overlay, export the change as a layer
/// tar, and apply it again.
#[derive(Debug, Parser)]
#[command(name = "ch06-whiteouts", version)]
struct Args {
    #[command(flatten)]
    lesson: Lesson,

    /// A lower layer directory; repeat, lowest first (default: two demo
    /// layers built under the state root).
    #[arg(long = "layer", value_name = "DIR")]
    layers: Vec<PathBuf>,

    /// The file to `rm`, relative to the container's root.
    #[arg(long, value_name = "PATH", default_value = "etc/motd")]
    rm: PathBuf,

    /// The directory to `rm -rf` and `mkdir` again.
    #[arg(long, value_name = "DIR", default_value = "etc/config")]
    recreate: PathBuf,
}

fn main() {
    let args = Args::parse();
    args.lesson.start();
    lesson::finish("ch06-whiteouts", chapter(&args))
}

fn chapter(args: &Args) -> anyhow::Result<i32> {
    lesson::require_root("ch06-whiteouts")?;
    layer::demo::check_inside("--rm", &args.rm)?;
    layer::demo::check_inside("--recreate", &args.recreate)?;
    let dir = paths::state_root().join("ch06-whiteouts");
    let lowers = layer::demo::prepare_run(&dir, &args.layers)?;
    let rootfs = Rootfs::prepare(Driver::Overlay, &lowers, &dir)?;
    let (upper, merged, tar) = (rootfs.changes(), rootfs.root(), dir.join("layer.tar"));

    // ANCHOR: mount
    let why = "a mount namespace of our own: the overlay is seen by this process only";
    sys::unshare(CloneFlags::CLONE_NEWNS, why)?;
    wharf::rootfs::pivot::make_private()?;
    let mounted = Mounted::new(&rootfs)?;
    // ANCHOR_END: mount

    // ANCHOR: delete
    let (rm, re) = (merged.join(&args.rm), merged.join(&args.recreate));
    std::fs::remove_file(&rm).with_context(|| format!("cannot rm {}", rm.display()))?;
    std::fs::remove_dir_all(&re).with_context(|| format!("cannot rm -rf {}", re.display()))?;
    std::fs::create_dir(&re)?;
    std::fs::write(re.join("fresh.conf"), "made after rm -rf\n")?;
    let (f, d) = (args.rm.display(), args.recreate.display());
    println!("rm {f}; rm -rf {d}; mkdir {d}; echo > {d}/fresh.conf");
    // ANCHOR_END: delete

    // ANCHOR: upper
    println!("\nThe upper dir now holds (type+mode, uid:gid, path, what overlay makes of it):");
    print!("{}", layer::describe(&upper)?);
    let merged_view = layer::manifest(&merged)?;
    mounted.unmount()?;
    // ANCHOR_END: upper

    // ANCHOR: export
    let st = layer::export_to_file(&upper, &tar)?;
    let (n, w, o) = (st.entries, st.whiteouts, st.opaque_dirs);
    println!("\nExported as a layer tar: {n} entries, {w} whiteouts, {o} opaque dirs");
    for entry in layer::list(File::open(&tar)?)? {
        println!("  {entry}");
    }
    // ANCHOR_END: export

    // ANCHOR: apply
    let copy = dir.join("applied");
    layer::flatten(&lowers, &copy)?;
    layer::apply_file(&tar, &copy, &ApplyOptions::default())?;
    let diff = merged_view.diff(&layer::manifest(&copy)?);
    let same = verdict(diff.is_empty(), "same tree as the overlay showed");
    println!("\nApplied onto a copy of the lower layers: {same}");
    for line in &diff {
        println!("  {line}");
    }
    // ANCHOR_END: apply

    // ANCHOR: reupper
    let restored = dir.join("restored-upper");
    layer::apply_file(&tar, &restored, &ApplyOptions::overlay_upper())?;
    let back = layer::manifest(&restored)? == layer::manifest(&upper)?.layer_content();
    println!(
        "Applied as an overlay upper dir: {}",
        verdict(back, "whiteouts and opaque dirs are back")
    );
    // ANCHOR_END: reupper

    if !diff.is_empty() || !back {
        anyhow::bail!("the round trip changed the tree (see above)");
    }
    println!("\nLook around: {}", dir.display());
    Ok(0)
}

fn verdict(ok: bool, what: &str) -> &str {
    if ok {
        what
    } else {
        "DIFFERENT"
    }
}

/// The overlay, taken down when dropped: also when the lesson fails.
struct Mounted<'a>(Option<&'a Rootfs>);

impl<'a> Mounted<'a> {
    fn new(rootfs: &'a Rootfs) -> anyhow::Result<Self> {
        rootfs.mount()?;
        Ok(Mounted(Some(rootfs)))
    }

    /// The upper dir must be still before we read it as a layer.
    fn unmount(mut self) -> anyhow::Result<()> {
        self.0.take().map_or(Ok(()), Rootfs::unmount)
    }
}

impl Drop for Mounted<'_> {
    fn drop(&mut self) {
        if let Some(r) = self.0.take() {
            let _ = r.unmount();
        }
    }
}
