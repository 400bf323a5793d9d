//! The spec's `mounts`: each one turned into mount(2) flags and data in the
//! parent, then mounted inside the new root, before pivot_root.
//!
//! mount(2) takes two kinds of options: flags the VFS knows (`MS_RDONLY`,
//! `MS_NOSUID`, ...) and a data string the filesystem parses (`mode=755`).
//! A bind mount ignores most flags on the first call: making it read-only
//! takes a second call with `MS_REMOUNT|MS_BIND`. Propagation (`rprivate`)
//! is a third kind, set with a call of its own.

use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context};
use nix::mount::MsFlags;

use crate::sys;

/// One mount, ready for the kernel.
#[derive(Debug, Clone, PartialEq)]
pub struct MountPlan {
    pub source: Option<PathBuf>,
    /// Absolute, inside the container.
    pub dest: PathBuf,
    pub fstype: Option<String>,
    pub flags: MsFlags,
    pub data: Option<String>,
    pub propagation: MsFlags,
}

/// Every mount option this runtime understands (`features` lists them);
/// anything else goes to the filesystem as data.
pub const OPTIONS: [&str; 28] = [
    "ro",
    "rw",
    "nosuid",
    "suid",
    "nodev",
    "dev",
    "noexec",
    "exec",
    "sync",
    "async",
    "dirsync",
    "noatime",
    "atime",
    "nodiratime",
    "diratime",
    "relatime",
    "norelatime",
    "strictatime",
    "bind",
    "rbind",
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "unbindable",
    "runbindable",
];

/// A spec option: which flag it sets, or clears.
fn flag(opt: &str) -> Option<(bool, MsFlags)> {
    Some(match opt {
        "ro" => (true, MsFlags::MS_RDONLY),
        "rw" => (false, MsFlags::MS_RDONLY),
        "nosuid" => (true, MsFlags::MS_NOSUID),
        "suid" => (false, MsFlags::MS_NOSUID),
        "nodev" => (true, MsFlags::MS_NODEV),
        "dev" => (false, MsFlags::MS_NODEV),
        "noexec" => (true, MsFlags::MS_NOEXEC),
        "exec" => (false, MsFlags::MS_NOEXEC),
        "sync" => (true, MsFlags::MS_SYNCHRONOUS),
        "async" => (false, MsFlags::MS_SYNCHRONOUS),
        "dirsync" => (true, MsFlags::MS_DIRSYNC),
        "noatime" => (true, MsFlags::MS_NOATIME),
        "atime" => (false, MsFlags::MS_NOATIME),
        "nodiratime" => (true, MsFlags::MS_NODIRATIME),
        "diratime" => (false, MsFlags::MS_NODIRATIME),
        "relatime" => (true, MsFlags::MS_RELATIME),
        "norelatime" => (false, MsFlags::MS_RELATIME),
        "strictatime" => (true, MsFlags::MS_STRICTATIME),
        "bind" => (true, MsFlags::MS_BIND),
        "rbind" => (true, MsFlags::MS_BIND | MsFlags::MS_REC),
        _ => return None,
    })
}

/// A propagation option (`rprivate`, `slave`, …) as mount(2) flags.
pub fn propagation(opt: &str) -> Option<MsFlags> {
    let rec = MsFlags::MS_REC;
    Some(match opt {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | rec,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | rec,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | rec,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | rec,
        _ => return None,
    })
}

impl MountPlan {
    pub fn from_spec(m: &oci_spec::runtime::Mount) -> anyhow::Result<MountPlan> {
        let dest = m.destination();
        if !dest.is_absolute() || dest.components().any(|c| c == Component::ParentDir) {
            bail!("mount destination {} is not absolute (or climbs with ..): destinations are paths inside the container, from /", dest.display());
        }
        let mut flags = MsFlags::empty();
        let mut prop = MsFlags::empty();
        let mut data = Vec::new();
        for opt in m.options().iter().flatten() {
            match (flag(opt), propagation(opt)) {
                (Some((true, f)), _) => flags |= f,
                (Some((false, f)), _) => flags &= !f,
                (None, Some(p)) => prop = p,
                (None, None) => data.push(opt.as_str()),
            }
        }
        let fstype = m
            .typ()
            .clone()
            .filter(|t| t != "bind" && !flags.contains(MsFlags::MS_BIND));
        Ok(MountPlan {
            source: m.source().clone(),
            dest: dest.clone(),
            fstype,
            flags,
            data: (!data.is_empty()).then(|| data.join(",")),
            propagation: prop,
        })
    }

    fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }

    /// Mount it under `root` (the container's root, not yet pivoted into).
    pub fn mount_in(&self, root: &Path) -> anyhow::Result<()> {
        let target = inside(root, &self.dest)?;
        self.make_target(&target)?;
        let fstype = self.fstype.as_deref().map(kernel_fstype);
        let first = if self.is_bind() {
            self.flags & (MsFlags::MS_BIND | MsFlags::MS_REC)
        } else {
            self.flags
        };
        sys::mount(
            self.source.as_deref(),
            &target,
            fstype,
            first,
            self.data.as_deref(),
            &self.why(),
        )?;
        let rest = self.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC);
        if self.is_bind() && !rest.is_empty() {
            sys::mount(
                None,
                &target,
                None,
                MsFlags::MS_REMOUNT | MsFlags::MS_BIND | rest,
                None,
                "a bind mount takes its flags (ro, nosuid, ...) only on a second call, a remount",
            )?;
        }
        if !self.propagation.is_empty() && !self.unbindable() {
            sys::mount(
                None,
                &target,
                None,
                self.propagation,
                None,
                "the spec asks for this propagation on the mount",
            )?;
        }
        Ok(())
    }

    /// An unbindable mount is left out of every recursive bind, including
    /// the one that makes the root a mount point for pivot_root: it would
    /// vanish from the container. So that propagation waits until after.
    fn unbindable(&self) -> bool {
        self.propagation.contains(MsFlags::MS_UNBINDABLE)
    }

    /// After pivot_root: the propagation that had to wait (see
    /// [`MountPlan::unbindable`]), at the mount's path in the new root.
    pub fn after_pivot(&self) -> anyhow::Result<()> {
        if self.unbindable() {
            sys::mount(
                None,
                &self.dest,
                None,
                self.propagation,
                None,
                "the spec asks for an unbindable mount: no bind of it, or of a tree holding it, will carry it",
            )?;
        }
        Ok(())
    }

    fn why(&self) -> String {
        match (self.is_bind(), self.dest.to_str()) {
            (true, _) => format!("bind {} into the container", self.source.as_deref().unwrap_or(Path::new("?")).display()),
            (_, Some("/proc")) => "a procfs shows the pid namespace of whoever mounts it: ps lists only the container's processes".into(),
            (_, Some("/dev")) => "a /dev of the container's own on tmpfs: only the device nodes made below exist in it".into(),
            (_, Some("/dev/pts")) => "a devpts instance of its own: ptys opened inside are the container's alone".into(),
            (_, Some("/sys")) => "sysfs, read-only: the container may look at the kernel's devices but not change them".into(),
            _ => format!("the spec mounts {} at {}", self.fstype.as_deref().unwrap_or("?"), self.dest.display()),
        }
    }

    /// The mount point must exist: a file for a bind of a file, otherwise
    /// a directory (created as needed, inside the root).
    fn make_target(&self, target: &Path) -> anyhow::Result<()> {
        let src_is_file = self.is_bind() && self.source.as_deref().is_some_and(|s| s.is_file());
        if src_is_file {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            if !target.exists() {
                std::fs::File::create(target)
                    .with_context(|| format!("creating {}", target.display()))?;
            }
            return Ok(());
        }
        std::fs::create_dir_all(target)
            .with_context(|| format!("creating mount point {}", target.display()))
    }
}

/// runc's specs name the cgroup filesystem `cgroup`; inside a cgroup
/// namespace we mount the unified hierarchy, cgroup2, which shows the
/// container's own cgroup as its root on v2 and hybrid hosts alike.
fn kernel_fstype(t: &str) -> &str {
    if t == "cgroup" {
        "cgroup2"
    } else {
        t
    }
}

/// `root` + `dest`, refusing a path whose existing parts inside the root
/// include a symlink: the rootfs is not ours, and a link there could point
/// the mount at the host's /etc.
pub fn inside(root: &Path, dest: &Path) -> anyhow::Result<PathBuf> {
    let mut at = root.to_path_buf();
    for c in dest.components() {
        if let Component::Normal(part) = c {
            at.push(part);
            if at
                .symlink_metadata()
                .is_ok_and(|m| m.file_type().is_symlink())
            {
                bail!(
                    "mount destination {} passes through a symlink in the rootfs ({}): refused",
                    dest.display(),
                    at.display()
                );
            }
        }
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_option_is_understood() {
        for o in OPTIONS {
            assert!(flag(o).is_some() || propagation(o).is_some(), "{o}");
        }
    }
    use oci_spec::runtime::MountBuilder;

    fn plan(typ: &str, opts: &[&str]) -> MountPlan {
        let m = MountBuilder::default()
            .destination("/x")
            .typ(typ)
            .source("src")
            .options(opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .build()
            .unwrap();
        MountPlan::from_spec(&m).unwrap()
    }

    #[test]
    fn options_split_into_flags_data_and_propagation() {
        let p = plan(
            "tmpfs",
            &[
                "nosuid",
                "strictatime",
                "mode=755",
                "size=65536k",
                "rprivate",
            ],
        );
        assert_eq!(p.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(p.data.as_deref(), Some("mode=755,size=65536k"));
        assert_eq!(p.propagation, MsFlags::MS_PRIVATE | MsFlags::MS_REC);
        assert_eq!(p.fstype.as_deref(), Some("tmpfs"));
    }

    #[test]
    fn a_bind_has_no_fstype_and_a_later_option_wins() {
        let p = plan("bind", &["rbind", "ro", "rw", "nodev"]);
        assert_eq!(
            p.flags,
            MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_NODEV
        );
        assert_eq!(p.fstype, None);
    }

    #[test]
    fn a_symlink_in_the_rootfs_cannot_redirect_a_mount() {
        let t = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc", t.path().join("etc")).unwrap();
        let err = inside(t.path(), Path::new("/etc/hosts")).unwrap_err();
        assert!(
            err.to_string().contains("passes through a symlink"),
            "{err}"
        );
        assert_eq!(
            inside(t.path(), Path::new("/a/b")).unwrap(),
            t.path().join("a/b")
        );
    }
}
