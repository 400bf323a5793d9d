//! Layer tars (chapter 06): how a container's changes, kept by overlayfs in
//! its upper dir, become a portable image layer, and how a layer is put
//! back onto a directory, safely.
//!
//! - [`whiteout`]: the two spellings of "deleted" and the name rules;
//! - [`export()`]: upper dir -> layer tar;
//! - [`apply()`]: layer tar -> directory (plain tree or overlay upper),
//!   staged so a refused layer changes nothing;
//! - [`tree`]: trees as comparable manifests, and what an upper dir holds;
//! - [`list()`]: a layer's entries, whiteouts explained;
//! - [`demo`]: small lower layers for the chapter and the tests.

pub mod apply;
pub mod demo;
pub mod export;
pub mod list;
mod stage;
pub mod tree;
pub mod whiteout;
mod xattrs;

pub use apply::{apply, apply_file, ApplyOptions, ApplyStats, Target};
pub use export::{export, export_to_file, ExportStats};
pub use list::{list, Listed};
pub use tree::{describe, manifest, Manifest};

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Lay lower layer directories (lowest first) one over another into
/// `dest`, as overlayfs would show them merged: each is exported as a
/// layer and applied on the ones below, so whiteouts in them delete too.
pub fn flatten(lowers: &[PathBuf], dest: &Path) -> anyhow::Result<()> {
    // Lower layers are our own trusted directories: devices may come along.
    let opts = ApplyOptions {
        target: Target::Plain,
        allow_devices: true,
    };
    for lower in lowers {
        let (r, w) = nix::unistd::pipe()?;
        let (applied, exported) = std::thread::scope(|s| {
            let writer = s.spawn(move || export(lower, File::from(w)));
            let applied = apply(File::from(r), dest, &opts);
            (applied, writer.join())
        });
        let exported =
            exported.map_err(|_| anyhow::anyhow!("exporting {} panicked", lower.display()))?;
        match (applied, exported) {
            // apply stopped reading first; the writer's broken pipe is a consequence.
            (Err(a), Err(e)) if broken_pipe(&e) => return Err(a),
            (_, Err(e)) => return Err(e),
            (Err(a), _) => return Err(a),
            _ => {}
        }
    }
    Ok(())
}

fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
