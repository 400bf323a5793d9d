//! `wharf inspect ns|mounts|cgroup PID`: the kernel's view of any running
//! process, the same tables `--show` prints during a lesson.

use std::io;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};

use super::flags::ViewFlag;
use crate::probe::{mounts, Data, View};

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// What to look at: ns, mounts or cgroup.
    #[arg(value_enum)]
    pub view: ViewFlag,

    /// The process, as numbered in this pid namespace.
    #[arg(value_parser = clap::value_parser!(i32).range(1..))]
    pub pid: i32,

    /// How to print it.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Mounts only: draw them as a tree of parents and children, like findmnt
    /// (in JSON, each mount lists the mounts on it as `children`).
    #[arg(long)]
    pub tree: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

pub fn run(args: InspectArgs) -> anyhow::Result<i32> {
    if args.tree && View::from(args.view) != View::Mounts {
        bail!(
            "--tree draws mounts only: use `wharf inspect mounts {} --tree`",
            args.pid
        );
    }
    if !crate::probe::procs::exists(args.pid) {
        bail!(
            "no process with pid {}: check the number with `ps -e`",
            args.pid
        );
    }
    let data = Data::read(args.view.into(), args.pid).map_err(|e| problem(&args, e))?;
    let text = match args.format {
        Format::Table => table(&data, args.tree),
        Format::Json => json(&data, args.tree)?,
    };
    print!("{text}");
    Ok(0)
}

fn table(data: &Data, tree: bool) -> String {
    match data {
        Data::Mounts(rows) if tree => mounts::tree_table(rows).render(""),
        other => other.table().render(""),
    }
}

/// Pretty JSON, fields in the order the structs declare them.
fn json(data: &Data, tree: bool) -> anyhow::Result<String> {
    let text = match data {
        Data::Ns(rows) => serde_json::to_string_pretty(rows),
        Data::Mounts(rows) if tree => serde_json::to_string_pretty(&mounts::tree(rows)),
        Data::Mounts(rows) => serde_json::to_string_pretty(rows),
        Data::Cgroup(rows) => serde_json::to_string_pretty(rows),
        Data::Net(rows) => serde_json::to_string_pretty(rows),
    };
    Ok(text.context("encoding JSON")? + "\n")
}

/// One line naming what went wrong and what to do.
fn problem(args: &InspectArgs, e: io::Error) -> anyhow::Error {
    let (view, pid) = (View::from(args.view).name(), args.pid);
    match e.kind() {
        // It existed a moment ago, when we checked.
        io::ErrorKind::NotFound => anyhow::anyhow!("pid {pid} exited while being inspected"),
        io::ErrorKind::PermissionDenied => {
            anyhow::anyhow!(
                "not allowed to read the {view} of pid {pid}: run as root (sudo wharf inspect …)"
            )
        }
        _ => anyhow::anyhow!("cannot read the {view} of pid {pid}: {e}"),
    }
}
