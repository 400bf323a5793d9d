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

/// The lists the spec gives, each `None` where it leaves the parent's.
/// Kept as bit sets so that limits stay a plain `Copy` value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cpuset {
    pub cpus: Option<List>,
    pub mems: Option<List>,
}

/// The kernel's list format (`0-3,6`) as a set of up to [`List::MAX`] ids.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct List([u64; 16]);

const CPUS: &str = "cpuset.cpus";
const MEMS: &str = "cpuset.mems";

impl List {
    /// The ids a list can hold (CPUs or memory nodes): 0..1024.
    pub const MAX: usize = 1024;

    /// `N` or `N-M`, comma-separated; `None` if that is not what `text` is.
    pub fn parse(text: &str) -> Option<List> {
        let mut set = List::default();
        for part in text.split(',') {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let num = |s: &str| {
                s.bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| s.parse::<usize>().ok())
                    .flatten()
            };
            let (a, b) = (num(a)?, num(b)?);
            if a > b || b >= List::MAX {
                return None;
            }
            for i in a..=b {
                set.0[i / 64] |= 1 << (i % 64);
            }
        }
        Some(set)
    }

    fn has(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
}

/// Back to the kernel's format, runs as ranges: `0-3,6`.
impl std::fmt::Display for List {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        let mut i = 0;
        while i < List::MAX {
            if !self.has(i) {
                i += 1;
                continue;
            }
            let first = i;
            while i + 1 < List::MAX && self.has(i + 1) {
                i += 1;
            }
            parts.push(match first == i {
                true => first.to_string(),
                false => format!("{first}-{i}"),
            });
            i += 1;
        }
        f.write_str(&parts.join(","))
    }
}

impl Cpuset {
    /// Read from the spec's strings; an empty one means "not set", as runc
    /// reads it. A list the kernel would refuse is refused here, before
    /// any cgroup exists.
    pub fn from_spec(cpus: Option<&str>, mems: Option<&str>) -> anyhow::Result<Cpuset> {
        let take = |name: &str, v: Option<&str>| -> anyhow::Result<Option<List>> {
            match v.map(str::trim).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => match List::parse(v) {
                    Some(l) => Ok(Some(l)),
                    None => bail!(
                        "linux.resources.cpu.{name} {v:?} is not a list like \"0-3,6\" (numbers below {} and ranges, comma-separated)",
                        List::MAX
                    ),
                },
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
            &cpus.to_string(),
            "the CPUs the cgroup's tasks may run on; the scheduler moves them off any other",
        )?;
    }
    if let Some(mems) = &set.mems {
        sys::write(
            &dir.join(MEMS),
            &mems.to_string(),
            "the memory (NUMA) nodes the cgroup's tasks may allocate from",
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_numbers_and_ranges_and_print_as_the_kernel_does() {
        for (text, shown) in [
            ("0", "0"),
            ("0-1", "0-1"),
            ("0-3,6", "0-3,6"),
            ("3,1,2,7", "1-3,7"),
        ] {
            assert_eq!(List::parse(text).unwrap().to_string(), shown, "{text}");
        }
        for bad in ["", "a", "0-", "-1", "0,,1", "0-1-2", "0 1", "3-1", "1024"] {
            assert!(List::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn empty_strings_are_not_set_and_bad_lists_are_refused() {
        let set = Cpuset::from_spec(Some(""), Some("0")).unwrap();
        assert_eq!(set.cpus, None);
        assert_eq!(set.mems.map(|m| m.to_string()).as_deref(), Some("0"));
        assert!(set.given());
        let err = Cpuset::from_spec(Some("zero"), None).unwrap_err();
        assert!(err.to_string().contains("cpu.cpus \"zero\""));
    }
}
