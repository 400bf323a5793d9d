//! Distribution (issue 14): images to and from a registry, by the
//! registry HTTP API v2 that the OCI distribution spec standardised.
//!
//! - [`client`]: one registry's HTTP conversation: the scheme (https, or
//!   http for localhost and `--insecure`), certificates, limits, and the
//!   401 → challenge → credentials dance;
//! - [`auth`]: the challenge (Basic or Bearer token) and the containers
//!   auth.json that podman and skopeo share;
//! - [`pull`]: manifest (or index → this machine's platform), config, and
//!   the layers, fetched in parallel and taken in through the store's one
//!   ingest path;
//! - [`push`]: blobs (skipped when present, mounted from another
//!   repository when the store knows one, else uploaded in chunks), then
//!   the manifest;
//! - [`search`]: the catalog and each repository's tags.
//!
//! The HTTP client is ureq (blocking, rustls): the registry protocol is a
//! handful of plain requests, and parallel layer downloads need only a few
//! threads. oci-client would bring tokio, hyper and reqwest, minutes of
//! compiling on two shared cores, for no feature that this module lacks.

pub mod auth;
pub mod client;
pub mod pull;
pub mod push;
pub mod search;

use std::path::PathBuf;

pub use client::Client;
pub use pull::{pull, pull_if_missing, Pulled};
pub use push::push;

/// How to reach a registry; the faces fill it from flags.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Accept plain http and any certificate, for any registry (Docker's
    /// insecure-registries). Without it only localhost may use http.
    pub insecure: bool,
    /// A directory of `*.crt` CA certificates to trust for this registry
    /// (default /etc/containers/certs.d/HOST[:PORT], as podman reads).
    pub cert_dir: Option<PathBuf>,
    /// The auth.json to read credentials from (default: see [`auth::file`]).
    pub auth_file: Option<PathBuf>,
}

/// Told how far each transfer got: one bar per layer on a terminal.
pub trait Transfers: Sync {
    /// A blob of `total` bytes starts moving; the returned meter counts it.
    fn start(&self, what: &str, total: u64) -> Box<dyn crate::image::Progress + '_>;
}

/// No progress shown.
pub struct Silent;

impl Transfers for Silent {
    fn start(&self, _: &str, _: u64) -> Box<dyn crate::image::Progress + '_> {
        Box::new(crate::image::Quiet)
    }
}

/// The most bytes a manifest or an index may have (containerd's limit):
/// a registry cannot make us buffer gigabytes of "JSON".
pub const MANIFEST_MAX: u64 = 4 << 20;
/// The most bytes an image config may have.
pub const CONFIG_MAX: u64 = 16 << 20;
/// Redirects followed before giving up (a loop ends here).
pub const REDIRECT_MAX: u32 = 5;

/// A blob's name on a progress bar or a push line: 12 hex digits, as
/// Docker prints layers.
pub fn short(d: &oci_spec::image::Digest) -> &str {
    let hex = crate::image::digest::hex(d);
    &hex[..12.min(hex.len())]
}
