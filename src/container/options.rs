//! What an engine asks of `create` beyond the spec, on runc's command
//! line: where to write the init's pid, where to send a terminal, which of
//! its own descriptors the container inherits.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// `create`'s options. The default is what the chapters do: nothing of
/// this, and the cgroups of chapter 04 only.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// `--pid-file`: the init's pid (as the host numbers it), written once
    /// the container is created.
    pub pid_file: Option<PathBuf>,
    /// `--console-socket`: a unix socket to send the pty's master end to
    /// when process.terminal is set.
    pub console_socket: Option<PathBuf>,
    /// `--preserve-fds N`: descriptors 3 to 3+N-1 of the caller stay open
    /// across execve into the container's command.
    pub preserve_fds: u32,
    /// Also place the init in the v1 freezer and devices hierarchies and
    /// apply the device cgroup rules, so `pause` and the device allow-list
    /// work (an OCI runtime's container; the chapters leave them out).
    pub oci_cgroups: bool,
    /// `--no-pivot`: MS_MOVE and chroot instead of pivot_root.
    pub no_pivot: bool,
}

/// Socket activation's LISTEN_FDS, as systemd sets it for the process it
/// hands sockets to: that many descriptors from 3 on are for the service.
/// Passed on into the container as runc does: the descriptors stay open,
/// and the command is told LISTEN_FDS=N, LISTEN_PID=1 (it is pid 1 in its
/// pid namespace).
pub fn listen_fds() -> u32 {
    std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Write `pid` to `path` atomically: to a temporary file in the same
/// directory, then rename over it, so an engine polling for the file never
/// reads a half-written number.
pub fn write_pid_file(path: &Path, pid: i32) -> anyhow::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let name = path
        .file_name()
        .with_context(|| format!("--pid-file {} names no file", path.display()))?;
    let tmp = dir
        .unwrap_or(Path::new("."))
        .join(format!(".{}.tmp", name.to_string_lossy()));
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    write!(f, "{pid}")?;
    std::fs::rename(&tmp, path).with_context(|| format!("publishing {}", path.display()))
}

/// What the init takes from `create` besides the plan: the console socket
/// (connected on the host, before clone) and how many inherited
/// descriptors from 3 on the command keeps.
#[derive(Debug, Default)]
pub struct InitIo {
    pub console: Option<std::os::unix::net::UnixStream>,
    pub keep_fds: u32,
    pub no_pivot: bool,
}
