//! Container ids: 64 hex digits from the kernel's random pool, shown as
//! 12; a command takes the whole id, any unique prefix of it, or the
//! container's name.

use std::io::Read;

use anyhow::{bail, Context};

use super::{names, record};

/// A fresh 64-hex-digit id.
pub fn new() -> anyhow::Result<String> {
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .context("reading /dev/urandom for an id")?;
    Ok(hex::encode(b))
}

/// The full id of the container `query` names: a name, an id, or a
/// unique prefix of an id.
pub fn resolve(query: &str) -> anyhow::Result<String> {
    if let Some(id) = names::lookup(query) {
        return Ok(id);
    }
    let hexish =
        !query.is_empty() && query.len() <= 64 && query.bytes().all(|b| b.is_ascii_hexdigit());
    if hexish {
        let hits: Vec<String> = record::all()?
            .into_iter()
            .map(|r| r.id)
            .filter(|id| id.starts_with(query))
            .collect();
        match hits.len() {
            1 => return Ok(hits.into_iter().next().expect("one hit")),
            0 => {}
            n => bail!("multiple containers ({n}) match the id prefix {query}: give more digits"),
        }
    }
    bail!("no such container: {query}")
}
