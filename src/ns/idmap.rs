//! User namespaces: who root inside is, outside.
//!
//! A new user namespace starts with no mapping: every id shows as the
//! overflow id 65534 ("nobody"). The parent, from outside, writes
//! /proc/CHILD/uid_map and gid_map, each line `inside outside count`. The
//! kernel accepts each file once. We map root inside to an unprivileged
//! range outside, as rootless runtimes do with /etc/subuid: a process that
//! escapes is nobody special on the host.

use nix::unistd::Pid;

use crate::sys;

/// The first host id that the container's root maps to.
pub const HOST_BASE: u32 = 100_000;
/// How many ids the container gets (0..65535 inside).
pub const RANGE: u32 = 65_536;

/// Write the uid and gid maps of `child`'s user namespace.
pub fn write_maps(child: Pid) -> anyhow::Result<()> {
    let line = format!("0 {HOST_BASE} {RANGE}\n");
    let proc = std::path::PathBuf::from(format!("/proc/{child}"));
    sys::write(
        &proc.join("uid_map"),
        &line,
        "root (uid 0) inside the user namespace is uid 100000 outside; 65536 ids are mapped",
    )?;
    sys::write(
        &proc.join("gid_map"),
        &line,
        "the same mapping for group ids",
    )?;
    Ok(())
}

/// In the child, once the maps are written: become root of the new user
/// namespace. Our uid outside is still the host's, which the map does not
/// cover, so until now we were "nobody" (65534) inside.
pub fn become_root() -> anyhow::Result<()> {
    sys::setgroups_empty("drop supplementary groups carried in from the host")?;
    sys::setresgid(0, "act as group 0 inside: gid 100000 outside")?;
    sys::setresuid(
        0,
        "act as root inside: uid 100000 outside, unprivileged on the host",
    )?;
    Ok(())
}
