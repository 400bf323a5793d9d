//! process.terminal: the container's command gets a terminal of its own.
//! As runc does it, the init makes a pty pair inside the container (from
//! its own devpts, so the slave is named there), keeps the slave as its
//! stdin, stdout, stderr and controlling terminal, and hands the master
//! to whoever listens on `--console-socket` (conmon, containerd's shim),
//! with SCM_RIGHTS. Then it closes its own copy: the engine holds the only
//! master, so when it closes it, the command gets SIGHUP.

use std::os::unix::net::UnixStream;
use std::path::Path;

use anyhow::bail;

use super::create::Detach;
use crate::sys;

/// Check the console socket against process.terminal, and connect to it
/// on the host, before anything is made: the init, after pivot_root, could
/// no longer reach the path.
pub fn connect(
    terminal: bool,
    socket: Option<&Path>,
    detach: Detach,
) -> anyhow::Result<Option<UnixStream>> {
    match (terminal, socket) {
        (false, None) => Ok(None),
        (false, Some(p)) => bail!(
            "--console-socket {} was given but process.terminal is false: there is no terminal to send",
            p.display()
        ),
        (true, None) if detach == Detach::Yes => bail!(
            "process.terminal is true but no --console-socket was given: the pty's master would have nowhere to go"
        ),
        (true, None) => bail!(
            "process.terminal is true: give --console-socket, or set it false to run with this process's stdio"
        ),
        (true, Some(p)) => {
            if !p.exists() {
                bail!("console socket {} does not exist", p.display());
            }
            Ok(Some(sys::connect_unix(
                p,
                "connect to the console socket while its path is still the host's",
            )?))
        }
    }
}

/// In the init, after pivot_root: make the pty, size it, send the master,
/// and make the slave our terminal and stdio.
pub fn attach(sock: UnixStream, size: Option<(u16, u16)>) -> anyhow::Result<()> {
    let (master, slave, name) = sys::openpty(
        Path::new("/dev/ptmx"),
        "a pty pair from the container's own devpts: the slave is /dev/pts/N inside",
    )?;
    if let Some((rows, cols)) = size {
        sys::set_winsize(
            &master,
            rows,
            cols,
            "process.consoleSize: the terminal's rows and columns",
        )?;
    }
    sys::send_fd(
        &sock,
        &master,
        &name.display().to_string(),
        "hand the master end to the engine listening on --console-socket; it relays the user's terminal",
    )?;
    // Ours go: only the engine keeps the master open.
    drop(master);
    drop(sock);
    sys::make_controlling(
        &slave,
        "the slave end becomes the command's stdio and controlling terminal",
    )?;
    Ok(())
}
