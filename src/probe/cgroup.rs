//! Reading cgroups: the host's mode (v1, v2, hybrid), a process's cgroup
//! per hierarchy, and its limits and usage. Being written.

use serde::Serialize;

/// One row of the cgroup table for a process: a hierarchy and what the
/// kernel says about the process's cgroup in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CgroupRow {
    /// `unified` for cgroup2, else the v1 controller list (`cpu,cpuacct`).
    pub hierarchy: String,
    /// The cgroup path relative to the hierarchy's root, as /proc/PID/cgroup says.
    pub path: String,
    /// Limits in force, e.g. `cpu 20000/100000us, memory 64M, pids 32`.
    pub limits: String,
    /// Usage, e.g. `cpu 1.2s (throttled 31x), memory 3.1M, pids 2`.
    pub usage: String,
}

/// The cgroup rows for `pid` (stub: returns nothing until written).
pub fn rows(_pid: i32) -> std::io::Result<Vec<CgroupRow>> {
    Ok(Vec::new())
}
