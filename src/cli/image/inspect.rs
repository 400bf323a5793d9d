//! `wharf image inspect`: the JSON shape of `docker image inspect` (Id,
//! RepoTags, RepoDigests, Created, Config, Architecture, Os, Size,
//! RootFS.Layers, History), filled from the OCI config and manifest.

use serde_json::{json, Value};

use crate::image::reference::Reference;
use crate::image::store::Image;

pub fn json(i: &Image) -> anyhow::Result<Value> {
    let refs: Vec<Reference> = i
        .tags
        .iter()
        .filter_map(|t| Reference::parse(t).ok())
        .collect();
    let mut repo_digests: Vec<String> = refs
        .iter()
        .map(|r| format!("{}@{}", r.familiar_repository(), i.manifest_digest))
        .collect();
    repo_digests.dedup();
    let c = &i.config;
    let mut v = json!({
        "Id": i.id().to_string(),
        "RepoTags": refs.iter().map(Reference::familiar).collect::<Vec<_>>(),
        "RepoDigests": repo_digests,
        "Parent": "",
        "Comment": c.history().as_ref().and_then(|h| h.last()).and_then(|h| h.comment().clone()).unwrap_or_default(),
        "Created": c.created().clone().unwrap_or_default(),
        "Author": c.author().clone().unwrap_or_default(),
        "Config": serde_json::to_value(c.config().clone().unwrap_or_default())?,
        "Architecture": c.architecture().to_string(),
        "Os": c.os().to_string(),
        "Size": i.size,
        "RootFS": { "Type": c.rootfs().typ(), "Layers": c.rootfs().diff_ids() },
        "Metadata": { "ManifestDigest": i.manifest_digest.to_string(), "MediaType": i.manifest.media_type().as_ref().map(|m| m.to_string()) },
    });
    // Docker prints Variant only when the image has one.
    if let Some(variant) = c.variant() {
        v["Variant"] = json!(variant);
    }
    Ok(v)
}
