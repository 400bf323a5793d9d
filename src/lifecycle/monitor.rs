//! Starting a container's monitor (`src/bin/wharf-monitor.rs`) from a
//! wharf command. The command spawns it in a new session (setsid: no
//! terminal of ours can hang it up), the monitor forks once more and its
//! first half exits — so the monitor is nobody's child but init's — and
//! tells us over a pipe on its fd 3 that the container is created (and
//! started), or which step failed.

use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

/// The file where the monitor writes what went wrong for itself.
pub const LOG: &str = "monitor.log";

/// Start the monitor of the container in `dir`; it creates the container
/// and, with `start`, starts it. Returns once it says so.
pub fn spawn(dir: &Path, start: bool) -> anyhow::Result<()> {
    let exe = std::env::current_exe()
        .context("finding the wharf binary")?
        .with_file_name("wharf-monitor");
    let (ready_r, ready_w): (OwnedFd, OwnedFd) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .context("a pipe for the monitor's word")?;
    let log = std::fs::File::create(dir.join(LOG)).context("creating monitor.log")?;
    let w = ready_w.as_raw_fd();
    let mut cmd = Command::new(&exe);
    cmd.arg(dir)
        .arg(if start { "start" } else { "create" })
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    // The ready pipe becomes fd 3 of a monitor in its own session.
    crate::sys::new_session_with_fd3(&mut cmd, w);
    let mut first = cmd
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    drop(ready_w);
    first
        .wait()
        .context("waiting for the monitor's first half")?;
    let mut line = String::new();
    BufReader::new(std::fs::File::from(ready_r))
        .read_line(&mut line)
        .context("reading the monitor's word")?;
    match line.trim_end() {
        "ok" => Ok(()),
        "" => bail!(
            "the container's monitor died before it was ready (see {})",
            dir.join(LOG).display()
        ),
        // Docker's codes: 126/127 when the command cannot run, else 125.
        other => Err(match crate::sys::from_report(other) {
            e if matches!(crate::sys::exit_code_of(&e), 126 | 127) => e,
            e => crate::sys::ExitCode(125, crate::sys::one_line(&e)).into(),
        }),
    }
}

/// Whether `pid` is a live wharf-monitor (not a reused pid).
pub fn alive(pid: i32) -> bool {
    pid > 0 && crate::probe::procs::comm(pid as u32).is_ok_and(|c| c == "wharf-monitor")
}
