//! Reading cgroups: the host's mode (v1, v2, hybrid), a process's cgroup
//! per hierarchy, and its limits and usage.
//!
//! A cgroup is a directory in a cgroup filesystem; its files are the
//! kernel's knobs and counters. cgroup v1 mounts one filesystem (a
//! *hierarchy*) per controller or group of controllers, each with its own
//! tree: `/sys/fs/cgroup/memory/a/b`. cgroup v2 has a single tree holding
//! every controller: `/sys/fs/cgroup/a/b`. A hybrid host (systemd's old
//! default) runs the v1 controllers and mounts an empty cgroup2 tree at
//! `/sys/fs/cgroup/unified` beside them.
//!
//! Everything here takes the cgroupfs root as a [`Cgroupfs`], so the same
//! code reads the real `/sys/fs/cgroup` and the fixture trees in
//! `tests/fixtures/cgroup/{v1,v2,hybrid}`.

use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use super::host::CgroupMode;

/// Where cgroup filesystems are mounted on every modern distribution.
pub const SYSTEM_ROOT: &str = "/sys/fs/cgroup";

/// The controllers wharf limits and reports on.
pub const CONTROLLERS: [&str; 4] = ["cpu", "cpuacct", "memory", "pids"];

/// runc's rule, as a pure function: if the root is itself a cgroup2
/// filesystem the host is pure v2; if the root is something else (a tmpfs
/// holding v1 mounts) but `unified/` is cgroup2, it is hybrid; else v1.
pub fn decide(root_is_cgroup2: bool, unified_is_cgroup2: bool) -> CgroupMode {
    match (root_is_cgroup2, unified_is_cgroup2) {
        (true, _) => CgroupMode::V2,
        (false, true) => CgroupMode::Hybrid,
        (false, false) => CgroupMode::V1,
    }
}

/// The mode of the cgroup filesystems mounted at `root`, from statfs(2)'s
/// filesystem magic: CGROUP2_SUPER_MAGIC for a cgroup2 mount.
pub fn detect(root: &Path) -> io::Result<CgroupMode> {
    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
    let root_magic = statfs(root).map_err(io::Error::from)?.filesystem_type();
    // A missing unified/ is normal on v1 hosts: it just is not cgroup2.
    let unified_magic = statfs(&root.join("unified"))
        .ok()
        .map(|s| s.filesystem_type());
    Ok(decide(
        root_magic == CGROUP2_SUPER_MAGIC,
        unified_magic == Some(CGROUP2_SUPER_MAGIC),
    ))
}

/// The cgroup filesystems under one root, and how they are arranged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroupfs {
    pub root: PathBuf,
    pub mode: CgroupMode,
}

impl Cgroupfs {
    /// This host's `/sys/fs/cgroup`, its mode detected.
    pub fn system() -> io::Result<Cgroupfs> {
        let root = super::cgroupns::reachable_root();
        Ok(Cgroupfs {
            mode: detect(&root)?,
            root,
        })
    }

    /// A tree at `root` laid out as `mode` (fixtures).
    pub fn at(root: impl Into<PathBuf>, mode: CgroupMode) -> Cgroupfs {
        Cgroupfs {
            root: root.into(),
            mode,
        }
    }

    /// The cgroup2 tree: the root itself on v2, `unified/` on hybrid.
    pub fn unified(&self) -> Option<PathBuf> {
        match self.mode {
            CgroupMode::V2 => Some(self.root.clone()),
            CgroupMode::Hybrid => Some(self.root.join("unified")),
            CgroupMode::V1 => None,
        }
    }

    /// The v1 hierarchy that holds `controller`, resolved: distributions
    /// co-mount `cpu,cpuacct` and add `cpu` and `cpuacct` as symlinks to it,
    /// so two names can be one directory. `None` on pure v2.
    pub fn v1_hierarchy(&self, controller: &str) -> Option<PathBuf> {
        if self.mode == CgroupMode::V2 {
            return None;
        }
        // Follow the symlink by hand: the root may be /proc/self/fd/N,
        // which canonicalize would turn into a path we cannot reach.
        let p = self.root.join(controller);
        match std::fs::read_link(&p) {
            Ok(target) => Some(self.root.join(target)),
            Err(_) => p.is_dir().then_some(p),
        }
    }

    /// Where the controllers of the cgroup `rel` (a path below each
    /// hierarchy's root, such as `wharf-1a2b3c4d/ch04-42`) live.
    pub fn dirs(&self, rel: &Path) -> Dirs {
        if self.mode == CgroupMode::V2 {
            let d = self.root.join(rel);
            return Dirs {
                v2: true,
                cpu: Some(d.clone()),
                cpuacct: Some(d.clone()),
                memory: Some(d.clone()),
                pids: Some(d),
            };
        }
        let at = |c: &str| self.v1_hierarchy(c).map(|h| h.join(rel));
        Dirs {
            v2: false,
            cpu: at("cpu"),
            cpuacct: at("cpuacct"),
            memory: at("memory"),
            pids: at("pids"),
        }
    }
}

/// The directories of one cgroup, per controller. On v2 they are all the
/// same directory; on v1 each is in its controller's hierarchy (and `cpu`
/// and `cpuacct` may share one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dirs {
    pub v2: bool,
    pub cpu: Option<PathBuf>,
    pub cpuacct: Option<PathBuf>,
    pub memory: Option<PathBuf>,
    pub pids: Option<PathBuf>,
}

impl Dirs {
    /// Each distinct directory once, in a stable order.
    pub fn unique(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        for d in [&self.cpu, &self.cpuacct, &self.memory, &self.pids]
            .into_iter()
            .flatten()
        {
            if !out.contains(d) {
                out.push(d.clone());
            }
        }
        out
    }
}

/// CPU bandwidth and what the process used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CpuStat {
    /// Microseconds of CPU allowed per period; `None` = no limit.
    pub quota_us: Option<u64>,
    pub period_us: u64,
    /// CPU time used by the cgroup (v2 cpu.stat usage_usec, v1 cpuacct.usage).
    pub usage_us: Option<u64>,
    /// Periods in which the cgroup ran out of quota and was stopped.
    pub nr_throttled: u64,
    pub throttled_us: u64,
}

/// The memory limit, what is charged now, and how often the OOM killer
/// killed inside the cgroup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MemoryStat {
    pub limit: Option<u64>,
    pub usage: u64,
    pub oom_kills: u64,
}

/// The pids limit, the tasks counted now, and how many forks it refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PidsStat {
    pub max: Option<u64>,
    pub current: u64,
    /// `pids.events` `max`: forks and clones refused because of the limit.
    pub refused: u64,
}

/// Limits and usage of one cgroup; a controller is `None` when its files
/// are not there (not mounted, not enabled for this cgroup).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub cpu: Option<CpuStat>,
    pub memory: Option<MemoryStat>,
    pub pids: Option<PidsStat>,
}

/// Read what the kernel says about the cgroup in `dirs`.
pub fn stats(dirs: &Dirs) -> Stats {
    if dirs.v2 {
        let d = dirs.cpu.as_deref();
        return Stats {
            cpu: d.and_then(cpu_v2),
            memory: d.and_then(memory_v2),
            pids: d.and_then(pids),
        };
    }
    Stats {
        cpu: cpu_v1(dirs.cpu.as_deref(), dirs.cpuacct.as_deref()),
        memory: dirs.memory.as_deref().and_then(memory_v1),
        pids: dirs.pids.as_deref().and_then(pids),
    }
}

/// A cgroup file's content, trimmed (`freezer.state`, `cgroup.events`);
/// `None` if it is not there.
pub fn knob(dir: &Path, name: &str) -> Option<String> {
    read(dir, name)
}

/// A file's content, trimmed; `None` if it is not there.
fn read(dir: &Path, name: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(name))
        .ok()
        .map(|s| s.trim().to_string())
}

/// A number, or `None` for `max` (and for v1's "unlimited" values, which
/// are the largest page-aligned i64 or -1).
fn limit(text: &str) -> Option<u64> {
    match text.parse::<i64>() {
        Ok(v) if (0..1 << 62).contains(&v) => Some(v as u64),
        _ => None,
    }
}

/// `key value` lines (cpu.stat, memory.events, pids.events): the value of `key`.
pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// v2: `cpu.max` is "QUOTA PERIOD" (QUOTA may be `max`); `cpu.stat`
/// counts in microseconds.
fn cpu_v2(dir: &Path) -> Option<CpuStat> {
    let stat = read(dir, "cpu.stat")?;
    let max = read(dir, "cpu.max").unwrap_or_else(|| "max 100000".into());
    let (quota, period) = max.split_once(' ').unwrap_or((&max, "100000"));
    Some(CpuStat {
        quota_us: limit(quota),
        period_us: period.parse().unwrap_or(100_000),
        usage_us: keyed(&stat, "usage_usec"),
        nr_throttled: keyed(&stat, "nr_throttled").unwrap_or(0),
        throttled_us: keyed(&stat, "throttled_usec").unwrap_or(0),
    })
}

/// v1: quota and period in their own files (quota -1 = unlimited),
/// throttling in nanoseconds, usage in the cpuacct hierarchy in nanoseconds.
fn cpu_v1(cpu: Option<&Path>, cpuacct: Option<&Path>) -> Option<CpuStat> {
    let usage_us = cpuacct
        .and_then(|d| read(d, "cpuacct.usage"))
        .and_then(|u| u.parse::<u64>().ok())
        .map(|ns| ns / 1000);
    let Some(stat) = cpu.and_then(|d| read(d, "cpu.stat")) else {
        return usage_us.map(|u| CpuStat {
            usage_us: Some(u),
            period_us: 100_000,
            ..Default::default()
        });
    };
    let dir = cpu?;
    Some(CpuStat {
        quota_us: read(dir, "cpu.cfs_quota_us").and_then(|q| limit(&q)),
        period_us: read(dir, "cpu.cfs_period_us")
            .and_then(|p| p.parse().ok())
            .unwrap_or(100_000),
        usage_us,
        nr_throttled: keyed(&stat, "nr_throttled").unwrap_or(0),
        throttled_us: keyed(&stat, "throttled_time").unwrap_or(0) / 1000,
    })
}

/// v2: memory.max / memory.current, OOM kills in memory.events.
fn memory_v2(dir: &Path) -> Option<MemoryStat> {
    Some(MemoryStat {
        limit: limit(&read(dir, "memory.max")?),
        usage: read(dir, "memory.current")?.parse().ok()?,
        oom_kills: read(dir, "memory.events")
            .and_then(|e| keyed(&e, "oom_kill"))
            .unwrap_or(0),
    })
}

/// v1: memory.limit_in_bytes / memory.usage_in_bytes, OOM kills in
/// memory.oom_control (kernel 4.13 and later).
fn memory_v1(dir: &Path) -> Option<MemoryStat> {
    Some(MemoryStat {
        limit: limit(&read(dir, "memory.limit_in_bytes")?),
        usage: read(dir, "memory.usage_in_bytes")?.parse().ok()?,
        oom_kills: read(dir, "memory.oom_control")
            .and_then(|e| keyed(&e, "oom_kill"))
            .unwrap_or(0),
    })
}

/// Same files on v1 and v2: pids.max (`max` = none), pids.current, pids.events.
fn pids(dir: &Path) -> Option<PidsStat> {
    Some(PidsStat {
        max: limit(&read(dir, "pids.max")?),
        current: read(dir, "pids.current")?.parse().ok()?,
        refused: read(dir, "pids.events")
            .and_then(|e| keyed(&e, "max"))
            .unwrap_or(0),
    })
}

/// The controllers a v2 cgroup offers its children (`cgroup.subtree_control`)
/// or has available (`cgroup.controllers`).
pub fn controller_list(dir: &Path, file: &str) -> io::Result<Vec<String>> {
    Ok(std::fs::read_to_string(dir.join(file))?
        .split_whitespace()
        .map(str::to_string)
        .collect())
}

/// Whether this cgroup has a knob named `file` (e.g. `memory.swap.max`,
/// which exists only with swap accounting).
pub fn has_file(dir: &Path, file: &str) -> bool {
    dir.join(file).exists()
}

/// Whether a cgroup directory exists.
pub fn exists(dir: &Path) -> bool {
    dir.is_dir()
}

/// The child cgroups of a cgroup: its subdirectories.
pub fn children(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .map(|e| e.path())
        .collect();
    out.sort();
    Ok(out)
}

/// One line of /proc/PID/cgroup: `ID:CONTROLLERS:PATH`. The v2 line is
/// `0::PATH`; a v1 line names its hierarchy's controllers (`4:memory:/x`)
/// or its name (`1:name=systemd:/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub id: u32,
    pub controllers: Vec<String>,
    pub path: String,
}

/// Parse /proc/PID/cgroup.
pub fn parse_proc_cgroup(text: &str) -> Vec<Membership> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let id = it.next()?.parse().ok()?;
            let ctrl = it.next()?;
            let path = it.next()?.to_string();
            let controllers = ctrl
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect();
            Some(Membership {
                id,
                controllers,
                path,
            })
        })
        .collect()
}

/// The cgroup rows for `pid`: one per hierarchy that holds one of
/// [`CONTROLLERS`], plus the cgroup2 tree.
/// Read from inside a cgroup namespace, a path is shown as the kernel
/// gives it and, where that differs, as the host path too.
pub fn rows(pid: i32) -> io::Result<Vec<CgroupRow>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
    let cgns = std::fs::read_link("/proc/self/ns/cgroup")?;
    let cgns = super::ns::parse_link("cgroup", &cgns.to_string_lossy()).unwrap_or(0);
    let is_self = super::proc_self() == Ok(pid);
    let kernel = parse_proc_cgroup(&text);
    let host = super::cgroupns::to_host(kernel.clone(), cgns, is_self).map_err(io::Error::other)?;
    let fs = Cgroupfs::system()?;
    Ok(kernel
        .iter()
        .zip(&host)
        .filter_map(|(k, h)| {
            let mut r = row(&fs, h)?;
            if k.path != h.path {
                r.path = format!("{} (host: {})", k.path, h.path);
            }
            Some(r)
        })
        .collect())
}

/// The rows for a process whose /proc/PID/cgroup reads `proc_cgroup`.
pub fn rows_in(fs: &Cgroupfs, proc_cgroup: &str) -> Vec<CgroupRow> {
    parse_proc_cgroup(proc_cgroup)
        .into_iter()
        .filter_map(|m| row(fs, &m))
        .collect()
}

/// The directories of `pid`'s cgroups that hold [`CONTROLLERS`] (on v2
/// the one tree, on hybrid not the controller-less unified one): where a
/// process joining its container, as `docker exec` does, must go.
pub fn dirs_of(pid: i32) -> io::Result<Vec<PathBuf>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
    let fs = Cgroupfs::system()?;
    let mut out = Vec::new();
    for m in parse_proc_cgroup(&text) {
        if fs.mode == CgroupMode::Hybrid && m.controllers.is_empty() {
            continue;
        }
        for d in membership_dirs(&fs, &m)
            .map(|(_, d)| d.unique())
            .unwrap_or_default()
        {
            if !out.contains(&d) {
                out.push(d);
            }
        }
    }
    Ok(out)
}

fn row(fs: &Cgroupfs, m: &Membership) -> Option<CgroupRow> {
    let (hierarchy, dirs) = membership_dirs(fs, m)?;
    let s = stats(&dirs);
    Some(CgroupRow {
        hierarchy,
        path: m.path.clone(),
        limits: s.limits_text(),
        usage: s.usage_text(),
    })
}

/// One line of /proc/PID/cgroup as its hierarchy's name and the cgroup's
/// directories there; `None` for hierarchies without our controllers.
fn membership_dirs(fs: &Cgroupfs, m: &Membership) -> Option<(String, Dirs)> {
    let rel = Path::new(m.path.trim_start_matches('/'));
    let (hierarchy, dirs) = if m.controllers.is_empty() {
        let dir = fs.unified()?.join(rel);
        let d = Some(dir);
        (
            "unified".to_string(),
            Dirs {
                v2: true,
                cpu: d.clone(),
                cpuacct: d.clone(),
                memory: d.clone(),
                pids: d,
            },
        )
    } else {
        let ours: Vec<&String> = m
            .controllers
            .iter()
            .filter(|c| CONTROLLERS.contains(&c.as_str()))
            .collect();
        let first = ours.first()?;
        let dir = fs.v1_hierarchy(first)?.join(rel);
        let has = |c: &str| m.controllers.iter().any(|x| x == c).then(|| dir.clone());
        (
            m.controllers.join(","),
            Dirs {
                v2: false,
                cpu: has("cpu"),
                cpuacct: has("cpuacct"),
                memory: has("memory"),
                pids: has("pids"),
            },
        )
    };
    Some((hierarchy, dirs))
}

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

/// Bytes in the largest binary unit that keeps them short: `64M`, `512K`.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)];
    for (u, size) in UNITS {
        if b >= size {
            let v = b as f64 / size as f64;
            return if b % size == 0 {
                format!("{}{u}", b / size)
            } else {
                format!("{v:.1}{u}")
            };
        }
    }
    format!("{b}B")
}

impl Stats {
    /// `cpu 20000/100000us, memory 64M, pids 32`, or `-` with no limit set.
    pub fn limits_text(&self) -> String {
        let mut parts = Vec::new();
        if let Some(q) = self.cpu.and_then(|c| c.quota_us.map(|q| (q, c.period_us))) {
            parts.push(format!("cpu {}/{}us", q.0, q.1));
        }
        if let Some(m) = self.memory.and_then(|m| m.limit) {
            parts.push(format!("memory {}", human_bytes(m)));
        }
        if let Some(p) = self.pids.and_then(|p| p.max) {
            parts.push(format!("pids {p}"));
        }
        if parts.is_empty() {
            "-".into()
        } else {
            parts.join(", ")
        }
    }

    /// `cpu 1.2s (throttled 31x), memory 3.1M, pids 2`, or `-`.
    pub fn usage_text(&self) -> String {
        let mut parts = Vec::new();
        if let Some(c) = self.cpu {
            let used = c.usage_us.map(|u| format!("{:.2}s", u as f64 / 1e6));
            let throttled = (c.nr_throttled > 0).then(|| format!("throttled {}x", c.nr_throttled));
            let text = match (used, throttled) {
                (Some(u), Some(t)) => format!("cpu {u} ({t})"),
                (Some(u), None) => format!("cpu {u}"),
                (None, Some(t)) => format!("cpu {t}"),
                (None, None) => String::new(),
            };
            parts.extend((!text.is_empty()).then_some(text));
        }
        if let Some(m) = self.memory {
            let oom = if m.oom_kills > 0 {
                format!(" (oom kills {})", m.oom_kills)
            } else {
                String::new()
            };
            parts.push(format!("memory {}{oom}", human_bytes(m.usage)));
        }
        if let Some(p) = self.pids {
            let refused = if p.refused > 0 {
                format!(" (forks refused {})", p.refused)
            } else {
                String::new()
            };
            parts.push(format!("pids {}{refused}", p.current));
        }
        if parts.is_empty() {
            "-".into()
        } else {
            parts.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_is_decided_as_runc_does() {
        assert_eq!(decide(true, false), CgroupMode::V2);
        // A cgroup2 root wins even if something odd is mounted at unified/.
        assert_eq!(decide(true, true), CgroupMode::V2);
        assert_eq!(decide(false, true), CgroupMode::Hybrid);
        assert_eq!(decide(false, false), CgroupMode::V1);
    }

    #[test]
    fn proc_cgroup_lines() {
        let m = parse_proc_cgroup("9:name=systemd:/\n2:cpu,cpuacct:/a/b\n0::/x:y\n");
        assert_eq!(m[0].controllers, vec!["name=systemd"]);
        assert_eq!(m[1].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(m[1].path, "/a/b");
        // A path may itself contain ':'.
        assert_eq!(
            m[2],
            Membership {
                id: 0,
                controllers: vec![],
                path: "/x:y".into()
            }
        );
    }

    #[test]
    fn unlimited_values_read_as_none() {
        assert_eq!(limit("max"), None);
        assert_eq!(limit("-1"), None);
        assert_eq!(limit("9223372036854771712"), None);
        assert_eq!(limit("67108864"), Some(67108864));
    }

    #[test]
    fn bytes_are_shown_short() {
        assert_eq!(human_bytes(64 << 20), "64M");
        assert_eq!(human_bytes(512 << 10), "512K");
        assert_eq!(human_bytes(3 << 19), "1.5M");
        assert_eq!(human_bytes(100), "100B");
    }
}
