//! `wharf doctor` reports what the kernel says: every expected check is
//! there, and the values match /proc and statfs read here independently.

mod common;
use common::*;

fn doctor_json() -> (Vec<serde_json::Value>, i32) {
    let out = std::process::Command::new(bin("wharf"))
        .args(["doctor", "--format", "json"])
        .output()
        .unwrap();
    let rows: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("doctor --format json prints a JSON array");
    (rows, out.status.code().unwrap_or(-1))
}

fn row<'a>(rows: &'a [serde_json::Value], check: &str) -> &'a serde_json::Value {
    rows.iter()
        .find(|r| r["check"] == check)
        .unwrap_or_else(|| panic!("no {check:?} row in {rows:?}"))
}

#[test]
fn json_has_every_check_with_a_verdict() {
    let (rows, _) = doctor_json();
    let names: Vec<&str> = rows.iter().map(|r| r["check"].as_str().unwrap()).collect();
    for want in [
        "root",
        "kernel",
        "overlayfs",
        "cgroup mode",
        "cgroup controllers",
        "propagation of /",
        "user namespaces",
        "ip_forward",
        "strace",
        "ip",
        "nsenter",
        "findmnt",
        "setfattr",
        "getfattr",
        "cargo",
        "mdbook",
    ] {
        assert!(names.contains(&want), "missing check {want}: {names:?}");
    }
    for r in &rows {
        assert!(
            matches!(r["status"].as_str(), Some("ok" | "warn" | "fail")),
            "{r}"
        );
        if r["status"] != "ok" {
            assert!(
                !r["fix"].as_str().unwrap().is_empty(),
                "a warn/fail row must say what to do: {r}"
            );
        }
    }
}

#[test]
fn exit_code_is_non_zero_exactly_when_a_check_fails() {
    let (rows, code) = doctor_json();
    let failed = rows.iter().any(|r| r["status"] == "fail");
    assert_eq!(code != 0, failed, "exit {code} with rows {rows:?}");
}

#[test]
fn values_match_the_kernel() {
    let (rows, _) = doctor_json();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(row(&rows, "kernel")["state"], release.trim());

    let has_overlay = std::fs::read_to_string("/proc/filesystems")
        .unwrap()
        .lines()
        .any(|l| l.ends_with("\toverlay"));
    assert_eq!(row(&rows, "overlayfs")["status"] == "ok", has_overlay);

    let fwd = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    assert_eq!(row(&rows, "ip_forward")["state"], fwd.trim());

    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
    let v2 = statfs("/sys/fs/cgroup").unwrap().filesystem_type() == CGROUP2_SUPER_MAGIC;
    let hybrid = !v2
        && statfs("/sys/fs/cgroup/unified")
            .is_ok_and(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC);
    let mode = row(&rows, "cgroup mode")["state"]
        .as_str()
        .unwrap()
        .to_string();
    let want = if v2 {
        "v2"
    } else if hybrid {
        "hybrid"
    } else {
        "v1"
    };
    assert!(
        mode.starts_with(want),
        "doctor says {mode:?}, statfs says {want}"
    );

    let root_is_root = nix::unistd::geteuid().is_root();
    assert_eq!(row(&rows, "root")["status"] == "ok", root_is_root);

    // The propagation of / as mountinfo says it for the topmost "/" mount.
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = info
        .lines()
        .rfind(|l| l.split(' ').nth(4) == Some("/"))
        .unwrap();
    let shared = line
        .split(" - ")
        .next()
        .unwrap()
        .split(' ')
        .skip(6)
        .any(|f| f.starts_with("shared:"));
    let state = row(&rows, "propagation of /")["state"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        state.starts_with("shared:"),
        shared,
        "doctor {state:?}, mountinfo {line:?}"
    );
}

/// Each tool's row agrees with the shell: found exactly when `command -v`
/// finds it, at the same path; when missing, the fix names the Debian
/// package that provides it.
#[test]
fn tools_match_command_v() {
    let (rows, _) = doctor_json();
    for (tool, package) in [
        ("strace", "strace"),
        ("ip", "iproute2"),
        ("nsenter", "util-linux"),
        ("findmnt", "util-linux"),
        ("setfattr", "attr"),
        ("getfattr", "attr"),
    ] {
        let out = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .unwrap();
        let found = stdout(&out).trim().to_string();
        let r = row(&rows, tool);
        if out.status.success() && found.starts_with('/') {
            assert_eq!(r["status"], "ok", "{tool}: command -v says {found}: {r}");
            assert_eq!(r["state"], found.as_str(), "{tool}: {r}");
        } else {
            assert_eq!(r["status"], "warn", "{tool}: command -v finds nothing: {r}");
            let fix = r["fix"].as_str().unwrap();
            assert!(
                fix.contains(&format!("apt-get install {package} ")),
                "{tool}: the fix must name the package {package}: {r}"
            );
        }
    }
}

/// On a hybrid host the hint says what the cgroup2 tree really holds, as
/// its root's cgroup.controllers lists it (hugetlb on some hosts), and
/// never that it holds nothing when it holds something.
#[test]
fn hybrid_hint_names_the_unified_controllers() {
    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
    let (rows, _) = doctor_json();
    let r = row(&rows, "cgroup mode");
    let fix = r["fix"].as_str().unwrap();
    let v2 = statfs("/sys/fs/cgroup").unwrap().filesystem_type() == CGROUP2_SUPER_MAGIC;
    let hybrid = !v2
        && statfs("/sys/fs/cgroup/unified")
            .is_ok_and(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC);
    if !hybrid {
        assert!(!fix.contains("unified"), "not hybrid, yet: {r}");
        eprintln!("NOTE: not a hybrid host: the unified-controllers half of this test did not run");
        return;
    }
    let list: Vec<String> = std::fs::read_to_string("/sys/fs/cgroup/unified/cgroup.controllers")
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let want = if list.is_empty() {
        "cgroup2 at /sys/fs/cgroup/unified holds no controllers".to_string()
    } else {
        format!(
            "cgroup2 at /sys/fs/cgroup/unified holds {}",
            list.join(", ")
        )
    };
    assert!(fix.contains(&want), "want {want:?} in the hint: {r}");
    assert!(!fix.contains("holds none"), "{r}");
}

#[test]
fn a_bad_format_is_one_clear_error() {
    let out = std::process::Command::new(bin("wharf"))
        .args(["doctor", "--format", "yaml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("yaml"), "{}", stderr(&out));
}
