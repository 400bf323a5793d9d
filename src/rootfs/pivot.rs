//! Chapter 02: giving a new mount namespace a root of its own.
//!
//! chroot only moves where one process starts path lookups; pivot_root
//! swaps the root *mount* of the whole mount namespace. Once the old root
//! is unmounted there is nothing above `/` to climb back to.

use std::path::Path;

use nix::mount::{MntFlags, MsFlags};

use crate::sys;

/// Stop mount events from crossing between us and the host. Under systemd
/// `/` is a *shared* mount: without this, every mount we make inside our
/// new mount namespace would propagate back into the host's, and
/// pivot_root refuses to work on a shared parent mount.
pub fn make_private() -> anyhow::Result<()> {
    sys::mount(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
        "systemd makes / shared; without this our mounts would leak back to the host and pivot_root would fail",
    )?;
    Ok(())
}

/// Make `new_root` the root mount of this mount namespace and detach the
/// old root, so nothing of the host's filesystem stays reachable.
pub fn pivot_into(new_root: &Path) -> anyhow::Result<()> {
    sys::mount(
        Some(new_root),
        new_root,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
        "pivot_root needs the new root to be a mount point: bind-mount it onto itself",
    )?;
    sys::chdir(
        new_root,
        "pivot_root(\".\", \".\") works on the current directory",
    )?;
    sys::pivot_root(
        Path::new("."),
        Path::new("."),
        "swap the root mount: the rootfs becomes /, the old root is stacked on top of it",
    )?;
    sys::umount2(
        Path::new("."),
        MntFlags::MNT_DETACH,
        "detach the old root stacked on /: after this no path leads back to the host's files",
    )?;
    sys::chdir(Path::new("/"), "start from the new root")?;
    Ok(())
}

/// Mount a fresh procfs at `root`/proc: a procfs shows the processes of the
/// pid namespace of the process that mounts it, so `ps` inside sees only the
/// container. Done *before* pivot_root: inside a user namespace the kernel
/// lets us mount proc only while a full proc mount is still visible in our
/// mount namespace (the host's, until the old root is detached).
pub fn mount_proc(root: &Path) -> anyhow::Result<()> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    sys::mount(
        Some(Path::new("proc")),
        &root.join("proc"),
        Some("proc"),
        flags,
        None,
        "a procfs shows the pid namespace of whoever mounts it: now ps lists only our processes",
    )?;
    Ok(())
}
