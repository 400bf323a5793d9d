//! Bind mounts: the same directory (or file) seen at a second place.
//!
//! `mount(SRC, DST, NULL, MS_BIND|MS_REC)` makes DST show SRC's tree.
//! Read-only is a property of the *mount*, not the files: the kernel
//! ignores MS_RDONLY on the first bind call, so it takes a second call,
//! `MS_BIND|MS_REMOUNT|MS_RDONLY`, to make this one mount refuse writes
//! with EROFS while the same files stay writable everywhere else.
//!
//! Two details make `:ro` mean read-only. MS_REC copied the mounts below
//! the host path too, and a remount changes one mount only: each of them
//! is remounted read-only as well. And a remount sets the mount's flags
//! anew: leaving out `nosuid`, `nodev` or `noexec` that the mount has
//! would clear them (or fail with EPERM in a user namespace, where they
//! are locked), so each remount repeats the ones statvfs reports. The
//! atime flags the kernel keeps by itself when a remount names none.

use std::path::{Component, Path, PathBuf};

use anyhow::Context;
use nix::mount::MsFlags;
use nix::sys::statvfs::FsFlags;

use super::Mount;
use crate::{probe, sys};

/// Bind `m.source` at `m.target` inside `root`, read-only if asked.
pub fn mount(root: &Path, m: &Mount) -> anyhow::Result<()> {
    let is_dir = m.source.is_dir();
    let target = mount_point(root, &m.target, is_dir)?;
    sys::mount(
        Some(&m.source),
        &target,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
        "bind the volume's host directory into the container's root; its files stay on the host, outside every layer",
    )?;
    if m.read_only {
        read_only(&target)?;
    }
    Ok(())
}

/// Remount the bind at `target`, and every mount below it, read-only,
/// each keeping the lock flags it has.
fn read_only(target: &Path) -> anyhow::Result<()> {
    for (i, at) in mounts_from(target)?.iter().enumerate() {
        let st = nix::sys::statvfs::statvfs(at.as_path())
            .with_context(|| format!("statvfs {}", at.display()))?;
        let why = if i == 0 {
            "a bind mount ignores MS_RDONLY when made: remount it read-only, so writes through it fail with EROFS; the nosuid/nodev/noexec it has are repeated, or the remount would drop them"
        } else {
            "MS_REC also bound the mounts below the host path, and a remount changes one mount: make this one read-only too, keeping its own nosuid/nodev/noexec"
        };
        sys::mount(None, at, None, remount_flags(st.flags()), None, why)?;
    }
    Ok(())
}

/// `target`, then the mount points below it in this mount namespace (as
/// our /proc/self/mountinfo lists them, parents first), each once.
fn mounts_from(target: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let at = target
        .canonicalize()
        .with_context(|| format!("resolving {}", target.display()))?;
    let me = probe::proc_self().map_err(|e| anyhow::anyhow!("finding our own /proc entry: {e}"))?;
    let rows = probe::mounts::rows(me).context("reading our mount table")?;
    let mut out = vec![at.clone()];
    for row in rows {
        let p = PathBuf::from(row.target);
        if p.starts_with(&at) && !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

/// `MS_BIND|MS_REMOUNT|MS_RDONLY` plus the lock flags statvfs reported
/// for the mount.
fn remount_flags(has: FsFlags) -> MsFlags {
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    for (st, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
    ] {
        if has.contains(st) {
            flags |= ms;
        }
    }
    flags
}

/// The mount point for container path `ctr` under `root`, made if missing
/// (a directory, or an empty file for a file volume). Each step is
/// checked not to be a symlink: the image decides what its symlinks point
/// to, and a link must not lead the mount outside the root.
pub fn mount_point(root: &Path, ctr: &Path, is_dir: bool) -> anyhow::Result<PathBuf> {
    let parts: Vec<Component> = ctr
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    let mut here = root.to_path_buf();
    for (i, part) in parts.iter().enumerate() {
        here.push(part);
        let last = i + 1 == parts.len();
        match here.symlink_metadata() {
            Ok(m) if m.file_type().is_symlink() => anyhow::bail!(
                "volume target {}: {} is a symlink in the image; give the path it points to",
                ctr.display(),
                here.strip_prefix(root).unwrap_or(&here).display()
            ),
            Ok(m) if !last && !m.is_dir() => {
                anyhow::bail!(
                    "volume target {}: {} is not a directory in the image",
                    ctr.display(),
                    part.as_os_str().to_string_lossy()
                )
            }
            Ok(m) if last && m.is_dir() != is_dir => anyhow::bail!(
                "volume target {}: the image has a {} there but the volume is a {}",
                ctr.display(),
                kind(m.is_dir()),
                kind(is_dir)
            ),
            Ok(_) => {}
            Err(_) if last && !is_dir => {
                std::fs::File::create(&here)
                    .with_context(|| format!("creating mount point {}", here.display()))?;
            }
            Err(_) => std::fs::create_dir(&here)
                .with_context(|| format!("creating mount point {}", here.display()))?,
        }
    }
    Ok(here)
}

fn kind(dir: bool) -> &'static str {
    if dir {
        "directory"
    } else {
        "file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_made_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let p = mount_point(t.path(), Path::new("/srv/data"), true).unwrap();
        assert_eq!(p, t.path().join("srv/data"));
        assert!(p.is_dir());
        let f = mount_point(t.path(), Path::new("/etc/app.conf"), false).unwrap();
        assert!(f.is_file());
    }

    #[test]
    fn a_symlink_in_the_image_is_not_followed() {
        let t = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/", t.path().join("escape")).unwrap();
        let e = mount_point(t.path(), Path::new("/escape/etc"), true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("symlink"), "{e}");
    }

    #[test]
    fn a_read_only_remount_repeats_the_lock_flags() {
        let base = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
        assert_eq!(remount_flags(FsFlags::empty()), base);
        let locked = FsFlags::ST_NOSUID | FsFlags::ST_NODEV | FsFlags::ST_NOEXEC;
        assert_eq!(
            remount_flags(locked | FsFlags::ST_RELATIME),
            base | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            "atime flags stay out: the kernel keeps them when none is named"
        );
    }

    #[test]
    fn a_file_cannot_take_a_directory_volume() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("data"), "").unwrap();
        assert!(mount_point(t.path(), Path::new("/data"), true)
            .unwrap_err()
            .to_string()
            .contains("file"));
    }
}
