//! Kernel parameters a spec sets for its container, by writing files in
//! procfs from inside the container's namespaces: linux.sysctl (net.*,
//! kernel.shm*, ... are per namespace, so writing them here changes only
//! the container's copy) and process.oomScoreAdj.

use std::path::PathBuf;

use anyhow::{bail, Context};

use super::plan::Plan;
use crate::sys;

/// Written after pivot_root (the container's /proc) and before the
/// read-only paths make /proc/sys read-only.
pub fn apply(plan: &Plan) -> anyhow::Result<()> {
    for (key, value) in &plan.sysctl {
        if key.contains("..") || key.starts_with('/') || key.starts_with('.') {
            bail!("linux.sysctl key {key:?} is not a sysctl name");
        }
        let path = PathBuf::from("/proc/sys").join(key.replace('.', "/"));
        sys::write(
            &path,
            value,
            "linux.sysctl: a kernel parameter of the container's namespaces, set from inside them",
        )
        .with_context(|| format!("setting sysctl {key}={value}"))?;
    }
    if let Some(adj) = plan.process.oom_score_adj {
        sys::write(
            &PathBuf::from("/proc/self/oom_score_adj"),
            &adj.to_string(),
            "process.oomScoreAdj: how readily the OOM killer picks this process (-1000 never, 1000 first); the command inherits it",
        )?;
    }
    Ok(())
}
