//! Whiteouts made relative to an open directory: `mknodat` for overlay's
//! 0/0 character device and device nodes a layer brings, `fsetxattr` for
//! the opaque mark. Working from a directory fd (never a path string) means
//! a symlink swapped in meanwhile cannot redirect the call elsewhere.

use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

use nix::errno::Errno;

use super::decode::quote;
use super::{Call, NodeKind, SysError};

/// A directory fd as `strace -y` shows it: `5</var/lib/wharf/upper/etc>`.
fn fd_arg(dir: &impl AsFd, shown: &Path) -> String {
    format!("{}<{}>", dir.as_fd().as_raw_fd(), shown.display())
}

/// `mknodat(dirfd, name, type|mode, makedev(major, minor))`.
pub fn mknodat(
    dir: &impl AsFd,
    dir_shown: &Path,
    name: &std::ffi::OsStr,
    kind: NodeKind,
    mode: u32,
    (major, minor): (u32, u32),
    why: &str,
) -> Result<(), SysError> {
    let (ft, flag) = match kind {
        NodeKind::Char => (rustix::fs::FileType::CharacterDevice, "S_IFCHR"),
        NodeKind::Block => (rustix::fs::FileType::BlockDevice, "S_IFBLK"),
        NodeKind::Fifo => (rustix::fs::FileType::Fifo, "S_IFIFO"),
    };
    let args = vec![
        fd_arg(dir, dir_shown),
        quote(name),
        format!("{flag}|{mode:04o}"),
        format!("makedev({major:#x}, {minor:#x})"),
    ];
    let dev = rustix::fs::makedev(major, minor);
    Call::new("mknodat", args, why).run(|| {
        rustix::fs::mknodat(dir, name, ft, rustix::fs::Mode::from_raw_mode(mode), dev)
            .map_err(|e| Errno::from_raw(e.raw_os_error()))
    })
}

/// `fsetxattr(fd, name, value, size, 0)` on an open file or directory.
pub fn fsetxattr(
    fd: &impl AsFd,
    shown: &Path,
    name: &str,
    value: &[u8],
    why: &str,
) -> Result<(), SysError> {
    let args = vec![
        fd_arg(fd, shown),
        quote(name),
        quote(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(value)),
        value.len().to_string(),
        "0".into(),
    ];
    Call::new("fsetxattr", args, why).run(|| {
        rustix::fs::fsetxattr(fd, name, value, rustix::fs::XattrFlags::empty())
            .map_err(|e| Errno::from_raw(e.raw_os_error()))
    })
}
