//! `wharf diff`: what a container changed in its root, as Docker prints
//! it — `A` added, `C` changed, `D` deleted — read straight from the
//! overlay's upper dir. overlayfs copies a file up before the first write,
//! so the upper dir holds exactly the files the container touched (and
//! the directories above them); a deletion is a whiteout there (a char
//! device 0/0, see [`crate::layer::whiteout`]). Whether a path is `A` or
//! `C` depends on whether the layers below already had it.
//!
//! [`crate::union::changes`] walks an upper dir too, for chapter 05's
//! report (one line per changed leaf, the layer it was copied up from);
//! Docker's listing differs — every copied-up directory is a `C` line of
//! its own, everything below an added directory is listed, and a lower
//! layer's own whiteouts and opaque directories decide what was there.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::layer::whiteout::OPAQUE_XATTR;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Added,
    Changed,
    Deleted,
}

impl Kind {
    pub fn letter(self) -> char {
        match self {
            Kind::Added => 'A',
            Kind::Changed => 'C',
            Kind::Deleted => 'D',
        }
    }
}

/// One changed path, absolute inside the container (`/etc/hosts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: Kind,
    pub path: PathBuf,
}

/// The changes in `upper` over `lowers` (lowest first), sorted by path.
pub fn changes(upper: &Path, lowers: &[PathBuf]) -> anyhow::Result<Vec<Change>> {
    let mut out = Vec::new();
    walk(upper, Path::new(""), lowers, &mut out)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn walk(dir: &Path, rel: &Path, lowers: &[PathBuf], out: &mut Vec<Change>) -> anyhow::Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for e in entries {
        let e = e?;
        let rel = rel.join(e.file_name());
        let meta = std::fs::symlink_metadata(e.path())?;
        let kind = if meta.file_type().is_char_device() && meta.rdev() == 0 {
            Kind::Deleted
        } else if in_lowers(&rel, lowers) {
            Kind::Changed
        } else {
            Kind::Added
        };
        out.push(Change {
            kind,
            path: Path::new("/").join(&rel),
        });
        if meta.is_dir() {
            walk(&e.path(), &rel, lowers, out)?;
        }
    }
    Ok(())
}

/// Whether the merged view of `lowers` (lowest first) shows `rel`: the
/// topmost layer that says anything about it decides. A layer hides it
/// with a whiteout of the path or of a directory above it, or with an
/// opaque directory above it that lacks it.
fn in_lowers(rel: &Path, lowers: &[PathBuf]) -> bool {
    for lower in lowers.iter().rev() {
        let mut at = lower.clone();
        let parts: Vec<_> = rel.components().collect();
        for (i, part) in parts.iter().enumerate() {
            at.push(part);
            let Ok(meta) = std::fs::symlink_metadata(&at) else {
                break;
            };
            if meta.file_type().is_char_device() && meta.rdev() == 0 {
                return false;
            }
            if i + 1 == parts.len() {
                return true;
            }
            if opaque(&at) && std::fs::symlink_metadata(lower.join(rel)).is_err() {
                return false;
            }
        }
    }
    false
}

fn opaque(dir: &Path) -> bool {
    matches!(xattr_value(dir, OPAQUE_XATTR).as_deref(), Some(b"y"))
}

fn xattr_value(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = [0u8; 8];
    let n = rustix::fs::lgetxattr(path, name, &mut buf).ok()?;
    Some(buf[..n].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_changed_deleted_against_the_lowers() {
        let t = tempfile::tempdir().unwrap();
        let (lower, upper) = (t.path().join("lower"), t.path().join("upper"));
        std::fs::create_dir_all(lower.join("etc")).unwrap();
        std::fs::write(lower.join("etc/hosts"), "a").unwrap();
        std::fs::write(lower.join("gone"), "a").unwrap();
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::write(upper.join("etc/hosts"), "b").unwrap();
        std::fs::write(upper.join("etc/new"), "b").unwrap();
        let whiteout = rustix::fs::makedev(0, 0);
        rustix::fs::mknodat(
            rustix::fs::CWD,
            upper.join("gone"),
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::from_raw_mode(0),
            whiteout,
        )
        .unwrap();
        let got: Vec<String> = changes(&upper, &[lower])
            .unwrap()
            .iter()
            .map(|c| format!("{} {}", c.kind.letter(), c.path.display()))
            .collect();
        assert_eq!(got, ["C /etc", "C /etc/hosts", "A /etc/new", "D /gone"]);
    }
}
