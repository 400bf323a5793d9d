//! `wharf build`: the face of src/build. Flags as Docker's classic
//! builder takes them; the output lines come from the builder.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};

use crate::build::{self, Options, Report};
use crate::image::{digest, Lock, Reference, Store};

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The Dockerfile (default CONTEXT/Dockerfile).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Name the image NAME[:TAG]; repeat for more names.
    #[arg(short = 't', long = "tag", value_name = "NAME[:TAG]")]
    pub tag: Vec<String>,
    /// A build argument K=V, for the Dockerfile's ARG.
    #[arg(long = "build-arg", value_name = "K=V")]
    pub build_arg: Vec<String>,
    /// Build up to this stage only.
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,
    /// Do not reuse cached steps.
    #[arg(long)]
    pub no_cache: bool,
    /// How to show the steps.
    #[arg(long, value_enum, default_value = "plain")]
    pub progress: ProgressKind,
    /// Print only the image ID.
    #[arg(short, long)]
    pub quiet: bool,
    /// The build context: the directory COPY reads from.
    pub context: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProgressKind {
    Plain,
    Tty,
}

struct Lines {
    quiet: bool,
}

impl Report for Lines {
    fn line(&self, text: &str) {
        // A closed pipe (`wharf build . | head`) must not stop the build.
        if !self.quiet {
            use std::io::Write;
            let _ = writeln!(std::io::stdout(), "{text}");
        }
    }
}

pub fn run(a: BuildArgs) -> anyhow::Result<i32> {
    crate::cli::lesson::require_root("wharf build")?;
    let tags = a
        .tag
        .iter()
        .map(|t| Reference::parse(t).with_context(|| format!("-t {t}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let build_args = a
        .build_arg
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            // Docker takes `--build-arg K` from the environment.
            None => std::env::var(kv).map(|v| (kv.clone(), v)).with_context(|| {
                format!("--build-arg {kv}: expected K=V (or K set in the environment)")
            }),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let store = Store::open(&crate::paths::state_root(), Lock::Exclusive)?;
    let opts = Options {
        context: a.context,
        file: a.file,
        tags,
        build_args,
        target: a.target,
        no_cache: a.no_cache,
    };
    let made = build::build(&store, &opts, &Lines { quiet: a.quiet })?;
    if a.quiet {
        println!("sha256:{}", digest::hex(&made.id));
    }
    Ok(0)
}
