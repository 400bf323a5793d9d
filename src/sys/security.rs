//! The calls that take power away from a process before it runs the
//! container's command: capability sets, no_new_privs, seccomp, rlimits.
//! Each is one journaled step; what they mean is told in `src/security`.

use nix::errno::Errno;

use super::{Call, SysError};

/// Decode a 64-bit capability mask the way strace prints capability sets:
/// `CAP_CHOWN|CAP_KILL`, or `0` when empty.
pub fn cap_mask(mask: u64) -> String {
    let mut all: Vec<caps::Capability> = caps::all()
        .into_iter()
        .filter(|c| mask & c.bitmask() != 0)
        .collect();
    all.sort_by_key(|c| c.index());
    let mut names: Vec<String> = all.iter().map(|c| c.to_string()).collect();
    // Bits the caps crate has no name for still show, as numbers.
    let known: u64 = all.iter().map(|c| c.bitmask()).fold(0, |a, b| a | b);
    for bit in 0..64 {
        if (mask & !known) & (1u64 << bit) != 0 {
            names.push(format!("CAP_{bit}"));
        }
    }
    if names.is_empty() {
        "0".into()
    } else {
        names.join("|")
    }
}

/// `prctl(PR_CAPBSET_DROP, cap)` for each capability in `mask`: remove them
/// from the bounding set, the ceiling of what any later execve can grant.
/// One step for the whole list.
pub fn capbset_drop(mask: u64, why: &str) -> Result<(), SysError> {
    let args = vec!["PR_CAPBSET_DROP".into(), format!("[{}]", cap_mask(mask))];
    Call::new("prctl", args, why)
        .kernel("the dropped capabilities can never come back to this process or its children")
        .run(|| {
            for bit in 0..64u64 {
                if mask & (1 << bit) != 0 {
                    // SAFETY: prctl with integer arguments only.
                    let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, bit, 0, 0, 0) };
                    Errno::result(r)?;
                }
            }
            Ok(())
        })
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// `capset({_LINUX_CAPABILITY_VERSION_3, 0}, {effective, permitted,
/// inheritable})`: set the three per-thread sets at once.
pub fn capset(effective: u64, permitted: u64, inheritable: u64, why: &str) -> Result<(), SysError> {
    let args = vec![
        "{version=_LINUX_CAPABILITY_VERSION_3, pid=0}".into(),
        format!(
            "{{effective={}, permitted={}, inheritable={}}}",
            cap_mask(effective),
            cap_mask(permitted),
            cap_mask(inheritable)
        ),
    ];
    Call::new("capset", args, why)
        .kernel("this thread's effective, permitted and inheritable sets are now as shown")
        .run(|| {
            let mut hdr = CapHeader {
                version: LINUX_CAPABILITY_VERSION_3,
                pid: 0,
            };
            let split = |m: u64| (m as u32, (m >> 32) as u32);
            let (e0, e1) = split(effective);
            let (p0, p1) = split(permitted);
            let (i0, i1) = split(inheritable);
            let data = [
                CapData {
                    effective: e0,
                    permitted: p0,
                    inheritable: i0,
                },
                CapData {
                    effective: e1,
                    permitted: p1,
                    inheritable: i1,
                },
            ];
            // SAFETY: a v3 header and the two data structs it asks for.
            let r = unsafe { libc::syscall(libc::SYS_capset, &mut hdr, data.as_ptr()) };
            Errno::result(r).map(drop)
        })
}

/// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)` then
/// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap)` for each cap in `mask`.
pub fn ambient_set(mask: u64, why: &str) -> Result<(), SysError> {
    let args = vec![
        "PR_CAP_AMBIENT".into(),
        "PR_CAP_AMBIENT_CLEAR_ALL, then PR_CAP_AMBIENT_RAISE".into(),
        format!("[{}]", cap_mask(mask)),
    ];
    Call::new("prctl", args, why)
        .kernel(
            "the ambient set is now as shown; it survives execve of a file without capabilities",
        )
        .run(|| {
            // SAFETY: prctl with integer arguments only.
            let r = unsafe {
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_CLEAR_ALL,
                    0,
                    0,
                    0,
                )
            };
            Errno::result(r)?;
            for bit in 0..64u64 {
                if mask & (1 << bit) != 0 {
                    // SAFETY: as above.
                    let r = unsafe {
                        libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE, bit, 0, 0)
                    };
                    Errno::result(r)?;
                }
            }
            Ok(())
        })
}

/// `prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)`.
pub fn set_no_new_privs(why: &str) -> Result<(), SysError> {
    let args = vec!["PR_SET_NO_NEW_PRIVS".into(), "1".into()];
    Call::new("prctl", args, why)
        .kernel("NoNewPrivs: 1 — execve can no longer grant privileges (setuid bits, file capabilities)")
        .run(|| {
            // SAFETY: prctl with integer arguments only.
            let r = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
            Errno::result(r).map(drop)
        })
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, 0, {len, filter})`: attach a BPF
/// program that the kernel runs on every later syscall of this thread and
/// of every process it starts.
pub fn seccomp_set_mode_filter(
    program: &[seccompiler::sock_filter],
    why: &str,
) -> Result<(), SysError> {
    let args = vec![
        "SECCOMP_SET_MODE_FILTER".into(),
        "0".into(),
        format!("{{len={}, filter=[…]}}", program.len()),
    ];
    Call::new("seccomp", args, why)
        .kernel("Seccomp: 2 (filter) — the filter runs before every syscall from now on")
        .run(|| {
            let len = u16::try_from(program.len()).map_err(|_| Errno::EINVAL)?;
            let prog = libc::sock_fprog {
                len,
                filter: program.as_ptr() as *mut libc::sock_filter,
            };
            // SAFETY: the kernel copies the program; `program` outlives the call.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER,
                    0,
                    &prog as *const libc::sock_fprog,
                )
            };
            Errno::result(r).map(drop)
        })
}

/// `prlimit64(0, resource, {soft, hard}, NULL)`: set one resource limit of
/// this process; it is kept across execve.
pub fn prlimit(resource: u32, name: &str, soft: u64, hard: u64, why: &str) -> Result<(), SysError> {
    let show = |v: u64| match v {
        u64::MAX => "RLIM64_INFINITY".to_string(),
        v => v.to_string(),
    };
    let args = vec![
        "0".into(),
        name.to_string(),
        format!("{{rlim_cur={}, rlim_max={}}}", show(soft), show(hard)),
        "NULL".into(),
    ];
    Call::new("prlimit64", args, why).run(|| {
        let lim = libc::rlimit64 {
            rlim_cur: soft,
            rlim_max: hard,
        };
        // SAFETY: a valid rlimit64 and a NULL old-limit pointer.
        let r = unsafe { libc::prlimit64(0, resource as _, &lim, std::ptr::null_mut()) };
        Errno::result(r).map(drop)
    })
}

/// `prctl(PR_SET_KEEPCAPS, on)`: whether a setuid from 0 to another uid
/// keeps the permitted set (the effective set is cleared either way).
pub fn set_keepcaps(on: bool, why: &str) -> Result<(), SysError> {
    let args = vec!["PR_SET_KEEPCAPS".into(), u8::from(on).to_string()];
    Call::new("prctl", args, why).run(|| {
        // SAFETY: prctl with integer arguments only.
        let r = unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, libc::c_ulong::from(on), 0, 0, 0) };
        Errno::result(r).map(drop)
    })
}

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BpfInsn {
    pub code: u8,
    /// dst register in the low 4 bits, src register in the high 4.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

/// A loaded BPF program, as the fd the kernel returned.
pub struct BpfProg(pub std::os::fd::OwnedFd);

impl super::Ret for BpfProg {
    fn ret(&self) -> i64 {
        use std::os::fd::AsRawFd;
        self.0.as_raw_fd() as i64
    }
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// `bpf(BPF_PROG_LOAD, {prog_type=BPF_PROG_TYPE_CGROUP_DEVICE, …})`: the
/// kernel verifies the program and returns an fd for it.
pub fn bpf_prog_load_cgroup_device(insns: &[BpfInsn], why: &str) -> Result<BpfProg, SysError> {
    let args = vec![
        "BPF_PROG_LOAD".into(),
        format!(
            "{{prog_type=BPF_PROG_TYPE_CGROUP_DEVICE, insn_cnt={}, license=\"Apache\"}}",
            insns.len()
        ),
    ];
    Call::new("bpf", args, why).run(|| {
        let license = c"Apache";
        let attr = ProgLoadAttr {
            prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
            insn_cnt: u32::try_from(insns.len()).map_err(|_| Errno::E2BIG)?,
            insns: insns.as_ptr() as u64,
            license: license.as_ptr() as u64,
            ..Default::default()
        };
        // SAFETY: attr points at live instructions and a NUL-terminated string.
        let r = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_PROG_LOAD,
                &attr as *const ProgLoadAttr,
                std::mem::size_of::<ProgLoadAttr>(),
            )
        };
        let fd = Errno::result(r)? as i32;
        // SAFETY: the kernel just gave us this fd.
        Ok(BpfProg(unsafe {
            <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd)
        }))
    })
}

/// `bpf(BPF_PROG_ATTACH, {target_fd=<cgroup>, attach_bpf_fd=<prog>,
/// attach_type=BPF_CGROUP_DEVICE, attach_flags=BPF_F_ALLOW_MULTI})`.
pub fn bpf_prog_attach_cgroup_device(
    cgroup: &std::os::fd::OwnedFd,
    shown_as: &str,
    prog: &BpfProg,
    why: &str,
) -> Result<(), SysError> {
    use std::os::fd::AsRawFd;
    let args = vec![
        "BPF_PROG_ATTACH".into(),
        format!(
            "{{target_fd={}<{shown_as}>, attach_bpf_fd={}, attach_type=BPF_CGROUP_DEVICE, attach_flags=BPF_F_ALLOW_MULTI}}",
            cgroup.as_raw_fd(),
            prog.0.as_raw_fd()
        ),
    ];
    Call::new("bpf", args, why)
        .kernel(format!(
            "every open and mknod of a device node by a process in {shown_as} now runs the program"
        ))
        .run(|| {
            let attr = ProgAttachAttr {
                target_fd: cgroup.as_raw_fd() as u32,
                attach_bpf_fd: prog.0.as_raw_fd() as u32,
                attach_type: BPF_CGROUP_DEVICE,
                attach_flags: BPF_F_ALLOW_MULTI,
                replace_bpf_fd: 0,
            };
            // SAFETY: attr is a valid, fully initialised attach request.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_bpf,
                    BPF_PROG_ATTACH,
                    &attr as *const ProgAttachAttr,
                    std::mem::size_of::<ProgAttachAttr>(),
                )
            };
            Errno::result(r).map(drop)
        })
}
