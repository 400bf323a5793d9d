//! seccomp: a filter the kernel runs before every syscall.
//!
//! Capabilities decide what a privileged call may do; seccomp decides
//! which calls may be made at all. A classic-BPF program is attached to
//! the process with `seccomp(SECCOMP_SET_MODE_FILTER, …)`; from then on
//! the kernel hands it each syscall's number, architecture and arguments,
//! and the program answers ALLOW, ERRNO(n), KILL, TRAP or LOG. The filter
//! is inherited by every child and survives execve, and it can never be
//! removed — only more filters added (then the strictest answer wins).
//!
//! Installing one needs no_new_privs or CAP_SYS_ADMIN: otherwise an
//! unprivileged process could run a setuid-root program under a filter
//! that makes, say, setuid() fail silently and leave it running as root.
//! So the caller sets [`super::nnp::no_new_privs`] first, and installs the
//! filter last before execve (every call after it is filtered too).
//!
//! [`compile`] is pure and costly (hundreds of rules), so it runs once in
//! the parent before clone; the child only calls [`install`].
//!
//! ## Why an allow-list
//!
//! [`docker_default`] is built the way Docker's profile is: default action
//! ERRNO(EPERM), and an allow-list of every x86_64 syscall this table knows
//! except the dangerous ones. A deny-list with an ALLOW default would look
//! simpler but leaks: the x86_64 kernel also accepts x32-ABI calls (the
//! number with bit 30 set, same audit arch), and syscalls added by a newer
//! kernel than this table; both would pass a deny-list. With an allow-list
//! every call we did not name fails with EPERM, as under Docker; for the
//! names we list the effect is the same as Docker's profile: denied calls
//! return EPERM, the rest run. Docker lets some of the denied calls through
//! when the container was given the capability they need (e.g. CAP_SYS_ADMIN
//! for mount); this profile does not look at capabilities.

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompOperator, LinuxSyscall,
};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::sys;

/// What Docker's default profile refuses (without extra capabilities).
pub const DENIED: &[&str] = &[
    // mounts and the root: CAP_SYS_ADMIN's territory
    "mount",
    "umount2",
    "pivot_root",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    // new namespaces and joining others (clone is checked by its flags)
    "unshare",
    "setns",
    // the machine itself
    "reboot",
    "kexec_load",
    "kexec_file_load",
    "swapon",
    "swapoff",
    "acct",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    // kernel modules
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "query_module",
    "get_kernel_syms",
    // looking into other processes and the kernel
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "bpf",
    "perf_event_open",
    "syslog",
    "lookup_dcookie",
    "fanotify_init",
    // the kernel keyring is not namespaced
    "keyctl",
    "add_key",
    "request_key",
    // file handles bypass the mount namespace (the "shocker" escape)
    "open_by_handle_at",
    "name_to_handle_at",
    // hardware and old or unsafe interfaces
    "iopl",
    "ioperm",
    "vhangup",
    "quotactl",
    "quotactl_fd",
    "uselib",
    "userfaultfd",
    "nfsservctl",
    "_sysctl",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    // NUMA placement (CAP_SYS_NICE in Docker)
    "mbind",
    "set_mempolicy",
    "get_mempolicy",
    "move_pages",
    "migrate_pages",
    // never implemented on x86_64
    "afs_syscall",
    "tuxcall",
    "security",
    "putpmsg",
    "getpmsg",
    "vserver",
];

/// The namespace flags of clone(2): Docker's mask 0x7E020000
/// (NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET).
pub const CLONE_NS_FLAGS: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u64;

fn rule(names: Vec<String>, action: LinuxSeccompAction, errno: Option<u32>) -> LinuxSyscall {
    let mut s = LinuxSyscall::default();
    s.set_names(names).set_action(action).set_errno_ret(errno);
    s
}

/// A profile equivalent in effect to Docker's default (see the module docs).
pub fn docker_default() -> LinuxSeccomp {
    let allowed: Vec<String> = SYSCALLS
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| !DENIED.contains(n) && *n != "clone" && *n != "clone3")
        .map(String::from)
        .collect();
    // clone: allowed only when it asks for no new namespace, so fork and
    // threads work: (flags & CLONE_NS_FLAGS) == 0.
    let mut clone = rule(vec!["clone".into()], LinuxSeccompAction::ScmpActAllow, None);
    let arg = oci_spec::runtime::LinuxSeccompArgBuilder::default()
        .index(0usize)
        .value(CLONE_NS_FLAGS)
        .value_two(0u64)
        .op(LinuxSeccompOperator::ScmpCmpMaskedEq)
        .build()
        .expect("a complete argument");
    clone.set_args(Some(vec![arg]));
    // clone3 passes its flags in a struct a filter cannot read: ENOSYS
    // makes glibc fall back to clone, whose flags we can check.
    let clone3 = rule(
        vec!["clone3".into()],
        LinuxSeccompAction::ScmpActErrno,
        Some(libc::ENOSYS as u32),
    );
    let mut p = LinuxSeccomp::default();
    p.set_default_action(LinuxSeccompAction::ScmpActErrno)
        .set_default_errno_ret(Some(libc::EPERM as u32))
        .set_architectures(Some(vec![Arch::ScmpArchX86_64]))
        .set_syscalls(Some(vec![
            rule(allowed, LinuxSeccompAction::ScmpActAllow, None),
            clone,
            clone3,
        ]));
    p
}

/// A compiled profile: one BPF program per distinct action (seccompiler
/// gives each program one match and one mismatch action). The kernel runs
/// every installed program and keeps the strictest answer, so together
/// they act as the one profile:
/// - the first program answers the default action for every syscall that no
///   rule names (and ALLOW for the ones a rule does);
/// - each further program answers its action for its rules, ALLOW otherwise.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub programs: Vec<BpfProgram>,
}

impl Compiled {
    /// BPF instructions in all programs.
    pub fn instructions(&self) -> usize {
        self.programs.iter().map(Vec::len).sum()
    }
}

/// The syscall number for a name on x86_64, from libc's table.
pub fn number(name: &str) -> Option<i64> {
    SYSCALLS.iter().find(|(n, _)| *n == name).map(|(_, nr)| *nr)
}

fn action(
    a: LinuxSeccompAction,
    errno: Option<u32>,
    default_errno: u32,
) -> anyhow::Result<SeccompAction> {
    Ok(match a {
        LinuxSeccompAction::ScmpActAllow => SeccompAction::Allow,
        LinuxSeccompAction::ScmpActErrno => SeccompAction::Errno(errno.unwrap_or(default_errno)),
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            SeccompAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => SeccompAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => SeccompAction::Trap,
        LinuxSeccompAction::ScmpActLog => SeccompAction::Log,
        LinuxSeccompAction::ScmpActTrace => SeccompAction::Trace(errno.unwrap_or(0)),
        LinuxSeccompAction::ScmpActNotify => {
            bail!("seccomp action SCMP_ACT_NOTIFY needs a listener, which wharf does not support")
        }
    })
}

fn condition(a: &LinuxSeccompArg) -> anyhow::Result<SeccompCondition> {
    let (op, value) = match a.op() {
        LinuxSeccompOperator::ScmpCmpEq => (SeccompCmpOp::Eq, a.value()),
        LinuxSeccompOperator::ScmpCmpNe => (SeccompCmpOp::Ne, a.value()),
        LinuxSeccompOperator::ScmpCmpLt => (SeccompCmpOp::Lt, a.value()),
        LinuxSeccompOperator::ScmpCmpLe => (SeccompCmpOp::Le, a.value()),
        LinuxSeccompOperator::ScmpCmpGt => (SeccompCmpOp::Gt, a.value()),
        LinuxSeccompOperator::ScmpCmpGe => (SeccompCmpOp::Ge, a.value()),
        // OCI: value is the mask, valueTwo what the masked argument must equal.
        LinuxSeccompOperator::ScmpCmpMaskedEq => (
            SeccompCmpOp::MaskedEq(a.value()),
            a.value_two().unwrap_or(0),
        ),
    };
    let index = u8::try_from(a.index()).context("argument index out of range")?;
    SeccompCondition::new(index, SeccompCmpArgLen::Qword, op, value)
        .map_err(|e| anyhow::anyhow!("seccomp argument {index}: {e}"))
}

/// Rules per syscall number; `None` means "matches whatever the arguments".
type Rules = BTreeMap<i64, Option<Vec<SeccompRule>>>;

fn add_rule(
    rules: &mut Rules,
    nr: i64,
    conds: Option<Vec<SeccompCondition>>,
) -> anyhow::Result<()> {
    let entry = rules.entry(nr).or_insert_with(|| Some(Vec::new()));
    match (entry.as_mut(), conds) {
        (None, _) => {}
        (Some(_), None) => *entry = None,
        (Some(v), Some(c)) => v.push(SeccompRule::new(c).map_err(|e| anyhow::anyhow!("{e}"))?),
    }
    Ok(())
}

fn program(
    rules: Rules,
    mismatch: SeccompAction,
    matched: SeccompAction,
) -> anyhow::Result<BpfProgram> {
    let rules = rules
        .into_iter()
        .map(|(nr, r)| (nr, r.unwrap_or_default()))
        .collect();
    let filter = SeccompFilter::new(rules, mismatch, matched, TargetArch::x86_64)
        .map_err(|e| anyhow::anyhow!("building the seccomp filter: {e}"))?;
    BpfProgram::try_from(filter).map_err(|e| anyhow::anyhow!("compiling the seccomp filter: {e}"))
}

/// Compile an OCI seccomp profile to BPF for x86_64. Syscall names this
/// table does not know are skipped, as runc skips names libseccomp does
/// not know (profiles name syscalls of other architectures).
///
/// Limits, said plainly: calls of another architecture (32-bit `int 0x80`)
/// are killed by seccompiler's arch check even if the profile lists
/// SCMP_ARCH_X86; flags (TSYNC, LOG, SPEC_ALLOW) are ignored; and a profile
/// whose default is ALLOW does not stop x32-ABI numbers (libseccomp does).
pub fn compile(profile: &LinuxSeccomp) -> anyhow::Result<Compiled> {
    if !cfg!(target_arch = "x86_64") {
        bail!(
            "seccomp: wharf compiles filters for x86_64 only; this is {}",
            std::env::consts::ARCH
        );
    }
    if let Some(archs) = profile.architectures() {
        if !archs.is_empty()
            && !archs
                .iter()
                .any(|a| matches!(a, Arch::ScmpArchX86_64 | Arch::ScmpArchNative))
        {
            bail!("seccomp: the profile's architectures {archs:?} do not include SCMP_ARCH_X86_64, the only one wharf supports");
        }
    }
    let default_errno = profile.default_errno_ret().unwrap_or(libc::EPERM as u32);
    let default = action(
        profile.default_action(),
        profile.default_errno_ret(),
        default_errno,
    )
    .context("seccomp default action")?;

    // Rules grouped by their action; the first group collects every named
    // syscall for the default program.
    let mut named: Rules = BTreeMap::new();
    let mut groups: Vec<(SeccompAction, Rules)> = Vec::new();
    for sc in profile.syscalls().iter().flatten() {
        let act = action(sc.action(), sc.errno_ret(), libc::EPERM as u32)
            .with_context(|| format!("seccomp rule for {:?}", sc.names()))?;
        if act == default {
            continue;
        }
        let conds = match sc.args() {
            Some(a) if !a.is_empty() => Some(
                a.iter()
                    .map(condition)
                    .collect::<anyhow::Result<Vec<_>>>()
                    .with_context(|| format!("seccomp rule for {:?}", sc.names()))?,
            ),
            _ => None,
        };
        let pos = match groups.iter().position(|(a, _)| *a == act) {
            Some(p) => p,
            None => {
                groups.push((act.clone(), BTreeMap::new()));
                groups.len() - 1
            }
        };
        for nr in sc.names().iter().filter_map(|n| number(n)) {
            add_rule(&mut named, nr, conds.clone())?;
            add_rule(&mut groups[pos].1, nr, conds.clone())?;
        }
    }
    let mut programs = Vec::new();
    if default != SeccompAction::Allow {
        programs.push(program(named, default, SeccompAction::Allow)?);
    }
    for (act, rules) in groups {
        if act != SeccompAction::Allow && !rules.is_empty() {
            programs.push(program(rules, SeccompAction::Allow, act)?);
        }
    }
    Ok(Compiled { programs })
}

/// Install a compiled profile on the calling process: one
/// `seccomp(SECCOMP_SET_MODE_FILTER, 0, …)` step per program. Call it after
/// no_new_privs and as the last step before execve.
pub fn install(c: &Compiled) -> anyhow::Result<()> {
    for (i, p) in c.programs.iter().enumerate() {
        let why = match i {
            0 => "from now on the kernel runs this filter before every syscall; what it does not allow fails",
            _ => "a second filter for the rules with another answer; the kernel keeps the strictest answer of all filters",
        };
        sys::seccomp_set_mode_filter(p, why).context("installing the seccomp filter")?;
    }
    Ok(())
}

/// x86_64 syscall names and numbers, from libc's `SYS_*` constants.
pub const SYSCALLS: &[(&str, i64)] = &[
    // Gone from Linux since 2.6 and from libc's list, but still numbered
    // (arch/x86/entry/syscalls/syscall_64.tbl); named so the profile denies them.
    ("create_module", 174),
    ("get_kernel_syms", 177),
    ("query_module", 178),
    ("read", libc::SYS_read),
    ("write", libc::SYS_write),
    ("open", libc::SYS_open),
    ("close", libc::SYS_close),
    ("stat", libc::SYS_stat),
    ("fstat", libc::SYS_fstat),
    ("lstat", libc::SYS_lstat),
    ("poll", libc::SYS_poll),
    ("lseek", libc::SYS_lseek),
    ("mmap", libc::SYS_mmap),
    ("mprotect", libc::SYS_mprotect),
    ("munmap", libc::SYS_munmap),
    ("brk", libc::SYS_brk),
    ("rt_sigaction", libc::SYS_rt_sigaction),
    ("rt_sigprocmask", libc::SYS_rt_sigprocmask),
    ("rt_sigreturn", libc::SYS_rt_sigreturn),
    ("ioctl", libc::SYS_ioctl),
    ("pread64", libc::SYS_pread64),
    ("pwrite64", libc::SYS_pwrite64),
    ("readv", libc::SYS_readv),
    ("writev", libc::SYS_writev),
    ("access", libc::SYS_access),
    ("pipe", libc::SYS_pipe),
    ("select", libc::SYS_select),
    ("sched_yield", libc::SYS_sched_yield),
    ("mremap", libc::SYS_mremap),
    ("msync", libc::SYS_msync),
    ("mincore", libc::SYS_mincore),
    ("madvise", libc::SYS_madvise),
    ("shmget", libc::SYS_shmget),
    ("shmat", libc::SYS_shmat),
    ("shmctl", libc::SYS_shmctl),
    ("dup", libc::SYS_dup),
    ("dup2", libc::SYS_dup2),
    ("pause", libc::SYS_pause),
    ("nanosleep", libc::SYS_nanosleep),
    ("getitimer", libc::SYS_getitimer),
    ("alarm", libc::SYS_alarm),
    ("setitimer", libc::SYS_setitimer),
    ("getpid", libc::SYS_getpid),
    ("sendfile", libc::SYS_sendfile),
    ("socket", libc::SYS_socket),
    ("connect", libc::SYS_connect),
    ("accept", libc::SYS_accept),
    ("sendto", libc::SYS_sendto),
    ("recvfrom", libc::SYS_recvfrom),
    ("sendmsg", libc::SYS_sendmsg),
    ("recvmsg", libc::SYS_recvmsg),
    ("shutdown", libc::SYS_shutdown),
    ("bind", libc::SYS_bind),
    ("listen", libc::SYS_listen),
    ("getsockname", libc::SYS_getsockname),
    ("getpeername", libc::SYS_getpeername),
    ("socketpair", libc::SYS_socketpair),
    ("setsockopt", libc::SYS_setsockopt),
    ("getsockopt", libc::SYS_getsockopt),
    ("clone", libc::SYS_clone),
    ("fork", libc::SYS_fork),
    ("vfork", libc::SYS_vfork),
    ("execve", libc::SYS_execve),
    ("exit", libc::SYS_exit),
    ("wait4", libc::SYS_wait4),
    ("kill", libc::SYS_kill),
    ("uname", libc::SYS_uname),
    ("semget", libc::SYS_semget),
    ("semop", libc::SYS_semop),
    ("semctl", libc::SYS_semctl),
    ("shmdt", libc::SYS_shmdt),
    ("msgget", libc::SYS_msgget),
    ("msgsnd", libc::SYS_msgsnd),
    ("msgrcv", libc::SYS_msgrcv),
    ("msgctl", libc::SYS_msgctl),
    ("fcntl", libc::SYS_fcntl),
    ("flock", libc::SYS_flock),
    ("fsync", libc::SYS_fsync),
    ("fdatasync", libc::SYS_fdatasync),
    ("truncate", libc::SYS_truncate),
    ("ftruncate", libc::SYS_ftruncate),
    ("getdents", libc::SYS_getdents),
    ("getcwd", libc::SYS_getcwd),
    ("chdir", libc::SYS_chdir),
    ("fchdir", libc::SYS_fchdir),
    ("rename", libc::SYS_rename),
    ("mkdir", libc::SYS_mkdir),
    ("rmdir", libc::SYS_rmdir),
    ("creat", libc::SYS_creat),
    ("link", libc::SYS_link),
    ("unlink", libc::SYS_unlink),
    ("symlink", libc::SYS_symlink),
    ("readlink", libc::SYS_readlink),
    ("chmod", libc::SYS_chmod),
    ("fchmod", libc::SYS_fchmod),
    ("chown", libc::SYS_chown),
    ("fchown", libc::SYS_fchown),
    ("lchown", libc::SYS_lchown),
    ("umask", libc::SYS_umask),
    ("gettimeofday", libc::SYS_gettimeofday),
    ("getrlimit", libc::SYS_getrlimit),
    ("getrusage", libc::SYS_getrusage),
    ("sysinfo", libc::SYS_sysinfo),
    ("times", libc::SYS_times),
    ("ptrace", libc::SYS_ptrace),
    ("getuid", libc::SYS_getuid),
    ("syslog", libc::SYS_syslog),
    ("getgid", libc::SYS_getgid),
    ("setuid", libc::SYS_setuid),
    ("setgid", libc::SYS_setgid),
    ("geteuid", libc::SYS_geteuid),
    ("getegid", libc::SYS_getegid),
    ("setpgid", libc::SYS_setpgid),
    ("getppid", libc::SYS_getppid),
    ("getpgrp", libc::SYS_getpgrp),
    ("setsid", libc::SYS_setsid),
    ("setreuid", libc::SYS_setreuid),
    ("setregid", libc::SYS_setregid),
    ("getgroups", libc::SYS_getgroups),
    ("setgroups", libc::SYS_setgroups),
    ("setresuid", libc::SYS_setresuid),
    ("getresuid", libc::SYS_getresuid),
    ("setresgid", libc::SYS_setresgid),
    ("getresgid", libc::SYS_getresgid),
    ("getpgid", libc::SYS_getpgid),
    ("setfsuid", libc::SYS_setfsuid),
    ("setfsgid", libc::SYS_setfsgid),
    ("getsid", libc::SYS_getsid),
    ("capget", libc::SYS_capget),
    ("capset", libc::SYS_capset),
    ("rt_sigpending", libc::SYS_rt_sigpending),
    ("rt_sigtimedwait", libc::SYS_rt_sigtimedwait),
    ("rt_sigqueueinfo", libc::SYS_rt_sigqueueinfo),
    ("rt_sigsuspend", libc::SYS_rt_sigsuspend),
    ("sigaltstack", libc::SYS_sigaltstack),
    ("utime", libc::SYS_utime),
    ("mknod", libc::SYS_mknod),
    ("uselib", libc::SYS_uselib),
    ("personality", libc::SYS_personality),
    ("ustat", libc::SYS_ustat),
    ("statfs", libc::SYS_statfs),
    ("fstatfs", libc::SYS_fstatfs),
    ("sysfs", libc::SYS_sysfs),
    ("getpriority", libc::SYS_getpriority),
    ("setpriority", libc::SYS_setpriority),
    ("sched_setparam", libc::SYS_sched_setparam),
    ("sched_getparam", libc::SYS_sched_getparam),
    ("sched_setscheduler", libc::SYS_sched_setscheduler),
    ("sched_getscheduler", libc::SYS_sched_getscheduler),
    ("sched_get_priority_max", libc::SYS_sched_get_priority_max),
    ("sched_get_priority_min", libc::SYS_sched_get_priority_min),
    ("sched_rr_get_interval", libc::SYS_sched_rr_get_interval),
    ("mlock", libc::SYS_mlock),
    ("munlock", libc::SYS_munlock),
    ("mlockall", libc::SYS_mlockall),
    ("munlockall", libc::SYS_munlockall),
    ("vhangup", libc::SYS_vhangup),
    ("modify_ldt", libc::SYS_modify_ldt),
    ("pivot_root", libc::SYS_pivot_root),
    ("_sysctl", libc::SYS__sysctl),
    ("prctl", libc::SYS_prctl),
    ("arch_prctl", libc::SYS_arch_prctl),
    ("adjtimex", libc::SYS_adjtimex),
    ("setrlimit", libc::SYS_setrlimit),
    ("chroot", libc::SYS_chroot),
    ("sync", libc::SYS_sync),
    ("acct", libc::SYS_acct),
    ("settimeofday", libc::SYS_settimeofday),
    ("mount", libc::SYS_mount),
    ("umount2", libc::SYS_umount2),
    ("swapon", libc::SYS_swapon),
    ("swapoff", libc::SYS_swapoff),
    ("reboot", libc::SYS_reboot),
    ("sethostname", libc::SYS_sethostname),
    ("setdomainname", libc::SYS_setdomainname),
    ("iopl", libc::SYS_iopl),
    ("ioperm", libc::SYS_ioperm),
    ("init_module", libc::SYS_init_module),
    ("delete_module", libc::SYS_delete_module),
    ("quotactl", libc::SYS_quotactl),
    ("nfsservctl", libc::SYS_nfsservctl),
    ("getpmsg", libc::SYS_getpmsg),
    ("putpmsg", libc::SYS_putpmsg),
    ("afs_syscall", libc::SYS_afs_syscall),
    ("tuxcall", libc::SYS_tuxcall),
    ("security", libc::SYS_security),
    ("gettid", libc::SYS_gettid),
    ("readahead", libc::SYS_readahead),
    ("setxattr", libc::SYS_setxattr),
    ("lsetxattr", libc::SYS_lsetxattr),
    ("fsetxattr", libc::SYS_fsetxattr),
    ("getxattr", libc::SYS_getxattr),
    ("lgetxattr", libc::SYS_lgetxattr),
    ("fgetxattr", libc::SYS_fgetxattr),
    ("listxattr", libc::SYS_listxattr),
    ("llistxattr", libc::SYS_llistxattr),
    ("flistxattr", libc::SYS_flistxattr),
    ("removexattr", libc::SYS_removexattr),
    ("lremovexattr", libc::SYS_lremovexattr),
    ("fremovexattr", libc::SYS_fremovexattr),
    ("tkill", libc::SYS_tkill),
    ("time", libc::SYS_time),
    ("futex", libc::SYS_futex),
    ("sched_setaffinity", libc::SYS_sched_setaffinity),
    ("sched_getaffinity", libc::SYS_sched_getaffinity),
    ("set_thread_area", libc::SYS_set_thread_area),
    ("io_setup", libc::SYS_io_setup),
    ("io_destroy", libc::SYS_io_destroy),
    ("io_getevents", libc::SYS_io_getevents),
    ("io_submit", libc::SYS_io_submit),
    ("io_cancel", libc::SYS_io_cancel),
    ("get_thread_area", libc::SYS_get_thread_area),
    ("lookup_dcookie", libc::SYS_lookup_dcookie),
    ("epoll_create", libc::SYS_epoll_create),
    ("epoll_ctl_old", libc::SYS_epoll_ctl_old),
    ("epoll_wait_old", libc::SYS_epoll_wait_old),
    ("remap_file_pages", libc::SYS_remap_file_pages),
    ("getdents64", libc::SYS_getdents64),
    ("set_tid_address", libc::SYS_set_tid_address),
    ("restart_syscall", libc::SYS_restart_syscall),
    ("semtimedop", libc::SYS_semtimedop),
    ("fadvise64", libc::SYS_fadvise64),
    ("timer_create", libc::SYS_timer_create),
    ("timer_settime", libc::SYS_timer_settime),
    ("timer_gettime", libc::SYS_timer_gettime),
    ("timer_getoverrun", libc::SYS_timer_getoverrun),
    ("timer_delete", libc::SYS_timer_delete),
    ("clock_settime", libc::SYS_clock_settime),
    ("clock_gettime", libc::SYS_clock_gettime),
    ("clock_getres", libc::SYS_clock_getres),
    ("clock_nanosleep", libc::SYS_clock_nanosleep),
    ("exit_group", libc::SYS_exit_group),
    ("epoll_wait", libc::SYS_epoll_wait),
    ("epoll_ctl", libc::SYS_epoll_ctl),
    ("tgkill", libc::SYS_tgkill),
    ("utimes", libc::SYS_utimes),
    ("vserver", libc::SYS_vserver),
    ("mbind", libc::SYS_mbind),
    ("set_mempolicy", libc::SYS_set_mempolicy),
    ("get_mempolicy", libc::SYS_get_mempolicy),
    ("mq_open", libc::SYS_mq_open),
    ("mq_unlink", libc::SYS_mq_unlink),
    ("mq_timedsend", libc::SYS_mq_timedsend),
    ("mq_timedreceive", libc::SYS_mq_timedreceive),
    ("mq_notify", libc::SYS_mq_notify),
    ("mq_getsetattr", libc::SYS_mq_getsetattr),
    ("kexec_load", libc::SYS_kexec_load),
    ("waitid", libc::SYS_waitid),
    ("add_key", libc::SYS_add_key),
    ("request_key", libc::SYS_request_key),
    ("keyctl", libc::SYS_keyctl),
    ("ioprio_set", libc::SYS_ioprio_set),
    ("ioprio_get", libc::SYS_ioprio_get),
    ("inotify_init", libc::SYS_inotify_init),
    ("inotify_add_watch", libc::SYS_inotify_add_watch),
    ("inotify_rm_watch", libc::SYS_inotify_rm_watch),
    ("migrate_pages", libc::SYS_migrate_pages),
    ("openat", libc::SYS_openat),
    ("mkdirat", libc::SYS_mkdirat),
    ("mknodat", libc::SYS_mknodat),
    ("fchownat", libc::SYS_fchownat),
    ("futimesat", libc::SYS_futimesat),
    ("newfstatat", libc::SYS_newfstatat),
    ("unlinkat", libc::SYS_unlinkat),
    ("renameat", libc::SYS_renameat),
    ("linkat", libc::SYS_linkat),
    ("symlinkat", libc::SYS_symlinkat),
    ("readlinkat", libc::SYS_readlinkat),
    ("fchmodat", libc::SYS_fchmodat),
    ("faccessat", libc::SYS_faccessat),
    ("pselect6", libc::SYS_pselect6),
    ("ppoll", libc::SYS_ppoll),
    ("unshare", libc::SYS_unshare),
    ("set_robust_list", libc::SYS_set_robust_list),
    ("get_robust_list", libc::SYS_get_robust_list),
    ("splice", libc::SYS_splice),
    ("tee", libc::SYS_tee),
    ("sync_file_range", libc::SYS_sync_file_range),
    ("vmsplice", libc::SYS_vmsplice),
    ("move_pages", libc::SYS_move_pages),
    ("utimensat", libc::SYS_utimensat),
    ("epoll_pwait", libc::SYS_epoll_pwait),
    ("signalfd", libc::SYS_signalfd),
    ("timerfd_create", libc::SYS_timerfd_create),
    ("eventfd", libc::SYS_eventfd),
    ("fallocate", libc::SYS_fallocate),
    ("timerfd_settime", libc::SYS_timerfd_settime),
    ("timerfd_gettime", libc::SYS_timerfd_gettime),
    ("accept4", libc::SYS_accept4),
    ("signalfd4", libc::SYS_signalfd4),
    ("eventfd2", libc::SYS_eventfd2),
    ("epoll_create1", libc::SYS_epoll_create1),
    ("dup3", libc::SYS_dup3),
    ("pipe2", libc::SYS_pipe2),
    ("inotify_init1", libc::SYS_inotify_init1),
    ("preadv", libc::SYS_preadv),
    ("pwritev", libc::SYS_pwritev),
    ("rt_tgsigqueueinfo", libc::SYS_rt_tgsigqueueinfo),
    ("perf_event_open", libc::SYS_perf_event_open),
    ("recvmmsg", libc::SYS_recvmmsg),
    ("fanotify_init", libc::SYS_fanotify_init),
    ("fanotify_mark", libc::SYS_fanotify_mark),
    ("prlimit64", libc::SYS_prlimit64),
    ("name_to_handle_at", libc::SYS_name_to_handle_at),
    ("open_by_handle_at", libc::SYS_open_by_handle_at),
    ("clock_adjtime", libc::SYS_clock_adjtime),
    ("syncfs", libc::SYS_syncfs),
    ("sendmmsg", libc::SYS_sendmmsg),
    ("setns", libc::SYS_setns),
    ("getcpu", libc::SYS_getcpu),
    ("process_vm_readv", libc::SYS_process_vm_readv),
    ("process_vm_writev", libc::SYS_process_vm_writev),
    ("kcmp", libc::SYS_kcmp),
    ("finit_module", libc::SYS_finit_module),
    ("sched_setattr", libc::SYS_sched_setattr),
    ("sched_getattr", libc::SYS_sched_getattr),
    ("renameat2", libc::SYS_renameat2),
    ("seccomp", libc::SYS_seccomp),
    ("getrandom", libc::SYS_getrandom),
    ("memfd_create", libc::SYS_memfd_create),
    ("kexec_file_load", libc::SYS_kexec_file_load),
    ("bpf", libc::SYS_bpf),
    ("execveat", libc::SYS_execveat),
    ("userfaultfd", libc::SYS_userfaultfd),
    ("membarrier", libc::SYS_membarrier),
    ("mlock2", libc::SYS_mlock2),
    ("copy_file_range", libc::SYS_copy_file_range),
    ("preadv2", libc::SYS_preadv2),
    ("pwritev2", libc::SYS_pwritev2),
    ("pkey_mprotect", libc::SYS_pkey_mprotect),
    ("pkey_alloc", libc::SYS_pkey_alloc),
    ("pkey_free", libc::SYS_pkey_free),
    ("statx", libc::SYS_statx),
    ("rseq", libc::SYS_rseq),
    ("pidfd_send_signal", libc::SYS_pidfd_send_signal),
    ("io_uring_setup", libc::SYS_io_uring_setup),
    ("io_uring_enter", libc::SYS_io_uring_enter),
    ("io_uring_register", libc::SYS_io_uring_register),
    ("open_tree", libc::SYS_open_tree),
    ("move_mount", libc::SYS_move_mount),
    ("fsopen", libc::SYS_fsopen),
    ("fsconfig", libc::SYS_fsconfig),
    ("fsmount", libc::SYS_fsmount),
    ("fspick", libc::SYS_fspick),
    ("pidfd_open", libc::SYS_pidfd_open),
    ("clone3", libc::SYS_clone3),
    ("close_range", libc::SYS_close_range),
    ("openat2", libc::SYS_openat2),
    ("pidfd_getfd", libc::SYS_pidfd_getfd),
    ("faccessat2", libc::SYS_faccessat2),
    ("process_madvise", libc::SYS_process_madvise),
    ("epoll_pwait2", libc::SYS_epoll_pwait2),
    ("mount_setattr", libc::SYS_mount_setattr),
    ("quotactl_fd", libc::SYS_quotactl_fd),
    ("landlock_create_ruleset", libc::SYS_landlock_create_ruleset),
    ("landlock_add_rule", libc::SYS_landlock_add_rule),
    ("landlock_restrict_self", libc::SYS_landlock_restrict_self),
    ("memfd_secret", libc::SYS_memfd_secret),
    ("process_mrelease", libc::SYS_process_mrelease),
    ("futex_waitv", libc::SYS_futex_waitv),
    ("set_mempolicy_home_node", libc::SYS_set_mempolicy_home_node),
    ("fchmodat2", libc::SYS_fchmodat2),
    ("mseal", libc::SYS_mseal),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed_names(p: &LinuxSeccomp) -> Vec<String> {
        p.syscalls()
            .iter()
            .flatten()
            .filter(|s| s.action() == LinuxSeccompAction::ScmpActAllow && s.args().is_none())
            .flat_map(|s| s.names().clone())
            .collect()
    }

    #[test]
    fn docker_default_denies_the_dangerous_calls() {
        let p = docker_default();
        assert_eq!(p.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(p.default_errno_ret(), Some(libc::EPERM as u32));
        let allowed = allowed_names(&p);
        for n in [
            "mount",
            "umount2",
            "reboot",
            "init_module",
            "finit_module",
            "delete_module",
            "kexec_load",
            "kexec_file_load",
            "ptrace",
            "bpf",
            "perf_event_open",
            "keyctl",
            "add_key",
            "request_key",
            "swapon",
            "swapoff",
            "acct",
            "settimeofday",
            "clock_settime",
            "clock_adjtime",
            "adjtimex",
            "pivot_root",
            "open_by_handle_at",
            "name_to_handle_at",
            "userfaultfd",
            "quotactl",
            "lookup_dcookie",
            "uselib",
            "unshare",
            "setns",
            "iopl",
            "ioperm",
            "vhangup",
            "syslog",
            "nfsservctl",
            "get_kernel_syms",
            "query_module",
            "create_module",
            "mbind",
            "set_mempolicy",
            "move_pages",
            "clone",
            "clone3",
        ] {
            assert!(
                !allowed.iter().any(|a| a == n),
                "{n} is allowed unconditionally"
            );
        }
        for n in [
            "read",
            "write",
            "execve",
            "chroot",
            "getpid",
            "exit_group",
            "sethostname",
        ] {
            assert!(allowed.iter().any(|a| a == n), "{n} is not allowed");
        }
        // Every denied name is a real x86_64 syscall (no typo hides one).
        for n in DENIED {
            assert!(number(n).is_some(), "{n} is not in the table");
        }
    }

    #[test]
    fn docker_default_compiles_to_two_programs() {
        let c = compile(&docker_default()).unwrap();
        assert_eq!(c.programs.len(), 2);
        assert!(
            c.instructions() > 300 && c.instructions() < 4096,
            "{}",
            c.instructions()
        );
    }

    #[test]
    fn clone_mask_is_dockers() {
        assert_eq!(CLONE_NS_FLAGS, 2114060288);
    }

    #[test]
    fn table_numbers() {
        assert_eq!(number("read"), Some(0));
        assert_eq!(number("mount"), Some(165));
        assert_eq!(number("clone3"), Some(435));
        assert_eq!(number("no_such_call"), None);
    }

    #[test]
    fn unknown_names_are_skipped_and_other_archs_refused() {
        let mut p = LinuxSeccomp::default();
        p.set_syscalls(Some(vec![rule(
            vec!["no_such_call".into(), "mount".into()],
            LinuxSeccompAction::ScmpActErrno,
            None,
        )]));
        let c = compile(&p).unwrap();
        assert_eq!(c.programs.len(), 1);

        p.set_architectures(Some(vec![Arch::ScmpArchAarch64]));
        let e = compile(&p).unwrap_err().to_string();
        assert!(e.contains("do not include SCMP_ARCH_X86_64"), "{e}");
    }

    #[test]
    fn notify_is_refused() {
        let mut p = LinuxSeccomp::default();
        p.set_default_action(LinuxSeccompAction::ScmpActNotify);
        let e = format!("{:#}", compile(&p).unwrap_err());
        assert!(e.contains("SCMP_ACT_NOTIFY"), "{e}");
    }
}
