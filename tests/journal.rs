//! The journal is complete: every container-building syscall that
//! `strace -f` sees a chapter make appears in its `--explain=json` steps,
//! in the same order, and each step carries the documented fields.

mod common;
use common::*;

const TRACED: &str =
    "clone,clone3,fork,vfork,unshare,setns,mount,umount2,pivot_root,chroot,sethostname,execve";

/// Run a chapter under strace; return (syscall names strace saw, steps).
fn trace(t: &TestRoot, chapter: &str, args: &[&str]) -> (Vec<String>, Vec<serde_json::Value>) {
    let (lines, steps) = trace_only(t, TRACED, chapter, args);
    (names_of(&lines), steps)
}

/// Run a chapter under `strace -f -e trace=<set>`; return the calls strace
/// saw (one line each, without the pid, strace's own execve of the chapter
/// left out) and the `--explain=json` steps.
fn trace_only(
    t: &TestRoot,
    set: &str,
    chapter: &str,
    args: &[&str],
) -> (Vec<String>, Vec<serde_json::Value>) {
    let log = t.path().join("strace.log");
    let out = std::process::Command::new("strace")
        .args([
            "-f",
            "-qq",
            "-e",
            &format!("trace={set}"),
            "-o",
            log.to_str().unwrap(),
        ])
        .arg(bin(chapter))
        .arg("--explain=json")
        .args(args)
        .env("WHARF_ROOT", t.path())
        .output()
        .expect("strace is installed (apt-get install strace)");
    assert!(out.status.success(), "{}", stderr(&out));
    let seen = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<String> = seen
        .lines()
        .filter(|l| !l.contains("resumed>") && !l.contains("+++") && !l.contains("---"))
        .filter_map(|l| {
            l.split_once(char::is_whitespace)
                .map(|(_, c)| c.trim_start().to_string())
        })
        .skip(1) // strace's own execve of the chapter binary
        .collect();
    let steps = stderr(&out)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect::<Vec<serde_json::Value>>();
    // Equal lists prove nothing when both are empty: a chapter that built
    // its container always ends with the execve of the command, and the
    // journal must say so too.
    assert!(
        names_of(&lines).iter().any(|n| n == "execve"),
        "strace saw no execve of the command: {lines:?}"
    );
    assert!(
        steps.iter().any(|s| s["syscall"] == "execve"),
        "the journal has no execve step (empty journal?): {steps:?}"
    );
    (lines, steps)
}

/// `setns(3, CLONE_NEWIPC) = 0` -> `setns`.
fn names_of(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| l.split('(').next().map(str::to_string))
        .collect()
}

fn step_names(steps: &[serde_json::Value]) -> Vec<String> {
    step_names_in(TRACED, steps)
}

/// The journal's steps whose syscall is in the traced `set`.
fn step_names_in(set: &str, steps: &[serde_json::Value]) -> Vec<String> {
    let traced: Vec<&str> = set.split(',').collect();
    steps
        .iter()
        .map(|s| s["syscall"].as_str().unwrap().to_string())
        .filter(|n| traced.contains(&n.as_str()))
        .collect()
}

#[test]
fn every_traced_call_of_ch02_is_journaled() {
    let t = TestRoot::new();
    let rootfs = t.rootfs();
    let (calls, steps) = trace(
        &t,
        "ch02-namespaces",
        &[
            "--user",
            "--pid",
            "--mount",
            "--uts",
            "--hostname",
            "j",
            "--rootfs",
            rootfs.to_str().unwrap(),
            "--",
            "/bin/true",
        ],
    );
    assert_eq!(step_names(&steps), calls, "journal vs strace -f");
    assert!(calls.contains(&"pivot_root".to_string()));
}

#[test]
fn every_traced_call_of_ch01_is_journaled() {
    let t = TestRoot::new();
    let rootfs = t.rootfs();
    let (calls, steps) = trace(
        &t,
        "ch01-chroot",
        &[
            "--rootfs",
            rootfs.to_str().unwrap(),
            "--escape-demo",
            "--",
            "/bin/true",
        ],
    );
    assert_eq!(step_names(&steps), calls);
}

#[test]
fn steps_carry_the_documented_fields() {
    let t = TestRoot::new();
    let rootfs = t.rootfs();
    let (_, steps) = trace(
        &t,
        "ch02-namespaces",
        &["--rootfs", rootfs.to_str().unwrap(), "--", "/bin/true"],
    );
    let fields = [
        "step", "process", "pid", "syscall", "args", "ret", "errno", "why", "hint", "kernel",
    ];
    for (i, s) in steps.iter().enumerate() {
        let obj = s.as_object().unwrap();
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort();
        let mut want = fields.to_vec();
        want.sort();
        assert_eq!(keys, want);
        assert_eq!(
            s["step"],
            i as u64 + 1,
            "numbered in order across processes"
        );
        assert!(!s["why"].as_str().unwrap().is_empty());
    }
    let procs: Vec<&str> = steps
        .iter()
        .map(|s| s["process"].as_str().unwrap())
        .collect();
    assert_eq!(procs.first(), Some(&"parent"));
    assert!(
        procs.contains(&"child"),
        "steps after clone are labelled with the child"
    );
    let mount = steps.iter().find(|s| s["syscall"] == "mount").unwrap();
    assert_eq!(
        mount["args"][3], "MS_REC|MS_PRIVATE",
        "flags decoded as strace prints them"
    );
}

#[test]
fn a_failed_step_has_errno_and_hint() {
    let t = TestRoot::new();
    // An empty directory as the rootfs has no /proc to mount on: the
    // kernel answers ENOENT, and the step says so.
    let empty = t.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = t.run(
        "ch02-namespaces",
        &[
            "--explain=json",
            "--rootfs",
            empty.to_str().unwrap(),
            "--",
            "/bin/true",
        ],
    );
    assert!(!out.status.success());
    let failed: Vec<serde_json::Value> = stderr(&out)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|s| !s["errno"].is_null())
        .collect();
    assert!(!failed.is_empty(), "{}", stderr(&out));
    assert_eq!(failed[0]["syscall"], "mount");
    assert_eq!(failed[0]["errno"], "ENOENT");
    assert_eq!(failed[0]["ret"], -1);
    assert!(failed[0]["hint"]
        .as_str()
        .unwrap()
        .contains("does not exist"));
    assert_eq!(
        stderr(&out).lines().filter(|l| !l.starts_with('{')).count(),
        1,
        "one error line"
    );
}

/// ch03 `exec` into a running target: the same calls strace sees, in order
/// — one setns per namespace the target does not share with us (in the
/// chapter's join order), fchdir + chroot to its root, the fork, execve.
#[test]
fn every_traced_call_of_ch03_exec_is_journaled() {
    let t = TestRoot::new();
    let (_target_guard, target) = start_target(&t, &[]);

    // fchdir is journaled too (the step into the target's root): trace it.
    let set = format!("{TRACED},fchdir");
    let (lines, steps) = trace_only(
        &t,
        &set,
        "ch03-setns",
        &["exec", &target, "--", "/bin/true"],
    );
    let calls = names_of(&lines);
    assert_eq!(step_names_in(&set, &steps), calls, "journal vs strace -f");

    // Judged from the kernel: one setns per namespace that differs.
    let kinds: Vec<&str> = wharf::ns::setns::JOIN_ORDER
        .iter()
        .map(|(k, ..)| *k)
        .filter(|k| ns_link(&target, k) != ns_link("self", k))
        .collect();
    assert!(
        kinds.len() >= 5,
        "the target shares too much with us: {kinds:?}"
    );
    let mut want: Vec<String> = kinds.iter().map(|_| "setns".to_string()).collect();
    want.extend(["fchdir", "chroot", "clone", "execve"].map(String::from));
    assert_eq!(calls, want, "{lines:#?}");

    // Each setns names the same namespace type in strace and in the journal.
    let strace_types: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with("setns("))
        .map(|l| l.split([',', ')']).nth(1).unwrap().trim())
        .collect();
    let journal_types: Vec<&str> = steps
        .iter()
        .filter(|s| s["syscall"] == "setns")
        .map(|s| s["args"][1].as_str().unwrap())
        .collect();
    assert_eq!(strace_types, journal_types);
    assert_eq!(
        journal_types.last(),
        Some(&"CLONE_NEWNS"),
        "mnt is joined last"
    );
    let exec = steps.iter().find(|s| s["syscall"] == "execve").unwrap();
    assert_eq!(
        exec["process"], "child",
        "the command runs in the forked child"
    );
}

/// ch04: the cgroup work happens in files, the container in syscalls —
/// clone, the cgroup namespace rooted after the move, mounts, pivot_root,
/// the old root detached, execve — and strace sees exactly those.
#[test]
fn every_traced_call_of_ch04_is_journaled() {
    let t = TestRoot::new();
    let rootfs = t.rootfs();
    let (lines, steps) = trace_only(
        &t,
        TRACED,
        "ch04-cgroups",
        &[
            "--rootfs",
            rootfs.to_str().unwrap(),
            "--pids-limit",
            "20",
            "--",
            "/bin/true",
        ],
    );
    let calls = names_of(&lines);
    assert_eq!(step_names(&steps), calls, "journal vs strace -f");
    let order = [
        "clone",
        "unshare",
        "mount",
        "pivot_root",
        "umount2",
        "execve",
    ];
    let mut at = 0;
    for want in order {
        at += calls[at..]
            .iter()
            .position(|c| c == want)
            .unwrap_or_else(|| panic!("no {want} after #{at} in {calls:?}"));
    }
    let unshare = lines.iter().find(|l| l.starts_with("unshare(")).unwrap();
    assert!(unshare.starts_with("unshare(CLONE_NEWCGROUP)"), "{unshare}");
    let step = steps.iter().find(|s| s["syscall"] == "unshare").unwrap();
    assert_eq!(step["args"][0], "CLONE_NEWCGROUP");
    assert_eq!(step["process"], "child");
    assert_eq!(calls.iter().filter(|c| *c == "execve").count(), 1);
}
