//! Chapter 06 judged from the kernel's side: the whiteout and opaque dir
//! are really on disk in the upper dir, the layer tar lists them the aufs
//! way, and no mount is left behind.

mod common;

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::process::Command;

use common::{redact, stderr, stdout, TestRoot};

/// Mount points below `root`, as the host's mount namespace sees them.
fn mounts_below(root: &Path) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|t| Path::new(t).starts_with(root))
        .map(str::to_string)
        .collect()
}

#[test]
fn demo_leaves_a_whiteout_and_an_opaque_dir_and_no_mount() {
    let t = TestRoot::new();
    let out = t.run("ch06-whiteouts", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("same tree as the overlay showed"),
        "{}",
        stdout(&out)
    );
    let dir = t.path().join("ch06-whiteouts");
    let motd = std::fs::symlink_metadata(dir.join("upper/etc/motd")).unwrap();
    assert!(
        motd.file_type().is_char_device() && motd.rdev() == 0,
        "etc/motd is not a 0/0 whiteout"
    );
    let mut v = [0u8; 8];
    let n = rustix::fs::lgetxattr(
        dir.join("upper/etc/config"),
        "trusted.overlay.opaque",
        &mut v[..],
    )
    .unwrap();
    assert_eq!(&v[..n], b"y");
    assert!(!dir.join("applied/etc/motd").exists());
    assert!(!dir.join("applied/etc/config/base.conf").exists());
    assert!(dir.join("applied/etc/config/fresh.conf").exists());
    assert!(
        mounts_below(t.path()).is_empty(),
        "left mounted: {:?}",
        mounts_below(t.path())
    );
    let listing = Command::new("tar")
        .arg("tvf")
        .arg(dir.join("layer.tar"))
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing.contains("etc/.wh.motd") && listing.contains("etc/config/.wh..wh..opq"),
        "{listing}"
    );
}

#[test]
fn given_layers_are_used_and_left_untouched() {
    let t = TestRoot::new();
    let layers = wharf::layer::demo::build(&t.path().join("mine")).unwrap();
    let before: Vec<_> = layers
        .iter()
        .map(|l| wharf::layer::manifest(l).unwrap())
        .collect();
    let args = [
        "--layer",
        layers[0].to_str().unwrap(),
        "--layer",
        layers[1].to_str().unwrap(),
        "--rm",
        "etc/hostname",
    ];
    let out = t.run("ch06-whiteouts", &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let upper = t.path().join("ch06-whiteouts/upper");
    assert!(std::fs::symlink_metadata(upper.join("etc/hostname"))
        .unwrap()
        .file_type()
        .is_char_device());
    let after: Vec<_> = layers
        .iter()
        .map(|l| wharf::layer::manifest(l).unwrap())
        .collect();
    assert_eq!(before, after, "a lower layer was modified");
}

#[test]
fn bad_input_is_one_line_and_changes_nothing() {
    let t = TestRoot::new();
    for args in [
        &["--layer", "/nonexistent/layer"][..],
        &["--rm", "../../etc/passwd"],
        &["--rm", "/etc/passwd"],
        &["--recreate", "."],
        &["--rm", "etc/no-such-file"],
    ] {
        let out = t.run("ch06-whiteouts", args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: not one line:\n{err}");
        assert!(err.starts_with("ch06-whiteouts: error: "), "{err}");
        assert!(mounts_below(t.path()).is_empty());
    }
    assert!(Path::new("/etc/passwd").exists());
}

fn redact_run(text: &str, root: &Path) -> String {
    let text = regex::Regex::new(r"wharf-apply-\d+")
        .unwrap()
        .replace_all(text, "wharf-apply-[PID]");
    redact(&text, root)
}

#[test]
fn explain_transcript() {
    let t = TestRoot::new();
    let out = t.run("ch06-whiteouts", &["--explain"]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!("ch06_explain", redact_run(&stderr(&out), t.path()));
    insta::assert_snapshot!("ch06_output", redact_run(&stdout(&out), t.path()));
}

#[test]
fn a_failure_after_mounting_still_unmounts() {
    let t = TestRoot::new();
    let out = t.run("ch06-whiteouts", &["--explain", "--rm", "etc/no-such-file"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    let mount = err.find("mount(\"overlay\"").expect("overlay mounted");
    let umount = err
        .find("umount2(")
        .expect("overlay not unmounted after the error");
    assert!(umount > mount, "{err}");
    assert!(
        err.trim_end()
            .lines()
            .next_back()
            .unwrap()
            .contains("no-such-file"),
        "{err}"
    );
}
