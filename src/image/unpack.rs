//! `wharf image unpack IMAGE DIR`: the image's root filesystem, flattened,
//! as `umoci unpack` gives it: every layer blob, in order, decompressed and
//! applied onto DIR by chapter 06's safe apply (whiteouts delete what the
//! layers below put there; nothing is written outside DIR).

use std::io::BufReader;
use std::path::Path;

use anyhow::{bail, Context};

use super::compress::Compression;
use super::store::{Image, Store};
use super::trailer::Trailer;
use super::{Metered, Progress};
use crate::layer::{self, ApplyOptions, Target};

pub fn unpack(
    store: &Store,
    image: &Image,
    dir: &Path,
    progress: &dyn Progress,
) -> anyhow::Result<u64> {
    if let Ok(mut entries) = std::fs::read_dir(dir) {
        if entries.next().is_some() {
            bail!(
                "{} is not empty: unpack into a new or empty directory",
                dir.display()
            );
        }
    }
    let opts = ApplyOptions {
        target: Target::Plain,
        allow_devices: false,
    };
    let layers = image.manifest.layers();
    let mut bytes = 0;
    for (i, l) in layers.iter().enumerate() {
        progress.begin(&format!("layer {}/{}", i + 1, layers.len()), Some(l.size()));
        let f = store.open_blob(l.digest())?;
        let mut r = BufReader::with_capacity(1 << 20, Metered::new(f, progress));
        let c = Compression::sniff(&mut r)?;
        let stats = layer::apply(Trailer::new(c.decoder(r)?), dir, &opts)
            .with_context(|| format!("layer {} ({})", i + 1, l.digest()))?;
        bytes += stats.bytes;
    }
    Ok(bytes)
}
