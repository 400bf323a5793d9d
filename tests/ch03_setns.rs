//! Chapter 03 judged from the kernel's side: after `exec`, the joined
//! process's namespace inodes equal the target's, and it sees the target's
//! root, hostname and pid numbering.

mod common;
use common::*;

#[test]
fn exec_joins_every_namespace_of_the_target() {
    let t = TestRoot::new();
    let (_g, target) = start_target(&t, &["--hostname", "target"]);
    let kinds = ["mnt", "pid", "uts", "ipc", "net", "cgroup"];
    let script = kinds
        .map(|k| format!("readlink /proc/self/ns/{k}"))
        .join("; ")
        + "; hostname; echo $$";
    let out = t.run(
        "ch03-setns",
        &["exec", &target, "--", "/bin/sh", "-c", &script],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    for (i, kind) in kinds.iter().enumerate() {
        assert_eq!(
            lines[i],
            ns_link(&target, kind),
            "{kind} inode must equal the target's"
        );
        assert_ne!(
            lines[i],
            ns_link("self", kind),
            "{kind} must not be the host's"
        );
    }
    assert_eq!(
        lines[kinds.len()],
        "target",
        "hostname of the target's UTS namespace"
    );
    let pid: u32 = lines[kinds.len() + 1].parse().unwrap();
    assert!(
        pid > 1,
        "a process that joined is not PID 1 (sleep is): {pid}"
    );
}

#[test]
fn exec_sees_the_target_root() {
    let t = TestRoot::new();
    let (_g, target) = start_target(&t, &["--hostname", "target"]);
    std::fs::write(t.rootfs().join("only-in-rootfs"), "yes\n").unwrap();
    let out = t.run(
        "ch03-setns",
        &["exec", &target, "--", "/bin/cat", "/only-in-rootfs"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "yes\n");
}

#[test]
fn exec_into_a_missing_pid_is_one_clear_line() {
    let t = TestRoot::new();
    let out = t.run("ch03-setns", &["exec", "4194304", "--", "/bin/true"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no process with pid 4194304"), "{err}");
}

#[test]
fn explain_transcript() {
    let t = TestRoot::new();
    let (_g, target) = start_target(&t, &["--hostname", "target"]);
    let out = t.run(
        "ch03-setns",
        &["--explain", "exec", &target, "--", "/bin/true"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = redact(&stderr(&out), t.path()).replace(&target, "[PID]");
    insta::assert_snapshot!("ch03_explain", text);
}

/// A target in a user namespace of its own: `exec` must join that first
/// (it grants the capabilities the other joins are checked against) and
/// become root inside. Judged from the host: the joined process's user
/// namespace is the target's, and the kernel reports its uid as the one
/// that uid 0 inside maps to.
#[test]
fn exec_joins_a_user_namespace_first_and_is_root_inside() {
    use std::io::{BufRead, BufReader};
    let t = TestRoot::new();
    let (_target_guard, target) = start_target(&t, &["--user", "--pid", "--mount", "--uts"]);
    assert_ne!(
        ns_link(&target, "user"),
        ns_link("self", "user"),
        "run --user made no user namespace"
    );
    let map = std::fs::read_to_string(format!("/proc/{target}/uid_map")).unwrap();
    let map: Vec<String> = map.split_whitespace().map(String::from).collect();
    assert_eq!(map.len(), 3, "one uid_map line: {map:?}");
    assert_eq!(map[0], "0", "uid 0 inside is mapped: {map:?}");
    assert_ne!(map[1], "0", "root inside must not be root outside: {map:?}");

    let errlog = t.path().join("exec.err");
    let exec = t
        .cmd("ch03-setns")
        .args(["--explain", "exec", &target, "--", "/bin/sh", "-c"])
        .arg("id -u; cat /proc/self/uid_map; exec /bin/sleep 30")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&errlog).unwrap())
        .spawn()
        .unwrap();
    let exec_pid = exec.id();
    let mut exec = Reaped(exec);
    let mut out = BufReader::new(exec.0.stdout.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..2 {
        let mut l = String::new();
        out.read_line(&mut l).unwrap();
        lines.push(l.trim().to_string());
    }
    let explain = || std::fs::read_to_string(&errlog).unwrap_or_default();
    assert_eq!(lines[0], "0", "id -u inside: {lines:?}\n{}", explain());
    let inside: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(inside, map, "uid_map seen inside\n{}", explain());

    // The kernel's side: the joined command, seen from the host.
    let joined = wait_for_child(exec_pid, "sleep").to_string();
    for kind in ["user", "pid", "mnt", "uts"] {
        assert_eq!(
            ns_link(&joined, kind),
            ns_link(&target, kind),
            "{kind} of the joined process must be the target's"
        );
    }
    assert_ne!(ns_link(&joined, "user"), ns_link("self", "user"));
    let status = std::fs::read_to_string(format!("/proc/{joined}/status")).unwrap();
    let uids: Vec<&str> = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .expect("Uid: line")
        .split_whitespace()
        .collect();
    assert_eq!(
        uids,
        [map[1].as_str(); 4],
        "real, effective, saved and fs uid are root inside = {} outside",
        map[1]
    );
    let text = explain();
    // The namespace files are opened first (journaled opens), then joined.
    let first = text
        .lines()
        .find(|l| l.contains(" setns("))
        .unwrap_or_default();
    assert!(
        first.contains("CLONE_NEWUSER"),
        "the user namespace is joined first:\n{text}"
    );
}
