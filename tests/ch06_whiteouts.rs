//! Chapter 06 judged from the kernel's side: the container's `rm` and
//! `rm -rf; mkdir` are really a whiteout and an opaque dir on disk in its
//! upper dir, the layer tar lists them the aufs way, applying the layer
//! deletes, and no mount or cgroup is left behind.

mod common;

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::process::Command;

use common::{redact, snapshot_name, stderr, stdout, TestRoot};

/// Mount points below `root`, as the host's mount namespace sees them.
fn mounts_below(root: &Path) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|t| Path::new(t).starts_with(root))
        .map(str::to_string)
        .collect()
}

/// Cgroup directories named after this state root, in any hierarchy.
fn cgroups_of(root: &Path) -> Vec<String> {
    let tag = wharf::paths::host_tag_for(root);
    let out = Command::new("find")
        .args(["/sys/fs/cgroup", "-maxdepth", "2", "-name", &tag])
        .output()
        .unwrap();
    stdout(&out).lines().map(str::to_string).collect()
}

/// What the state root holds under containers/ (ids of container dirs).
fn container_dirs(root: &Path) -> Vec<String> {
    std::fs::read_dir(root.join("containers"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn assert_nothing_left(t: &TestRoot) {
    assert!(
        mounts_below(t.path()).is_empty(),
        "left mounted: {:?}",
        mounts_below(t.path())
    );
    assert!(
        cgroups_of(t.path()).is_empty(),
        "{:?}",
        cgroups_of(t.path())
    );
}

fn is_whiteout(p: &Path) -> bool {
    let m = std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    m.file_type().is_char_device() && m.rdev() == 0
}

fn opaque(p: &Path) -> Vec<u8> {
    let mut v = [0u8; 8];
    let n = rustix::fs::lgetxattr(p, "trusted.overlay.opaque", &mut v[..]).unwrap();
    v[..n].to_vec()
}

#[test]
fn the_container_deletes_and_its_upper_dir_keeps_the_markers() {
    let t = TestRoot::new();
    let out = t.run("ch06-whiteouts", &["--id", "k", "--keep", "--explain=json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("same tree as the overlay showed"));
    assert!(stdout(&out).contains("whiteouts and opaque dirs are back"));
    let dir = t.path().join("containers/k");
    assert!(is_whiteout(&dir.join("upper/etc/motd")));
    assert_eq!(opaque(&dir.join("upper/etc/config")), b"y");
    assert!(!dir.join("applied/etc/motd").exists());
    assert!(!dir.join("applied/etc/config/base.conf").exists());
    assert!(dir.join("applied/etc/config/fresh.conf").exists());
    assert!(is_whiteout(&dir.join("restored-upper/etc/motd")));
    // The rm ran in the container: a child in new namespaces exec'd it.
    let steps: Vec<serde_json::Value> = stderr(&out)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let exec = steps
        .iter()
        .find(|s| s["syscall"] == "execve")
        .expect("an execve step");
    assert_eq!(exec["process"], "child", "{exec}");
    assert!(exec["args"].to_string().contains("rm /etc/motd"), "{exec}");
    let clone = steps.iter().find(|s| s["syscall"] == "clone").unwrap();
    assert!(clone["args"].to_string().contains("CLONE_NEWNS"), "{clone}");
    assert_nothing_left(&t);
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
fn without_keep_nothing_is_left() {
    let t = TestRoot::new();
    let out = t.run("ch06-whiteouts", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(container_dirs(t.path()), Vec::<String>::new());
    assert_nothing_left(&t);
}

#[test]
fn given_layers_are_used_and_left_untouched() {
    let t = TestRoot::new();
    let mut layers = vec![t.rootfs()];
    layers.extend(wharf::layer::demo::build(&t.path().join("mine")).unwrap());
    let before: Vec<_> = layers
        .iter()
        .map(|l| wharf::layer::manifest(l).unwrap())
        .collect();
    let mut args = vec!["--id", "g", "--keep", "--rm", "etc/hostname"];
    for l in &layers {
        args.extend(["--layer", l.to_str().unwrap()]);
    }
    let out = t.run("ch06-whiteouts", &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let upper = t.path().join("containers/g/upper");
    assert!(is_whiteout(&upper.join("etc/hostname")));
    assert!(!t.path().join("containers/g/layers").exists());
    let after: Vec<_> = layers
        .iter()
        .map(|l| wharf::layer::manifest(l).unwrap())
        .collect();
    assert_eq!(before, after, "a lower layer was modified");
    assert_nothing_left(&t);
}

#[test]
fn bad_input_is_one_line_and_changes_nothing() {
    let t = TestRoot::new();
    for (args, want) in [
        (
            &["--layer", "/nonexistent/layer"][..],
            "layer /nonexistent/layer does not exist",
        ),
        (
            &["--rm", "../../etc/passwd"],
            "--rm ../../etc/passwd: path contains `..`",
        ),
        (&["--rm", "/etc/passwd"], "--rm /etc/passwd: absolute path"),
        (&["--recreate", "."], "--recreate .: names the root itself"),
        (
            &["--rm", "etc/no-such-file"],
            "--rm etc/no-such-file: no lower layer has it",
        ),
        (&["--rm", "etc/config"], "--rm etc/config: is a directory"),
        (
            &["--recreate", "etc/motd"],
            "--recreate etc/motd: no lower layer has this directory",
        ),
        (
            &["--driver", "copy"],
            "ch06-whiteouts needs a mount namespace and the overlay driver",
        ),
        (&["--pid"], "--pid needs --mount as well"),
        (
            &["--id", "../x"],
            "container id \"../x\": use 1 to 64 letters",
        ),
    ] {
        let out = t.run("ch06-whiteouts", args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: not one line:\n{err}");
        assert!(
            err.starts_with(&format!("ch06-whiteouts: error: {want}")),
            "{args:?}: {err}"
        );
        assert_eq!(container_dirs(t.path()), Vec::<String>::new(), "{args:?}");
        assert_nothing_left(&t);
    }
    assert!(Path::new("/etc/passwd").exists());
}

#[test]
fn a_failing_container_leaves_nothing_behind() {
    let t = TestRoot::new();
    // A layer with a file under /proc: inside, procfs is mounted over it,
    // so the container's `rm /proc/stale` fails and the lesson must stop.
    let layer = t.path().join("procfile");
    std::fs::create_dir_all(layer.join("proc")).unwrap();
    std::fs::write(layer.join("proc/stale"), "x").unwrap();
    let mut args = vec!["--rm", "proc/stale", "--recreate", "etc"];
    let rootfs = t.rootfs();
    args.extend(["--layer", rootfs.to_str().unwrap()]);
    args.extend(["--layer", layer.to_str().unwrap()]);
    let out = t.run("ch06-whiteouts", &args);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    let last = err.trim_end().lines().next_back().unwrap();
    assert!(last.contains("the container's shell failed"), "{err}");
    assert_eq!(container_dirs(t.path()), Vec::<String>::new());
    assert_nothing_left(&t);
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
    // The built-in rootfs made beforehand, so the transcript is the lesson's.
    t.rootfs();
    let out = t.run("ch06-whiteouts", &["--explain", "--id", "snap"]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!(
        snapshot_name("ch06_explain"),
        redact_run(&stderr(&out), t.path())
    );
    insta::assert_snapshot!("ch06_output", redact_run(&stdout(&out), t.path()));
}
