//! `wharf-oci`: wharf's container behind runc's command line, so podman
//! (through conmon) and containerd (through its runc shim) can drive it.
//! A thin face over `wharf::container`: flags in, one error line out (on
//! stderr and in `--log`, as json when asked), runc's exit codes.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use wharf::cgroup::LimitArgs;
use wharf::cli::lesson::{self, Lesson};
use wharf::container::{spec, CreateOptions, Detach, ExecOptions, Runtime, SpecBuilder};
use wharf::ns::run::NoHooks;
use wharf::sys::journal;

/// An OCI runtime with runc's command line, built on wharf.
#[derive(Debug, Parser)]
#[command(name = "wharf-oci", args_override_self = true)]
struct Cli {
    #[command(flatten)]
    lesson: Lesson,

    /// Where container state lives.
    #[arg(long, global = true, default_value = "/run/wharf-oci")]
    root: PathBuf,

    /// Also write errors (and with --debug, every step) to this file.
    #[arg(long, global = true, value_name = "FILE")]
    log: Option<PathBuf>,

    /// The --log file's format: text (logrus-style) or json (one object a line).
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,

    /// Log every syscall step (to --log, else stderr).
    #[arg(long, global = true)]
    debug: bool,

    /// Refused: wharf manages cgroups through cgroupfs only.
    #[arg(long, global = true)]
    systemd_cgroup: bool,

    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// The bundle: a directory with config.json and the root it names.
    #[arg(long, short, default_value = ".")]
    bundle: PathBuf,
    /// Write the init's pid here (atomically) once the container is created.
    #[arg(long, value_name = "FILE")]
    pid_file: Option<PathBuf>,
    /// A unix socket to send the pty master to (process.terminal).
    #[arg(long, value_name = "PATH")]
    console_socket: Option<PathBuf>,
    /// Enter the root with MS_MOVE and chroot instead of pivot_root.
    #[arg(long)]
    no_pivot: bool,
    /// Keep the caller's session keyring. wharf never makes a new one, so
    /// this is always so.
    #[arg(long)]
    no_new_keyring: bool,
    /// Pass N more descriptors (3 to 3+N-1) into the container.
    #[arg(long, default_value_t = 0, value_name = "N")]
    preserve_fds: u32,
    id: String,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Create a container from a bundle; its init waits for `start`.
    Create(CreateArgs),
    /// Let a created container run its command.
    Start { id: String },
    /// Create and start a container; wait for it and delete it (its exit
    /// code is ours), or with --detach return once it runs.
    Run {
        #[command(flatten)]
        create: CreateArgs,
        #[arg(long, short)]
        detach: bool,
    },
    /// Print the container's OCI state as JSON.
    State { id: String },
    /// Send a signal (a name like TERM or SIGKILL, or a number) to the init.
    Kill {
        /// Signal every process of the container, not only its init.
        #[arg(long, short)]
        all: bool,
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
    /// List the containers under --root.
    List {
        #[arg(long, short, value_enum, default_value = "table")]
        format: Format,
        /// Print only the ids.
        #[arg(long, short)]
        quiet: bool,
    },
    /// The processes in a container (host pids).
    Ps {
        #[arg(long, short, value_enum, default_value = "table")]
        format: Format,
        id: String,
    },
    /// Freeze every process of a container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// Run another process in a running container.
    Exec {
        /// A process.json with the whole process to run.
        #[arg(long, short, value_name = "FILE")]
        process: Option<PathBuf>,
        /// Give the process a terminal (sent over --console-socket).
        #[arg(long, short)]
        tty: bool,
        /// Return once the process runs.
        #[arg(long, short)]
        detach: bool,
        #[arg(long, value_name = "PATH")]
        console_socket: Option<PathBuf>,
        #[arg(long, value_name = "FILE")]
        pid_file: Option<PathBuf>,
        #[arg(long)]
        cwd: Option<PathBuf>,
        /// KEY=VALUE, added to the environment (repeatable).
        #[arg(long, short)]
        env: Vec<String>,
        /// UID[:GID] to run as.
        #[arg(long, short)]
        user: Option<String>,
        #[arg(long, default_value_t = 0, value_name = "N")]
        preserve_fds: u32,
        id: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        cmd: Vec<String>,
    },
    /// What this runtime implements, as JSON (runc 1.1's `features`).
    Features,
    /// Change the limits of a running container.
    Update {
        /// Memory limit: bytes, or with k, m or g.
        #[arg(long, short)]
        memory: Option<String>,
        /// CPU time per period, in microseconds.
        #[arg(long)]
        cpu_quota: Option<String>,
        /// The CFS period, in microseconds.
        #[arg(long)]
        cpu_period: Option<String>,
        /// The most tasks the container may have.
        #[arg(long)]
        pids_limit: Option<String>,
        /// A linux.resources JSON file ("-": stdin), as containerd's shim
        /// sends it; its cpu, memory and pids limits are written.
        #[arg(long, short, value_name = "FILE")]
        resources: Option<PathBuf>,
        id: String,
    },
    /// Write a default config.json (runc's defaults, chapter 08's hardening).
    Spec {
        #[arg(long, short, default_value = ".")]
        bundle: PathBuf,
        /// A spec for a container run by a user without root: a user
        /// namespace mapping only that user, no network namespace.
        #[arg(long)]
        rootless: bool,
    },
}

fn main() {
    let version = format!(
        "version {}\nspec: {}",
        env!("CARGO_PKG_VERSION"),
        oci_spec::runtime::VERSION
    );
    let version: &'static str = Box::leak(version.into_boxed_str());
    let matches = Cli::command().version(version).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    cli.lesson.start();
    let log = Log::open(cli.log.as_deref(), cli.log_format);
    if cli.debug && cli.lesson.show.is_empty() {
        log.debug_steps();
    }
    let result = run(cli);
    if let Err(e) = &result {
        log.error(&lesson::one_line(e));
    }
    lesson::finish("wharf-oci", result)
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    if cli.systemd_cgroup {
        anyhow::bail!(
            "--systemd-cgroup is not supported: wharf-oci manages cgroups through cgroupfs only (podman: --cgroup-manager cgroupfs)"
        );
    }
    let rt = Runtime::new(&cli.root);
    match cli.cmd {
        Cmd::Create(c) => create(&rt, &c)?,
        Cmd::Start { id } => rt.start(&id)?,
        Cmd::Run { create: c, detach } => {
            if detach {
                create(&rt, &c)?;
                rt.start(&c.id)?;
            } else {
                let spec = spec::load_bundle(&c.bundle)?;
                let report = rt.run_with(&c.id, &c.bundle, &spec, &mut NoHooks, &options(&c))?;
                return Ok(report.exit_code());
            }
        }
        Cmd::State { id } => println!("{}", serde_json::to_string_pretty(&rt.state_json(&id)?)?),
        Cmd::Kill { all, id, signal } => {
            let sig = parse_signal(&signal)?;
            if all {
                rt.kill_all(&id, sig)?
            } else {
                rt.kill(&id, sig)?
            }
        }
        Cmd::Delete { force, id } => rt.delete(&id, force)?,
        Cmd::List { format, quiet } => print_list(&rt.list()?, format, quiet)?,
        Cmd::Ps { format, id } => {
            let pids = rt.ps(&id)?;
            match format {
                Format::Json => println!("{}", serde_json::to_string(&pids)?),
                Format::Table => {
                    println!("PID");
                    for p in pids {
                        println!("{p}");
                    }
                }
            }
        }
        Cmd::Pause { id } => rt.pause(&id)?,
        Cmd::Resume { id } => rt.resume(&id)?,
        Cmd::Exec {
            process,
            tty,
            detach,
            console_socket,
            pid_file,
            cwd,
            env,
            user,
            preserve_fds,
            id,
            cmd,
        } => {
            let process = match process {
                Some(p) => Some(read_json(&p, "a process.json")?),
                None => None,
            };
            let opts = ExecOptions {
                process,
                args: cmd,
                env,
                cwd,
                user: user.as_deref().map(parse_user).transpose()?,
                tty,
                detach,
                console_socket,
                pid_file,
                preserve_fds,
            };
            return rt.exec(&id, &opts);
        }
        Cmd::Features => println!(
            "{}",
            serde_json::to_string_pretty(&wharf::container::features())?
        ),
        Cmd::Update {
            memory,
            cpu_quota,
            cpu_period,
            pids_limit,
            resources,
            id,
        } => {
            let flags = LimitArgs {
                cpus: None,
                cpu_quota,
                cpu_period,
                memory,
                pids_limit,
            };
            let limits = match resources {
                Some(file) => {
                    let text = match file.to_str() {
                        Some("-") => std::io::read_to_string(std::io::stdin())?,
                        _ => std::fs::read_to_string(&file)
                            .map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?,
                    };
                    let res = serde_json::from_str(&text).map_err(|e| {
                        anyhow::anyhow!("{} is not linux.resources JSON: {e}", file.display())
                    })?;
                    wharf::container::plan::limits(Some(&res))?
                }
                None if flags.given() => flags.parse()?,
                None => anyhow::bail!(
                    "update needs --resources, or at least one of --memory, --cpu-quota, --pids-limit"
                ),
            };
            rt.update(&id, &limits)?
        }
        Cmd::Spec { bundle, rootless } => write_spec(&bundle, rootless)?,
    }
    Ok(0)
}

/// `create`: the bundle's container, left waiting for `start`.
fn create(rt: &Runtime, c: &CreateArgs) -> anyhow::Result<()> {
    let spec = spec::load_bundle(&c.bundle)?;
    rt.create_with(
        &c.id,
        &c.bundle,
        &spec,
        &mut NoHooks,
        Detach::Yes,
        &options(c),
    )?;
    Ok(())
}

fn options(c: &CreateArgs) -> CreateOptions {
    CreateOptions {
        pid_file: c.pid_file.clone(),
        console_socket: c.console_socket.clone(),
        preserve_fds: c.preserve_fds,
        oci_cgroups: true,
        no_pivot: c.no_pivot,
    }
}

fn print_list(list: &[serde_json::Value], format: Format, quiet: bool) -> anyhow::Result<()> {
    if quiet {
        for st in list {
            println!("{}", st["id"].as_str().unwrap_or(""));
        }
        return Ok(());
    }
    match format {
        Format::Json => println!("{}", serde_json::to_string(list)?),
        Format::Table => {
            println!("{:<24} {:<8} {:<10} BUNDLE", "ID", "PID", "STATUS");
            for st in list {
                println!(
                    "{:<24} {:<8} {:<10} {}",
                    st["id"].as_str().unwrap_or(""),
                    st["pid"].as_i64().unwrap_or(0),
                    st["status"].as_str().unwrap_or(""),
                    st["bundle"].as_str().unwrap_or("")
                );
            }
        }
    }
    Ok(())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{} is not {what}: {e}", path.display()))
}

/// `UID` or `UID:GID`.
fn parse_user(s: &str) -> anyhow::Result<(u32, u32)> {
    let bad = || anyhow::anyhow!("--user {s:?}: give UID or UID:GID, as numbers");
    let (u, g) = s.split_once(':').unwrap_or((s, "0"));
    Ok((u.parse().map_err(|_| bad())?, g.parse().map_err(|_| bad())?))
}

/// `TERM`, `SIGTERM` or `15`.
fn parse_signal(s: &str) -> anyhow::Result<nix::sys::signal::Signal> {
    wharf::lifecycle::signal::parse(s)
}

fn write_spec(bundle: &Path, rootless: bool) -> anyhow::Result<()> {
    let path = bundle.join("config.json");
    if path.exists() {
        anyhow::bail!("{} exists: remove it first", path.display());
    }
    let mut b = SpecBuilder::new("rootfs", ["sh"]);
    if rootless {
        b = b.rootless(
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        );
    }
    let text = spec::to_json(&b.build());
    std::fs::write(&path, text + "\n")
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))
}

/// The `--log` file: errors as runc writes them (logrus text, or one JSON
/// object a line, which containerd's shim and conmon read back).
struct Log {
    file: Option<std::sync::Arc<std::sync::Mutex<std::fs::File>>>,
    format: LogFormat,
}

impl Log {
    fn open(path: Option<&Path>, format: LogFormat) -> Log {
        let file = path.and_then(|p| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .ok()
        });
        Log {
            file: file.map(|f| std::sync::Arc::new(std::sync::Mutex::new(f))),
            format,
        }
    }

    fn line(format: LogFormat, level: &str, msg: &str) -> String {
        let time = rfc3339_now();
        match format {
            LogFormat::Json => {
                serde_json::json!({"level": level, "msg": msg, "time": time}).to_string() + "\n"
            }
            LogFormat::Text => format!("time={time:?} level={level} msg={msg:?}\n"),
        }
    }

    fn error(&self, msg: &str) {
        if let Some(f) = &self.file {
            let text = Log::line(self.format, "error", msg);
            let _ = f.lock().map(|mut f| f.write_all(text.as_bytes()));
        }
    }

    /// --debug: every journal step becomes a debug line (in the log, or
    /// on stderr without one).
    fn debug_steps(&self) {
        let file = self.file.clone();
        let format = self.format;
        journal::observe(Box::new(move |step| {
            let msg = format!(
                "{}{} [{}]",
                step.call_text(),
                step.result_text(),
                step.process
            );
            let text = Log::line(format, "debug", &msg);
            match &file {
                Some(f) => {
                    let _ = f.lock().map(|mut f| f.write_all(text.as_bytes()));
                }
                None => journal::emit(&text),
            }
        }));
    }
}

/// Now as RFC 3339 in UTC (`2026-12-03T13:20:05.123456789Z`), as runc's
/// logs stamp their lines.
fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil: the proleptic Gregorian date.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_nanos()
    )
}
