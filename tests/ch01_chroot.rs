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
    let out = t.run(
        "ch01-chroot",
        &["--rootfs", rootfs.to_str().unwrap(), "--escape-demo"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let host = std::fs::metadata("/").unwrap();
    let expect = format!("/ is now dev={} ino={}", host.dev(), host.ino());
    assert!(
        stdout(&out).contains(&expect),
        "expected {expect:?} in:\n{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("ESCAPED"));
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
