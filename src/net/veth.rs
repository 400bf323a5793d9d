//! The veth pair: a virtual cable. Its two ends are network devices; a
//! frame sent into one comes out of the other. One end stays in the host's
//! namespace and is plugged into the bridge; the other is moved into the
//! container's namespace, where it is renamed eth0 and given the address.

use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;

use super::ipam::Network;
use super::netns::{self, index};
use crate::sys;

/// The names of a container's pair on the host: `<prefix><4 hex>h` and
/// `…c`, the prefix naming this state root so `wharf reset` finds them.
pub fn names(id: &str) -> (String, String) {
    let mut h: u32 = 2166136261;
    for b in id.bytes() {
        h = (h ^ b as u32).wrapping_mul(16777619);
    }
    let stem = format!(
        "{}{:04x}",
        crate::paths::net_prefix(&crate::paths::host_tag()),
        h & 0xffff
    );
    (format!("{stem}h"), format!("{stem}c"))
}

// ANCHOR: plug
/// Wire the container whose namespace is `ns` to `net`'s bridge
/// (`bridge`: its ifindex), with address `ip`.
pub fn plug(
    net: &Network,
    bridge: u32,
    (host, peer): (&str, &str),
    ns: &(OwnedFd, String),
    ip: Ipv4Addr,
) -> anyhow::Result<()> {
    sys::link_add_veth(
        host,
        peer,
        "a virtual cable: one end for the bridge, the other for the container",
    )?;
    let (h, p) = (index(host)?, index(peer)?);
    sys::link_set_master(
        (h, host),
        (bridge, &net.bridge),
        "plug the host end into the bridge, as a cable into a switch",
    )?;
    sys::link_set_up(h, host, "the host end carries frames only once it is up")?;
    sys::link_set_netns(
        p,
        peer,
        &ns.0,
        &ns.1,
        "move the other end into the container's network namespace: only the container sees it now",
    )?;
    let gateway = net.subnet.gateway();
    let prefix = net.subnet.prefix;
    netns::inside(ns, || {
        lo_up()?;
        let p = index(peer)?;
        sys::link_rename(
            p,
            peer,
            "eth0",
            "inside, the container's one real device gets the name programs expect",
        )?;
        sys::addr_add(
            p,
            "eth0",
            ip,
            prefix,
            "the container's address, leased from the network's IPAM",
        )?;
        sys::link_set_up(p, "eth0", "bring the container's end of the cable up")?;
        sys::route_add_default(
            gateway,
            p,
            "eth0",
            "everything not on the subnet goes to the bridge, the host, which routes it on",
        )?;
        Ok(())
    })
}
// ANCHOR_END: plug

/// Bring the loopback device up inside `ns`: a new network namespace has
/// only `lo`, and it is down, so even 127.0.0.1 is unreachable.
pub fn loopback(ns: &(OwnedFd, String)) -> anyhow::Result<()> {
    netns::inside(ns, lo_up)
}

fn lo_up() -> anyhow::Result<()> {
    sys::link_set_up(
        index("lo")?,
        "lo",
        "a new network namespace has only lo, and down: 127.0.0.1 answers once it is up",
    )?;
    Ok(())
}

/// Remove the pair whose host end is `host`. When the container's last
/// process exits, the kernel destroys its network namespace and, with it,
/// every device inside — and a veth goes whole, both ends. That happens
/// in the background, so wait a little for it; remove the pair ourselves
/// only if it stays (another container still holds the namespace).
pub fn unplug(host: &str) -> anyhow::Result<()> {
    for _ in 0..50 {
        if crate::probe::net::index_of(host).is_none() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    match sys::link_delete(host, "the container is gone: remove its cable, both ends") {
        // Gone between the look and the request: the namespace took it.
        Err(e) if e.errno == nix::errno::Errno::ENODEV => Ok(()),
        other => Ok(other?),
    }
}
