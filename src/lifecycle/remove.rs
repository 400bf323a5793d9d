//! Taking a container apart, whatever state a crash left it in: its init
//! and cgroup (the OCI runtime's delete --force: removing the cgroup kills
//! what is left in it), its overlay mount, its directory (upper dir,
//! logs, record), and its name. Every step is skipped when already done,
//! so `rm` after a kill -9 at any phase reclaims exactly what is left.

use anyhow::Context;

use super::{names, Record};
use crate::container::Runtime;
use crate::union::{Driver, Rootfs};

pub fn remove(rec: &Record) -> anyhow::Result<()> {
    let rt = Runtime::default_root();
    if rt.state(&rec.id).is_ok() {
        rt.delete(&rec.id, true)
            .with_context(|| format!("removing the runtime state of {}", rec.short_id()))?;
    }
    let dir = rec.dir();
    let rootfs = Rootfs {
        driver: Driver::Overlay,
        lowers: rec.lower_dirs.clone(),
        dir: dir.clone(),
    };
    rootfs.unmount()?;
    crate::union::remove_tree(&dir)?;
    names::release(&rec.name, &rec.id);
    Ok(())
}
