//! What a container changed, read from its upper dir, and a fingerprint of
//! a layer that shows it was not changed at all.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::{Driver, Rootfs};

/// One entry of an upper dir, in the container's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Not in any layer: made by the container.
    Added,
    /// A layer has it too: the kernel copied it up before the write. The
    /// index names the topmost layer that has it.
    CopiedUp(usize),
    /// A whiteout (character device 0/0): hides what the layers have here.
    Deleted,
}

/// The changes in a container's upper dir, by path inside the container.
/// The copy driver keeps no separate record of changes: it returns none.
pub fn changes(rootfs: &Rootfs) -> anyhow::Result<Vec<(PathBuf, Change)>> {
    let mut out = Vec::new();
    if rootfs.driver == Driver::Overlay {
        walk(rootfs, &rootfs.changes(), Path::new("/"), &mut out)?;
    }
    Ok(out)
}

fn walk(
    rootfs: &Rootfs,
    dir: &Path,
    inside: &Path,
    out: &mut Vec<(PathBuf, Change)>,
) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = inside.join(entry.file_name());
        let meta = std::fs::symlink_metadata(entry.path())?;
        let rel = path.strip_prefix("/").unwrap_or(&path);
        let in_layer = rootfs
            .lowers
            .iter()
            .rposition(|l| l.join(rel).symlink_metadata().is_ok());
        let change = match in_layer {
            _ if meta.file_type().is_char_device() && meta.rdev() == 0 => Change::Deleted,
            Some(i) => Change::CopiedUp(i),
            None => Change::Added,
        };
        let descend = meta.is_dir() && change != Change::Added;
        if descend {
            walk(rootfs, &entry.path(), &path, out)?;
        } else {
            out.push((path, change));
        }
    }
    Ok(())
}

impl Change {
    /// In words, naming the layer by its number and directory name.
    pub fn describe(&self, lowers: &[PathBuf]) -> String {
        let layer = |i: usize| {
            lowers[i]
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        match self {
            Change::Added => "new: no layer has it".into(),
            Change::CopiedUp(i) => format!(
                "copied up from layer {} ({}), then changed",
                i + 1,
                layer(*i)
            ),
            Change::Deleted => {
                "whiteout (char 0/0): hides the layers' copy, which is still there".into()
            }
        }
    }
}

/// Where the container's writes went, as lines for the learner: a heading,
/// then one line per change.
pub fn report(rootfs: &Rootfs) -> anyhow::Result<Vec<String>> {
    if rootfs.driver == Driver::Copy {
        return Ok(vec![format!(
            "its changes went into its own full copy of the layers at {}; a copy keeps no separate record of them",
            rootfs.root().display()
        )]);
    }
    let list = changes(rootfs)?;
    let mut out = vec![format!(
        "its changes went to the upper dir {}:{}",
        rootfs.changes().display(),
        if list.is_empty() { " none" } else { "" }
    )];
    out.extend(
        list.iter()
            .map(|(p, c)| format!("  {:<24} {}", p.display(), c.describe(&rootfs.lowers))),
    );
    Ok(out)
}

/// A fingerprint of a tree: every name with its type, mode, owner, size,
/// inode and modification and change times. Any write, chmod, chown,
/// rename or delete anywhere in the tree changes it (the change time
/// cannot be set back from user space).
pub fn fingerprint(dir: &Path) -> anyhow::Result<u64> {
    let mut rows = BTreeMap::new();
    collect(dir, Path::new(""), &mut rows)?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    rows.hash(&mut h);
    Ok(h.finish())
}

type Row = (u32, u32, u32, u64, u64, i64, i64, i64, i64);

fn collect(dir: &Path, rel: &Path, rows: &mut BTreeMap<PathBuf, Row>) -> anyhow::Result<()> {
    let m = std::fs::symlink_metadata(dir)?;
    rows.insert(
        rel.to_path_buf(),
        (
            m.mode(),
            m.uid(),
            m.gid(),
            m.size(),
            m.ino(),
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec(),
        ),
    );
    if m.is_dir() {
        for e in std::fs::read_dir(dir)?.filter_map(Result::ok) {
            collect(&e.path(), &rel.join(e.file_name()), rows)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_sees_a_write_and_a_chmod() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("f"), "1").unwrap();
        let a = fingerprint(t.path()).unwrap();
        assert_eq!(a, fingerprint(t.path()).unwrap());
        std::fs::set_permissions(t.path().join("f"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        let b = fingerprint(t.path()).unwrap();
        assert_ne!(a, b);
        std::fs::write(t.path().join("g"), "").unwrap();
        assert_ne!(b, fingerprint(t.path()).unwrap());
    }

    #[test]
    fn upper_entries_are_classified_against_the_layers() {
        let t = tempfile::tempdir().unwrap();
        let (lower, dir) = (t.path().join("lower"), t.path().join("c"));
        std::fs::create_dir_all(lower.join("etc")).unwrap();
        std::fs::write(lower.join("etc/motd"), "old").unwrap();
        std::fs::create_dir_all(dir.join("upper/etc")).unwrap();
        std::fs::write(dir.join("upper/etc/motd"), "new").unwrap();
        std::fs::create_dir_all(dir.join("upper/data/sub")).unwrap();
        let rootfs = Rootfs {
            driver: Driver::Overlay,
            lowers: vec![lower],
            dir,
        };
        let got = changes(&rootfs).unwrap();
        assert_eq!(
            got,
            vec![
                (PathBuf::from("/data"), Change::Added),
                (PathBuf::from("/etc/motd"), Change::CopiedUp(0))
            ]
        );
    }
}
