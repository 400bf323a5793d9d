//! `wharf build`: a Dockerfile becomes an image, one step at a time, the
//! way Docker's classic builder does it. Each instruction starts from the
//! image the step before made:
//!
//! - a config-only step (ENV, CMD, LABEL, ...) makes an image with the
//!   changed config and an `empty_layer` history entry;
//! - RUN runs the command in a container on the image's layers, and the
//!   container's overlay upper dir becomes the next layer ([`run`]);
//! - COPY copies files from the context, or from another stage, into a
//!   fresh upper dir, which becomes the next layer ([`copy`]).
//!
//! Both go through [`crate::image::commit`], the one way an upper dir
//! becomes an image. Every step's image is kept (untagged) so the
//! [`cache`] can give it back next time; the last one gets the tags.
//!
//! - [`dockerfile`]: the parser crate's syntax tree as steps with their text;
//! - [`context`]: the build context, .dockerignore, sources kept inside;
//! - [`stage`]: one stage's state (config, args, shell) and its steps;
//! - [`epoch`]: SOURCE_DATE_EPOCH clamps the times a RUN wrote;
//! - [`workdir`]: WORKDIR, which makes the directory when it is missing;
//! - [`add`]: ADD's archives and URLs;
//! - [`health`]: HEALTHCHECK as Docker stores it;
//! - [`vars`]: ARG values and `$NAME` expansion;
//! - [`cache`]: the step cache.

pub mod add;
pub mod cache;
pub mod context;
pub mod copy;
pub mod dockerfile;
pub mod epoch;
pub mod health;
pub mod run;
pub mod stage;
pub mod vars;
pub mod workdir;

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{bail, Context as _};

use crate::image::commit::Committed;
use crate::image::{Reference, Store};

/// What `wharf build` was asked.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub context: PathBuf,
    /// The Dockerfile; `CONTEXT/Dockerfile` when not given.
    pub file: Option<PathBuf>,
    pub tags: Vec<Reference>,
    pub build_args: Vec<(String, String)>,
    pub target: Option<String>,
    pub no_cache: bool,
}

/// Told each line of the classic builder's output (`Step 2/5 : ENV A=1`,
/// ` ---> Using cache`, ` ---> 0123456789ab`); the face prints them.
pub trait Report {
    fn line(&self, text: &str);
}

/// Build the Dockerfile; the last stage's (or `--target`'s) image.
pub fn build(store: &Store, opts: &Options, report: &dyn Report) -> anyhow::Result<Committed> {
    let ctx = context::Context::open(&opts.context)?;
    let file = opts
        .file
        .clone()
        .unwrap_or_else(|| ctx.root.join("Dockerfile"));
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read the Dockerfile {}", file.display()))?;
    let tree = dockerfile::parse(&text)?;
    let parsed = dockerfile::stages(&text, &tree)?;
    let last = match &opts.target {
        None => parsed.stages.len() - 1,
        Some(t) => parsed
            .stages
            .iter()
            .position(|s| s.name.as_deref() == Some(&t.to_ascii_lowercase()))
            .with_context(|| format!("--target {t}: no stage of that name in the Dockerfile"))?,
    };
    check_stage_names(&parsed)?;
    let total: usize = parsed.stages[..=last]
        .iter()
        .map(|s| s.steps.len() + 1)
        .sum();
    let mut cache = cache::Cache::open(store, opts.no_cache);
    let mut b = stage::Builder {
        store,
        ctx: &ctx,
        cache: &mut cache,
        report,
        build_args: &opts.build_args,
        global_args: vars::declared(&parsed.global_args, &opts.build_args, &[])?,
        done: HashMap::new(),
        step: 0,
        total,
    };
    let mut made = None;
    for (i, s) in parsed.stages[..=last].iter().enumerate() {
        let out = b.stage(s)?;
        b.done.insert(i.to_string(), out.clone());
        if let Some(n) = &s.name {
            b.done.insert(n.clone(), out.clone());
        }
        made = Some(out);
    }
    let made = made.expect("at least one stage");
    crate::image::tags::set(store, &opts.tags, &made.manifest)?;
    report.line(&format!(
        "Successfully built {}",
        &crate::image::digest::hex(&made.id)[..12]
    ));
    for t in &opts.tags {
        report.line(&format!("Successfully tagged {t}"));
    }
    Ok(made)
}

/// Every `COPY --from=NAME` names an earlier stage or is left to be an
/// image; two stages may not share a name.
fn check_stage_names(p: &dockerfile::Parsed) -> anyhow::Result<()> {
    let mut seen = std::collections::HashSet::new();
    for s in &p.stages {
        if let Some(n) = &s.name {
            if !seen.insert(n) {
                bail!("Dockerfile: two stages are named {n:?}");
            }
        }
    }
    Ok(())
}
