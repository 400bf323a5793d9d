//! Masked and read-only paths: the parts of /proc and /sys a container
//! must not read or write.
//!
//! /proc and /sys are only partly namespaced: /proc/kcore is the host's
//! memory, /proc/keys lists every key of the kernel's keyring,
//! /proc/sysrq-trigger can reboot the host, /proc/sys/kernel/* sets
//! host-wide knobs. runc hides the dangerous ones (a read-only empty tmpfs
//! over a directory, /dev/null over a file) and makes the rest read-only
//! (a bind mount of the path onto itself, remounted read-only). Both are
//! done once /proc and /sys are mounted in the container.

use std::path::{Path, PathBuf};

use anyhow::Context;
use nix::mount::MsFlags;
use nix::sys::statvfs::{statvfs, FsFlags};

use crate::sys;

/// runc's masked paths.
pub fn default_masked() -> Vec<String> {
    [
        "/proc/acpi",
        "/proc/asound",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/proc/scsi",
        "/sys/firmware",
        "/sys/devices/virtual/powercap",
    ]
    .map(String::from)
    .to_vec()
}

/// runc's read-only paths.
pub fn default_readonly() -> Vec<String> {
    [
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
    ]
    .map(String::from)
    .to_vec()
}

fn under(root: &Path, p: &str) -> PathBuf {
    root.join(p.trim_start_matches('/'))
}

/// Hide each path: a read-only tmpfs over a directory, the host's
/// /dev/null bound over a file. Paths that do not exist are skipped.
pub fn mask(root: &Path, paths: &[String]) -> anyhow::Result<()> {
    for p in paths {
        let target = under(root, p);
        let Ok(meta) = std::fs::symlink_metadata(&target) else {
            continue;
        };
        if meta.is_dir() {
            sys::mount(
                Some(Path::new("tmpfs")),
                &target,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None,
                "an empty read-only tmpfs hides this directory from the container",
            )
        } else {
            sys::mount(
                Some(Path::new("/dev/null")),
                &target,
                None,
                MsFlags::MS_BIND,
                None,
                "/dev/null bound over the file: reading it gives nothing, writing goes nowhere",
            )
        }
        .with_context(|| format!("masking {p}"))?;
    }
    Ok(())
}

/// The flags a remount must repeat: in a user namespace the kernel locks
/// nosuid/nodev/noexec/atime flags of a mount it inherited, and a remount
/// that leaves one out fails with EPERM. Read from statvfs of the mount.
fn kept_flags(path: &Path) -> anyhow::Result<MsFlags> {
    let f = statvfs(path)
        .with_context(|| format!("statvfs {}", path.display()))?
        .flags();
    let mut ms = MsFlags::empty();
    for (st, m) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(st) {
            ms |= m;
        }
    }
    Ok(ms)
}

/// Make each path read-only: bind it onto itself (so it is a mount of its
/// own), then remount that bind read-only, nosuid, nodev, noexec, keeping
/// the flags the kernel may have locked. Absent paths are skipped.
pub fn readonly(root: &Path, paths: &[String]) -> anyhow::Result<()> {
    for p in paths {
        let target = under(root, p);
        if std::fs::symlink_metadata(&target).is_err() {
            continue;
        }
        sys::mount(
            Some(&target),
            &target,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
            "a bind mount of the path onto itself, so it can get flags of its own",
        )
        .with_context(|| format!("binding {p} onto itself"))?;
        let flags = MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC
            | kept_flags(&target)?;
        sys::mount(
            None,
            &target,
            None,
            flags,
            None,
            "read-only: the container may read these host-wide kernel settings, not change them",
        )
        .with_context(|| format!("remounting {p} read-only"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_joining() {
        assert!(default_masked().contains(&"/proc/kcore".to_string()));
        assert_eq!(default_masked().len(), 11);
        assert_eq!(default_readonly().len(), 5);
        assert_eq!(
            under(Path::new("/r"), "/proc/sys"),
            Path::new("/r/proc/sys")
        );
    }
}
