//! Union mounts (chapter 05): one root filesystem from many read-only
//! layers plus one writable directory per container.
//!
//! An image is a stack of layer directories. Every container started from it
//! needs a root that looks like all the layers laid on top of each other,
//! where it may write, while the layers stay shared and untouched. Two
//! drivers build that root:
//!
//! - [`Driver::Overlay`] asks the kernel: overlayfs shows the layers
//!   (`lowerdir`) merged under a writable `upperdir`. A write *copies up* the
//!   file into the upper dir first; a delete leaves a *whiteout* there. The
//!   layers are never written, so a hundred containers share one copy.
//! - [`Driver::Copy`] does it by hand, like Docker's `vfs`: copy every layer,
//!   lowest first, into a directory of the container's own. Simple, works on
//!   any filesystem, and costs the whole image in time and bytes per container.

pub mod changes;
pub mod copy;
pub mod overlay;

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::ns::run::Hooks;

/// How a container's root is assembled from its layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Driver {
    /// overlayfs: the layers are shared, only changes are stored.
    #[default]
    Overlay,
    /// A full copy of every layer per container (Docker's vfs).
    Copy,
}

impl std::fmt::Display for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Driver::Overlay => "overlay",
            Driver::Copy => "copy",
        })
    }
}

/// The layers and driver a container asks for (a chapter's `--layer`,
/// `--layers`, `--driver`, `--keep`, `--id`).
#[derive(Debug, Clone, Default)]
pub struct LayerArgs {
    /// A read-only layer directory; repeat it, lowest layer first.
    pub layer: Vec<PathBuf>,

    /// A directory whose subdirectories are the layers, lowest first in name order.
    pub layers: Option<PathBuf>,

    /// How to assemble the root from the layers.
    pub driver: Driver,

    /// Keep the container's directory (its upper dir or copy) after it exits.
    pub keep: bool,

    /// Name the container's directory (default: 12 random hex digits).
    pub id: Option<String>,
}

impl LayerArgs {
    /// Whether any of these flags was given on the command line.
    pub fn given(&self) -> bool {
        let chosen = !self.layer.is_empty() || self.layers.is_some() || self.id.is_some();
        chosen || self.keep || self.driver != Driver::default()
    }

    /// The layers, lowest first, as absolute paths; `fallback` gives the one
    /// layer to use when none was named (the built-in rootfs).
    pub fn lowers(
        &self,
        fallback: impl FnOnce() -> anyhow::Result<PathBuf>,
    ) -> anyhow::Result<Vec<PathBuf>> {
        let given = match &self.layers {
            Some(dir) => layers_in(dir)?,
            None => self.layer.clone(),
        };
        let dirs = if given.is_empty() {
            vec![fallback()?]
        } else {
            given
        };
        dirs.iter().map(|d| check_layer(d)).collect()
    }
}

/// The subdirectories of `dir`, sorted by name: a simple on-disk image.
pub fn layers_in(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).with_context(|| {
        format!(
            "--layers {}: cannot read it: give a directory of layer directories",
            dir.display()
        )
    })?;
    let mut layers: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    layers.sort();
    if layers.is_empty() {
        anyhow::bail!(
            "--layers {}: no layer directories inside: put one subdirectory per layer there",
            dir.display()
        );
    }
    Ok(layers)
}

/// A layer must be an existing directory whose path overlay can carry in
/// its option string (`,` separates options, `:` separates layers).
fn check_layer(dir: &Path) -> anyhow::Result<PathBuf> {
    let abs = dir.canonicalize().with_context(|| {
        format!(
            "layer {} does not exist: name an existing directory",
            dir.display()
        )
    })?;
    if !abs.is_dir() {
        anyhow::bail!(
            "layer {} is not a directory: a layer is a directory tree",
            dir.display()
        );
    }
    check_option_path(&abs)?;
    Ok(abs)
}

/// Refuse paths that would break overlay's comma- and colon-separated options.
pub(crate) fn check_option_path(p: &Path) -> anyhow::Result<()> {
    let s = p.to_string_lossy();
    if s.contains([',', ':', '\\']) {
        anyhow::bail!(
            "{} contains ',', ':' or '\\': overlay's mount options use them as separators; rename or move it",
            p.display()
        );
    }
    Ok(())
}

/// Remove a directory tree, but never through a mount point: a mounted
/// overlay below it would otherwise turn the removal into deletes inside
/// the merged view.
pub fn remove_tree(path: &Path) -> anyhow::Result<()> {
    let Ok(top) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if let Some(m) = find_mount_point(path, top.dev())? {
        anyhow::bail!(
            "not removing {}: {} is still a mount point (unmount it first)",
            path.display(),
            m.display()
        );
    }
    std::fs::remove_dir_all(path).with_context(|| format!("removing {}", path.display()))
}

/// The first directory below `path` that lives on another device than `dev`.
fn find_mount_point(path: &Path, dev: u64) -> anyhow::Result<Option<PathBuf>> {
    for entry in std::fs::read_dir(path)?.filter_map(Result::ok) {
        let meta = entry.metadata()?;
        if !meta.is_dir() {
            continue;
        }
        if meta.dev() != dev {
            return Ok(Some(entry.path()));
        }
        if let Some(m) = find_mount_point(&entry.path(), dev)? {
            return Ok(Some(m));
        }
    }
    Ok(None)
}

/// A container's root filesystem, assembled by one driver from its layers.
#[derive(Debug, Clone)]
pub struct Rootfs {
    pub driver: Driver,
    /// The read-only layers, lowest first.
    pub lowers: Vec<PathBuf>,
    /// The container's directory that holds everything below.
    pub dir: PathBuf,
}

impl Rootfs {
    /// Everything that can be done before the container's mount namespace
    /// exists: check the layers and the filesystem, make the directories,
    /// and for the copy driver, copy the layers. Runs in the parent, so a
    /// bad layer stops us before any namespace is made.
    pub fn prepare(driver: Driver, lowers: &[PathBuf], dir: &Path) -> anyhow::Result<Rootfs> {
        let rootfs = Rootfs {
            driver,
            lowers: lowers.to_vec(),
            dir: dir.to_path_buf(),
        };
        match driver {
            Driver::Overlay => overlay::prepare(&rootfs)?,
            Driver::Copy => copy::prepare(&rootfs)?,
        }
        Ok(rootfs)
    }

    /// The directory that becomes the container's `/`.
    pub fn root(&self) -> PathBuf {
        match self.driver {
            Driver::Overlay => self.dir.join("merged"),
            Driver::Copy => self.dir.join("rootfs"),
        }
    }

    /// Where the container's writes land: the upper dir, or the copy itself.
    pub fn changes(&self) -> PathBuf {
        match self.driver {
            Driver::Overlay => self.dir.join("upper"),
            Driver::Copy => self.root(),
        }
    }

    /// Make the root appear at [`Rootfs::root`] in *this* mount namespace
    /// (the child's, before pivot_root) and return it.
    pub fn mount(&self) -> anyhow::Result<PathBuf> {
        if self.driver == Driver::Overlay {
            overlay::mount(self)?;
        }
        Ok(self.root())
    }

    /// Undo [`Rootfs::mount`] in this mount namespace (a container's own
    /// namespace needs no unmount: the kernel drops its mounts with it).
    pub fn unmount(&self) -> anyhow::Result<()> {
        if self.driver == Driver::Overlay {
            overlay::unmount(self)?;
        }
        Ok(())
    }
}

/// A root mounted in *this* mount namespace, taken down again when the
/// guard is dropped: also when the caller fails half-way, so no mount is
/// left on a directory that is about to be removed.
pub struct Mounted<'a>(Option<&'a Rootfs>);

impl<'a> Mounted<'a> {
    /// [`Rootfs::mount`], guarded.
    pub fn new(rootfs: &'a Rootfs) -> anyhow::Result<Mounted<'a>> {
        rootfs.mount()?;
        Ok(Mounted(Some(rootfs)))
    }

    /// Unmount now, and say so if the kernel refuses (a busy mount).
    pub fn unmount(mut self) -> anyhow::Result<()> {
        self.0.take().map_or(Ok(()), Rootfs::unmount)
    }
}

impl Drop for Mounted<'_> {
    fn drop(&mut self) {
        if let Some(rootfs) = self.0.take() {
            let _ = rootfs.unmount();
        }
    }
}

/// Chapter 05's hook: mount the union in the child, before pivot_root.
impl Hooks for Rootfs {
    fn build_root(&mut self, _rootfs: &Path) -> anyhow::Result<PathBuf> {
        self.mount()
    }
}

/// Bytes a tree takes on disk (allocated blocks, as `du` counts them),
/// counting a hardlinked file once and never crossing into another mount.
pub fn disk_usage(path: &Path) -> anyhow::Result<u64> {
    let top =
        std::fs::symlink_metadata(path).with_context(|| format!("stat {}", path.display()))?;
    let mut seen = HashSet::new();
    Ok(top.blocks() * 512 + usage_below(path, top.dev(), &mut seen)?)
}

fn usage_below(dir: &Path, dev: u64, seen: &mut HashSet<u64>) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)?.filter_map(Result::ok) {
        let meta = entry.metadata()?;
        if meta.dev() != dev || (meta.nlink() > 1 && !meta.is_dir() && !seen.insert(meta.ino())) {
            continue;
        }
        total += meta.blocks() * 512;
        if meta.is_dir() {
            total += usage_below(&entry.path(), dev, seen)?;
        }
    }
    Ok(total)
}

/// `1.2 MiB`: a byte count for people.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_separators_in_paths_are_refused() {
        assert!(check_option_path(Path::new("/a,b")).is_err());
        assert!(check_option_path(Path::new("/a:b")).is_err());
        assert!(check_option_path(Path::new("/var/lib/wharf/layers/1")).is_ok());
    }

    #[test]
    fn byte_counts_read_like_du() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }

    #[test]
    fn layers_dir_is_sorted_and_must_not_be_empty() {
        let t = tempfile::tempdir().unwrap();
        assert!(layers_in(t.path())
            .unwrap_err()
            .to_string()
            .contains("no layer directories"));
        for name in ["2-top", "1-base", "10-x"] {
            std::fs::create_dir(t.path().join(name)).unwrap();
        }
        std::fs::write(t.path().join("README"), "not a layer").unwrap();
        let names: Vec<String> = layers_in(t.path())
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["1-base", "10-x", "2-top"]);
    }
}
