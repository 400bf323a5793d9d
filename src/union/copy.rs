//! The copy driver: build the root by copying every layer, lowest first,
//! into the container's own directory (what Docker's `vfs` driver does).
//!
//! The copy must be the very tree overlay would show, so it is made the
//! way a layer is applied (chapter 06, [`crate::layer::flatten`]): each
//! layer directory is exported as a layer and applied on the ones below.
//! A later layer's file replaces an earlier one's, a directory in both is
//! merged; owners, modes, xattrs (a file capability too), symlinks and hard
//! links within a layer are kept; overlay's whiteout (a 0/0 device) and
//! opaque mark in a layer dir delete from the layers below instead of
//! being copied as a device or a plain directory. Nothing is shared: every
//! container pays for the whole image in bytes and in time, which is why
//! overlay exists.

use anyhow::Context;

use super::Rootfs;
use crate::layer;

/// Make `<dir>/rootfs`: the layers laid one over another, lowest first.
pub fn prepare(rootfs: &Rootfs) -> anyhow::Result<()> {
    let dest = rootfs.root();
    std::fs::create_dir_all(&dest).with_context(|| format!("creating {}", dest.display()))?;
    layer::flatten(&rootfs.lowers, &dest).with_context(|| {
        format!(
            "copying {} layer(s) into {}",
            rootfs.lowers.len(),
            dest.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::union::Driver;
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::{Path, PathBuf};

    fn copy(t: &Path, lowers: &[PathBuf]) -> PathBuf {
        let rootfs = Rootfs {
            driver: Driver::Copy,
            lowers: lowers.to_vec(),
            dir: t.join("c"),
        };
        fs::create_dir(&rootfs.dir).unwrap();
        prepare(&rootfs).unwrap();
        rootfs.root()
    }

    #[test]
    fn later_layers_win_and_directories_merge() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        fs::create_dir_all(a.join("etc")).unwrap();
        fs::create_dir_all(b.join("etc")).unwrap();
        fs::write(a.join("etc/motd"), "a").unwrap();
        fs::write(a.join("etc/keep"), "a").unwrap();
        fs::write(b.join("etc/motd"), "b").unwrap();
        fs::create_dir_all(a.join("thing/sub")).unwrap();
        fs::write(b.join("thing"), "now a file").unwrap();
        std::os::unix::fs::symlink("motd", b.join("etc/link")).unwrap();
        let dest = copy(t.path(), &[a, b]);
        assert_eq!(fs::read_to_string(dest.join("etc/motd")).unwrap(), "b");
        assert_eq!(fs::read_to_string(dest.join("etc/keep")).unwrap(), "a");
        assert_eq!(
            fs::read_to_string(dest.join("thing")).unwrap(),
            "now a file"
        );
        assert_eq!(
            fs::read_link(dest.join("etc/link")).unwrap(),
            Path::new("motd")
        );
    }

    #[test]
    fn hardlinks_within_a_layer_stay_linked_and_modes_survive() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("a");
        fs::create_dir(&a).unwrap();
        fs::write(a.join("one"), "x").unwrap();
        fs::hard_link(a.join("one"), a.join("two")).unwrap();
        fs::set_permissions(a.join("one"), fs::Permissions::from_mode(0o4755)).unwrap();
        let dest = copy(t.path(), std::slice::from_ref(&a));
        let (m1, m2) = (
            fs::metadata(dest.join("one")).unwrap(),
            fs::metadata(dest.join("two")).unwrap(),
        );
        assert_eq!(m1.ino(), m2.ino());
        assert_ne!(m1.ino(), fs::metadata(a.join("one")).unwrap().ino());
        assert_eq!(m1.mode() & 0o7777, 0o4755);
    }

    #[test]
    fn user_xattrs_come_along() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("a");
        fs::create_dir(&a).unwrap();
        fs::write(a.join("f"), "x").unwrap();
        let flags = rustix::fs::XattrFlags::empty();
        if rustix::fs::lsetxattr(a.join("f"), "user.note", b"kept", flags).is_err() {
            return; // this filesystem has no user xattrs: nothing to carry
        }
        let dest = copy(t.path(), &[a]);
        let mut buf = [0u8; 8];
        let n = rustix::fs::lgetxattr(dest.join("f"), "user.note", &mut buf[..]).unwrap();
        assert_eq!(&buf[..n], b"kept");
    }
}
