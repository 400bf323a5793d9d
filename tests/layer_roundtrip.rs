//! The round trip of chapter 06, judged on real bytes on disk: lower layers
//! -> overlay -> a container's changes -> export the upper dir -> apply the
//! layer onto a copy of the lowers -> the same tree the overlay showed
//! (names, types, modes, owners, xattrs, link targets, contents). And back
//! into an overlay upper dir, mounted again.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::TestRoot;
use nix::mount::{MntFlags, MsFlags};
use wharf::layer::{self, demo, ApplyOptions, Target};
use wharf::sys::{self, NodeKind};

/// An overlay mount that is taken down even when the test fails.
struct Overlay(PathBuf);

impl Overlay {
    fn mount(lowers: &[PathBuf], upper: &Path, dir: &Path) -> Overlay {
        let (work, merged) = (dir.join("work"), dir.join("merged"));
        for d in [upper, &work, &merged] {
            std::fs::create_dir_all(d).unwrap();
        }
        let lower: Vec<String> = lowers
            .iter()
            .rev()
            .map(|l| l.display().to_string())
            .collect();
        let data = format!(
            "lowerdir={},upperdir={},workdir={},redirect_dir=off,metacopy=off",
            lower.join(":"),
            upper.display(),
            work.display()
        );
        sys::mount(
            Some(Path::new("overlay")),
            &merged,
            Some("overlay"),
            MsFlags::empty(),
            Some(&data),
            "test",
        )
        .expect("mount overlay");
        Overlay(merged)
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        let _ = sys::umount2(&self.0, MntFlags::MNT_DETACH, "test cleanup");
    }
}

/// A third lower layer with what the demo lacks: a device, a pipe, a
/// setuid binary, a sticky directory, a directory to delete, a symlink.
fn extra_layer(dir: &Path) -> PathBuf {
    let l = dir.join("extra");
    for d in ["dev", "run", "usr/bin", "tmp", "var/old/deep", "opt"] {
        std::fs::create_dir_all(l.join(d)).unwrap();
    }
    sys::mknod(
        &l.join("dev/null"),
        NodeKind::Char,
        0o666,
        1,
        3,
        "test layer",
    )
    .unwrap();
    sys::mknod(
        &l.join("run/pipe"),
        NodeKind::Fifo,
        0o600,
        0,
        0,
        "test layer",
    )
    .unwrap();
    std::fs::write(l.join("usr/bin/su"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(
        l.join("usr/bin/su"),
        std::fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    std::fs::set_permissions(l.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::write(l.join("var/old/deep/file"), "old\n").unwrap();
    std::os::unix::fs::symlink("../etc/motd", l.join("var/link")).unwrap();
    std::fs::write(l.join("opt/b"), "b\n").unwrap();
    l
}

/// What a container does: deletes, replaces, edits, links, sets xattrs.
fn change(m: &Path) {
    std::fs::remove_file(m.join("etc/motd")).unwrap();
    std::fs::remove_file(m.join("etc/hostname")).unwrap();
    std::fs::remove_file(m.join("usr/share/doc/README.link")).unwrap();
    std::fs::remove_file(m.join("dev/null")).unwrap();
    std::fs::remove_dir_all(m.join("etc/config")).unwrap();
    std::fs::create_dir(m.join("etc/config")).unwrap();
    std::fs::write(m.join("etc/config/new.conf"), "new\n").unwrap();
    std::fs::remove_dir_all(m.join("var/old")).unwrap();
    std::fs::write(m.join("var/old"), "a file where a directory was\n").unwrap();
    let mut data = std::fs::read(m.join("srv/data.txt")).unwrap();
    data.extend_from_slice(b"appended\n");
    std::fs::write(m.join("srv/data.txt"), data).unwrap();
    std::fs::set_permissions(
        m.join("usr/bin/hello"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    std::os::unix::fs::lchown(m.join("opt/b"), Some(1234), Some(5678)).unwrap();
    std::fs::set_permissions(
        m.join("usr/bin/su"),
        std::fs::Permissions::from_mode(0o4750),
    )
    .unwrap();
    std::fs::create_dir_all(m.join("bin")).unwrap();
    std::fs::write(m.join("bin/ping"), "ping\n").unwrap();
    set_xattr(
        &m.join("bin/ping"),
        "security.capability",
        &demo::CAP_NET_BIND_SERVICE_EP,
    );
    set_xattr(&m.join("bin/ping"), "user.note", b"added");
    std::fs::write(m.join("opt/new1"), "shared inode\n").unwrap();
    std::fs::hard_link(m.join("opt/new1"), m.join("opt/new2")).unwrap();
    std::os::unix::fs::symlink("config/new.conf", m.join("etc/alias")).unwrap();
}

fn set_xattr(p: &Path, name: &str, value: &[u8]) {
    rustix::fs::lsetxattr(p, name, value, rustix::fs::XattrFlags::empty()).unwrap();
}

/// Lower layers, the merged view after the changes, and the exported tar.
struct Trip {
    root: TestRoot,
    lowers: Vec<PathBuf>,
    merged_view: layer::Manifest,
    tar: PathBuf,
    upper: PathBuf,
}

fn trip() -> Trip {
    let root = TestRoot::new();
    let dir = root.path().to_path_buf();
    let mut lowers = demo::build(&dir.join("layers")).unwrap();
    lowers.push(extra_layer(&dir.join("layers")));
    let upper = dir.join("upper");
    let merged_view = {
        let ov = Overlay::mount(&lowers, &upper, &dir.join("ov1"));
        change(&ov.0);
        layer::manifest(&ov.0).unwrap()
    };
    let tar = dir.join("layer.tar");
    layer::export_to_file(&upper, &tar).unwrap();
    Trip {
        root,
        lowers,
        merged_view,
        tar,
        upper,
    }
}

fn assert_same(expected: &layer::Manifest, got: &layer::Manifest) {
    let diff = expected.diff(got);
    assert!(diff.is_empty(), "trees differ:\n{}", diff.join("\n"));
    assert!(expected.nodes.len() > 20, "suspiciously small tree");
}

#[test]
fn applied_onto_a_copy_of_the_lowers_gives_the_merged_tree() {
    let t = trip();
    let copy = t.root.path().join("copy");
    layer::flatten(&t.lowers, &copy).unwrap();
    let stats = layer::apply_file(&t.tar, &copy, &ApplyOptions::default()).unwrap();
    assert_same(&t.merged_view, &layer::manifest(&copy).unwrap());
    assert_eq!(stats.whiteouts, 4, "{stats:?}");
    assert_eq!(stats.opaque_dirs, 1, "{stats:?}");
    let (a, b) = (copy.join("opt/new1"), copy.join("opt/new2"));
    assert_eq!(
        std::fs::metadata(a).unwrap().ino(),
        std::fs::metadata(b).unwrap().ino(),
        "hard link lost"
    );
    assert_eq!(t.merged_view.nodes[Path::new("bin/ping")].xattrs.len(), 2);
}

#[test]
fn applied_as_an_upper_dir_and_mounted_gives_the_merged_tree() {
    let t = trip();
    let restored = t.root.path().join("restored");
    let opts = ApplyOptions {
        target: Target::OverlayUpper,
        allow_devices: false,
    };
    layer::apply_file(&t.tar, &restored, &opts).unwrap();
    let motd = std::fs::symlink_metadata(restored.join("etc/motd")).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(
        &motd.file_type()
    ));
    assert_eq!(motd.rdev(), 0);
    let opaque = rustix::fs::lgetxattr(
        restored.join("etc/config"),
        "trusted.overlay.opaque",
        &mut [0u8; 4][..],
    );
    assert_eq!(opaque.ok(), Some(1));
    let ov = Overlay::mount(&t.lowers, &restored, &t.root.path().join("ov2"));
    assert_same(&t.merged_view, &layer::manifest(&ov.0).unwrap());
}

#[test]
fn exported_tar_follows_the_layer_convention() {
    let t = trip();
    let entries = layer::list(std::fs::File::open(&t.tar).unwrap()).unwrap();
    let path = |p: &str| {
        entries
            .iter()
            .find(|e| e.path == p)
            .unwrap_or_else(|| panic!("no entry {p}"))
    };
    for wh in [
        "etc/.wh.motd",
        "etc/.wh.hostname",
        "usr/share/doc/.wh.README.link",
        "dev/.wh.null",
    ] {
        assert_eq!(path(wh).kind, tar::EntryType::Regular, "{wh}");
    }
    assert!(entries
        .iter()
        .all(|e| !(e.kind == tar::EntryType::Link && e.path.contains(".wh."))));
    assert_eq!(path("etc/config/.wh..wh..opq").size, 0);
    assert_eq!(path("opt/new2").link.as_deref(), Some("opt/new1"));
    assert_eq!(
        path("bin/ping").xattrs,
        ["security.capability", "user.note"]
    );
    assert_eq!((path("opt/b").uid, path("opt/b").gid), (1234, 5678));
    // Names are sorted within each directory, and exporting again gives the same bytes.
    let again = t.root.path().join("again.tar");
    layer::export_to_file(&t.upper, &again).unwrap();
    assert_eq!(
        std::fs::read(&t.tar).unwrap(),
        std::fs::read(&again).unwrap()
    );
    // Numeric owners only: no user or group names in any header.
    let mut ar = tar::Archive::new(std::fs::File::open(&t.tar).unwrap());
    for e in ar.entries().unwrap() {
        let e = e.unwrap();
        assert_eq!(e.header().username_bytes().unwrap_or_default(), b"");
        assert_eq!(e.header().groupname_bytes().unwrap_or_default(), b"");
    }
}

#[test]
fn gnu_tar_reads_the_exported_layer() {
    let t = trip();
    let out = Command::new("tar")
        .args(["--numeric-owner", "-tvf"])
        .arg(&t.tar)
        .output()
        .expect("GNU tar");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8_lossy(&out.stdout);
    for want in [
        "etc/.wh.motd",
        "etc/config/.wh..wh..opq",
        "opt/new2 link to opt/new1",
        "1234/5678",
        "-rwsr-x---",
    ] {
        assert!(
            listing.contains(want),
            "`tar tvf` lacks {want:?}:\n{listing}"
        );
    }
    assert!(
        !listing.contains("PaxHeader"),
        "PAX headers listed as files:\n{listing}"
    );
    // GNU tar restores the PAX xattrs: the file capability survives.
    let x = t.root.path().join("gnu");
    std::fs::create_dir(&x).unwrap();
    let st = Command::new("tar")
        .args(["--xattrs", "--xattrs-include=*", "--numeric-owner", "-xf"])
        .arg(&t.tar)
        .arg("-C")
        .arg(&x)
        .status()
        .unwrap();
    assert!(st.success());
    let cap = layer::tree::node(&x.join("bin/ping")).unwrap().xattrs;
    assert!(
        cap.contains(&(
            "security.capability".into(),
            demo::CAP_NET_BIND_SERVICE_EP.to_vec()
        )),
        "{cap:?}"
    );
}

#[test]
fn whiteouts_sharing_one_inode_stay_whiteouts() {
    let root = TestRoot::new();
    let upper = root.path().join("upper");
    std::fs::create_dir(&upper).unwrap();
    // What overlay does on recent kernels: one whiteout inode, many links.
    sys::mknod(&upper.join("a"), NodeKind::Char, 0, 0, 0, "test whiteout").unwrap();
    std::fs::hard_link(upper.join("a"), upper.join("b")).unwrap();
    std::fs::write(upper.join("c"), "c").unwrap();
    std::fs::hard_link(upper.join("c"), upper.join("d")).unwrap();
    let mut tar = Vec::new();
    let stats = layer::export(&upper, &mut tar).unwrap();
    assert_eq!((stats.whiteouts, stats.hardlinks), (2, 1), "{stats:?}");
    let entries = layer::list(&tar[..]).unwrap();
    let shown: Vec<String> = entries
        .iter()
        .map(|e| format!("{:?} {}", e.kind, e.path))
        .collect();
    assert_eq!(
        shown,
        [
            "Directory ./",
            "Regular .wh.a",
            "Regular .wh.b",
            "Regular c",
            "Link d"
        ]
    );
}

#[test]
fn devices_are_applied_when_allowed() {
    let root = TestRoot::new();
    let src = root.path().join("src");
    std::fs::create_dir(&src).unwrap();
    sys::mknod(
        &src.join("null"),
        NodeKind::Char,
        0o666,
        1,
        3,
        "test device",
    )
    .unwrap();
    let mut tar = Vec::new();
    layer::export(&src, &mut tar).unwrap();
    let dst = root.path().join("dst");
    assert!(layer::apply(&tar[..], &dst, &ApplyOptions::default()).is_err());
    assert!(!dst.exists());
    layer::apply(
        &tar[..],
        &dst,
        &ApplyOptions {
            allow_devices: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_same_node(&src.join("null"), &dst.join("null"));
}

fn assert_same_node(a: &Path, b: &Path) {
    assert_eq!(layer::tree::node(a).unwrap(), layer::tree::node(b).unwrap());
}

#[test]
fn an_upper_dir_with_redirects_is_not_exported() {
    let root = TestRoot::new();
    let upper = root.path().join("upper");
    std::fs::create_dir_all(upper.join("moved")).unwrap();
    set_xattr(&upper.join("moved"), "trusted.overlay.redirect", b"/old");
    let err = layer::export(&upper, std::io::sink()).unwrap_err();
    assert!(format!("{err:#}").contains("redirect_dir=off"), "{err:#}");
}

#[test]
fn a_layer_made_by_gnu_tar_applies_to_the_same_tree() {
    let root = TestRoot::new();
    let lowers = demo::build(&root.path().join("layers")).unwrap();
    let tar = root.path().join("gnu.tar");
    let st = Command::new("tar")
        .args(["--xattrs", "--xattrs-include=*", "--numeric-owner", "-cf"])
        .arg(&tar)
        .arg("-C")
        .arg(&lowers[0])
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let out = root.path().join("out");
    let stats = layer::apply_file(&tar, &out, &ApplyOptions::default()).unwrap();
    assert_eq!(stats.hardlinks, 1, "{stats:?}");
    let want = layer::manifest(&lowers[0]).unwrap();
    let diff = want.diff(&layer::manifest(&out).unwrap());
    assert!(diff.is_empty(), "{diff:?}");
    assert!(want.nodes[Path::new("usr/bin/hello")]
        .xattrs
        .iter()
        .any(|(k, _)| k == "security.capability"));
}

/// Mode, owner, mtime and `user.where` of a directory itself.
fn root_of(dir: &Path) -> (u32, u32, u32, i64, Option<Vec<u8>>) {
    let m = std::fs::symlink_metadata(dir).unwrap();
    let mut buf = [0u8; 64];
    let x = rustix::fs::lgetxattr(dir, "user.where", &mut buf[..])
        .ok()
        .map(|n| buf[..n].to_vec());
    (m.mode() & 0o7777, m.uid(), m.gid(), m.mtime(), x)
}

#[test]
fn a_chmod_and_chown_of_the_root_travels_in_the_layer() {
    let root = TestRoot::new();
    let dir = root.path().to_path_buf();
    let lowers = demo::build(&dir.join("layers")).unwrap();
    let upper = dir.join("upper");
    {
        let ov = Overlay::mount(&lowers, &upper, &dir.join("ov1"));
        std::os::unix::fs::lchown(&ov.0, Some(1234), Some(1234)).unwrap();
        std::fs::set_permissions(&ov.0, std::fs::Permissions::from_mode(0o700)).unwrap();
        set_xattr(&ov.0, "user.where", b"root");
        let t = rustix::fs::Timespec {
            tv_sec: 1_600_000_000,
            tv_nsec: 0,
        };
        let times = rustix::fs::Timestamps {
            last_access: t,
            last_modification: t,
        };
        rustix::fs::utimensat(rustix::fs::CWD, &ov.0, &times, rustix::fs::AtFlags::empty())
            .unwrap();
    }
    let want = (0o700, 1234, 1234, 1_600_000_000, Some(b"root".to_vec()));
    assert_eq!(
        root_of(&upper),
        want,
        "overlay kept the root's change in the upper dir"
    );
    let tar = dir.join("layer.tar");
    layer::export_to_file(&upper, &tar).unwrap();
    let entries = layer::list(std::fs::File::open(&tar).unwrap()).unwrap();
    let first = entries
        .first()
        .expect("an empty layer: the root's change was lost");
    assert_eq!(
        (
            first.path.as_str(),
            first.kind,
            first.mode,
            first.uid,
            first.gid
        ),
        ("./", tar::EntryType::Directory, 0o700, 1234, 1234),
        "the root is not the first entry"
    );
    assert_eq!(first.xattrs, ["user.where"]);
    assert_eq!(entries.iter().filter(|e| e.path == "./").count(), 1);

    // Back into an overlay upper dir: the root is the upper dir itself,
    // and the merged root shows it.
    let restored = dir.join("restored");
    layer::apply_file(&tar, &restored, &ApplyOptions::overlay_upper()).unwrap();
    assert_eq!(root_of(&restored), want, "the root lost its change");
    {
        let ov = Overlay::mount(&lowers, &restored, &dir.join("ov2"));
        let merged = root_of(&ov.0);
        assert_eq!((merged.0, merged.1, merged.2), (0o700, 1234, 1234));
    }

    // Onto a plain directory holding the lowers: its root takes them too.
    let copy = dir.join("copy");
    layer::flatten(&lowers, &copy).unwrap();
    assert_ne!(root_of(&copy), want);
    layer::apply_file(&tar, &copy, &ApplyOptions::default()).unwrap();
    assert_eq!(
        root_of(&copy),
        want,
        "the plain target's root lost the change"
    );
}

#[test]
fn a_target_directory_keeps_a_non_utf8_xattr_name_through_an_apply() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let root = TestRoot::new();
    let target = root.path().join("target");
    std::fs::create_dir_all(target.join("d")).unwrap();
    let name = OsStr::from_bytes(b"user.caf\xff");
    rustix::fs::lsetxattr(
        target.join("d"),
        name,
        b"v",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    let src = root.path().join("src");
    std::fs::create_dir_all(src.join("e")).unwrap();
    std::fs::write(src.join("e/new"), "new\n").unwrap();
    let mut tar = Vec::new();
    layer::export(&src, &mut tar).unwrap();
    // The staging copy rebuilds every directory of the target.
    layer::apply(&tar[..], &target, &ApplyOptions::default()).unwrap();
    assert!(target.join("e/new").exists());
    let mut buf = [0u8; 8];
    let got = rustix::fs::lgetxattr(target.join("d"), name, &mut buf[..]);
    assert_eq!(
        got.map(|n| buf[..n].to_vec()).ok(),
        Some(b"v".to_vec()),
        "the staging copy dropped the xattr user.caf\\xff"
    );
}
