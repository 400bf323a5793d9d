//! `wharf push`: an image from the store to a registry.
//!
//! Blobs first, the manifest last: a registry accepts a manifest only
//! when every blob it names is there, so a push cut short leaves no image
//! that points at nothing. For each blob (each layer, then the config):
//!
//! 1. `HEAD /v2/<repo>/blobs/<digest>`: 200 means the registry has it in
//!    this repository: nothing to send.
//! 2. If another repository on the same registry is known (from the
//!    store's tags) to hold it, `POST …/blobs/uploads/?mount=<digest>&from=<repo>`:
//!    201 means the registry linked it over without a byte sent.
//! 3. Otherwise an upload session (`POST …/blobs/uploads/` → 202 and a
//!    Location), fed in chunks by `PATCH` with `Content-Range`, closed by
//!    `PUT <location>&digest=<digest>`; the registry hashes what it got and
//!    refuses a mismatch.
//!
//! Then `PUT /v2/<repo>/manifests/<tag>` with the manifest's exact bytes,
//! so the registry names it with the same digest the store has.

use std::collections::HashMap;
use std::io::Read;

use anyhow::{bail, Context};
use oci_spec::image::Digest;
use ureq::http::Method;

use super::client::{check, header, Client};
use super::{Options, Transfers};
use crate::image::{digest, tags, Image, Reference, Store};

/// The bytes sent per PATCH: memory stays bounded whatever the layer size.
const CHUNK: usize = 16 << 20;

/// What happened to one blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// The registry already had it.
    Exists,
    /// Linked from another repository of the registry.
    Mounted(String),
    Uploaded,
}

/// An image pushed.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub manifest: Digest,
    /// Each layer blob, then the config, and what was done with it.
    pub blobs: Vec<(Digest, Sent)>,
}

pub fn push(
    store: &Store,
    name: &str,
    opts: &Options,
    bars: &dyn Transfers,
) -> anyhow::Result<Pushed> {
    let r = Reference::parse(name)?;
    let image = tags::resolve(store, name)?;
    let raw = store.read_blob(&image.manifest_digest)?;
    let media_type = manifest_media_type(&raw)?;
    let sources = mount_sources(store, &r, &image)?;
    let mut c = Client::connect(&r.domain, opts)?;
    let mut scopes = vec![format!("repository:{}:pull,push", r.path)];
    let mut from: Vec<&String> = sources.values().collect();
    from.sort();
    from.dedup();
    scopes.extend(from.iter().map(|p| format!("repository:{p}:pull")));
    c.authorize(&scopes)?;
    let mut blobs = Vec::new();
    let config = image.manifest.config();
    let all = image
        .manifest
        .layers()
        .iter()
        .chain(std::iter::once(config));
    for desc in all {
        let d = desc.digest();
        let sent = send_blob(&c, store, &r.path, d, desc.size(), sources.get(d), bars)
            .with_context(|| format!("cannot push blob {d}"))?;
        blobs.push((d.clone(), sent));
    }
    let target = match (&r.tag, &r.digest) {
        (Some(t), _) => t.clone(),
        (None, Some(d)) => d.to_string(),
        (None, None) => bail!("{name}: neither a tag nor a digest"),
    };
    let what = format!("manifest {}:{target}", r.path);
    let mut resp = c.send(
        Method::PUT,
        &format!("/v2/{}/manifests/{target}", r.path),
        &[("Content-Type", &media_type)],
        &raw,
    )?;
    check(&mut resp, &what, &c.host)?;
    if let Some(h) = header(&resp, "docker-content-digest") {
        digest::verify(
            &format!("{what} as the registry stored it"),
            &image.manifest_digest,
            &digest::parse(&h)?,
        )?;
    }
    Ok(Pushed {
        manifest: image.manifest_digest,
        blobs,
    })
}

fn manifest_media_type(raw: &[u8]) -> anyhow::Result<String> {
    let doc: serde_json::Value =
        serde_json::from_slice(raw).context("the stored manifest is not valid JSON")?;
    Ok(doc
        .get("mediaType")
        .and_then(|m| m.as_str())
        .unwrap_or("application/vnd.oci.image.manifest.v1+json")
        .to_string())
}

/// For each blob of `image`, another repository on the same registry that
/// the store has an image of with that blob: where to mount it from.
fn mount_sources(
    store: &Store,
    target: &Reference,
    image: &Image,
) -> anyhow::Result<HashMap<Digest, String>> {
    let blobs_of = |i: &Image| -> Vec<Digest> {
        let layers = i.manifest.layers().iter().map(|l| l.digest().clone());
        layers
            .chain([i.manifest.config().digest().clone()])
            .collect()
    };
    let ours = blobs_of(image);
    let mut out = HashMap::new();
    for other in store.images()? {
        let theirs = blobs_of(&other);
        for t in &other.tags {
            let Ok(r) = Reference::parse(t) else { continue };
            if r.domain != target.domain || r.path == target.path {
                continue;
            }
            for d in ours.iter().filter(|d| theirs.contains(d)) {
                out.entry(d.clone()).or_insert_with(|| r.path.clone());
            }
        }
    }
    Ok(out)
}

fn send_blob(
    c: &Client,
    store: &Store,
    repo: &str,
    d: &Digest,
    size: u64,
    from: Option<&String>,
    bars: &dyn Transfers,
) -> anyhow::Result<Sent> {
    let head = c.send(Method::HEAD, &format!("/v2/{repo}/blobs/{d}"), &[], ())?;
    if head.status() == 200 {
        return Ok(Sent::Exists);
    }
    let mut start = format!("/v2/{repo}/blobs/uploads/");
    if let Some(src) = from {
        start = format!("{start}?mount={d}&from={src}");
    }
    let mut resp = c.send(Method::POST, &start, &[], ())?;
    if from.is_some() && resp.status() == 201 {
        return Ok(Sent::Mounted(from.cloned().unwrap_or_default()));
    }
    check(&mut resp, "a new upload", &c.host)?;
    let mut location = header(&resp, "location").context("the registry gave no upload Location")?;
    let mut file = store.open_blob(d)?;
    let bar = bars.start(super::short(d), size);
    let mut buf = vec![0u8; CHUNK];
    let mut offset = 0u64;
    loop {
        let n = read_full(&mut file, &mut buf)?;
        if n == 0 {
            break;
        }
        let range = format!("{offset}-{}", offset + n as u64 - 1);
        let mut resp = c.send(
            Method::PATCH,
            &location,
            &[
                ("Content-Type", "application/octet-stream"),
                ("Content-Range", &range),
            ],
            &buf[..n],
        )?;
        check(&mut resp, &format!("bytes {range}"), &c.host)?;
        location = header(&resp, "location").unwrap_or(location);
        offset += n as u64;
        bar.advance(n as u64);
    }
    if offset != size {
        bail!("the store's blob has {offset} bytes, the manifest says {size}");
    }
    let sep = if location.contains('?') { '&' } else { '?' };
    let mut resp = c.send(Method::PUT, &format!("{location}{sep}digest={d}"), &[], ())?;
    check(&mut resp, "the finished upload", &c.host)?;
    Ok(Sent::Uploaded)
}

/// Fill `buf` as far as the file goes.
fn read_full(f: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
