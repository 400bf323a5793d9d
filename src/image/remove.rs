//! `wharf rmi` and `wharf image prune`. A tag is a name; an image goes
//! when its last name does (or when it is removed by ID), and then every
//! blob and unpacked layer that no remaining image uses is deleted. Layers
//! another image shares stay: that sharing is the point of layers.

use std::collections::HashSet;

use anyhow::bail;
use oci_spec::image::Digest;

use super::reference::Reference;
use super::store::{Freed, Store};
use super::tags;

/// What a removal did, in `docker rmi`'s words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    Untagged(String),
    Deleted(Digest),
}

/// Remove one image by name or ID.
pub fn rmi(store: &Store, name: &str, force: bool) -> anyhow::Result<Vec<Removal>> {
    let image = tags::resolve(store, name)?;
    let mut done = Vec::new();
    let by_tag = Reference::parse(name)
        .ok()
        .and_then(|r| r.tagged())
        .filter(|k| image.tags.contains(k));
    let untag: Vec<String> = match &by_tag {
        Some(k) => vec![k.clone()],
        None if image.tags.len() > 1 && !force => bail!(
            "conflict: unable to delete {} (must be forced): image is referenced in {} names",
            short(image.id()),
            image.tags.len()
        ),
        None => image.tags.clone(),
    };
    for key in &untag {
        let r = Reference::parse(key)?;
        tags::untag(store, &r)?;
        done.push(Removal::Untagged(r.familiar()));
    }
    if image.tags.len() == untag.len() {
        store.remove_from_index(&HashSet::from([image.manifest_digest.clone()]))?;
        store.gc()?;
        done.push(Removal::Deleted(image.id().clone()));
    }
    Ok(done)
}

/// Remove dangling images (no name), or with `all` every image; then
/// collect what they alone used.
pub fn prune(store: &Store, all: bool) -> anyhow::Result<(Vec<Removal>, Freed)> {
    let mut done = Vec::new();
    let mut gone = HashSet::new();
    for image in store.images()? {
        if !all && !image.tags.is_empty() {
            continue;
        }
        for key in &image.tags {
            let r = Reference::parse(key)?;
            tags::untag(store, &r)?;
            done.push(Removal::Untagged(r.familiar()));
        }
        gone.insert(image.manifest_digest.clone());
        done.push(Removal::Deleted(image.id().clone()));
    }
    store.remove_from_index(&gone)?;
    Ok((done, store.gc()?))
}

/// The 12 hex digits `docker images` shows.
pub fn short(d: &Digest) -> String {
    super::digest::hex(d).chars().take(12).collect()
}
