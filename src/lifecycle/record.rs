//! The Docker-level container record: what `wharf run` or `create`
//! decided, kept in `<state root>/containers/<id>/record.json`. The OCI
//! runtime's state (pid, created/running) lives beside it under
//! `<state root>/run/<id>/`, and the monitor's account of the run in
//! status.json ([`super::status`]): one writer per file, so no two
//! processes ever rewrite each other's words.
//!
//! The record is written once at create (and again by `rename`), to a
//! temporary file and renamed over, so a reader sees a whole record or
//! none. Commands that change a container hold its lock
//! ([`crate::container::state::Lock`] on `<dir>/lock`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::restart::Restart;

pub const RECORD: &str = "record.json";

/// Everything a container was made from, plainly: the image it came from
/// and the directories of its root (`wharf commit` turns `upper_dir` into
/// a layer).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// 64 hex digits.
    pub id: String,
    pub name: String,
    /// Unix nanoseconds.
    pub created: i128,
    /// The image as the user named it (`alpine:3.19`).
    pub image: String,
    /// The image's ID: the digest of its config.
    pub image_id: String,
    /// The digest of its manifest.
    pub image_digest: String,
    /// The command: entrypoint and cmd, resolved.
    pub path: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    /// As given (`-u`), or the image's User; empty is root.
    pub user: String,
    pub hostname: String,
    /// Keep the container's stdin open (`-i`).
    pub open_stdin: bool,
    /// The signal `stop` sends first (the image's StopSignal, or SIGTERM).
    pub stop_signal: String,
    pub restart: Restart,
    /// `--rm`: the monitor removes the container when it ends.
    pub auto_remove: bool,
    pub memory: i64,
    pub pids_limit: i64,
    pub nano_cpus: i64,
    pub init: bool,
    pub read_only: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    /// `--privileged`: every capability, no seccomp filter, nothing masked.
    pub privileged: bool,
    /// `none` (a network namespace with only lo) or `host`.
    pub network: String,
    /// The image's layers, lowest first, then the container's init layer.
    pub lower_dirs: Vec<PathBuf>,
    pub upper_dir: PathBuf,
    pub work_dir: PathBuf,
    pub merged_dir: PathBuf,
    /// json-file logs: the live file; rotated ones get `.1`, `.2`, …
    pub log_path: PathBuf,
    pub log_max_size: u64,
    pub log_max_files: u32,
    /// `-v` and `--tmpfs` mounts (records older than volumes have none).
    #[serde(default)]
    pub mounts: Vec<super::volumes::ContainerMount>,
}

impl Record {
    /// The id as tables show it: 12 hex digits.
    pub fn short_id(&self) -> &str {
        &self.id[..12]
    }

    /// The container's directory.
    pub fn dir(&self) -> PathBuf {
        dir_of(&self.id)
    }

    /// The command line as `ps` quotes it.
    pub fn command(&self) -> String {
        std::iter::once(self.path.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `<state root>/containers/<id>`.
pub fn dir_of(id: &str) -> PathBuf {
    crate::paths::containers_dir().join(id)
}

/// Write `value` as JSON to `dir/name` atomically (the store's
/// temporary file, fsync, rename).
pub fn write_json(dir: &Path, name: &str, value: &impl Serialize) -> anyhow::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    crate::image::store::write_atomic(&dir.join(name), &bytes)
}

pub fn save(rec: &Record) -> anyhow::Result<()> {
    write_json(&rec.dir(), RECORD, rec)
}

/// The record of container `id` (a full id).
pub fn load(id: &str) -> anyhow::Result<Record> {
    let path = dir_of(id).join(RECORD);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("no such container: {id} ({} is missing)", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a wharf record", path.display()))
}

/// Every container with a record, oldest first.
pub fn all() -> anyhow::Result<Vec<Record>> {
    let dir = crate::paths::containers_dir();
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(out);
    };
    for e in entries.filter_map(Result::ok) {
        let id = e.file_name().to_string_lossy().into_owned();
        if e.path().join(RECORD).is_file() {
            if let Ok(r) = load(&id) {
                out.push(r);
            }
        }
    }
    out.sort_by_key(|r| r.created);
    Ok(out)
}

/// The containers made from the image with this ID (`rmi` refuses to
/// remove an image a container's root still stands on).
pub fn using_image(image_id: &str) -> anyhow::Result<Vec<Record>> {
    Ok(all()?
        .into_iter()
        .filter(|r| r.image_id == image_id)
        .collect())
}
