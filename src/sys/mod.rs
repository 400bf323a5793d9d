//! The kernel layer: the ONLY place in wharf that makes a syscall which
//! builds, enters or controls a container, or writes a file that configures
//! the kernel. Every wrapper here records a [`journal::Step`], so `--explain`
//! can show the learner exactly what was asked of the kernel, and why.
//!
//! Ordinary file I/O (reading a config, writing a blob) goes through std and
//! is not journaled.

mod child;
mod creds;
pub mod decode;
mod denied;
pub mod fifo;
pub mod journal;
mod kfile;
mod mount;
mod netlink;
mod nft;
mod ns;
mod process;
mod reap;
mod security;
mod tty;
pub mod xattr_fs;

pub use child::{
    child_exit, exit_code_of, from_report, one_line, program_name, report_line, ExitCode,
};
pub use creds::{setgroups, setgroups_empty, setresgid, setresuid};
pub use denied::{finit_module, init_module, ptrace_attach, ptrace_detach, reboot_restart};
pub use kfile::{mkdir, open, rmdir, write};
pub use mount::{chdir, chroot, fchdir, mknod, mount, pivot_root, setxattr, umount2, NodeKind};
pub use netlink::{
    addr_add, link_add_bridge, link_add_veth, link_delete, link_rename, link_set_master,
    link_set_netns, link_set_up, route_add_default,
};
pub use nft::nft_apply;
pub use ns::{clone, sethostname, setns, unshare, Child, Fork};
pub use process::{
    catch_stop_signals, clear_pdeathsig, cloexec_from_3, execve, kill, new_session_with_fd3,
    reset_signals, set_child_subreaper, stop_requested, wait, ExitReport,
};
pub use reap::{block_signals, reap_any, unblock_all, wait_signal};
pub use security::{
    ambient_set, bpf_prog_attach_cgroup_device, bpf_prog_load_cgroup_device, cap_mask,
    capbset_drop, capset, prlimit, seccomp_set_mode_filter, set_keepcaps, set_no_new_privs,
    BpfInsn, BpfProg,
};
pub use tty::{connect_unix, keep_fds, make_controlling, openpty, send_fd, set_winsize};

use journal::Step;
use nix::errno::Errno;

/// A syscall that failed: which one, the errno, and a hint for the learner.
#[derive(Debug, Clone)]
pub struct SysError {
    pub call: String,
    pub errno: Errno,
    pub hint: Option<String>,
}

impl std::fmt::Display for SysError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} failed: {:?} ({})",
            self.call,
            self.errno,
            self.errno.desc()
        )?;
        if let Some(h) = &self.hint {
            write!(f, "; {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SysError {}

/// What a successful call returns, as a number for the journal.
pub(crate) trait Ret {
    fn ret(&self) -> i64;
}
impl Ret for () {
    fn ret(&self) -> i64 {
        0
    }
}
impl Ret for i32 {
    fn ret(&self) -> i64 {
        *self as i64
    }
}
impl Ret for std::os::fd::OwnedFd {
    fn ret(&self) -> i64 {
        std::os::fd::AsRawFd::as_raw_fd(self) as i64
    }
}
impl Ret for nix::unistd::Pid {
    fn ret(&self) -> i64 {
        self.as_raw() as i64
    }
}

/// One call on its way to the kernel: name, decoded arguments, and why.
pub(crate) struct Call {
    syscall: &'static str,
    args: Vec<String>,
    why: String,
    kernel: Option<String>,
}

impl Call {
    pub(crate) fn new(syscall: &'static str, args: Vec<String>, why: &str) -> Self {
        Call {
            syscall,
            args,
            why: why.to_string(),
            kernel: None,
        }
    }

    /// What the kernel's view looks like after the call succeeds.
    pub(crate) fn kernel(mut self, k: impl Into<String>) -> Self {
        self.kernel = Some(k.into());
        self
    }

    fn step(&self, ret: Option<i64>, errno: Option<Errno>) -> Step {
        Step {
            step: 0,
            process: String::new(),
            pid: 0,
            syscall: self.syscall.to_string(),
            args: self.args.clone(),
            ret,
            errno: errno.map(|e| format!("{e:?}")),
            why: self.why.clone(),
            hint: errno.and_then(|e| decode::hint(self.syscall, e)),
            kernel: if errno.is_none() {
                self.kernel.clone()
            } else {
                None
            },
        }
    }

    /// Make the call and journal its outcome.
    pub(crate) fn run<T: Ret>(self, f: impl FnOnce() -> nix::Result<T>) -> Result<T, SysError> {
        match f() {
            Ok(v) => {
                journal::record(self.step(Some(v.ret()), None));
                Ok(v)
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Journal a failure and turn it into an error.
    pub(crate) fn fail(&self, e: Errno) -> SysError {
        let step = journal::record(self.step(Some(-1), Some(e)));
        SysError {
            call: step.call_text(),
            errno: e,
            hint: step.hint,
        }
    }

    /// Journal a call that will not return if it succeeds (execve).
    pub(crate) fn announce(&self) {
        journal::record(self.step(None, None));
    }
}
