//! Chapter 03 judged from the kernel's side: after `exec`, the joined
//! process's namespace inodes equal the target's, and it sees the target's
//! root, hostname and pid numbering.

mod common;
use common::*;

fn start_target(t: &TestRoot) -> (Reaped, String) {
    let rootfs = t.rootfs();
    let child = t
        .cmd("ch03-setns")
        .args([
            "run",
            "--hostname",
            "target",
            "--rootfs",
            rootfs.to_str().unwrap(),
            "--",
            "/bin/sleep",
            "30",
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let parent = child.id();
    let guard = Reaped(child);
    (guard, wait_for_child(parent, "sleep").to_string())
}

#[test]
fn exec_joins_every_namespace_of_the_target() {
    let t = TestRoot::new();
    let (_g, target) = start_target(&t);
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
    let (_g, target) = start_target(&t);
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
    let (_g, target) = start_target(&t);
    let out = t.run(
        "ch03-setns",
        &["--explain", "exec", &target, "--", "/bin/true"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = redact(&stderr(&out), t.path()).replace(&target, "[PID]");
    insta::assert_snapshot!("ch03_explain", text);
}
