//! Chapter 02 judged from the kernel's side: namespace inodes, hostname,
//! PID 1, the mounts of the container and of the host, uid maps, and the
//! chroot escape failing.

mod common;
use common::*;
use std::os::unix::fs::MetadataExt;

const KINDS: [&str; 8] = ["mnt", "pid", "uts", "ipc", "net", "user", "cgroup", "time"];

/// Start `ch02-namespaces ARGS -- sleep 30` and return the guard and the
/// host pid of the container's sleep.
fn start(t: &TestRoot, args: &[&str]) -> (Reaped, String) {
    let rootfs = t.rootfs();
    let child = t
        .cmd("ch02-namespaces")
        .args(["--rootfs", rootfs.to_str().unwrap()])
        .args(args)
        .args(["--", "/bin/sleep", "30"])
        .spawn()
        .unwrap();
    let parent = child.id();
    let guard = Reaped(child);
    let pid = wait_for_child(parent, "sleep").to_string();
    (guard, pid)
}

#[test]
fn default_namespaces_are_all_new_but_user_and_time() {
    let t = TestRoot::new();
    let (_g, pid) = start(&t, &[]);
    for kind in KINDS {
        let shared = ns_link(&pid, kind) == ns_link("self", kind);
        let want_shared = matches!(kind, "user" | "time");
        assert_eq!(
            shared,
            want_shared,
            "{kind}: inode {} vs host {}",
            ns_link(&pid, kind),
            ns_link("self", kind)
        );
    }
}

#[test]
fn only_the_chosen_namespace_is_new() {
    let t = TestRoot::new();
    let (_g, pid) = start(&t, &["--uts", "--hostname", "solo"]);
    for kind in KINDS {
        assert_eq!(
            ns_link(&pid, kind) != ns_link("self", kind),
            kind == "uts",
            "{kind}"
        );
    }
}

#[test]
fn hostname_pid1_and_private_proc() {
    let t = TestRoot::new();
    let rootfs = t.rootfs();
    // `echo /proc/[0-9]*` is a shell glob: it lists every pid this /proc
    // knows without starting another process.
    let script = "hostname; echo $$; echo /proc/[0-9]*";
    let out = t.run(
        "ch02-namespaces",
        &[
            "--rootfs",
            rootfs.to_str().unwrap(),
            "--hostname",
            "box",
            "--",
            "/bin/sh",
            "-c",
            script,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("box"));
    assert_eq!(lines.next(), Some("1"), "the command is PID 1");
    assert_eq!(
        lines.next(),
        Some("/proc/1"),
        "only the container's own process is visible"
    );
    assert_ne!(
        nix::unistd::gethostname().unwrap(),
        "box",
        "the host keeps its hostname"
    );
}

#[test]
fn container_mounts_stay_out_of_the_host() {
    let t = TestRoot::new();
    let host_before = our_mounts(&t);
    let (_g, pid) = start(&t, &[]);
    let theirs = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    let root_line = theirs
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .expect("a root mount");
    assert!(
        root_line.contains(t.path().to_str().unwrap()),
        "root mount is the rootfs bind: {root_line}"
    );
    assert!(
        theirs
            .lines()
            .any(|l| l.contains(" /proc ") && l.contains(" - proc ")),
        "a fresh /proc:\n{theirs}"
    );
    assert_eq!(
        theirs.lines().count(),
        2,
        "only / and /proc; the old root is detached:\n{theirs}"
    );
    // While the container runs, the host sees none of its mounts (the
    // rootfs bind, /proc) — ours to check; other tests mount meanwhile.
    assert_eq!(host_before, our_mounts(&t), "a mount leaked to the host");
}

#[test]
fn user_namespace_maps_root_to_an_unprivileged_uid() {
    let t = TestRoot::new();
    let (_g, pid) = start(&t, &["--user", "--pid", "--mount", "--uts"]);
    let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
    assert_eq!(
        map.split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(
        uid.split_whitespace().nth(1),
        Some("100000"),
        "seen from the host: {uid}"
    );
    assert_ne!(ns_link(&pid, "user"), ns_link("self", "user"));
}

#[test]
fn root_inside_a_user_namespace() {
    let t = TestRoot::new();
    let rootfs = t.rootfs();
    let out = t.run(
        "ch02-namespaces",
        &[
            "--user",
            "--pid",
            "--mount",
            "--rootfs",
            rootfs.to_str().unwrap(),
            "--",
            "/bin/id",
            "-u",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "0");
}

#[test]
fn chroot_escape_fails_after_pivot_root() {
    let t = TestRoot::new();
    let rootfs = t.rootfs();
    let out = t.run(
        "ch02-namespaces",
        &["--rootfs", rootfs.to_str().unwrap(), "--escape-demo"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let host = std::fs::metadata("/").unwrap();
    let own = std::fs::metadata(&rootfs).unwrap();
    let text = stdout(&out);
    assert!(
        !text.contains(&format!("dev={} ino={}\n", host.dev(), host.ino())),
        "{text}"
    );
    assert!(
        text.contains(&format!("/ is now dev={} ino={}", own.dev(), own.ino())),
        "{text}"
    );
    assert!(text.contains("contained"));
}

#[test]
fn explain_transcript() {
    let t = TestRoot::new();
    let rootfs = t.rootfs();
    let out = t.run(
        "ch02-namespaces",
        &[
            "--explain",
            "--hostname",
            "box",
            "--rootfs",
            rootfs.to_str().unwrap(),
            "--",
            "/bin/true",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!("ch02_explain", redact(&stderr(&out), t.path()));
}
