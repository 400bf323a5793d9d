//! User networks (`wharf network create|ls|inspect|rm`): a name, a subnet
//! and a bridge that outlive their containers, so that containers started
//! on the same network find each other by name (each one's /etc/hosts lists
//! the others). The bridge and the table still come and go with the
//! containers; the record stays until `rm`.

use anyhow::bail;

use super::ipam::{Lease, Network, Store};
use super::subnet::Subnet;
use super::{bridge, check_device_name, check_name, check_overlap, nat, DEFAULT_NETWORK};

/// Record a new network.
pub fn create(name: &str, subnet: Subnet, bridge: Option<&str>) -> anyhow::Result<Network> {
    check_name(name)?;
    if let Some(b) = bridge {
        check_device_name(b)?;
    }
    let store = Store::open()?;
    if store.network(name)?.is_some() || name == DEFAULT_NETWORK {
        bail!("network {name} already exists: choose another name, or `wharf network rm {name}` first");
    }
    let net = Network {
        name: name.to_string(),
        bridge: bridge.map_or_else(|| format!("wharf-{name}"), str::to_string),
        subnet,
        created: true,
    };
    check_overlap(&store, &net)?;
    store.save_network(&net)?;
    Ok(net)
}

/// Every network with state, and the live leases on it.
pub fn list() -> anyhow::Result<Vec<(Network, Vec<Lease>)>> {
    let store = Store::open()?;
    let mut out = Vec::new();
    for net in store.networks()? {
        let live = store
            .leases(&net.name)?
            .into_iter()
            .filter(Lease::live)
            .collect();
        out.push((net, live));
    }
    Ok(out)
}

/// Remove networks no live container uses; every name is checked first.
pub fn remove(names: &[String]) -> anyhow::Result<()> {
    let store = Store::open()?;
    let mut found = Vec::new();
    for name in names {
        let Some(net) = store.network(name)? else {
            bail!("no network {name}: `wharf network ls` lists them");
        };
        let users: Vec<String> = store
            .leases(name)?
            .into_iter()
            .filter(Lease::live)
            .map(|l| l.id)
            .collect();
        if !users.is_empty() {
            bail!(
                "network {name} is in use by container(s) {}: stop them first",
                users.join(", ")
            );
        }
        found.push(net);
    }
    for net in found {
        nat::remove(&net)?;
        bridge::remove(&net)?;
        store.remove(&net.name)?;
    }
    Ok(())
}
