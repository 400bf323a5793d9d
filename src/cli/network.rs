//! `wharf network create|ls|inspect|rm`: user networks for chapter 09's
//! containers (see [`crate::net::networks`]).

use clap::{Args, Subcommand};
use tabled::{Table, Tabled};

use crate::net::networks;
use crate::net::subnet::Subnet;

#[derive(Debug, Args)]
pub struct NetworkArgs {
    #[command(subcommand)]
    pub command: NetworkCommand,
}

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Record a network: a name, a subnet, a bridge (made on first use).
    Create {
        name: String,
        /// Its subnet, e.g. 10.89.0.0/24; must not overlap another's.
        #[arg(long, value_name = "CIDR")]
        subnet: String,
        /// Its bridge device (default: wharf-NAME).
        #[arg(long, value_name = "NAME")]
        bridge: Option<String>,
    },
    /// List the networks and the containers on them.
    Ls,
    /// Print a network and its leases, as JSON.
    Inspect {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove networks that no running container uses.
    Rm {
        #[arg(required = true)]
        names: Vec<String>,
    },
}

pub fn run(args: NetworkArgs) -> anyhow::Result<i32> {
    crate::cli::lesson::require_root("wharf network")?;
    match args.command {
        NetworkCommand::Create {
            name,
            subnet,
            bridge,
        } => {
            let net = networks::create(&name, subnet.parse::<Subnet>()?, bridge.as_deref())?;
            println!("{}", net.name);
        }
        NetworkCommand::Ls => println!("{}", table(&networks::list()?)),
        NetworkCommand::Inspect { names } => {
            let all = networks::list()?;
            let mut out = Vec::new();
            for n in &names {
                let Some((net, leases)) = all.iter().find(|(net, _)| &net.name == n) else {
                    anyhow::bail!("no network {n}: `wharf network ls` lists them");
                };
                out.push(serde_json::json!({ "network": net, "leases": leases }));
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        NetworkCommand::Rm { names } => {
            networks::remove(&names)?;
            names.iter().for_each(|n| println!("{n}"));
        }
    }
    Ok(0)
}

#[derive(Tabled)]
struct Row {
    #[tabled(rename = "NAME")]
    name: String,
    #[tabled(rename = "SUBNET")]
    subnet: String,
    #[tabled(rename = "BRIDGE")]
    bridge: String,
    #[tabled(rename = "CONTAINERS")]
    containers: String,
}

fn table(nets: &[(crate::net::ipam::Network, Vec<crate::net::ipam::Lease>)]) -> String {
    let rows = nets.iter().map(|(n, leases)| Row {
        name: n.name.clone(),
        subnet: n.subnet.to_string(),
        bridge: n.bridge.clone(),
        containers: leases
            .iter()
            .map(|l| format!("{} ({})", l.id, l.ip))
            .collect::<Vec<_>>()
            .join(", "),
    });
    let mut t = Table::new(rows);
    t.with(tabled::settings::Style::blank());
    t.to_string()
}
