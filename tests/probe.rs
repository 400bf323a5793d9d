//! `wharf inspect` judged against the kernel: processes started in new
//! namespaces with util-linux `unshare`, their /proc/PID/ns links read
//! independently, and their mount tables compared with ours.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{ns_link, stderr, stdout, Reaped, TestRoot};

/// Start `unshare ARGS…` with stdout piped (killed and reaped when the guard
/// drops) and wait until the command prints its first line: by then every
/// namespace and mount it set up exists.
fn start_ready(args: &[&str]) -> Reaped {
    let child = Command::new("unshare")
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn unshare (util-linux)");
    let mut p = Reaped(child);
    let mut line = String::new();
    BufReader::new(p.0.stdout.as_mut().expect("stdout"))
        .read_line(&mut line)
        .expect("read ready line");
    assert_eq!(line.trim(), "ready", "the command did not get ready");
    p
}

/// `wharf inspect ARGS… --format json`, which must succeed.
fn inspect_json(root: &TestRoot, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["inspect"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let out = root.run("wharf", &all);
    assert!(
        out.status.success(),
        "wharf {all:?} failed: {}",
        stderr(&out)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// The inode in a /proc/PID/ns link, read without wharf.
fn inode_of(pid: u32, kind: &str) -> u64 {
    let text = ns_link(&pid.to_string(), kind);
    let base = kind.trim_end_matches("_for_children");
    text.strip_prefix(&format!("{base}:["))
        .and_then(|t| t.strip_suffix(']'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("odd ns link {text}"))
}

/// The host's namespace of `kind`: pid 1's, or, where this machine's init
/// refuses even root a look (a VM sandbox), kthreadd's — a kernel thread,
/// always in the initial namespaces.
fn host_inode(kind: &str) -> u64 {
    match std::fs::read_link(format!("/proc/1/ns/{kind}")) {
        Ok(_) => inode_of(1, kind),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            let stat = std::fs::read_to_string("/proc/2/stat").unwrap();
            assert!(stat.contains("(kthreadd)"), "pid 2 is not kthreadd: {stat}");
            inode_of(2, kind)
        }
        Err(e) => panic!("/proc/1/ns/{kind}: {e}"),
    }
}

#[test]
fn ns_reports_new_uts_and_mnt_and_shares_the_rest() {
    let root = TestRoot::new();
    // `exec sleep` keeps the pid: the process we inspect is the one unshare made.
    let p = start_ready(&["--uts", "--mount", "sh", "-c", "echo ready; exec sleep 600"]);
    let rows = inspect_json(&root, &["ns", &p.0.id().to_string()]);
    let rows = rows.as_array().expect("a list of namespaces");
    let kinds: Vec<&str> = rows.iter().map(|r| r["type"].as_str().unwrap()).collect();
    for must in ["cgroup", "ipc", "mnt", "net", "pid", "user", "uts"] {
        assert!(kinds.contains(&must), "no {must} in {kinds:?}");
    }
    for r in rows {
        let kind = r["type"].as_str().unwrap();
        assert_eq!(
            r["inode"].as_u64(),
            Some(inode_of(p.0.id(), kind)),
            "{kind} inode"
        );
        assert_eq!(r["pid"].as_u64(), Some(p.0.id() as u64));
        let host_same = host_inode(kind) == inode_of(p.0.id(), kind);
        assert_eq!(r["shared_with_host"].as_bool(), Some(host_same), "{kind}");
        let expect_new = kind == "uts" || kind == "mnt";
        assert_eq!(host_same, !expect_new, "{kind}: unshare --uts --mount");
    }
}

#[test]
fn ns_table_marks_new_namespaces() {
    let root = TestRoot::new();
    let p = start_ready(&["--uts", "sh", "-c", "echo ready; exec sleep 600"]);
    let out = root.run("wharf", &["inspect", "ns", &p.0.id().to_string()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let line = |kind: &str| -> Vec<String> {
        let l = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(kind));
        l.unwrap_or_else(|| panic!("no {kind} row in\n{text}"))
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    assert!(text.starts_with("TYPE"), "{text}");
    assert_eq!(
        line("uts"),
        [
            "uts".to_string(),
            inode_of(p.0.id(), "uts").to_string(),
            p.0.id().to_string(),
            "no".into()
        ]
    );
    assert_eq!(line("net")[3], "yes");
}

#[test]
fn mounts_show_a_private_tmpfs_the_host_cannot_see() {
    let root = TestRoot::new();
    let dir = root.path().join("private mnt");
    std::fs::create_dir(&dir).unwrap();
    let source = format!("wharf-probe-{}", std::process::id());
    let script =
        format!("mount -t tmpfs -o size=1m {source} \"$1\" && echo ready && exec sleep 600");
    // unshare --mount makes every mount private first, so nothing propagates back.
    let p = start_ready(&["--mount", "sh", "-c", &script, "sh", dir.to_str().unwrap()]);
    let pid = p.0.id().to_string();

    let rows = inspect_json(&root, &["mounts", &pid]);
    let found: Vec<&serde_json::Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["source"] == source.as_str())
        .collect();
    assert_eq!(found.len(), 1, "tmpfs not in {rows:#}");
    assert_eq!(
        found[0]["target"],
        dir.to_str().unwrap(),
        "octal \\040 undone"
    );
    assert_eq!(found[0]["fstype"], "tmpfs");
    assert_eq!(found[0]["propagation"], "private");

    let ours = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !ours.contains(&source),
        "the tmpfs leaked into the host's mount table"
    );
    let host = inspect_json(&root, &["mounts", &std::process::id().to_string()]);
    let host = host.as_array().unwrap();
    assert!(!host.is_empty(), "inspect listed no mounts of the host");
    assert!(host.iter().all(|r| r["source"] != source.as_str()));

    // In the JSON tree it hangs below the root mount, not at the top.
    let tree = inspect_json(&root, &["mounts", &pid, "--tree"]);
    let tops = tree.as_array().unwrap();
    assert!(!tops.is_empty(), "the mount tree has no top");
    assert!(tops.iter().all(|m| m["source"] != source.as_str()));
    assert!(tops
        .iter()
        .any(|m| m.to_string().contains(&format!("\"source\":\"{source}\""))));

    // The tree puts it under the mount that holds its directory.
    let tree = root.run("wharf", &["inspect", "mounts", &pid, "--tree"]);
    assert!(tree.status.success(), "{}", stderr(&tree));
    let text = stdout(&tree);
    let line = text
        .lines()
        .find(|l| l.contains(&source))
        .expect("tmpfs row in tree");
    assert!(line.contains(&format!("─{}", dir.display())), "{text}");
}

#[test]
fn missing_pid_is_one_clear_error() {
    let root = TestRoot::new();
    // Above pid_max no process can ever exist.
    let max: i64 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let pid = (max + 1).to_string();
    for view in ["ns", "mounts", "cgroup"] {
        let out = root.run("wharf", &["inspect", view, &pid]);
        assert_eq!(out.status.code(), Some(1), "{view}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(&format!("no process with pid {pid}")), "{err}");
        assert!(stdout(&out).is_empty());
    }
}

#[test]
fn bad_arguments_are_refused() {
    let root = TestRoot::new();
    let me = std::process::id().to_string();
    let tree = root.run("wharf", &["inspect", "ns", &me, "--tree"]);
    assert_eq!(tree.status.code(), Some(1));
    assert!(
        stderr(&tree).contains("--tree draws mounts only"),
        "{}",
        stderr(&tree)
    );
    for bad in [
        vec!["inspect", "ns", "0"],
        vec!["inspect", "ns", "abc"],
        vec!["inspect", "pids", &me],
    ] {
        let out = root.run("wharf", &bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: clap's usage error");
    }
}

/// The steps of an `--explain` transcript, each with the lines under it.
fn steps(transcript: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in transcript.lines() {
        if line.starts_with('#') || out.is_empty() {
            out.push(String::new());
        }
        let last = out.last_mut().unwrap();
        last.push_str(line);
        last.push('\n');
    }
    out
}

/// A lesson run with --explain --show: it succeeded, every view could be
/// read; its transcript and the transcript cut into steps.
fn read_views(out: &std::process::Output) -> (String, Vec<String>) {
    let text = stderr(out);
    assert!(out.status.success(), "{text}");
    assert!(
        !text.contains("(cannot read") && !text.contains("has exited)"),
        "{text}"
    );
    let cut = steps(&text);
    (text, cut)
}

/// The step whose first line is the call `call`, with the views after it.
fn step_of<'a>(steps: &'a [String], call: &str, text: &str) -> &'a String {
    steps
        .iter()
        .find(|s| {
            s.lines()
                .next()
                .is_some_and(|l| l.starts_with('#') && l.contains(call))
        })
        .unwrap_or_else(|| panic!("no {call} in\n{text}"))
}

#[test]
fn show_diff_follows_a_lesson_step_by_step() {
    let root = TestRoot::new();
    let rootfs = root.rootfs();
    let out = root.run(
        "ch02-namespaces",
        &[
            "--rootfs",
            rootfs.to_str().unwrap(),
            "--explain",
            "--show",
            "ns,mounts",
            "--show-diff",
            "--",
            "/bin/true",
        ],
    );
    let (text, steps) = read_views(&out);
    let step = |call: &str| step_of(&steps, call, &text);

    // After clone: the new child's namespaces in full, judged against our own.
    let clone = step(" clone(");
    assert!(clone.contains("   ns of new child, pid "), "{clone}");
    let row = |block: &str, kind: &str| -> Vec<String> {
        let l = block
            .lines()
            .find(|l| l.split_whitespace().next() == Some(kind));
        l.unwrap_or_else(|| panic!("no {kind} row in\n{block}"))
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    let user = row(clone, "user");
    assert_eq!(
        user[1],
        inode_of(std::process::id(), "user").to_string(),
        "{clone}"
    );
    assert_eq!(user[3], "yes");
    let uts = row(clone, "uts");
    assert_ne!(
        uts[1],
        inode_of(std::process::id(), "uts").to_string(),
        "{clone}"
    );
    assert_eq!(uts[3], "no");

    // Mounting proc: one mount added, no namespace changed.
    let proc_mount = step(r#" mount("proc", "#);
    assert!(
        proc_mount.contains("   ns of child, pid ") && proc_mount.contains(": (no change)"),
        "{proc_mount}"
    );
    let added: Vec<&str> = proc_mount
        .lines()
        .filter(|l| l.trim_start().starts_with('+'))
        .collect();
    assert_eq!(added.len(), 1, "{proc_mount}");
    assert!(
        added[0].contains(&format!("{}/proc ", rootfs.display())) && added[0].contains(" proc "),
        "{proc_mount}"
    );

    // pivot_root moves the rootfs mount to / (same mount ID, new target).
    let pivot = step(" pivot_root(");
    let moved = format!("{} → / ", rootfs.display());
    assert!(
        pivot
            .lines()
            .any(|l| l.trim_start().starts_with('~') && l.contains(&moved)),
        "{pivot}"
    );
}

/// Inside a cgroup namespace, after pivot_root, the child's cgroup view is
/// still the kernel's: `/` for its own cgroup, the host path beside it,
/// and the limits read from the cgroup's files.
#[test]
fn show_cgroup_sees_through_the_cgroup_namespace_and_pivot_root() {
    let root = TestRoot::new();
    let rootfs = root.rootfs();
    let out = root.run(
        "ch04-cgroups",
        &[
            "--rootfs",
            rootfs.to_str().unwrap(),
            "--pids-limit",
            "40",
            "--explain",
            "--show",
            "cgroup",
            "--",
            "/bin/true",
        ],
    );
    let (text, steps) = read_views(&out);
    let after = |call: &str| step_of(&steps, call, &text);
    let pid = parent_pid(&text);
    let host_path = format!("/{}/ch04-{pid}", wharf::paths::host_tag_for(root.path()));
    for call in ["unshare(CLONE_NEWCGROUP)", "pivot_root("] {
        let block = after(call);
        let pids_row = block
            .lines()
            .find(|l| l.contains("pids 40"))
            .unwrap_or_else(|| panic!("no row with the pids limit after {call}:\n{block}"));
        assert!(
            pids_row.contains(&format!("/ (host: {host_path})")),
            "after {call}: {pids_row}"
        );
    }
}

/// The lesson's own pid, from the heading of its views: `cgroup of
/// parent, pid 4212:` (ch04 names its cgroup after itself).
fn parent_pid(transcript: &str) -> String {
    let at = transcript
        .find("cgroup of parent, pid ")
        .expect("a view of the parent");
    let rest = &transcript[at + "cgroup of parent, pid ".len()..];
    rest.chars().take_while(char::is_ascii_digit).collect()
}

/// `wharf inspect cgroup` on a container that ch04 started with a pids
/// limit: table and JSON name the container's cgroup by its host path
/// (`/<tag>/ch04-<pid of ch04>`) and its limit, as the kernel has them.
#[test]
fn inspect_cgroup_names_a_ch04_container_and_its_pids_limit() {
    let root = TestRoot::new();
    let rootfs = root.rootfs();
    let child = root
        .cmd("ch04-cgroups")
        .args(["--rootfs", rootfs.to_str().unwrap(), "--pids-limit", "25"])
        .args(["--", "/bin/sleep", "30"])
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ch04-cgroups");
    let parent = child.id();
    let _guard = Reaped(child);
    let pid = common::wait_for_child(parent, "sleep").to_string();
    let host_path = format!("/{}/ch04-{parent}", wharf::paths::host_tag_for(root.path()));

    // The kernel's own word first: the container is in that cgroup.
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(
        own.lines().any(|l| l.ends_with(&format!(":{host_path}"))),
        "{host_path} not in /proc/{pid}/cgroup:\n{own}"
    );
    let v2 = wharf::probe::cgroup::detect(std::path::Path::new("/sys/fs/cgroup")).unwrap()
        == wharf::probe::cgroup::CgroupMode::V2;
    let limits_of = |l: &str| -> bool { l.split(", ").any(|x| x == "pids 25") };

    let rows = inspect_json(&root, &["cgroup", &pid]);
    let rows = rows.as_array().expect("a list of hierarchies");
    let limited: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| limits_of(r["limits"].as_str().unwrap()))
        .collect();
    assert_eq!(limited.len(), 1, "one row with the pids limit: {rows:#?}");
    assert_eq!(limited[0]["path"], host_path.as_str(), "{rows:#?}");
    assert_eq!(
        limited[0]["hierarchy"],
        if v2 { "unified" } else { "pids" },
        "{rows:#?}"
    );
    // Every hierarchy ch04 placed it in shows the same path (on hybrid
    // the controller-less unified tree is not one of them).
    for r in rows {
        let h = r["hierarchy"].as_str().unwrap();
        if v2 || h != "unified" {
            assert_eq!(r["path"], host_path.as_str(), "{h}: {rows:#?}");
        }
    }

    let out = root.run("wharf", &["inspect", "cgroup", &pid]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("HIERARCHY"), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("pids 25"))
        .unwrap_or_else(|| panic!("no row with the limit in\n{text}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cols[0], if v2 { "unified" } else { "pids" }, "{text}");
    assert_eq!(cols[1], host_path, "{text}");
}
