//! A container's own directory under the state root,
//! `<state root>/containers/<id>/`, and the rule for container ids. The
//! chapters keep a container's layers' upper dir, work dir and init layer
//! there; the runtime's state (state.json, the exec FIFO) lives beside it
//! under `<state root>/run/<id>/`.

use std::path::PathBuf;

use anyhow::Context;

use crate::paths::{containers_dir, new_id};
use crate::union::remove_tree;

/// A container's own directory under the state root:
/// `<state root>/containers/<id>/`. Dropping it removes it, unless kept.
#[derive(Debug)]
pub struct ContainerDir {
    pub id: String,
    pub path: PathBuf,
    keep: bool,
}

impl ContainerDir {
    /// A new, empty directory for a container: named `id`, or a fresh
    /// random id. An id already in use is refused.
    pub fn create(id: Option<&str>) -> anyhow::Result<ContainerDir> {
        let id = match id {
            Some(id) => check_id(id)?,
            None => new_id()?,
        };
        let path = containers_dir().join(&id);
        if path.exists() {
            anyhow::bail!(
                "container id {id} is in use ({} exists): choose another --id",
                path.display()
            );
        }
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(ContainerDir {
            id,
            path,
            keep: false,
        })
    }

    /// The directory of an existing container, e.g. one kept with `--keep`;
    /// dropping the guard removes it.
    pub fn existing(id: &str) -> anyhow::Result<ContainerDir> {
        let id = check_id(id)?;
        let path = containers_dir().join(&id);
        if !path.is_dir() {
            anyhow::bail!("no container {id}: {} does not exist", path.display());
        }
        Ok(ContainerDir {
            id,
            path,
            keep: false,
        })
    }

    /// Leave the directory behind when this is dropped.
    pub fn keep(&mut self, keep: bool) {
        self.keep = keep;
    }

    /// Remove the directory now; refuses while something is mounted inside.
    pub fn remove(mut self) -> anyhow::Result<()> {
        self.keep = true;
        remove_tree(&self.path)
    }
}

impl Drop for ContainerDir {
    fn drop(&mut self) {
        if !self.keep {
            if let Err(e) = remove_tree(&self.path) {
                eprintln!("warning: {e:#}");
            }
        }
    }
}

/// An id names a directory: letters, digits, `_`, `-` and `.`, 1 to 64 of them.
pub fn check_id(id: &str) -> anyhow::Result<String> {
    let ok = (1..=64).contains(&id.len())
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if !ok {
        anyhow::bail!(
            "container id {id:?}: use 1 to 64 letters, digits, '_', '-' or '.', not starting with '.'"
        );
    }
    Ok(id.to_string())
}
