//! `wharf load`: images from a docker-archive (`docker save`: a
//! manifest.json naming each image's config and layer files) or an OCI
//! image layout (oci-layout, index.json, blobs/), as a tar or a directory.
//!
//! Every image of the archive is staged and verified first (manifest and
//! config against their digests, each layer's blob digest and size, its
//! DiffID against the config); only then is any of them published.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{bail, Context};
use oci_spec::image::{
    Descriptor, Digest, ImageConfiguration, ImageIndex, ImageManifest, MediaType,
};
use serde::{Deserialize, Serialize};

use super::archive::Archive;
use super::compress::Compression;
use super::digest;
use super::import::host_arch;
use super::ingest::{Expect, Ingest};
use super::reference::Reference;
use super::store::Store;
use super::Progress;

/// One image that was loaded.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub manifest: Digest,
    pub id: Digest,
    pub tags: Vec<Reference>,
}

/// One entry of a docker-archive's manifest.json. Docker's own format (not
/// an OCI type): the paths of the config and the layer tars inside.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DockerEntry {
    pub config: String,
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    pub layers: Vec<String>,
}

/// An image staged, waiting for the others before it is published.
struct Pending<'s> {
    ingest: Ingest<'s>,
    config: Vec<u8>,
    manifest: Option<(Vec<u8>, MediaType)>,
    tags: Vec<Reference>,
}

/// The annotations an OCI layout names its images with.
pub(super) const CONTAINERD_NAME: &str = "io.containerd.image.name";
pub(super) const REF_NAME: &str = "org.opencontainers.image.ref.name";

pub fn load(store: &Store, input: &Path, progress: &dyn Progress) -> anyhow::Result<Vec<Loaded>> {
    let spool = store.work_dir()?;
    let archive = Archive::open(input, &spool.path.join("input.tar"))?;
    let pending = if archive.exists("oci-layout") && archive.exists("index.json") {
        oci(store, &archive, progress)?
    } else if archive.exists("manifest.json") {
        docker(store, &archive, progress)?
    } else {
        bail!("not an image archive: neither a docker-archive (manifest.json) nor an OCI image layout (oci-layout, index.json)");
    };
    if pending.is_empty() {
        bail!("the archive holds no image");
    }
    let mut loaded = Vec::new();
    for p in pending {
        let id = digest::of_bytes(&p.config);
        let manifest = p.manifest.as_ref().map(|(b, m)| (b.as_slice(), m.clone()));
        let digest = p.ingest.publish(&p.config, manifest, &p.tags)?;
        loaded.push(Loaded {
            manifest: digest,
            id,
            tags: p.tags,
        });
    }
    Ok(loaded)
}

fn docker<'s>(
    store: &'s Store,
    ar: &Archive,
    progress: &'s dyn Progress,
) -> anyhow::Result<Vec<Pending<'s>>> {
    let entries: Vec<DockerEntry> = serde_json::from_slice(&ar.read_small("manifest.json")?)
        .context("manifest.json is not a docker-archive manifest")?;
    let mut out = Vec::new();
    for e in entries {
        let config = ar
            .read_small(&e.config)
            .context("in manifest.json's Config")?;
        let diff_ids = diff_ids_of(&config, e.layers.len())?;
        no_repeats(e.layers.iter().map(String::as_str))?;
        let mut ingest = Ingest::new(store, progress)?;
        for (i, (path, diff)) in e.layers.iter().zip(diff_ids).enumerate() {
            let expect = Expect {
                name: format!("layer {} of {} ({path})", i + 1, e.layers.len()),
                blob: None,
                compression: None,
                diff_id: Some(diff),
            };
            progress.begin(&expect.name, None);
            ingest.layer(
                ar.open_member(path).context("in manifest.json's Layers")?,
                expect,
            )?;
        }
        let tags = e
            .repo_tags
            .unwrap_or_default()
            .iter()
            .map(|t| Reference::parse(t))
            .collect::<anyhow::Result<_>>()?;
        out.push(Pending {
            ingest,
            config,
            manifest: None,
            tags,
        });
    }
    Ok(out)
}

fn oci<'s>(
    store: &'s Store,
    ar: &Archive,
    progress: &'s dyn Progress,
) -> anyhow::Result<Vec<Pending<'s>>> {
    let layout: serde_json::Value =
        serde_json::from_slice(&ar.read_small("oci-layout")?).context("oci-layout is not JSON")?;
    if layout.get("imageLayoutVersion").is_none() {
        bail!("oci-layout has no imageLayoutVersion: not an OCI image layout");
    }
    let index: ImageIndex = serde_json::from_slice(&ar.read_small("index.json")?)
        .context("index.json is not an OCI image index")?;
    let mut out = Vec::new();
    for desc in index.manifests() {
        let desc = pick_manifest(ar, desc)?;
        out.push(oci_image(store, ar, &desc, progress)?);
    }
    Ok(out)
}

/// A nested index (a multi-platform image) gives the manifest for this
/// machine; a manifest is itself.
fn pick_manifest(ar: &Archive, desc: &Descriptor) -> anyhow::Result<Descriptor> {
    match desc.media_type().to_string().as_str() {
        "application/vnd.oci.image.manifest.v1+json"
        | "application/vnd.docker.distribution.manifest.v2+json" => Ok(desc.clone()),
        "application/vnd.oci.image.index.v1+json"
        | "application/vnd.docker.distribution.manifest.list.v2+json" => {
            let raw = read_blob(ar, desc)?;
            let nested: ImageIndex = serde_json::from_slice(&raw)
                .with_context(|| format!("index {} is not valid", desc.digest()))?;
            let mut chosen = for_this_machine(&nested)
                .with_context(|| {
                    format!("index {} has no image for {}", desc.digest(), host_arch())
                })?
                .clone();
            chosen.set_annotations(desc.annotations().clone());
            Ok(chosen)
        }
        other => bail!(
            "unknown media type {other:?} for {} in index.json",
            desc.digest()
        ),
    }
}

fn oci_image<'s>(
    store: &'s Store,
    ar: &Archive,
    desc: &Descriptor,
    progress: &'s dyn Progress,
) -> anyhow::Result<Pending<'s>> {
    let manifest_raw = read_blob(ar, desc)?;
    let manifest: ImageManifest = serde_json::from_slice(&manifest_raw)
        .with_context(|| format!("manifest {} is not valid", desc.digest()))?;
    let cfg = manifest.config();
    check_config_type(cfg)?;
    let config = read_blob(ar, cfg)?;
    let layers = manifest.layers();
    let diff_ids = diff_ids_of(&config, layers.len())?;
    no_repeats(layers.iter().map(|l| l.digest().as_ref()))?;
    let mut ingest = Ingest::new(store, progress)?;
    for (i, (l, diff)) in layers.iter().zip(diff_ids).enumerate() {
        let compression = Compression::of_media_type(l.media_type())
            .with_context(|| format!("layer {}", l.digest()))?;
        let expect = Expect {
            name: format!("layer {} of {} ({})", i + 1, layers.len(), l.digest()),
            blob: Some((l.digest().clone(), l.size())),
            compression: Some(compression),
            diff_id: Some(diff),
        };
        progress.begin(&expect.name, Some(l.size()));
        if !ingest.reuse(&expect)? {
            ingest.layer(ar.open_member(&blob_path(l.digest()))?, expect)?;
        }
    }
    let tags = oci_name(desc)?.into_iter().collect();
    let media_type = desc.media_type().clone();
    Ok(Pending {
        ingest,
        config,
        manifest: Some((manifest_raw, media_type)),
        tags,
    })
}

/// The name an OCI layout gives an image: containerd's full name, or a
/// ref.name that is a whole reference (`busybox:1`). A bare ref.name
/// (`latest`) is only a tag, with no repository to put it on.
fn oci_name(desc: &Descriptor) -> anyhow::Result<Option<Reference>> {
    let ann = desc.annotations().clone().unwrap_or_default();
    if let Some(n) = ann.get(CONTAINERD_NAME) {
        return Ok(Some(Reference::parse(n)?));
    }
    match ann.get(REF_NAME) {
        Some(n) if n.contains([':', '/']) => Ok(Some(Reference::parse(n)?)),
        _ => Ok(None),
    }
}

pub(super) fn blob_path(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algorithm(), d.digest())
}

/// A small blob, checked against its descriptor's size and digest.
fn read_blob(ar: &Archive, desc: &Descriptor) -> anyhow::Result<Vec<u8>> {
    let d = desc.digest();
    digest::parse(d.as_ref())?;
    let raw = ar
        .read_small(&blob_path(d))
        .with_context(|| format!("blob {d} is missing"))?;
    if raw.len() as u64 != desc.size() {
        bail!(
            "size mismatch for {d}: the descriptor says {} bytes, the blob has {}",
            desc.size(),
            raw.len()
        );
    }
    digest::verify(
        &format!("blob {}", blob_path(d)),
        d,
        &digest::of_bytes(&raw),
    )?;
    Ok(raw)
}

/// The config's DiffIDs, one per layer.
pub(crate) fn diff_ids_of(config: &[u8], layers: usize) -> anyhow::Result<Vec<Digest>> {
    let c: ImageConfiguration =
        serde_json::from_slice(config).context("the image config is not valid")?;
    let ids = c.rootfs().diff_ids();
    if ids.len() != layers {
        bail!(
            "DiffIDs disagree: the config lists {} but the manifest has {layers} layers",
            ids.len()
        );
    }
    ids.iter().map(|d| digest::parse(d)).collect()
}

/// The manifest of a multi-platform index that this machine runs
/// (an entry without a platform runs anywhere).
pub(crate) fn for_this_machine(index: &ImageIndex) -> Option<&Descriptor> {
    let arch = host_arch();
    index.manifests().iter().find(|m| {
        m.platform()
            .as_ref()
            .map_or(true, |p| *p.architecture() == arch)
    })
}

/// The config a manifest names must be an image config (OCI or Docker's).
pub(crate) fn check_config_type(cfg: &Descriptor) -> anyhow::Result<()> {
    match cfg.media_type().to_string().as_str() {
        "application/vnd.oci.image.config.v1+json"
        | "application/vnd.docker.container.image.v1+json" => Ok(()),
        other => bail!(
            "unknown media type {other:?} for the config {}",
            cfg.digest()
        ),
    }
}

/// A manifest that names one layer twice would unpack it twice; Docker
/// refuses it, and so do we.
pub(crate) fn no_repeats<'a>(names: impl Iterator<Item = &'a str>) -> anyhow::Result<()> {
    let mut seen = HashSet::new();
    for n in names {
        if !seen.insert(n) {
            bail!("the manifest names layer {n} twice");
        }
    }
    Ok(())
}
