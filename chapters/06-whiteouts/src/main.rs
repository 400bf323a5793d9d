//! Chapter 06 — whiteouts: deleting what a lower layer has.
//!
//! Lower layers are read-only, so `rm` inside a container cannot delete
//! their files. overlayfs writes a *whiteout* into the upper dir instead (a
//! character device 0/0), and `rm -rf dir; mkdir dir` leaves an *opaque*
//! directory (xattr trusted.overlay.opaque=y). Chapter 05's container does
//! the deleting; its overlay goes with its mount namespace, the upper dir
//! stays. Exported as an image layer, the markers become aufs-style `.wh.`
//! entries; applying the layer turns them back into deletions.

use std::path::PathBuf;

use clap::Parser;
use nix::sched::CloneFlags;
use wharf::cli::flags::{LayerFlags, LimitFlags, NamespaceFlags, PrintSpecFlag};
use wharf::cli::lesson::{self, Lesson};
use wharf::container::{ChapterFlags, ContainerDir, OciSpec, Runtime, SpecBuilder};
use wharf::layer::{self, demo, ApplyOptions, ExportStats};
use wharf::union::{Driver, Mounted, Rootfs};
use wharf::{rootfs, sys};

const NAME: &str = "ch06-whiteouts";

/// Delete lower-layer files in a container (default layers: the built-in
/// rootfs and two demo layers), export its upper dir as a layer, apply it.
#[derive(Debug, Parser)]
#[command(name = "ch06-whiteouts", version)]
struct Args {
    #[command(flatten)]
    lesson: Lesson,

    #[command(flatten)]
    ns: NamespaceFlags,

    /// The hostname inside the new UTS namespace.
    #[arg(long)]
    hostname: Option<String>,

    #[command(flatten)]
    union: LayerFlags,

    #[command(flatten)]
    limits: LimitFlags,

    /// The file to `rm` inside, relative to the container's root.
    #[arg(long, value_name = "PATH", default_value = "etc/motd")]
    rm: PathBuf,

    /// The directory to `rm -rf` and `mkdir` again inside.
    #[arg(long, value_name = "DIR", default_value = "etc/config")]
    recreate: PathBuf,

    #[command(flatten)]
    spec: PrintSpecFlag,
}

fn main() {
    let args = Args::parse();
    args.lesson.start();
    lesson::finish(NAME, chapter(&args))
}

/// Chapter 05's container, on the root at `root`, running the deletions.
fn describe(args: &Args, root: &std::path::Path) -> anyhow::Result<OciSpec> {
    let flags = ChapterFlags {
        ns: args.ns.ns(),
        hostname: args.hostname.as_deref(),
        limits: args.limits.limits().parse()?,
    };
    let cmd = demo::deletions(&args.rm, &args.recreate);
    Ok(SpecBuilder::unhardened(root, cmd, &flags).build())
}

fn chapter(args: &Args) -> anyhow::Result<i32> {
    if let Some(code) = args.spec.print(|| describe(args, "rootfs".as_ref()))? {
        return Ok(code);
    }
    lesson::require_root(NAME)?;
    args.ns.ns().check(args.hostname.as_deref())?;
    if !args.ns.ns().effective().mount || args.union.layers().driver != Driver::Overlay {
        anyhow::bail!("{NAME} needs a mount namespace and the overlay driver: only an overlay in the container's own namespace records deletions as whiteouts");
    }
    args.limits.limits().parse()?; // a bad limit is refused before anything is made
    let mut dir = ContainerDir::create(args.union.layers().id.as_deref())?;
    dir.keep(args.union.layers().keep);
    let lowers = demo::lowers(&args.union.resolved()?, &dir.path)?;
    demo::check_targets(&lowers, &args.rm, &args.recreate)?;

    // ANCHOR: delete
    let mut root = Rootfs::prepare(Driver::Overlay, &lowers, &dir.path)?;
    let spec = describe(args, &root.root())?;
    println!(
        "In the container: {}",
        demo::deletions(&args.rm, &args.recreate)[2]
    );
    let ran = Runtime::default_root().run(&dir.id, &dir.path, &spec, &mut root)?;
    ran.usage.iter().for_each(|usage| eprint!("{usage}"));
    if ran.exit_code() != 0 {
        anyhow::bail!("the container's shell failed: {}", ran.status.describe());
    }
    // ANCHOR_END: delete

    // ANCHOR: upper
    let (upper, merged, tar) = (root.changes(), root.root(), dir.path.join("layer.tar"));
    println!("\nThe container is gone with its overlay; its upper dir holds (type+mode, uid:gid, path, what overlay makes of it):");
    print!("{}", layer::describe(&upper)?);
    // ANCHOR_END: upper

    // ANCHOR: mount
    let why = "a mount namespace of our own: the overlay we mount here is seen by us only";
    sys::unshare(CloneFlags::CLONE_NEWNS, why)?;
    rootfs::pivot::make_private()?;
    let mounted = Mounted::new(&root)?;
    let merged_view = layer::manifest(&merged)?;
    mounted.unmount()?;
    // ANCHOR_END: mount

    // ANCHOR: export
    let st: ExportStats = {
        // lab:solution-begin export the upper dir as a layer tar: a 0/0 whiteout becomes an empty .wh.NAME file, an opaque dir gets a .wh..wh..opq entry (wharf::layer::export_to_file)
        layer::export_to_file(&upper, &tar)?
        // lab:solution-end
    };
    let (n, w, o) = (st.entries, st.whiteouts, st.opaque_dirs);
    println!("\nExported as a layer tar: {n} entries, {w} whiteout(s), {o} opaque dir(s)");
    for entry in layer::list(std::fs::File::open(&tar)?)? {
        println!("  {entry}");
    }
    // ANCHOR_END: export

    // ANCHOR: apply
    let copy = dir.path.join("applied");
    layer::flatten(&lowers, &copy)?;
    // lab:solution-begin apply the layer tar onto the flattened copy: each .wh. entry deletes from the layers below and leaves no file behind (wharf::layer::apply_file)
    layer::apply_file(&tar, &copy, &ApplyOptions::default())?;
    // lab:solution-end
    let verdict = |ok: bool, what: &'static str| if ok { what } else { "DIFFERENT" };
    let diff = merged_view.diff(&layer::manifest(&copy)?);
    let same = verdict(diff.is_empty(), "same tree as the overlay showed");
    println!("\nApplied onto a copy of the lower layers: {same}");
    diff.iter().for_each(|line| println!("  {line}"));
    // ANCHOR_END: apply

    // ANCHOR: reupper
    let restored = dir.path.join("restored-upper");
    // lab:solution-begin apply the layer tar as an overlay upper dir: .wh.NAME becomes a 0/0 device again, .wh..wh..opq the opaque xattr (ApplyOptions::overlay_upper)
    layer::apply_file(&tar, &restored, &ApplyOptions::overlay_upper())?;
    // lab:solution-end
    let back = layer::manifest(&restored)? == layer::manifest(&upper)?.layer_content();
    let back_said = verdict(back, "whiteouts and opaque dirs are back");
    println!("Applied as an overlay upper dir: {back_said}");
    // ANCHOR_END: reupper

    if !diff.is_empty() || !back {
        anyhow::bail!("the round trip changed the tree (see above)");
    }
    if args.union.layers().keep {
        println!("\nLook around: {}", dir.path.display());
    }
    Ok(0)
}
