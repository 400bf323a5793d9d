//! Lab 09: the container's network, judged from the kernel's side — eth0
//! inside with a leased address and a default route via the bridge, and on
//! the host side the bridge with the gateway address and the veth whose
//! peer is that eth0.
//!
//! The learner's binary runs under `unshare --net`, in a network namespace
//! of its own: its bridge, veth and nftables table never reach the
//! learner's host, and die with the check.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::{judged, verdict, Ctx, Verdict};
use crate::probe::host;
use crate::probe::net::{self, NetView};

const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 88, 0, 1);

pub fn network(ctx: &Ctx) -> Vec<Verdict> {
    // A bridge name of the check's own state root, which `wharf reset`
    // of that root removes by its prefix, and no other root uses.
    let tag = crate::paths::host_tag_for(&ctx.state);
    let bridge = format!("{}b", crate::paths::net_prefix(&tag));
    let unshare = Ctx {
        bin: PathBuf::from("/usr/bin/unshare"),
        rootfs: ctx.rootfs.clone(),
        state: ctx.state.clone(),
    };
    let bin = ctx.bin.display().to_string();
    let args = [
        "--net",
        "--",
        &bin,
        "--bridge",
        &bridge,
        "--hostname",
        "lab09",
        "--",
        "/bin/sleep",
        "60",
    ];
    judged(&unshare, &args, |pid| {
        let inside = net::of_pid(pid).unwrap_or_default();
        let outside = net::host_side(pid).unwrap_or_default();
        checks(pid, &inside, &outside, &bridge)
    })
}

fn checks(pid: i32, inside: &NetView, outside: &NetView, bridge: &str) -> Vec<Verdict> {
    let eth0 = inside.link("eth0");
    let addr = inside.addrs_of("eth0").into_iter().next();
    let leased = addr.is_some_and(|(a, p)| p == 16 && a.octets()[..2] == [10, 88] && a != GATEWAY);
    let links: Vec<&str> = inside.links.iter().map(|l| l.name.as_str()).collect();
    let connect = "in the parent, before the init runs, connect the network: wrap chapter 08's hooks in wharf::net::WithNetwork";
    let veth = outside
        .links
        .iter()
        .find(|l| l.kind == "veth" && eth0.is_some_and(|e| l.peer == Some(e.index)));
    let on_bridge = outside
        .link(bridge)
        .is_some_and(|b| veth.is_some_and(|v| v.master == Some(b.index)));
    let hosts = host::read_in_root(pid, Path::new("/etc/hosts")).unwrap_or_default();
    let named = addr.is_some_and(|(a, _)| {
        hosts
            .lines()
            .any(|l| l.starts_with(&format!("{a}\t")) && l.ends_with("lab09"))
    });
    vec![
        verdict(
            "the container has eth0, up, with an address leased from 10.88.0.0/16",
            eth0.is_some_and(|e| e.up) && leased,
            format!("links inside: {links:?}; eth0's address: {addr:?}"),
            connect,
        ),
        verdict(
            "its default route goes via the bridge, 10.88.0.1",
            inside.default_gateway() == Some(GATEWAY),
            format!("default gateway inside: {:?}", inside.default_gateway()),
            connect,
        ),
        verdict(
            "on the host side, the bridge has 10.88.0.1/16",
            outside.addrs_of(bridge).contains(&(GATEWAY, 16)),
            format!("{bridge}: {:?}", outside.addrs_of(bridge)),
            connect,
        ),
        verdict(
            "the veth whose peer is eth0 is a port of the bridge",
            on_bridge,
            format!("veth peer of eth0 on the host side: {:?}", veth.map(|v| (&v.name, v.master))),
            connect,
        ),
        verdict(
            "its /etc/hosts names lab09 at its address",
            named,
            format!("/etc/hosts: {}", hosts.lines().collect::<Vec<_>>().join(" | ")),
            "lease the address before writing the init layer (wharf::net::Attachment::prepare), then net.write_files",
        ),
    ]
}
