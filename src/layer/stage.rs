//! Staging: a layer is applied to a copy of the target, and the copy is
//! swapped in with one atomic rename only when every entry succeeded. A
//! refused or broken layer therefore leaves the target as it was.
//!
//! The copy is cheap: directories are made anew, everything else is hard
//! linked. Apply never writes into an existing file (it unlinks and
//! creates), so the originals behind those links are never touched.

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use rustix::fs::{AtFlags, RenameFlags, Timespec, Timestamps, CWD};

use super::xattrs;

/// Owner, mode and mtime for the root of the applied tree.
#[derive(Debug, Clone, Copy)]
pub(super) struct RootMeta {
    pub mode: u32,
    pub owner: Option<(u32, u32)>,
    pub mtime: Option<u64>,
}

/// A staging directory beside the target; removed on drop unless committed.
pub(super) struct Stage {
    target: PathBuf,
    pub path: PathBuf,
    existed: bool,
    root: RootMeta,
    committed: bool,
}

impl Stage {
    /// Make `.NAME.wharf-apply-PID` beside `target`: a hard-linked copy of
    /// it, or an empty directory when the target does not exist yet. It is
    /// mode 0700 while we work in it, so no other user can reach inside.
    pub fn begin(target: &Path) -> anyhow::Result<Stage> {
        let name = target.file_name().with_context(|| {
            format!(
                "target {} has no directory name to apply to",
                target.display()
            )
        })?;
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut staged = std::ffi::OsString::from(".");
        staged.push(name);
        staged.push(format!(".wharf-apply-{}", std::process::id()));
        let path = parent.join(staged);
        let existed = match std::fs::symlink_metadata(target) {
            Ok(m) if m.is_dir() => true,
            Ok(_) => bail!(
                "target {} exists and is not a directory (a symlink is not followed)",
                target.display()
            ),
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => {
                return Err(e).with_context(|| format!("cannot look at {}", target.display()))
            }
        };
        if std::fs::symlink_metadata(&path).is_ok() {
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("cannot remove the stale {}", path.display()))?;
        }
        let mut stage = Stage {
            target: target.to_path_buf(),
            path,
            existed,
            root: RootMeta {
                mode: 0o755,
                owner: None,
                mtime: None,
            },
            committed: false,
        };
        if existed {
            stage.root.mode = std::fs::symlink_metadata(target)?.mode() & 0o7777;
            clone_tree(target, &stage.path).with_context(|| {
                format!(
                    "cannot stage a copy of {} in {}",
                    target.display(),
                    stage.path.display()
                )
            })?;
        } else {
            std::fs::create_dir(&stage.path).with_context(|| {
                format!(
                    "cannot create {} (does the parent exist?)",
                    stage.path.display()
                )
            })?;
        }
        std::fs::set_permissions(&stage.path, std::fs::Permissions::from_mode(0o700))?;
        Ok(stage)
    }

    /// Give the root its final owner, mode and mtime, then swap the staged
    /// tree in for the target (`renameat2(RENAME_EXCHANGE)`: both names stay
    /// valid at every instant) and delete the old tree.
    pub fn commit(mut self, root: Option<RootMeta>) -> anyhow::Result<()> {
        let root = root.unwrap_or(self.root);
        if let Some((uid, gid)) = root.owner {
            std::os::unix::fs::lchown(&self.path, Some(uid), Some(gid))?;
        }
        std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(root.mode))?;
        if let Some(mtime) = root.mtime {
            set_mtime(&self.path, mtime)?;
        }
        let flags = if self.existed {
            RenameFlags::EXCHANGE
        } else {
            RenameFlags::NOREPLACE
        };
        rustix::fs::renameat_with(CWD, &self.path, CWD, &self.target, flags)
            .map_err(io::Error::from)
            .with_context(|| {
                format!(
                    "cannot move the applied tree into place at {}",
                    self.target.display()
                )
            })?;
        self.committed = true;
        if self.existed {
            std::fs::remove_dir_all(&self.path).with_context(|| {
                format!(
                    "layer applied, but the old tree is left at {}: remove it",
                    self.path.display()
                )
            })?;
        }
        Ok(())
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Copy the tree at `src` to `dst`: new directories with the same owner,
/// mode, xattrs and mtime; hard links for everything else.
fn clone_tree(src: &Path, dst: &Path) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(src)?;
    std::fs::create_dir(dst)?;
    if nix::unistd::geteuid().is_root() {
        std::os::unix::fs::lchown(dst, Some(meta.uid()), Some(meta.gid()))?;
    }
    std::fs::set_permissions(dst, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    for (name, value) in xattrs::read_all(src)? {
        rustix::fs::lsetxattr(dst, name.as_str(), &value, rustix::fs::XattrFlags::empty())?;
    }
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        if entry.file_type()?.is_dir() {
            clone_tree(&from, &to)?;
        } else {
            // linkat(..., 0): a symlink is linked itself, not followed.
            std::fs::hard_link(&from, &to)?;
        }
    }
    set_mtime(dst, meta.mtime().max(0) as u64)
}

/// Set atime and mtime of `path` (not following a symlink).
pub(super) fn set_mtime(path: &Path, mtime: u64) -> io::Result<()> {
    let t = Timespec {
        tv_sec: mtime as i64,
        tv_nsec: 0,
    };
    let times = Timestamps {
        last_access: t,
        last_modification: t,
    };
    rustix::fs::utimensat(CWD, path, &times, AtFlags::SYMLINK_NOFOLLOW).map_err(io::Error::from)
}
