//! Chapter 01: chroot, and why it is not a security boundary.
//!
//! `chroot(dir)` changes only where *this process* starts resolving paths
//! that begin with `/`. It does not change the current directory, and the
//! kernel stops a `..` walk only at the process's root directory — a walk
//! that starts *outside* that root never meets it. A root process can
//! therefore chroot into a subdirectory (leaving its cwd outside the new
//! root), walk `..` up to the real root, and `chroot(".")` there: the
//! classic escape. pivot_root in a new mount namespace (chapter 02) closes
//! it, because the old root is unmounted and there is nothing above `/`.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::Context;

use crate::sys;

/// Make `root` this process's root directory and step into it.
pub fn enter(root: &Path) -> anyhow::Result<()> {
    enter_because(
        root,
        "from now on, paths starting with / resolve inside the new root",
    )
}

/// Chapter 02 without a mount namespace: pivot_root would swap the host's
/// own root mount, so the child falls back to chapter 01's chroot, and
/// the escape of chapter 01 works again.
pub fn fall_back(root: &Path) -> anyhow::Result<()> {
    enter_because(root, "no mount namespace, so no pivot_root (it would swap the host's own root): fall back to chroot, which a root process can escape (see --escape-demo)")
}

fn enter_because(root: &Path, why: &str) -> anyhow::Result<()> {
    sys::chroot(root, why)?;
    sys::chdir(
        Path::new("/"),
        "our cwd is still outside the new root; move it inside",
    )?;
    Ok(())
}

/// Where `/` pointed before and after the escape attempt (device, inode),
/// and whether it is now the host's root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscapeReport {
    pub before: (u64, u64),
    pub after: (u64, u64),
    pub climbs: u32,
    pub escaped: bool,
}

impl std::fmt::Display for EscapeReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let id = |(d, i): (u64, u64)| format!("dev={d} ino={i}");
        writeln!(f, "escape: before, / was {}", id(self.before))?;
        writeln!(
            f,
            "escape: after {} climbs, / is now {}",
            self.climbs,
            id(self.after)
        )?;
        match self.escaped {
            true => writeln!(f, "escape: ESCAPED: this is the host's root directory"),
            false => writeln!(
                f,
                "escape: contained: the walk ended at the container's own root"
            ),
        }
    }
}

/// The (device, inode) pair that identifies this process's `/`.
pub fn root_id() -> anyhow::Result<(u64, u64)> {
    dev_ino(Path::new("/"))
}

fn dev_ino(p: &Path) -> anyhow::Result<(u64, u64)> {
    let m = std::fs::metadata(p).with_context(|| format!("stat {}", p.display()))?;
    Ok((m.dev(), m.ino()))
}

/// Try the classic escape from inside a root: chroot deeper, walk `..`
/// until `.` and `..` are the same directory (a root), then chroot there.
/// `host_root` is [`root_id`] taken on the host before entering.
pub fn escape_attempt(host_root: (u64, u64)) -> anyhow::Result<EscapeReport> {
    let before = dev_ino(Path::new("/"))?;
    let cell = Path::new("/.wharf-escape");
    if !cell.exists() {
        std::fs::create_dir(cell).context("mkdir /.wharf-escape")?;
    }
    sys::chroot(
        cell,
        "chroot into a subdirectory but keep our cwd where it is: now the cwd is outside our root",
    )?;
    // Our cwd is still the old root, so the cell can go (relative path).
    let _ = std::fs::remove_dir(".wharf-escape");
    let mut climbs = 0;
    // The kernel stops `..` only at our root or at the namespace's real
    // root; from outside our root only the real one can stop us.
    while dev_ino(Path::new("."))? != dev_ino(Path::new(".."))? && climbs < 256 {
        sys::chdir(
            Path::new(".."),
            "walk up; no root of ours lies on this path to stop us",
        )?;
        climbs += 1;
    }
    sys::chroot(Path::new("."), "make the top we reached our root")?;
    let after = dev_ino(Path::new("/"))?;
    Ok(EscapeReport {
        before,
        after,
        climbs,
        escaped: after == host_root,
    })
}
