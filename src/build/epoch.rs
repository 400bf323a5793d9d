//! SOURCE_DATE_EPOCH for RUN layers: a command writes files with the
//! current time, so two builds of the same Dockerfile would differ in
//! every mtime. When the variable is set, every time in the new layer
//! that is later than it is clamped to it (BuildKit's
//! `rewrite-timestamp` does the same), and the layer's bytes repeat.

use std::path::Path;

use rustix::fs::{AtFlags, Timespec, Timestamps, CWD};

/// Clamp the mtimes below `dir` (symlinks themselves, not what they name).
pub fn clamp(dir: &Path) -> anyhow::Result<()> {
    let Some(epoch) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
    else {
        return Ok(());
    };
    walk(dir, epoch)
}

fn walk(p: &Path, epoch: i64) -> anyhow::Result<()> {
    let meta = std::fs::symlink_metadata(p)?;
    if meta.is_dir() {
        for e in std::fs::read_dir(p)? {
            walk(&e?.path(), epoch)?;
        }
    }
    use std::os::unix::fs::MetadataExt;
    if meta.mtime() > epoch || meta.atime() > epoch {
        let t = Timespec {
            tv_sec: epoch,
            tv_nsec: 0,
        };
        let times = Timestamps {
            last_access: t,
            last_modification: t,
        };
        rustix::fs::utimensat(CWD, p, &times, AtFlags::SYMLINK_NOFOLLOW)?;
    }
    Ok(())
}
