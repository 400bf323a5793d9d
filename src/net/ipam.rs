//! IP address management: which container has which address. Each network
//! keeps its leases in `<state root>/net/<network>/leases.json`; every
//! change is made holding `<state root>/net/.lock`, so two containers
//! started at once never get the same address.
//!
//! A lease names the process that holds it (pid and start time). When that
//! process is gone — a run killed with SIGKILL — the lease is stale: the
//! next allocation, and `wharf reset`, take it back.

use std::fs::File;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use anyhow::Context;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::ports::Port;
use super::subnet::Subnet;
use crate::probe::procs;

/// A network: a bridge on the host and the subnet behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub name: String,
    pub bridge: String,
    pub subnet: Subnet,
    /// Made by `wharf network create`: kept when its last container goes.
    #[serde(default)]
    pub created: bool,
}

/// One container's address on a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub ip: Ipv4Addr,
    pub id: String,
    pub hostname: String,
    /// The host end of its veth pair.
    pub veth: String,
    pub ports: Vec<Port>,
    /// The process holding the lease, and when it started.
    pub owner: i32,
    pub owner_start: u64,
}

impl Lease {
    pub fn live(&self) -> bool {
        procs::alive(self.owner) && procs::start_time(self.owner).ok() == Some(self.owner_start)
    }
}

/// The leases of every network, locked while this value lives.
pub struct Store {
    pub dir: PathBuf,
    _lock: Flock<File>,
}

impl Store {
    /// `<state root>/net`, locked.
    pub fn open() -> anyhow::Result<Store> {
        let dir = crate::paths::state_root().join("net");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let f = File::create(dir.join(".lock")).context("creating the network lock")?;
        let lock = Flock::lock(f, FlockArg::LockExclusive)
            .map_err(|(_, e)| anyhow::anyhow!("locking {}: {e}", dir.display()))?;
        Ok(Store { dir, _lock: lock })
    }

    fn file(&self, name: &str, what: &str) -> PathBuf {
        self.dir.join(name).join(what)
    }

    fn read<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
        what: &str,
    ) -> anyhow::Result<Option<T>> {
        let path = self.file(name, what);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(serde_json::from_slice(&b).with_context(|| {
                format!("{} is not wharf network state", path.display())
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Write whole or not at all: a temporary file renamed over.
    fn write<T: Serialize>(&self, name: &str, what: &str, v: &T) -> anyhow::Result<()> {
        std::fs::create_dir_all(self.dir.join(name))?;
        let path = self.file(name, what);
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(v)?)?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
    }

    pub fn network(&self, name: &str) -> anyhow::Result<Option<Network>> {
        self.read(name, "network.json")
    }

    pub fn save_network(&self, net: &Network) -> anyhow::Result<()> {
        self.write(&net.name, "network.json", net)
    }

    /// Every network that has state here.
    pub fn networks(&self) -> anyhow::Result<Vec<Network>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(&self.dir)?.flatten() {
            if !e.path().is_dir() {
                continue;
            }
            if let Some(n) = self.network(&e.file_name().to_string_lossy())? {
                out.push(n);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// All leases of `name`, live and stale.
    pub fn leases(&self, name: &str) -> anyhow::Result<Vec<Lease>> {
        Ok(self.read(name, "leases.json")?.unwrap_or_default())
    }

    pub fn save_leases(&self, name: &str, leases: &[Lease]) -> anyhow::Result<()> {
        self.write(name, "leases.json", &leases)
    }

    /// Forget a network that no container uses any more.
    pub fn remove(&self, name: &str) -> anyhow::Result<()> {
        let d = self.dir.join(name);
        std::fs::remove_dir_all(&d).with_context(|| format!("removing {}", d.display()))
    }
}

/// The lowest free address of the subnet after the gateway.
pub fn free_address(net: &Network, taken: &[Lease]) -> anyhow::Result<Ipv4Addr> {
    (2..)
        .map_while(|n| net.subnet.host(n))
        .find(|ip| taken.iter().all(|l| l.ip != *ip))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "network {} ({}) has no free address left: remove a container or use a bigger subnet",
                net.name,
                net.subnet
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(ip: [u8; 4]) -> Lease {
        Lease {
            ip: ip.into(),
            id: "c".into(),
            hostname: "c".into(),
            veth: "v".into(),
            ports: vec![],
            owner: 1,
            owner_start: 0,
        }
    }

    #[test]
    fn the_first_free_host_after_the_gateway() {
        let net = Network {
            name: "n".into(),
            bridge: "b".into(),
            subnet: "10.9.0.0/29".parse().unwrap(),
            created: false,
        };
        assert_eq!(free_address(&net, &[]).unwrap(), Ipv4Addr::new(10, 9, 0, 2));
        let taken = [lease([10, 9, 0, 2]), lease([10, 9, 0, 4])];
        assert_eq!(
            free_address(&net, &taken).unwrap(),
            Ipv4Addr::new(10, 9, 0, 3)
        );
        let full: Vec<Lease> = (2..7).map(|n| lease([10, 9, 0, n])).collect();
        assert!(free_address(&net, &full).is_err());
    }
}
