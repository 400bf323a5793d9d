//! cgroup v2: one tree, every controller in it. A controller works in a
//! cgroup only if its parent lists it in `cgroup.subtree_control`, and a
//! cgroup that hands controllers down may not hold processes itself (the
//! "no internal processes" rule; the root is exempt).

use std::path::Path;

use anyhow::{bail, Context};

use super::limits::Limits;
use crate::probe::cgroup as probe;
use crate::sys;

/// The v2 controllers every container's cgroup needs.
pub const NEEDED: [&str; 3] = ["cpu", "memory", "pids"];

/// The controllers a cgroup with `limits` needs: [`NEEDED`], and cpuset
/// when it pins CPUs or memory nodes.
pub fn controllers(limits: &Limits) -> Vec<&'static str> {
    let mut out = NEEDED.to_vec();
    if limits.cpuset.given() {
        out.push("cpuset");
    }
    out
}

/// Make sure `parent` hands `wanted` to its children, writing e.g.
/// `+cpu +memory +pids` (only those not enabled yet) to its subtree_control.
pub fn enable_controllers(parent: &Path, wanted: &[&str]) -> anyhow::Result<()> {
    let read = |file: &str| {
        probe::controller_list(parent, file)
            .with_context(|| format!("reading {}", parent.join(file).display()))
    };
    let available = read("cgroup.controllers")?;
    if let Some(missing) = wanted.iter().find(|c| !available.iter().any(|a| a == *c)) {
        bail!(
            "the {missing} controller is not available in {}: it is bound to a v1 hierarchy or disabled on the kernel command line",
            parent.display()
        );
    }
    let enabled = read("cgroup.subtree_control")?;
    let add: Vec<String> = wanted
        .iter()
        .filter(|c| !enabled.iter().any(|e| e == *c))
        .map(|c| format!("+{c}"))
        .collect();
    if add.is_empty() {
        return Ok(());
    }
    sys::write(
        &parent.join("cgroup.subtree_control"),
        &add.join(" "),
        "in cgroup v2 a controller works in a cgroup only if its parent enables it for its children",
    )?;
    Ok(())
}

/// Write the limits in v2's formats: `cpu.max` "QUOTA PERIOD", `cpu.weight`,
/// `memory.max` in bytes, `pids.max`.
pub fn write_limits(dir: &Path, limits: &Limits) -> anyhow::Result<()> {
    if let Some(c) = limits.cpu {
        sys::write(
            &dir.join("cpu.max"),
            &format!("{} {}", c.quota_us, c.period_us),
            "CFS bandwidth: the cgroup may run QUOTA microseconds in every PERIOD, then it is throttled until the next one",
        )?;
    }
    if let Some(shares) = limits.cpu_shares {
        sys::write(
            &dir.join("cpu.weight"),
            &weight_of_shares(shares).to_string(),
            "the cgroup's weight when CPUs are contended (v1's shares 2..262144 mapped onto v2's 1..10000)",
        )?;
    }
    if let Some(m) = limits.memory {
        sys::write(
            &dir.join("memory.max"),
            &m.to_string(),
            "above this the kernel reclaims, and if it cannot, the OOM killer kills in this cgroup",
        )?;
        if probe::has_file(dir, "memory.swap.max") {
            sys::write(
                &dir.join("memory.swap.max"),
                "0",
                "no swap either, so the memory limit is a real wall",
            )?;
        }
    }
    if let Some(p) = limits.pids {
        sys::write(
            &dir.join("pids.max"),
            &p.to_string(),
            "fork and clone fail with EAGAIN once the cgroup holds this many tasks",
        )?;
    }
    Ok(())
}

/// v1's cpu.shares (2..262144, default 1024) as v2's cpu.weight (1..10000,
/// default 100): the linear map runc and crun use, so 2 -> 1 and 262144 -> 10000.
pub fn weight_of_shares(shares: u64) -> u64 {
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9_999) / 262_142
}

/// Kill every process in the cgroup and its children in one write
/// (`cgroup.kill`, kernel 5.14+). `false` when this kernel has no such file.
pub fn kill_all(dir: &Path) -> anyhow::Result<bool> {
    if !probe::has_file(dir, "cgroup.kill") {
        return Ok(false);
    }
    sys::write(
        &dir.join("cgroup.kill"),
        "1",
        "SIGKILL every process left in the cgroup, atomically, so none can fork away",
    )?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_map_onto_weights_end_to_end() {
        assert_eq!(weight_of_shares(2), 1);
        assert_eq!(weight_of_shares(262_144), 10_000);
        assert_eq!(weight_of_shares(1024), 39);
        assert_eq!(weight_of_shares(0), 1);
    }
}
