//! Calls a hardened container must not be able to make: rebooting,
//! loading kernel code, tracing another process. wharf never needs them to
//! build a container; chapter 08's `wharf-breakout` makes them from inside
//! one, to show which protection the kernel answers with.

use std::os::fd::{AsFd, AsRawFd};

use nix::errno::Errno;
use nix::unistd::Pid;

use super::{Call, SysError};

/// `reboot(LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_RESTART,
/// NULL)`. Needs CAP_SYS_BOOT. In the host's pid namespace it restarts the
/// machine; in any other the kernel instead kills that namespace's init
/// (it reports "killed by SIGHUP") and this call does not return.
pub fn reboot_restart(why: &str) -> Result<(), SysError> {
    let args = vec![
        "LINUX_REBOOT_MAGIC1".into(),
        "LINUX_REBOOT_MAGIC2".into(),
        "LINUX_REBOOT_CMD_RESTART".into(),
        "NULL".into(),
    ];
    Call::new("reboot", args, why).run(|| {
        // SAFETY: reboot with the restart command and no argument pointer.
        let r = unsafe {
            libc::syscall(
                libc::SYS_reboot,
                libc::LINUX_REBOOT_MAGIC1,
                libc::LINUX_REBOOT_MAGIC2,
                libc::LINUX_REBOOT_CMD_RESTART,
                0usize,
            )
        };
        Errno::result(r).map(drop)
    })
}

/// `init_module(image, len, "")`: load a kernel module from memory. Needs
/// CAP_SYS_MODULE; the kernel checks that before it looks at the image.
pub fn init_module(image: &[u8], why: &str) -> Result<(), SysError> {
    let args = vec!["[…]".into(), image.len().to_string(), "\"\"".into()];
    Call::new("init_module", args, why).run(|| {
        // SAFETY: the kernel copies `image`; the params string is static.
        let r = unsafe {
            libc::syscall(
                libc::SYS_init_module,
                image.as_ptr(),
                image.len(),
                c"".as_ptr(),
            )
        };
        Errno::result(r).map(drop)
    })
}

/// `finit_module(fd, "", 0)`: load a kernel module from an open file.
pub fn finit_module(file: &impl AsFd, shown_as: &str, why: &str) -> Result<(), SysError> {
    let fd = file.as_fd().as_raw_fd();
    let args = vec![format!("{fd}<{shown_as}>"), "\"\"".into(), "0".into()];
    Call::new("finit_module", args, why).run(|| {
        // SAFETY: an open fd, a static params string, no flags.
        let r = unsafe { libc::syscall(libc::SYS_finit_module, fd, c"".as_ptr(), 0) };
        Errno::result(r).map(drop)
    })
}

/// `ptrace(PTRACE_ATTACH, pid, NULL, NULL)`: become `pid`'s tracer (the
/// kernel stops it with SIGSTOP). Needs CAP_SYS_PTRACE for a process whose
/// capabilities are not a subset of ours.
pub fn ptrace_attach(pid: Pid, why: &str) -> Result<(), SysError> {
    let args = vec![
        "PTRACE_ATTACH".into(),
        pid.to_string(),
        "NULL".into(),
        "NULL".into(),
    ];
    Call::new("ptrace", args, why)
        .kernel(format!("process {pid} is traced by us and stops"))
        .run(|| {
            // SAFETY: PTRACE_ATTACH takes no pointers.
            let r = unsafe { libc::ptrace(libc::PTRACE_ATTACH, pid.as_raw(), 0usize, 0usize) };
            Errno::result(r).map(drop)
        })
}

/// `wait4(pid, [status], __WALL, NULL)` for the tracee's stop, then
/// `ptrace(PTRACE_DETACH, pid, NULL, 0)`: let it run on, untraced.
pub fn ptrace_detach(pid: Pid, why: &str) -> Result<(), SysError> {
    let args = vec![
        "PTRACE_DETACH".into(),
        pid.to_string(),
        "NULL".into(),
        "0".into(),
    ];
    Call::new("ptrace", args, why).run(|| {
        nix::sys::wait::waitpid(pid, Some(nix::sys::wait::WaitPidFlag::__WALL))?;
        // SAFETY: PTRACE_DETACH with no signal to deliver.
        let r = unsafe { libc::ptrace(libc::PTRACE_DETACH, pid.as_raw(), 0usize, 0usize) };
        Errno::result(r).map(drop)
    })
}
