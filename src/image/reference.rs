//! Image names, as Docker's reference grammar (distribution/reference)
//! defines them:
//!
//! ```text
//! reference  := name [ ":" tag ] [ "@" digest ]
//! name       := [ domain "/" ] path-component ( "/" path-component )*
//! domain     := host [ ":" port ]          (a first component with "." or ":", or "localhost")
//! path-comp  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//! tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//! ```
//!
//! A name without a domain is on Docker Hub (`docker.io`), and a one-part
//! Hub name is under `library/`: `busybox` is `docker.io/library/busybox`.
//! With neither tag nor digest the tag is `latest`. The store keeps the
//! full form; people are shown the familiar one, as `docker images` does.

use std::fmt;

use anyhow::{bail, Context};
use oci_spec::image::Digest;

/// The registry a name without a domain belongs to.
const DEFAULT_DOMAIN: &str = "docker.io";
/// A name is at most 255 characters, domain included.
const NAME_MAX: usize = 255;

/// A parsed, normalized image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// `docker.io`, `localhost:5000`, ...
    pub domain: String,
    /// `library/busybox`, `team/app`.
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parse a reference as `docker pull` would; the tag defaults to latest
    /// unless a digest is given.
    pub fn parse(s: &str) -> anyhow::Result<Reference> {
        Self::parse_inner(s).with_context(|| format!("invalid reference format {s:?}"))
    }

    fn parse_inner(s: &str) -> anyhow::Result<Reference> {
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (r, Some(super::digest::parse(d)?)),
            None => (s, None),
        };
        let (name, tag) = split_tag(rest);
        if let Some(t) = tag {
            check_tag(t)?;
        }
        if name.len() > NAME_MAX {
            bail!("repository name is longer than {NAME_MAX} characters");
        }
        if name.len() == 64 && name.chars().all(|c| c.is_ascii_hexdigit()) {
            bail!("a 64-character hexadecimal string is an image ID, not a repository name");
        }
        let (domain, path) = split_domain(name);
        check_domain(&domain)?;
        check_path(&path)?;
        let tag = match (tag, &digest) {
            (None, None) => Some("latest".to_string()),
            (t, _) => t.map(str::to_string),
        };
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// `domain/path`: the repository, without tag or digest.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The repository as people write it: `busybox`, `team/app`,
    /// `localhost:5000/team/app`.
    pub fn familiar_repository(&self) -> String {
        if self.domain != DEFAULT_DOMAIN {
            return self.repository();
        }
        self.path
            .strip_prefix("library/")
            .filter(|p| !p.contains('/'))
            .unwrap_or(&self.path)
            .to_string()
    }

    /// `repository:tag` in full: the key of the tag store.
    pub fn tagged(&self) -> Option<String> {
        self.tag
            .as_ref()
            .map(|t| format!("{}:{t}", self.repository()))
    }

    /// `busybox:latest`, as `docker images` and RepoTags show it.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_repository();
        if let Some(t) = &self.tag {
            s = format!("{s}:{t}");
        }
        if let Some(d) = &self.digest {
            s = format!("{s}@{d}");
        }
        s
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repository())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// The tag follows the last `:` after the last `/` (a `:` before it is a
/// port: `localhost:5000/app`).
fn split_tag(s: &str) -> (&str, Option<&str>) {
    let slash = s.rfind('/').map_or(0, |i| i + 1);
    match s[slash..].rfind(':') {
        Some(i) => (&s[..slash + i], Some(&s[slash + i + 1..])),
        None => (s, None),
    }
}

/// Docker's rule: the first component is a domain when it has a `.` or a
/// `:`, is `localhost`, or has capitals (paths never do).
fn split_domain(name: &str) -> (String, String) {
    let (domain, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    if domain == DEFAULT_DOMAIN && !path.contains('/') {
        return (domain, format!("library/{path}"));
    }
    (domain, path)
}

fn check_tag(t: &str) -> anyhow::Result<()> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let ok = t.len() <= 128
        && t.chars().next().is_some_and(word)
        && t.chars().all(|c| word(c) || c == '.' || c == '-');
    if !ok {
        bail!("tag {t:?} is not valid: up to 128 of [A-Za-z0-9_.-], not starting with . or -");
    }
    Ok(())
}

fn check_domain(d: &str) -> anyhow::Result<()> {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || d.starts_with('[') => (h, Some(p)),
        _ => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) {
            bail!("domain {d:?} has an invalid port");
        }
    }
    if host.starts_with('[') && host.ends_with(']') {
        let inner = &host[1..host.len() - 1];
        if inner.parse::<std::net::Ipv6Addr>().is_err() {
            bail!("domain {d:?} is not a valid IPv6 address");
        }
        return Ok(());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if !host.split('.').all(label_ok) {
        bail!("domain {d:?} is not a valid host name");
    }
    Ok(())
}

fn check_path(path: &str) -> anyhow::Result<()> {
    for comp in path.split('/') {
        if comp.chars().any(|c| c.is_ascii_uppercase()) {
            bail!("repository name must be lowercase");
        }
        if !path_component_ok(comp) {
            bail!("{comp:?} is not a valid name component: [a-z0-9] separated by '.', '_', '__' or '-'");
        }
    }
    Ok(())
}

/// `[a-z0-9]+ ( sep [a-z0-9]+ )*` with sep one of `.`, `_`, `__`, `-+`.
fn path_component_ok(c: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let b = c.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && alnum(b[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == b.len() {
            return true;
        }
        let sep = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let ok = match &c[sep..i] {
            "." | "_" | "__" => true,
            s => s.bytes().all(|x| x == b'-'),
        };
        if !ok || i == b.len() {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    #[test]
    fn normalizes_as_docker() {
        assert_eq!(full("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(full("busybox:1"), "docker.io/library/busybox:1");
        assert_eq!(full("team/app"), "docker.io/team/app:latest");
        assert_eq!(
            full("localhost:5000/team/app:v2"),
            "localhost:5000/team/app:v2"
        );
        assert_eq!(full("localhost/app"), "localhost/app:latest");
        assert_eq!(full("quay.io/a/b/c:1.0-rc_1"), "quay.io/a/b/c:1.0-rc_1");
        assert_eq!(full("[::1]:5000/app:x"), "[::1]:5000/app:x");
    }

    #[test]
    fn a_digest_means_no_default_tag() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("busybox@{d}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.unwrap().to_string(), d);
        let r = Reference::parse(&format!("busybox:1@{d}")).unwrap();
        assert_eq!(r.tag.as_deref(), Some("1"));
    }

    #[test]
    fn familiar_names_drop_the_hub() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(r.familiar(), "busybox:latest");
        assert_eq!(
            Reference::parse("team/app:v2").unwrap().familiar(),
            "team/app:v2"
        );
        let r = Reference::parse("localhost:5000/app").unwrap();
        assert_eq!(r.familiar(), "localhost:5000/app:latest");
    }

    #[test]
    fn refuses_what_docker_refuses() {
        for bad in [
            "",
            "Busybox",
            "busybox:",
            "busybox:-x",
            "busybox:.x",
            "a//b",
            "a/",
            "-a",
            "a-",
            "a..b",
            "a___b",
            "localhost:port/app",
            "busybox@sha256:abc",
            "busybox@md5:00",
            &"a".repeat(256),
            &format!("busybox:{}", "t".repeat(129)),
            &"f".repeat(64),
        ] {
            assert!(Reference::parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn accepts_separators_the_grammar_allows() {
        for ok in ["a.b", "a_b", "a__b", "a---b", "a/b.c_d", "x:Tag_1.2-3"] {
            assert!(Reference::parse(ok).is_ok(), "refused {ok:?}");
        }
    }

    #[test]
    fn errors_name_the_input() {
        let e = format!("{:#}", Reference::parse("Bad/Name").unwrap_err());
        assert!(e.contains("\"Bad/Name\""), "{e}");
    }
}
