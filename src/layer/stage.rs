//! Staging: a layer is applied to a copy of the target, and the copy is
//! swapped in with one atomic rename only when every entry succeeded. A
//! refused or broken layer therefore leaves the target as it was.
//!
//! The copy is cheap: directories are made anew, everything else is hard
//! linked. Apply never writes into an existing file (it unlinks and
//! creates), so the originals behind those links are never touched.

use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags, Timespec, Timestamps, CWD};
use rustix::io::Errno;

use super::xattrs;

/// How every directory of the copy is opened: by name in its parent's fd,
/// never through a symlink.
const DIR: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

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
    /// mode 0700 while we work in it, so no other user can reach inside;
    /// the root's own owner and mode are given to it at commit.
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
        let src = match rustix::fs::open(target, DIR, Mode::empty()) {
            Ok(fd) => Some(fd),
            Err(Errno::NOENT) => None,
            Err(Errno::LOOP) | Err(Errno::NOTDIR) => bail!(
                "target {} exists and is not a directory (a symlink is not followed)",
                target.display()
            ),
            Err(e) => {
                return Err(io::Error::from(e))
                    .with_context(|| format!("cannot look at {}", target.display()))
            }
        };
        if std::fs::symlink_metadata(&path).is_ok() {
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("cannot remove the stale {}", path.display()))?;
        }
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| {
                format!("cannot create {} (does the parent exist?)", path.display())
            })?;
        let mut stage = Stage {
            target: target.to_path_buf(),
            path,
            existed: src.is_some(),
            root: RootMeta {
                mode: 0o755,
                owner: None,
                mtime: None,
            },
            committed: false,
        };
        let dst = rustix::fs::open(&stage.path, DIR, Mode::empty())
            .map_err(io::Error::from)
            .with_context(|| format!("cannot open {}", stage.path.display()))?;
        rustix::fs::fchmod(&dst, Mode::from_raw_mode(0o700)).map_err(io::Error::from)?;
        if let Some(src) = src {
            let st = rustix::fs::fstat(&src).map_err(io::Error::from)?;
            stage.root.mode = st.st_mode & 0o7777;
            if nix::unistd::geteuid().is_root() {
                stage.root.owner = Some((st.st_uid, st.st_gid));
            }
            clone_dir(&src, &dst, Path::new(""), &st).with_context(|| {
                format!(
                    "cannot stage a copy of {} in {}",
                    target.display(),
                    stage.path.display()
                )
            })?;
        }
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
            // A process still busy in the old tree (its path lookup began
            // before the swap) can make one pass fail: try again.
            let mut removed = std::fs::remove_dir_all(&self.path);
            for _ in 0..3 {
                match &removed {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => {
                        removed = std::fs::remove_dir_all(&self.path)
                    }
                    _ => break,
                }
            }
            let removed = match removed {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                other => other,
            };
            removed.with_context(|| {
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

/// Copy the directory `src` (at `rel` in the target, `st` its stat) into
/// the new directory `dst`: its xattrs and mtime, and below it new
/// directories with the same owner, mode, xattrs and mtime, and hard links
/// for everything else. Owner and mode of `dst` itself are the caller's.
///
/// The walk goes by fd, one name at a time, and never follows a symlink:
/// a directory is opened `O_NOFOLLOW|O_DIRECTORY` in its parent's fd, and
/// anything else is hard linked by name (`linkat` without
/// `AT_SYMLINK_FOLLOW` links a symlink itself and reads no content). A
/// directory swapped for a symlink meanwhile fails the copy, naming the
/// entry; nothing from outside the target can come in.
fn clone_dir(
    src: &OwnedFd,
    dst: &OwnedFd,
    rel: &Path,
    st: &rustix::fs::Stat,
) -> anyhow::Result<()> {
    let shown = |rel: &Path| match rel.as_os_str().is_empty() {
        true => "the target's root".to_string(),
        false => rel.display().to_string(),
    };
    for (name, value) in xattrs::read_all_fd(src).with_context(|| shown(rel))? {
        let name = OsStr::from_bytes(&name);
        rustix::fs::fsetxattr(dst, name, &value, rustix::fs::XattrFlags::empty())
            .map_err(io::Error::from)
            .with_context(|| format!("{}: xattr {}", shown(rel), name.to_string_lossy()))?;
    }
    let chown = nix::unistd::geteuid().is_root();
    for entry in rustix::fs::Dir::read_from(src)
        .map_err(io::Error::from)
        .with_context(|| shown(rel))?
    {
        let entry = entry.map_err(io::Error::from).with_context(|| shown(rel))?;
        let name = entry.file_name();
        if name.to_bytes() == b"." || name.to_bytes() == b".." {
            continue;
        }
        let here = rel.join(OsStr::from_bytes(name.to_bytes()));
        clone_entry(src, dst, name, &here, chown).with_context(|| shown(&here))?;
    }
    rustix::fs::futimens(dst, &times(st.st_mtime.max(0) as u64))
        .map_err(io::Error::from)
        .with_context(|| shown(rel))
}

/// One child `name` of `src`, copied into `dst`.
fn clone_entry(
    src: &OwnedFd,
    dst: &OwnedFd,
    name: &std::ffi::CStr,
    rel: &Path,
    chown: bool,
) -> anyhow::Result<()> {
    const SWAPPED: &str =
        "changed while being copied: it is no longer a directory (a symlink swapped in?)";
    let st = match rustix::fs::statat(src, name, AtFlags::SYMLINK_NOFOLLOW) {
        Err(Errno::NOENT) => bail!("vanished while being copied"),
        other => other.map_err(io::Error::from)?,
    };
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return match rustix::fs::linkat(src, name, dst, name, AtFlags::empty()) {
            Ok(()) => Ok(()),
            Err(Errno::PERM) if is_dir_now(src, name) => {
                bail!("changed while being copied: a directory was swapped in")
            }
            Err(Errno::NOENT) => bail!("vanished while being copied"),
            Err(e) => Err(io::Error::from(e)).context("cannot hard link it into the copy"),
        };
    }
    let sub = match rustix::fs::openat(src, name, DIR, Mode::empty()) {
        Err(Errno::LOOP) | Err(Errno::NOTDIR) => bail!(SWAPPED),
        Err(Errno::NOENT) => bail!("vanished while being copied"),
        other => other.map_err(io::Error::from)?,
    };
    // What was opened, not what was looked at before: that is what we copy.
    let st = rustix::fs::fstat(&sub).map_err(io::Error::from)?;
    rustix::fs::mkdirat(dst, name, Mode::from_raw_mode(0o700)).map_err(io::Error::from)?;
    let copy = rustix::fs::openat(dst, name, DIR, Mode::empty()).map_err(io::Error::from)?;
    if chown {
        let (u, g) = (
            rustix::fs::Uid::from_raw(st.st_uid),
            rustix::fs::Gid::from_raw(st.st_gid),
        );
        rustix::fs::fchown(&copy, Some(u), Some(g)).map_err(io::Error::from)?;
    }
    rustix::fs::fchmod(&copy, Mode::from_raw_mode(st.st_mode & 0o7777)).map_err(io::Error::from)?;
    clone_dir(&sub, &copy, rel, &st)
}

fn is_dir_now(dir: &OwnedFd, name: &std::ffi::CStr) -> bool {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory)
}

fn times(mtime: u64) -> Timestamps {
    let t = Timespec {
        tv_sec: mtime as i64,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// Set atime and mtime of `path` (not following a symlink).
pub(super) fn set_mtime(path: &Path, mtime: u64) -> io::Result<()> {
    rustix::fs::utimensat(CWD, path, &times(mtime), AtFlags::SYMLINK_NOFOLLOW)
        .map_err(io::Error::from)
}
