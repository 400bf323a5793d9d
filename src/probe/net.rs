//! The network as the kernel sees it: the links, addresses and routes of a
//! network namespace, read with rtnetlink dumps (what `ip link`, `ip addr`
//! and `ip route` print), and the nftables tables.
//!
//! A netlink socket answers for the namespace it was opened in. To read a
//! container's, a short-lived thread joins that namespace (setns changes
//! only the calling thread's), opens its socket there, dumps, and ends.
//! That setns only reads, so it is made here and not journaled.

use std::io;
use std::net::Ipv4Addr;
use std::path::Path;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use super::table::{Row, Table};

/// One network device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// `veth`, `bridge`, … or empty for a plain device such as lo.
    pub kind: String,
    pub up: bool,
    /// The bridge it is a port of.
    pub master: Option<u32>,
    /// For a veth: the ifindex of its peer (in the peer's namespace).
    pub peer: Option<u32>,
    /// For a veth whose peer is in another namespace: that namespace's id
    /// as this one numbers it.
    pub peer_netns: Option<i32>,
}

/// One IPv4 address on a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addr {
    pub index: u32,
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

/// One IPv4 route of the main table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub dst: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Option<Ipv4Addr>,
    pub oif: Option<u32>,
}

/// Everything of one namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetView {
    pub links: Vec<Link>,
    pub addrs: Vec<Addr>,
    pub routes: Vec<Route>,
}

impl NetView {
    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.name == name)
    }

    pub fn name_of(&self, index: u32) -> String {
        self.links
            .iter()
            .find(|l| l.index == index)
            .map(|l| l.name.clone())
            .unwrap_or_else(|| index.to_string())
    }

    /// The addresses on the device `name`.
    pub fn addrs_of(&self, name: &str) -> Vec<(Ipv4Addr, u8)> {
        let Some(l) = self.link(name) else {
            return vec![];
        };
        self.addrs
            .iter()
            .filter(|a| a.index == l.index)
            .map(|a| (a.addr, a.prefix))
            .collect()
    }

    /// The gateway of the default route, if there is one.
    pub fn default_gateway(&self) -> Option<Ipv4Addr> {
        self.routes
            .iter()
            .find(|r| r.prefix == 0)
            .and_then(|r| r.gateway)
    }
}

fn dump(msg: RouteNetlinkMessage) -> io::Result<Vec<RouteNetlinkMessage>> {
    let mut req = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(msg));
    req.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.header.sequence_number = 1;
    req.finalize();
    let mut buf = vec![0; req.header.length as usize];
    req.serialize(&mut buf);
    let mut sock = Socket::new(NETLINK_ROUTE)?;
    sock.bind_auto()?;
    sock.connect(&SocketAddr::new(0, 0))?;
    sock.send(&buf, 0)?;
    let mut out = Vec::new();
    let mut rx = vec![0u8; 65536];
    loop {
        let n = sock.recv(&mut &mut rx[..], 0)?;
        let mut off = 0;
        while off < n {
            let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rx[off..n])
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            let len = m.header.length as usize;
            match m.payload {
                NetlinkPayload::Done(_) => return Ok(out),
                NetlinkPayload::Error(e) => {
                    return Err(io::Error::from_raw_os_error(
                        e.code.map(|c| -c.get()).unwrap_or(libc::EIO),
                    ))
                }
                NetlinkPayload::InnerMessage(inner) => out.push(inner),
                _ => {}
            }
            if len == 0 {
                break;
            }
            off += len;
        }
    }
}

fn link_of(m: LinkMessage) -> Link {
    let mut l = Link {
        index: m.header.index,
        name: String::new(),
        kind: String::new(),
        up: m.header.flags.contains(LinkFlags::Up),
        master: None,
        peer: None,
        peer_netns: None,
    };
    for a in m.attributes {
        match a {
            LinkAttribute::IfName(n) => l.name = n,
            LinkAttribute::Controller(i) => l.master = Some(i),
            LinkAttribute::Link(i) => l.peer = Some(i),
            LinkAttribute::LinkNetNsId(id) => l.peer_netns = Some(id),
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    if let LinkInfo::Kind(k) = i {
                        l.kind = k.to_string();
                    }
                }
            }
            _ => {}
        }
    }
    l
}

fn addr_of(m: AddressMessage) -> Option<Addr> {
    m.attributes.into_iter().find_map(|a| match a {
        AddressAttribute::Local(std::net::IpAddr::V4(ip)) => Some(Addr {
            index: m.header.index,
            addr: ip,
            prefix: m.header.prefix_len,
        }),
        _ => None,
    })
}

fn route_of(m: RouteMessage) -> Option<Route> {
    if m.header.table != RouteHeader::RT_TABLE_MAIN {
        return None;
    }
    let mut r = Route {
        dst: Ipv4Addr::UNSPECIFIED,
        prefix: m.header.destination_prefix_length,
        gateway: None,
        oif: None,
    };
    for a in m.attributes {
        match a {
            RouteAttribute::Destination(RouteAddress::Inet(d)) => r.dst = d,
            RouteAttribute::Gateway(RouteAddress::Inet(g)) => r.gateway = Some(g),
            RouteAttribute::Oif(i) => r.oif = Some(i),
            _ => {}
        }
    }
    Some(r)
}

/// The links, IPv4 addresses and main-table routes of the calling
/// thread's network namespace.
pub fn here() -> io::Result<NetView> {
    let mut v = NetView::default();
    for m in dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))? {
        if let RouteNetlinkMessage::NewLink(l) = m {
            v.links.push(link_of(l));
        }
    }
    let mut a = AddressMessage::default();
    a.header.family = AddressFamily::Inet;
    for m in dump(RouteNetlinkMessage::GetAddress(a))? {
        if let RouteNetlinkMessage::NewAddress(a) = m {
            v.addrs.extend(addr_of(a));
        }
    }
    let mut r = RouteMessage::default();
    r.header.address_family = AddressFamily::Inet;
    for m in dump(RouteNetlinkMessage::GetRoute(r))? {
        if let RouteNetlinkMessage::NewRoute(r) = m {
            v.routes.extend(route_of(r));
        }
    }
    Ok(v)
}

/// Run `f` in a thread that has joined the network namespace at `ns`
/// (such as /proc/PID/ns/net), and return what it returns.
pub fn within<T: Send>(ns: &Path, f: impl FnOnce() -> io::Result<T> + Send) -> io::Result<T> {
    let fd = std::fs::File::open(ns)?;
    std::thread::scope(|s| {
        s.spawn(move || {
            nix::sched::setns(&fd, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(io::Error::from)?;
            f()
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("netns reader thread panicked")))
    })
}

/// The view of the network namespace that process `pid` is in.
pub fn of_pid(pid: i32) -> io::Result<NetView> {
    within(Path::new(&format!("/proc/{pid}/ns/net")), here)
}

/// The view of the namespace of `pid`'s parent: for a container's
/// command, the host side its runtime wired.
pub fn host_side(pid: i32) -> io::Result<NetView> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let ppid = status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .and_then(|p| p.trim().parse().ok())
        .ok_or_else(|| io::Error::other(format!("/proc/{pid}/status has no PPid")))?;
    of_pid(ppid)
}

/// The ifindex of the device `name` in the calling thread's namespace.
pub fn index_of(name: &str) -> Option<u32> {
    nix::net::if_::if_nametoindex(name).ok()
}

/// The inode of the network namespace of `pid`.
pub fn netns_inode(pid: i32) -> io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata(format!("/proc/{pid}/ns/net"))?.ino())
}

/// The names of the nftables tables of family ip in this namespace.
pub fn nft_tables() -> io::Result<Vec<String>> {
    let set = nftables::helper::get_current_ruleset_with_args(
        nftables::helper::DEFAULT_NFT,
        ["list", "tables", "ip"],
    )
    .map_err(|e| io::Error::other(e.to_string()))?;
    Ok(set
        .objects
        .iter()
        .filter_map(|o| match o {
            nftables::schema::NfObject::ListObject(nftables::schema::NfListObject::Table(t)) => {
                Some(t.name.to_string())
            }
            _ => None,
        })
        .collect())
}

/// Table `ip NAME` as `nft list table` prints it: chains, rules, counters.
/// (The nftables crate speaks only JSON; this is the text learners know.)
pub fn nft_rules(table: &str) -> io::Result<String> {
    let out = std::process::Command::new("nft")
        .args(["list", "table", "ip", table])
        .output()?;
    if !out.status.success() {
        return Err(io::Error::other(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Rows for `--show net`: one per link, address and route, of the
/// namespace of `pid` and of every child of it in another namespace (a
/// container seen from the process that made it).
pub fn rows(pid: i32) -> io::Result<Vec<NetRow>> {
    let mine = netns_inode(pid)?;
    let mut out = view_rows("host", &of_pid(pid)?);
    let kids = super::procs::children(pid as u32).unwrap_or_default();
    for kid in kids {
        let kid = kid as i32;
        if netns_inode(kid).is_ok_and(|i| i != mine) {
            if let Ok(v) = of_pid(kid) {
                out.extend(view_rows(&format!("ctr {kid}"), &v));
            }
        }
    }
    Ok(out)
}

/// One line of the net view: NETNS, WHAT, NAME, DETAIL.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NetRow {
    pub netns: String,
    pub what: &'static str,
    pub name: String,
    pub detail: String,
}

fn view_rows(netns: &str, v: &NetView) -> Vec<NetRow> {
    let row = |what, name: String, detail: String| NetRow {
        netns: netns.to_string(),
        what,
        name,
        detail,
    };
    let mut out = Vec::new();
    for l in &v.links {
        let mut d = vec![if l.up { "up" } else { "down" }.to_string()];
        if !l.kind.is_empty() {
            d.push(l.kind.clone());
        }
        if let Some(m) = l.master {
            d.push(format!("master {}", v.name_of(m)));
        }
        if let (Some(p), "veth") = (l.peer, l.kind.as_str()) {
            let ns = l.peer_netns.map(|n| format!(" in netns id {n}"));
            d.push(format!("peer ifindex {p}{}", ns.unwrap_or_default()));
        }
        out.push(row(
            "link",
            format!("{}: {}", l.index, l.name),
            d.join(", "),
        ));
    }
    for a in &v.addrs {
        let detail = format!("{}/{}", a.addr, a.prefix);
        out.push(row("addr", v.name_of(a.index), detail));
    }
    for r in &v.routes {
        let dst = match r.prefix {
            0 => "default".to_string(),
            p => format!("{}/{p}", r.dst),
        };
        let mut d = Vec::new();
        if let Some(g) = r.gateway {
            d.push(format!("via {g}"));
        }
        if let Some(o) = r.oif {
            d.push(format!("dev {}", v.name_of(o)));
        }
        out.push(row("route", dst, d.join(" ")));
    }
    out
}

pub fn table(rows: &[NetRow]) -> Table {
    Table {
        headers: vec!["NETNS", "WHAT", "NAME", "DETAIL"],
        rows: rows
            .iter()
            .map(|r| Row {
                // A link is the same link whatever its state; an address or
                // a route is the same only if all of it is.
                keys: vec![match r.what {
                    "link" => format!("{} link {}", r.netns, r.name),
                    _ => format!("{} {} {} {}", r.netns, r.what, r.name, r.detail),
                }],
                cells: vec![
                    r.netns.clone(),
                    r.what.to_string(),
                    r.name.clone(),
                    r.detail.clone(),
                ],
            })
            .collect(),
        volatile: vec![],
        copied: vec![],
    }
}
