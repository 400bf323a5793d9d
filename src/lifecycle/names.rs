//! The name table: `<state root>/names/<name>` is a symlink to the id of
//! the container that holds the name. symlink(2) fails with EEXIST when
//! the name is taken, so claiming a name is one atomic step of the
//! kernel's — two `wharf run --name web` at once cannot both win, and no
//! separate lock is needed. Unnamed containers get `adjective_noun`.

use std::path::PathBuf;

use anyhow::{bail, Context};

const ADJECTIVES: [&str; 24] = [
    "brave", "calm", "clever", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lively",
    "lucid", "merry", "nimble", "proud", "quiet", "rapid", "shy", "silly", "sleepy", "steady",
    "swift", "tidy", "vivid", "witty",
];
const NOUNS: [&str; 24] = [
    "anchor", "barge", "buoy", "cargo", "crane", "dinghy", "ferry", "galley", "harbor", "hull",
    "keel", "ketch", "lantern", "mast", "oar", "pier", "quay", "rudder", "sail", "schooner",
    "skiff", "tug", "wharf", "yawl",
];

fn table() -> PathBuf {
    crate::paths::state_root().join("names")
}

/// Docker's rule for names: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn check(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok
        || !chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        || name.len() > 128
    {
        bail!("invalid container name {name:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    }
    Ok(())
}

/// Give `name` to `id`, or say who has it.
pub fn claim(name: &str, id: &str) -> anyhow::Result<()> {
    check(name)?;
    let dir = table();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    match std::os::unix::fs::symlink(id, dir.join(name)) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let holder = lookup(name).unwrap_or_default();
            bail!(
                "the container name \"/{name}\" is already in use by container {}: remove or rename that container",
                &holder[..holder.len().min(12)]
            )
        }
        other => other.with_context(|| format!("claiming the name {name}")),
    }
}

/// A fresh `adjective_noun` name for `id`, claimed.
pub fn claim_generated(id: &str) -> anyhow::Result<String> {
    let bytes = id.as_bytes();
    for attempt in 0..64usize {
        let a = ADJECTIVES[(bytes[attempt % bytes.len()] as usize + attempt) % ADJECTIVES.len()];
        let n = NOUNS[(bytes[(attempt + 1) % bytes.len()] as usize * 7 + attempt) % NOUNS.len()];
        let name = match attempt {
            0..=7 => format!("{a}_{n}"),
            _ => format!("{a}_{n}{attempt}"),
        };
        if claim(&name, id).is_ok() {
            return Ok(name);
        }
    }
    bail!("no free generated name was found: give one with --name")
}

/// The id holding `name`, if any.
pub fn lookup(name: &str) -> Option<String> {
    check(name).ok()?;
    let target = std::fs::read_link(table().join(name)).ok()?;
    Some(target.to_string_lossy().into_owned())
}

/// Free `name`, if `id` still holds it.
pub fn release(name: &str, id: &str) {
    if lookup(name).as_deref() == Some(id) {
        let _ = std::fs::remove_file(table().join(name));
    }
}

/// `wharf rename`: claim the new name first (so a taken one fails with
/// nothing changed), write the record with it, then free the old one.
/// The container's lock keeps two renames of it from crossing.
pub fn rename(rec: &super::Record, new: &str) -> anyhow::Result<()> {
    let _lock = crate::container::state::Lock::take(&rec.dir())?;
    let mut rec = super::record::load(&rec.id)?;
    if rec.name == new {
        bail!(
            "renaming container {}: it is already named {new}",
            rec.short_id()
        );
    }
    claim(new, &rec.id)?;
    let old = std::mem::replace(&mut rec.name, new.to_string());
    if let Err(e) = super::record::save(&rec) {
        release(new, &rec.id);
        return Err(e);
    }
    release(&old, &rec.id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn names_follow_dockers_rule() {
        for good in ["web", "web-1", "a.b_c", "9lives"] {
            assert!(check(good).is_ok(), "{good}");
        }
        for bad in ["", "-x", "a/b", "../x", "a b", ".hidden"] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }
}
