//! `wharf search REGISTRY/TERM`: what a registry holds.
//!
//! A registry has no search API; it has a catalog (`GET /v2/_catalog`,
//! every repository name, a page at a time, the next page named by a
//! `Link: <…>; rel="next"` header) and per repository a tag list
//! (`GET /v2/<repo>/tags/list`). Searching is filtering the catalog.

use anyhow::Context;
use serde::Deserialize;

use super::client::{check, header, small_body, Client};
use super::{Options, MANIFEST_MAX};

/// One repository that matched, with its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub repository: String,
    pub tags: Vec<String>,
}

#[derive(Deserialize)]
struct Catalog {
    #[serde(default)]
    repositories: Vec<String>,
}

#[derive(Deserialize)]
struct TagList {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

/// The repositories of `registry` whose name contains `term` (all of
/// them for an empty term), sorted, each with its tags.
pub fn search(registry: &str, term: &str, opts: &Options) -> anyhow::Result<Vec<Found>> {
    let mut c = Client::connect(registry, opts)?;
    c.authorize(&["registry:catalog:*".to_string()])?;
    let mut names = Vec::new();
    let mut page = Some("/v2/_catalog?n=1000".to_string());
    while let Some(p) = page.take() {
        let mut resp = c.get(&p, &[])?;
        check(&mut resp, "the catalog", &c.host)?;
        page = header(&resp, "link").and_then(|l| next_page(&l));
        let body = small_body(&mut resp, MANIFEST_MAX, "the catalog")?;
        let cat: Catalog =
            serde_json::from_slice(&body).context("the catalog is not valid JSON")?;
        names.extend(cat.repositories.into_iter().filter(|r| r.contains(term)));
    }
    names.sort();
    let mut out = Vec::new();
    for repo in names {
        c.authorize(&[format!("repository:{repo}:pull")])?;
        let what = format!("the tags of {repo}");
        let mut resp = c.get(&format!("/v2/{repo}/tags/list"), &[])?;
        check(&mut resp, &what, &c.host)?;
        let body = small_body(&mut resp, MANIFEST_MAX, &what)?;
        let list: TagList =
            serde_json::from_slice(&body).with_context(|| format!("{what} are not valid JSON"))?;
        let mut tags = list.tags.unwrap_or_default();
        tags.sort();
        out.push(Found {
            repository: repo,
            tags,
        });
    }
    Ok(out)
}

/// `</v2/_catalog?last=x&n=100>; rel="next"` → `/v2/_catalog?last=x&n=100`.
fn next_page(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, rel) = part.split_once(';')?;
        rel.contains("rel=\"next\"").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_header_names_the_next_page() {
        assert_eq!(
            next_page(r#"</v2/_catalog?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/_catalog?last=b&n=2")
        );
        assert_eq!(next_page(r#"</x>; rel="prev""#), None);
    }
}
