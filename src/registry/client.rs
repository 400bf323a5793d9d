//! One registry's HTTP conversation.
//!
//! Every API call is a path under `/v2/` on the registry's host. The first
//! request, `GET /v2/`, says three things: that this is a registry, which
//! scheme it answers on, and (by a 401 and its `WWW-Authenticate`
//! challenge) how it wants us to authenticate. Names without a host are
//! Docker Hub's, whose API lives on `registry-1.docker.io`.
//!
//! https is the default. As Docker allows, plain http is tried only for
//! localhost (a registry on loopback that cannot be intercepted) or when
//! the user says `--insecure`, which also accepts any certificate.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use ureq::http::{self, Response};
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::{Agent, AsSendBody, Body};

use super::auth::{self, Challenge, Credentials, TokenReply};
use super::{Options, MANIFEST_MAX, REDIRECT_MAX};

/// A registry we have spoken to.
pub struct Client {
    agent: Agent,
    /// The registry as the image name gives it: `localhost:5000`, `docker.io`.
    pub host: String,
    /// `https://registry-1.docker.io`, `http://127.0.0.1:5000`.
    base: String,
    creds: Option<Credentials>,
    challenge: Option<Challenge>,
    /// The `Authorization` header for the scope last authorized.
    authorization: Option<String>,
}

impl Client {
    /// Reach `host` (with the credentials auth.json has for it, if any)
    /// and learn its scheme and challenge.
    pub fn connect(host: &str, opts: &Options) -> anyhow::Result<Client> {
        let creds = auth::lookup(host, opts.auth_file.as_deref())?;
        Self::with_credentials(host, opts, creds)
    }

    pub fn with_credentials(
        host: &str,
        opts: &Options,
        creds: Option<Credentials>,
    ) -> anyhow::Result<Client> {
        let agent = agent(host, opts)?;
        let api = match host {
            "docker.io" => "registry-1.docker.io",
            h => h,
        };
        let plain_allowed = opts.insecure || is_loopback(api);
        let mut client = Client {
            agent,
            host: host.to_string(),
            base: format!("https://{api}"),
            creds,
            challenge: None,
            authorization: None,
        };
        match client.ping() {
            Ok(()) => Ok(client),
            // Only a failure to speak TLS at all falls back; an HTTP error
            // from a TLS registry is its answer.
            Err(tls) if plain_allowed && tls.downcast_ref::<ureq::Error>().is_some() => {
                client.base = format!("http://{api}");
                match client.ping() {
                    Ok(()) => Ok(client),
                    Err(plain) => bail!("cannot reach the registry {host}: over https: {tls:#}; over http: {plain:#}"),
                }
            }
            Err(e) => Err(e.context(format!("cannot reach the registry {host}"))),
        }
    }

    fn ping(&mut self) -> anyhow::Result<()> {
        let url = format!("{}/v2/", self.base);
        let resp = self.agent.get(&url).call()?;
        match resp.status().as_u16() {
            200..=299 => self.challenge = None,
            401 => {
                let h = header(&resp, "www-authenticate")
                    .context("the registry answered 401 without a WWW-Authenticate challenge")?;
                self.challenge = Some(Challenge::parse(&h)?);
            }
            s => bail!("{url} answered {s}: not a registry (API v2)"),
        }
        Ok(())
    }

    /// Make the next requests carry what the registry asked for: the
    /// password (Basic), or a token for `scopes` from its token server.
    pub fn authorize(&mut self, scopes: &[String]) -> anyhow::Result<()> {
        self.authorization = match (&self.challenge, &self.creds) {
            (None, _) => None,
            (Some(Challenge::Basic), Some(c)) => Some(format!("Basic {}", c.encode())),
            (Some(Challenge::Basic), None) => bail!(
                "{} needs a user and password: run `wharf login {}` first",
                self.host,
                self.host
            ),
            (Some(Challenge::Bearer { realm, service }), creds) => Some(format!(
                "Bearer {}",
                self.token(realm, service, scopes, creds)?
            )),
        };
        Ok(())
    }

    /// Whether the credentials open the registry: `GET /v2/` with them
    /// (through the token server, for a Bearer challenge) must succeed.
    pub fn check_login(&mut self) -> anyhow::Result<()> {
        self.authorize(&[])?;
        let mut resp = self.get("/v2/", &[])?;
        if resp.status() == 401 {
            bail!("{} refused the user name or password", self.host);
        }
        check(&mut resp, "the API root", &self.host)?;
        Ok(())
    }

    fn token(
        &self,
        realm: &str,
        service: &Option<String>,
        scopes: &[String],
        creds: &Option<Credentials>,
    ) -> anyhow::Result<String> {
        let mut req = self.agent.get(realm);
        if let Some(s) = service {
            req = req.query("service", s);
        }
        for s in scopes {
            req = req.query("scope", s);
        }
        if let Some(c) = creds {
            req = req.header("Authorization", format!("Basic {}", c.encode()));
        }
        let mut resp = req
            .call()
            .with_context(|| format!("cannot reach the token server {realm}"))?;
        if resp.status() == 401 {
            bail!(
                "{}'s token server refused the credentials: run `wharf login {}`",
                self.host,
                self.host
            );
        }
        let resp_ok = check(&mut resp, "the token", &self.host)?;
        let reply: TokenReply =
            serde_json::from_slice(&small_body(resp_ok, MANIFEST_MAX, "the token")?)
                .context("the token server's answer is not JSON")?;
        reply
            .token
            .or(reply.access_token)
            .context("the token server's answer holds no token")
    }

    /// A URL on this registry: a `/v2/…` path, or a URL it gave us (an
    /// upload's Location), absolute or relative.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// One request, with the authorization; the caller judges the status.
    pub fn send(
        &self,
        method: http::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl AsSendBody,
    ) -> anyhow::Result<Response<Body>> {
        let url = self.url(path);
        let mut req = http::Request::builder().method(method.clone()).uri(&url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(a) = &self.authorization {
            req = req.header("Authorization", a);
        }
        let req = req
            .body(body)
            .with_context(|| format!("bad request {url}"))?;
        self.agent
            .run(req)
            .map_err(describe)
            .with_context(|| format!("{method} {url} failed"))
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> anyhow::Result<Response<Body>> {
        self.send(http::Method::GET, path, headers, ())
    }
}

/// ureq's errors, as a sentence a user can act on.
fn describe(e: ureq::Error) -> anyhow::Error {
    match e {
        ureq::Error::TooManyRedirects => {
            anyhow::anyhow!("more than {REDIRECT_MAX} redirects (a redirect loop?)")
        }
        other => anyhow::Error::new(other),
    }
}

/// A successful response, or one line saying what the registry refused
/// and why (its JSON `errors` when it sent some).
pub fn check<'r>(
    resp: &'r mut Response<Body>,
    what: &str,
    host: &str,
) -> anyhow::Result<&'r mut Response<Body>> {
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(resp);
    }
    let said = resp
        .body_mut()
        .with_config()
        .limit(64 << 10)
        .read_to_vec()
        .ok()
        .and_then(|b| registry_errors(&b))
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    match status {
        401 | 403 => {
            bail!("{host} refused access to {what} ({status}{said}): check `wharf login {host}`")
        }
        404 => bail!("{what} not found on {host} (404{said})"),
        s => bail!("{host} answered {s} for {what}{said}"),
    }
}

/// `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`
/// → `MANIFEST_UNKNOWN manifest unknown`.
fn registry_errors(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let errs = v.get("errors")?.as_array()?;
    let lines: Vec<String> = errs
        .iter()
        .map(|e| {
            let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
            let msg = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
            format!("{code} {msg}").trim().to_string()
        })
        .collect();
    Some(lines.join("; "))
}

/// A body that must be small (a manifest, a config, a token): refused
/// past `limit` bytes before it is all read.
pub fn small_body(resp: &mut Response<Body>, limit: u64, what: &str) -> anyhow::Result<Vec<u8>> {
    if let Some(n) = resp.body().content_length().filter(|n| *n > limit) {
        bail!("{what} is {n} bytes, over the limit of {limit}");
    }
    resp.body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => {
                anyhow::anyhow!("{what} is over the limit of {limit} bytes")
            }
            other => anyhow::Error::new(other).context(format!("cannot read {what}")),
        })
}

pub fn header(resp: &Response<Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    name == "localhost" || name == "::1" || name.starts_with("127.")
}

fn agent(host: &str, opts: &Options) -> anyhow::Result<Agent> {
    let mut tls = TlsConfig::builder().disable_verification(opts.insecure);
    let certs = ca_certs(&cert_dir(host, opts.cert_dir.as_deref()))?;
    if !certs.is_empty() {
        tls = tls.root_certs(RootCerts::new_with_certs(&certs));
    }
    Ok(Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(REDIRECT_MAX)
        .max_redirects_will_error(true)
        .timeout_connect(Some(Duration::from_secs(30)))
        .user_agent(concat!("wharf/", env!("CARGO_PKG_VERSION")))
        .tls_config(tls.build())
        .build()
        .new_agent())
}

fn cert_dir(host: &str, given: Option<&Path>) -> PathBuf {
    given
        .map(Path::to_path_buf)
        .unwrap_or_else(|| Path::new("/etc/containers/certs.d").join(host))
}

/// The CA certificates (`*.crt`) a registry's cert dir holds.
fn ca_certs(dir: &Path) -> anyhow::Result<Vec<Certificate<'static>>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for e in entries {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "crt") {
            let pem = std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()))?;
            out.push(
                Certificate::from_pem(&pem)
                    .with_context(|| format!("{} holds no PEM certificate", p.display()))?,
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_may_use_plain_http() {
        assert!(is_loopback("localhost:5000"));
        assert!(is_loopback("127.0.0.1:41234"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("registry.example:5000"));
        assert!(!is_loopback("docker.io"));
    }

    #[test]
    fn registry_errors_become_one_line() {
        let b = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#;
        assert_eq!(
            registry_errors(b).unwrap(),
            "MANIFEST_UNKNOWN manifest unknown"
        );
        assert_eq!(registry_errors(b"<html>"), None);
    }
}
