//! Bind mounts: the same directory (or file) seen at a second place.
//!
//! `mount(SRC, DST, NULL, MS_BIND|MS_REC)` makes DST show SRC's tree.
//! Read-only is a property of the *mount*, not the files: the kernel
//! ignores MS_RDONLY on the first bind call, so it takes a second call,
//! `MS_BIND|MS_REMOUNT|MS_RDONLY`, to make this one mount refuse writes
//! with EROFS while the same files stay writable everywhere else.

use std::path::{Component, Path, PathBuf};

use anyhow::Context;
use nix::mount::MsFlags;

use super::Mount;
use crate::sys;

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
        sys::mount(
            None,
            &target,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            None,
            "a bind mount ignores MS_RDONLY when made: remount it read-only, so writes through it fail with EROFS",
        )?;
    }
    Ok(())
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
    fn a_file_cannot_take_a_directory_volume() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("data"), "").unwrap();
        assert!(mount_point(t.path(), Path::new("/data"), true)
            .unwrap_err()
            .to_string()
            .contains("file"));
    }
}
