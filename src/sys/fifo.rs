//! The exec FIFO: how `create` leaves a container's init waiting just
//! before execve, and how `start` lets it go (the OCI create/start split).
//!
//! A FIFO's open for writing blocks until someone opens it for reading.
//! The init opens it for writing as its last step before execve and so
//! sleeps in the kernel; `start` opens it for reading, which wakes the
//! init, reads the one byte it writes, and removes the FIFO.

use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::decode::path as qpath;
use super::{Call, SysError};

/// `mkfifo(path, 0622)`, then `chmod(path, 0622)`: the umask (022) cuts
/// the write bits for others from mkfifo's mode, and the init that opens
/// the FIFO for writing may by then be another user (process.user, or
/// root of a user namespace, which is "others" to the host's root).
pub fn mkfifo(path: &Path, why: &str) -> Result<(), SysError> {
    let mode = Mode::from_bits_truncate(0o622);
    Call::new(
        "mknodat",
        vec!["AT_FDCWD".into(), qpath(path), "S_IFIFO|0622".into()],
        why,
    )
    .run(|| nix::unistd::mkfifo(path, mode))?;
    Call::new(
        "fchmodat",
        vec!["AT_FDCWD".into(), qpath(path), "0622".into()],
        "past the umask: any uid the init becomes may open the FIFO for writing (only the init holds a handle on it)",
    )
    .run(|| nix::sys::stat::fchmodat(nix::fcntl::AT_FDCWD, path, mode, nix::sys::stat::FchmodatFlags::FollowSymlink))
}

/// `open(path, O_PATH|O_CLOEXEC)`: a handle on the FIFO that opens nothing
/// yet, so it survives pivot_root and can be reopened through /proc.
pub fn open_path(path: &Path, why: &str) -> Result<OwnedFd, SysError> {
    let flags = OFlag::O_PATH | OFlag::O_CLOEXEC;
    let call = Call::new(
        "openat",
        vec!["AT_FDCWD".into(), qpath(path), "O_PATH|O_CLOEXEC".into()],
        why,
    );
    match nix::fcntl::open(path, flags, Mode::empty()) {
        Ok(fd) => {
            let shown = fd_num(&fd);
            call.run(|| Ok(shown))?;
            Ok(fd)
        }
        Err(e) => Err(call.fail(e)),
    }
}

/// In the init: `open("/proc/self/fd/N", O_WRONLY)` blocks until `start`
/// opens the other end; then one byte tells `start` that we go on. The
/// step is journaled before the open (a second step if it fails), and
/// `ready` runs between the two, so the steps of `create` and `start`
/// always come after it in the journal.
pub fn wait_for_start(fifo: &OwnedFd, ready: impl FnOnce(), why: &str) -> Result<(), SysError> {
    let path = format!("/proc/self/fd/{}", fd_num(fifo));
    let at = "AT_FDCWD".to_string();
    gate(at, &path, ready, why, |p, f| {
        nix::fcntl::open(p, f, Mode::empty())
    })
}

/// The same, for an init that has no /proc (a chroot without a mount
/// namespace): `openat(DIR, name, O_WRONLY)` from a handle on the FIFO's
/// directory, which still reaches outside the new root.
pub fn wait_for_start_at(
    dir: &OwnedFd,
    name: &str,
    ready: impl FnOnce(),
    why: &str,
) -> Result<(), SysError> {
    gate(fd_num(dir).to_string(), name, ready, why, |p, f| {
        nix::fcntl::openat(dir, p, f, Mode::empty())
    })
}

fn gate(
    at: String,
    path: &str,
    ready: impl FnOnce(),
    why: &str,
    open: impl FnOnce(&str, OFlag) -> nix::Result<OwnedFd>,
) -> Result<(), SysError> {
    let call = Call::new(
        "openat",
        vec![at, format!("{path:?}"), "O_WRONLY|O_CLOEXEC".into()],
        why,
    );
    call.announce();
    ready();
    let w = open(path, OFlag::O_WRONLY | OFlag::O_CLOEXEC).map_err(|e| call.fail(e))?;
    nix::unistd::write(&w, b"0")
        .map(drop)
        .map_err(|e| call.fail(e))
}

/// In `start`: open the FIFO for reading without blocking, then wait for
/// the init's byte. `alive` is asked between waits, so an init that died
/// is reported instead of waited for forever.
pub fn release(path: &Path, alive: impl Fn() -> bool, why: &str) -> Result<(), SysError> {
    let call = Call::new(
        "openat",
        vec![
            "AT_FDCWD".into(),
            qpath(path),
            "O_RDONLY|O_NONBLOCK|O_CLOEXEC".into(),
        ],
        why,
    )
    .kernel("the init's blocked open for writing returns: it goes on to execve");
    // Journaled before the open: once it is made, the init's next steps
    // may be recorded at any moment.
    call.announce();
    let r = nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| call.fail(e))?;
    read_byte(&r, alive).map_err(|e| call.fail(e))
}

fn read_byte(r: &OwnedFd, alive: impl Fn() -> bool) -> nix::Result<()> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    loop {
        let mut fds = [PollFd::new(r.as_fd(), PollFlags::POLLIN)];
        poll(&mut fds, PollTimeout::from(100u16))?;
        let mut b = [0u8; 1];
        match nix::unistd::read(r.as_fd(), &mut b) {
            Ok(1) => return Ok(()),
            Err(Errno::EAGAIN) | Ok(_) if alive() => continue,
            Err(Errno::EAGAIN) | Ok(_) => return Err(Errno::ESRCH),
            Err(e) => return Err(e),
        }
    }
}

fn fd_num(fd: &OwnedFd) -> RawFd {
    use std::os::fd::AsRawFd;
    fd.as_raw_fd()
}
