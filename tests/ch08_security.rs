//! Chapter 08: chapter 07's container, built from an OCI spec by
//! src/container and hardened. Each attack is tried with the protection on
//! (it must fail, as the kernel reports it) and, where a flag turns the
//! protection off, with it off (it must then work, so the test can fail).

mod common;

use std::process::Output;

use common::{redact, stderr, stdout, TestRoot};

fn ch08(t: &TestRoot, flags: &[&str], script: &str) -> Output {
    common::sh_in(t, "ch08-security", flags, script)
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        stderr(out)
    );
    stdout(out)
}

/// /proc/self/status of the container's command itself (cat is exec'd by
/// the init, not forked by a shell that may change its own signals).
fn status(t: &TestRoot, flags: &[&str]) -> String {
    t.rootfs();
    let mut args: Vec<&str> = flags.to_vec();
    args.extend(["--", "/bin/cat", "/proc/self/status"]);
    ok(&t.run("ch08-security", &args)).replace(":\t", ": ")
}

#[test]
fn the_init_runs_with_docker_s_caps_no_new_privs_and_a_filter() {
    let t = TestRoot::new();
    let out = status(&t, &[]);
    // Docker's 14 capabilities: CHOWN … AUDIT_WRITE, SETFCAP = 0xa80425fb.
    for want in [
        "CapBnd: 00000000a80425fb",
        "CapEff: 00000000a80425fb",
        "CapInh: 0000000000000000",
        "CapAmb: 0000000000000000",
        "NoNewPrivs: 1",
        "Seccomp: 2",
        "SigIgn: 0000000000000000",
    ] {
        assert!(
            out.lines().any(|l| l == want),
            "missing {want:?} in:\n{out}"
        );
    }
    let out = status(&t, &["--cap-drop", "ALL", "--seccomp", "unconfined"]);
    assert!(out.contains("CapBnd: 0000000000000000"), "{out}");
    assert!(out.contains("Seccomp: 0"), "{out}");
}

#[test]
fn mounting_a_tmpfs_fails_until_caps_and_seccomp_allow_it() {
    let t = TestRoot::new();
    let script = "mkdir -p /m; mount -t tmpfs t /m; echo rc=$?; while read -r l; do case $l in *' /m '*) echo mounted;; esac; done < /proc/self/mountinfo";
    let out = ch08(&t, &[], script);
    let text = stdout(&out);
    assert!(text.contains("rc=") && !text.contains("rc=0"), "{text}");
    assert!(!stdout(&out).contains("mounted"));
    // Either protection alone stops it: the filter answers EPERM first.
    let out = ch08(&t, &["--cap-add", "SYS_ADMIN"], script);
    assert!(
        !stdout(&out).contains("mounted"),
        "the filter let mount through"
    );
    let out = ok(&ch08(
        &t,
        &["--cap-add", "SYS_ADMIN", "--seccomp", "unconfined"],
        script,
    ));
    assert!(out.contains("rc=0") && out.contains("mounted"), "{out}");
}

#[test]
fn masked_and_read_only_proc_files_hold_nothing_for_the_container() {
    let t = TestRoot::new();
    let host = std::fs::read_to_string("/proc/timer_list").unwrap();
    assert!(
        !host.is_empty(),
        "this host's /proc/timer_list is empty: the test cannot tell a mask"
    );
    let script = "c=$(cat /proc/timer_list); echo timer_list=${#c}; c=$(cat /proc/keys); echo keys=${#c}; echo x > /proc/sys/kernel/hostname && echo wrote";
    let out = ch08(&t, &[], script);
    let text = stdout(&out);
    assert!(
        text.contains("timer_list=0") && text.contains("keys=0"),
        "{text}"
    );
    assert!(!text.contains("wrote"));
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn dev_holds_only_runc_s_devices() {
    let t = TestRoot::new();
    let out = ok(&ch08(
        &t,
        &[],
        "ls /dev; stat -c '%n %t:%T' /dev/null /dev/zero /dev/tty",
    ));
    let names: Vec<&str> = out
        .lines()
        .take_while(|l| !l.starts_with("/dev/"))
        .collect();
    assert_eq!(
        names,
        [
            "fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin",
            "stdout", "tty", "urandom", "zero"
        ]
    );
    // stat prints major:minor in hex.
    for want in ["/dev/null 1:3", "/dev/zero 1:5", "/dev/tty 5:0"] {
        assert!(
            out.lines().any(|l| l == want),
            "missing {want:?} in:\n{out}"
        );
    }
}

#[test]
fn read_only_refuses_writes_to_the_root_but_not_to_dev_shm() {
    let t = TestRoot::new();
    let out = ch08(
        &t,
        &["--read-only"],
        "touch /x && echo wrote-root; touch /dev/shm/x && echo wrote-shm",
    );
    assert_eq!(stdout(&out).trim(), "wrote-shm");
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );
    let out = ok(&ch08(&t, &[], "touch /x && echo wrote-root"));
    assert_eq!(out.trim(), "wrote-root");
}

#[test]
fn print_spec_is_the_config_json_of_the_flags() {
    let t = TestRoot::new();
    let out = ok(&t.run(
        "ch08-security",
        &[
            "--print-spec",
            "--cap-drop",
            "NET_RAW",
            "--memory",
            "64m",
            "--",
            "/bin/true",
        ],
    ));
    let spec: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(spec["process"]["args"], serde_json::json!(["/bin/true"]));
    let bounding = spec["process"]["capabilities"]["bounding"]
        .as_array()
        .unwrap();
    assert_eq!(bounding.len(), 13);
    assert!(!bounding.contains(&"CAP_NET_RAW".into()));
    assert_eq!(spec["linux"]["resources"]["memory"]["limit"], 64 << 20);
    assert_eq!(spec["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
    let unconfined = ok(&t.run(
        "ch08-security",
        &["--print-spec", "--seccomp", "unconfined", "--", "/bin/true"],
    ));
    assert!(
        serde_json::from_str::<serde_json::Value>(&unconfined).unwrap()["linux"]["seccomp"]
            .is_null()
    );
}

/// The comparison flags of chapter 08 say what they change in the spec,
/// and nothing else; without them the spec keeps runc's defaults.
#[test]
fn the_comparison_flags_change_their_part_of_the_spec() {
    let t = TestRoot::new();
    let spec = |flags: &[&str]| -> serde_json::Value {
        let mut args = vec!["--print-spec"];
        args.extend(flags);
        args.extend(["--", "/bin/true"]);
        let mut v: serde_json::Value =
            serde_json::from_str(&ok(&t.run("ch08-security", &args))).unwrap();
        // oci-spec keeps capabilities in hash sets: their order varies.
        if let Some(sets) = v["process"]["capabilities"].as_object_mut() {
            for set in sets.values_mut().filter_map(|s| s.as_array_mut()) {
                set.sort_by_key(|c| c.to_string());
            }
        }
        v
    };
    let plain = spec(&[]);
    // Printed twice, one spec is the same text (capability sets sorted).
    assert_eq!(plain, spec(&[]));
    assert!(plain["annotations"].is_null(), "{}", plain["annotations"]);
    assert_eq!(plain["process"]["noNewPrivileges"], true);
    assert!(plain["linux"]["maskedPaths"]
        .as_array()
        .is_some_and(|m| m.contains(&"/proc/timer_list".into())));
    assert!(plain["linux"]["readonlyPaths"]
        .as_array()
        .is_some_and(|m| m.contains(&"/proc/sys".into())));

    let init = spec(&["--init"]);
    assert_eq!(init["annotations"]["org.wharf.init"], "true");
    let nnp = spec(&["--no-new-privs", "false"]);
    assert_eq!(nnp["process"]["noNewPrivileges"], false);
    let paths = spec(&["--systempaths", "unconfined"]);
    assert!(
        paths["linux"]["maskedPaths"].is_null(),
        "{}",
        paths["linux"]
    );
    assert!(
        paths["linux"]["readonlyPaths"].is_null(),
        "{}",
        paths["linux"]
    );
    let dev = spec(&["--device-cgroup-rule", "c 1:11 r"]);
    let rules = dev["linux"]["resources"]["devices"].as_array().unwrap();
    assert!(
        rules.contains(
            &serde_json::json!({"allow": true, "type": "c", "major": 1, "minor": 11, "access": "r"})
        ),
        "{rules:?}"
    );
    // Each flag touched only its own part.
    for (changed, key) in [
        (&init, "annotations"),
        (&nnp, "process"),
        (&paths, "linux"),
        (&dev, "linux"),
    ] {
        let mut a = changed.clone();
        let mut b = plain.clone();
        a[key] = serde_json::Value::Null;
        b[key] = serde_json::Value::Null;
        assert_eq!(a, b, "{key}");
    }
}

#[test]
fn a_bad_capability_is_one_line_and_nothing_is_made() {
    let t = TestRoot::new();
    let out = ch08(&t, &["--cap-add", "NET_BOSS"], "true");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(
            "ch08-security: error: --cap-add NET_BOSS: unknown capability \"NET_BOSS\""
        ),
        "{err}"
    );
    assert!(!t
        .path()
        .join("containers")
        .read_dir()
        .map(|mut d| d.next().is_some())
        .unwrap_or(false));
}

#[test]
fn explain_transcript() {
    let t = TestRoot::new();
    let out = ch08(
        &t,
        &["--explain", "--id", "snap", "--hostname", "box"],
        "true",
    );
    ok(&out);
    insta::assert_snapshot!("ch08_explain", redact(&stderr(&out), t.path()));
}
