//! The host as the kernel describes it: release, filesystems, cgroup mode and
//! controllers, mount propagation, sysctls, and the objects `wharf reset`
//! must find (mounts under a path, cgroup hierarchies, processes, links).
//! Read only: nothing here changes the kernel's state.

use std::io;
use std::path::{Path, PathBuf};

use procfs::process::{MountInfo, MountOptFields};
use serde::Serialize;

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
pub fn mounts() -> io::Result<Vec<MountInfo>> {
    let me = procfs::process::Process::myself().map_err(io::Error::other)?;
    Ok(me.mountinfo().map_err(io::Error::other)?.0)
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
    let all = mounts()?;
    // The last entry for "/" is the one on top, the one path lookups see.
    let root = all.iter().rev().find(|m| m.mount_point == Path::new("/"));
    Ok(root.map(propagation).unwrap_or_else(|| "unknown".into()))
}

/// The propagation of one mount in mountinfo's words.
pub fn propagation(m: &MountInfo) -> String {
    let parts: Vec<String> = m
        .opt_fields
        .iter()
        .map(|f| match f {
            MountOptFields::Shared(n) => format!("shared:{n}"),
            MountOptFields::Master(n) => format!("master:{n}"),
            MountOptFields::PropagateFrom(n) => format!("propagate_from:{n}"),
            MountOptFields::Unbindable => "unbindable".into(),
        })
        .collect();
    if parts.is_empty() {
        "private".into()
    } else {
        parts.join(" ")
    }
}

/// The mount points at or below `dir`, deepest (and most recently stacked)
/// first: the order in which they can be unmounted.
pub fn mounts_below(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found: Vec<(usize, i32, PathBuf)> = mounts()?
        .into_iter()
        .map(|m| (m.mnt_id, unescape(&m.mount_point)))
        .filter(|(_, p)| p.starts_with(dir))
        .map(|(id, p)| (p.components().count(), id, p))
        .collect();
    found.sort_by(|a, b| (b.0, b.1).cmp(&(a.0, a.1)));
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
    let mut dirs: Vec<PathBuf> = mounts()?
        .into_iter()
        .filter(|m| m.fs_type == "cgroup" || m.fs_type == "cgroup2")
        .map(|m| unescape(&m.mount_point))
        .collect();
    dirs.sort();
    dirs.dedup();
    Ok(dirs)
}

/// Controllers a container can use, each with where it lives: `v1` for a
/// mounted v1 hierarchy, `v2` when enabled in the cgroup2 root.
pub fn controllers() -> io::Result<Vec<(String, &'static str)>> {
    let mut out = Vec::new();
    for m in mounts()? {
        if m.fs_type == "cgroup" {
            for name in m.super_options.keys().filter(|k| is_v1_controller(k)) {
                out.push((name.clone(), "v1"));
            }
        } else if m.fs_type == "cgroup2" {
            let list =
                std::fs::read_to_string(unescape(&m.mount_point).join("cgroup.controllers"))?;
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

/// The root mount of process `pid` as its own mount namespace sees it:
/// `(device, root-within-filesystem, super options)`. A container that
/// pivoted into a directory shows that directory here; an overlay root
/// names its layers in the super options.
pub fn process_root_mount(pid: i32) -> io::Result<Option<(String, PathBuf, String)>> {
    let p = procfs::process::Process::new(pid).map_err(io::Error::other)?;
    let infos = p.mountinfo().map_err(io::Error::other)?.0;
    Ok(infos
        .into_iter()
        .rev()
        .find(|m| m.mount_point == Path::new("/"))
        .map(|m| {
            let opts: Vec<String> = m
                .super_options
                .iter()
                .map(|(k, v)| v.as_ref().map_or(k.clone(), |v| format!("{k}={v}")))
                .collect();
            (m.majmin, unescape(Path::new(&m.root)), opts.join(","))
        }))
}

/// The device and filesystem-relative path of a directory on the host, to
/// compare with [`process_root_mount`]: the mount that holds `dir` and the
/// path of `dir` inside that filesystem.
pub fn fs_location(dir: &Path) -> io::Result<Option<(String, PathBuf)>> {
    let all = mounts()?;
    let holder = all
        .iter()
        .filter(|m| dir.starts_with(unescape(&m.mount_point)))
        .max_by_key(|m| (unescape(&m.mount_point).components().count(), m.mnt_id));
    Ok(holder.map(|m| {
        let mp = unescape(&m.mount_point);
        let rest = dir.strip_prefix(&mp).unwrap_or(Path::new(""));
        (m.majmin.clone(), unescape(Path::new(&m.root)).join(rest))
    }))
}

/// Every live pid on the host.
pub fn pids() -> io::Result<Vec<i32>> {
    Ok(procfs::process::all_processes()
        .map_err(io::Error::other)?
        .filter_map(|p| p.ok().map(|p| p.pid))
        .collect())
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
        assert!(!is_v1_controller("name"));
        assert!(!is_v1_controller("rw"));
    }
}
