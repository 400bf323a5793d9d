//! Taking a container apart, whatever state a crash left it in: its init
//! and cgroup (the OCI runtime's delete --force: removing the cgroup kills
//! what is left in it), its overlay mount, its directory (upper dir,
//! logs, record), and its name. Every step is skipped when already done,
//! so `rm` after a kill -9 at any phase reclaims exactly what is left.

use anyhow::Context;

use super::{names, Record};
use crate::container::Runtime;
use crate::union::{Driver, Rootfs};

/// Take container `rec` apart; its anonymous volumes go too with
/// `drop_anonymous` (`rm -v`, and `--rm` as Docker does).
pub fn remove(rec: &Record, drop_anonymous: bool) -> anyhow::Result<()> {
    let rt = Runtime::default_root();
    if rt.state(&rec.id).is_ok() {
        rt.delete(&rec.id, true)
            .with_context(|| format!("removing the runtime state of {}", rec.short_id()))?;
    }
    let dir = rec.dir();
    // The name as the record says now: `rename` may have changed it
    // since the caller (a long-lived monitor) loaded its copy.
    let name = super::record::load(&rec.id).map_or_else(|_| rec.name.clone(), |r| r.name);
    let rootfs = Rootfs {
        driver: Driver::Overlay,
        lowers: rec.lower_dirs.clone(),
        dir: dir.clone(),
    };
    rootfs.unmount()?;
    super::volumes::detach(&rec.mounts, &rec.id, drop_anonymous || rec.auto_remove)?;
    crate::union::remove_tree(&dir)?;
    names::release(&name, &rec.id);
    // A monitor finishing at this moment may have been deleting the
    // runtime's state too: whatever of it is left goes (runc's rule:
    // delete --force of no container is done).
    rt.delete(&rec.id, true)?;
    Ok(())
}

/// What a wharf command killed half-way through `create` left without a
/// record: a container directory (maybe with its overlay mounted), a name
/// pointing at no container, an OCI runtime state of no container. Each
/// is recognised by its 64-hex id and removed; returns what was freed.
pub fn orphans() -> anyhow::Result<Vec<String>> {
    let root = crate::paths::state_root();
    let is_id = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let has_record = |id: &str| {
        super::record::dir_of(id)
            .join(super::record::RECORD)
            .is_file()
    };
    let mut freed = Vec::new();
    for (sub, what) in [("run", "runtime state"), ("containers", "directory")] {
        let Ok(entries) = std::fs::read_dir(root.join(sub)) else {
            continue;
        };
        for e in entries.filter_map(Result::ok) {
            let id = e.file_name().to_string_lossy().into_owned();
            if !is_id(&id) || has_record(&id) {
                continue;
            }
            if sub == "run" {
                Runtime::default_root().delete(&id, true)?;
            } else {
                let rootfs = Rootfs {
                    driver: Driver::Overlay,
                    lowers: Vec::new(),
                    dir: e.path(),
                };
                rootfs.unmount()?;
                crate::union::remove_tree(&e.path())?;
            }
            freed.push(format!("{what} {id}"));
        }
    }
    if let Ok(entries) = std::fs::read_dir(root.join("names")) {
        for e in entries.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            match names::lookup(&name) {
                Some(id) if !has_record(&id) => {
                    names::release(&name, &id);
                    freed.push(format!("name {name}"));
                }
                _ => {}
            }
        }
    }
    Ok(freed)
}
