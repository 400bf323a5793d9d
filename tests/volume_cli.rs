//! `wharf volume create|ls|inspect|rm`, judged by what is on disk under the
//! state root, and the "in use" refusal with a real running container.

mod common;
use common::*;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

fn wharf(t: &TestRoot, args: &[&str]) -> std::process::Output {
    t.run(
        "wharf",
        &["volume"].iter().chain(args).copied().collect::<Vec<_>>(),
    )
}

#[test]
fn create_ls_inspect_rm() {
    let t = TestRoot::new();
    let out = wharf(&t, &["create", "db"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(t.path().join("volumes/db/_data").is_dir());
    let ls = stdout(&wharf(&t, &["ls"]));
    assert!(
        ls.lines()
            .any(|l| l.split_whitespace().next() == Some("db")),
        "{ls}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&wharf(&t, &["inspect", "db"]).stdout).unwrap();
    assert_eq!(json[0]["name"], "db");
    assert_eq!(json[0]["anonymous"], false);
    assert!(wharf(&t, &["rm", "db"]).status.success());
    assert!(!t.path().join("volumes/db").exists());
}

/// One line naming the problem, non-zero, and the store as it was.
fn refused(t: &TestRoot, args: &[&str]) -> String {
    let before: Vec<_> = std::fs::read_dir(t.path().join("volumes"))
        .map(|d| d.count())
        .into_iter()
        .collect();
    let out = wharf(t, args);
    let err = stderr(&out);
    assert!(!out.status.success(), "accepted {args:?}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let after: Vec<_> = std::fs::read_dir(t.path().join("volumes"))
        .map(|d| d.count())
        .into_iter()
        .collect();
    assert_eq!(before, after, "the store changed");
    err
}

#[test]
fn rm_of_an_unknown_volume_names_it_and_removes_nothing() {
    let t = TestRoot::new();
    assert!(wharf(&t, &["create", "keep"]).status.success());
    let err = refused(&t, &["rm", "keep", "ghost"]);
    assert!(err.contains("no such volume: ghost"), "{err}");
    assert!(
        t.path().join("volumes/keep/_data").is_dir(),
        "keep was removed before ghost was checked"
    );
}

#[test]
fn a_bad_name_or_a_second_create_is_refused() {
    let t = TestRoot::new();
    assert!(refused(&t, &["create", "../up"]).contains("not a valid volume name"));
    assert!(wharf(&t, &["create", "once"]).status.success());
    assert!(refused(&t, &["create", "once"]).contains("already exists"));
}

#[test]
fn a_volume_in_use_is_not_removed_until_its_container_ends() {
    let t = TestRoot::new();
    t.rootfs();
    let mut child = t
        .cmd("ch07-volumes")
        .args([
            "--id",
            "user1",
            "-v",
            "busy:/data",
            "--",
            "/bin/sh",
            "-c",
            "echo READY; read x",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut g = Reaped(child);
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "READY\n");
    let err = refused(&t, &["rm", "busy"]);
    assert!(err.contains("in use") && err.contains("user1"), "{err}");
    let ls = stdout(&wharf(&t, &["ls"]));
    assert!(ls.contains("user1"), "ls does not show the user: {ls}");
    g.0.stdin.take().unwrap().write_all(b"\n").unwrap();
    assert!(g.0.wait().unwrap().success());
    assert!(wharf(&t, &["rm", "busy"]).status.success());
}
