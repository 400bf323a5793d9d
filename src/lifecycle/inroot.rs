//! Open a path *inside* a container's root, as the container would see
//! it: openat2(2) with RESOLVE_IN_ROOT makes the kernel treat the root
//! directory as `/` while it walks the path, so `..` and absolute
//! symlinks (`/etc/passwd -> /../../../etc/shadow`) stay inside. A
//! container's files are the container's to choose; reading them from the
//! host must never follow one out (the docker cp CVE-2018-15664 class).

use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::Path;

use anyhow::Context;
use rustix::fs::{Mode, OFlags, ResolveFlags};

/// Open `path` (read-only) resolved inside `root`.
pub fn open(root: &Path, path: &str) -> anyhow::Result<File> {
    open_with(root, path, OFlags::RDONLY).map(File::from)
}

/// Open `path` resolved inside `root` with `flags` (O_CLOEXEC is added;
/// O_PATH, O_DIRECTORY, O_NOFOLLOW as the caller needs).
pub fn open_with(root: &Path, path: &str, flags: OFlags) -> anyhow::Result<OwnedFd> {
    let dir = File::open(root).with_context(|| format!("opening {}", root.display()))?;
    rustix::fs::openat2(
        &dir,
        path,
        flags | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT,
    )
    .with_context(|| format!("opening {path} inside {}", root.display()))
}

/// The text of `path` inside `root`, or `None` if there is none.
pub fn read_to_string(root: &Path, path: &str) -> Option<String> {
    let mut s = String::new();
    std::io::Read::read_to_string(&mut open(root, path).ok()?, &mut s).ok()?;
    Some(s)
}
