//! The volume store: `<state root>/volumes/NAME/_data` holds a volume's
//! files, `volume.json` beside it what wharf knows about it, including which
//! containers use it (so `rm` can refuse a volume in use, and
//! `--volumes-from` can find a container's volumes later).
//!
//! Containers may start at the same time and share a volume, so every
//! read-modify-write of the store happens under an exclusive `flock` on
//! `volumes/.lock`.

use std::fs::File;
use std::path::PathBuf;

use anyhow::Context;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

/// What wharf records about one volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    pub name: String,
    /// Seconds since the epoch.
    pub created: u64,
    /// Made for one container by `-v /path`, removed with it unless kept.
    pub anonymous: bool,
    /// The directory that is bind-mounted into containers.
    pub mountpoint: PathBuf,
    /// Ids of the containers that have it mounted.
    pub users: Vec<String>,
}

impl Volume {
    /// Users whose container still exists: a container that died without
    /// cleaning up leaves no directory behind and no longer counts.
    pub fn live_users(&self) -> Vec<String> {
        let containers = crate::paths::containers_dir();
        self.users
            .iter()
            .filter(|u| containers.join(u).is_dir())
            .cloned()
            .collect()
    }
}

/// `<state root>/volumes`.
pub fn store() -> PathBuf {
    crate::paths::state_root().join("volumes")
}

fn dir(name: &str) -> PathBuf {
    store().join(name)
}

/// Volume names as Docker allows them: `[A-Za-z0-9][A-Za-z0-9_.-]+`.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !first_ok || !rest_ok || name.len() < 2 || name.len() > 64 {
        anyhow::bail!(
            "{name:?} is not a valid volume name: use 2 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit"
        );
    }
    Ok(())
}

/// Hold the store's lock for the life of the returned guard.
fn lock() -> anyhow::Result<Flock<File>> {
    std::fs::create_dir_all(store()).with_context(|| format!("creating {}", store().display()))?;
    let path = store().join(".lock");
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    Flock::lock(f, FlockArg::LockExclusive)
        .map_err(|(_, e)| anyhow::anyhow!("locking {}: {e}", path.display()))
}

fn load(name: &str) -> anyhow::Result<Option<Volume>> {
    let meta = dir(name).join("volume.json");
    match std::fs::read(&meta) {
        Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
            format!("{} is not valid volume metadata", meta.display())
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", meta.display())),
    }
}

/// Write the metadata whole or not at all: a temporary file renamed over.
fn save(v: &Volume) -> anyhow::Result<()> {
    let d = dir(&v.name);
    let tmp = d.join(".volume.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(v)?)?;
    std::fs::rename(&tmp, d.join("volume.json"))?;
    Ok(())
}

fn make(name: &str, anonymous: bool) -> anyhow::Result<Volume> {
    let data = dir(name).join("_data");
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let v = Volume {
        name: name.to_string(),
        created,
        anonymous,
        mountpoint: data,
        users: Vec::new(),
    };
    save(&v)?;
    Ok(v)
}

/// `wharf volume create [NAME]`: a new, empty named volume.
pub fn create(name: Option<&str>) -> anyhow::Result<Volume> {
    let name = match name {
        Some(n) => n.to_string(),
        None => anonymous_name()?,
    };
    check_name(&name)?;
    let _lock = lock()?;
    if load(&name)?.is_some() {
        anyhow::bail!("volume {name} already exists: pick another name, or use it as it is");
    }
    make(&name, false)
}

/// One volume, or a clear line if there is none by that name.
pub fn get(name: &str) -> anyhow::Result<Volume> {
    check_name(name)?;
    load(name)?.ok_or_else(|| anyhow::anyhow!("no such volume: {name} (see `wharf volume ls`)"))
}

/// Every volume, by name.
pub fn list() -> anyhow::Result<Vec<Volume>> {
    let Ok(entries) = std::fs::read_dir(store()) else {
        return Ok(Vec::new());
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join("volume.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.iter().map(|n| get(n)).collect()
}

/// `wharf volume rm NAME...`: all names are checked before any is removed.
/// A volume in use by a live container is refused unless `force`.
pub fn remove(names: &[String], force: bool) -> anyhow::Result<()> {
    let _lock = lock()?;
    let vols: Vec<Volume> = names
        .iter()
        .map(|n| get(n))
        .collect::<anyhow::Result<_>>()?;
    for v in &vols {
        let users = v.live_users();
        if !users.is_empty() && !force {
            anyhow::bail!(
                "volume {} is in use by container(s) {}: stop them first, or use --force",
                v.name,
                users.join(", ")
            );
        }
    }
    for v in &vols {
        std::fs::remove_dir_all(dir(&v.name))
            .with_context(|| format!("removing volume {}", v.name))?;
    }
    Ok(())
}

/// A name for an anonymous volume: 24 random hex digits.
pub fn anonymous_name() -> anyhow::Result<String> {
    Ok(format!(
        "{}{}",
        crate::paths::new_id()?,
        crate::paths::new_id()?
    ))
}

/// Record `container` as a user of volume `name`, creating the volume if
/// it does not exist; returns the directory to bind-mount.
pub fn use_volume(name: &str, anonymous: bool, container: &str) -> anyhow::Result<PathBuf> {
    let _lock = lock()?;
    let mut v = match load(name)? {
        Some(v) => v,
        None => make(name, anonymous)?,
    };
    if !v.users.iter().any(|u| u == container) {
        v.users.push(container.to_string());
    }
    save(&v)?;
    Ok(v.mountpoint)
}

/// The container no longer uses volume `name`; an anonymous volume goes
/// with it, unless `keep_anonymous`.
pub fn release(name: &str, container: &str, keep_anonymous: bool) -> anyhow::Result<()> {
    let _lock = lock()?;
    let Some(mut v) = load(name)? else {
        return Ok(());
    };
    v.users.retain(|u| u != container);
    if v.anonymous && !keep_anonymous && v.users.is_empty() {
        return std::fs::remove_dir_all(dir(name))
            .with_context(|| format!("removing anonymous volume {name}"));
    }
    save(&v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dockers_rule() {
        for ok in ["db", "cache-1", "a.b_c", "A1"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["x", "-a", ".a", "a/b", "..", "a b", &"n".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
