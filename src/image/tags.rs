//! Names for images: `repository:tag` -> manifest digest, kept in one file
//! (tags.json) replaced atomically, and the ways a command may name an
//! image: a reference (`busybox`, `app:v2`, `app@sha256:…`), its ID
//! (`sha256:<config digest>`) or a unique prefix of that ID.

use anyhow::{bail, Context};
use oci_spec::image::Digest;

use super::reference::Reference;
use super::store::{Image, Store};

/// Point each tag at `manifest` (a tag moves; the image it left keeps its
/// other names, or becomes dangling).
pub fn set(store: &Store, refs: &[Reference], manifest: &Digest) -> anyhow::Result<()> {
    if refs.is_empty() {
        return Ok(());
    }
    let mut tags = store.tags()?;
    for r in refs {
        let key = r
            .tagged()
            .with_context(|| format!("{r} has no tag to set"))?;
        tags.insert(key, manifest.clone());
    }
    store.write_tags(&tags)
}

/// `wharf tag SOURCE TARGET`.
pub fn tag(store: &Store, source: &str, target: &str) -> anyhow::Result<()> {
    let image = resolve(store, source)?;
    let target = Reference::parse(target)?;
    if target.digest.is_some() {
        bail!("cannot tag with a digest: {target}");
    }
    set(store, &[target], &image.manifest_digest)
}

/// Remove one tag; the image's digest if that was its last name.
pub fn untag(store: &Store, r: &Reference) -> anyhow::Result<Option<Digest>> {
    let mut tags = store.tags()?;
    let key = r.tagged().context("no tag")?;
    let Some(d) = tags.remove(&key) else {
        return Ok(None);
    };
    store.write_tags(&tags)?;
    Ok(Some(d))
}

/// Find an image by any of the names `docker` accepts.
/// The unpacked layers of the image `name`, lowest first, as an overlay's
/// lowerdirs: each is kept in the store under its ChainID, in overlay's
/// upper-dir form (whiteouts as 0/0 devices), so it can be mounted as it is.
pub fn layer_dirs(name: &str) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let store = Store::open(&crate::paths::state_root(), super::store::Lock::Shared)?;
    let image = resolve(&store, name)?;
    let chains = super::digest::chain_ids(&image.diff_ids()?);
    if chains.is_empty() {
        bail!("image {name} has no layers: there is no root filesystem to mount");
    }
    Ok(chains.iter().map(|c| store.layer_dir(c)).collect())
}

pub fn resolve(store: &Store, name: &str) -> anyhow::Result<Image> {
    let images = store.images()?;
    if let Some(hex) = id_prefix(name) {
        let hits: Vec<&Image> = images
            .iter()
            .filter(|i| super::digest::hex(i.id()).starts_with(hex))
            .collect();
        match hits.as_slice() {
            [one] => return Ok((*one).clone()),
            [] => {}
            _ if !tagged_exists(store, name) => {
                bail!(
                    "image ID prefix {name:?} is ambiguous: it matches {} images",
                    hits.len()
                )
            }
            _ => {}
        }
    }
    let r = Reference::parse(name)?;
    let found = match (&r.digest, r.tagged()) {
        (Some(d), _) => images
            .into_iter()
            .find(|i| &i.manifest_digest == d && same_repo(i, &r)),
        (None, Some(key)) => {
            let tags = store.tags()?;
            let d = tags.get(&key);
            images.into_iter().find(|i| Some(&i.manifest_digest) == d)
        }
        (None, None) => None,
    };
    found.with_context(|| format!("no such image: {}", r.familiar()))
}

fn tagged_exists(store: &Store, name: &str) -> bool {
    let Ok(r) = Reference::parse(name) else {
        return false;
    };
    let key = r.tagged().unwrap_or_default();
    store.tags().is_ok_and(|t| t.contains_key(&key))
}

/// An `name@digest` reference needs an image of that repository, unless
/// the image has no names at all (a dangling image is found by digest).
fn same_repo(i: &Image, r: &Reference) -> bool {
    let repo = format!("{}:", r.repository());
    i.tags.is_empty() || i.tags.iter().any(|t| t.starts_with(&repo))
}

/// The hex part when `name` can be an image ID or a prefix of one.
fn id_prefix(name: &str) -> Option<&str> {
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    let ok = !hex.is_empty()
        && hex.len() <= 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    ok.then_some(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_prefixes_are_lowercase_hex() {
        assert_eq!(id_prefix("sha256:abc"), Some("abc"));
        assert_eq!(id_prefix("0f3e"), Some("0f3e"));
        assert_eq!(id_prefix("busybox"), None);
        assert_eq!(id_prefix("ABC"), None);
        assert_eq!(id_prefix(""), None);
    }
}
