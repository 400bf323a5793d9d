//! The layer cache of the classic builder: a step is reused when the image
//! it starts from, its text, the build args in scope and (COPY) the bytes
//! of the files it reads are all the same as before. The key is the sha256
//! of those four; the cache maps it to the image the step made, kept in
//! `build-cache.json` beside the store's index. An entry whose image was
//! removed since is a miss.

use std::collections::BTreeMap;
use std::path::PathBuf;

use oci_spec::image::Digest;
use sha2::{Digest as _, Sha256};

use crate::image::store::write_atomic;
use crate::image::{digest, tags, Image, Store};

pub struct Cache {
    file: PathBuf,
    entries: BTreeMap<String, String>,
    /// `--no-cache`: look nothing up (results are still recorded).
    pub disabled: bool,
}

/// What makes a step the same step.
pub struct Key<'a> {
    pub parent: Option<&'a Digest>,
    pub text: &'a str,
    pub args: &'a [(String, String)],
    /// The digest of the files read (COPY), if any.
    pub files: Option<&'a str>,
}

impl Key<'_> {
    fn hash(&self) -> String {
        let mut h = Sha256::new();
        let parent = self.parent.map(|d| d.to_string()).unwrap_or_default();
        for part in [parent.as_str(), self.text, self.files.unwrap_or("")] {
            h.update(part.len().to_le_bytes());
            h.update(part);
        }
        for (k, v) in self.args {
            h.update(format!("{}={k}={v}", k.len()));
        }
        hex::encode(h.finalize())
    }
}

impl Cache {
    pub fn open(store: &Store, disabled: bool) -> Cache {
        let file = store.dir().join("build-cache.json");
        let entries = std::fs::read(&file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Cache {
            file,
            entries,
            disabled,
        }
    }

    /// The image this step made before, if the store still has it.
    pub fn get(&self, store: &Store, key: &Key) -> Option<Image> {
        if self.disabled {
            return None;
        }
        let id = self.entries.get(&key.hash())?;
        tags::resolve(store, id).ok()
    }

    pub fn put(&mut self, key: &Key, id: &Digest) -> anyhow::Result<()> {
        self.entries.insert(key.hash(), digest::hex(id).to_string());
        write_atomic(&self.file, &serde_json::to_vec_pretty(&self.entries)?)
    }
}
