//! Turning raw syscall arguments into the text `strace -X verbose` prints,
//! and errnos into hints a learner can act on.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;

/// A C string argument: `"/proc"`, with quotes and escapes as strace shows it.
pub fn quote(s: impl AsRef<OsStr>) -> String {
    let mut out = String::from("\"");
    for &b in s.as_ref().as_bytes() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

pub fn path(p: &Path) -> String {
    quote(p.as_os_str())
}

/// An optional pointer argument: the quoted string, or `NULL`.
pub fn opt_str(s: Option<impl AsRef<OsStr>>) -> String {
    s.map(quote).unwrap_or_else(|| "NULL".into())
}

/// Join the names of the set bits with `|`; leftover bits in hex; `0` if empty.
fn join_flags<'a>(names: impl Iterator<Item = (&'a str, u64)>, bits: u64) -> String {
    let mut seen = 0u64;
    let mut parts: Vec<String> = Vec::new();
    for (name, v) in names {
        if v != 0 && bits & v == v && seen & v != v {
            seen |= v;
            parts.push(name.to_string());
        }
    }
    if bits & !seen != 0 {
        parts.push(format!("{:#x}", bits & !seen));
    }
    if parts.is_empty() {
        "0".into()
    } else {
        parts.join("|")
    }
}

/// `CLONE_NEWNS|CLONE_NEWPID|SIGCHLD`: clone flags with the exit signal that
/// lives in their low byte.
pub fn clone_flags(flags: CloneFlags, signal: Option<nix::sys::signal::Signal>) -> String {
    let bits = flags.bits() as u32 as u64;
    let s = join_flags(
        flags.iter_names().map(|(n, f)| (n, f.bits() as u32 as u64)),
        bits,
    );
    match (signal, s.as_str()) {
        (Some(sig), "0") => sig.as_str().to_string(),
        (Some(sig), _) => format!("{s}|{}", sig.as_str()),
        (None, _) => s,
    }
}

/// `MS_REC|MS_PRIVATE`
pub fn ms_flags(flags: MsFlags) -> String {
    let bits = flags.bits();
    join_flags(flags.iter_names().map(|(n, f)| (n, f.bits())), bits)
}

/// `MNT_DETACH`
pub fn mnt_flags(flags: MntFlags) -> String {
    let bits = flags.bits() as u32 as u64;
    join_flags(
        flags.iter_names().map(|(n, f)| (n, f.bits() as u32 as u64)),
        bits,
    )
}

/// The errno's text as `strerror` gives it: EINVAL -> "Invalid argument".
pub fn errno_text(name: &str) -> &'static str {
    (1..200)
        .map(Errno::from_raw)
        .find(|e| format!("{e:?}") == name)
        .map(|e| e.desc())
        .unwrap_or("Unknown error")
}

/// A hint for a failed call: what the kernel wanted and how to give it that.
pub fn hint(syscall: &str, errno: Errno) -> Option<String> {
    use Errno::*;
    let h = match (syscall, errno) {
        ("mount" | "umount2" | "pivot_root" | "chroot", EPERM) => {
            "needs CAP_SYS_ADMIN in the user namespace that owns this mount namespace: run as root (sudo)"
        }
        ("clone" | "unshare", EPERM) => {
            "creating namespaces other than user needs CAP_SYS_ADMIN: run as root (sudo)"
        }
        ("clone" | "unshare", EINVAL) => {
            "this combination of namespace flags is not allowed (CLONE_NEWUSER with CLONE_FS, or the kernel lacks one of them)"
        }
        ("clone" | "unshare", ENOSPC) => {
            "a namespace limit in /proc/sys/user/max_*_namespaces is reached"
        }
        ("setns", EPERM) => {
            "joining a namespace needs CAP_SYS_ADMIN in it, and CAP_SYS_CHROOT for a mount namespace: run as root"
        }
        ("setns", EINVAL) => {
            "a multithreaded process cannot join a user or mount namespace, and a process cannot rejoin its own user namespace"
        }
        ("pivot_root", EINVAL) => {
            "the new root must be a mount point and its parent mount must not be shared: make / private first (MS_REC|MS_PRIVATE)"
        }
        ("pivot_root", EBUSY) => "the new root is already the root, or the put_old mount is busy",
        ("mount", ENOENT) => "the mount point (or the source) does not exist inside the current root",
        ("mount", ENODEV) => "the kernel has no such filesystem type: is the module loaded? (see /proc/filesystems)",
        ("mount", EINVAL) => {
            "the kernel refused these mount options: an overlay's upper dir cannot be on an overlay (a lower dir may be), and the upper and work dirs must be separate directories on one mount (dmesg says which)"
        }
        ("mount", EBUSY) => "something is already mounted there or the target is in use",
        ("umount2", EBUSY) => "a process still uses the mount: detach it lazily with MNT_DETACH",
        ("umount2", EINVAL) => "the target is not a mount point",
        ("sethostname", EPERM) => "needs CAP_SYS_ADMIN in the UTS namespace's user namespace",
        ("sethostname", EINVAL) => "a hostname is at most 64 bytes",
        ("execve", ENOENT) => "no such file inside the container's root (a missing dynamic loader gives this too)",
        ("execve", EACCES) => "the file is not executable, or its filesystem is mounted noexec",
        ("write", EPERM) => "the kernel refused the value: uid_map may be written once, by a privileged process, and setgroups must be denied first for an unprivileged gid_map",
        ("write", EINVAL) => "the kernel rejects this value for this file (check units and ranges)",
        ("write", EBUSY) => "the cgroup is busy: a v2 cgroup with processes cannot enable controllers for children",
        ("mkdir", ENOENT) => "the parent cgroup does not exist: is this controller mounted?",
        ("rmdir", EBUSY) => "the cgroup still has processes in it: kill them first",
        ("kill", ESRCH) => "no such process: it has already exited",
        ("reboot", EPERM) => "needs CAP_SYS_BOOT; a seccomp filter (Docker's default) refuses reboot before the kernel looks at capabilities",
        ("init_module" | "finit_module", EPERM) => "needs CAP_SYS_MODULE (and kernel.modules_disabled = 0); a seccomp filter (Docker's default) refuses module loading first",
        ("ptrace", EPERM) => "tracing a process with more capabilities than ours needs CAP_SYS_PTRACE (and Yama's ptrace_scope); a seccomp filter (Docker's default) refuses ptrace first",
        (_, EPERM) | (_, EACCES) => "permission denied: run as root (sudo)",
        _ => return None,
    };
    Some(h.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_flags_read_like_strace() {
        let f = CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWUTS;
        let s = clone_flags(f, Some(nix::sys::signal::Signal::SIGCHLD));
        assert_eq!(s, "CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWPID|SIGCHLD");
        assert_eq!(
            clone_flags(CloneFlags::empty(), Some(nix::sys::signal::Signal::SIGCHLD)),
            "SIGCHLD"
        );
    }

    #[test]
    fn mount_flags_read_like_strace() {
        assert_eq!(
            ms_flags(MsFlags::MS_REC | MsFlags::MS_PRIVATE),
            "MS_REC|MS_PRIVATE"
        );
        assert_eq!(ms_flags(MsFlags::empty()), "0");
        assert_eq!(mnt_flags(MntFlags::MNT_DETACH), "MNT_DETACH");
    }

    #[test]
    fn unknown_bits_show_in_hex() {
        let f = MsFlags::from_bits_retain(MsFlags::MS_BIND.bits() | (1 << 9));
        assert_eq!(ms_flags(f), "MS_BIND|0x200");
    }

    #[test]
    fn strings_are_quoted_and_escaped() {
        assert_eq!(quote("a\"b\n"), "\"a\\\"b\\n\"");
        assert_eq!(opt_str(None::<&str>), "NULL");
        assert_eq!(quote(OsStr::from_bytes(b"\xff")), "\"\\xff\"");
    }

    #[test]
    fn errnos_have_text_and_hints() {
        assert_eq!(errno_text("EINVAL"), "Invalid argument");
        assert!(hint("pivot_root", Errno::EINVAL)
            .unwrap()
            .contains("MS_PRIVATE"));
        assert!(hint("mount", Errno::EPERM)
            .unwrap()
            .contains("CAP_SYS_ADMIN"));
        assert!(hint("mount", Errno::EXDEV).is_none());
        let overlay = hint("mount", Errno::EINVAL).unwrap();
        assert!(
            overlay.contains("upper dir cannot be on an overlay")
                && !overlay.contains("lowerdir cannot"),
            "{overlay}"
        );
    }
}
