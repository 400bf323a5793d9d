//! `wharf commit`: what a container changed becomes an image.
//!
//! The container's upper dir holds exactly its changes, whiteouts for what
//! it deleted included; `image::commit` turns that dir into one more layer
//! on top of the container's image, with the image's config (plus `-c`
//! changes) and one more history line. A running container is frozen
//! meanwhile, as Docker does by default, so the layer is one moment's
//! state and not a file caught half-written.

use crate::container::Runtime;
use crate::image::commit::{self, Commit, Committed};
use crate::image::{store::Lock, tags, time, Quiet, Reference, Store};

use super::{view, Record};

/// What `wharf commit` was asked for besides the container.
pub struct Options<'a> {
    /// `-m`: the history entry's comment.
    pub message: Option<String>,
    /// `-a`: the new config's author.
    pub author: Option<String>,
    /// `-c 'CMD …'`: Dockerfile instructions applied to the config.
    pub changes: &'a [String],
    pub tags: &'a [Reference],
    /// Freeze a running container while its upper dir is read.
    pub pause: bool,
}

pub fn commit(rec: &Record, o: &Options) -> anyhow::Result<Committed> {
    let store = Store::open(&crate::paths::state_root(), Lock::Exclusive)?;
    // The image by its ID, so a tag moved since `run` still finds it.
    let id = rec.image_id.trim_start_matches("sha256:");
    let parent = tags::resolve(&store, id)?;
    let c = Commit {
        parent: Some(&parent),
        upper: Some(&rec.upper_dir),
        config: None,
        docker_fields: None,
        changes: o.changes,
        created_by: rec.command(),
        comment: o.message.clone(),
        author: o.author.clone(),
        created: time::now(),
        tags: o.tags,
    };
    let rt = Runtime::default_root();
    let freeze = o.pause && view::of(rec).state == view::State::Running;
    if freeze {
        rt.pause(&rec.id)?;
    }
    let made = commit::commit(&store, &c, &Quiet);
    if freeze {
        rt.resume(&rec.id)?;
    }
    made
}
