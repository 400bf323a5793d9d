//! /etc/hosts and /etc/resolv.conf of a container on a network, written
//! into its init layer (chapter 07) so the image stays untouched.
//!
//! /etc/hosts names the container at its own address, and every other
//! container on the same network at theirs: that is how containers of one
//! network find each other by name without a DNS server.

use std::net::Ipv4Addr;
use std::path::Path;

use anyhow::Context;

use crate::volume::initlayer;

/// The hosts file: localhost, the container's own name at `ip` (or at
/// 127.0.1.1 without an address of its own), then its neighbours.
pub fn hosts(hostname: &str, ip: Option<Ipv4Addr>, peers: &[(String, Ipv4Addr)]) -> String {
    let mut out = initlayer::hosts(hostname);
    if let Some(ip) = ip {
        out = out.replace("127.0.1.1\t", &format!("{ip}\t"));
    }
    for (name, addr) in peers {
        out.push_str(&format!("{addr}\t{name}\n"));
    }
    out
}

/// Write `hosts` into the init layer at `layer`; with the host's network
/// the host's own resolv.conf works unchanged, loopback resolvers included.
pub fn write(layer: &Path, hosts: &str, host_network: bool) -> anyhow::Result<()> {
    let etc = layer.join("etc");
    std::fs::write(etc.join("hosts"), hosts)
        .with_context(|| format!("writing {}/hosts", etc.display()))?;
    if host_network {
        let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        std::fs::write(etc.join("resolv.conf"), resolv)
            .with_context(|| format!("writing {}/resolv.conf", etc.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_container_and_its_neighbours_are_named() {
        let peers = [("web".to_string(), Ipv4Addr::new(10, 88, 0, 3))];
        let h = hosts("box", Some(Ipv4Addr::new(10, 88, 0, 2)), &peers);
        assert!(h.contains("10.88.0.2\tbox\n"), "{h}");
        assert!(h.contains("10.88.0.3\tweb\n"), "{h}");
        assert!(h.contains("127.0.0.1\tlocalhost"), "{h}");
        assert!(!h.contains("127.0.1.1"), "{h}");
        assert!(hosts("box", None, &[]).contains("127.0.1.1\tbox"));
    }
}
