//! Taking an image in (import and load share this): each layer is read
//! once, and in that one pass it is copied to a blob file, hashed as a
//! blob (its digest), decompressed, hashed again (its DiffID) and unpacked
//! by chapter 06's safe apply. Everything lands under the store's tmp/;
//! only when every digest matched what the manifest and config promised
//! are blobs and layers renamed into place and the image named in
//! index.json. A refused image therefore leaves the store as it was.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use oci_spec::image::{
    Descriptor, DescriptorBuilder, Digest, ImageConfiguration, ImageManifestBuilder, MediaType,
};

use super::compress::Compression;
use super::digest::{self, Hashing};
use super::reference::Reference;
use super::store::{Store, WorkDir, SIZE_ANNOTATION};
use super::trailer::Trailer;
use super::Progress;
use crate::layer::{self, ApplyOptions};

/// What is known about a layer before reading it.
pub struct Expect {
    /// For messages: `layer 2 of 3 (blobs/sha256/ab..)`.
    pub name: String,
    /// The blob's digest and size, when a manifest gives them.
    pub blob: Option<(Digest, u64)>,
    /// The compression the media type announces.
    pub compression: Option<Compression>,
    /// The DiffID the config lists for this position.
    pub diff_id: Option<Digest>,
}

/// A layer read, verified and staged under tmp/.
#[derive(Debug, Clone)]
pub struct Staged {
    pub blob: Digest,
    pub size: u64,
    pub diff_id: Digest,
    pub chain_id: Digest,
    pub compression: Compression,
    /// The blob file and the unpacked dir under tmp/, when they were
    /// written (not when the store already had them).
    blob_file: Option<PathBuf>,
    layer_dir: Option<PathBuf>,
}

/// An image's layers, staged one by one onto the same work dir.
pub struct Ingest<'s> {
    pub store: &'s Store,
    pub work: WorkDir,
    pub layers: Vec<Staged>,
    pub progress: &'s dyn Progress,
}

impl<'s> Ingest<'s> {
    pub fn new(store: &'s Store, progress: &'s dyn Progress) -> anyhow::Result<Ingest<'s>> {
        Ok(Ingest {
            store,
            work: store.work_dir()?,
            layers: Vec::new(),
            progress,
        })
    }

    fn parent_chain(&self) -> Option<&Digest> {
        self.layers.last().map(|l| &l.chain_id)
    }

    /// The store has this blob and its unpacked layer on this parent:
    /// nothing to read (a blob's name *is* its verified content).
    pub fn reuse(&mut self, expect: &Expect) -> anyhow::Result<bool> {
        let (Some((blob, size)), Some(diff)) = (&expect.blob, &expect.diff_id) else {
            return Ok(false);
        };
        let chain = next_chain(self.parent_chain(), diff);
        if !self.store.has_blob(blob) || !self.store.layer_dir(&chain).is_dir() {
            return Ok(false);
        }
        self.layers.push(Staged {
            blob: blob.clone(),
            size: *size,
            diff_id: diff.clone(),
            chain_id: chain,
            compression: expect.compression.unwrap_or(Compression::None),
            blob_file: None,
            layer_dir: None,
        });
        Ok(true)
    }

    /// Read one layer blob from `r` and stage it.
    pub fn layer(&mut self, r: impl Read, expect: Expect) -> anyhow::Result<&Staged> {
        self.stage(r, expect, None)
    }

    /// Stage a layer whose blob was already spooled to `file` (below this
    /// work dir, as a download is): it is read, hashed and checked like
    /// any other, and published by renaming that file, not a copy of it.
    pub fn layer_file(&mut self, file: PathBuf, expect: Expect) -> anyhow::Result<&Staged> {
        let r = File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
        self.stage(r, expect, Some(file))
    }

    fn stage(
        &mut self,
        r: impl Read,
        expect: Expect,
        spooled: Option<PathBuf>,
    ) -> anyhow::Result<&Staged> {
        let n = self.layers.len();
        let staged = self
            .stream(r, &expect, n, spooled)
            .with_context(|| format!("{} refused", expect.name))?;
        self.layers.push(staged);
        Ok(&self.layers[n])
    }

    fn stream(
        &self,
        r: impl Read,
        expect: &Expect,
        n: usize,
        spooled: Option<PathBuf>,
    ) -> anyhow::Result<Staged> {
        let mut peek = BufReader::with_capacity(1 << 16, super::Metered::new(r, self.progress));
        let compression = Compression::sniff(&mut peek)?;
        if let Some(c) = expect.compression.filter(|c| *c != compression) {
            bail!("its media type says {c:?} but its content is {compression:?}");
        }
        // The blob's digest is known before reading when the manifest gives
        // it, or for a plain tar, from its DiffID (the same bytes). A blob
        // the store has is hashed to check it, but not written again.
        let expected_blob = match (&expect.blob, compression) {
            (Some((d, _)), _) => Some(d),
            (None, Compression::None) => expect.diff_id.as_ref(),
            _ => None,
        };
        let known = expected_blob.is_some_and(|d| self.store.has_blob(d));
        let write = !known && spooled.is_none();
        let blob_file = spooled
            .clone()
            .unwrap_or_else(|| self.work.path.join(format!("blob-{n}")));
        let side = BlobWriter::start(write.then(|| File::create(&blob_file)).transpose()?);
        let chain_known = expect
            .diff_id
            .as_ref()
            .map(|d| next_chain(self.parent_chain(), d));
        let unpack = !chain_known
            .as_ref()
            .is_some_and(|c| self.store.layer_dir(c).is_dir());
        let layer_dir = self.work.path.join(format!("layer-{n}"));
        let mut raw = BufReader::with_capacity(1 << 20, Hashing::unhashed(peek, side));
        let plain_digest = {
            let decoder = compression.decoder(&mut raw)?;
            // A plain tar's blob *is* its uncompressed stream: the blob's
            // hash names both (half the hashing of a docker-archive load).
            let mut plain = match compression {
                Compression::None => Hashing::unhashed(decoder, io::sink()),
                _ => Hashing::new(decoder),
            };
            if unpack {
                layer::apply(
                    Trailer::new(&mut plain),
                    &layer_dir,
                    &ApplyOptions::overlay_upper(),
                )?;
            }
            plain.drain().context("the layer stream is corrupt")?;
            plain.finish().0
        };
        io::copy(&mut raw, &mut io::sink()).context("cannot read the layer")?;
        let (_, _, side) = raw.into_inner().finish();
        let (blob, size) = side.finish()?;
        let diff_id = plain_digest.unwrap_or_else(|| blob.clone());
        check(expect, &blob, size, &diff_id)?;
        Ok(Staged {
            chain_id: next_chain(self.parent_chain(), &diff_id),
            blob,
            size,
            diff_id,
            compression,
            blob_file: (!known).then_some(blob_file),
            layer_dir: unpack.then_some(layer_dir),
        })
    }

    /// Check the config's DiffIDs against the layers, then move everything
    /// into place and name the image. `manifest` is the manifest's bytes
    /// when the source had one (OCI); otherwise one is made.
    pub fn publish(
        self,
        config_raw: &[u8],
        manifest: Option<(&[u8], MediaType)>,
        tags: &[Reference],
    ) -> anyhow::Result<Digest> {
        let config: ImageConfiguration =
            serde_json::from_slice(config_raw).context("the image config is not valid JSON")?;
        check_diff_ids(&config, &self.layers)?;
        let made;
        let (manifest_raw, media_type) = match manifest {
            Some(m) => m,
            None => {
                made = make_manifest(config_raw, &self.layers)?;
                (made.as_slice(), MediaType::ImageManifest)
            }
        };
        // The unpacked files reach the disk before their directory is
        // renamed into place: after a crash a published layer is whole.
        if self.layers.iter().any(|l| l.layer_dir.is_some()) {
            rustix::fs::syncfs(File::open(&self.work.path)?)
                .context("cannot flush the unpacked layers to disk")?;
        }
        for l in &self.layers {
            if let Some(f) = &l.blob_file {
                self.store.publish_blob(f, &l.blob)?;
            }
            if let Some(d) = &l.layer_dir {
                self.store.publish_layer(d, &l.chain_id)?;
            }
        }
        self.store.put_blob(config_raw)?;
        let manifest_digest = self.store.put_blob(manifest_raw)?;
        // Measured from the unpacked layers on disk, as Docker reports it.
        let mut size = 0;
        for l in &self.layers {
            size += self.store.layer_size(&l.chain_id)?;
        }
        let desc = DescriptorBuilder::default()
            .media_type(media_type)
            .digest(manifest_digest.clone())
            .size(manifest_raw.len() as u64)
            .annotations(HashMap::from([(
                SIZE_ANNOTATION.to_string(),
                size.to_string(),
            )]))
            .build()?;
        self.store.add_to_index(desc)?;
        super::tags::set(self.store, tags, &manifest_digest)?;
        Ok(manifest_digest)
    }
}

/// The raw blob's other half of the work, on a thread of its own (so on
/// a second core): its sha256, and its file (when the store lacks it),
/// written and fsynced, while this thread decompresses and unpacks.
struct BlobWriter {
    tx: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    done: Option<std::thread::JoinHandle<io::Result<(Digest, u64)>>>,
}

impl BlobWriter {
    fn start(file: Option<File>) -> BlobWriter {
        // At most 8 chunks (of up to 1 MiB) wait: memory stays bounded.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(8);
        let done = std::thread::spawn(move || {
            let (mut hasher, mut written, mut flushed) = (digest::Hasher::default(), 0u64, 0u64);
            let mut file = file;
            for chunk in rx {
                sha2::Digest::update(&mut hasher, &chunk);
                written += chunk.len() as u64;
                if let Some(f) = &mut file {
                    f.write_all(&chunk)?;
                    if written - flushed >= WRITEBACK_STEP {
                        start_writeback(f, flushed, written - flushed);
                        flushed = written;
                    }
                }
            }
            if let Some(f) = file {
                f.sync_all()?;
            }
            Ok((digest::from_hasher(hasher), written))
        });
        BlobWriter {
            tx: Some(tx),
            done: Some(done),
        }
    }

    /// Wait for the last byte: the blob's digest and size.
    fn finish(mut self) -> anyhow::Result<(Digest, u64)> {
        drop(self.tx.take());
        let h = self.done.take().expect("finished once");
        h.join()
            .map_err(|_| anyhow::anyhow!("the blob writer panicked"))?
            .context("cannot write the blob")
    }
}

/// How much of a blob is written before its writeback is started.
const WRITEBACK_STEP: u64 = 16 << 20;

/// Ask the kernel to start writing a range out now (without waiting), so
/// that the fsync at the end has little left to do.
fn start_writeback(f: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: a plain syscall on an fd we own; a failure only means the
    // final fsync does all the work.
    unsafe {
        libc::sync_file_range(
            f.as_raw_fd(),
            offset as libc::off64_t,
            len as libc::off64_t,
            libc::SYNC_FILE_RANGE_WRITE,
        );
    }
}

impl Drop for BlobWriter {
    /// On an error path too: no write is still in flight when the work
    /// dir is removed.
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(h) = self.done.take() {
            let _ = h.join();
        }
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let tx = self.tx.as_ref().expect("not finished");
        // A closed channel means the writer failed: finish() says why.
        if tx.send(buf.to_vec()).is_err() {
            return Err(io::Error::other("the blob writer stopped"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What was read against what the manifest and the config promised.
fn check(expect: &Expect, blob: &Digest, size: u64, diff_id: &Digest) -> anyhow::Result<()> {
    if let Some((want, want_size)) = &expect.blob {
        digest::verify("the layer blob", want, blob)?;
        if *want_size != size {
            bail!("size mismatch: the manifest says {want_size} bytes, the blob has {size}");
        }
    }
    if let Some(want) = &expect.diff_id {
        digest::verify("the layer's DiffID (from the config)", want, diff_id)?;
    }
    Ok(())
}

fn next_chain(parent: Option<&Digest>, diff: &Digest) -> Digest {
    match parent {
        None => diff.clone(),
        Some(p) => digest::of_bytes(format!("{p} {diff}").as_bytes()),
    }
}

/// The config's rootfs.diff_ids must be exactly the layers' DiffIDs, in
/// order: a runtime checks what it unpacked against them.
fn check_diff_ids(config: &ImageConfiguration, layers: &[Staged]) -> anyhow::Result<()> {
    let listed = config.rootfs().diff_ids();
    if listed.len() != layers.len() {
        bail!(
            "the config lists {} DiffIDs but the image has {} layers",
            listed.len(),
            layers.len()
        );
    }
    for (i, (want, l)) in listed.iter().zip(layers).enumerate() {
        let want = digest::parse(want)?;
        if want != l.diff_id {
            bail!(
                "DiffIDs disagree: the config lists {want} for layer {} but its content is {}",
                i + 1,
                l.diff_id
            );
        }
    }
    Ok(())
}

/// An OCI manifest for an image that came without one (import, a
/// docker-archive): the config and the layers as they are stored. Made
/// from the blobs only, so the same image always gets the same manifest.
fn make_manifest(config_raw: &[u8], layers: &[Staged]) -> anyhow::Result<Vec<u8>> {
    let config = Descriptor::new(
        MediaType::ImageConfig,
        config_raw.len() as u64,
        digest::of_bytes(config_raw),
    );
    let layers: Vec<Descriptor> = layers
        .iter()
        .map(|l| Descriptor::new(l.compression.layer_media_type(), l.size, l.blob.clone()))
        .collect();
    let m = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config)
        .layers(layers)
        .build()?;
    digest::stable_json(&m)
}
