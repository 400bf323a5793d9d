//! Files that configure the kernel: uid_map, cgroup limits, cgroup dirs;
//! and the kernel's handles opened as files (/proc/PID/ns/*, /proc/PID/root).
//! Writing one is as much a request to the kernel as a syscall is, so each
//! write is a journal step, shown as `write("/proc/42/uid_map", "0 1000 1\n")`.

use std::io::Write;
use std::path::Path;

use nix::errno::Errno;

use super::decode::{path as qpath, quote};
use super::{Call, SysError};

fn io_errno(e: std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// Write `content` to a kernel file in a single write(2), as the kernel
/// expects for files like uid_map.
pub fn write(path: &Path, content: &str, why: &str) -> Result<(), SysError> {
    Call::new("write", vec![qpath(path), quote(content)], why)
        .kernel(format!(
            "{} now holds {:?}",
            path.display(),
            content.trim_end()
        ))
        .run(|| {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(io_errno)?;
            f.write_all(content.as_bytes()).map_err(io_errno)
        })
}

/// `mkdir(path, 0755)`: in a cgroup filesystem this creates a cgroup.
pub fn mkdir(path: &Path, why: &str) -> Result<(), SysError> {
    Call::new("mkdir", vec![qpath(path), "0755".into()], why)
        .run(|| std::fs::create_dir(path).map_err(io_errno))
}

/// `rmdir(path)`: in a cgroup filesystem this removes an empty cgroup.
pub fn rmdir(path: &Path, why: &str) -> Result<(), SysError> {
    Call::new("rmdir", vec![qpath(path)], why).run(|| std::fs::remove_dir(path).map_err(io_errno))
}

/// `open(path, O_RDONLY|O_CLOEXEC)`: a handle on a kernel object that is
/// reached through a file, such as a namespace in /proc/PID/ns/ (to pass to
/// setns) or a process's root directory (to fchdir into).
pub fn open(path: &Path, why: &str) -> Result<std::os::fd::OwnedFd, SysError> {
    use nix::fcntl::OFlag;
    Call::new("open", vec![qpath(path), "O_RDONLY|O_CLOEXEC".into()], why).run(|| {
        nix::fcntl::open(
            path,
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
    })
}
