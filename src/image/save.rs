//! `wharf save`: images out, as a docker-archive (what `docker save`
//! writes: manifest.json, each config and layer as a file) or as an OCI
//! image layout (oci-layout, index.json, blobs/sha256/…), in one tar.
//! Images that share layers share them in the file too. The tar is made
//! the same way every time (sorted, owner 0, mtime 0), so saving the same
//! images twice gives the same bytes.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use anyhow::Context;
use oci_spec::image::{Descriptor, DescriptorBuilder, Digest, ImageIndexBuilder, MediaType};

use super::load::{blob_path, DockerEntry, CONTAINERD_NAME, REF_NAME};
use super::reference::Reference;
use super::store::{Image, Store};
use super::{digest, tags, Metered, Progress};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    DockerArchive,
    Oci,
}

/// An image to save and the name to give it (none when asked by ID).
pub struct Named {
    pub image: Image,
    pub name: Option<Reference>,
}

/// Find each image as `docker save` does: a name keeps its tag in the
/// archive, an ID saves the image without one.
pub fn select(store: &Store, names: &[String]) -> anyhow::Result<Vec<Named>> {
    let tagged = store.tags()?;
    names
        .iter()
        .map(|n| {
            let image = tags::resolve(store, n)?;
            let name = Reference::parse(n).ok().filter(|r| {
                r.tagged()
                    .is_some_and(|k| tagged.get(&k) == Some(&image.manifest_digest))
            });
            Ok(Named { image, name })
        })
        .collect()
}

/// Write the archive to `out` (a file written beside and renamed, or `-`).
pub fn save(
    store: &Store,
    images: &[Named],
    format: Format,
    out: &Path,
    progress: &dyn Progress,
) -> anyhow::Result<()> {
    if out == Path::new("-") {
        return write(store, images, format, io::stdout().lock(), progress);
    }
    let mut tmp = out.as_os_str().to_owned();
    tmp.push(format!(".wharf-save-{}", std::process::id()));
    let run = || -> anyhow::Result<()> {
        let f = File::create(&tmp)?;
        write(
            store,
            images,
            format,
            BufWriter::with_capacity(1 << 20, &f),
            progress,
        )?;
        f.sync_all()?;
        std::fs::rename(&tmp, out)?;
        Ok(())
    };
    run().with_context(|| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot save to {}", out.display())
    })
}

fn write(
    store: &Store,
    images: &[Named],
    format: Format,
    w: impl Write,
    progress: &dyn Progress,
) -> anyhow::Result<()> {
    let mut t = Tar {
        b: tar::Builder::new(w),
        written: Default::default(),
    };
    match format {
        Format::DockerArchive => docker(store, images, &mut t, progress)?,
        Format::Oci => oci(store, images, &mut t, progress)?,
    }
    t.b.into_inner()?.flush()?;
    Ok(())
}

fn docker(
    store: &Store,
    images: &[Named],
    t: &mut Tar<impl Write>,
    progress: &dyn Progress,
) -> anyhow::Result<()> {
    // One manifest.json entry per image; an image named twice gets both tags.
    let mut entries: Vec<(Digest, DockerEntry)> = Vec::new();
    for n in images {
        let config = format!("{}.json", digest::hex(n.image.id()));
        let layers = n
            .image
            .manifest
            .layers()
            .iter()
            .map(|l| format!("{}.tar", digest::hex(l.digest())))
            .collect();
        if !entries.iter().any(|(d, _)| d == &n.image.manifest_digest) {
            entries.push((
                n.image.manifest_digest.clone(),
                DockerEntry {
                    config,
                    repo_tags: None,
                    layers,
                },
            ));
        }
        let entry = &mut entries
            .iter_mut()
            .find(|(d, _)| d == &n.image.manifest_digest)
            .expect("just added")
            .1;
        if let Some(r) = &n.name {
            entry
                .repo_tags
                .get_or_insert_with(Vec::new)
                .push(r.familiar());
        }
        t.blob(store, n.image.id(), &entry.config.clone(), progress)?;
        for (l, path) in n.image.manifest.layers().iter().zip(entry.layers.clone()) {
            t.blob(store, l.digest(), &path, progress)?;
        }
    }
    let list: Vec<&DockerEntry> = entries.iter().map(|(_, e)| e).collect();
    t.file("manifest.json", &serde_json::to_vec(&list)?)
}

fn oci(
    store: &Store,
    images: &[Named],
    t: &mut Tar<impl Write>,
    progress: &dyn Progress,
) -> anyhow::Result<()> {
    t.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let mut manifests = Vec::new();
    for n in images {
        let m = &n.image.manifest;
        for d in std::iter::once(&n.image.manifest_digest)
            .chain(std::iter::once(m.config().digest()))
            .chain(m.layers().iter().map(Descriptor::digest))
        {
            t.blob(store, d, &blob_path(d), progress)?;
        }
        manifests.push(index_entry(store, n)?);
    }
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(manifests)
        .build()?;
    t.file("index.json", &digest::stable_json(&index)?)
}

/// The index entry: the manifest, named both ways readers look for it
/// (containerd's full name, and the OCI ref.name that skopeo and umoci use).
fn index_entry(store: &Store, n: &Named) -> anyhow::Result<Descriptor> {
    let d = &n.image.manifest_digest;
    let size = std::fs::metadata(store.blob_path(d))?.len();
    let media_type = n
        .image
        .manifest
        .media_type()
        .clone()
        .unwrap_or(MediaType::ImageManifest);
    let mut b = DescriptorBuilder::default()
        .media_type(media_type)
        .digest(d.clone())
        .size(size);
    if let Some(r) = &n.name {
        let tag = r.tag.clone().unwrap_or_default();
        b = b.annotations(HashMap::from([
            (CONTAINERD_NAME.to_string(), r.to_string()),
            (REF_NAME.to_string(), tag),
        ]));
    }
    Ok(b.build()?)
}

/// A tar written the same way every time, each member once.
struct Tar<W: Write> {
    b: tar::Builder<W>,
    written: BTreeSet<String>,
}

impl<W: Write> Tar<W> {
    fn header(size: u64) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_size(size);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h
    }

    fn file(&mut self, path: &str, bytes: &[u8]) -> anyhow::Result<()> {
        self.put(path, bytes.len() as u64, bytes)
    }

    /// A blob of the store, copied in once however many images use it.
    fn blob(
        &mut self,
        store: &Store,
        d: &Digest,
        path: &str,
        progress: &dyn Progress,
    ) -> anyhow::Result<()> {
        if self.written.contains(path) {
            return Ok(());
        }
        let f = store.open_blob(d)?;
        let size = f.metadata()?.len();
        progress.begin(path, Some(size));
        self.put(path, size, Metered::new(f, progress))
    }

    fn put(&mut self, path: &str, size: u64, data: impl Read) -> anyhow::Result<()> {
        self.dirs(path)?;
        let mut h = Self::header(size);
        self.b
            .append_data(&mut h, path, data)
            .with_context(|| format!("cannot write {path}"))?;
        self.written.insert(path.to_string());
        Ok(())
    }

    /// The directories above a member, as `docker save` writes them.
    fn dirs(&mut self, path: &str) -> anyhow::Result<()> {
        let parts: Vec<&str> = path.split('/').collect();
        let mut dir = String::new();
        for part in &parts[..parts.len() - 1] {
            dir = format!("{dir}{part}/");
            if self.written.insert(dir.clone()) {
                let mut h = Self::header(0);
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                self.b.append_data(&mut h, &dir, io::empty())?;
            }
        }
        Ok(())
    }
}
