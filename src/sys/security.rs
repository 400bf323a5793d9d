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
