//! `wharf volume create|ls|inspect|rm`: the named volumes containers mount
//! with `-v NAME:/path` (see [`crate::volume::named`]).

use clap::{Args, Subcommand};
use tabled::{Table, Tabled};

use crate::volume::named::{self, Volume};

#[derive(Debug, Args)]
pub struct VolumeArgs {
    #[command(subcommand)]
    pub command: VolumeCommand,
}

#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create an empty volume (named, or with a random name).
    Create { name: Option<String> },
    /// List the volumes and which containers use them.
    Ls,
    /// Print what wharf knows about volumes, as JSON.
    Inspect {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove volumes and their data; all names are checked first.
    Rm {
        #[arg(required = true)]
        names: Vec<String>,
        /// Remove even a volume that a running container uses.
        #[arg(short, long)]
        force: bool,
    },
}

pub fn run(args: VolumeArgs) -> anyhow::Result<i32> {
    // Volumes are wharf's state, shared by every container: changing them
    // takes root, as the containers that mount them do.
    if matches!(
        args.command,
        VolumeCommand::Create { .. } | VolumeCommand::Rm { .. }
    ) {
        crate::cli::lesson::require_root("wharf volume")?;
    }
    match args.command {
        VolumeCommand::Create { name } => println!("{}", named::create(name.as_deref())?.name),
        VolumeCommand::Ls => println!("{}", table(&named::list()?)),
        VolumeCommand::Inspect { names } => {
            let vols: Vec<Volume> = names
                .iter()
                .map(|n| named::get(n))
                .collect::<anyhow::Result<_>>()?;
            println!("{}", serde_json::to_string_pretty(&vols)?);
        }
        VolumeCommand::Rm { names, force } => {
            named::remove(&names, force)?;
            names.iter().for_each(|n| println!("{n}"));
        }
    }
    Ok(0)
}

#[derive(Tabled)]
struct Row {
    #[tabled(rename = "NAME")]
    name: String,
    #[tabled(rename = "KIND")]
    kind: &'static str,
    #[tabled(rename = "USED BY")]
    users: String,
    #[tabled(rename = "DATA")]
    data: String,
}

fn table(vols: &[Volume]) -> String {
    let rows = vols.iter().map(|v| Row {
        name: v.name.clone(),
        kind: if v.anonymous { "anonymous" } else { "named" },
        users: v.live_users().join(",").chars().take(40).collect(),
        data: v.mountpoint.display().to_string(),
    });
    let mut t = Table::new(rows);
    t.with(tabled::settings::Style::blank());
    t.to_string()
}
