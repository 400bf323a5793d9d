//! Bad input to wharf-oci, as the issue lists it: each refused with one
//! clear line on stderr and the same message as a json line in the --log
//! file, runc's exit code (1), and nothing left behind — no state dir, no
//! cgroup, no mount below the test root, no process of the container.

mod common;
mod oci_common;

use oci_common::{stderr, Oci};

/// `args` fails as it should, and `id` (if any) left nothing.
fn refused(o: &Oci, out: std::process::Output, id: Option<&str>, needle: &str) {
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "exactly one line:\n{err}");
    let msg = err
        .trim_end()
        .strip_prefix("wharf-oci: error: ")
        .unwrap_or_else(|| panic!("{err:?} is not wharf-oci's error line"));
    assert!(msg.contains(needle), "{needle:?} not in {msg:?}");
    let logged = o.last_log();
    assert_eq!(logged["level"], "error");
    assert_eq!(logged["msg"], msg, "the log says something else");
    if let Some(id) = id {
        assert!(!o.root().join(id).exists(), "state of {id} left behind");
        assert!(!o.any_cgroup_left(id), "cgroup of {id} left behind");
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root = o.t.path().to_str().unwrap();
    assert!(
        !mounts.lines().any(|l| l.contains(root)),
        "a mount below {root} is left"
    );
}

#[test]
fn a_bundle_without_config_json() {
    let o = Oci::new(&["/bin/true"], |_| {});
    std::fs::remove_file(o.bundle.join("config.json")).unwrap();
    let out = o.create("b1", &[]);
    refused(
        &o,
        out,
        Some("b1"),
        "config.json: No such file or directory",
    );
}

#[test]
fn a_config_that_is_not_json() {
    let o = Oci::new(&["/bin/true"], |_| {});
    std::fs::write(o.bundle.join("config.json"), "{ not json").unwrap();
    let out = o.create("b2", &[]);
    refused(
        &o,
        out,
        Some("b2"),
        "config.json is not an OCI runtime spec",
    );
}

#[test]
fn an_oci_version_we_do_not_support() {
    let o = Oci::new(&["/bin/true"], |s| s["ociVersion"] = "2.0.0".into());
    let out = o.create("b3", &[]);
    refused(&o, out, Some("b3"), "ociVersion \"2.0.0\" is not supported");
}

#[test]
fn a_missing_root_path() {
    let o = Oci::new(&["/bin/true"], |s| {
        s["root"]["path"] = "/nonexistent/root".into()
    });
    let out = o.create("b4", &[]);
    refused(
        &o,
        out,
        Some("b4"),
        "root.path /nonexistent/root is not a directory",
    );
}

#[test]
fn a_relative_mount_destination() {
    let o = Oci::new(&["/bin/true"], |s| {
        s["mounts"][0]["destination"] = "proc".into()
    });
    let out = o.create("b5", &[]);
    refused(
        &o,
        out,
        Some("b5"),
        "mount destination proc is not absolute",
    );
}

#[test]
fn a_namespace_path_that_does_not_exist() {
    let o = Oci::new(&["/bin/true"], |s| {
        s["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "network", "path": "/proc/self/ns/nope"}));
        let list = s["linux"]["namespaces"].as_array_mut().unwrap();
        let first_net = list.iter().position(|n| n["type"] == "network").unwrap();
        list.remove(first_net);
    });
    let out = o.create("b6", &[]);
    refused(
        &o,
        out,
        Some("b6"),
        "namespace path /proc/self/ns/nope does not exist",
    );
}

#[test]
fn an_id_in_use_or_with_a_slash() {
    let o = Oci::new(&["/bin/sleep", "30"], |_| {});
    assert!(o.create("dup", &[]).status.success());
    let pid = o.pid("dup");
    let out = o.create("dup", &[]);
    refused(&o, out, None, "container id dup is already in use");
    // The first one is untouched.
    assert_eq!(o.pid("dup"), pid);
    assert_eq!(o.state("dup")["status"], "created");
    let out = o.create("a/b", &[]);
    refused(&o, out, Some("a"), "use 1 to 64 letters");
}

#[test]
fn start_of_a_container_that_is_not_created() {
    let o = Oci::new(&["/bin/sleep", "30"], |_| {});
    o.running("s1");
    let out = o.oci(&["start", "s1"]);
    refused(
        &o,
        out,
        None,
        "cannot start container s1: it is running, and only a created container can be started",
    );
}

#[test]
fn kill_of_a_stopped_container() {
    let o = Oci::new(&["/bin/true"], |_| {});
    o.running("k1");
    assert!(oci_common::eventually(
        || o.state("k1")["status"] == "stopped"
    ));
    let out = o.oci(&["kill", "k1", "KILL"]);
    refused(&o, out, None, "cannot kill container k1: it is stopped");
}

#[test]
fn delete_of_a_running_container_without_force() {
    let o = Oci::new(&["/bin/sleep", "30"], |_| {});
    let pid = o.running("d1");
    let out = o.oci(&["delete", "d1"]);
    refused(
        &o,
        out,
        None,
        "cannot delete container d1: it is running; stop it first, or use --force",
    );
    assert!(wharf::probe::procs::alive(pid), "delete killed it anyway");
}

#[test]
fn a_console_socket_that_does_not_exist() {
    let o = Oci::new(&["/bin/true"], |s| s["process"]["terminal"] = true.into());
    let missing = o.t.path().join("no.sock");
    let out = o.create("c1", &["--console-socket", missing.to_str().unwrap()]);
    refused(
        &o,
        out,
        Some("c1"),
        &format!("console socket {} does not exist", missing.display()),
    );
}

#[test]
fn an_unknown_signal() {
    let o = Oci::new(&["/bin/sleep", "30"], |_| {});
    o.running("sig");
    let out = o.oci(&["kill", "sig", "SIGNOPE"]);
    refused(&o, out, None, "unknown signal \"SIGNOPE\"");
}
