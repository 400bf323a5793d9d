//! The image commands, with Docker's names and flags: `import`, `load`,
//! `save`, `images`, `tag`, `rmi`, `history`, and `image inspect|prune|unpack`.
//! The work is done by [`crate::image`]; here are the flags, the tables and
//! the progress bar.

mod inspect;
mod layers;
mod progress;
mod table;

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use crate::image::import::ImportOptions;
use crate::image::remove::{self, Removal};
use crate::image::save::Format;
use crate::image::{self as img, Lock, Reference, Store};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The rootfs tar (plain, gzip or zstd), or `-` for stdin.
    pub file: PathBuf,
    /// The name to give the image: NAME[:TAG].
    pub name: Option<String>,
    /// A Dockerfile instruction for the config: CMD, ENTRYPOINT, ENV,
    /// EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL (repeatable).
    #[arg(short, long = "change")]
    pub change: Vec<String>,
    /// A comment for the image's history.
    #[arg(short, long)]
    pub message: Option<String>,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The archive: a docker-archive or OCI layout, as a tar (maybe
    /// compressed) or a directory; `-` (the default) reads stdin.
    #[arg(short, long, default_value = "-")]
    pub input: PathBuf,
    /// Print only the loaded image IDs.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatFlag {
    DockerArchive,
    Oci,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Write to this file (`-`: stdout).
    #[arg(short, long, default_value = "-")]
    pub output: PathBuf,
    #[arg(long, value_enum, default_value_t = FormatFlag::DockerArchive)]
    pub format: FormatFlag,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Only images of this repository (`busybox`, `busybox:1`).
    pub repository: Option<String>,
    /// Show all images (wharf keeps no intermediate images: the same list).
    #[arg(short, long)]
    pub all: bool,
    /// Only image IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Show the manifest digests.
    #[arg(long)]
    pub digests: bool,
    /// Do not shorten IDs.
    #[arg(long)]
    pub no_trunc: bool,
    /// `json`: one JSON object per image and line, as `docker images --format json`.
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    pub source: String,
    pub target: String,
}

#[derive(Debug, Args)]
pub struct RmiArgs {
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Remove an image by ID even when it has several names.
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    pub image: String,
    #[arg(long)]
    pub no_trunc: bool,
    /// Only the image IDs.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct LayersArgs {
    pub image: String,
    /// List every wasted file, not only the ten largest.
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct DfArgs {
    /// Also each image's shared and unique size.
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct ImageArgs {
    #[command(subcommand)]
    pub command: ImageCommand,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Print what the store knows about images, as `docker image inspect`.
    Inspect {
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Remove dangling images (`-a`: every image), then unused blobs and layers.
    Prune {
        #[arg(short, long)]
        all: bool,
        /// Accepted for Docker's sake: wharf does not ask.
        #[arg(short, long)]
        force: bool,
    },
    /// Write the image's flattened root filesystem into DIR (as `umoci unpack`).
    Unpack { image: String, dir: PathBuf },
    /// The same as `wharf images`.
    Ls(ImagesArgs),
}

fn open(lock: Lock) -> anyhow::Result<Store> {
    Store::open(&crate::paths::state_root(), lock)
}

pub fn import(a: ImportArgs) -> anyhow::Result<i32> {
    crate::cli::lesson::require_root("wharf import")?;
    let name = a.name.as_deref().map(Reference::parse).transpose()?;
    let store = open(Lock::Exclusive)?;
    let opts = ImportOptions {
        changes: a.change,
        message: a.message,
    };
    let bar = progress::Bar::new("import");
    let done = if a.file == std::path::Path::new("-") {
        img::import::import(&store, std::io::stdin().lock(), name.as_ref(), &opts, &bar)?
    } else {
        let f = std::fs::File::open(&a.file)
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", a.file.display()))?;
        bar.total(f.metadata()?.len());
        img::import::import(&store, f, name.as_ref(), &opts, &bar)?
    };
    bar.done();
    println!("{}", done.id);
    Ok(0)
}

pub fn load(a: LoadArgs) -> anyhow::Result<i32> {
    crate::cli::lesson::require_root("wharf load")?;
    let store = open(Lock::Exclusive)?;
    let bar = progress::Bar::new("load");
    let loaded = img::load::load(&store, &a.input, &bar)?;
    bar.done();
    for l in loaded {
        if a.quiet || l.tags.is_empty() {
            println!("Loaded image ID: {}", l.id);
        }
        for t in l.tags.iter().filter(|_| !a.quiet) {
            println!("Loaded image: {}", t.familiar());
        }
    }
    Ok(0)
}

pub fn save(a: SaveArgs) -> anyhow::Result<i32> {
    use std::io::IsTerminal;
    if a.output == std::path::Path::new("-") && std::io::stdout().is_terminal() {
        anyhow::bail!(
            "cowardly refusing to write an archive to a terminal: use -o FILE or redirect"
        );
    }
    let store = open(Lock::Shared)?;
    let images = img::save::select(&store, &a.images)?;
    let format = match a.format {
        FormatFlag::DockerArchive => Format::DockerArchive,
        FormatFlag::Oci => Format::Oci,
    };
    let bar = progress::Bar::new("save");
    img::save::save(&store, &images, format, &a.output, &bar)?;
    bar.done();
    Ok(0)
}

pub fn images(a: ImagesArgs) -> anyhow::Result<i32> {
    let store = open(Lock::Shared)?;
    print!("{}", table::images(&store, &a)?);
    Ok(0)
}

pub fn tag(a: TagArgs) -> anyhow::Result<i32> {
    let store = open(Lock::Exclusive)?;
    img::tags::tag(&store, &a.source, &a.target)?;
    Ok(0)
}

pub fn rmi(a: RmiArgs) -> anyhow::Result<i32> {
    let store = open(Lock::Exclusive)?;
    // Every name is checked before anything is removed.
    for n in &a.images {
        let image = img::tags::resolve(&store, n)?;
        let users = crate::lifecycle::record::using_image(image.id().as_ref())?;
        if let (Some(c), false) = (users.first(), a.force) {
            anyhow::bail!(
                "conflict: unable to remove {n} (must be forced) - container {} ({}) is using it",
                c.short_id(),
                c.name
            );
        }
    }
    for n in &a.images {
        print_removals(&remove::rmi(&store, n, a.force)?);
    }
    Ok(0)
}

pub fn history(a: HistoryArgs) -> anyhow::Result<i32> {
    let store = open(Lock::Shared)?;
    let image = img::tags::resolve(&store, &a.image)?;
    print!("{}", table::history(&store, &image, a.no_trunc, a.quiet)?);
    Ok(0)
}

pub fn image(a: ImageArgs) -> anyhow::Result<i32> {
    match a.command {
        ImageCommand::Inspect { images } => {
            let store = open(Lock::Shared)?;
            let all = images
                .iter()
                .map(|n| inspect::json(&img::tags::resolve(&store, n)?))
                .collect::<anyhow::Result<Vec<_>>>()?;
            println!("{}", serde_json::to_string_pretty(&all)?);
        }
        ImageCommand::Prune { all, force: _ } => {
            let store = open(Lock::Exclusive)?;
            let (done, freed) = remove::prune(&store, all)?;
            print_removals(&done);
            println!("Total reclaimed space: {}", table::size(freed.bytes));
        }
        ImageCommand::Unpack { image, dir } => {
            crate::cli::lesson::require_root("wharf image unpack")?;
            let store = open(Lock::Shared)?;
            let image = img::tags::resolve(&store, &image)?;
            let bar = progress::Bar::new("unpack");
            img::unpack::unpack(&store, &image, &dir, &bar)?;
            bar.done();
        }
        ImageCommand::Ls(a) => return images(a),
    }
    Ok(0)
}

pub fn layers(a: LayersArgs) -> anyhow::Result<i32> {
    let store = open(Lock::Shared)?;
    let image = img::tags::resolve(&store, &a.image)?;
    print!(
        "{}",
        layers::layers(&img::layers::analyze(&store, &image)?, a.verbose)
    );
    Ok(0)
}

pub fn df(a: DfArgs) -> anyhow::Result<i32> {
    let store = open(Lock::Shared)?;
    let usage = img::df::usage(&store, &crate::paths::state_root())?;
    print!("{}", layers::df(&usage, a.verbose));
    Ok(0)
}

fn print_removals(done: &[Removal]) {
    for r in done {
        match r {
            Removal::Untagged(n) => println!("Untagged: {n}"),
            Removal::Deleted(d) => println!("Deleted: {d}"),
        }
    }
}
