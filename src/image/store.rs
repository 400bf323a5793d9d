//! The image store under the state root, laid out as an OCI image layout
//! plus what a runtime needs beside it:
//!
//! ```text
//! images/
//!   oci-layout            {"imageLayoutVersion": "1.0.0"}
//!   index.json            an OCI image index: one descriptor per image manifest
//!   tags.json             "docker.io/library/busybox:latest" -> manifest digest
//!   blobs/sha256/<hex>    manifests, configs and layers, named by their digest
//!   layers/<chainid hex>  each layer unpacked once (as an overlay layer dir)
//!   tmp/                  work in progress of the one command holding the lock
//!   lock                  flock: shared to read, exclusive to change
//! ```
//!
//! Nothing is ever half visible: a file is written to a temporary name,
//! fsynced and renamed; a blob or an unpacked layer is renamed into place
//! only after every digest checked out; an image exists once index.json
//! names it, and that file is itself replaced in one rename. A command that
//! dies leaves at most files under tmp/ and blobs nothing names, which the
//! next command that takes the lock exclusively removes.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use oci_spec::image::{
    Descriptor, Digest, ImageConfiguration, ImageIndex, ImageIndexBuilder, ImageManifest, MediaType,
};
use rustix::fs::FlockOperation;

use super::digest;

/// The annotation on an index entry that records the image's size: the
/// bytes of its layers' files, as `docker images` counts them.
pub const SIZE_ANNOTATION: &str = "dev.wharf.image.size";

/// How a command holds the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// Reading: any number at once.
    Shared,
    /// Changing: one at a time, and it cleans up after an interrupted one.
    Exclusive,
}

/// An open store, locked for as long as it lives.
pub struct Store {
    dir: PathBuf,
    _lock: File,
}

/// One image of the store: its manifest and config, parsed.
#[derive(Debug, Clone)]
pub struct Image {
    pub manifest_digest: Digest,
    pub manifest: ImageManifest,
    pub config: ImageConfiguration,
    /// Uncompressed bytes of the files in its layers.
    pub size: u64,
    /// Full `repository:tag` names pointing at it.
    pub tags: Vec<String>,
}

impl Image {
    /// Docker's image ID: the digest of the config.
    pub fn id(&self) -> &Digest {
        self.manifest.config().digest()
    }

    pub fn diff_ids(&self) -> anyhow::Result<Vec<Digest>> {
        self.config
            .rootfs()
            .diff_ids()
            .iter()
            .map(|d| digest::parse(d))
            .collect()
    }
}

impl Store {
    /// Open (creating it if needed) the store below the state root `root`.
    pub fn open(root: &Path, lock: Lock) -> anyhow::Result<Store> {
        let dir = root.join("images");
        for sub in ["blobs/sha256", "layers", "tmp"] {
            // 0700: unpacked layers keep setuid files and file
            // capabilities; only root may reach them.
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir.join(sub))
                .with_context(|| format!("cannot create the image store in {}", dir.display()))?;
        }
        let lock_file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))
            .with_context(|| format!("cannot open {}", dir.join("lock").display()))?;
        let op = match lock {
            Lock::Shared => FlockOperation::LockShared,
            Lock::Exclusive => FlockOperation::LockExclusive,
        };
        rustix::fs::flock(&lock_file, op).context("cannot lock the image store")?;
        let store = Store {
            dir,
            _lock: lock_file,
        };
        if lock == Lock::Exclusive {
            store.recover()?;
        }
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What an interrupted command left: its tmp/ work, and blobs or
    /// layers it published before it could name them in index.json.
    fn recover(&self) -> anyhow::Result<()> {
        let tmp = self.dir.join("tmp");
        for e in fs::read_dir(&tmp)? {
            remove_any(&e?.path())?;
        }
        if !self.dir.join("oci-layout").exists() {
            write_atomic(
                &self.dir.join("oci-layout"),
                br#"{"imageLayoutVersion":"1.0.0"}"#,
            )?;
        }
        self.gc()?;
        Ok(())
    }

    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.dir.join("blobs/sha256").join(digest::hex(d))
    }

    pub fn has_blob(&self, d: &Digest) -> bool {
        self.blob_path(d).is_file()
    }

    pub fn open_blob(&self, d: &Digest) -> anyhow::Result<File> {
        File::open(self.blob_path(d)).with_context(|| format!("blob {d} is missing from the store"))
    }

    pub fn read_blob(&self, d: &Digest) -> anyhow::Result<Vec<u8>> {
        fs::read(self.blob_path(d)).with_context(|| format!("blob {d} is missing from the store"))
    }

    /// Store small bytes (a manifest or a config) under their digest.
    pub fn put_blob(&self, bytes: &[u8]) -> anyhow::Result<Digest> {
        let d = digest::of_bytes(bytes);
        if !self.has_blob(&d) {
            write_atomic(&self.blob_path(&d), bytes)?;
        }
        Ok(d)
    }

    /// Move a verified blob file from tmp/ into place (a blob already
    /// there has the same bytes, by definition).
    pub fn publish_blob(&self, tmp: &Path, d: &Digest) -> anyhow::Result<()> {
        publish(tmp, &self.blob_path(d))
    }

    pub fn layer_dir(&self, chain_id: &Digest) -> PathBuf {
        self.dir.join("layers").join(digest::hex(chain_id))
    }

    /// The bytes of the files in an unpacked layer, measured on disk (a
    /// file with several hard links counted once).
    pub fn layer_size(&self, chain_id: &Digest) -> anyhow::Result<u64> {
        disk_bytes(&self.layer_dir(chain_id))
            .with_context(|| format!("cannot measure layer {chain_id}"))
    }

    /// Move an unpacked layer from tmp/ to layers/<chain id>.
    pub fn publish_layer(&self, tmp: &Path, chain_id: &Digest) -> anyhow::Result<()> {
        publish(tmp, &self.layer_dir(chain_id))
    }

    /// A fresh directory under tmp/ for one piece of a command's work
    /// (the spooled input, each image staged), removed on drop.
    pub fn work_dir(&self) -> anyhow::Result<WorkDir> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = self
            .dir
            .join("tmp")
            .join(format!("job-{}-{n}", std::process::id()));
        remove_any(&path)?;
        fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(WorkDir { path })
    }

    pub fn index(&self) -> anyhow::Result<ImageIndex> {
        let p = self.dir.join("index.json");
        if !p.exists() {
            return Ok(empty_index());
        }
        ImageIndex::from_file(&p).with_context(|| format!("cannot read {}", p.display()))
    }

    pub fn write_index(&self, index: &ImageIndex) -> anyhow::Result<()> {
        write_atomic(&self.dir.join("index.json"), &digest::stable_json(index)?)
    }

    pub fn tags(&self) -> anyhow::Result<BTreeMap<String, Digest>> {
        let p = self.dir.join("tags.json");
        if !p.exists() {
            return Ok(BTreeMap::new());
        }
        let bytes = fs::read(&p)?;
        serde_json::from_slice(&bytes).with_context(|| format!("cannot read {}", p.display()))
    }

    pub fn write_tags(&self, tags: &BTreeMap<String, Digest>) -> anyhow::Result<()> {
        let json = serde_json::to_vec_pretty(tags)?;
        write_atomic(&self.dir.join("tags.json"), &json)
    }

    /// Every image, in the order they were added, with their tags.
    pub fn images(&self) -> anyhow::Result<Vec<Image>> {
        let tags = self.tags()?;
        self.index()?
            .manifests()
            .iter()
            .map(|desc| self.image_of(desc, &tags))
            .collect()
    }

    fn image_of(
        &self,
        desc: &Descriptor,
        tags: &BTreeMap<String, Digest>,
    ) -> anyhow::Result<Image> {
        let manifest_digest = desc.digest().clone();
        let manifest: ImageManifest = serde_json::from_slice(&self.read_blob(&manifest_digest)?)
            .with_context(|| format!("manifest {manifest_digest} in the store is not valid"))?;
        let config: ImageConfiguration = serde_json::from_slice(
            &self.read_blob(manifest.config().digest())?,
        )
        .with_context(|| {
            format!(
                "config {} in the store is not valid",
                manifest.config().digest()
            )
        })?;
        let size = desc
            .annotations()
            .as_ref()
            .and_then(|a| a.get(SIZE_ANNOTATION))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let tags = tags
            .iter()
            .filter(|(_, d)| **d == manifest_digest)
            .map(|(t, _)| t.clone())
            .collect();
        Ok(Image {
            manifest_digest,
            manifest,
            config,
            size,
            tags,
        })
    }

    /// Add an image's manifest to index.json (the moment it exists).
    pub fn add_to_index(&self, desc: Descriptor) -> anyhow::Result<()> {
        let mut index = self.index()?;
        let mut manifests = index.manifests().clone();
        manifests.retain(|m| m.digest() != desc.digest());
        manifests.push(desc);
        index.set_manifests(manifests);
        self.write_index(&index)
    }

    /// Remove images from index.json (their tags first, by the caller).
    pub fn remove_from_index(&self, gone: &HashSet<Digest>) -> anyhow::Result<()> {
        let mut index = self.index()?;
        let mut manifests = index.manifests().clone();
        manifests.retain(|m| !gone.contains(m.digest()));
        index.set_manifests(manifests);
        self.write_index(&index)
    }

    /// Remove every blob and unpacked layer that no image in index.json
    /// uses. Returns the bytes of blob files freed.
    pub fn gc(&self) -> anyhow::Result<Freed> {
        let (blobs, layers) = self.reachable()?;
        let mut freed = Freed::default();
        for e in fs::read_dir(self.dir.join("blobs/sha256"))? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if !blobs.contains(&name) {
                freed.bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
                freed.blobs += 1;
                fs::remove_file(e.path())?;
            }
        }
        for e in fs::read_dir(self.dir.join("layers"))? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if !layers.contains(&name) {
                freed.layers += 1;
                self.unpublish(&e.path())?;
            }
        }
        Ok(freed)
    }

    /// Hex names of the blobs and layers the indexed images use.
    fn reachable(&self) -> anyhow::Result<(HashSet<String>, HashSet<String>)> {
        let (mut blobs, mut layers) = (HashSet::new(), HashSet::new());
        for desc in self.index()?.manifests() {
            blobs.insert(digest::hex(desc.digest()).to_string());
            // An image that cannot be read stops the collection: deleting
            // its blobs because of a read error would lose the image.
            let image = self
                .image_of(desc, &BTreeMap::new())
                .context("not collecting unused blobs")?;
            blobs.insert(digest::hex(image.id()).to_string());
            for l in image.manifest.layers() {
                blobs.insert(digest::hex(l.digest()).to_string());
            }
            for c in digest::chain_ids(&image.diff_ids()?) {
                layers.insert(digest::hex(&c).to_string());
            }
        }
        Ok((blobs, layers))
    }

    /// Take a layer dir out of layers/ in one rename, then delete it: a
    /// half-deleted layer is never visible under its name.
    fn unpublish(&self, path: &Path) -> anyhow::Result<()> {
        let name = path.file_name().context("layer dir without a name")?;
        let mut gone = std::ffi::OsString::from("gone-");
        gone.push(name);
        let tmp = self.dir.join("tmp").join(gone);
        fs::rename(path, &tmp)?;
        remove_any(&tmp)
    }
}

/// What a garbage collection removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Freed {
    pub blobs: u64,
    pub layers: u64,
    pub bytes: u64,
}

/// A directory under the store's tmp/, removed when dropped (also when the
/// command fails half way).
pub struct WorkDir {
    pub path: PathBuf,
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = remove_any(&self.path);
    }
}

fn empty_index() -> ImageIndex {
    ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(Vec::new())
        .build()
        .expect("an empty index is valid")
}

/// Write a file so that readers see the old bytes or the new, never a mix:
/// a temporary file beside it, fsynced, renamed over it, and the directory
/// fsynced so the rename itself survives a crash.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = temp_beside(path);
    let write = || -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        sync_parent(path)
    };
    write().with_context(|| {
        let _ = fs::remove_file(&tmp);
        format!("cannot write {}", path.display())
    })
}

fn temp_beside(path: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(p) => File::open(p)?.sync_all(),
        None => Ok(()),
    }
}

/// Rename a finished file or directory into place; if something with that
/// content address is already there, ours is a duplicate and goes.
fn publish(tmp: &Path, dest: &Path) -> anyhow::Result<()> {
    if fs::symlink_metadata(dest).is_ok() {
        return remove_any(tmp);
    }
    fs::rename(tmp, dest)
        .and_then(|_| sync_parent(dest))
        .with_context(|| format!("cannot publish {}", dest.display()))
}

/// The bytes of the regular files below `dir` (`du -sb`: a file with
/// several hard links counts once).
pub fn disk_bytes(dir: &Path) -> anyhow::Result<u64> {
    let mut seen = HashSet::new();
    Ok(du(dir, &mut seen)?)
}

fn du(dir: &Path, seen: &mut HashSet<(u64, u64)>) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for e in fs::read_dir(dir)? {
        let e = e?;
        let m = e.metadata()?;
        if m.is_dir() {
            total += du(&e.path(), seen)?;
        } else if m.is_file() && seen.insert((m.dev(), m.ino())) {
            total += m.len();
        }
    }
    Ok(total)
}

pub fn remove_any(p: &Path) -> anyhow::Result<()> {
    let r = match fs::symlink_metadata(p) {
        Err(_) => return Ok(()),
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
    };
    r.with_context(|| format!("cannot remove {}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn exclusive_open_cleans_leftovers_and_unnamed_blobs() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path(), Lock::Exclusive).unwrap();
        let orphan = s.put_blob(b"nobody names me").unwrap();
        fs::write(s.dir().join("tmp/half-done"), b"x").unwrap();
        fs::create_dir(s.layer_dir(&orphan)).unwrap();
        drop(s);
        let s = Store::open(d.path(), Lock::Exclusive).unwrap();
        assert!(!s.has_blob(&orphan));
        assert!(!s.layer_dir(&orphan).exists());
        assert_eq!(fs::read_dir(s.dir().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn an_exclusive_lock_waits_for_a_shared_one() {
        let d = tempfile::tempdir().unwrap();
        let reader = Store::open(d.path(), Lock::Shared).unwrap();
        let lock = File::open(d.path().join("images/lock")).unwrap();
        let try_ex = rustix::fs::flock(&lock, FlockOperation::NonBlockingLockExclusive);
        assert!(
            try_ex.is_err(),
            "an exclusive lock was granted beside a reader"
        );
        drop(reader);
        rustix::fs::flock(&lock, FlockOperation::NonBlockingLockExclusive).unwrap();
    }
}
