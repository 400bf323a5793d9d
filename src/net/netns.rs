//! Doing things inside a container's network namespace from the outside.
//!
//! A netlink socket belongs to the namespace it was opened in. setns(2)
//! with CLONE_NEWNET moves only the calling *thread*, so a short-lived
//! thread joins the container's namespace, opens its sockets there, and
//! ends — the rest of the process never leaves the host's namespace.

use std::os::fd::OwnedFd;

use nix::sched::CloneFlags;
use nix::unistd::Pid;

use crate::sys;

/// A handle on the network namespace of `pid`, and how to show it.
pub fn open(pid: Pid) -> anyhow::Result<(OwnedFd, String)> {
    let path = format!("/proc/{pid}/ns/net");
    let fd = sys::open(
        std::path::Path::new(&path),
        "a handle on the container's network namespace: devices are moved into it and configured inside it",
    )?;
    Ok((fd, path))
}

/// Run `f` in a thread that has joined the namespace `ns`.
pub fn inside<T: Send>(
    ns: &(OwnedFd, String),
    f: impl FnOnce() -> anyhow::Result<T> + Send,
) -> anyhow::Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            sys::setns(
                &ns.0,
                &ns.1,
                CloneFlags::CLONE_NEWNET,
                "this thread only enters the container's network namespace: netlink sockets it opens now speak to that namespace",
            )?;
            f()
        })
        .join()
        .unwrap_or_else(|_| Err(anyhow::anyhow!("the thread configuring the container's network panicked")))
    })
}

/// The device `name` in the calling thread's namespace, or why not.
pub fn index(name: &str) -> anyhow::Result<u32> {
    crate::probe::net::index_of(name)
        .ok_or_else(|| anyhow::anyhow!("network device {name} is not there"))
}
