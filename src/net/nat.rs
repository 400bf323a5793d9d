//! NAT with nftables, in a table of wharf's own (`ip wharf-<tag>-<network>`),
//! never touching anyone else's. Netfilter calls the chains of every table
//! at their hook, so ours runs beside the host's firewall:
//!
//! - `postrouting` (srcnat): a packet from the subnet leaving by another
//!   device gets the host's address as its source — masquerade — so the
//!   answer finds its way back; the kernel's conntrack undoes it on replies.
//! - `prerouting` (dstnat): a packet arriving for a published port of the
//!   host gets the container's address and port as its destination (DNAT).
//! - `output` (dstnat): the same for connections the host itself makes —
//!   they never pass prerouting. To 127.0.0.1 this needs route_localnet on
//!   the bridge and a masquerade of the loopback source, as Docker does.
//!
//! The table is written whole from the leases each time a container comes
//! or goes, in one batch the kernel applies all or nothing.

use std::borrow::Cow;

use nftables::batch::Batch;
use nftables::expr::{Expression, Meta, MetaKey, NamedExpression, Payload, PayloadField, Prefix};
use nftables::expr::{Fib, FibFlag, FibResult, CT};
use nftables::schema::{Chain, NfListObject, Rule, Table};
use nftables::stmt::{AnonymousCounter, Counter, Match, Operator, Statement, NAT};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};

use super::ipam::{Lease, Network};
use super::ports::Port;
use super::subnet::Subnet;
use crate::sys;

/// The name of a network's table.
pub fn table_name(net: &Network) -> String {
    format!("{}-{}", crate::paths::host_tag(), net.name)
}

type Expr = Expression<'static>;

fn named(n: NamedExpression<'static>) -> Expr {
    Expression::Named(n)
}

fn field(protocol: &'static str, f: &'static str) -> Expr {
    named(NamedExpression::Payload(Payload::PayloadField(
        PayloadField {
            protocol: protocol.into(),
            field: f.into(),
        },
    )))
}

fn text(s: String) -> Expr {
    Expression::String(Cow::Owned(s))
}

fn prefix(s: &Subnet) -> Expr {
    named(NamedExpression::Prefix(Prefix {
        addr: Box::new(text(s.addr.to_string())),
        len: s.prefix as u32,
    }))
}

fn is(left: Expr, op: Operator, right: Expr) -> Statement<'static> {
    Statement::Match(Match { left, right, op })
}

fn oifname() -> Expr {
    named(NamedExpression::Meta(Meta {
        key: MetaKey::Oifname,
    }))
}

fn counter() -> Statement<'static> {
    Statement::Counter(Counter::Anonymous(Some(AnonymousCounter::default())))
}

const LOOPBACK: Subnet = Subnet {
    addr: std::net::Ipv4Addr::new(127, 0, 0, 0),
    prefix: 8,
};

/// One rule: its chain, how `nft` writes it, and its statements.
struct Line {
    chain: &'static str,
    shown: String,
    expr: Vec<Statement<'static>>,
}

/// `ip saddr FROM oifname (==|!=) BRIDGE [ct status dnat] counter masquerade`.
fn masquerade(from: &Subnet, out: Operator, br: &str, dnat_only: bool) -> Line {
    let op = if out == Operator::NEQ { "!= " } else { "" };
    let mut expr = vec![
        is(field("ip", "saddr"), Operator::EQ, prefix(from)),
        is(oifname(), out, text(br.to_string())),
    ];
    if dnat_only {
        let status = named(NamedExpression::CT(CT {
            key: "status".into(),
            family: None,
            dir: None,
        }));
        expr.push(is(status, Operator::IN, text("dnat".into())));
    }
    expr.extend([counter(), Statement::Masquerade(None)]);
    let ct = if dnat_only { "ct status dnat " } else { "" };
    Line {
        chain: "postrouting",
        shown: format!("ip saddr {from} oifname {op}{br:?} {ct}counter masquerade"),
        expr,
    }
}

fn masquerades(net: &Network) -> Vec<Line> {
    let br = net.bridge.as_str();
    vec![
        // The way out: leaving by any device but the bridge.
        masquerade(&net.subnet, Operator::NEQ, br, false),
        // A DNAT'd connection from 127.0.0.1 going out the bridge.
        masquerade(&LOOPBACK, Operator::EQ, br, false),
        // A container reaching a published port through the bridge address:
        // without this the answer would come straight from the other
        // container, and the caller would not know it.
        masquerade(&net.subnet, Operator::EQ, br, true),
    ]
}

/// The DNAT of one published port, for `chain` (prerouting or output).
fn dnat(chain: &'static str, lease: &Lease, p: &Port) -> Line {
    let proto = p.proto.name();
    let (first, first_shown) = match p.host_ip {
        Some(ip) => (
            is(field("ip", "daddr"), Operator::EQ, text(ip.to_string())),
            format!("ip daddr {ip}"),
        ),
        None => (
            is(
                named(NamedExpression::Fib(Fib {
                    result: FibResult::Type,
                    flags: [FibFlag::Daddr].into_iter().collect(),
                })),
                Operator::EQ,
                text("local".into()),
            ),
            "fib daddr type local".to_string(),
        ),
    };
    Line {
        chain,
        shown: format!(
            "{first_shown} {proto} dport {} counter dnat to {}:{}",
            p.host_port, lease.ip, p.ctr_port
        ),
        expr: vec![
            first,
            is(
                field(proto, "dport"),
                Operator::EQ,
                Expression::Number(p.host_port as u32),
            ),
            counter(),
            Statement::DNAT(Some(NAT {
                addr: Some(text(lease.ip.to_string())),
                family: None,
                port: Some(Expression::Number(p.ctr_port as u32)),
                flags: None,
            })),
        ],
    }
}

fn table(name: &str) -> Table<'static> {
    Table {
        family: NfFamily::IP,
        name: Cow::Owned(name.to_string()),
        handle: None,
    }
}

fn chain(table: &str, name: &'static str, hook: NfHook, prio: i32) -> Chain<'static> {
    Chain {
        family: NfFamily::IP,
        table: Cow::Owned(table.to_string()),
        name: name.into(),
        _type: Some(NfChainType::NAT),
        hook: Some(hook),
        prio: Some(prio),
        policy: Some(NfChainPolicy::Accept),
        ..Chain::default()
    }
}

/// Write the network's table anew: its masquerades, and a DNAT in
/// prerouting and output for every port a live container publishes.
pub fn apply(net: &Network, leases: &[Lease]) -> anyhow::Result<()> {
    let name = table_name(net);
    let mut b = Batch::new();
    let mut shown = Vec::new();
    // add + delete + add: the table exists afterwards, empty, whether or
    // not it did before — all inside the one transaction.
    b.add(NfListObject::Table(table(&name)));
    b.delete(NfListObject::Table(table(&name)));
    b.add(NfListObject::Table(table(&name)));
    shown.push(format!("NFT_MSG_NEWTABLE ip {name} (emptied)"));
    for (c, hook, prio) in [
        ("prerouting", NfHook::Prerouting, -100),
        ("output", NfHook::Output, -100),
        ("postrouting", NfHook::Postrouting, 100),
    ] {
        b.add(NfListObject::Chain(chain(&name, c, hook, prio)));
        shown.push(format!(
            "NFT_MSG_NEWCHAIN {c} {{ type nat hook {c} priority {prio} }}"
        ));
    }
    let mut lines = masquerades(net);
    for l in leases {
        for p in &l.ports {
            lines.push(dnat("prerouting", l, p));
            lines.push(dnat("output", l, p));
        }
    }
    for l in lines {
        shown.push(format!("NFT_MSG_NEWRULE {}: {}", l.chain, l.shown));
        b.add(NfListObject::Rule(Rule {
            family: NfFamily::IP,
            table: Cow::Owned(name.clone()),
            chain: l.chain.into(),
            expr: l.expr.into(),
            ..Rule::default()
        }));
    }
    sys::nft_apply(
        &b.to_nftables(),
        shown,
        "wharf's own NAT table, rewritten from the leases: masquerade the subnet, DNAT the published ports",
    )?;
    Ok(())
}

/// Delete the network's table, if it is there.
pub fn remove(net: &Network) -> anyhow::Result<()> {
    remove_table(&table_name(net))
}

/// Delete the table `name` of family ip, if it is there: `add` first,
/// which does nothing to a table that exists, so the batch never fails
/// on a missing one — one nft run instead of a look and a delete.
pub fn remove_table(name: &str) -> anyhow::Result<()> {
    let mut b = Batch::new();
    b.add(NfListObject::Table(table(name)));
    b.delete(NfListObject::Table(table(name)));
    sys::nft_apply(
        &b.to_nftables(),
        vec![
            format!("NFT_MSG_NEWTABLE ip {name} (if missing)"),
            format!("NFT_MSG_DELTABLE ip {name}"),
        ],
        "no container uses this network any more: its table goes, with every chain and rule in it",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(ports: &[&str]) -> Lease {
        Lease {
            ip: std::net::Ipv4Addr::new(10, 88, 0, 2),
            id: "c".into(),
            hostname: "c".into(),
            veth: "v".into(),
            ports: ports.iter().map(|p| p.parse().unwrap()).collect(),
            owner: 1,
            owner_start: 0,
        }
    }

    #[test]
    fn a_port_on_any_host_address_matches_local_destinations() {
        let l = lease(&["8080:80"]);
        let line = dnat("prerouting", &l, &l.ports[0]);
        assert_eq!(
            line.shown,
            "fib daddr type local tcp dport 8080 counter dnat to 10.88.0.2:80"
        );
        let json = serde_json::to_string(&line.expr).unwrap();
        assert!(
            json.contains(r#""fib":{"result":"type","flags":["daddr"]}"#),
            "{json}"
        );
        assert!(
            json.contains(r#""dnat":{"addr":"10.88.0.2","port":80}"#),
            "{json}"
        );
    }

    #[test]
    fn a_port_on_one_address_matches_only_it() {
        let l = lease(&["127.0.0.1:5353:53/udp"]);
        let line = dnat("output", &l, &l.ports[0]);
        assert_eq!(
            line.shown,
            "ip daddr 127.0.0.1 udp dport 5353 counter dnat to 10.88.0.2:53"
        );
        let json = serde_json::to_string(&line.expr).unwrap();
        assert!(
            json.contains(r#""protocol":"udp","field":"dport""#),
            "{json}"
        );
    }

    #[test]
    fn the_subnet_is_masqueraded_out_of_every_device_but_the_bridge() {
        let net = Network {
            name: "bridge".into(),
            bridge: "wharf0".into(),
            subnet: crate::net::subnet::DEFAULT,
            created: false,
        };
        let shown: Vec<String> = masquerades(&net).into_iter().map(|l| l.shown).collect();
        assert_eq!(
            shown,
            [
                r#"ip saddr 10.88.0.0/16 oifname != "wharf0" counter masquerade"#,
                r#"ip saddr 127.0.0.0/8 oifname "wharf0" counter masquerade"#,
                r#"ip saddr 10.88.0.0/16 oifname "wharf0" ct status dnat counter masquerade"#,
            ]
        );
    }
}
