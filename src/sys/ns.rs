//! Namespaces: clone, unshare, setns, and the UTS hostname.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::decode::{clone_flags, quote};
use super::{journal, Call, SysError};

/// The two sides of a clone.
pub enum Fork {
    Parent(Child),
    Child,
}

/// The parent's handle on a new child. The child waits at a gate (a pipe)
/// until the parent calls [`Child::release`], so the parent can finish its
/// part first (write uid maps, place the child in a cgroup) and the journal
/// shows the steps in the order the kernel saw them.
pub struct Child {
    pub pid: Pid,
    gate: Option<OwnedFd>,
}

impl Child {
    /// Let the child go on: one byte through the gate. A gate closed with
    /// no byte (we died, or gave up on the child) tells it to exit instead.
    /// We keep our end open while this handle lives, so that the child can
    /// tell whether we are still there once its parent-death signal is set.
    pub fn release(&mut self) {
        if let Some(gate) = &self.gate {
            let _ = nix::unistd::write(gate, b"1");
        }
    }
}

/// Names of the namespaces a clone/unshare creates, and those it shares.
fn ns_effect(flags: CloneFlags) -> String {
    const ALL: [(CloneFlags, &str); 8] = [
        (CloneFlags::CLONE_NEWPID, "pid"),
        (CloneFlags::CLONE_NEWUTS, "uts"),
        (CloneFlags::CLONE_NEWIPC, "ipc"),
        (CloneFlags::CLONE_NEWNS, "mnt"),
        (CloneFlags::CLONE_NEWNET, "net"),
        (CloneFlags::CLONE_NEWUSER, "user"),
        (CloneFlags::CLONE_NEWCGROUP, "cgroup"),
        (CloneFlags::from_bits_retain(libc::CLONE_NEWTIME), "time"),
    ];
    let pick = |new: bool| -> String {
        let v: Vec<&str> = ALL
            .iter()
            .filter(|(f, _)| flags.contains(*f) == new)
            .map(|(_, n)| *n)
            .collect();
        if v.is_empty() {
            "none".into()
        } else {
            v.join(", ")
        }
    };
    if flags.is_empty() {
        return "no new namespace: the child is born in ours (its pid namespace is our pid_for_children)".into();
    }
    format!("new {}; shared with parent: {}", pick(true), pick(false))
}

/// `clone(flags|SIGCHLD)` without a new stack: like fork(2), the child gets a
/// copy of our memory and returns here with 0, but it starts life inside the
/// new namespaces chosen by `flags`. The child blocks until released.
pub fn clone(flags: CloneFlags, why: &str) -> Result<Fork, SysError> {
    // Close-on-exec: no program we start later inherits the gate.
    let (gate_r, gate_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| SysError {
            call: "pipe()".into(),
            errno: e,
            hint: None,
        })?;
    let call = Call::new(
        "clone",
        vec![
            "child_stack=NULL".into(),
            format!("flags={}", clone_flags(flags, Some(Signal::SIGCHLD))),
        ],
        why,
    )
    .kernel(ns_effect(flags));
    let raw = flags.bits() as libc::c_ulong | libc::SIGCHLD as libc::c_ulong;
    // SAFETY: the raw clone syscall without CLONE_VM behaves like fork: the
    // child runs on a copy of our stack. We are single-threaded here.
    let ret = unsafe { libc::syscall(libc::SYS_clone, raw, 0usize, 0usize, 0usize, 0usize) };
    match ret {
        -1 => Err(call.fail(nix::errno::Errno::last())),
        0 => {
            drop(gate_w);
            journal::set_process(&child_label());
            if !released(&gate_r) {
                std::process::exit(1);
            }
            // If the parent dies from here on, the kernel kills us too: a
            // container never outlives the process that cleans up after it.
            // Had it died before the prctl, its end of the gate is closed.
            let _ = super::process::set_pdeathsig(
                Signal::SIGKILL,
                "if the parent dies, the kernel kills this child too: no container outlives the process that cleans up after it",
            );
            if hung_up(&gate_r) {
                std::process::exit(1);
            }
            Ok(Fork::Child)
        }
        pid => {
            drop(gate_r);
            let pid = Pid::from_raw(pid as i32);
            call.run(|| Ok(pid))?;
            Ok(Fork::Parent(Child {
                pid,
                gate: Some(gate_w),
            }))
        }
    }
}

/// Block at the gate until the parent writes its byte (true), or until it
/// closes the gate without one (false): it died or gave up on us, maybe
/// before our parent-death signal was set.
fn released(gate: &OwnedFd) -> bool {
    let mut b = [0u8; 1];
    loop {
        match nix::unistd::read(gate.as_fd(), &mut b) {
            Err(nix::errno::Errno::EINTR) => continue,
            Ok(1) => return true,
            _ => return false,
        }
    }
}

/// Whether every write end of the gate is closed: the parent is gone.
fn hung_up(gate: &OwnedFd) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(gate.as_fd(), PollFlags::POLLIN)];
    let _ = poll(&mut fds, PollTimeout::ZERO);
    fds[0]
        .revents()
        .is_some_and(|r| r.contains(PollFlags::POLLHUP))
}

/// "child" for the first generation, "grandchild" below it.
fn child_label() -> String {
    match journal::process().as_str() {
        "parent" => "child".into(),
        "child" => "grandchild".into(),
        other => format!("{other}'s child"),
    }
}

/// `unshare(flags)`: move *this* process into new namespaces. A new pid
/// namespace applies only to children created afterwards.
pub fn unshare(flags: CloneFlags, why: &str) -> Result<(), SysError> {
    Call::new("unshare", vec![clone_flags(flags, None)], why)
        .kernel(ns_effect(flags))
        .run(|| nix::sched::unshare(flags))
}

/// `setns(fd, nstype)`: join the namespace that `fd` (an open
/// /proc/PID/ns/* file) refers to.
pub fn setns(fd: &OwnedFd, shown_as: &str, nstype: CloneFlags, why: &str) -> Result<(), SysError> {
    Call::new(
        "setns",
        vec![
            format!("{}<{shown_as}>", fd.as_raw_fd()),
            clone_flags(nstype, None),
        ],
        why,
    )
    .kernel(format!("joined {shown_as}"))
    .run(|| nix::sched::setns(fd, nstype))
}

/// `sethostname(name)`: in a new UTS namespace this changes only our copy.
pub fn sethostname(name: &str, why: &str) -> Result<(), SysError> {
    Call::new(
        "sethostname",
        vec![quote(name), name.len().to_string()],
        why,
    )
    .kernel(format!("hostname in this UTS namespace is now {name:?}"))
    .run(|| nix::unistd::sethostname(name))
}
