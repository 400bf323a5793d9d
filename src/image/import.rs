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

/// Import a directory tree (`wharf rootfs create --image`): it is exported
/// as a layer by chapter 06's export, without its device nodes: an image
/// ships no devices (a container's /dev is made when it starts), and the
/// store refuses layers that carry them.
pub fn import_dir(
    store: &Store,
    dir: &std::path::Path,
    tag: Option<&Reference>,
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> anyhow::Result<Imported> {
    let mut tar = Vec::new();
    crate::layer::export(dir, &mut tar)?;
    import(store, &without_devices(&tar)[..], tag, opts, progress)
}

/// The tar with its character and block device members left out, block
/// by block (the PAX or GNU records that belong to a device go with it;
/// everything else is kept byte for byte).
fn without_devices(tar: &[u8]) -> Vec<u8> {
    const BLOCK: usize = 512;
    let (mut out, mut pending, mut pos) = (Vec::with_capacity(tar.len()), Vec::new(), 0);
    while pos + BLOCK <= tar.len() {
        let header = &tar[pos..pos + BLOCK];
        if header.iter().all(|&b| b == 0) {
            break; // the end-of-archive blocks
        }
        let data = (super::trailer::member_size(header) as usize).div_ceil(BLOCK) * BLOCK;
        let member = &tar[pos..(pos + BLOCK + data).min(tar.len())];
        match header[156] {
            b'x' | b'L' | b'K' => pending.extend_from_slice(member),
            b'3' | b'4' => pending.clear(),
            _ => {
                out.append(&mut pending);
                out.extend_from_slice(member);
            }
        }
        pos += BLOCK + data;
    }
    out.extend_from_slice(&[0u8; 2 * BLOCK]);
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_members_are_dropped_and_the_rest_kept() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Char);
        h.set_size(0);
        b.append_pax_extensions([("SCHILY.xattr.user.x", &b"1"[..])])
            .unwrap();
        b.append_data(&mut h, "dev/null", std::io::empty()).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        b.append_data(&mut h, "etc/file", &b"abc"[..]).unwrap();
        let kept = without_devices(&b.into_inner().unwrap());
        let listed = crate::layer::list(&kept[..]).unwrap();
        let names: Vec<&str> = listed.iter().map(|l| l.path.as_str()).collect();
        assert_eq!(names, ["etc/file"]);
        assert!(
            listed[0].xattrs.is_empty(),
            "the device's PAX record went with it"
        );
    }
}
