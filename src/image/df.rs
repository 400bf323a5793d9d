//! `wharf df`: what the state root holds, measured from the disk. Images
//! share layers: each unpacked layer is one directory however many images
//! use it, so the images together take less than the sum of their sizes,
//! and the difference is what layer sharing saves.

use std::collections::HashMap;
use std::path::Path;

use oci_spec::image::Digest;

use super::digest::chain_ids;
use super::store::{disk_bytes, Image, Store};

/// How much one kind of thing takes: how many, and their bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    pub items: u64,
    pub bytes: u64,
}

/// One image's share of the layers.
#[derive(Debug, Clone)]
pub struct ImageUsage {
    pub image: Image,
    /// Its layers' bytes.
    pub size: u64,
    /// The part in layers another image uses too.
    pub shared: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Usage {
    pub images: Count,
    /// Unpacked layers (each counted once).
    pub layers: Count,
    /// Blobs: manifests, configs and layer tars as stored.
    pub blobs: Count,
    pub containers: Count,
    pub volumes: Count,
    pub per_image: Vec<ImageUsage>,
}

impl Usage {
    /// Bytes the images would take if each had its own copy of its layers.
    pub fn unshared(&self) -> u64 {
        self.per_image.iter().map(|i| i.size).sum()
    }

    /// What sharing saves.
    pub fn saved(&self) -> u64 {
        self.unshared().saturating_sub(self.layers.bytes)
    }
}

pub fn usage(store: &Store, root: &Path) -> anyhow::Result<Usage> {
    let images = store.images()?;
    let mut users: HashMap<Digest, (u64, u64)> = HashMap::new();
    let mut chains_of = Vec::new();
    for i in &images {
        let chains = chain_ids(&i.diff_ids()?);
        for c in &chains {
            if !users.contains_key(c) {
                users.insert(c.clone(), (0, store.layer_size(c)?));
            }
            users.get_mut(c).expect("just inserted").0 += 1;
        }
        chains_of.push(chains);
    }
    let per_image = images
        .iter()
        .zip(&chains_of)
        .map(|(i, chains)| ImageUsage {
            image: i.clone(),
            size: chains.iter().map(|c| users[c].1).sum(),
            shared: chains
                .iter()
                .filter(|c| users[*c].0 > 1)
                .map(|c| users[c].1)
                .sum(),
        })
        .collect();
    let layers = Count {
        items: users.len() as u64,
        bytes: users.values().map(|(_, b)| b).sum(),
    };
    Ok(Usage {
        // What the images take is their layers, each counted once.
        images: Count {
            items: images.len() as u64,
            bytes: layers.bytes,
        },
        layers,
        blobs: entries(&store.dir().join("blobs/sha256"))?,
        containers: entries(&root.join("containers"))?,
        volumes: entries(&root.join("volumes"))?,
        per_image,
    })
}

/// The entries of a directory and the bytes below them (none if missing).
fn entries(dir: &Path) -> anyhow::Result<Count> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Ok(Count::default());
    };
    let items = rd.count() as u64;
    Ok(Count {
        items,
        bytes: disk_bytes(dir)?,
    })
}
