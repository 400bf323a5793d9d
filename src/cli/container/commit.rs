//! `wharf commit [-m MSG] [-a AUTHOR] [-c 'CMD …'] CONTAINER [NAME[:TAG]]`.

use clap::Args;

use crate::image::{digest, Reference};
use crate::lifecycle::{self, commit};

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Commit message (the new history entry's comment).
    #[arg(short, long)]
    pub message: Option<String>,
    /// Author (e.g. "Ada <ada@example.org>").
    #[arg(short, long)]
    pub author: Option<String>,
    /// Apply a Dockerfile instruction to the image's config (CMD,
    /// ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL).
    #[arg(short, long = "change", value_name = "INSTRUCTION")]
    pub change: Vec<String>,
    /// Freeze the container while it is committed (`--pause=false` not to).
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set)]
    pub pause: bool,
    pub container: String,
    /// The new image's name; without one it has only its ID.
    pub name: Option<String>,
}

/// Print the new image's ID, as Docker does.
pub fn commit(a: CommitArgs) -> anyhow::Result<i32> {
    let tags = a.name.as_deref().map(Reference::parse).transpose()?;
    let rec = lifecycle::find(&a.container)?;
    let opts = commit::Options {
        message: a.message,
        author: a.author,
        changes: &a.change,
        tags: tags.as_slice(),
        pause: a.pause,
    };
    let made = commit::commit(&rec, &opts)?;
    println!("sha256:{}", digest::hex(&made.id));
    Ok(0)
}
