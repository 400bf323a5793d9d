//! `wharf layers`: what each layer of an image does to the tree, in the
//! spirit of dive. The layers are replayed in order over a map of paths:
//! a file a layer writes is *added* or, when a lower layer had it,
//! *changed*; a whiteout or an opaque marker *removes* what is below. A
//! file that a later layer replaces or removes still takes its bytes in
//! the lower layer's blob: those are the image's *wasted* bytes, and the
//! efficiency is the share of all layer bytes that the final tree uses.

use std::collections::{BTreeMap, HashSet};
use std::io::BufReader;

use oci_spec::image::Digest;
use tar::EntryType;

use super::compress::Compression;
use super::store::{Image, Store};
use super::trailer::Trailer;
use crate::layer::whiteout::{self, Marker};

/// One layer as it changes the tree.
#[derive(Debug, Clone, Default)]
pub struct LayerView {
    pub digest: Option<Digest>,
    pub created_by: String,
    /// Bytes of the files this layer carries.
    pub size: u64,
    pub added: u64,
    pub changed: u64,
    pub removed: u64,
    /// The paths its whiteouts and opaque markers delete.
    pub deletions: Vec<String>,
}

/// A file whose bytes are carried but not in the final tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waste {
    pub path: String,
    /// How many lower copies were overwritten or removed.
    pub count: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub layers: Vec<LayerView>,
    /// Bytes of all files in all layers.
    pub total: u64,
    pub wasted: u64,
    /// Wasted bytes by path, largest first.
    pub waste: Vec<Waste>,
}

impl Analysis {
    /// The share of layer bytes the final tree uses (1.0: nothing wasted).
    pub fn efficiency(&self) -> f64 {
        match self.total {
            0 => 1.0,
            t => (t - self.wasted) as f64 / t as f64,
        }
    }
}

/// The tree as the layers so far make it, and the bytes they wasted.
#[derive(Default)]
struct Replay {
    /// path -> (bytes, is a directory)
    tree: BTreeMap<String, (u64, bool)>,
    /// path -> (copies lost, bytes lost)
    waste: BTreeMap<String, (u64, u64)>,
    /// What the current layer wrote: its own opaque marker spares it.
    written: HashSet<String>,
}

pub fn analyze(store: &Store, image: &Image) -> anyhow::Result<Analysis> {
    let mut steps = image
        .config
        .history()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|h| h.empty_layer() != Some(true))
        .map(|h| h.created_by().clone().unwrap_or_default());
    let mut a = Analysis::default();
    let mut replay = Replay::default();
    for l in image.manifest.layers() {
        let mut r = BufReader::new(store.open_blob(l.digest())?);
        let c = Compression::sniff(&mut r)?;
        let entries = crate::layer::list(Trailer::new(c.decoder(r)?))?;
        let mut view = LayerView {
            digest: Some(l.digest().clone()),
            created_by: steps.next().unwrap_or_default(),
            ..Default::default()
        };
        replay.written.clear();
        for e in entries {
            replay.entry(&mut view, &e.path, e.kind, e.size);
        }
        a.total += view.size;
        a.layers.push(view);
    }
    a.wasted = replay.waste.values().map(|(_, b)| b).sum();
    a.waste = replay
        .waste
        .into_iter()
        .map(|(path, (count, bytes))| Waste { path, count, bytes })
        .collect();
    a.waste
        .sort_by(|x, y| y.bytes.cmp(&x.bytes).then(x.path.cmp(&y.path)));
    Ok(a)
}

impl Replay {
    fn entry(&mut self, view: &mut LayerView, raw: &str, kind: EntryType, size: u64) {
        let Ok(parts) = whiteout::components(raw.as_bytes()) else {
            return; // the store only holds layers that applied cleanly
        };
        let Some((name, parents)) = parts.split_last() else {
            return;
        };
        let dir = parents
            .iter()
            .map(|p| String::from_utf8_lossy(p))
            .collect::<Vec<_>>()
            .join("/");
        let join = |n: &[u8]| {
            let n = String::from_utf8_lossy(n);
            if dir.is_empty() {
                n.into_owned()
            } else {
                format!("{dir}/{n}")
            }
        };
        match whiteout::classify(name) {
            Ok(Marker::Whiteout(hidden)) => {
                let path = join(hidden);
                view.deletions.push(path.clone());
                self.lose(&path, view);
            }
            Ok(Marker::Opaque) => {
                view.deletions.push(format!("{dir}/* (opaque)"));
                let prefix = if dir.is_empty() {
                    String::new()
                } else {
                    format!("{dir}/")
                };
                let below: Vec<String> = self
                    .tree
                    .keys()
                    .filter(|p| p.starts_with(&prefix) && !self.written.contains(*p))
                    .cloned()
                    .collect();
                for p in below {
                    self.lose(&p, view);
                }
            }
            _ => self.write(view, join(name), kind, size),
        }
    }

    fn write(&mut self, view: &mut LayerView, path: String, kind: EntryType, size: u64) {
        let is_dir = kind == EntryType::Directory;
        let bytes = if kind.is_file() { size } else { 0 };
        self.written.insert(path.clone());
        match self.tree.insert(path.clone(), (bytes, is_dir)) {
            Some((old, false)) if !is_dir => {
                view.changed += 1;
                let w = self.waste.entry(path).or_default();
                w.0 += 1;
                w.1 += old;
            }
            None if !is_dir => view.added += 1,
            _ => {}
        }
        view.size += bytes;
    }

    /// `path` and everything below it leave the tree.
    fn lose(&mut self, path: &str, view: &mut LayerView) {
        let below = format!("{path}/");
        let gone: Vec<String> = self
            .tree
            .range(path.to_string()..)
            .take_while(|(p, _)| *p == path || p.starts_with(&below))
            .map(|(p, _)| p.clone())
            .collect();
        for p in gone {
            let (bytes, is_dir) = self.tree.remove(&p).unwrap_or_default();
            if !is_dir {
                let w = self.waste.entry(p).or_default();
                w.0 += 1;
                w.1 += bytes;
                view.removed += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(layers: &[&[(&str, EntryType, u64)]]) -> (Vec<LayerView>, BTreeMap<String, (u64, u64)>) {
        let mut r = Replay::default();
        let mut views = Vec::new();
        for l in layers {
            let mut v = LayerView::default();
            r.written.clear();
            for (p, k, s) in *l {
                r.entry(&mut v, p, *k, *s);
            }
            views.push(v);
        }
        (views, r.waste)
    }

    #[test]
    fn adds_changes_removes_and_counts_waste() {
        let f = EntryType::Regular;
        let d = EntryType::Directory;
        let (v, waste) = run(&[
            &[
                ("etc/", d, 0),
                ("etc/a", f, 100),
                ("etc/b", f, 10),
                ("usr/big", f, 1000),
            ],
            &[("etc/a", f, 50), ("etc/.wh.b", f, 0), ("usr/.wh.big", f, 0)],
            &[("etc/c", f, 1), ("etc/.wh..wh..opq", f, 0)],
        ]);
        assert_eq!((v[0].added, v[0].changed, v[0].removed), (3, 0, 0));
        assert_eq!((v[1].added, v[1].changed, v[1].removed), (0, 1, 2));
        assert_eq!(v[1].deletions, ["etc/b", "usr/big"]);
        assert_eq!((v[2].added, v[2].removed), (1, 1));
        assert_eq!(waste["etc/a"], (2, 150));
        assert_eq!(waste["usr/big"], (1, 1000));
        assert_eq!(waste.values().map(|w| w.1).sum::<u64>(), 1160);
    }
}
