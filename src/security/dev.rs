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
use nix::mount::MsFlags;
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

/// Build the container's /dev in `root` (the new root, before pivot_root).
pub fn populate(root: &Path, devices: &[LinuxDevice], new_ipc: bool) -> anyhow::Result<()> {
    let dev = root.join("dev");
    mkdir(&dev)?;
    sys::mount(
        Some(Path::new("tmpfs")),
        &dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
        "a fresh tmpfs hides whatever /dev the image had; only the devices we make appear",
    )
    .context("mounting tmpfs on /dev")?;

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

    let pts = dev.join("pts");
    mkdir(&pts)?;
    sys::mount(
        Some(Path::new("devpts")),
        &pts,
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620,gid=5"),
        "a devpts instance of our own: the container sees its pseudo-terminals, not the host's",
    )
    .context("mounting devpts on /dev/pts")?;

    let shm = dev.join("shm");
    mkdir(&shm)?;
    sys::mount(
        Some(Path::new("shm")),
        &shm,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=1777,size=65536k"),
        "POSIX shared memory (shm_open) lives in /dev/shm; a tmpfs of its own keeps it apart from the host's",
    )
    .context("mounting tmpfs on /dev/shm")?;

    if new_ipc {
        let mq = dev.join("mqueue");
        mkdir(&mq)?;
        sys::mount(
            Some(Path::new("mqueue")),
            &mq,
            Some("mqueue"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None,
            "the mqueue filesystem shows the POSIX message queues of the mounting process's IPC namespace",
        )
        .context("mounting mqueue on /dev/mqueue")?;
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
