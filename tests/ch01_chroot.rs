//! Chapter 01 judged from the kernel's side: chroot changes the root
//! directory and nothing else, and a root process can climb out of it.

mod common;
use common::*;
use std::os::unix::fs::MetadataExt;

#[test]
fn command_runs_inside_the_rootfs() {
    let t = TestRoot::new();
    let rootfs = t.rootfs();
    std::fs::write(rootfs.join("marker"), "inside\n").unwrap();
    let out = t.run(
        "ch01-chroot",
        &[
            "--rootfs",
            rootfs.to_str().unwrap(),
            "--",
            "/bin/cat",
            "/marker",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "inside\n");
}

#[test]
fn chroot_creates_no_namespace() {
    let t = TestRoot::new();
    let rootfs = t.rootfs();
    let child = t
        .cmd("ch01-chroot")
        .args([
            "--rootfs",
            rootfs.to_str().unwrap(),
            "--",
            "/bin/sleep",
            "5",
        ])
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let _guard = Reaped(child);
    // chroot execs in place: the same process becomes sleep.
    for _ in 0..250 {
        if std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap_or_default()
            .trim()
            == "sleep"
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for kind in ["mnt", "pid", "uts", "ipc", "net", "user", "cgroup"] {
        assert_eq!(
            ns_link(&pid, kind),
            ns_link("self", kind),
            "{kind} namespace must be the host's"
        );
    }
    let root = std::fs::read_link(format!("/proc/{pid}/root")).unwrap();
    assert_eq!(
        root, rootfs,
        "the kernel reports the rootfs as the process's root"
    );
}

#[test]
fn escape_demo_reaches_the_host_root() {
    let t = TestRoot::new();
    let rootfs = t.rootfs();
    // Leave a process in whatever root the demo reached, and ask the kernel
    // (not the demo's own report) where that root is.
    let child = t
        .cmd("ch01-chroot")
        .args([
            "--rootfs",
            rootfs.to_str().unwrap(),
            "--escape-demo",
            "--",
            "/bin/sleep",
            "30",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let _guard = Reaped(child);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        != "sleep"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the demo never ran its command"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let theirs = std::fs::metadata(format!("/proc/{pid}/root")).unwrap();
    let host = std::fs::metadata("/").unwrap();
    let cell = std::fs::metadata(&rootfs).unwrap();
    assert_ne!(
        (cell.dev(), cell.ino()),
        (host.dev(), host.ino()),
        "the rootfs must not be the host's root for this test to mean anything"
    );
    assert_eq!(
        (theirs.dev(), theirs.ino()),
        (host.dev(), host.ino()),
        "/proc/{pid}/root (dev, ino) must be the host's /: the process escaped"
    );
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/root")).unwrap(),
        std::path::Path::new("/"),
    );
    assert!(
        !rootfs.join(".wharf-escape").exists(),
        "the demo removes its cell"
    );
}

#[test]
fn explain_transcript() {
    let t = TestRoot::new();
    let rootfs = t.rootfs();
    let out = t.run(
        "ch01-chroot",
        &[
            "--explain",
            "--rootfs",
            rootfs.to_str().unwrap(),
            "--",
            "/bin/true",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!("ch01_explain", redact(&stderr(&out), t.path()));
}
