//! An IPv4 subnet: a network address and how many of its leading bits are
//! fixed (`10.88.0.0/16`). Every address with those bits belongs to it; the
//! first host (.1) is the bridge, the gateway of the containers.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

/// The subnet of wharf's default network, as Podman uses.
pub const DEFAULT: Subnet = Subnet {
    addr: Ipv4Addr::new(10, 88, 0, 0),
    prefix: 16,
};

impl Subnet {
    fn mask(&self) -> u32 {
        u32::MAX.checked_shl(32 - self.prefix as u32).unwrap_or(0)
    }

    /// The subnet that `addr/prefix` lies in (`10.88.0.1/16`: 10.88.0.0/16).
    pub fn of(addr: Ipv4Addr, prefix: u8) -> Subnet {
        let s = Subnet {
            addr,
            prefix: prefix.min(32),
        };
        Subnet {
            addr: Ipv4Addr::from(u32::from(addr) & s.mask()),
            prefix: s.prefix,
        }
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.addr)
    }

    /// Whether the two share any address: one holds the other's start.
    pub fn overlaps(&self, other: &Subnet) -> bool {
        self.contains(other.addr) || other.contains(self.addr)
    }

    /// The `n`th address of the subnet (0 is the network itself).
    pub fn host(&self, n: u32) -> Option<Ipv4Addr> {
        let size = 1u64 << (32 - self.prefix as u32);
        // The last address is the broadcast address.
        (n > 0 && (n as u64) < size - 1).then(|| Ipv4Addr::from(u32::from(self.addr) + n))
    }

    /// The bridge's address: the first host.
    pub fn gateway(&self) -> Ipv4Addr {
        self.host(1).unwrap_or(self.addr)
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl std::str::FromStr for Subnet {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Subnet> {
        let bad = || {
            anyhow::anyhow!(
                "{s:?} is not a subnet: write it as ADDRESS/PREFIX with a prefix from 8 to 30, e.g. 10.89.0.0/24"
            )
        };
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
        let prefix: u8 = p.parse().map_err(|_| bad())?;
        if !(8..=30).contains(&prefix) {
            return Err(bad());
        }
        Ok(Subnet::of(addr, prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_masks_to_the_network() {
        let s: Subnet = "10.88.7.1/16".parse().unwrap();
        assert_eq!(s, DEFAULT);
        assert_eq!(s.gateway(), Ipv4Addr::new(10, 88, 0, 1));
        assert!("10.88.0.0".parse::<Subnet>().is_err());
        assert!("10.88.0.0/31".parse::<Subnet>().is_err());
        assert!("10.300.0.0/16".parse::<Subnet>().is_err());
    }

    #[test]
    fn hosts_stop_before_the_broadcast_address() {
        let s: Subnet = "192.168.5.0/30".parse().unwrap();
        assert_eq!(s.host(1), Some(Ipv4Addr::new(192, 168, 5, 1)));
        assert_eq!(s.host(2), Some(Ipv4Addr::new(192, 168, 5, 2)));
        assert_eq!(s.host(3), None);
        assert_eq!(s.host(0), None);
    }

    #[test]
    fn overlap_either_way() {
        let big: Subnet = "10.0.0.0/8".parse().unwrap();
        let small: Subnet = "10.88.0.0/24".parse().unwrap();
        let other: Subnet = "192.168.0.0/16".parse().unwrap();
        assert!(big.overlaps(&small) && small.overlaps(&big));
        assert!(!big.overlaps(&other));
    }
}
