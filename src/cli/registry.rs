//! The distribution commands, with Docker's names and flags: `pull`,
//! `push`, `login`, `logout`, `search`. The work is done by
//! [`crate::registry`]; here are the flags, the lines printed, and one
//! progress bar per layer (on a terminal only).

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::image::{Lock, Progress, Quiet, Reference, Store};
use crate::registry::auth::{self, Credentials};
use crate::registry::push::Sent;
use crate::registry::{self, Client, Options, Transfers};

/// How to reach the registry (every distribution command has these).
#[derive(Debug, Args)]
pub struct Reach {
    /// Allow plain http and accept any certificate (Docker's
    /// insecure-registries); localhost may use http without it.
    #[arg(long)]
    pub insecure: bool,
    /// A directory of *.crt CA certificates for the registry (default
    /// /etc/containers/certs.d/HOST[:PORT]).
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
    /// The auth.json to use (default $REGISTRY_AUTH_FILE, else
    /// $XDG_RUNTIME_DIR/containers/auth.json, else ~/.config/containers/auth.json).
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
}

impl Reach {
    fn options(&self) -> Options {
        Options {
            insecure: self.insecure,
            cert_dir: self.cert_dir.clone(),
            auth_file: self.authfile.clone(),
        }
    }
}

/// `wharf pull` and `wharf push` take the same arguments.
#[derive(Debug, Args)]
pub struct TransferArgs {
    /// NAME[:TAG|@DIGEST] (push: an image in the store).
    pub name: String,
    /// Print only the image's name (pull) or digest line (push).
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub reach: Reach,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The registry: HOST[:PORT].
    pub registry: String,
    #[arg(short, long)]
    pub username: Option<String>,
    /// The password (visible to other users in ps: prefer --password-stdin).
    #[arg(short, long)]
    pub password: Option<String>,
    /// Read the password from stdin.
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub reach: Reach,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    pub registry: String,
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// REGISTRY/TERM: the repositories of REGISTRY whose name contains
    /// TERM (REGISTRY/ alone lists them all).
    pub query: String,
    #[command(flatten)]
    pub reach: Reach,
}

pub fn pull(a: TransferArgs) -> anyhow::Result<i32> {
    crate::cli::lesson::require_root("wharf pull")?;
    let store = Store::open(&crate::paths::state_root(), Lock::Exclusive)?;
    let bars = Bars::new();
    let pulled = registry::pull(&store, &a.name, &a.reach.options(), &bars)?;
    if !a.quiet {
        if pulled.downloaded == 0 {
            println!("Image is up to date for {}", pulled.reference.familiar());
        }
        println!("Digest: {}", pulled.manifest);
        println!("Status: pulled {}", pulled.reference.familiar());
    }
    println!("{}", pulled.reference);
    Ok(0)
}

pub fn push(a: TransferArgs) -> anyhow::Result<i32> {
    let store = Store::open(&crate::paths::state_root(), Lock::Shared)?;
    let bars = Bars::new();
    let pushed = registry::push(&store, &a.name, &a.reach.options(), &bars)?;
    if !a.quiet {
        for (d, sent) in &pushed.blobs {
            let short = registry::short(d);
            match sent {
                Sent::Exists => println!("{short}: Layer already exists"),
                Sent::Mounted(from) => println!("{short}: Mounted from {from}"),
                Sent::Uploaded => println!("{short}: Pushed"),
            }
        }
    }
    let r = Reference::parse(&a.name)?;
    println!(
        "{}: digest: {}",
        r.tag.as_deref().unwrap_or("latest"),
        pushed.manifest
    );
    Ok(0)
}

pub fn login(a: LoginArgs) -> anyhow::Result<i32> {
    let creds = credentials(&a)?;
    let opts = a.reach.options();
    let mut client = Client::with_credentials(&a.registry, &opts, Some(creds.clone()))?;
    client.check_login()?;
    let file = opts.auth_file.clone().unwrap_or_else(auth::file);
    auth::save(&file, &a.registry, &creds)?;
    println!("Login Succeeded!");
    Ok(0)
}

fn credentials(a: &LoginArgs) -> anyhow::Result<Credentials> {
    let user = match &a.username {
        Some(u) => u.clone(),
        None if a.password_stdin => bail!("--password-stdin needs --username"),
        None => prompt("Username: ", true)?,
    };
    let password = match (&a.password, a.password_stdin) {
        (Some(_), true) => bail!("--password and --password-stdin are mutually exclusive"),
        (Some(p), false) => p.clone(),
        (None, true) => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read the password from stdin")?;
            s.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) => prompt("Password: ", false)?,
    };
    if user.is_empty() || password.is_empty() {
        bail!("the user name and the password must not be empty");
    }
    Ok(Credentials { user, password })
}

/// Ask on the terminal; a password is typed with echo off.
fn prompt(what: &str, echo: bool) -> anyhow::Result<String> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!("no terminal to ask on: give --username and --password-stdin");
    }
    eprint!("{what}");
    std::io::stderr().flush()?;
    let saved = tcgetattr(&stdin)?;
    if !echo {
        let mut quiet = saved.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        tcsetattr(&stdin, SetArg::TCSANOW, &quiet)?;
    }
    let mut line = String::new();
    let read = stdin.read_line(&mut line);
    if !echo {
        tcsetattr(&stdin, SetArg::TCSANOW, &saved)?;
        eprintln!();
    }
    read?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

pub fn logout(a: LogoutArgs) -> anyhow::Result<i32> {
    let file = a.authfile.unwrap_or_else(auth::file);
    if !auth::forget(&file, &a.registry)? {
        bail!("not logged in to {} (in {})", a.registry, file.display());
    }
    println!("Removed login credentials for {}", a.registry);
    Ok(0)
}

pub fn search(a: SearchArgs) -> anyhow::Result<i32> {
    let (registry, term) = a
        .query
        .split_once('/')
        .with_context(|| format!("{:?} is not REGISTRY/TERM", a.query))?;
    let found = registry::search::search(registry, term, &a.reach.options())?;
    println!("{:<40} TAGS", "NAME");
    for f in found {
        println!(
            "{:<40} {}",
            format!("{registry}/{}", f.repository),
            f.tags.join(", ")
        );
    }
    Ok(0)
}

/// One bar per blob on a terminal; nothing when stderr is piped.
struct Bars(Option<MultiProgress>);

impl Bars {
    fn new() -> Bars {
        Bars(std::io::stderr().is_terminal().then(MultiProgress::new))
    }
}

impl Transfers for Bars {
    fn start(&self, what: &str, total: u64) -> Box<dyn Progress + '_> {
        let Some(m) = &self.0 else {
            return Box::new(Quiet);
        };
        let bar = m.add(ProgressBar::new(total));
        let style = ProgressStyle::with_template(
            "{prefix} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(what.to_string());
        Box::new(Layer(bar))
    }
}

struct Layer(ProgressBar);

impl Progress for Layer {
    fn advance(&self, bytes: u64) {
        self.0.inc(bytes);
    }
}

impl Drop for Layer {
    fn drop(&mut self) {
        self.0.finish();
    }
}
