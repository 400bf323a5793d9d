//! A /dev of the container's own.
//!
//! The host's /dev holds every disk, every terminal and /dev/kmsg. A
//! container gets a small tmpfs instead, with only the harmless character
//! devices a program expects (null, zero, full, random, urandom, tty), a
//! devpts of its own for pseudo-terminals (`newinstance`: the container
//! sees only its own ptys, not the host's), a tmpfs for POSIX shared memory,
//! and, with its own IPC namespace, a mqueue filesystem. It is built in the
//! new root before pivot_root, as runc does.
//!
//! A device node is only a name with a (major, minor) pair; what stops a
//! container from making /dev/sda with `mknod` (Docker keeps CAP_MKNOD) is
//! the cgroup's device allow-list, not this module.

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceBuilder, LinuxDeviceType};

use crate::sys::{self, NodeKind};

/// runc's default devices: null 1:3, zero 1:5, full 1:7, random 1:8,
/// urandom 1:9, tty 5:0, all character devices with mode 0666.
pub fn default_devices() -> Vec<LinuxDevice> {
    [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .into_iter()
    .map(|(name, major, minor)| {
        LinuxDeviceBuilder::default()
            .path(PathBuf::from(format!("/dev/{name}")))
            .typ(LinuxDeviceType::C)
            .major(major)
            .minor(minor)
            .file_mode(0o666u32)
            .uid(0u32)
            .gid(0u32)
            .build()
            .expect("a complete device")
    })
    .collect()
}

/// Where a device's path lands below `root`; it must be below /dev.
fn node_path(root: &Path, dev: &LinuxDevice) -> anyhow::Result<PathBuf> {
    let p = dev.path();
    let rel = p
        .strip_prefix("/dev")
        .with_context(|| format!("device {} is not below /dev", p.display()))?;
    if rel.as_os_str().is_empty() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        bail!(
            "device path {} must name a file below /dev, without ..",
            p.display()
        );
    }
    Ok(root.join("dev").join(rel))
}

fn mkdir(p: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(p).with_context(|| format!("creating {}", p.display()))
}

/// Fill the container's /dev in `root` (the new root, before pivot_root)
/// with `devices` and the usual symlinks. The spec's mounts have put a
/// tmpfs at /dev (and devpts, shm, mqueue below it) already: an empty /dev
/// of the container's own, where only the nodes made here exist.
///
/// In a user namespace the kernel refuses mknod (a device node would let
/// a user-namespace root reach any driver). There, as runc does, each node
/// is the host's own node of that path bind-mounted onto an empty file:
/// the same device, with the host's permissions on it.
pub fn populate(root: &Path, devices: &[LinuxDevice], in_userns: bool) -> anyhow::Result<()> {
    let dev = root.join("dev");
    for d in devices {
        let path = node_path(root, d)?;
        if let Some(parent) = path.parent() {
            mkdir(parent)?;
        }
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => NodeKind::Char,
            LinuxDeviceType::B => NodeKind::Block,
            LinuxDeviceType::P => NodeKind::Fifo,
            LinuxDeviceType::A => bail!(
                "device {}: type \"a\" is for cgroup rules, not a node",
                d.path().display()
            ),
        };
        if in_userns {
            bind_host_node(&path, d.path())?;
            continue;
        }
        let mode = d.file_mode().unwrap_or(0o666) & 0o7777;
        let (major, minor) = (d.major(), d.minor());
        if major < 0 || minor < 0 {
            bail!("device {}: negative major/minor", d.path().display());
        }
        sys::mknod(
            &path,
            kind,
            mode,
            major as u64,
            minor as u64,
            "a device node is a name for a (major, minor) pair the kernel's driver answers",
        )
        .with_context(|| format!("creating device {}", d.path().display()))?;
        // mknod's mode passes through our umask; set it exactly.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("chmod {}", path.display()))?;
        if d.uid().is_some() || d.gid().is_some() {
            std::os::unix::fs::chown(&path, d.uid(), d.gid())
                .with_context(|| format!("chown {}", path.display()))?;
        }
    }

    // Ordinary symlinks: the names programs expect, pointing into devpts
    // and /proc (which the container mounts itself).
    for (name, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        let link = dev.join(name);
        symlink(target, &link)
            .with_context(|| format!("symlink {} -> {target}", link.display()))?;
    }
    Ok(())
}

/// The host's node at `host` (same path as in the container) bound onto
/// an empty file at `path`.
fn bind_host_node(path: &Path, host: &Path) -> anyhow::Result<()> {
    std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    sys::mount(
        Some(host),
        path,
        None,
        nix::mount::MsFlags::MS_BIND,
        None,
        "no mknod in a user namespace: bind the host's own node of this device instead",
    )
    .with_context(|| format!("binding device {}", host.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_runcs() {
        let d: Vec<(String, i64, i64)> = default_devices()
            .iter()
            .map(|d| (d.path().display().to_string(), d.major(), d.minor()))
            .collect();
        assert_eq!(d[0], ("/dev/null".into(), 1, 3));
        assert_eq!(d[5], ("/dev/tty".into(), 5, 0));
        assert_eq!(d.len(), 6);
    }

    #[test]
    fn device_paths_stay_below_dev() {
        let mut d = default_devices().remove(0);
        assert_eq!(
            node_path(Path::new("/r"), &d).unwrap(),
            Path::new("/r/dev/null")
        );
        d.set_path("/dev/../etc/passwd".into());
        assert!(node_path(Path::new("/r"), &d).is_err());
        d.set_path("/etc/null".into());
        assert!(node_path(Path::new("/r"), &d).is_err());
    }
}
