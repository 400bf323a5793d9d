//! Terminals: a pseudo-terminal pair made inside the container, its master
//! end handed over a unix socket, its slave end made the command's stdio
//! and controlling terminal. Also the descriptors kept across execve.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};

use super::decode::path as qpath;
use super::{Call, SysError};

/// `open(ptmx, O_RDWR|O_NOCTTY|O_CLOEXEC)`, `ioctl(TIOCSPTLCK, 0)`,
/// `ioctl(TIOCGPTN)`, `open("/dev/pts/N")`: a new pty pair. Opening the
/// multiplexer of a devpts instance makes a master and a slave numbered in
/// that instance; the slave is locked until the master unlocks it.
pub fn openpty(ptmx: &Path, why: &str) -> Result<(OwnedFd, OwnedFd, PathBuf), SysError> {
    let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
    let master = Call::new(
        "openat",
        vec![
            "AT_FDCWD".into(),
            qpath(ptmx),
            "O_RDWR|O_NOCTTY|O_CLOEXEC".into(),
        ],
        why,
    )
    .kernel("a new master end; its slave appears in this devpts instance, locked")
    .run(|| nix::fcntl::open(ptmx, flags, nix::sys::stat::Mode::empty()))?;
    let pts = Call::new(
        "ioctl",
        vec![
            master.as_raw_fd().to_string(),
            "TIOCSPTLCK".into(),
            "[0]".into(),
        ],
        "unlock the slave end, and ask its number (TIOCGPTN)",
    )
    .run(|| {
        let unlock: libc::c_int = 0;
        // SAFETY: TIOCSPTLCK reads an int, TIOCGPTN writes one.
        Errno::result(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) })?;
        let mut n: libc::c_uint = 0;
        Errno::result(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n) })?;
        Ok(n as i32)
    })?;
    let slave_path = ptmx
        .parent()
        .unwrap_or(Path::new("/dev"))
        .join(format!("pts/{pts}"));
    let slave = Call::new(
        "openat",
        vec![
            "AT_FDCWD".into(),
            qpath(&slave_path),
            "O_RDWR|O_NOCTTY|O_CLOEXEC".into(),
        ],
        "open the slave end: it becomes the command's terminal",
    )
    .run(|| nix::fcntl::open(&slave_path, flags, nix::sys::stat::Mode::empty()))?;
    Ok((master, slave, slave_path))
}

/// `sendmsg(sock, {name}, SCM_RIGHTS [fd])`: pass a descriptor to the
/// process at the other end of a unix socket. The kernel installs a copy
/// in the receiver's table; ours can then be closed.
pub fn send_fd(sock: &UnixStream, fd: &OwnedFd, name: &str, why: &str) -> Result<(), SysError> {
    let args = vec![
        sock.as_raw_fd().to_string(),
        format!("{{msg={name:?}, SCM_RIGHTS=[{}]}}", fd.as_raw_fd()),
        "0".into(),
    ];
    Call::new("sendmsg", args, why)
        .kernel("the receiver now holds its own descriptor for the same open file")
        .run(|| {
            let fds = [fd.as_raw_fd()];
            let iov = [IoSlice::new(name.as_bytes())];
            sendmsg::<()>(
                sock.as_raw_fd(),
                &iov,
                &[ControlMessage::ScmRights(&fds)],
                MsgFlags::empty(),
                None,
            )
            .map(drop)
        })
}

/// `setsid()`, `ioctl(fd, TIOCSCTTY, 0)`, `dup2(fd, 0..2)`: start a new
/// session with `fd` as its controlling terminal and as stdin, stdout and
/// stderr. A session leader without a terminal takes the first one it
/// asks for; from then on ^C on it signals this process group.
pub fn make_controlling(fd: &OwnedFd, why: &str) -> Result<(), SysError> {
    let n = fd.as_raw_fd();
    let args = vec![format!(
        "setsid(); ioctl({n}, TIOCSCTTY, 0); dup2({n}, 0|1|2)"
    )];
    Call::new("setsid", args, why)
        .kernel("a new session whose controlling terminal is the pty's slave; stdio is the slave")
        .run(|| {
            nix::unistd::setsid()?;
            // SAFETY: TIOCSCTTY takes an int argument (0: do not steal).
            Errno::result(unsafe { libc::ioctl(n, libc::TIOCSCTTY, 0) })?;
            for target in 0..=2 {
                // SAFETY: dup2 onto 0..2 replaces our stdio; nothing else
                // refers to those descriptors as owned values.
                Errno::result(unsafe { libc::dup2(n, target) })?;
            }
            Ok(())
        })
}

/// `ioctl(fd, TIOCSWINSZ, {rows, cols})`: the terminal's size, as a
/// program reads it with TIOCGWINSZ.
pub fn set_winsize(fd: &OwnedFd, rows: u16, cols: u16, why: &str) -> Result<(), SysError> {
    let args = vec![
        fd.as_raw_fd().to_string(),
        "TIOCSWINSZ".into(),
        format!("{{ws_row={rows}, ws_col={cols}}}"),
    ];
    Call::new("ioctl", args, why).run(|| {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a struct winsize.
        Errno::result(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) }).map(drop)
    })
}

/// `fcntl(fd, F_SETFD, 0)` for `first..first+count`: clear close-on-exec,
/// so these inherited descriptors cross execve into the command
/// (`--preserve-fds`, LISTEN_FDS).
pub fn keep_fds(first: RawFd, count: u32, why: &str) -> Result<(), SysError> {
    let last = first + count as RawFd - 1;
    let args = vec![format!("{first}..={last}"), "F_SETFD".into(), "0".into()];
    Call::new("fcntl", args, why).run(|| {
        for fd in first..=last {
            // SAFETY: F_SETFD only changes a descriptor flag.
            Errno::result(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) })?;
        }
        Ok(())
    })
}

/// `connect(socket, path)`: a unix stream socket connected to `path`.
pub fn connect_unix(path: &Path, why: &str) -> Result<UnixStream, SysError> {
    let call = Call::new("connect", vec![qpath(path)], why);
    match UnixStream::connect(path) {
        Ok(s) => {
            let n = s.as_raw_fd();
            call.run(|| Ok(n))?;
            Ok(s)
        }
        Err(e) => Err(call.fail(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))),
    }
}
