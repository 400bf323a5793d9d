//! rtnetlink requests: how a program asks the kernel to change network
//! devices, addresses and routes (what `ip link`, `ip addr` and `ip route`
//! do underneath). Each request is one journal step, shown the way strace
//! decodes the sendto(2) on a NETLINK_ROUTE socket: the message type and
//! its attributes.
//!
//! A netlink socket talks to the network namespace it was opened in, so a
//! request made from a thread that has joined a container's namespace
//! changes the container's devices, not the host's.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, OwnedFd};

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use nix::errno::Errno;

use super::decode::quote;
use super::{Call, SysError};

fn io_errno(e: std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

const ACK: &str = "NLM_F_REQUEST|NLM_F_ACK";
const CREATE: &str = "NLM_F_REQUEST|NLM_F_ACK|NLM_F_CREATE|NLM_F_EXCL";

/// Send one request to the kernel and wait for its acknowledgement.
fn request(payload: RouteNetlinkMessage, create: bool) -> nix::Result<()> {
    let mut msg = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(payload));
    msg.header.flags = NLM_F_REQUEST | NLM_F_ACK;
    if create {
        // CREATE: make the object; EXCL: fail with EEXIST if it is there.
        msg.header.flags |= NLM_F_CREATE | NLM_F_EXCL;
    }
    msg.header.sequence_number = 1;
    msg.finalize();
    let mut buf = vec![0; msg.header.length as usize];
    msg.serialize(&mut buf);
    let mut sock = Socket::new(NETLINK_ROUTE).map_err(io_errno)?;
    sock.bind_auto().map_err(io_errno)?;
    sock.connect(&SocketAddr::new(0, 0)).map_err(io_errno)?;
    sock.send(&buf, 0).map_err(io_errno)?;
    let mut reply = vec![0u8; 8192];
    let n = sock.recv(&mut &mut reply[..], 0).map_err(io_errno)?;
    let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&reply[..n])
        .map_err(|_| Errno::EPROTO)?;
    match reply.payload {
        NetlinkPayload::Error(e) => match e.code {
            None => Ok(()),
            Some(code) => Err(Errno::from_raw(-code.get())),
        },
        _ => Ok(()),
    }
}

/// One rtnetlink step: `sendto(NETLINK_ROUTE, TYPE, ATTRS…, FLAGS)`.
fn step(kind: &str, attrs: Vec<String>, flags: &str, why: &str) -> Call {
    let mut args = vec!["NETLINK_ROUTE".to_string(), kind.to_string()];
    args.extend(attrs);
    args.push(flags.to_string());
    Call::new("sendto", args, why)
}

fn ifname(name: &str) -> String {
    format!("IFLA_IFNAME={}", quote(name))
}

/// `ifindex=N ("name")`: how the kernel names a device in a request.
fn index(idx: u32, name: &str) -> String {
    format!("ifindex={idx} ({})", quote(name))
}

fn link(idx: u32) -> LinkMessage {
    let mut l = LinkMessage::default();
    l.header.index = idx;
    l
}

/// `RTM_NEWLINK` of kind bridge: a software switch, `ip link add NAME
/// type bridge`.
pub fn link_add_bridge(name: &str, why: &str) -> Result<(), SysError> {
    step(
        "RTM_NEWLINK",
        vec![ifname(name), "IFLA_INFO_KIND=\"bridge\"".into()],
        CREATE,
        why,
    )
    .kernel(format!("a bridge {name} exists, down, with no ports"))
    .run(|| {
        let mut l = LinkMessage::default();
        l.attributes.push(LinkAttribute::IfName(name.into()));
        l.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        request(RouteNetlinkMessage::NewLink(l), true)
    })
}

/// `RTM_NEWLINK` of kind veth: two devices joined back to back, whatever
/// goes in one comes out of the other (`ip link add A type veth peer name B`).
pub fn link_add_veth(name: &str, peer: &str, why: &str) -> Result<(), SysError> {
    step(
        "RTM_NEWLINK",
        vec![
            ifname(name),
            "IFLA_INFO_KIND=\"veth\"".into(),
            format!("VETH_INFO_PEER={{{}}}", ifname(peer)),
        ],
        CREATE,
        why,
    )
    .kernel(format!(
        "a veth pair {name} <-> {peer} exists in this netns"
    ))
    .run(|| {
        let mut p = LinkMessage::default();
        p.attributes.push(LinkAttribute::IfName(peer.into()));
        let mut l = LinkMessage::default();
        l.attributes.push(LinkAttribute::IfName(name.into()));
        l.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))),
        ]));
        request(RouteNetlinkMessage::NewLink(l), true)
    })
}

/// `RTM_NEWLINK` with IFLA_MASTER: plug a device into a bridge as a port
/// (`ip link set NAME master BRIDGE`).
pub fn link_set_master(
    (idx, name): (u32, &str),
    (bridge_idx, bridge): (u32, &str),
    why: &str,
) -> Result<(), SysError> {
    step(
        "RTM_NEWLINK",
        vec![
            index(idx, name),
            format!("IFLA_MASTER={bridge_idx} ({})", quote(bridge)),
        ],
        ACK,
        why,
    )
    .kernel(format!("{name} is a port of {bridge}"))
    .run(|| {
        let mut l = link(idx);
        l.attributes.push(LinkAttribute::Controller(bridge_idx));
        request(RouteNetlinkMessage::NewLink(l), false)
    })
}

/// `RTM_NEWLINK` with IFF_UP in the flags and the change mask: bring a
/// device up (`ip link set NAME up`).
pub fn link_set_up(idx: u32, name: &str, why: &str) -> Result<(), SysError> {
    step(
        "RTM_NEWLINK",
        vec![index(idx, name), "IFF_UP".into()],
        ACK,
        why,
    )
    .kernel(format!("{name} is up"))
    .run(|| {
        let mut l = link(idx);
        l.header.flags = LinkFlags::Up;
        l.header.change_mask = LinkFlags::Up;
        request(RouteNetlinkMessage::NewLink(l), false)
    })
}

/// `RTM_NEWLINK` with IFLA_NET_NS_FD: move a device into the network
/// namespace the fd refers to (`ip link set NAME netns PID`).
pub fn link_set_netns(
    idx: u32,
    name: &str,
    netns: &OwnedFd,
    shown_as: &str,
    why: &str,
) -> Result<(), SysError> {
    step(
        "RTM_NEWLINK",
        vec![
            index(idx, name),
            format!("IFLA_NET_NS_FD={}<{shown_as}>", netns.as_raw_fd()),
        ],
        ACK,
        why,
    )
    .kernel(format!("{name} left this netns for {shown_as}"))
    .run(|| {
        let mut l = link(idx);
        l.attributes.push(LinkAttribute::NetNsFd(netns.as_raw_fd()));
        request(RouteNetlinkMessage::NewLink(l), false)
    })
}

/// `RTM_NEWLINK` with a new IFLA_IFNAME: rename a (down) device.
pub fn link_rename(idx: u32, old: &str, new: &str, why: &str) -> Result<(), SysError> {
    step("RTM_NEWLINK", vec![index(idx, old), ifname(new)], ACK, why)
        .kernel(format!("{old} is now called {new}"))
        .run(|| {
            let mut l = link(idx);
            l.attributes.push(LinkAttribute::IfName(new.into()));
            request(RouteNetlinkMessage::NewLink(l), false)
        })
}

/// `RTM_DELLINK` for the device `name`: removes it (both ends of a veth
/// pair go together), as `ip link delete NAME` does.
pub fn link_delete(name: &str, why: &str) -> Result<(), SysError> {
    step("RTM_DELLINK", vec![ifname(name)], ACK, why)
        .kernel(format!("network device {name} is gone"))
        .run(|| {
            let mut l = LinkMessage::default();
            l.attributes.push(LinkAttribute::IfName(name.to_string()));
            request(RouteNetlinkMessage::DelLink(l), false)
        })
}

/// `RTM_NEWADDR`: give a device an IPv4 address and say how big its
/// subnet is (`ip addr add ADDR/PREFIX dev NAME`). The kernel adds the
/// route to the subnet through the device by itself.
pub fn addr_add(
    idx: u32,
    name: &str,
    addr: Ipv4Addr,
    prefix: u8,
    why: &str,
) -> Result<(), SysError> {
    step(
        "RTM_NEWADDR",
        vec![
            index(idx, name),
            "AF_INET".into(),
            format!("IFA_LOCAL={addr}/{prefix}"),
        ],
        CREATE,
        why,
    )
    .kernel(format!("{name} has {addr}/{prefix}"))
    .run(|| {
        let mut a = AddressMessage::default();
        a.header.family = AddressFamily::Inet;
        a.header.prefix_len = prefix;
        a.header.index = idx;
        a.attributes.push(AddressAttribute::Local(IpAddr::V4(addr)));
        a.attributes
            .push(AddressAttribute::Address(IpAddr::V4(addr)));
        request(RouteNetlinkMessage::NewAddress(a), true)
    })
}

/// `RTM_NEWROUTE` 0.0.0.0/0 via a gateway: where packets go when no other
/// route matches (`ip route add default via GW dev NAME`).
pub fn route_add_default(
    gateway: Ipv4Addr,
    idx: u32,
    name: &str,
    why: &str,
) -> Result<(), SysError> {
    step(
        "RTM_NEWROUTE",
        vec![
            "dst=0.0.0.0/0".into(),
            format!("RTA_GATEWAY={gateway}"),
            format!("RTA_OIF={idx} ({})", quote(name)),
            "RT_TABLE_MAIN".into(),
        ],
        CREATE,
        why,
    )
    .kernel(format!("default via {gateway} dev {name}"))
    .run(|| {
        let mut r = RouteMessage::default();
        r.header.address_family = AddressFamily::Inet;
        r.header.table = RouteHeader::RT_TABLE_MAIN;
        r.header.protocol = RouteProtocol::Boot;
        r.header.scope = RouteScope::Universe;
        r.header.kind = RouteType::Unicast;
        r.attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        r.attributes.push(RouteAttribute::Oif(idx));
        request(RouteNetlinkMessage::NewRoute(r), true)
    })
}
