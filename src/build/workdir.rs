//! WORKDIR: the config's working directory, and the directory itself when
//! the image does not have it yet (Docker makes it, so a container can
//! start there): then the step has a layer holding just that directory.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use super::stage::{Builder, State};
use crate::image::{digest, Image, Store};

pub fn step(b: &mut Builder, st: &mut State, text: &str, dir: &Path) -> anyhow::Result<()> {
    let created_by = format!("/bin/sh -c #(nop) WORKDIR {}", dir.display());
    st.config
        .set_working_dir(Some(dir.to_string_lossy().into_owned()));
    let present = match &st.image {
        Some(img) => exists(b.store, img, dir)?,
        None => false,
    };
    if b.cached(st, text, None) {
        return Ok(());
    }
    if present || dir == Path::new("/") {
        return b.commit(st, text, None, created_by, None);
    }
    let work = b.store.work_dir()?;
    let upper = work.path.join("upper");
    let target = upper.join(dir.strip_prefix("/").unwrap_or(dir));
    std::fs::create_dir_all(&target)?;
    super::copy::stamp_dirs(&upper, Some(&target))?;
    b.commit(st, text, Some(&upper), created_by, None)
}

/// Whether `path` is in the image: the topmost layer that names it (as a
/// file, or as overlay's 0/0 whiteout device) decides.
fn exists(store: &Store, img: &Image, path: &Path) -> anyhow::Result<bool> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    for chain in digest::chain_ids(&img.diff_ids()?).iter().rev() {
        if let Ok(m) = std::fs::symlink_metadata(store.layer_dir(chain).join(rel)) {
            return Ok(!(m.file_type().is_char_device() && m.rdev() == 0));
        }
    }
    Ok(false)
}
