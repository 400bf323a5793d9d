//! Published ports: `-p [IP:]HOSTPORT:CONTAINERPORT[/tcp|udp]`, Docker's
//! syntax. A packet for HOSTPORT on the host is rewritten (DNAT) to go to
//! CONTAINERPORT at the container's address instead.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    /// Only packets to this host address; `None`: to any of the host's.
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub ctr_port: u16,
    pub proto: Proto,
}

impl Port {
    /// Whether the two claim the same packets on the host.
    pub fn clashes(&self, other: &Port) -> bool {
        self.proto == other.proto
            && self.host_port == other.host_port
            && (self.host_ip.is_none() || other.host_ip.is_none() || self.host_ip == other.host_ip)
    }
}

impl std::fmt::Display for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(ip) = self.host_ip {
            write!(f, "{ip}:")?;
        }
        write!(
            f,
            "{}:{}/{}",
            self.host_port,
            self.ctr_port,
            self.proto.name()
        )
    }
}

fn port(spec: &str, s: &str) -> anyhow::Result<u16> {
    match s.parse::<u32>() {
        Ok(n @ 1..=65535) => Ok(n as u16),
        Ok(n) => anyhow::bail!("port {n} in -p {spec} is out of range: ports go from 1 to 65535"),
        Err(_) => anyhow::bail!("{s:?} in -p {spec} is not a port number"),
    }
}

impl std::str::FromStr for Port {
    type Err = anyhow::Error;

    fn from_str(spec: &str) -> anyhow::Result<Port> {
        let (rest, proto) = match spec.rsplit_once('/') {
            Some((r, "tcp")) => (r, Proto::Tcp),
            Some((r, "udp")) => (r, Proto::Udp),
            Some((_, p)) => anyhow::bail!("-p {spec}: unknown protocol {p:?}: use tcp or udp"),
            None => (spec, Proto::Tcp),
        };
        let parts: Vec<&str> = rest.split(':').collect();
        let (ip, h, c) = match parts[..] {
            [h, c] => (None, h, c),
            [ip, h, c] => {
                let ip: Ipv4Addr = ip
                    .parse()
                    .map_err(|_| anyhow::anyhow!("-p {spec}: {ip:?} is not an IPv4 address"))?;
                (Some(ip).filter(|i| !i.is_unspecified()), h, c)
            }
            _ => anyhow::bail!(
                "-p {spec}: write it as [IP:]HOSTPORT:CONTAINERPORT[/tcp|udp], e.g. -p 8080:80"
            ),
        };
        Ok(Port {
            host_ip: ip,
            host_port: port(spec, h)?,
            ctr_port: port(spec, c)?,
            proto,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_forms_parse() {
        let p: Port = "8080:80".parse().unwrap();
        assert_eq!(
            (p.host_ip, p.host_port, p.ctr_port, p.proto),
            (None, 8080, 80, Proto::Tcp)
        );
        let p: Port = "127.0.0.1:5353:53/udp".parse().unwrap();
        assert_eq!(p.host_ip, Some(Ipv4Addr::LOCALHOST));
        assert_eq!(p.proto, Proto::Udp);
        assert_eq!(p.to_string(), "127.0.0.1:5353:53/udp");
    }

    #[test]
    fn bad_ports_say_why() {
        let e = "70000:80".parse::<Port>().unwrap_err().to_string();
        assert!(e.contains("out of range"), "{e}");
        assert!("0:80".parse::<Port>().is_err());
        assert!("80".parse::<Port>().is_err());
        assert!("8080:80/sctp".parse::<Port>().is_err());
        assert!("x:1:2".parse::<Port>().is_err());
    }

    #[test]
    fn the_same_host_port_clashes_unless_the_addresses_differ() {
        let any: Port = "8080:80".parse().unwrap();
        let lo: Port = "127.0.0.1:8080:81".parse().unwrap();
        let other: Port = "127.0.0.2:8080:81".parse().unwrap();
        let udp: Port = "8080:80/udp".parse().unwrap();
        assert!(any.clashes(&lo) && lo.clashes(&any));
        assert!(!lo.clashes(&other));
        assert!(!any.clashes(&udp));
    }
}
