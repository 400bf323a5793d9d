//! Starting the container's program, signalling it, and reaping it.

use std::ffi::CString;
use std::path::Path;

use nix::errno::Errno;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
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

/// `rt_sigaction(SIG, SIG_DFL)` for every signal, then `rt_sigprocmask`
/// to an empty mask. execve resets caught signals to their default but
/// keeps ignored ones and the mask: without this the command would inherit
/// the SIGPIPE that the Rust runtime ignores, and `seq … | head -1` inside
/// would end with EPIPE errors instead of dying quietly of SIGPIPE.
pub fn reset_signals(why: &str) -> Result<(), SysError> {
    let args = vec![
        "1..64".into(),
        "{sa_handler=SIG_DFL}".into(),
        "SIG_SETMASK []".into(),
    ];
    Call::new("rt_sigaction", args, why).run(|| {
        let dfl = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
        for sig in Signal::iterator().filter(|s| !matches!(s, Signal::SIGKILL | Signal::SIGSTOP)) {
            // SAFETY: SIG_DFL installs no handler of ours.
            unsafe { sigaction(sig, &dfl) }?;
        }
        // Signals 32..64 have no nix name, and glibc refuses 32 and 33
        // (it keeps them for threads), so ask the kernel directly.
        for raw in 32..=64 {
            reset_raw(raw);
        }
        nix::sys::signal::sigprocmask(
            nix::sys::signal::SigmaskHow::SIG_SETMASK,
            Some(&SigSet::empty()),
            None,
        )
    })
}

/// The kernel's own `struct sigaction` (x86_64 layout): all zero is
/// SIG_DFL with no flags and an empty mask.
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

fn reset_raw(sig: i32) {
    let dfl = KernelSigaction {
        handler: 0,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: rt_sigaction reads `dfl` and installs no handler.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            &dfl as *const KernelSigaction,
            std::ptr::null_mut::<KernelSigaction>(),
            8usize,
        );
    }
}

/// `close_range(3, ~0U, CLOSE_RANGE_CLOEXEC)`: mark every descriptor above
/// stderr close-on-exec, so none of ours, and none that whoever started us
/// left open, reaches the container's command (runc does the same).
pub fn cloexec_from_3(why: &str) -> Result<(), SysError> {
    let args = vec!["3".into(), "~0U".into(), "CLOSE_RANGE_CLOEXEC".into()];
    let call = Call::new("close_range", args, why);
    // SAFETY: close_range with CLOEXEC only sets a flag on descriptors.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    match Errno::result(r) {
        Ok(_) => call.run(|| Ok(())),
        // A seccomp profile that predates close_range (kernel 5.9) refuses
        // it, and so does an older kernel: mark them one by one instead.
        Err(e @ (Errno::EPERM | Errno::ENOSYS | Errno::EACCES)) => {
            call.fail(e);
            cloexec_each_from_3()
        }
        Err(e) => Err(call.fail(e)),
    }
}

/// `fcntl(fd, F_SETFD, FD_CLOEXEC)` for every descriptor from 3 that
/// /proc/self/fd lists.
fn cloexec_each_from_3() -> Result<(), SysError> {
    let args = vec!["3..".into(), "F_SETFD".into(), "FD_CLOEXEC".into()];
    Call::new(
        "fcntl",
        args,
        "close_range was refused: mark each open descriptor from 3 close-on-exec instead",
    )
    .run(|| {
        let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|fd| *fd >= 3)
            .collect();
        for fd in fds {
            // SAFETY: F_SETFD only changes a descriptor flag; EBADF is the
            // directory's own descriptor, closed by now.
            let r = unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
            if let Err(e) = Errno::result(r) {
                if e != Errno::EBADF {
                    return Err(e);
                }
            }
        }
        Ok(())
    })
}

/// `prctl(PR_SET_PDEATHSIG, sig)`: the kernel sends `sig` to this process
/// when the thread that created it exits. Kept across execve.
pub fn set_pdeathsig(sig: Signal, why: &str) -> Result<(), SysError> {
    let args = vec!["PR_SET_PDEATHSIG".into(), sig.as_str().into()];
    Call::new("prctl", args, why).run(|| nix::sys::prctl::set_pdeathsig(sig))
}

/// `prctl(PR_SET_PDEATHSIG, 0)`: undo [`set_pdeathsig`], for a container
/// that must outlive the process that created it.
pub fn clear_pdeathsig(why: &str) -> Result<(), SysError> {
    let args = vec!["PR_SET_PDEATHSIG".into(), "0".into()];
    Call::new("prctl", args, why).run(|| nix::sys::prctl::set_pdeathsig(None))
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

/// The last stop signal (SIGINT, SIGTERM, SIGHUP) that reached us while
/// we waited for a container; 0 when none did.
static STOP_ASKED: AtomicI32 = AtomicI32::new(0);

extern "C" fn note_stop(sig: libc::c_int) {
    STOP_ASKED.store(sig, Ordering::SeqCst);
}

/// While we wait for a container, a stop signal is noted instead of ending
/// us, so the cleanup after the wait (cgroup, mounts, state) still runs.
/// Without SA_RESTART the kernel interrupts the wait with EINTR, and we
/// pass the signal on. (`wharf lab check` polls [`stop_requested`].)
pub fn catch_stop_signals() {
    let act = SigAction::new(
        SigHandler::Handler(note_stop),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores into an atomic.
        let _ = unsafe { sigaction(sig, &act) };
    }
}

/// Whether a stop signal arrived since [`catch_stop_signals`].
pub fn stop_requested() -> bool {
    STOP_ASKED.load(Ordering::SeqCst) != 0
}

/// Pass a noted stop signal on to `pid`: the first as it came, as `docker
/// run` does, any after it as SIGKILL.
fn pass_on_stop(pid: Pid, passed: &mut u32) {
    let Ok(sig) = Signal::try_from(STOP_ASKED.swap(0, Ordering::SeqCst)) else {
        return;
    };
    *passed += 1;
    let (sig, why) = match *passed {
        1 => (sig, "pass the stop signal on to the container; as PID 1 of a pid namespace it ignores any signal it has no handler for"),
        _ => (Signal::SIGKILL, "asked again: SIGKILL, which even PID 1 of a pid namespace cannot ignore"),
    };
    let _ = kill(pid, sig, why);
}

/// `wait4(pid, …)`: reap a child and learn how it ended. A stop signal
/// that reaches us meanwhile goes on to the child (see [`pass_on_stop`]).
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
    catch_stop_signals();
    let mut passed = 0;
    loop {
        match waitpid(pid, None) {
            Err(Errno::EINTR) => pass_on_stop(pid, &mut passed),
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

/// `prctl(PR_SET_CHILD_SUBREAPER, 1)`: orphans below us are re-parented to
/// us instead of to the host's init, so we can wait for them (what a
/// container's monitor needs once the runtime that forked the init exits).
pub fn set_child_subreaper(why: &str) -> Result<(), SysError> {
    let args = vec!["PR_SET_CHILD_SUBREAPER".into(), "1".into()];
    Call::new("prctl", args, why).run(|| nix::sys::prctl::set_child_subreaper(true))
}

/// Make `cmd` start in a session of its own (`setsid()`, so no terminal's
/// hang-up or job control reaches it) with `fd` as its descriptor 3, open
/// across execve. Runs between fork and exec, where nothing may allocate,
/// so it is not journaled.
pub fn new_session_with_fd3(cmd: &mut std::process::Command, fd: std::os::fd::RawFd) {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec only async-signal-safe calls.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // dup2 onto itself would keep close-on-exec: clear it instead.
            let r = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if r < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
