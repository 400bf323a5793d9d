//! The journal is complete: every container-building syscall that
//! `strace -f` sees a chapter make appears in its `--explain=json` steps,
//! in the same order, and each step carries the documented fields.

mod common;
use common::*;

const TRACED: &str =
    "clone,clone3,fork,vfork,unshare,setns,mount,umount2,pivot_root,chroot,sethostname,execve";

/// Run a chapter under strace; return (syscall names strace saw, steps).
fn trace(t: &TestRoot, chapter: &str, args: &[&str]) -> (Vec<String>, Vec<serde_json::Value>) {
    let log = t.path().join("strace.log");
    let out = std::process::Command::new("strace")
        .args([
            "-f",
            "-qq",
            "-e",
            &format!("trace={TRACED}"),
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
    let calls: Vec<String> = seen
        .lines()
        .filter(|l| !l.contains("resumed>") && !l.contains("+++") && !l.contains("---"))
        .filter_map(|l| {
            l.split_whitespace()
                .nth(1)?
                .split('(')
                .next()
                .map(str::to_string)
        })
        .skip(1) // strace's own execve of the chapter binary
        .collect();
    let steps = stderr(&out)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    (calls, steps)
}

fn step_names(steps: &[serde_json::Value]) -> Vec<String> {
    let traced: Vec<&str> = TRACED.split(',').collect();
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
