//! Bad input gets one clear line, a non-zero exit, and leaves nothing
//! behind: no mount, no state, no process.

mod common;
use common::*;

/// Run, and check: failed with `code`, one stderr line containing `needle`,
/// and no mount of this test's left on the host.
fn refused(t: &TestRoot, chapter: &str, args: &[&str], code: i32, needle: &str) {
    let before = our_mounts(t);
    let out = t.run(chapter, args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert_eq!(err.lines().count(), 1, "exactly one line:\n{err}");
    assert!(err.contains(needle), "{needle:?} not in {err:?}");
    assert_eq!(before, our_mounts(t), "a mount of ours was left behind");
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

/// Run `name ARGS…` as nobody (uid/gid 65534, no groups) with a state root
/// that nobody owns, so that anything made before the root check would
/// show up there. It must fail with one line saying how to run it, and
/// leave the state root empty.
fn refused_without_root(name: &str, args: &[&str]) {
    let t = TestRoot::new();
    std::os::unix::fs::chown(t.path(), Some(65534), Some(65534)).expect("chown state root");
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bin(name))
        .args(args)
        .env("WHARF_ROOT", t.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("setpriv (util-linux)");
    let err = stderr(&out);
    let left: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(
        !out.status.success(),
        "{name} {args:?} succeeded without root (stdout {:?}) and created {left:?}",
        stdout(&out)
    );
    assert_eq!(out.status.code(), Some(1), "{name}: {err}");
    assert_eq!(err.lines().count(), 1, "{name}: one line:\n{err}");
    assert!(
        err.contains("needs root") && err.contains("sudo"),
        "{name}: the line must say it needs root and to run it with sudo: {err}"
    );
    assert!(stdout(&out).is_empty(), "{name}: {}", stdout(&out));
    assert!(left.is_empty(), "{name} created {left:?}");
}

#[test]
fn not_root_is_refused_with_how_to_run() {
    refused_without_root("ch02-namespaces", &["--", "/bin/true"]);
}

#[test]
fn not_root_ch01() {
    refused_without_root("ch01-chroot", &["--", "/bin/true"]);
}

#[test]
fn not_root_ch03_run_and_exec() {
    refused_without_root("ch03-setns", &["run", "--", "/bin/true"]);
    // pid 1 exists: the refusal must come before any look at the target.
    refused_without_root("ch03-setns", &["exec", "1", "--", "/bin/true"]);
}

#[test]
fn not_root_ch04() {
    refused_without_root("ch04-cgroups", &["--pids-limit", "20", "--", "/bin/true"]);
}

#[test]
fn not_root_ch05() {
    refused_without_root("ch05-union", &["--", "/bin/true"]);
}

#[test]
fn not_root_ch06() {
    refused_without_root("ch06-whiteouts", &[]);
}

#[test]
fn not_root_ch07() {
    refused_without_root("ch07-volumes", &["--", "/bin/true"]);
}

#[test]
fn not_root_volume_create() {
    refused_without_root("wharf", &["volume", "create", "data"]);
}

#[test]
fn not_root_ch09() {
    refused_without_root("ch09-network", &["-p", "8080:80", "--", "/bin/true"]);
}

#[test]
fn not_root_network_create() {
    refused_without_root(
        "wharf",
        &["network", "create", "app", "--subnet", "10.90.0.0/24"],
    );
}
