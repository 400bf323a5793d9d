//! The cpuset controller: the CPUs a cgroup's tasks may run on and the
//! memory nodes they may take memory from (linux.resources.cpu.cpus and
//! .mems), what `taskset` and `numactl` do for one process.
//!
//! On v1 a new cpuset cgroup starts with both lists empty, and the kernel
//! refuses to move a task into a cgroup that has no CPU or no memory node
//! (ENOSPC). So each directory we make in the cpuset hierarchy, parents
//! included, first gets its parent's lists; then the leaf gets the spec's.
//! On v2 a new cgroup runs on its parent's CPUs until told otherwise.

use std::path::Path;

use anyhow::{bail, Context};

use crate::probe::cgroup as probe;
use crate::sys;

/// The lists as the spec gives them, in the kernel's list format
/// (`0-3,6`); `None` leaves that one as the parent has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cpuset {
    pub cpus: Option<String>,
    pub mems: Option<String>,
}

const CPUS: &str = "cpuset.cpus";
const MEMS: &str = "cpuset.mems";

impl Cpuset {
    /// Read from the spec's strings; an empty one means "not set", as runc
    /// reads it. A list the kernel would refuse is refused here, before
    /// any cgroup exists.
    pub fn from_spec(cpus: Option<&str>, mems: Option<&str>) -> anyhow::Result<Cpuset> {
        let take = |name: &str, v: Option<&str>| -> anyhow::Result<Option<String>> {
            match v.map(str::trim).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) if is_list(v) => Ok(Some(v.to_string())),
                Some(v) => bail!(
                    "linux.resources.cpu.{name} {v:?} is not a list like \"0-3,6\" (numbers and ranges, comma-separated)"
                ),
            }
        };
        Ok(Cpuset {
            cpus: take("cpus", cpus)?,
            mems: take("mems", mems)?,
        })
    }

    /// Whether the spec asks for either list.
    pub fn given(&self) -> bool {
        self.cpus.is_some() || self.mems.is_some()
    }
}

/// The kernel's list format: `N` or `N-M`, comma-separated.
fn is_list(text: &str) -> bool {
    text.split(',').all(|part| {
        let mut ends = part.splitn(2, '-');
        let num = |s: Option<&str>| {
            s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        };
        let first = ends.next();
        match ends.next() {
            None => num(first),
            second => num(first) && num(second),
        }
    })
}

/// v1: give the freshly made `dir` its parent's CPUs and memory nodes, so
/// a task may join it (or a child of it be given a subset).
pub fn inherit_v1(dir: &Path) -> anyhow::Result<()> {
    let parent = dir
        .parent()
        .context("a cgroup below the hierarchy's root")?;
    for file in [CPUS, MEMS] {
        if probe::knob(dir, file).is_some_and(|v| !v.is_empty()) {
            continue;
        }
        let from = probe::knob(parent, file)
            .with_context(|| format!("reading {}", parent.join(file).display()))?;
        sys::write(
            &dir.join(file),
            &from,
            "a new v1 cpuset cgroup has no CPUs or memory nodes, and no task may join it until it has: start from the parent's",
        )?;
    }
    Ok(())
}

/// Write the spec's lists into the cgroup `dir` (v1 and v2 name the
/// files alike); each must be a subset of the parent's.
pub fn write(dir: &Path, set: &Cpuset) -> anyhow::Result<()> {
    if let Some(cpus) = &set.cpus {
        sys::write(
            &dir.join(CPUS),
            cpus,
            "the CPUs the cgroup's tasks may run on; the scheduler moves them off any other",
        )?;
    }
    if let Some(mems) = &set.mems {
        sys::write(
            &dir.join(MEMS),
            mems,
            "the memory (NUMA) nodes the cgroup's tasks may allocate from",
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_numbers_and_ranges() {
        for ok in ["0", "0-1", "0-3,6", "1,3,5-7"] {
            assert!(is_list(ok), "{ok}");
        }
        for bad in ["", "a", "0-", "-1", "0,,1", "0-1-2", "0 1"] {
            assert!(!is_list(bad), "{bad}");
        }
    }

    #[test]
    fn empty_strings_are_not_set_and_bad_lists_are_refused() {
        let set = Cpuset::from_spec(Some(""), Some("0")).unwrap();
        assert_eq!(set.cpus, None);
        assert_eq!(set.mems.as_deref(), Some("0"));
        assert!(set.given());
        let err = Cpuset::from_spec(Some("zero"), None).unwrap_err();
        assert!(err.to_string().contains("cpu.cpus \"zero\""));
    }
}
