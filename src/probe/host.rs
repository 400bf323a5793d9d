//! The host as the kernel describes it: release, filesystems, cgroup mode and
//! controllers, mount propagation, sysctls, and the objects `wharf reset`
//! must find (mounts under a path, cgroup hierarchies, processes, links).
//! Read only: nothing here changes the kernel's state.

use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::mounts::{self, MountRow};

/// `uname -r`, as /proc/sys/kernel/osrelease holds it.
pub fn kernel_release() -> io::Result<String> {
    sysctl("kernel.osrelease").map(|v| v.unwrap_or_default())
}

/// `(major, minor)` of a release string such as `6.1.0-18-amd64`.
pub fn release_version(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// The filesystem types the running kernel can mount now (/proc/filesystems;
/// a type whose module is not loaded yet is missing until the first mount).
pub fn filesystems() -> io::Result<Vec<String>> {
    let text = std::fs::read_to_string("/proc/filesystems")?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .map(str::to_string)
        .collect())
}

/// A sysctl by its dotted name (`net.ipv4.ip_forward`), trimmed; `None` when
/// this kernel has no such knob.
pub fn sysctl(name: &str) -> io::Result<Option<String>> {
    let path = Path::new("/proc/sys").join(name.replace('.', "/"));
    match std::fs::read_to_string(path) {
        Ok(v) => Ok(Some(v.trim().to_string())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The mount table of this process's mount namespace.
fn my_mounts() -> io::Result<Vec<MountRow>> {
    mounts::rows(std::process::id() as i32)
}

/// A mountinfo path with the kernel's octal escapes (`\040` for a space)
/// turned back into bytes.
pub fn unescape(field: &Path) -> PathBuf {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let b = field.as_os_str().as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match oct {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// How `/` propagates mount events, as mountinfo's optional fields say:
/// `shared:1` (systemd's default), `master:3`, `private`, `unbindable`.
pub fn root_propagation() -> io::Result<String> {
    // The last entry for "/" is the one on top, the one path lookups see.
    let all = my_mounts()?;
    let root = all.iter().rev().find(|m| m.target == "/");
    Ok(root
        .map(|m| m.propagation.clone())
        .unwrap_or_else(|| "unknown".into()))
}

/// The mount points at or below `dir`, deepest (and most recently stacked)
/// first: the order in which they can be unmounted.
pub fn mounts_below(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found: Vec<(usize, u32, PathBuf)> = my_mounts()?
        .into_iter()
        .map(|m| (m.id, PathBuf::from(m.target)))
        .filter(|(_, p)| p.starts_with(dir))
        .map(|(id, p)| (p.components().count(), id, p))
        .collect();
    found.sort_by_key(|f| std::cmp::Reverse((f.0, f.1)));
    Ok(found.into_iter().map(|(_, _, p)| p).collect())
}

/// How the host arranges cgroups, detected as runc does: the filesystem
/// magic of /sys/fs/cgroup, then of /sys/fs/cgroup/unified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupMode {
    /// One cgroup2 tree at /sys/fs/cgroup holding every controller.
    V2,
    /// One v1 hierarchy per controller, no cgroup2.
    V1,
    /// v1 controllers plus a cgroup2 tree at /sys/fs/cgroup/unified.
    Hybrid,
}

impl CgroupMode {
    pub fn name(self) -> &'static str {
        match self {
            CgroupMode::V2 => "v2 (unified)",
            CgroupMode::V1 => "v1 (legacy)",
            CgroupMode::Hybrid => "hybrid (v1 controllers + cgroup2 at unified/)",
        }
    }
}

/// Every mounted cgroup hierarchy (v1 and v2) in this mount namespace.
pub fn cgroup_hierarchies() -> io::Result<Vec<PathBuf>> {
    let mut dirs: Vec<PathBuf> = my_mounts()?
        .into_iter()
        .filter(|m| m.fstype == "cgroup" || m.fstype == "cgroup2")
        .map(|m| PathBuf::from(m.target))
        .collect();
    dirs.sort();
    dirs.dedup();
    Ok(dirs)
}

/// Controllers a container can use, each with where it lives: `v1` for a
/// mounted v1 hierarchy, `v2` when enabled in the cgroup2 root.
pub fn controllers() -> io::Result<Vec<(String, &'static str)>> {
    let mut out = Vec::new();
    for m in my_mounts()? {
        if m.fstype == "cgroup" {
            for name in m.super_options.split(',').filter(|k| is_v1_controller(k)) {
                out.push((name.to_string(), "v1"));
            }
        } else if m.fstype == "cgroup2" {
            let list = std::fs::read_to_string(Path::new(&m.target).join("cgroup.controllers"))?;
            out.extend(list.split_whitespace().map(|c| (c.to_string(), "v2")));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// v1 super options mix controller names with mount options.
fn is_v1_controller(opt: &str) -> bool {
    !matches!(
        opt,
        "rw" | "ro" | "xattr" | "noprefix" | "clone_children" | "cpuset_v2_mode"
    ) && !opt.starts_with("name=")
        && !opt.starts_with("release_agent")
}

/// The pids in one cgroup (not its children): its `cgroup.procs`.
pub fn cgroup_procs(dir: &Path) -> io::Result<Vec<i32>> {
    let text = std::fs::read_to_string(dir.join("cgroup.procs"))?;
    Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

/// The network devices of this network namespace.
pub fn net_devices() -> io::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir("/sys/class/net")?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

/// The root mount of process `pid` as its own mount namespace sees it. A
/// container that pivoted into a directory shows that directory as the
/// mount's `root`; an overlay root names its layers in the super options.
pub fn process_root_mount(pid: i32) -> io::Result<Option<MountRow>> {
    Ok(mounts::rows(pid)?
        .into_iter()
        .rev()
        .find(|m| m.target == "/"))
}

/// Where a host directory lives: `(device, path inside that filesystem)`,
/// to compare with the `device` and `root` of [`process_root_mount`].
pub fn fs_location(dir: &Path) -> io::Result<Option<(String, PathBuf)>> {
    let all = my_mounts()?;
    let holder = all
        .iter()
        .filter(|m| dir.starts_with(&m.target))
        .max_by_key(|m| (Path::new(&m.target).components().count(), m.id));
    Ok(holder.map(|m| {
        let rest = dir.strip_prefix(&m.target).unwrap_or(Path::new(""));
        (m.device.clone(), Path::new(&m.root).join(rest))
    }))
}

/// The root directory of `pid` as this process sees it: where a chroot
/// put it (`/proc/PID/root`).
pub fn process_root_dir(pid: i32) -> io::Result<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/root"))
}

/// The working directory of `pid` (`/proc/PID/cwd`).
pub fn process_cwd(pid: i32) -> io::Result<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/cwd"))
}

/// `pid`'s number in each pid namespace it is in, outermost first
/// (`NSpid:` in /proc/PID/status): `[4212, 1]` is PID 1 of a child namespace.
pub fn ns_pids(pid: i32) -> io::Result<Vec<i32>> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find_map(|l| l.strip_prefix("NSpid:"));
    Ok(line
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect())
}

/// Limits and usage of the cgroup `pid` is in, per controller (each read
/// from the hierarchy that holds it; on v2 from the one tree).
pub fn cgroup_stats_of(pid: i32) -> io::Result<super::cgroup::Stats> {
    use super::cgroup::{parse_proc_cgroup, stats, CgroupMode, Cgroupfs};
    let fs = Cgroupfs::system()?;
    let member = parse_proc_cgroup(&std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?);
    // v2 lists the one tree as `0::/path`; v1 names the controllers.
    let path = member.iter().find(|m| match fs.mode {
        CgroupMode::V2 => m.id == 0,
        _ => m.controllers.iter().any(|c| c == "pids"),
    });
    let rel = path
        .map(|m| m.path.trim_start_matches('/').to_string())
        .unwrap_or_default();
    Ok(stats(&fs.dirs(Path::new(&rel))))
}

/// The host's memory in bytes (MemTotal of /proc/meminfo): what a
/// cgroup without a memory limit may use at most.
pub fn memory_total() -> io::Result<u64> {
    let text = std::fs::read_to_string("/proc/meminfo")?;
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| io::Error::other("/proc/meminfo has no MemTotal"))
}

/// Every live pid on the host.
pub fn pids() -> io::Result<Vec<i32>> {
    Ok(procfs::process::all_processes()
        .map_err(io::Error::other)?
        .filter_map(|p| p.ok().map(|p| p.pid))
        .collect())
}

/// A file as process `pid` sees it, read through the kernel's view of its
/// root (`/proc/PID/root/etc/hostname`): the file of a container that
/// pivoted into an overlay, without entering its mount namespace. (A
/// symlink inside resolves against the reader's root, so read regular files.)
pub fn read_in_root(pid: i32, path: &Path) -> io::Result<String> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    std::fs::read_to_string(Path::new(&format!("/proc/{pid}/root")).join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_numbers() {
        assert_eq!(release_version("6.1.0-18-amd64"), Some((6, 1)));
        assert_eq!(release_version("5.15.0"), Some((5, 15)));
        assert_eq!(release_version("garbage"), None);
    }

    #[test]
    fn unescapes_octal() {
        assert_eq!(
            unescape(Path::new("/tmp/a\\040b")),
            PathBuf::from("/tmp/a b")
        );
        assert_eq!(unescape(Path::new("/x\\\\y")), PathBuf::from("/x\\\\y"));
    }

    #[test]
    fn v1_options_are_not_controllers() {
        assert!(is_v1_controller("cpuacct"));
        assert!(!is_v1_controller("name=systemd"));
        assert!(!is_v1_controller("rw"));
    }
}
