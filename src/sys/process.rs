//! Starting the container's program, signalling it, and reaping it.

use std::ffi::CString;
use std::path::Path;

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use super::decode::{path as qpath, quote};
use super::{Call, SysError};

/// `execve(path, argv, envp)`: replace this process's program. On success it
/// never returns, so the step is journaled before the call; a failure is
/// journaled as a second step with its errno.
pub fn execve(path: &Path, argv: &[String], env: &[String], why: &str) -> SysError {
    let shown: Vec<String> = argv.iter().map(quote).collect();
    let args = vec![
        qpath(path),
        format!("[{}]", shown.join(", ")),
        format!("{} vars", env.len()),
    ];
    let call = Call::new("execve", args, why);
    let cstrs = |v: &[String]| -> Result<Vec<CString>, Errno> {
        v.iter()
            .map(|s| CString::new(s.as_bytes()).map_err(|_| Errno::EINVAL))
            .collect()
    };
    let (argv_c, env_c, path_c) = match (
        cstrs(argv),
        cstrs(env),
        CString::new(path.as_os_str().as_encoded_bytes()),
    ) {
        (Ok(a), Ok(e), Ok(p)) => (a, e, p),
        _ => return call.fail(Errno::EINVAL),
    };
    call.announce();
    let errno = match nix::unistd::execve(&path_c, &argv_c, &env_c) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    call.fail(errno)
}

/// `kill(pid, sig)`.
pub fn kill(pid: Pid, sig: Signal, why: &str) -> Result<(), SysError> {
    Call::new("kill", vec![pid.to_string(), sig.as_str().into()], why)
        .run(|| nix::sys::signal::kill(pid, sig))
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitReport {
    pub code: Option<i32>,
    pub signal: Option<Signal>,
}

impl ExitReport {
    /// The shell's convention: the exit code, or 128 + the signal number.
    pub fn exit_code(&self) -> i32 {
        match (self.code, self.signal) {
            (Some(c), _) => c,
            (None, Some(s)) => 128 + s as i32,
            _ => 1,
        }
    }

    pub fn describe(&self) -> String {
        match (self.code, self.signal) {
            (Some(c), _) => format!("exited with status {c}"),
            (None, Some(s)) => format!("killed by {}", s.as_str()),
            _ => "ended".into(),
        }
    }
}

/// `wait4(pid, …)`: reap a child and learn how it ended.
pub fn wait(pid: Pid, why: &str) -> Result<ExitReport, SysError> {
    let call = Call::new(
        "wait4",
        vec![
            pid.to_string(),
            "[status]".into(),
            "0".into(),
            "NULL".into(),
        ],
        why,
    );
    loop {
        match waitpid(pid, None) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(call.fail(e)),
            Ok(WaitStatus::Exited(_, code)) => {
                return finish(
                    call,
                    pid,
                    ExitReport {
                        code: Some(code),
                        signal: None,
                    },
                )
            }
            Ok(WaitStatus::Signaled(_, sig, _)) => {
                return finish(
                    call,
                    pid,
                    ExitReport {
                        code: None,
                        signal: Some(sig),
                    },
                )
            }
            Ok(_) => continue,
        }
    }
}

fn finish(call: Call, pid: Pid, report: ExitReport) -> Result<ExitReport, SysError> {
    call.kernel(format!("process {pid} {}", report.describe()))
        .run(|| Ok(pid))?;
    Ok(report)
}
