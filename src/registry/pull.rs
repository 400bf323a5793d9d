//! `wharf pull`: an image from a registry into the store.
//!
//! 1. `GET /v2/<repo>/manifests/<tag|digest>`, accepting OCI and Docker
//!    manifests and indexes. Its bytes are hashed: the digest must match
//!    the one asked for, and the `Docker-Content-Digest` the registry
//!    claims. An index (a multi-platform image) gives the digest of the
//!    manifest for this machine, fetched the same way.
//! 2. The config blob, small, checked against its digest.
//! 3. The layers the store lacks, cut off past their announced size. The
//!    first streams straight into the store's one ingest path, which
//!    hashes the blob and its uncompressed tar (DiffID) as it unpacks;
//!    meanwhile the others download, several at once, hashed and checked
//!    on the way, to spool files under the store's tmp/, and are taken in
//!    by the same path in their turn. Only when every digest matched is
//!    anything published.
//!
//! A refused image leaves the store as it was: everything lived in tmp/.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use anyhow::{bail, Context};
use oci_spec::image::{Descriptor, Digest, ImageIndex, ImageManifest, MediaType};
use ureq::http::Response;
use ureq::Body;

use super::client::{check, header, small_body, Client};
use super::{Options, Transfers, CONFIG_MAX, MANIFEST_MAX};
use crate::image::compress::Compression;
use crate::image::digest::{self, Hashing};
use crate::image::ingest::{Expect, Ingest};
use crate::image::load::{check_config_type, diff_ids_of, for_this_machine, no_repeats};
use crate::image::{tags, Image, Metered, Quiet, Reference, Store};

/// The manifest types a registry may answer with, the ones we prefer first.
const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json";

/// How many layers download at once.
const PARALLEL: usize = 3;

/// An image pulled.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub reference: Reference,
    pub manifest: Digest,
    pub id: Digest,
    /// Layers fetched over the network (0: the store had them all).
    pub downloaded: usize,
}

/// What `wharf run` calls: the image named `name` from the store, pulled
/// first (quietly, with the default options) when the store lacks it.
pub fn pull_if_missing(store: &Store, name: &str) -> anyhow::Result<Image> {
    if let Ok(image) = tags::resolve(store, name) {
        return Ok(image);
    }
    pull(store, name, &Options::default(), &super::Silent)?;
    tags::resolve(store, name)
}

pub fn pull(
    store: &Store,
    name: &str,
    opts: &Options,
    bars: &dyn Transfers,
) -> anyhow::Result<Pulled> {
    let r = Reference::parse(name)?;
    let mut c = Client::connect(&r.domain, opts)?;
    c.authorize(&[format!("repository:{}:pull", r.path)])?;
    let wanted = match (&r.digest, &r.tag) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.clone(),
        (None, None) => bail!("{name}: neither a tag nor a digest"),
    };
    let (mut raw, mut media_type) = manifest(&c, &r.path, &wanted, r.digest.as_ref())?;
    if is_index(&media_type) {
        let index: ImageIndex = serde_json::from_slice(&raw)
            .with_context(|| format!("the index of {name} is not valid JSON"))?;
        let mine = for_this_machine(&index)
            .with_context(|| format!("{name} has no image for this machine's platform"))?;
        let d = mine.digest().clone();
        (raw, media_type) = manifest(&c, &r.path, d.as_ref(), Some(&d))?;
    }
    if is_index(&media_type) {
        bail!("{name}: an index inside an index is not an image");
    }
    let m: ImageManifest = serde_json::from_slice(&raw)
        .with_context(|| format!("the manifest of {name} is not valid JSON"))?;
    check_config_type(m.config())?;
    let config = small_blob(&c, &r.path, m.config())?;
    let diff_ids = diff_ids_of(&config, m.layers().len())?;
    no_repeats(m.layers().iter().map(|l| l.digest().as_ref()))?;
    let mut ingest = Ingest::new(store, &Quiet)?;
    let downloaded = layers(&c, &r.path, &mut ingest, &m, &diff_ids, bars)?;
    let tags: Vec<Reference> = match &r.tag {
        Some(_) => vec![Reference {
            digest: None,
            ..r.clone()
        }],
        None => Vec::new(),
    };
    let manifest = ingest.publish(&config, Some((&raw, media_type)), &tags)?;
    Ok(Pulled {
        reference: r,
        manifest,
        id: digest::of_bytes(&config),
        downloaded,
    })
}

fn is_index(mt: &MediaType) -> bool {
    matches!(
        mt.to_string().as_str(),
        "application/vnd.oci.image.index.v1+json"
            | "application/vnd.docker.distribution.manifest.list.v2+json"
    )
}

/// A manifest's bytes and media type, its digest checked.
fn manifest(
    c: &Client,
    repo: &str,
    wanted: &str,
    expected: Option<&Digest>,
) -> anyhow::Result<(Vec<u8>, MediaType)> {
    let what = format!("manifest {repo}:{wanted}");
    let mut resp = c.get(
        &format!("/v2/{repo}/manifests/{wanted}"),
        &[("Accept", ACCEPT)],
    )?;
    check(&mut resp, &what, &c.host)?;
    let claimed = header(&resp, "docker-content-digest");
    let content_type = header(&resp, "content-type");
    let raw = small_body(&mut resp, MANIFEST_MAX, &what)?;
    let got = digest::of_bytes(&raw);
    if let Some(h) = claimed {
        let claimed =
            digest::parse(&h).with_context(|| format!("{what}: bad Docker-Content-Digest"))?;
        digest::verify(&format!("{what} (Docker-Content-Digest)"), &claimed, &got)?;
    }
    if let Some(want) = expected {
        digest::verify(&what, want, &got)?;
    }
    let doc: serde_json::Value =
        serde_json::from_slice(&raw).with_context(|| format!("{what} is not valid JSON"))?;
    if doc.get("schemaVersion").and_then(|v| v.as_u64()) == Some(1) {
        bail!("{what} is a Docker schema 1 manifest, which no current registry should serve");
    }
    let media_type = doc
        .get("mediaType")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .or(content_type)
        .with_context(|| format!("{what} says neither its mediaType nor its Content-Type"))?;
    Ok((raw, MediaType::from(media_type.as_str())))
}

/// A small blob (the config), checked against its descriptor.
fn small_blob(c: &Client, repo: &str, desc: &Descriptor) -> anyhow::Result<Vec<u8>> {
    let what = format!("blob {}", desc.digest());
    let mut resp = c.get(&format!("/v2/{repo}/blobs/{}", desc.digest()), &[])?;
    check(&mut resp, &what, &c.host)?;
    let raw = small_body(&mut resp, CONFIG_MAX.min(desc.size()), &what)?;
    digest::verify(&what, desc.digest(), &digest::of_bytes(&raw))?;
    Ok(raw)
}

/// Take every layer in, in order: reused when the store has it unpacked
/// on the same parent, read from the store's blob when only the blob is
/// there, else downloaded. The first layer to download streams straight
/// into the ingest pass (a one-layer image is never spooled); the others
/// download meanwhile, in parallel, to spool files. Returns how many were
/// downloaded.
fn layers(
    c: &Client,
    repo: &str,
    ingest: &mut Ingest,
    m: &ImageManifest,
    diff_ids: &[Digest],
    bars: &dyn Transfers,
) -> anyhow::Result<usize> {
    let store = ingest.store;
    let n = m.layers().len();
    let fetch: Vec<usize> = (0..n)
        .filter(|i| !store.has_blob(m.layers()[*i].digest()))
        .collect();
    let spool = |i: usize| ingest.work.path.join(format!("download-{i}"));
    let spools: Vec<PathBuf> = (0..n).map(spool).collect();
    let stop = AtomicBool::new(false);
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, anyhow::Result<()>)>();
    std::thread::scope(|s| -> anyhow::Result<usize> {
        for _ in 0..PARALLEL.min(fetch.len().saturating_sub(1)) {
            let tx = tx.clone();
            let (fetch, spools, stop, next) = (&fetch, &spools, &stop, &next);
            s.spawn(move || loop {
                // fetch[0] is streamed by the ingest loop itself.
                let k = 1 + next.fetch_add(1, Ordering::SeqCst);
                let Some(&i) = fetch.get(k) else { break };
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let r = download(c, repo, &m.layers()[i], &spools[i], bars);
                if tx.send((i, r)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let from = Source { c, repo, bars };
        let result = take_in_order(ingest, m, diff_ids, &fetch, &spools, &rx, &from);
        // Whatever failed, the other downloads stop at their next layer.
        stop.store(true, Ordering::SeqCst);
        result
    })
}

/// Where layers come from: a registry's repository, with a bar each.
struct Source<'a> {
    c: &'a Client,
    repo: &'a str,
    bars: &'a dyn Transfers,
}

fn take_in_order(
    ingest: &mut Ingest,
    m: &ImageManifest,
    diff_ids: &[Digest],
    fetch: &[usize],
    spools: &[PathBuf],
    rx: &mpsc::Receiver<(usize, anyhow::Result<()>)>,
    from: &Source,
) -> anyhow::Result<usize> {
    let n = m.layers().len();
    let mut done: HashMap<usize, anyhow::Result<()>> = HashMap::new();
    for (i, (l, diff)) in m.layers().iter().zip(diff_ids).enumerate() {
        let expect = Expect {
            name: format!("layer {} of {n} ({})", i + 1, l.digest()),
            blob: Some((l.digest().clone(), l.size())),
            compression: Some(
                Compression::of_media_type(l.media_type())
                    .with_context(|| format!("layer {}", l.digest()))?,
            ),
            diff_id: Some(diff.clone()),
        };
        if !fetch.contains(&i) {
            if !ingest.reuse(&expect)? {
                let blob = ingest.store.open_blob(l.digest())?;
                ingest.layer(blob, expect)?;
            }
            continue;
        }
        if fetch.first() == Some(&i) {
            // Hashed and checked by the ingest pass as it reads.
            let mut resp = get_blob(from.c, from.repo, l)?;
            let bar = from.bars.start(super::short(l.digest()), l.size());
            let body = resp.body_mut().with_config().limit(l.size()).reader();
            ingest.layer(Metered::new(body, &*bar), expect)?;
            continue;
        }
        while !done.contains_key(&i) {
            let (k, r) = rx
                .recv()
                .context("a download thread stopped without a word")?;
            done.insert(k, r);
        }
        done.remove(&i).expect("just seen")?;
        ingest.layer_file(spools[i].clone(), expect)?;
    }
    Ok(fetch.len())
}

/// Stream one blob to `to`, hashed on the way, at most the size its
/// descriptor announces, and flushed to disk. A wrong or short blob is
/// refused here, before the ingest pass reads it.
fn download(
    c: &Client,
    repo: &str,
    desc: &Descriptor,
    to: &std::path::Path,
    bars: &dyn Transfers,
) -> anyhow::Result<()> {
    let d = desc.digest();
    let what = format!("blob {d}");
    let mut resp = get_blob(c, repo, desc)?;
    let bar = bars.start(super::short(d), desc.size());
    let body = resp.body_mut().with_config().limit(desc.size()).reader();
    let mut src = Hashing::new(Metered::new(body, &*bar));
    let mut f = File::create(to).with_context(|| format!("cannot create {}", to.display()))?;
    io::copy(&mut src, &mut f).map_err(|e| anyhow::anyhow!("{what} broke off: {e}"))?;
    let (got, size, _) = src.finish();
    if size != desc.size() {
        bail!(
            "{what} is truncated: the registry sent {size} of {} bytes",
            desc.size()
        );
    }
    digest::verify(&what, d, &got.expect("hashed"))?;
    f.sync_all()?;
    Ok(())
}

/// `GET` a blob: the response, once the registry said yes.
fn get_blob(c: &Client, repo: &str, desc: &Descriptor) -> anyhow::Result<Response<Body>> {
    let d = desc.digest();
    let mut resp = c.get(&format!("/v2/{repo}/blobs/{d}"), &[])?;
    check(&mut resp, &format!("blob {d}"), &c.host)?;
    Ok(resp)
}
