//! Resource limits: how much of a resource one process may use.
//!
//! Each limit has a soft value, which the kernel enforces, and a hard
//! value, the ceiling the soft one may be raised to without
//! CAP_SYS_RESOURCE. They are per process, inherited across fork and kept
//! across execve, so the container's init sets them just before execve and
//! every process of the container starts with them. (A limit on the whole
//! container, such as the number of its processes, is the cgroup's job.)

use anyhow::Context;
use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

use crate::sys;

/// The kernel's resource number and name for an OCI rlimit type.
pub fn resource(t: PosixRlimitType) -> (u32, &'static str) {
    use PosixRlimitType::*;
    let (r, name) = match t {
        RlimitCpu => (libc::RLIMIT_CPU, "RLIMIT_CPU"),
        RlimitFsize => (libc::RLIMIT_FSIZE, "RLIMIT_FSIZE"),
        RlimitData => (libc::RLIMIT_DATA, "RLIMIT_DATA"),
        RlimitStack => (libc::RLIMIT_STACK, "RLIMIT_STACK"),
        RlimitCore => (libc::RLIMIT_CORE, "RLIMIT_CORE"),
        RlimitRss => (libc::RLIMIT_RSS, "RLIMIT_RSS"),
        RlimitNproc => (libc::RLIMIT_NPROC, "RLIMIT_NPROC"),
        RlimitNofile => (libc::RLIMIT_NOFILE, "RLIMIT_NOFILE"),
        RlimitMemlock => (libc::RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"),
        RlimitAs => (libc::RLIMIT_AS, "RLIMIT_AS"),
        RlimitLocks => (libc::RLIMIT_LOCKS, "RLIMIT_LOCKS"),
        RlimitSigpending => (libc::RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"),
        RlimitMsgqueue => (libc::RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"),
        RlimitNice => (libc::RLIMIT_NICE, "RLIMIT_NICE"),
        RlimitRtprio => (libc::RLIMIT_RTPRIO, "RLIMIT_RTPRIO"),
        RlimitRttime => (libc::RLIMIT_RTTIME, "RLIMIT_RTTIME"),
    };
    (r, name)
}

/// An OCI rlimit type from its name: `RLIMIT_NOFILE`, or `nofile` as
/// `docker run --ulimit nofile=…` writes it (case-insensitive).
pub fn parse(name: &str) -> anyhow::Result<PosixRlimitType> {
    let upper = name.trim().to_ascii_uppercase();
    let full = match upper.starts_with("RLIMIT_") {
        true => upper,
        false => format!("RLIMIT_{upper}"),
    };
    serde_json::from_value(serde_json::Value::String(full)).map_err(|_| {
        anyhow::anyhow!("unknown rlimit {name:?}: expected a name such as RLIMIT_NOFILE or nofile")
    })
}

/// Set each limit on the calling process (`prlimit64(0, …)`), soft must not
/// exceed hard.
pub fn apply(limits: &[PosixRlimit]) -> anyhow::Result<()> {
    for l in limits {
        let (res, name) = resource(l.typ());
        if l.soft() > l.hard() {
            anyhow::bail!(
                "{name}: soft limit {} is above the hard limit {}",
                l.soft(),
                l.hard()
            );
        }
        sys::prlimit(
            res,
            name,
            l.soft(),
            l.hard(),
            "a per-process limit the kernel enforces; kept across execve, inherited by every child",
        )
        .with_context(|| format!("setting {name}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_the_kernel_numbers() {
        assert_eq!(
            parse("RLIMIT_NOFILE").unwrap(),
            PosixRlimitType::RlimitNofile
        );
        assert_eq!(parse("nofile").unwrap(), PosixRlimitType::RlimitNofile);
        assert_eq!(parse("rlimit_nproc").unwrap(), PosixRlimitType::RlimitNproc);
        assert_eq!(
            resource(PosixRlimitType::RlimitNofile),
            (7, "RLIMIT_NOFILE")
        );
        assert_eq!(resource(PosixRlimitType::RlimitNproc), (6, "RLIMIT_NPROC"));
        assert_eq!(
            resource(PosixRlimitType::RlimitRttime),
            (15, "RLIMIT_RTTIME")
        );
        let e = parse("RLIMIT_BOGUS").unwrap_err().to_string();
        assert!(e.contains("unknown rlimit \"RLIMIT_BOGUS\""), "{e}");
    }

    #[test]
    fn soft_above_hard_is_refused_before_any_call() {
        let l = oci_spec::runtime::PosixRlimitBuilder::default()
            .typ(PosixRlimitType::RlimitNofile)
            .soft(10u64)
            .hard(5u64)
            .build()
            .unwrap();
        let e = apply(&[l]).unwrap_err().to_string();
        assert!(e.contains("soft limit 10 is above the hard limit 5"), "{e}");
    }
}
