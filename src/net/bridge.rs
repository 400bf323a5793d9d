//! The bridge: a software Ethernet switch in the host's namespace. Every
//! container's veth has its host end plugged in as a port, so containers
//! on one network reach each other at layer 2; the bridge's own address
//! (the subnet's first host) is where the host answers them, and their
//! default gateway.

use super::ipam::Network;
use super::netns::index;
use crate::probe;
use crate::sys;

/// The bridge of `net`, made (with its address, and up) if it is missing.
/// Returns its ifindex.
pub fn ensure(net: &Network) -> anyhow::Result<u32> {
    if let Some(idx) = probe::net::index_of(&net.bridge) {
        return Ok(idx);
    }
    let br = net.bridge.as_str();
    sys::link_add_bridge(
        br,
        "the switch that the containers of this network plug into",
    )?;
    let idx = index(br)?;
    sys::addr_add(
        idx,
        br,
        net.subnet.gateway(),
        net.subnet.prefix,
        "the host's address on the subnet: the containers' gateway; the kernel adds the route to the subnet through the bridge",
    )?;
    sys::link_set_up(idx, br, "a device forwards nothing until it is up")?;
    // Packets from 127.0.0.1 may only leave by a device that allows it:
    // this lets a DNAT'd connection to 127.0.0.1:HOSTPORT go out the bridge.
    sys::write(
        &std::path::PathBuf::from(format!("/proc/sys/net/ipv4/conf/{br}/route_localnet")),
        "1",
        "let connections to 127.0.0.1:HOSTPORT, rewritten to a container, leave by the bridge",
    )?;
    Ok(idx)
}

/// Routing between devices is off by default: the host drops a packet not
/// addressed to itself. Containers going out through the host need it on.
pub fn forwarding() -> anyhow::Result<()> {
    if probe::host::sysctl("net.ipv4.ip_forward")?.as_deref() == Some("1") {
        return Ok(());
    }
    sys::write(
        std::path::Path::new("/proc/sys/net/ipv4/ip_forward"),
        "1",
        "let the host route packets between the bridge and its other devices",
    )?;
    Ok(())
}

/// Remove the bridge of `net`, if it is there.
pub fn remove(net: &Network) -> anyhow::Result<()> {
    if probe::net::index_of(&net.bridge).is_some() {
        sys::link_delete(
            &net.bridge,
            "the last container of this network is gone: so goes its bridge",
        )?;
    }
    Ok(())
}
