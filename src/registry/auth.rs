//! Who may do what on a registry.
//!
//! A registry that wants credentials answers 401 with a
//! `WWW-Authenticate` challenge. `Basic realm=…` means: send the user and
//! password with every request. `Bearer realm=URL,service=…,scope=…`
//! means: show them once to the token server at URL, which hands back a
//! short-lived token for that scope (`repository:team/app:pull,push`),
//! then send the token instead.
//!
//! Credentials live in the containers auth.json, the file podman, skopeo
//! and buildah share: `{"auths": {"HOST[:PORT]": {"auth":
//! base64("user:password")}}}`, mode 0600 because it holds passwords.
//! Its place: `$REGISTRY_AUTH_FILE`, else
//! `$XDG_RUNTIME_DIR/containers/auth.json`, else
//! `~/.config/containers/auth.json`. Docker's `~/.docker/config.json`
//! (the same `auths` shape) is read too, as podman does.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use base64::Engine;

/// A user and password for one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl Credentials {
    /// The `auth` field of auth.json, also the value of `Basic …`.
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", self.user, self.password))
    }

    fn decode(auth: &str) -> anyhow::Result<Credentials> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .context("its auth field is not base64")?;
        let text = String::from_utf8(raw).context("its auth field is not UTF-8")?;
        let (user, password) = text
            .split_once(':')
            .context("its auth field is not user:password")?;
        Ok(Credentials {
            user: user.to_string(),
            password: password.to_string(),
        })
    }
}

/// What a 401 asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

impl Challenge {
    /// Parse a `WWW-Authenticate` value: a scheme, then `key="value"`
    /// pairs separated by commas (a value may itself hold commas).
    pub fn parse(header: &str) -> anyhow::Result<Challenge> {
        let (scheme, rest) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
        let params = params(rest);
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => Ok(Challenge::Basic),
            "bearer" => Ok(Challenge::Bearer {
                realm: params
                    .get("realm")
                    .cloned()
                    .context("a Bearer challenge without a realm")?,
                service: params.get("service").cloned(),
            }),
            other => {
                bail!("the registry asks for {other:?} authentication, which wharf does not speak")
            }
        }
    }
}

fn params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = s.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let (value, next) = match after.strip_prefix('"') {
            Some(q) => q.split_once('"').unwrap_or((q, "")),
            None => after.split_once(',').unwrap_or((after, "")),
        };
        out.insert(key, value.to_string());
        rest = next.trim_start_matches(',').trim();
    }
    out
}

/// A token server's answer: `token`, or OAuth2's `access_token`.
#[derive(Debug, serde::Deserialize)]
pub struct TokenReply {
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub access_token: Option<String>,
}

/// The auth.json wharf writes (and reads first).
pub fn file() -> PathBuf {
    if let Some(p) = std::env::var_os("REGISTRY_AUTH_FILE").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(run) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        return Path::new(&run).join("containers/auth.json");
    }
    home().join(".config/containers/auth.json")
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

/// The credentials for `host`: from `explicit` if given, else from the
/// first of auth.json and Docker's config.json that has them.
pub fn lookup(host: &str, explicit: Option<&Path>) -> anyhow::Result<Option<Credentials>> {
    let files = match explicit {
        Some(f) => vec![f.to_path_buf()],
        None => vec![file(), home().join(".docker/config.json")],
    };
    for f in files {
        let doc = read(&f)?;
        let Some(auths) = doc.get("auths").and_then(|a| a.as_object()) else {
            continue;
        };
        let entry = auths.iter().find(|(k, _)| key_host(k) == key_host(host));
        if let Some(auth) = entry
            .and_then(|(_, v)| v.get("auth"))
            .and_then(|a| a.as_str())
        {
            let c = Credentials::decode(auth)
                .with_context(|| format!("{}: the entry for {host}", f.display()))?;
            return Ok(Some(c));
        }
    }
    Ok(None)
}

/// Docker writes keys as URLs (`https://index.docker.io/v1/`); podman as
/// bare hosts. Both name the same registry.
fn key_host(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let k = k.split('/').next().unwrap_or(k);
    match k {
        "index.docker.io" | "registry-1.docker.io" => "docker.io",
        other => other,
    }
}

/// Remember `creds` for `host` in `path`, keeping every other entry.
pub fn save(path: &Path, host: &str, creds: &Credentials) -> anyhow::Result<()> {
    let mut doc = read(path)?;
    let auths = auths_mut(&mut doc, path)?;
    auths.retain(|k, _| key_host(k) != key_host(host));
    auths.insert(
        host.to_string(),
        serde_json::json!({ "auth": creds.encode() }),
    );
    write(path, &doc)
}

/// Forget `host`; false when there was nothing to forget.
pub fn forget(path: &Path, host: &str) -> anyhow::Result<bool> {
    let mut doc = read(path)?;
    let auths = auths_mut(&mut doc, path)?;
    let before = auths.len();
    auths.retain(|k, _| key_host(k) != key_host(host));
    if auths.len() == before {
        return Ok(false);
    }
    write(path, &doc)?;
    Ok(true)
}

fn auths_mut<'d>(
    doc: &'d mut serde_json::Value,
    path: &Path,
) -> anyhow::Result<&'d mut serde_json::Map<String, serde_json::Value>> {
    let obj = doc
        .as_object_mut()
        .with_context(|| format!("{} is not a JSON object", path.display()))?;
    obj.entry("auths")
        .or_insert_with(|| serde_json::json!({}))
        .as_object_mut()
        .with_context(|| format!("{}: \"auths\" is not an object", path.display()))
}

fn read(path: &Path) -> anyhow::Result<serde_json::Value> {
    match fs::read(path) {
        Ok(b) if b.iter().all(u8::is_ascii_whitespace) => Ok(serde_json::json!({})),
        Ok(b) => serde_json::from_slice(&b)
            .with_context(|| format!("{} is not valid JSON", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(serde_json::json!({})),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Written whole beside the old file and renamed over it, created 0600
/// (and its directory 0700): only its owner may read the passwords.
fn write(path: &Path, doc: &serde_json::Value) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let bytes = serde_json::to_vec_pretty(doc)?;
    let put = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    put().with_context(|| {
        let _ = fs::remove_file(&tmp);
        format!("cannot write {}", path.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse_as_distribution_sends_them() {
        let c = Challenge::parse(
            r#"Bearer realm="https://auth.example/token",service="registry",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry".into())
            }
        );
        assert_eq!(
            Challenge::parse(r#"Basic realm="x""#).unwrap(),
            Challenge::Basic
        );
        assert!(Challenge::parse("Negotiate").is_err());
    }

    #[test]
    fn auth_json_round_trips_and_keeps_other_entries() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/auth.json");
        let c = Credentials {
            user: "u".into(),
            password: "p:w".into(),
        };
        save(&p, "other:1", &c).unwrap();
        save(&p, "localhost:5000", &c).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(lookup("localhost:5000", Some(&p)).unwrap(), Some(c.clone()));
        assert!(forget(&p, "localhost:5000").unwrap());
        assert!(!forget(&p, "localhost:5000").unwrap());
        assert_eq!(lookup("other:1", Some(&p)).unwrap(), Some(c));
    }

    #[test]
    fn docker_style_keys_name_the_same_host() {
        assert_eq!(key_host("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(key_host("http://localhost:5000"), "localhost:5000");
    }
}
