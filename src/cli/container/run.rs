//! `wharf run` and `wharf create`: Docker's flags in, a container out. A
//! detached run prints the id and leaves the container to its monitor; a
//! foreground run attaches to the monitor first, starts the container,
//! copies its output (and with -i our stdin), and exits with its code.

use std::io::Read;
use std::path::PathBuf;

use anyhow::bail;
use clap::Args;

use crate::lifecycle::{self, attach, Options, Restart};

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Assign a name to the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Keep STDIN open even if not attached.
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY (not yet supported by wharf run).
    #[arg(short, long)]
    pub tty: bool,
    /// Set environment variables (K=V, or K to pass ours on).
    #[arg(short, long = "env", value_name = "LIST")]
    pub env: Vec<String>,
    /// Read in a file of environment variables.
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container.
    #[arg(short, long = "workdir", value_name = "DIR")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short, long)]
    pub user: Option<String>,
    /// Container host name (Docker's -h is --help here).
    #[arg(long)]
    pub hostname: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Automatically remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Memory limit (e.g. 64m).
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Number of CPUs (e.g. 0.5).
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Tune container pids limit.
    #[arg(long)]
    pub pids_limit: Option<i64>,
    /// Bind mount a volume: HOST:CTR[:ro], NAME:CTR[:ro] or CTR (anonymous).
    #[arg(short, long = "volume", value_name = "LIST")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount: type=bind|volume|tmpfs,source=…,target=…[,readonly].
    #[arg(long = "mount", value_name = "MOUNT")]
    pub mount: Vec<String>,
    /// Mount volumes from the specified container(s): CONTAINER[:ro|rw].
    #[arg(long = "volumes-from", value_name = "LIST")]
    pub volumes_from: Vec<String>,
    /// Mount a tmpfs directory: CTR[:OPTIONS] (e.g. /run:size=64m).
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Add Linux capabilities.
    #[arg(long)]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities.
    #[arg(long)]
    pub cap_drop: Vec<String>,
    /// Security options: seccomp=unconfined, no-new-privileges.
    #[arg(long)]
    pub security_opt: Vec<String>,
    /// Give extended privileges: every capability, no seccomp filter,
    /// nothing masked or read-only in /proc and /sys.
    #[arg(long)]
    pub privileged: bool,
    /// Run an init inside the container that forwards signals and reaps processes.
    #[arg(long)]
    pub init: bool,
    /// Mount the container's root filesystem as read only.
    #[arg(long)]
    pub read_only: bool,
    /// Restart policy: no, on-failure[:N], always.
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// none (a network namespace with only lo) or host.
    #[arg(long, default_value = "none")]
    pub network: String,
    /// The image to run.
    pub image: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub cmd: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run container in background and print container ID.
    #[arg(short, long)]
    pub detach: bool,
    #[command(flatten)]
    pub create: CreateArgs,
}

impl CreateArgs {
    fn options(&self) -> anyhow::Result<Options> {
        if self.tty {
            bail!("-t/--tty is not supported by wharf run yet: run without it (output goes through pipes)");
        }
        let memory = match &self.memory {
            Some(m) => crate::cgroup::limits::parse_size(m)
                .map_err(|e| anyhow::anyhow!("invalid --memory {m:?}: {e}"))?
                as i64,
            None => 0,
        };
        let nano_cpus = match self.cpus {
            Some(c) if c > 0.0 => (c * 1e9) as i64,
            Some(c) => bail!("invalid --cpus {c}: give a number of CPUs above 0"),
            None => 0,
        };
        Ok(Options {
            image: self.image.clone(),
            cmd: self.cmd.clone(),
            name: self.name.clone(),
            env: self.env.clone(),
            env_files: self.env_file.clone(),
            workdir: self.workdir.clone(),
            user: self.user.clone(),
            hostname: self.hostname.clone(),
            entrypoint: self.entrypoint.clone(),
            interactive: self.interactive,
            auto_remove: self.rm,
            memory,
            nano_cpus,
            pids_limit: self.pids_limit.unwrap_or(0),
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            security_opt: self.security_opt.clone(),
            privileged: self.privileged,
            init: self.init,
            read_only: self.read_only,
            restart: Restart::parse(&self.restart)?,
            network: self.network.clone(),
            log_max_size: 0,
            log_max_files: 0,
            volumes: self.volume.clone(),
            tmpfs: self.tmpfs.clone(),
            mounts: self.mount.clone(),
            volumes_from: self.volumes_from.clone(),
        })
    }
}

pub fn create(a: CreateArgs) -> anyhow::Result<i32> {
    let rec = lifecycle::create::create(&a.options()?, false)?;
    println!("{}", rec.id);
    Ok(0)
}

pub fn run(a: RunArgs) -> anyhow::Result<i32> {
    let opts = a.create.options()?;
    if a.detach {
        if opts.auto_remove && opts.restart != Restart::No {
            bail!("conflicting options: --restart and --rm");
        }
        let rec = lifecycle::create::create(&opts, true)?;
        println!("{}", rec.id);
        return Ok(0);
    }
    let rec = lifecycle::create::create(&opts, false)?;
    let stdin = rec.open_stdin;
    let mut sock = attach::request(&rec.dir(), if stdin { "attach stdin" } else { "attach" })?;
    if stdin {
        feed_stdin(sock.try_clone()?);
    }
    lifecycle::control::start(&rec)?;
    match attach::relay_output(&mut sock)? {
        Some(code) => Ok(code),
        None => {
            let v = lifecycle::view::of(&rec);
            Ok(v.exit_code())
        }
    }
}

/// Copy our stdin to the container on a thread; at its end, shut our
/// writing half down, which closes the container's stdin.
pub fn feed_stdin(mut sock: std::os::unix::net::UnixStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        let mut stdin = std::io::stdin().lock();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 || std::io::Write::write_all(&mut sock, &buf[..n]).is_err() {
                break;
            }
        }
        let _ = sock.shutdown(std::net::Shutdown::Write);
    });
}
