//! The copy driver: build the root by copying every layer, lowest first,
//! into the container's own directory (what Docker's `vfs` driver does).
//!
//! A later layer's file replaces an earlier one's; a directory in both is
//! merged. Owners and modes are kept (owner first: chown clears set-uid
//! bits), symlinks are copied as links, and files hardlinked within a layer
//! stay hardlinked. Nothing is shared: every container pays for the whole
//! image in bytes and in time, which is why overlay exists.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::Rootfs;
use crate::sys;

/// Make `<dir>/rootfs` and copy each layer into it, lowest first.
pub fn prepare(rootfs: &Rootfs) -> anyhow::Result<()> {
    let dest = rootfs.root();
    fs::create_dir_all(&dest).with_context(|| format!("creating {}", dest.display()))?;
    for layer in &rootfs.lowers {
        copy_layer(layer, &dest).with_context(|| format!("copying layer {}", layer.display()))?;
    }
    Ok(())
}

/// Copy one layer's tree over `dest`.
pub fn copy_layer(layer: &Path, dest: &Path) -> anyhow::Result<()> {
    let mut links = HashMap::new();
    copy_dir(layer, dest, &mut links)?;
    copy_meta(&fs::symlink_metadata(layer)?, dest)
}

fn copy_dir(src: &Path, dst: &Path, links: &mut HashMap<u64, PathBuf>) -> anyhow::Result<()> {
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let meta = fs::symlink_metadata(&from)?;
        copy_entry(&from, &to, &meta, links).with_context(|| format!("{}", from.display()))?;
    }
    Ok(())
}

fn copy_entry(
    from: &Path,
    to: &Path,
    meta: &fs::Metadata,
    links: &mut HashMap<u64, PathBuf>,
) -> anyhow::Result<()> {
    let ft = meta.file_type();
    clear_for(to, ft.is_dir())?;
    if ft.is_dir() {
        if !to.is_dir() {
            fs::create_dir(to)?;
        }
        copy_dir(from, to, links)?;
        return copy_meta(meta, to);
    }
    if meta.nlink() > 1 {
        if let Some(first) = links.get(&meta.ino()) {
            fs::hard_link(first, to)?;
            return Ok(());
        }
        links.insert(meta.ino(), to.to_path_buf());
    }
    if ft.is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(from)?, to)?;
        std::os::unix::fs::lchown(to, Some(meta.uid()), Some(meta.gid()))?;
        return Ok(());
    }
    if ft.is_file() {
        fs::copy(from, to)?;
    } else {
        make_node(to, meta)?;
    }
    copy_meta(meta, to)
}

/// A lower layer's entry is replaced by the upper one, except that two
/// directories merge.
fn clear_for(to: &Path, is_dir: bool) -> anyhow::Result<()> {
    match fs::symlink_metadata(to) {
        Err(_) => Ok(()),
        Ok(m) if m.is_dir() && is_dir => Ok(()),
        Ok(m) if m.is_dir() => Ok(fs::remove_dir_all(to)?),
        Ok(_) => Ok(fs::remove_file(to)?),
    }
}

/// Device nodes and fifos are made, not copied.
fn make_node(to: &Path, meta: &fs::Metadata) -> anyhow::Result<()> {
    let ft = meta.file_type();
    let kind = if ft.is_char_device() {
        sys::NodeKind::Char
    } else if ft.is_block_device() {
        sys::NodeKind::Block
    } else if ft.is_fifo() {
        sys::NodeKind::Fifo
    } else {
        anyhow::bail!("a socket cannot be copied into a root filesystem: remove it from the layer");
    };
    let (major, minor) = (
        nix::sys::stat::major(meta.rdev()),
        nix::sys::stat::minor(meta.rdev()),
    );
    let why = "the copy driver recreates the layer's special file in the container's copy";
    sys::mknod(to, kind, meta.mode() & 0o7777, major, minor, why)?;
    Ok(())
}

/// Owner first, then mode: chown clears set-uid and set-gid bits.
fn copy_meta(meta: &fs::Metadata, to: &Path) -> anyhow::Result<()> {
    std::os::unix::fs::lchown(to, Some(meta.uid()), Some(meta.gid()))?;
    fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_layers_win_and_directories_merge() {
        let t = tempfile::tempdir().unwrap();
        let (a, b, dest) = (
            t.path().join("a"),
            t.path().join("b"),
            t.path().join("dest"),
        );
        fs::create_dir_all(a.join("etc")).unwrap();
        fs::create_dir_all(b.join("etc")).unwrap();
        fs::write(a.join("etc/motd"), "a").unwrap();
        fs::write(a.join("etc/keep"), "a").unwrap();
        fs::write(b.join("etc/motd"), "b").unwrap();
        fs::create_dir_all(a.join("thing/sub")).unwrap();
        fs::write(b.join("thing"), "now a file").unwrap();
        std::os::unix::fs::symlink("motd", b.join("etc/link")).unwrap();
        fs::create_dir(&dest).unwrap();
        copy_layer(&a, &dest).unwrap();
        copy_layer(&b, &dest).unwrap();
        assert_eq!(fs::read_to_string(dest.join("etc/motd")).unwrap(), "b");
        assert_eq!(fs::read_to_string(dest.join("etc/keep")).unwrap(), "a");
        assert_eq!(
            fs::read_to_string(dest.join("thing")).unwrap(),
            "now a file"
        );
        assert_eq!(
            fs::read_link(dest.join("etc/link")).unwrap(),
            Path::new("motd")
        );
    }

    #[test]
    fn hardlinks_within_a_layer_stay_linked_and_modes_survive() {
        let t = tempfile::tempdir().unwrap();
        let (a, dest) = (t.path().join("a"), t.path().join("dest"));
        fs::create_dir(&a).unwrap();
        fs::write(a.join("one"), "x").unwrap();
        fs::hard_link(a.join("one"), a.join("two")).unwrap();
        fs::set_permissions(a.join("one"), fs::Permissions::from_mode(0o4755)).unwrap();
        fs::create_dir(&dest).unwrap();
        copy_layer(&a, &dest).unwrap();
        let (m1, m2) = (
            fs::metadata(dest.join("one")).unwrap(),
            fs::metadata(dest.join("two")).unwrap(),
        );
        assert_eq!(m1.ino(), m2.ino());
        assert_ne!(m1.ino(), fs::metadata(a.join("one")).unwrap().ino());
        assert_eq!(m1.mode() & 0o7777, 0o4755);
    }
}
