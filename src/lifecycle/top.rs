//! `wharf top`: the container's processes. The kernel keeps the list for
//! us — every process the init forks is born in its cgroup, and
//! cgroup.procs names them all (host pids) — so nothing inside the
//! container has to be asked or trusted.

use anyhow::bail;

use super::Record;
use crate::probe::ps::{self, PsRow};

/// `ps -ef` rows of every process in container `rec`'s cgroup, by pid.
pub fn processes(rec: &Record) -> anyhow::Result<Vec<PsRow>> {
    let Some(cg) = crate::cgroup::Cgroup::open(&rec.id)? else {
        bail!("container {} is not running", rec.name);
    };
    let mut pids = cg.pids();
    // Only looked at: the container's cgroup stays.
    cg.persist();
    if pids.is_empty() {
        bail!("container {} is not running", rec.name);
    }
    pids.sort_unstable();
    pids.dedup();
    // A process may end between the listing and the read: it is not shown.
    Ok(pids.into_iter().filter_map(|p| ps::row(p).ok()).collect())
}
