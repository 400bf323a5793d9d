//! `--print-spec` in chapters 02–08: the OCI runtime spec (config.json) of
//! the container each lesson's flags describe, and a spec that a runtime
//! really runs.

mod common;

use common::{stderr, stdout, TestRoot};
use serde_json::Value;

/// `BIN [PRE…] --print-spec ARGS…`, parsed as JSON.
fn printed(t: &TestRoot, bin: &str, pre: &[&str], args: &[&str]) -> Value {
    let out = t
        .cmd(bin)
        .args(pre)
        .arg("--print-spec")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{bin}: {}", stderr(&out));
    serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{bin} printed no JSON ({e}):\n{}", stdout(&out)))
}

fn namespace_types(spec: &Value) -> Vec<String> {
    let mut types: Vec<String> = spec["linux"]["namespaces"]
        .as_array()
        .expect("linux.namespaces")
        .iter()
        .map(|n| n["type"].as_str().unwrap().to_string())
        .collect();
    types.sort();
    types
}

const FLAGS: &[&str] = &["--pid", "--uts", "--mount", "--hostname", "box"];

/// Chapters 02–07 describe their container without chapter 08's
/// hardening: no capability sets (root keeps all), no seccomp filter,
/// nothing masked, and /proc as the only mount.
#[test]
fn chapters_02_to_07_print_their_flags_unhardened() {
    let t = TestRoot::new();
    let cases: &[(&str, &[&str], bool)] = &[
        ("ch02-namespaces", &[], false),
        ("ch03-setns", &["run"], false),
        ("ch04-cgroups", &[], true),
        ("ch05-union", &[], true),
        ("ch06-whiteouts", &[], true),
        ("ch07-volumes", &[], true),
    ];
    for (bin, pre, limits) in cases {
        let mut args = FLAGS.to_vec();
        if *limits {
            args.extend(["--memory", "32m", "--pids-limit", "20"]);
        }
        if *bin != "ch06-whiteouts" {
            args.extend(["--", "/bin/echo", "hi"]);
        }
        let spec = printed(&t, bin, pre, &args);
        assert_eq!(spec["hostname"], "box", "{bin}");
        assert_eq!(namespace_types(&spec), ["mount", "pid", "uts"], "{bin}");
        let argv = &spec["process"]["args"];
        match *bin {
            "ch06-whiteouts" => assert_eq!(argv[0], "/bin/sh", "{bin}: {argv}"),
            _ => assert_eq!(argv, &serde_json::json!(["/bin/echo", "hi"]), "{bin}"),
        }
        assert!(spec["process"]["capabilities"].is_null(), "{bin}");
        assert!(spec["linux"]["seccomp"].is_null(), "{bin}");
        assert!(spec["linux"]["maskedPaths"].is_null(), "{bin}");
        let mounts: Vec<&str> = spec["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["destination"].as_str().unwrap())
            .collect();
        assert_eq!(mounts, ["/proc"], "{bin}");
        let resources = &spec["linux"]["resources"];
        if *limits {
            assert_eq!(resources["memory"]["limit"], 32 << 20, "{bin}");
            assert_eq!(resources["pids"]["limit"], 20, "{bin}");
        } else {
            assert!(resources.is_null(), "{bin}: {resources}");
        }
    }
}

/// A user namespace comes with the id maps chapter 02 writes.
#[test]
fn a_user_namespace_brings_its_id_maps() {
    let t = TestRoot::new();
    let spec = printed(&t, "ch02-namespaces", &[], &["--user", "--", "/bin/true"]);
    assert!(namespace_types(&spec).contains(&"user".to_string()));
    let map = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    assert_eq!(spec["linux"]["uidMappings"], map);
    assert_eq!(spec["linux"]["gidMappings"], map);
}

/// What a chapter prints is a spec a runtime runs: chapter 04's, put in a
/// bundle, runs under wharf-oci as PID 1 of its pid namespace, with its
/// hostname, in a cgroup that has the memory limit.
#[test]
fn a_printed_spec_runs_under_wharf_oci() {
    let t = TestRoot::new();
    let rootfs = t.rootfs();
    let root_arg = rootfs.to_str().unwrap();
    let spec = printed(
        &t,
        "ch04-cgroups",
        &[],
        &[
            "--pid",
            "--uts",
            "--mount",
            "--hostname",
            "box",
            "--rootfs",
            root_arg,
            "--memory",
            "32m",
            "--",
            "/bin/sh",
            "-c",
            "echo $$; hostname; cat /proc/self/cgroup",
        ],
    );
    let bundle = t.path().join("bundle");
    std::fs::create_dir(&bundle).unwrap();
    std::fs::write(bundle.join("config.json"), spec.to_string()).unwrap();
    let out = t
        .cmd("wharf-oci")
        .arg("--root")
        .arg(t.path().join("oci"))
        .args(["run", "--bundle", bundle.to_str().unwrap(), "printed"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let said = stdout(&out);
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(lines[..2], ["1", "box"], "{said}");
    // No cgroup namespace: /proc/self/cgroup names the host's path of the
    // container's cgroup, `<tag>/printed`, in the memory hierarchy too.
    let memory = lines
        .iter()
        .find(|l| l.contains(":memory:") || l.starts_with("0::"))
        .unwrap_or_else(|| panic!("no memory cgroup line: {said}"));
    assert!(memory.ends_with("/printed"), "{said}");
}
