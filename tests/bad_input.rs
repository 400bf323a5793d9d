//! Bad input gets one clear line, a non-zero exit, and leaves nothing
//! behind: no mount, no state, no process.

mod common;
use common::*;

/// Run, and check: failed with `code`, one stderr line containing `needle`,
/// and the host's mount table unchanged.
fn refused(t: &TestRoot, chapter: &str, args: &[&str], code: i32, needle: &str) {
    let before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let out = t.run(chapter, args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert_eq!(err.lines().count(), 1, "exactly one line:\n{err}");
    assert!(err.contains(needle), "{needle:?} not in {err:?}");
    assert_eq!(
        before,
        std::fs::read_to_string("/proc/self/mountinfo").unwrap(),
        "mounts changed"
    );
}

#[test]
fn missing_rootfs() {
    let t = TestRoot::new();
    let missing = t.path().join("nope");
    refused(
        &t,
        "ch02-namespaces",
        &["--rootfs", missing.to_str().unwrap(), "--", "/bin/true"],
        1,
        "does not exist",
    );
    assert!(!missing.exists());
}

#[test]
fn command_not_found_is_127_like_docker() {
    let t = TestRoot::new();
    let rootfs = t.rootfs();
    refused(
        &t,
        "ch02-namespaces",
        &["--rootfs", rootfs.to_str().unwrap(), "--", "no-such-cmd"],
        127,
        "command not found",
    );
    refused(
        &t,
        "ch01-chroot",
        &["--rootfs", rootfs.to_str().unwrap(), "--", "/no/such"],
        127,
        "command not found",
    );
}

#[test]
fn not_executable_is_126() {
    let t = TestRoot::new();
    let rootfs = t.rootfs();
    std::fs::write(rootfs.join("plain"), "x").unwrap();
    refused(
        &t,
        "ch02-namespaces",
        &["--rootfs", rootfs.to_str().unwrap(), "--", "/plain"],
        126,
        "not an executable",
    );
}

#[test]
fn impossible_flag_combinations() {
    let t = TestRoot::new();
    refused(
        &t,
        "ch02-namespaces",
        &["--pid", "--", "/bin/true"],
        1,
        "--pid needs --mount",
    );
    refused(
        &t,
        "ch02-namespaces",
        &["--mount", "--hostname", "x", "--", "/bin/true"],
        1,
        "needs a UTS namespace",
    );
}

#[test]
fn unknown_flag() {
    let t = TestRoot::new();
    let out = t.run("ch02-namespaces", &["--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--bogus"));
}

#[test]
fn not_root_is_refused_with_how_to_run() {
    let t = TestRoot::new();
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bin("ch02-namespaces"))
        .args(["--", "/bin/true"])
        .env("WHARF_ROOT", t.path())
        .output()
        .expect("setpriv (util-linux)");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("needs root") && err.contains("sudo"), "{err}");
    assert!(
        std::fs::read_dir(t.path()).unwrap().next().is_none(),
        "nothing created"
    );
}
