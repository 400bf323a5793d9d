//! Images (issue 10): a content-addressed store of OCI images under the
//! state root, and the ways images come in and go out.
//!
//! - [`digest`]: sha256 digests, DiffIDs and ChainIDs, hashing while streaming;
//! - [`compress`]: plain, gzip and zstd layers, told apart by their bytes;
//! - [`reference`]: Docker's name grammar (`busybox`, `host:5000/a/b:v2`, `@sha256:…`);
//! - [`store`]: blobs, index.json, tags.json, unpacked layers; locking and recovery;
//! - [`ingest`]: one pass per layer: copy, hash, decompress, hash, unpack, then publish;
//! - [`import`] (with [`changes`]): a rootfs tar becomes an image;
//! - [`commit`]: an overlay upper dir becomes a new image on a parent (commit, build steps);
//! - [`archive`] and [`load`]: docker-archive and OCI layout, as tar or directory;
//! - [`save`]: the same two formats out;
//! - [`tags`]: naming and finding images; [`remove`]: rmi and prune;
//! - [`trailer`]: layers whose tar stops early, accepted where Go's reader accepts them;
//! - [`layers`]: what each layer adds, changes and removes, and the bytes wasted;
//! - [`df`]: what images, layers, containers and volumes take on disk;
//! - [`unpack`]: an image's flattened root filesystem.

pub mod archive;
pub mod changes;
pub mod commit;
pub mod compress;
pub mod df;
pub mod digest;
pub mod import;
pub mod ingest;
pub mod layers;
pub mod load;
pub mod reference;
pub mod remove;
pub mod save;
pub mod store;
pub mod tags;
pub mod time;
pub mod trailer;
pub mod unpack;

pub use reference::Reference;
pub use store::{Image, Lock, Store};

use std::io::{self, Read};

/// Told how far a long piece of work got. The faces draw a bar with it
/// on a terminal; the mechanism only counts.
pub trait Progress: Sync {
    /// Bytes were read from the input.
    fn advance(&self, _bytes: u64) {}
    /// A new piece of work begins (`layer 2/5`), of `total` bytes if known.
    fn begin(&self, _what: &str, _total: Option<u64>) {}
}

/// No progress shown.
pub struct Quiet;
impl Progress for Quiet {}

/// A reader that reports the bytes it passes on.
pub struct Metered<'p, R> {
    inner: R,
    progress: &'p dyn Progress,
}

impl<'p, R: Read> Metered<'p, R> {
    pub fn new(inner: R, progress: &'p dyn Progress) -> Self {
        Metered { inner, progress }
    }
}

impl<R: Read> Read for Metered<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}
