//! cgroup v1: one hierarchy per controller, each with its own directory
//! for our cgroup and its own file names and units.

use super::limits::Limits;
use crate::probe::cgroup::{self as probe, Dirs};
use crate::sys;

/// Write the limits in v1's formats: the CFS period and quota as two
/// files, cpu.shares, memory.limit_in_bytes, pids.max.
pub fn write_limits(dirs: &Dirs, limits: &Limits) -> anyhow::Result<()> {
    if let (Some(c), Some(dir)) = (limits.cpu, &dirs.cpu) {
        // The period first: the kernel checks each quota against the period in force.
        sys::write(
            &dir.join("cpu.cfs_period_us"),
            &c.period_us.to_string(),
            "the length of one CFS bandwidth period",
        )?;
        sys::write(
            &dir.join("cpu.cfs_quota_us"),
            &c.quota_us.to_string(),
            "CPU time the cgroup may use per period; then it is throttled until the next one",
        )?;
    }
    if let (Some(shares), Some(dir)) = (limits.cpu_shares, &dirs.cpu) {
        sys::write(
            &dir.join("cpu.shares"),
            &shares.to_string(),
            "the cgroup's weight when CPUs are contended: twice the shares, twice the time of a sibling",
        )?;
    }
    if let (Some(m), Some(dir)) = (limits.memory, &dirs.memory) {
        sys::write(
            &dir.join("memory.limit_in_bytes"),
            &m.to_string(),
            "above this the kernel reclaims, and if it cannot, the OOM killer kills in this cgroup",
        )?;
        // memory+swap; present only with swap accounting. Equal to the
        // memory limit means: no swap.
        if probe::has_file(dir, "memory.memsw.limit_in_bytes") {
            sys::write(
                &dir.join("memory.memsw.limit_in_bytes"),
                &m.to_string(),
                "memory plus swap capped at the same value: no swap, so the limit is a real wall",
            )?;
        }
    }
    if let (Some(p), Some(dir)) = (limits.pids, &dirs.pids) {
        sys::write(
            &dir.join("pids.max"),
            &p.to_string(),
            "fork and clone fail with EAGAIN once the cgroup holds this many tasks",
        )?;
    }
    Ok(())
}
