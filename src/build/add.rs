//! What ADD does beyond COPY: a local archive (tar, plain or compressed
//! with gzip, bzip2, xz or zstd — told apart by its first bytes, never by
//! its name) is unpacked into the destination, and a `http://` or
//! `https://` source is downloaded (and, like Docker, not unpacked).
//! Extraction goes through chapter 06's safe apply, so an archive cannot
//! write outside the destination.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::image::compress::Compression;
use crate::layer::{self, ApplyOptions, Target};

const BZIP2_MAGIC: &[u8] = b"BZh";
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0];

pub fn is_url(src: &str) -> bool {
    src.starts_with("http://") || src.starts_with("https://")
}

/// Download `url` into `dir`, named after the URL's last path segment.
pub fn download(url: &str, dir: &Path) -> anyhow::Result<PathBuf> {
    let name = url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty() && !n.contains(':'))
        .with_context(|| format!("ADD {url}: the URL names no file"))?;
    std::fs::create_dir_all(dir)?;
    let path = dir.join(name);
    let mut resp = ureq::get(url)
        .call()
        .with_context(|| format!("ADD {url}: the download failed"))?;
    let mut f = File::create(&path)?;
    std::io::copy(&mut resp.body_mut().as_reader(), &mut f)
        .with_context(|| format!("ADD {url}: the download stopped"))?;
    Ok(path)
}

/// A tar reader of `path` when it is an archive; `None` for other files.
fn archive(path: &Path) -> anyhow::Result<Option<Box<dyn Read>>> {
    let mut r = BufReader::new(File::open(path)?);
    let head = r.fill_buf()?.to_vec();
    let plain: Box<dyn Read> = if head.starts_with(BZIP2_MAGIC) {
        Box::new(bzip2::read::BzDecoder::new(r))
    } else if head.starts_with(XZ_MAGIC) {
        let mut out = Vec::new();
        lzma_rs::xz_decompress(&mut r, &mut out)
            .map_err(|e| anyhow::anyhow!("{}: not a valid xz stream: {e}", path.display()))?;
        Box::new(std::io::Cursor::new(out))
    } else {
        match Compression::sniff(&mut r)? {
            Compression::None => {
                // A plain tar says `ustar` at byte 257 of its first header.
                if head.get(257..262) != Some(b"ustar") {
                    return Ok(None);
                }
                Box::new(r)
            }
            c => c.decoder(r)?,
        }
    };
    Ok(Some(plain))
}

/// Unpack `src` into `dest` if it is an archive; false if it is not one.
pub fn extract(src: &Path, dest: &Path) -> anyhow::Result<bool> {
    let Some(tar) = archive(src)? else {
        return Ok(false);
    };
    std::fs::create_dir_all(dest)?;
    let opts = ApplyOptions {
        target: Target::Plain,
        allow_devices: false,
    };
    layer::apply(tar, dest, &opts).with_context(|| format!("ADD: unpacking {}", src.display()))?;
    Ok(true)
}
