//! `wharf-oci`: wharf's container behind runc's command line. A thin face
//! over `wharf::container`: flags in, one error line out, runc's exit codes.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use wharf::cli::lesson::{self, Lesson};
use wharf::container::{spec, Detach, Runtime, SpecBuilder};
use wharf::ns::run::NoHooks;

/// An OCI runtime with runc's command line, built on wharf.
#[derive(Debug, Parser)]
#[command(name = "wharf-oci", version)]
struct Cli {
    #[command(flatten)]
    lesson: Lesson,

    /// Where container state lives.
    #[arg(long, global = true, default_value = "/run/wharf-oci")]
    root: PathBuf,

    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Create a container from a bundle; its init waits for `start`.
    Create {
        #[arg(long, short, default_value = ".")]
        bundle: PathBuf,
        id: String,
    },
    /// Let a created container run its command.
    Start { id: String },
    /// Create and start a container, wait for it, delete it; exits with
    /// the command's status.
    Run {
        #[arg(long, short, default_value = ".")]
        bundle: PathBuf,
        id: String,
    },
    /// Print the container's OCI state as JSON.
    State { id: String },
    /// Send a signal (a name like TERM or SIGKILL, or a number) to the init.
    Kill {
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Remove a stopped container (--force: kill it first).
    Delete {
        #[arg(long, short)]
        force: bool,
        id: String,
    },
    /// Write a default config.json (runc's defaults) into the bundle.
    Spec {
        #[arg(long, short, default_value = ".")]
        bundle: PathBuf,
    },
}

fn main() {
    let cli = Cli::parse();
    cli.lesson.start();
    lesson::finish("wharf-oci", run(cli))
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    let rt = Runtime::new(&cli.root);
    match cli.cmd {
        Cmd::Create { bundle, id } => {
            let spec = spec::load_bundle(&bundle)?;
            rt.create(&id, &bundle, &spec, &mut NoHooks, Detach::Yes)?;
        }
        Cmd::Start { id } => rt.start(&id)?,
        Cmd::Run { bundle, id } => {
            let spec = spec::load_bundle(&bundle)?;
            return Ok(rt.run(&id, &bundle, &spec, &mut NoHooks)?.exit_code());
        }
        Cmd::State { id } => println!("{}", serde_json::to_string_pretty(&rt.state(&id)?)?),
        Cmd::Kill { id, signal } => rt.kill(&id, parse_signal(&signal)?)?,
        Cmd::Delete { force, id } => rt.delete(&id, force)?,
        Cmd::Spec { bundle } => write_spec(&bundle)?,
    }
    Ok(0)
}

/// `TERM`, `SIGTERM` or `15`.
fn parse_signal(s: &str) -> anyhow::Result<nix::sys::signal::Signal> {
    use std::str::FromStr;
    let bad =
        || anyhow::anyhow!("unknown signal {s:?}: give a name like TERM or KILL, or a number");
    if let Ok(n) = s.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(n).map_err(|_| bad());
    }
    let name = s.to_ascii_uppercase();
    let name = if name.starts_with("SIG") {
        name
    } else {
        format!("SIG{name}")
    };
    nix::sys::signal::Signal::from_str(&name).map_err(|_| bad())
}

fn write_spec(bundle: &std::path::Path) -> anyhow::Result<()> {
    let path = bundle.join("config.json");
    if path.exists() {
        anyhow::bail!("{} exists: remove it first", path.display());
    }
    let text = spec::to_json(&SpecBuilder::new("rootfs", ["sh"]).build());
    std::fs::write(&path, text + "\n")
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))
}
