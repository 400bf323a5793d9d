//! Commit: a container's overlay upper dir becomes a new image on top of
//! the image it ran on (`docker commit`, and each RUN, COPY or ADD of a
//! build).
//!
//! The upper dir holds exactly what the container changed; chapter 06's
//! export writes it as a layer tar (whiteouts as `.wh.` files). That tar
//! goes through the store's one ingest path, which hashes it (DiffID),
//! stores it as a blob and unpacks it under its ChainID, so the new image
//! can be mounted at once. The parent's layers are not read again: the
//! store has them, and the new image's manifest lists them and the new one.
//! The config is the parent's with the changes applied, one more
//! rootfs.diff_id and one more history entry.
//!
//! A step that only changes the config (ENV, CMD, ...) passes no upper dir:
//! its history entry says `empty_layer`, and no layer is added.

use std::path::Path;

use anyhow::{bail, Context};
use oci_spec::image::{
    Config, Digest, History, HistoryBuilder, ImageConfiguration, ImageConfigurationBuilder, Os,
    RootFsBuilder,
};

use super::compress::Compression;
use super::ingest::{Expect, Ingest};
use super::reference::Reference;
use super::store::{Image, Store};
use super::{changes, time, Progress};

/// What to commit.
pub struct Commit<'a> {
    /// The image the container ran on; `None` for `FROM scratch`.
    pub parent: Option<&'a Image>,
    /// The container's upper dir; `None` for a metadata-only step.
    pub upper: Option<&'a Path>,
    /// The new image's config; `None` keeps the parent's.
    pub config: Option<Config>,
    /// Docker's config fields that the OCI config has no place for
    /// (`Healthcheck`, `OnBuild`, `Shell`); `None` keeps the parent's.
    pub docker_fields: Option<Fields>,
    /// Dockerfile instructions applied on top (`commit -c 'CMD …'`).
    pub changes: &'a [String],
    /// The history entry: `created_by`, and `comment` (`commit -m`).
    pub created_by: String,
    pub comment: Option<String>,
    /// The config's `author` (MAINTAINER); `None` keeps the parent's.
    pub author: Option<String>,
    /// Seconds since the epoch ([`time::now`] honours SOURCE_DATE_EPOCH).
    pub created: i64,
    pub tags: &'a [Reference],
}

/// JSON fields of an image config's `config` object.
pub type Fields = serde_json::Map<String, serde_json::Value>;

/// The config fields OCI's schema lacks but Docker and buildah write
/// (readers that know them use them, others ignore them).
pub const DOCKER_FIELDS: &[&str] = &["Healthcheck", "OnBuild", "Shell"];

/// Those fields of `image`'s config, read from its stored config blob
/// (the parsed config drops what OCI's schema does not name).
pub fn docker_fields(store: &Store, image: &Image) -> anyhow::Result<Fields> {
    let raw: serde_json::Value = serde_json::from_slice(&store.read_blob(image.id())?)?;
    let mut out = Fields::new();
    for f in DOCKER_FIELDS {
        if let Some(v) = raw["config"].get(*f).filter(|v| !v.is_null()) {
            out.insert(f.to_string(), v.clone());
        }
    }
    Ok(out)
}

/// The image made: its ID (config digest) and manifest digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub id: Digest,
    pub manifest: Digest,
}

pub fn commit(store: &Store, c: &Commit, progress: &dyn Progress) -> anyhow::Result<Committed> {
    let mut config = match (&c.config, c.parent) {
        (Some(cfg), _) => cfg.clone(),
        (None, Some(p)) => p.config.config().clone().unwrap_or_default(),
        (None, None) => Config::default(),
    };
    for ch in c.changes {
        changes::apply(&mut config, ch).with_context(|| format!("change {ch:?}"))?;
    }
    let mut ingest = Ingest::new(store, progress)?;
    reuse_parent_layers(&mut ingest, c.parent)?;
    if let Some(upper) = c.upper {
        let tar = ingest.work.path.join("commit.tar");
        crate::layer::export_to_file(upper, &tar)?;
        let f = std::fs::File::open(&tar)?;
        let expect = Expect {
            name: format!("the changes in {}", upper.display()),
            blob: None,
            compression: Some(Compression::None),
            diff_id: None,
        };
        ingest.layer(f, expect)?;
    }
    let diff_ids: Vec<String> = ingest
        .layers
        .iter()
        .map(|l| l.diff_id.to_string())
        .collect();
    let fields = match (&c.docker_fields, c.parent) {
        (Some(f), _) => f.clone(),
        (None, Some(p)) => docker_fields(store, p)?,
        (None, None) => Fields::new(),
    };
    let config_raw = config_json(c, config, &fields, diff_ids)?;
    let id = super::digest::of_bytes(&config_raw);
    let manifest = ingest.publish(&config_raw, None, c.tags)?;
    Ok(Committed { id, manifest })
}

/// The parent's layers, taken as the store has them (blob and unpacked
/// dir), so the new manifest lists them without reading them again.
fn reuse_parent_layers(ingest: &mut Ingest, parent: Option<&Image>) -> anyhow::Result<()> {
    let Some(p) = parent else { return Ok(()) };
    for (l, diff) in p.manifest.layers().iter().zip(p.diff_ids()?) {
        let expect = Expect {
            name: format!("layer {}", l.digest()),
            blob: Some((l.digest().clone(), l.size())),
            compression: Some(Compression::of_media_type(l.media_type())?),
            diff_id: Some(diff),
        };
        if !ingest.reuse(&expect)? {
            bail!(
                "the parent image's layer {} is missing from the store",
                l.digest()
            );
        }
    }
    Ok(())
}

fn config_json(
    c: &Commit,
    config: Config,
    fields: &Fields,
    diff_ids: Vec<String>,
) -> anyhow::Result<Vec<u8>> {
    let created = time::rfc3339(c.created);
    let mut history: Vec<History> = c
        .parent
        .and_then(|p| p.config.history().clone())
        .unwrap_or_default();
    let mut entry = HistoryBuilder::default()
        .created(created.clone())
        .created_by(c.created_by.clone());
    if let Some(m) = &c.comment {
        entry = entry.comment(m.clone());
    }
    if c.upper.is_none() {
        entry = entry.empty_layer(true);
    }
    history.push(entry.build()?);
    let parent = c.parent.map(|p| &p.config);
    let mut b = ImageConfigurationBuilder::default();
    if let Some(a) = c
        .author
        .clone()
        .or_else(|| parent.and_then(|p| p.author().clone()))
    {
        b = b.author(a);
    }
    let image: ImageConfiguration = b
        .created(created)
        .architecture(parent.map_or_else(super::import::host_arch, |p| p.architecture().clone()))
        .os(parent.map_or(Os::Linux, |p| p.os().clone()))
        .config(config)
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(diff_ids)
                .build()?,
        )
        .history(history)
        .build()?;
    let mut json = serde_json::to_value(&image)?;
    if let Some(obj) = json["config"].as_object_mut() {
        obj.extend(fields.clone());
    }
    super::digest::stable_json(&json)
}
