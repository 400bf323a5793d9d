//! `--init`: a tiny init of ours, the container's PID 1, between the
//! kernel and the command — what tini is to `docker run --init`.
//!
//! PID 1 of a pid namespace has two jobs no ordinary program expects:
//!
//! - the kernel drops every signal PID 1 has no handler for, so a command
//!   that is PID 1 and never set up a SIGTERM handler ignores `docker
//!   stop` until the SIGKILL that follows;
//! - every orphan in the namespace is re-parented to PID 1, and stays a
//!   zombie (a `Z` in /proc) until PID 1 reaps it with wait.
//!
//! So the init stays PID 1 and forks the command as its child: it blocks
//! the signals it passes on (a blocked signal is kept pending even for
//! PID 1), waits for them with sigtimedwait, sends each to the command,
//! reaps every child that ends — orphans included — and when the command
//! ends, exits with its status (a signal n as 128+n, as a shell reports it).
//! When PID 1 exits the kernel kills whatever is left in the namespace.
//!
//! The spec says so with the annotation [`ANNOTATION`]` = "true"`: the OCI
//! runtime spec has no field for an init, and Docker's `--init` instead
//! puts tini's path in front of `process.args`. Ours needs no file in the
//! container's root: it is the init process we already are, hardened like
//! the command (same capabilities, no_new_privs and seccomp filter).

use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, Signal};
use nix::unistd::Pid;

use super::init::exit;
use crate::sys::{self, Fork};

/// The annotation that asks for the reaping init.
pub const ANNOTATION: &str = "org.wharf.init";

/// The signals passed on to the command: every signal a user or a runtime
/// sends to stop, reload or poke a process. Not SIGCHLD (ours to handle),
/// nor the ones the kernel raises for a fault of the process itself
/// (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT), nor
/// SIGKILL and SIGSTOP, which no process can block.
pub const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGPIPE,
    Signal::SIGALRM,
    Signal::SIGTERM,
    Signal::SIGCONT,
    Signal::SIGTSTP,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
    Signal::SIGURG,
    Signal::SIGXCPU,
    Signal::SIGXFSZ,
    Signal::SIGVTALRM,
    Signal::SIGPROF,
    Signal::SIGWINCH,
];

// ANCHOR: reaper
/// Be PID 1: fork, let the child become the command through `exec`, and
/// forward and reap until the command ends. Never returns (nor does
/// `exec`, which only comes back to report a failed execve).
pub fn run(exec: impl FnOnce() -> std::convert::Infallible) -> ! {
    let mut set: SigSet = FORWARDED.iter().copied().collect();
    set.add(Signal::SIGCHLD);
    if let Err(e) = sys::block_signals(&set, "PID 1 gets no signal it has no handler for, unless the signal is blocked: then it stays pending until we take it") {
        fail(&e)
    }
    let mut child = match sys::clone(
        CloneFlags::empty(),
        "fork the command: we stay PID 1, to pass signals on and reap orphans",
    ) {
        Ok(Fork::Child) => {
            if let Err(e) = sys::unblock_all(
                "the command starts with nothing blocked, as if no init stood before it",
            ) {
                fail(&e)
            }
            match exec() {}
        }
        Ok(Fork::Parent(c)) => c,
        Err(e) => fail(&e),
    };
    // The handle stays alive while we are: the child checks, once its
    // parent-death signal is set, that our end of its gate is still open.
    child.release();
    let command = child.pid;
    loop {
        let sig = match sys::wait_signal(&set, "sleep until a signal to pass on, or SIGCHLD") {
            Ok(s) => s,
            Err(e) => fail(&e),
        };
        if sig != Signal::SIGCHLD {
            // The command may be gone already (ESRCH): its SIGCHLD is next.
            let _ = sys::kill(command, sig, "pass the signal on to the command: as our child, not PID 1, it gets its default action");
            continue;
        }
        if let Some(code) = reap(command) {
            exit(code)
        }
    }
}
// ANCHOR_END: reaper

/// Reap every child that has ended; the command's exit code once it is
/// among them. SIGCHLDs merge while pending, so one may stand for many.
fn reap(command: Pid) -> Option<i32> {
    let mut status = None;
    loop {
        match sys::reap_any("collect a child that ended, ours or an orphan re-parented to PID 1, so it leaves no zombie") {
            Ok(Some((pid, report))) if pid == command => status = Some(report.exit_code()),
            Ok(Some(_)) => {}
            Ok(None) => return status,
            Err(e) => fail(&e),
        }
    }
}

fn fail(e: &sys::SysError) -> ! {
    eprintln!("container init: {e}");
    exit(1)
}
