//! The container commands, with Docker's names, flags and exit codes:
//! `run`, `create`, `start`, `stop`, `kill`, `restart`, `rm`, `wait`,
//! `ps`, `logs`, `exec`, `pause`, `unpause`, `diff`, `export`, `top`,
//! `stats`, `rename`, `cp`, `commit`, `container inspect`,
//! `container prune`. The work is done by [`crate::lifecycle`]; here are
//! the flags, the tables, and Docker's exit codes: 125 when wharf itself
//! failed, 126/127 when the command cannot be run or found, 128+N for a
//! signal, else the container's own code.

mod commit;
mod cp;
mod examine;
mod inspect;
mod logs;
mod ps;
mod run;

use std::time::Duration;

use clap::{Args, Subcommand};

pub use commit::CommitArgs;
pub use cp::CpArgs;
pub use examine::{ExportArgs, OneArgs, RenameArgs, StatsArgs};
pub use logs::LogsArgs;
pub use ps::PsArgs;
pub use run::{CreateArgs, RunArgs};

use crate::container::{ExecOptions, Runtime};
use crate::lifecycle::{self, control, signal, view};
use crate::sys::ExitCode;

/// Docker's exit code when the engine itself failed.
pub const FAILED: i32 = 125;

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals.
    #[arg(short, long)]
    pub attach: bool,
    /// Attach container's STDIN.
    #[arg(short, long)]
    pub interactive: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container.
    #[arg(short = 't', long = "time", default_value_t = 10)]
    pub time: u64,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send to the container.
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL).
    #[arg(short, long)]
    pub force: bool,
    /// Remove the container's anonymous volumes too.
    #[arg(short, long)]
    pub volumes: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NamesArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Detached mode: run command in the background.
    #[arg(short, long)]
    pub detach: bool,
    /// Keep STDIN open (it is ours: the process inherits it).
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY (not yet supported).
    #[arg(short, long)]
    pub tty: bool,
    /// Set environment variables.
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Working directory inside the container.
    #[arg(short, long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short, long)]
    pub user: Option<String>,
    pub container: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub cmd: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SystemArgs {
    #[command(subcommand)]
    pub command: SystemCommand,
}

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Remove stopped containers and whatever a killed wharf command left
    /// half-made (directories, mounts, names, runtime states).
    Prune {
        /// Do not prompt for confirmation (wharf never prompts).
        #[arg(short, long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub struct ContainerArgs {
    #[command(subcommand)]
    pub command: ContainerCommand,
}

#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Display detailed information on containers (Docker's JSON).
    Inspect(NamesArgs),
    /// Remove all stopped containers.
    Prune {
        /// Do not prompt for confirmation (wharf never prompts).
        #[arg(short, long)]
        force: bool,
    },
    /// List containers (as `wharf ps`).
    Ls(PsArgs),
}

/// Any error of a container command is wharf's own failure (125), unless
/// it already carries a code.
pub fn failed(result: anyhow::Result<i32>) -> anyhow::Result<i32> {
    result.map_err(|e| match e.downcast_ref::<ExitCode>() {
        Some(_) => e,
        None => anyhow::Error::new(ExitCode(FAILED, crate::sys::one_line(&e))),
    })
}

/// Do `f` for each container named; print each name done, as Docker does.
/// Every one is tried; the first failure is the answer (the others are
/// printed here).
fn each(
    names: &[String],
    mut f: impl FnMut(&lifecycle::Record) -> anyhow::Result<()>,
) -> anyhow::Result<i32> {
    let mut first_error = None;
    for n in names {
        match lifecycle::find(n).and_then(|r| f(&r)) {
            Ok(()) => println!("{n}"),
            Err(e) if first_error.is_none() => first_error = Some(e),
            Err(e) => eprintln!("wharf: error: {}", crate::sys::one_line(&e)),
        }
    }
    first_error.map_or(Ok(0), Err)
}

pub fn create(a: CreateArgs) -> anyhow::Result<i32> {
    failed(run::create(a))
}

pub fn run(a: RunArgs) -> anyhow::Result<i32> {
    failed(run::run(a))
}

pub fn start(a: StartArgs) -> anyhow::Result<i32> {
    failed((|| {
        if a.attach || a.interactive {
            let [one] = a.containers.as_slice() else {
                anyhow::bail!("you cannot start and attach multiple containers at once");
            };
            let rec = lifecycle::find(one)?;
            let stdin = a.interactive && rec.open_stdin;
            // Attach first (the monitor must still be there: a created container).
            let mut sock = lifecycle::attach::request(
                &rec.dir(),
                if stdin { "attach stdin" } else { "attach" },
            )?;
            if stdin {
                run::feed_stdin(sock.try_clone()?);
            }
            control::start(&rec)?;
            return Ok(lifecycle::attach::relay_output(&mut sock)?
                .unwrap_or_else(|| view::of(&rec).exit_code()));
        }
        each(&a.containers, control::start)
    })())
}

pub fn stop(a: StopArgs) -> anyhow::Result<i32> {
    failed(each(&a.containers, |r| {
        control::stop(r, Duration::from_secs(a.time))
    }))
}

pub fn restart(a: StopArgs) -> anyhow::Result<i32> {
    failed(each(&a.containers, |r| {
        control::stop(r, Duration::from_secs(a.time))?;
        control::start(r)
    }))
}

pub fn kill(a: KillArgs) -> anyhow::Result<i32> {
    failed((|| {
        let sig = signal::parse(&a.signal)?;
        each(&a.containers, |r| control::kill(r, sig))
    })())
}

pub fn rm(a: RmArgs) -> anyhow::Result<i32> {
    failed(each(&a.containers, |r| control::rm(r, a.force, a.volumes)))
}

pub fn wait(a: NamesArgs) -> anyhow::Result<i32> {
    failed((|| {
        for n in &a.containers {
            println!("{}", control::wait(&lifecycle::find(n)?)?);
        }
        Ok(0)
    })())
}

pub fn pause(a: NamesArgs, frozen: bool) -> anyhow::Result<i32> {
    let rt = Runtime::default_root();
    failed(each(&a.containers, |r| match frozen {
        true => rt.pause(&r.id),
        false => rt.resume(&r.id),
    }))
}

pub fn ps(a: PsArgs) -> anyhow::Result<i32> {
    failed(ps::ps(a))
}

pub fn logs(a: LogsArgs) -> anyhow::Result<i32> {
    failed(logs::logs(a))
}

/// `exec`: one more process in the running container, through the OCI
/// runtime's exec (its namespaces, cgroup, and the hardening of its spec);
/// it inherits our stdio.
pub fn exec(a: ExecArgs) -> anyhow::Result<i32> {
    failed((|| {
        let rec = lifecycle::find(&a.container)?;
        if a.tty {
            anyhow::bail!("-t/--tty is not supported by wharf exec yet: run without it");
        }
        let v = view::of(&rec);
        if v.state != view::State::Running {
            anyhow::bail!(
                "container {} is not running (it is {})",
                rec.name,
                v.state.name()
            );
        }
        let user = match &a.user {
            Some(u) => {
                let ids = lifecycle::user::resolve(&rec.merged_dir, u)?;
                Some((ids.uid, ids.gid))
            }
            None => None,
        };
        let opts = ExecOptions {
            args: a.cmd.clone(),
            env: a.env.clone(),
            cwd: a.workdir.as_ref().map(Into::into),
            user,
            detach: a.detach,
            ..Default::default()
        };
        Runtime::default_root().exec(&rec.id, &opts)
    })())
}

pub fn cp(a: CpArgs) -> anyhow::Result<i32> {
    failed(cp::cp(a))
}

pub fn commit(a: CommitArgs) -> anyhow::Result<i32> {
    failed(commit::commit(a))
}

pub fn diff(a: OneArgs) -> anyhow::Result<i32> {
    failed(examine::diff(a))
}

pub fn export(a: ExportArgs) -> anyhow::Result<i32> {
    failed(examine::export(a))
}

pub fn top(a: OneArgs) -> anyhow::Result<i32> {
    failed(examine::top(a))
}

pub fn stats(a: StatsArgs) -> anyhow::Result<i32> {
    failed(examine::stats(a))
}

pub fn rename(a: RenameArgs) -> anyhow::Result<i32> {
    failed(examine::rename(a))
}

pub fn container(a: ContainerArgs) -> anyhow::Result<i32> {
    match a.command {
        ContainerCommand::Inspect(n) => failed(inspect::inspect(&n.containers)),
        ContainerCommand::Prune { force: _ } => failed(prune()),
        ContainerCommand::Ls(p) => ps(p),
    }
}

pub fn system(a: SystemArgs) -> anyhow::Result<i32> {
    match a.command {
        SystemCommand::Prune { force: _ } => failed((|| {
            prune()?;
            for what in lifecycle::remove::orphans()? {
                println!("Removed half-made {what}");
            }
            Ok(0)
        })()),
    }
}

/// `container prune`: every container that is not live goes.
fn prune() -> anyhow::Result<i32> {
    let mut freed = Vec::new();
    for rec in lifecycle::record::all()? {
        if !view::of(&rec).state.live() {
            control::rm(&rec, false, false)?;
            freed.push(rec.id);
        }
    }
    if !freed.is_empty() {
        println!("Deleted Containers:");
        freed.iter().for_each(|id| println!("{id}"));
    }
    println!("Total reclaimed containers: {}", freed.len());
    Ok(0)
}
