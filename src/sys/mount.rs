//! The mount family, changing root, and the special files a rootfs needs.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};

use super::decode::{mnt_flags, ms_flags, opt_str, path as qpath, quote};
use super::{Call, SysError};

/// `mount(source, target, fstype, flags, data)`.
pub fn mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
    why: &str,
) -> Result<(), SysError> {
    let args = vec![
        opt_str(source.map(|p| p.as_os_str())),
        qpath(target),
        opt_str(fstype),
        ms_flags(flags),
        opt_str(data),
    ];
    Call::new("mount", args, why)
        .kernel(mount_effect(target, fstype, flags))
        .run(|| nix::mount::mount(source, target, fstype, flags, data))
}

fn mount_effect(target: &Path, fstype: Option<&str>, flags: MsFlags) -> String {
    let t = target.display();
    let prop =
        MsFlags::MS_PRIVATE | MsFlags::MS_SHARED | MsFlags::MS_SLAVE | MsFlags::MS_UNBINDABLE;
    if flags.intersects(prop) {
        let scope = if flags.contains(MsFlags::MS_REC) {
            " and every mount below it"
        } else {
            ""
        };
        format!(
            "propagation of {t}{scope} is now {}",
            ms_flags(flags & prop)
        )
    } else if flags.contains(MsFlags::MS_REMOUNT) {
        format!("{t} remounted with {}", ms_flags(flags))
    } else if flags.contains(MsFlags::MS_BIND) {
        format!("a bind mount now sits at {t}")
    } else {
        format!("a new {} mount now sits at {t}", fstype.unwrap_or("?"))
    }
}

/// `umount2(target, flags)`.
pub fn umount2(target: &Path, flags: MntFlags, why: &str) -> Result<(), SysError> {
    Call::new("umount2", vec![qpath(target), mnt_flags(flags)], why)
        .kernel(format!(
            "the mount at {} is detached; it goes away once nothing uses it",
            target.display()
        ))
        .run(|| nix::mount::umount2(target, flags))
}

/// `pivot_root(new_root, put_old)`: swap the root mount of this mount
/// namespace for `new_root`, parking the old root at `put_old`.
pub fn pivot_root(new_root: &Path, put_old: &Path, why: &str) -> Result<(), SysError> {
    Call::new("pivot_root", vec![qpath(new_root), qpath(put_old)], why)
        .kernel("the root mount of this mount namespace is now the new root; the old one sits on top of it until unmounted")
        .run(|| nix::unistd::pivot_root(new_root, put_old))
}

/// `chroot(path)`: change this process's root directory (only the path
/// lookup start; the mounts stay as they are).
pub fn chroot(path: &Path, why: &str) -> Result<(), SysError> {
    let target = match path.is_relative() {
        true => "the current directory".to_string(),
        false => path.display().to_string(),
    };
    Call::new("chroot", vec![qpath(path)], why)
        .kernel(format!("\"/\" now resolves to {target} for this process"))
        .run(|| nix::unistd::chroot(path))
}

/// `chdir(path)`.
pub fn chdir(path: &Path, why: &str) -> Result<(), SysError> {
    Call::new("chdir", vec![qpath(path)], why).run(|| nix::unistd::chdir(path))
}

/// The file types `mknod` can make here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Char,
    Block,
    Fifo,
}

/// `mknod(path, type|mode, makedev(major, minor))`: device nodes for /dev,
/// and the 0/0 character device that overlayfs reads as a whiteout.
pub fn mknod(
    path: &Path,
    kind: NodeKind,
    mode: u32,
    major: u64,
    minor: u64,
    why: &str,
) -> Result<(), SysError> {
    let (flag, name) = match kind {
        NodeKind::Char => (SFlag::S_IFCHR, "S_IFCHR"),
        NodeKind::Block => (SFlag::S_IFBLK, "S_IFBLK"),
        NodeKind::Fifo => (SFlag::S_IFIFO, "S_IFIFO"),
    };
    let args = vec![
        qpath(path),
        format!("{name}|0{mode:o}"),
        format!("makedev({major:#x}, {minor:#x})"),
    ];
    let dev = nix::sys::stat::makedev(major, minor);
    Call::new("mknod", args, why)
        .run(|| nix::sys::stat::mknod(path, flag, Mode::from_bits_truncate(mode), dev))
}

/// `lsetxattr(path, name, value, size, 0)`: e.g. `trusted.overlay.opaque`
/// that marks an overlay directory opaque.
pub fn setxattr(path: &Path, name: &str, value: &[u8], why: &str) -> Result<(), SysError> {
    let args = vec![
        qpath(path),
        quote(name),
        quote(std::ffi::OsStr::from_bytes(value)),
        value.len().to_string(),
        "0".into(),
    ];
    Call::new("lsetxattr", args, why).run(|| {
        let p = CString::new(path.as_os_str().as_bytes()).map_err(|_| nix::errno::Errno::EINVAL)?;
        let n = CString::new(name).map_err(|_| nix::errno::Errno::EINVAL)?;
        // SAFETY: valid NUL-terminated strings and a live buffer of value.len().
        let r = unsafe {
            libc::lsetxattr(
                p.as_ptr(),
                n.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        };
        nix::errno::Errno::result(r).map(drop)
    })
}

/// `fchdir(fd)`: change directory to an open directory — even one outside
/// our current root, which is how we reach a container's root after setns.
pub fn fchdir(fd: &std::os::fd::OwnedFd, shown_as: &str, why: &str) -> Result<(), SysError> {
    use std::os::fd::AsRawFd;
    Call::new(
        "fchdir",
        vec![format!("{}<{shown_as}>", fd.as_raw_fd())],
        why,
    )
    .run(|| nix::unistd::fchdir(fd))
}
