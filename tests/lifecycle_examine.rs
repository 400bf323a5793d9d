//! Looking at a container from outside: `diff` against the overlay's upper
//! dir on disk, `export` against the merged root, `top` against the
//! cgroup's cgroup.procs, `stats` against its limit and pids files, and
//! `rename` against the name table — each judged from the kernel's or the
//! disk's side, with bad input refused and nothing left behind.

mod common;
mod lifecycle_common;

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;

use lifecycle_common::{stderr, Life};

/// The container's cgroup directory in the pids hierarchy (v1 or hybrid),
/// or the unified one on a pure v2 host.
fn pids_dir(l: &Life, id: &str) -> PathBuf {
    let tag = wharf::paths::host_tag_for(l.t.path());
    let v1 = PathBuf::from("/sys/fs/cgroup/pids").join(&tag).join(id);
    if v1.is_dir() {
        return v1;
    }
    PathBuf::from("/sys/fs/cgroup").join(tag).join(id)
}

fn one_line_failure(l: &Life, args: &[&str]) -> String {
    let out = l.wharf(args);
    assert_eq!(out.status.code(), Some(125), "{args:?}: {}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

#[test]
fn diff_and_export_read_the_root_on_disk() {
    let l = Life::new();
    let script = "echo hi > /new; rm /etc/group; mkdir /tmp/d; echo done; sleep 100";
    let id = l.ok(&["run", "-d", "--name", "changer", "box", "sh", "-c", script]);
    l.until(10, "the script's changes", || {
        l.ok(&["logs", "changer"]).contains("done")
    });
    let upper = l.containers_dir().join(&id).join("upper");
    // The kernel's account: overlay copied up or created these, and wrote
    // a whiteout (char device 0/0) for the deleted file.
    assert_eq!(std::fs::read_to_string(upper.join("new")).unwrap(), "hi\n");
    let wh = std::fs::symlink_metadata(upper.join("etc/group")).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0);
    let diff = l.ok(&["diff", "changer"]);
    let lines: Vec<&str> = diff.lines().collect();
    assert_eq!(
        lines,
        ["C /etc", "D /etc/group", "A /new", "C /tmp", "A /tmp/d"],
        "{diff}"
    );

    let tar_path = l.t.path().join("out.tar");
    l.ok(&["export", "-o", tar_path.to_str().unwrap(), "changer"]);
    let mut entries = std::collections::BTreeMap::new();
    let mut ar = tar::Archive::new(std::fs::File::open(&tar_path).unwrap());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().to_string_lossy().into_owned();
        let mut body = Vec::new();
        if e.header().entry_type().is_file() {
            std::io::Read::read_to_end(&mut e, &mut body).unwrap();
        }
        entries.insert(path.trim_end_matches('/').to_string(), body);
    }
    assert_eq!(entries.get("new").map(Vec::as_slice), Some(&b"hi\n"[..]));
    assert!(
        !entries.contains_key("etc/group"),
        "a deleted file was exported"
    );
    assert!(entries.contains_key("tmp/d"));
    // Every file the merged root shows is in the tar, with its bytes.
    let merged = l.containers_dir().join(&id).join("merged");
    let passwd = std::fs::read(merged.join("etc/passwd")).unwrap();
    assert_eq!(entries.get("etc/passwd"), Some(&passwd));
    // To stdout: the same bytes.
    let out = l.wharf(&["export", "changer"]);
    assert!(out.status.success());
    assert_eq!(out.stdout, std::fs::read(&tar_path).unwrap());

    one_line_failure(&l, &["diff", "no-such-container"]);
    let missing = l.t.path().join("never.tar");
    one_line_failure(&l, &["export", "-o", missing.to_str().unwrap(), "nope"]);
    assert!(!missing.exists());
    // An unmounted root (a reboot does that) is said, not exported empty.
    nix::mount::umount2(&merged, nix::mount::MntFlags::MNT_DETACH).unwrap();
    let err = one_line_failure(&l, &["export", "-o", missing.to_str().unwrap(), "changer"]);
    assert!(err.contains("not mounted"), "{err}");
    assert!(!missing.exists());
    l.ok(&["rm", "-f", "changer"]);
    assert_eq!(l.leftovers(), Vec::<String>::new());
}

#[test]
fn top_and_stats_read_the_cgroup() {
    let l = Life::new();
    let script = "yes > /dev/null & sleep 100";
    let id = l.ok(&[
        "run", "-d", "--name", "busy", "--memory", "64m", "box", "sh", "-c", script,
    ]);
    let procs = pids_dir(&l, &id).join("cgroup.procs");
    let kernel_pids = || -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_to_string(&procs)
            .unwrap()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    l.until(10, "two processes in the cgroup", || {
        kernel_pids().len() == 2
    });
    let top = l.ok(&["top", "busy"]);
    let mut shown: Vec<String> = top
        .lines()
        .skip(1)
        .map(|r| r.split_whitespace().nth(1).unwrap().to_string())
        .collect();
    shown.sort();
    assert_eq!(shown, kernel_pids(), "{top}");
    assert!(top
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .eq(["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]));

    let stats = l.ok(&["stats", "--no-stream", "busy"]);
    let row: Vec<&str> = stats.lines().nth(1).unwrap().split_whitespace().collect();
    // CONTAINER ID, NAME, CPU %, USAGE, /, LIMIT, MEM %, PIDS
    assert_eq!(&row[..2], [&id[..12], "busy"], "{stats}");
    let cpu: f64 = row[2].trim_end_matches('%').parse().unwrap();
    assert!(cpu > 20.0, "`yes` keeps a CPU busy, stats says {cpu}%");
    assert_eq!(row[5], "64.00MiB", "{stats}");
    assert_eq!(row[7], kernel_pids().len().to_string(), "{stats}");

    l.ok(&["stop", "-t", "1", "busy"]);
    one_line_failure(&l, &["top", "busy"]);
    // A stopped container has no cgroup: Docker's zeros, not an error.
    let stats = l.ok(&["stats", "--no-stream", "busy"]);
    let row: Vec<&str> = stats.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!((row[3], row[7]), ("0B", "0"), "{stats}");
    // It cannot stream yet, and says so.
    one_line_failure(&l, &["stats", "busy"]);
    l.ok(&["rm", "busy"]);
    assert_eq!(l.leftovers(), Vec::<String>::new());
}

#[test]
fn rename_moves_the_name_in_the_table() {
    let l = Life::new();
    let id = l.ok(&["run", "-d", "--name", "old", "box", "sleep", "100"]);
    l.ok(&["create", "--name", "taken", "box", "true"]);
    let names = l.t.path().join("names");
    l.ok(&["rename", "old", "new"]);
    assert_eq!(
        std::fs::read_link(names.join("new")).unwrap().to_str(),
        Some(id.as_str())
    );
    assert!(std::fs::symlink_metadata(names.join("old")).is_err());
    assert_eq!(l.inspect(&id)["Name"], "/new");
    // A taken or bad name: one line, and the table as it was.
    let err = one_line_failure(&l, &["rename", "new", "taken"]);
    assert!(err.contains("already in use"), "{err}");
    one_line_failure(&l, &["rename", "new", "bad/name"]);
    assert_eq!(
        std::fs::read_link(names.join("new")).unwrap().to_str(),
        Some(id.as_str())
    );
    // rm frees the name it has now.
    l.ok(&["rm", "-f", "new", "taken"]);
    assert_eq!(l.leftovers(), Vec::<String>::new());
}
