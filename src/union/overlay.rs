//! The overlay driver: the kernel merges the layers for us.
//!
//! `mount -t overlay overlay -o lowerdir=TOP:...:BOTTOM,upperdir=U,workdir=W M`
//! shows at M the union of the lower dirs (the leftmost wins a name clash)
//! with U on top. The kernel never writes a lower dir: the first write to a
//! lower file copies it up into U, a delete leaves a whiteout (a 0/0
//! character device) in U. W is the kernel's scratch space for making those
//! changes atomically; it must be on the same filesystem as U.
//!
//! Before overlay there was aufs (`mount -t aufs -o br=RW:RO:RO`, branches
//! named by `si_` ids in sysfs); it never entered mainline Linux. Its way of
//! marking deletes, `.wh.NAME` files, lives on in image layer tars (ch06).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::Context;
use nix::mount::{MntFlags, MsFlags};

use super::{check_option_path, Rootfs};
use crate::sys;

/// The most lower layers one overlay accepts (`OVL_MAX_STACK` in the kernel).
pub const MAX_LOWERS: usize = 500;

/// mount(2) copies at most one page of option data from us.
pub const MAX_OPTIONS: usize = 4095;

/// Filesystems that cannot hold an overlay's upper and work dirs, and why.
const BAD_UPPER: [(i64, &str, &str); 7] = [
    (0x794c_7630, "overlay", "overlayfs cannot use another overlay as its upper dir: the upper fs must support whiteouts, xattrs and O_TMPFILE itself"),
    (0x6969, "nfs", "NFS lacks the trusted.* xattrs and whiteouts an upper dir needs"),
    (0x4d44, "vfat", "FAT has no owners, no xattrs and no device nodes for whiteouts"),
    (0x858_458f6, "ramfs", "ramfs has no xattrs: the kernel mounts the overlay anyway but cannot mark opaque dirs, so `rm -rf d; mkdir d` would bring the lower files back"),
    (0x7371_7368, "squashfs", "squashfs is read-only"),
    (0x9660, "iso9660", "iso9660 is read-only"),
    (0xf15f, "ecryptfs", "ecryptfs cannot store overlay's whiteouts and xattrs"),
];

/// Check everything the kernel would refuse, then make upper, work and
/// merged. On a refusal nothing is created.
pub fn prepare(rootfs: &Rootfs) -> anyhow::Result<()> {
    check_lowers(rootfs.lowers.len())?;
    check_option_path(&rootfs.dir)?;
    check_options_fit(&options(rootfs))?;
    check_upper_fs(&rootfs.dir)?;
    for sub in ["upper", "work", "merged"] {
        let d = rootfs.dir.join(sub);
        std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
    }
    check_d_type(&rootfs.dir)
}

/// `lowerdir=TOP:...:BOTTOM,upperdir=...,workdir=...,redirect_dir=off,metacopy=off`.
///
/// `redirect_dir=off` and `metacopy=off` keep the upper dir a plain tree of
/// whole files: a renamed directory is copied up rather than recorded as an
/// xattr pointing into a lower layer, and a chmod copies the data too. Only
/// such an upper dir can be exported as an image layer on its own.
pub fn options(rootfs: &Rootfs) -> String {
    let lowers: Vec<String> = rootfs
        .lowers
        .iter()
        .rev()
        .map(|p| p.display().to_string())
        .collect();
    format!(
        "lowerdir={},upperdir={},workdir={},redirect_dir=off,metacopy=off",
        lowers.join(":"),
        rootfs.dir.join("upper").display(),
        rootfs.dir.join("work").display()
    )
}

fn check_lowers(n: usize) -> anyhow::Result<()> {
    if n > MAX_LOWERS {
        anyhow::bail!(
            "{n} layers is too many for one overlay: the kernel stacks at most {MAX_LOWERS} lower dirs (OVL_MAX_STACK); squash some layers together"
        );
    }
    Ok(())
}

fn check_options_fit(opts: &str) -> anyhow::Result<()> {
    if opts.len() > MAX_OPTIONS {
        anyhow::bail!(
            "the overlay options are {} bytes but mount(2) passes at most {MAX_OPTIONS}: use shorter layer paths (Docker's overlay2 links each layer as l/<short id> for this reason)",
            opts.len()
        );
    }
    Ok(())
}

/// statfs the filesystem the upper dir will live on (its nearest existing
/// ancestor, since nothing is created yet) and refuse known bad ones.
fn check_upper_fs(dir: &Path) -> anyhow::Result<()> {
    let existing = dir
        .ancestors()
        .find(|a| a.exists())
        .unwrap_or(Path::new("/"));
    let fs = nix::sys::statfs::statfs(existing)
        .with_context(|| format!("statfs {}", existing.display()))?;
    let read_only = fs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY);
    refuse_upper(existing, fs.filesystem_type().0 as i64, read_only)
}

/// The verdict on what statfs said about `existing`: its filesystem type
/// (magic) and whether it is mounted read-only (`ST_RDONLY`).
fn refuse_upper(existing: &Path, magic: i64, read_only: bool) -> anyhow::Result<()> {
    if let Some((_, name, why)) = BAD_UPPER.iter().find(|(m, _, _)| *m == magic) {
        anyhow::bail!(
            "{} is on {name} (statfs type {magic:#x}), which cannot hold an overlay upper dir: {why}; set WHARF_ROOT to a directory on ext4, xfs, btrfs or tmpfs, or use --driver copy",
            existing.display()
        );
    }
    if read_only {
        anyhow::bail!(
            "{} is on a read-only mount (statfs reports ST_RDONLY), which cannot hold an overlay upper dir: every write in the container lands there; remount it read-write or set WHARF_ROOT to a writable directory",
            existing.display()
        );
    }
    Ok(())
}

/// Overlay needs the directory entry type (d_type) from readdir to find
/// whiteouts quickly; XFS made with ftype=0 does not report it. Read the
/// container dir we just made and see whether its entries carry a type.
fn check_d_type(dir: &Path) -> anyhow::Result<()> {
    let mut d = nix::dir::Dir::open(
        dir,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("opening {}", dir.display()))?;
    let untyped = d
        .iter()
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_bytes() == b"upper" && e.file_type().is_none());
    if untyped {
        let _ = std::fs::remove_dir_all(dir);
        anyhow::bail!(
            "the filesystem of {} does not report file types in readdir (d_type), which overlay needs for an upper dir (XFS made with ftype=0?): use another filesystem or --driver copy",
            dir.display()
        );
    }
    Ok(())
}

/// Mount the overlay at `<dir>/merged`.
pub fn mount(rootfs: &Rootfs) -> anyhow::Result<()> {
    let target = rootfs.root();
    sys::mount(
        Some(Path::new("overlay")),
        &target,
        Some("overlay"),
        MsFlags::empty(),
        Some(&options(rootfs)),
        "overlayfs merges the read-only layers (lowerdir, top first) under our writable upper dir: writes are copied up there, the layers stay shared and untouched",
    )?;
    Ok(())
}

/// Unmount `<dir>/merged` if an overlay sits there in this mount namespace.
pub fn unmount(rootfs: &Rootfs) -> anyhow::Result<()> {
    let target = rootfs.root();
    let here = std::fs::metadata(&target).map(|m| m.dev()).ok();
    let parent = std::fs::metadata(&rootfs.dir).map(|m| m.dev()).ok();
    if here.is_none() || here == parent {
        return Ok(());
    }
    sys::umount2(
        &target,
        MntFlags::empty(),
        "take the merged view away; the upper dir keeps the container's changes",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::union::Driver;
    use std::path::PathBuf;

    fn rootfs(lowers: &[&str]) -> Rootfs {
        Rootfs {
            driver: Driver::Overlay,
            lowers: lowers.iter().map(PathBuf::from).collect(),
            dir: PathBuf::from("/s/containers/abc"),
        }
    }

    #[test]
    fn lowerdir_lists_the_top_layer_first() {
        let o = options(&rootfs(&["/l/base", "/l/app", "/l/top"]));
        assert_eq!(
            o,
            "lowerdir=/l/top:/l/app:/l/base,upperdir=/s/containers/abc/upper,workdir=/s/containers/abc/work,redirect_dir=off,metacopy=off"
        );
    }

    #[test]
    fn too_many_layers_name_the_kernel_limit() {
        assert!(check_lowers(MAX_LOWERS).is_ok());
        let e = check_lowers(MAX_LOWERS + 1).unwrap_err().to_string();
        assert!(e.contains("OVL_MAX_STACK"), "{e}");
    }

    #[test]
    fn a_read_only_upper_fs_is_refused_in_one_line() {
        const EXT4: i64 = 0xef53;
        assert!(refuse_upper(Path::new("/s"), EXT4, false).is_ok());
        let e = refuse_upper(Path::new("/s"), EXT4, true)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/s is on a read-only mount"), "{e}");
        assert!(
            e.contains("remount it read-write") && !e.contains('\n'),
            "{e}"
        );
        // A filesystem that is bad anyway is named for what it is.
        let e = refuse_upper(Path::new("/s"), 0x7371_7368, true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("is on squashfs"), "{e}");
    }

    #[test]
    fn options_longer_than_a_page_are_refused() {
        let long: Vec<String> = (0..200)
            .map(|i| format!("/very/long/path/to/layer/number/{i:04}"))
            .collect();
        let refs: Vec<&str> = long.iter().map(String::as_str).collect();
        let e = check_options_fit(&options(&rootfs(&refs)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("mount(2) passes at most"), "{e}");
    }
}
