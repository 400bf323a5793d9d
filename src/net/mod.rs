//! A container's network, as Docker and Podman build it:
//!
//! - [`veth`]: a virtual cable from the container's namespace to the host,
//!   its inner end renamed eth0, with an address and a default route;
//! - [`bridge`]: the switch on the host that the cables plug into;
//! - [`ipam`]: who has which address, in a locked lease file per network;
//! - [`nat`]: masquerade out, DNAT in for published [`ports`], in an
//!   nftables table of wharf's own;
//! - [`hosts`]: /etc/hosts naming the container and its neighbours.
//!
//! [`Attachment`] ties them together for one container: `prepare` before
//! it exists (leases an address, checks every flag), `connect` from the
//! parent once its namespace exists and before it runs, `release` when it
//! is gone. Every change to the kernel goes through `sys` as a journal step.

pub mod bridge;
pub mod hosts;
pub mod ipam;
pub mod nat;
pub mod netns;
pub mod networks;
pub mod ports;
pub mod subnet;
pub mod veth;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use anyhow::bail;
use nix::unistd::Pid;

use crate::ns::run::Hooks;
use crate::probe;
use ipam::{Lease, Network, Store};
use ports::Port;
use subnet::Subnet;

/// `--network`: which network the container gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// A namespace of its own with only lo (up).
    None,
    /// No namespace of its own: the host's devices, addresses and ports.
    Host,
    /// Its own namespace, wired to the bridge of the network so named
    /// (`bridge` is the default network).
    Network(String),
    /// The namespace of another container (an id) or process (a pid).
    Container(String),
}

impl std::str::FromStr for Mode {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Mode> {
        Ok(match s {
            "none" => Mode::None,
            "host" => Mode::Host,
            _ => match s.strip_prefix("container:") {
                Some("") => {
                    bail!("--network container: needs a container id or a pid after the colon")
                }
                Some(x) => Mode::Container(x.to_string()),
                None => {
                    check_name(s)?;
                    Mode::Network(s.to_string())
                }
            },
        })
    }
}

/// The default network and its bridge.
pub const DEFAULT_NETWORK: &str = "bridge";
pub const DEFAULT_BRIDGE: &str = "wharf0";

/// A network's name becomes part of device and table names: keep it short.
pub(crate) fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = (1..=9).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        bail!("{name:?} is not a network name: use 1 to 9 lowercase letters, digits or '-' (or none, host, container:ID)");
    }
    Ok(())
}

/// The kernel's rule for a device name (dev_valid_name): 1 to 15 bytes,
/// no '/', ':' or white space, and not `.` or `..`.
pub(crate) fn check_device_name(name: &str) -> anyhow::Result<()> {
    let ok = (1..=15).contains(&name.len())
        && name != "."
        && name != ".."
        && !name.contains(|c: char| c == '/' || c == ':' || c.is_whitespace());
    if !ok {
        bail!("{name:?} cannot name a network device: use 1 to 15 characters without '/', ':' or spaces");
    }
    Ok(())
}

/// What the flags ask for.
#[derive(Debug, Clone)]
pub struct Request {
    pub mode: Mode,
    /// For a network that does not exist yet: its subnet and bridge.
    pub subnet: Option<Subnet>,
    pub bridge: Option<String>,
    pub ports: Vec<Port>,
}

impl Request {
    /// From the flags' text: `--network`, `--subnet`, `--bridge`, `-p`.
    pub fn parse(
        network: &str,
        subnet: Option<&str>,
        bridge: Option<&str>,
        ports: &[String],
    ) -> anyhow::Result<Request> {
        Ok(Request {
            mode: network.parse()?,
            subnet: subnet.map(str::parse).transpose()?,
            bridge: bridge.map(str::to_string),
            ports: ports
                .iter()
                .map(|p| p.parse())
                .collect::<anyhow::Result<_>>()?,
        })
    }
}

/// One container's network, from before it exists until after it is gone.
#[derive(Debug)]
pub struct Attachment {
    pub mode: Mode,
    id: String,
    /// With a network: the network and this container's lease on it.
    pub lease: Option<(Network, Lease)>,
    /// The neighbours on the network when the lease was taken.
    peers: Vec<(String, Ipv4Addr)>,
    /// With `container:`: the namespace to join.
    pub join: Option<PathBuf>,
    released: bool,
}

impl Attachment {
    /// Check the request against the kernel and the leases, and take an
    /// address. Nothing in the kernel changes yet.
    pub fn prepare(req: &Request, id: &str, hostname: &str) -> anyhow::Result<Attachment> {
        let mut a = Attachment {
            mode: req.mode.clone(),
            id: id.to_string(),
            lease: None,
            peers: vec![],
            join: None,
            released: false,
        };
        if !req.ports.is_empty() && !matches!(req.mode, Mode::Network(_)) {
            bail!("-p publishes a port through a bridge network: it cannot be used with --network none, host or container:");
        }
        match &req.mode {
            Mode::Container(target) => a.join = Some(namespace_of(target)?),
            Mode::Network(name) => a.take_lease(name, req, hostname)?,
            Mode::None | Mode::Host => {}
        }
        Ok(a)
    }

    fn take_lease(&mut self, name: &str, req: &Request, hostname: &str) -> anyhow::Result<()> {
        let store = Store::open()?;
        let net = network(&store, name, req)?;
        let (live, stale): (Vec<Lease>, Vec<Lease>) =
            store.leases(name)?.into_iter().partition(Lease::live);
        for s in &stale {
            veth::unplug(&s.veth)?;
        }
        check_ports(&store, &req.ports)?;
        let ip = ipam::free_address(&net, &live)?;
        let me = std::process::id() as i32;
        let lease = Lease {
            ip,
            id: self.id.clone(),
            hostname: hostname.to_string(),
            veth: veth::names(&self.id).0,
            ports: req.ports.clone(),
            owner: me,
            owner_start: probe::procs::start_time(me)?,
        };
        self.peers = live.iter().map(|l| (l.hostname.clone(), l.ip)).collect();
        let mut all = live;
        all.push(lease.clone());
        store.save_network(&net)?;
        store.save_leases(name, &all)?;
        self.lease = Some((net, lease));
        Ok(())
    }

    /// What the container gets, in a line or two for the learner.
    pub fn describe(&self) -> Vec<String> {
        let id = &self.id;
        let mut out = vec![match (&self.mode, &self.lease, &self.join) {
            (_, Some((net, l)), _) => format!(
                "container {id}: eth0 {}/{} on bridge {} (network {}), gateway {}",
                l.ip,
                net.subnet.prefix,
                net.bridge,
                net.name,
                net.subnet.gateway()
            ),
            (_, _, Some(ns)) => format!(
                "container {id}: joins the network namespace {}",
                ns.display()
            ),
            (Mode::Host, _, _) => {
                format!("container {id}: the host's network, no namespace of its own")
            }
            _ => format!("container {id}: a network namespace with only lo"),
        }];
        if let Some((_, l)) = &self.lease {
            out.extend(l.ports.iter().map(|p| format!("publishes {p}")));
        }
        out
    }

    /// The container's address, if it has one.
    pub fn ip(&self) -> Option<Ipv4Addr> {
        self.lease.as_ref().map(|(_, l)| l.ip)
    }

    /// Write /etc/hosts (and, on the host's network, resolv.conf) into the
    /// init layer at `layer`.
    pub fn write_files(&self, layer: &Path, hostname: &str) -> anyhow::Result<()> {
        let text = hosts::hosts(hostname, self.ip(), &self.peers);
        hosts::write(layer, &text, self.mode == Mode::Host)
    }

    /// In the parent, once the container's init exists in its namespaces
    /// and waits: build its side of the network.
    pub fn connect(&mut self, pid: Pid) -> anyhow::Result<()> {
        match &self.mode {
            Mode::Host | Mode::Container(_) => Ok(()),
            Mode::None => veth::loopback(&netns::open(pid)?),
            Mode::Network(name) => {
                let Some((net, lease)) = &self.lease else {
                    bail!("no lease on network {name}");
                };
                let store = Store::open()?;
                let bridge = bridge::ensure(net)?;
                bridge::forwarding()?;
                let ns = netns::open(pid)?;
                let (host, peer) = veth::names(&self.id);
                veth::plug(net, bridge, (&host, &peer), &ns, lease.ip)?;
                let live: Vec<Lease> = store
                    .leases(name)?
                    .into_iter()
                    .filter(Lease::live)
                    .collect();
                nat::apply(net, &live)
            }
        }
    }

    /// Give back what `prepare` and `connect` took: the veth, the lease and
    /// its rules; with the network's last container, its bridge and table.
    pub fn release(&mut self) -> anyhow::Result<()> {
        if std::mem::replace(&mut self.released, true) {
            return Ok(());
        }
        let Some((net, lease)) = &self.lease else {
            return Ok(());
        };
        let store = Store::open()?;
        veth::unplug(&lease.veth)?;
        let rest: Vec<Lease> = store
            .leases(&net.name)?
            .into_iter()
            .filter(|l| l.id != self.id && l.live())
            .collect();
        if rest.is_empty() {
            nat::remove(net)?;
            bridge::remove(net)?;
            match net.created {
                true => store.save_leases(&net.name, &[]),
                false => store.remove(&net.name),
            }
        } else {
            store.save_leases(&net.name, &rest)?;
            nat::apply(net, &rest)
        }
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

/// The network `name`: as recorded, or new from the request.
fn network(store: &Store, name: &str, req: &Request) -> anyhow::Result<Network> {
    if let Some(net) = store.network(name)? {
        if req.subnet.is_some_and(|s| s != net.subnet) {
            bail!(
                "network {name} already has subnet {}: leave out --subnet, or name another network",
                net.subnet
            );
        }
        return Ok(net);
    }
    if name != DEFAULT_NETWORK && req.subnet.is_none() {
        bail!("unknown network {name}: create it with `wharf network create {name} --subnet CIDR` (or give --subnet here), or use --network bridge");
    }
    if let Some(b) = &req.bridge {
        check_device_name(b)?;
    }
    let net = Network {
        name: name.to_string(),
        bridge: req.bridge.clone().unwrap_or_else(|| match name {
            DEFAULT_NETWORK => DEFAULT_BRIDGE.to_string(),
            other => format!("wharf-{other}"),
        }),
        subnet: req.subnet.unwrap_or(subnet::DEFAULT),
        created: false,
    };
    check_overlap(store, &net)?;
    Ok(net)
}

/// A new subnet must not overlap another network's, nor an address the
/// host already has: packets for it would have two ways to go.
pub(crate) fn check_overlap(store: &Store, net: &Network) -> anyhow::Result<()> {
    for other in store.networks()? {
        if other.subnet.overlaps(&net.subnet) {
            bail!(
                "subnet {} overlaps {} of network {}: choose another --subnet",
                net.subnet,
                other.subnet,
                other.name
            );
        }
    }
    let here = probe::net::here()?;
    for a in &here.addrs {
        let theirs = Subnet::of(a.addr, a.prefix);
        if theirs.overlaps(&net.subnet) && !a.addr.is_loopback() {
            bail!(
                "subnet {} overlaps {}/{} on the host's {}: choose another --subnet",
                net.subnet,
                a.addr,
                a.prefix,
                here.name_of(a.index)
            );
        }
    }
    Ok(())
}

/// Refuse a port that a live container already publishes.
fn check_ports(store: &Store, ports: &[Port]) -> anyhow::Result<()> {
    for (i, p) in ports.iter().enumerate() {
        if ports[..i].iter().any(|q| q.clashes(p)) {
            bail!("port {p} is given twice: publish each host port once");
        }
    }
    for net in store.networks()? {
        for l in store.leases(&net.name)?.iter().filter(|l| l.live()) {
            for p in ports {
                if let Some(q) = l.ports.iter().find(|q| q.clashes(p)) {
                    bail!(
                        "host port {}/{} is already published by container {} ({q}): choose another host port",
                        p.host_port,
                        p.proto.name(),
                        l.id
                    );
                }
            }
        }
    }
    Ok(())
}

/// `/proc/PID/ns/net` of the pid `target` (the face turns a container id
/// into its init's pid first).
fn namespace_of(target: &str) -> anyhow::Result<PathBuf> {
    match target.parse::<i32>().ok() {
        Some(pid) if pid > 0 && probe::procs::alive(pid) => {
            Ok(PathBuf::from(format!("/proc/{pid}/ns/net")))
        }
        _ => bail!(
            "--network container:{target} names no running container or process: give the id of a running container or a pid"
        ),
    }
}

/// Chapter 08's hooks, and the network connected from the parent.
pub struct WithNetwork<'a> {
    pub inner: &'a mut dyn Hooks,
    pub net: &'a mut Attachment,
}

impl Hooks for WithNetwork<'_> {
    fn in_parent(&mut self, child: Pid) -> anyhow::Result<()> {
        self.inner.in_parent(child)?;
        self.net.connect(child)
    }

    fn build_root(&mut self, rootfs: &Path) -> anyhow::Result<PathBuf> {
        self.inner.build_root(rootfs)
    }
}

/// What a killed run may have left of this state root's networks: their
/// bridges and nftables tables (veths carry the state root's prefix). A
/// bridge counts only as a killed run leaves it: with the network's
/// gateway address and no port plugged in — `wharf0` in use by another
/// state root, or someone else's, stays.
pub fn leftovers(root: &Path) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let here = probe::net::here().unwrap_or_default();
    let mut bridges = Vec::new();
    for e in std::fs::read_dir(root.join("net"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let Ok(b) = std::fs::read(e.path().join("network.json")) else {
            continue;
        };
        let Ok(n) = serde_json::from_slice::<Network>(&b) else {
            continue;
        };
        let Some(br) = here.link(&n.bridge) else {
            continue;
        };
        let ours = here
            .addrs_of(&n.bridge)
            .contains(&(n.subnet.gateway(), n.subnet.prefix));
        // A port named after this state root is the host end of one of its
        // containers' veths: when the container's netns goes, the kernel
        // deletes the pair a moment later (a workqueue), so it may still
        // be plugged in. Only someone else's port keeps the bridge.
        let prefix = crate::paths::net_prefix(&crate::paths::host_tag_for(root));
        let unused = here
            .links
            .iter()
            .filter(|l| l.master == Some(br.index))
            .all(|l| l.name.starts_with(&prefix));
        if br.kind == "bridge" && ours && unused {
            bridges.push(n.bridge);
        }
    }
    let tag = crate::paths::host_tag_for(root);
    let tables = probe::net::nft_tables()
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t.starts_with(&format!("{tag}-")))
        .collect();
    Ok((bridges, tables))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_modes_parse_as_docker_writes_them() {
        assert_eq!("none".parse::<Mode>().unwrap(), Mode::None);
        assert_eq!("host".parse::<Mode>().unwrap(), Mode::Host);
        assert_eq!(
            "bridge".parse::<Mode>().unwrap(),
            Mode::Network("bridge".into())
        );
        assert_eq!(
            "container:web".parse::<Mode>().unwrap(),
            Mode::Container("web".into())
        );
        assert!("container:".parse::<Mode>().is_err());
        assert!("Bad Name".parse::<Mode>().is_err());
        assert!("muchtoolongname".parse::<Mode>().is_err());
    }

    #[test]
    fn a_request_parses_every_flag_or_names_the_bad_one() {
        let ports = ["8080:80".to_string(), "53:53/udp".to_string()];
        let r = Request::parse("app", Some("10.9.0.0/24"), Some("br-app"), &ports).unwrap();
        assert_eq!(r.mode, Mode::Network("app".into()));
        assert_eq!(r.subnet.unwrap().to_string(), "10.9.0.0/24");
        assert_eq!(r.ports.len(), 2);
        let e = Request::parse("bridge", None, None, &["1:99999".into()]).unwrap_err();
        assert!(e.to_string().contains("out of range"), "{e}");
    }

    #[test]
    fn device_names_follow_the_kernel_s_rule() {
        assert!(check_device_name("wharf0").is_ok());
        assert!(check_device_name("exactly15chars_").is_ok());
        for bad in ["", ".", "..", "a/b", "a:b", "a b", "sixteen_chars___"] {
            assert!(check_device_name(bad).is_err(), "{bad:?}");
        }
    }
}
