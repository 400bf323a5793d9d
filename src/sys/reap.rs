//! The calls of a reaping init (`--init`): block the signals it will pass
//! on, sleep until one is pending, reap whatever child has ended.
//!
//! PID 1 of a pid namespace is special to the kernel: a signal whose
//! disposition is SIG_DFL is dropped on its way to it (only SIGKILL and
//! SIGSTOP from an ancestor namespace get through). A *blocked* signal is
//! never dropped, though — it stays pending until it is unblocked or taken
//! with sigtimedwait. That is how a tiny init receives SIGTERM without
//! installing a handler, and how it learns of SIGCHLD.

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::{Call, ExitReport, SysError};

/// A signal set as strace prints one: `[HUP INT TERM CHLD]`.
fn shown(set: &SigSet) -> String {
    let names: Vec<&str> = set
        .iter()
        .map(|s| s.as_str().trim_start_matches("SIG"))
        .collect();
    format!("[{}]", names.join(" "))
}

/// `rt_sigprocmask(SIG_BLOCK, set, NULL)`.
pub fn block_signals(set: &SigSet, why: &str) -> Result<(), SysError> {
    let args = vec!["SIG_BLOCK".into(), shown(set), "NULL".into()];
    Call::new("rt_sigprocmask", args, why)
        .kernel("these signals now wait, pending, until taken with sigtimedwait")
        .run(|| nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(set), None))
}

/// `rt_sigprocmask(SIG_SETMASK, [], NULL)`: block nothing.
pub fn unblock_all(why: &str) -> Result<(), SysError> {
    let args = vec!["SIG_SETMASK".into(), "[]".into(), "NULL".into()];
    Call::new("rt_sigprocmask", args, why).run(|| {
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
    })
}

/// `rt_sigtimedwait(set, NULL, NULL)`: sleep until one of the (blocked)
/// signals in `set` is pending, and take it off the pending set.
pub fn wait_signal(set: &SigSet, why: &str) -> Result<Signal, SysError> {
    let args = vec![shown(set), "NULL".into(), "NULL".into()];
    let call = Call::new("rt_sigtimedwait", args, why);
    loop {
        match set.wait() {
            Ok(sig) => {
                return call
                    .kernel(format!("{} was pending", sig.as_str()))
                    .run(|| Ok(sig as i32))
                    .map(|_| sig)
            }
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(call.fail(e)),
        }
    }
}

/// `wait4(-1, [status], WNOHANG, NULL)`: collect any one child that has
/// ended, ours or an orphan the kernel re-parented to us. `None`: none
/// has ended yet (returns 0), or there is no child left (ECHILD).
pub fn reap_any(why: &str) -> Result<Option<(Pid, ExitReport)>, SysError> {
    let args = vec![
        "-1".into(),
        "[status]".into(),
        "WNOHANG".into(),
        "NULL".into(),
    ];
    let call = Call::new("wait4", args, why);
    let report = |pid: Pid, code, signal| {
        let r = ExitReport { code, signal };
        (pid, r)
    };
    let got = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::Exited(pid, code)) => Some(report(pid, Some(code), None)),
        Ok(WaitStatus::Signaled(pid, sig, _)) => Some(report(pid, None, Some(sig))),
        Ok(_) => None,
        // No child at all: the kernel's answer is journaled as it came.
        Err(Errno::ECHILD) => {
            call.fail(Errno::ECHILD);
            return Ok(None);
        }
        Err(e) => return Err(call.fail(e)),
    };
    match got {
        Some((pid, r)) => call
            .kernel(format!(
                "process {pid} {}: reaped, no zombie left",
                r.describe()
            ))
            .run(|| Ok(pid))
            .map(|_| Some((pid, r))),
        None => call
            .kernel("no child has ended yet")
            .run(|| Ok(0))
            .map(|_| None),
    }
}
