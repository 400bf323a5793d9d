//! `wharf import`: a root filesystem tar (plain, gzip or zstd) becomes a
//! one-layer image, as `docker import` makes one: the tar is the layer
//! (stored as given), and a config is written for it with `--change`
//! instructions applied.

use std::io::Read;

use anyhow::Context;
use oci_spec::image::{
    Arch, Config, ConfigBuilder, Digest, HistoryBuilder, ImageConfigurationBuilder, Os,
    RootFsBuilder,
};

use super::ingest::{Expect, Ingest};
use super::reference::Reference;
use super::store::Store;
use super::{changes, time, Progress};

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Dockerfile instructions for the config: `CMD ["/bin/sh"]`, ...
    pub changes: Vec<String>,
    /// The history comment (`docker import -m`).
    pub message: Option<String>,
}

/// The image made: its ID (config digest) and manifest digest.
#[derive(Debug, Clone)]
pub struct Imported {
    pub id: Digest,
    pub manifest: Digest,
}

pub fn import(
    store: &Store,
    tar: impl Read,
    tag: Option<&Reference>,
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> anyhow::Result<Imported> {
    let mut config = Config::default();
    for c in &opts.changes {
        changes::apply(&mut config, c).with_context(|| format!("--change {c:?}"))?;
    }
    let mut ingest = Ingest::new(store, progress)?;
    let expect = Expect {
        name: "the imported tar".into(),
        blob: None,
        compression: None,
        diff_id: None,
    };
    let diff_id = ingest.layer(tar, expect)?.diff_id.clone();
    let config_raw = config_json(config, &diff_id, opts)?;
    let id = super::digest::of_bytes(&config_raw);
    let tags: Vec<Reference> = tag.into_iter().cloned().collect();
    let manifest = ingest.publish(&config_raw, None, &tags)?;
    Ok(Imported { id, manifest })
}

fn config_json(config: Config, diff_id: &Digest, opts: &ImportOptions) -> anyhow::Result<Vec<u8>> {
    let created = time::rfc3339(time::now());
    let mut history = HistoryBuilder::default()
        .created(created.clone())
        .created_by("wharf import");
    if let Some(m) = &opts.message {
        history = history.comment(m.clone());
    }
    let has_config = config != ConfigBuilder::default().build()?;
    let mut b = ImageConfigurationBuilder::default()
        .created(created)
        .architecture(host_arch())
        .os(Os::Linux)
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(vec![diff_id.to_string()])
                .build()?,
        )
        .history(vec![history.build()?]);
    if has_config {
        b = b.config(config);
    }
    super::digest::stable_json(&b.build()?)
}

/// The GOARCH name of this machine, as image configs spell it.
pub fn host_arch() -> Arch {
    match std::env::consts::ARCH {
        "x86_64" => Arch::Amd64,
        "aarch64" => Arch::ARM64,
        "x86" => Arch::i386,
        "arm" => Arch::ARM,
        "riscv64" => Arch::RISCV64,
        "powerpc64" => Arch::PowerPC64le,
        "s390x" => Arch::s390x,
        other => Arch::Other(other.to_string()),
    }
}
