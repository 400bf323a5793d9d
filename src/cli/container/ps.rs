//! `wharf ps`: Docker's table of containers (CONTAINER ID, IMAGE, COMMAND,
//! CREATED, STATUS, PORTS, NAMES), the running ones unless -a, with
//! `-f name=|status=|ancestor=`, `-q`, `--no-trunc`, `--format json`.

use clap::Args;
use tabled::settings::Style;
use tabled::{Table, Tabled};

use crate::lifecycle::view::{self, View};
use crate::lifecycle::{clock, record, Record};

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running).
    #[arg(short, long)]
    pub all: bool,
    /// Only display container IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter output: name=, status=, ancestor=, id=.
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// json: one object a line.
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Tabled)]
struct Row {
    #[tabled(rename = "CONTAINER ID")]
    id: String,
    #[tabled(rename = "IMAGE")]
    image: String,
    #[tabled(rename = "COMMAND")]
    command: String,
    #[tabled(rename = "CREATED")]
    created: String,
    #[tabled(rename = "STATUS")]
    status: String,
    #[tabled(rename = "PORTS")]
    ports: String,
    #[tabled(rename = "NAMES")]
    names: String,
}

/// Does `rec` pass one `key=value` filter?
fn passes(rec: &Record, v: &View, filter: &str) -> anyhow::Result<bool> {
    let Some((key, value)) = filter.split_once('=') else {
        anyhow::bail!("bad filter {filter:?}: use KEY=VALUE (name, status, ancestor, id)");
    };
    Ok(match key {
        "name" => rec.name.contains(value),
        "status" => v.state.name() == value,
        "ancestor" => rec.image == value || rec.image_id.contains(value),
        "id" => rec.id.starts_with(value),
        other => anyhow::bail!("invalid filter {other:?}: wharf knows name, status, ancestor, id"),
    })
}

pub fn ps(a: PsArgs) -> anyhow::Result<i32> {
    let mut rows = Vec::new();
    let mut json = Vec::new();
    for rec in record::all()?.into_iter().rev() {
        let v = view::of(&rec);
        // Without -a only live ones, unless a status= filter asks for others.
        let mut keep = a.all || v.state.live() || a.filter.iter().any(|f| f.starts_with("status="));
        for f in &a.filter {
            keep &= passes(&rec, &v, f)?;
        }
        if !keep {
            continue;
        }
        let id = if a.no_trunc {
            rec.id.clone()
        } else {
            rec.short_id().to_string()
        };
        let mut command = rec.command();
        if !a.no_trunc && command.chars().count() > 20 {
            command = format!("{}…", command.chars().take(19).collect::<String>());
        }
        let row = Row {
            id,
            image: rec.image.clone(),
            command: format!("\"{command}\""),
            created: clock::ago(rec.created),
            status: v.describe(),
            ports: String::new(),
            names: rec.name.clone(),
        };
        json.push(serde_json::json!({
            "ID": row.id, "Image": row.image, "Command": row.command,
            "CreatedAt": clock::rfc3339(rec.created), "RunningFor": row.created,
            "State": v.state.name(), "Status": row.status, "Ports": "", "Names": row.names,
        }));
        rows.push(row);
    }
    match a.format.as_deref() {
        _ if a.quiet => rows.iter().for_each(|r| println!("{}", r.id)),
        Some("json") => json.iter().for_each(|j| println!("{j}")),
        Some(f) => anyhow::bail!("--format {f:?} is not supported: use json"),
        None => {
            let mut t = Table::new(rows);
            t.with(Style::blank());
            println!("{t}");
        }
    }
    Ok(0)
}
