//! Content addresses. The OCI image spec names every blob by the sha256 of
//! its bytes, and a layer twice: its *digest* (of the blob as stored, often
//! compressed) and its *DiffID* (of the uncompressed tar), which the image
//! config lists in `rootfs.diff_ids`. A stack of layers is named by its
//! *ChainID*, so that the same diff on another base is another snapshot.

use std::io::{self, Read, Write};

use anyhow::{bail, Context};
use oci_spec::image::Digest;
use sha2::{Digest as _, Sha256};

/// sha256 of a byte slice, as `sha256:<hex>`.
pub fn of_bytes(bytes: &[u8]) -> Digest {
    from_hasher(Sha256::new_with_prefix(bytes))
}

pub use sha2::Sha256 as Hasher;

/// The digest of what a hasher was fed.
pub fn from_hasher(h: Sha256) -> Digest {
    let hex = hex::encode(h.finalize());
    Digest::try_from(format!("sha256:{hex}")).expect("a sha256 digest is well formed")
}

/// Parse `sha256:<64 hex>`; other algorithms are refused (the store is
/// addressed by sha256 only, as Docker's and the spec's registries are).
pub fn parse(s: &str) -> anyhow::Result<Digest> {
    let d = Digest::try_from(s).map_err(|e| anyhow::anyhow!("invalid digest {s:?}: {e}"))?;
    if d.algorithm().as_ref() != "sha256" {
        bail!("unsupported digest algorithm in {s:?}: only sha256 is supported");
    }
    Ok(d)
}

/// The hex part of a digest: the file name of its blob.
pub fn hex(d: &Digest) -> &str {
    d.digest()
}

/// ChainID(L0) = DiffID(L0); ChainID(L0..n) = sha256(ChainID(L0..n-1) + " " + DiffID(Ln)).
/// The spec defines it this way so that one identifier names a layer
/// *and everything under it*: an unpacked snapshot is only reusable for
/// the same stack.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(parent) => of_bytes(format!("{parent} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

/// A reader that hashes (and counts) what passes through it, and may copy
/// it to a writer on the way: the blob is verified while it streams, never
/// read a second time.
pub struct Hashing<R, W = io::Sink> {
    inner: R,
    tee: W,
    /// None: only count and copy (the caller knows the digest is the same
    /// as another hash of the same bytes).
    hasher: Option<Sha256>,
    pub bytes: u64,
}

impl<R: Read> Hashing<R, io::Sink> {
    pub fn new(inner: R) -> Self {
        Hashing::with_tee(inner, io::sink())
    }
}

impl<R: Read, W: Write> Hashing<R, W> {
    pub fn with_tee(inner: R, tee: W) -> Self {
        Hashing {
            inner,
            tee,
            hasher: Some(Sha256::new()),
            bytes: 0,
        }
    }

    /// Copy and count without hashing.
    pub fn unhashed(inner: R, tee: W) -> Self {
        Hashing {
            hasher: None,
            ..Hashing::with_tee(inner, tee)
        }
    }

    /// Read what is left (a tar reader stops at its end marker; the digest
    /// covers every byte of the blob).
    pub fn drain(&mut self) -> io::Result<u64> {
        io::copy(self, &mut io::sink())
    }

    /// The digest of everything read (None if not hashed), and the writer back.
    pub fn finish(self) -> (Option<Digest>, u64, W) {
        (self.hasher.map(from_hasher), self.bytes, self.tee)
    }
}

impl<R: Read, W: Write> Read for Hashing<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.tee.write_all(&buf[..n])?;
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Check a digest we computed against the one a manifest or config gave.
pub fn verify(what: &str, expected: &Digest, got: &Digest) -> anyhow::Result<()> {
    if expected != got {
        bail!("digest mismatch for {what}: expected {expected}, content is {got}");
    }
    Ok(())
}

/// JSON with every object's keys sorted. oci-spec keeps annotations,
/// labels and exposed ports in HashMaps, whose order changes from run to
/// run; a blob's digest must not, so what we write goes through this.
pub fn stable_json(v: &impl serde::Serialize) -> anyhow::Result<Vec<u8>> {
    // serde_json's Map is a BTreeMap: the detour through Value sorts.
    Ok(serde_json::to_vec(&serde_json::to_value(v)?)?)
}

/// Read a small JSON blob (manifest, config, index) whole, with a limit:
/// these are metadata, and an archive may lie about them.
pub fn read_small(mut r: impl Read, what: &str) -> anyhow::Result<Vec<u8>> {
    const LIMIT: u64 = 16 << 20;
    let mut buf = Vec::new();
    (&mut r)
        .take(LIMIT + 1)
        .read_to_end(&mut buf)
        .with_context(|| format!("cannot read {what}"))?;
    if buf.len() as u64 > LIMIT {
        bail!("{what} is larger than 16 MiB: not a manifest or config");
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_empty_json_is_the_specs() {
        // The spec's example: the digest of `{}`.
        assert_eq!(
            of_bytes(b"{}").to_string(),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn chain_id_follows_the_spec() {
        let a = of_bytes(b"a");
        let b = of_bytes(b"b");
        let chain = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(chain[0], a);
        assert_eq!(chain[1], of_bytes(format!("{a} {b}").as_bytes()));
        assert_ne!(chain_ids(&[b, a])[1], chain[1]);
    }

    #[test]
    fn hashing_reader_hashes_and_tees() {
        let mut copy = Vec::new();
        let mut h = Hashing::with_tee(&b"hello"[..], &mut copy);
        let mut first = [0u8; 2];
        h.read_exact(&mut first).unwrap();
        h.drain().unwrap();
        let (d, n, _) = h.finish();
        assert_eq!((d, n), (Some(of_bytes(b"hello")), 5));
        assert_eq!(copy, b"hello");
    }

    #[test]
    fn parse_refuses_other_algorithms_and_bad_hex() {
        assert!(parse("sha512:00").is_err());
        assert!(parse("sha256:abc").is_err());
        assert!(parse(of_bytes(b"x").as_ref()).is_ok());
    }
}
