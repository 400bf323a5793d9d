//! src/container through its thinnest face, wharf-oci: the create/start
//! split, state, kill and delete, judged from the kernel's side, and bad
//! specs refused with one line and nothing left behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use common::{ns_link, stderr, stdout, TestRoot};

struct Bundle {
    t: TestRoot,
    dir: PathBuf,
}

impl Bundle {
    /// A bundle whose config.json is `wharf-oci spec`'s, with `edit` applied.
    fn new(args: &[&str], edit: impl FnOnce(&mut serde_json::Value)) -> Bundle {
        let t = TestRoot::new();
        let rootfs = t.rootfs();
        let dir = t.path().join("bundle");
        std::fs::create_dir(&dir).unwrap();
        let out = t
            .cmd("wharf-oci")
            .args(["spec", "--bundle"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "spec: {}", stderr(&out));
        let path = dir.join("config.json");
        let mut spec: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        spec["root"]["path"] = rootfs.to_str().unwrap().into();
        spec["process"]["args"] = args.iter().map(|a| serde_json::Value::from(*a)).collect();
        edit(&mut spec);
        std::fs::write(&path, spec.to_string()).unwrap();
        Bundle { t, dir }
    }

    fn state_root(&self) -> PathBuf {
        self.t.path().join("oci")
    }

    /// `wharf-oci --root R ARGS…`, stdio not inherited by a detached init.
    fn oci(&self, args: &[&str]) -> Output {
        self.t
            .cmd("wharf-oci")
            .arg("--root")
            .arg(self.state_root())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// `create`: the detached init inherits stdio, so stderr goes to a
    /// file (a pipe would stay open as long as the container lives).
    fn create(&self, id: &str) -> Output {
        let err_path = self.t.path().join(format!("create-{id}.err"));
        let err = std::fs::File::create(&err_path).unwrap();
        let status = self
            .t
            .cmd("wharf-oci")
            .arg("--root")
            .arg(self.state_root())
            .args(["create", "--bundle", self.dir.to_str().unwrap(), id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .status()
            .unwrap();
        Output {
            status,
            stdout: Vec::new(),
            stderr: std::fs::read(&err_path).unwrap(),
        }
    }

    fn state(&self, id: &str) -> serde_json::Value {
        let out = self.oci(&["state", id]);
        assert!(out.status.success(), "state: {}", stderr(&out));
        serde_json::from_str(&stdout(&out)).unwrap()
    }

    /// Our cgroup dirs for `id` in the pids hierarchy (v1) or unified (v2).
    fn cgroup_exists(&self, id: &str) -> bool {
        wharf::probe::cgroup::Cgroupfs::system()
            .map(|fs| {
                fs.dirs(&Path::new(&wharf::paths::host_tag_for(self.t.path())).join(id))
                    .unique()
                    .iter()
                    .any(|d| d.exists())
            })
            .unwrap_or(false)
    }
}

fn pid_of(st: &serde_json::Value) -> String {
    st["pid"].as_i64().expect("a pid in the state").to_string()
}

#[test]
fn create_leaves_the_init_waiting_and_start_lets_it_exec() {
    let b = Bundle::new(&["/bin/sleep", "30"], |_| {});
    let out = b.create("c1");
    assert!(out.status.success(), "create: {}", stderr(&out));
    let st = b.state("c1");
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], "c1");
    let pid = pid_of(&st);
    // Created: the init is still our program, in namespaces of its own,
    // in the cgroup named after the container, and blocked on the FIFO.
    let exe = |p: &str| std::fs::read_link(format!("/proc/{p}/exe")).unwrap();
    assert_eq!(exe(&pid), common::bin("wharf-oci"));
    for ns in ["pid", "mnt", "net", "uts", "ipc"] {
        assert_ne!(ns_link(&pid, ns), ns_link("self", ns), "{ns} is the host's");
    }
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(
        cg.lines().any(|l| l.ends_with("/c1")),
        "not in its cgroup: {cg}"
    );
    assert!(b.state_root().join("c1/exec.fifo").exists());

    let out = b.oci(&["start", "c1"]);
    assert!(out.status.success(), "start: {}", stderr(&out));
    // Running: the same pid is now the command, and the FIFO is gone.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while exe(&pid).ends_with("wharf-oci") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_ne!(exe(&pid), common::bin("wharf-oci"), "the init never exec'd");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert_eq!(cmdline, b"/bin/sleep\x0030\x00");
    assert_eq!(b.state("c1")["status"], "running");
    assert!(!b.state_root().join("c1/exec.fifo").exists());

    let out = b.oci(&["delete", "c1"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).trim(), "wharf-oci: error: cannot delete container c1: it is running; stop it first, or use --force");

    let out = b.oci(&["kill", "c1", "KILL"]);
    assert!(out.status.success(), "kill: {}", stderr(&out));
    while b.state("c1")["status"] != "stopped" && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(b.state("c1")["status"], "stopped");
    let out = b.oci(&["delete", "c1"]);
    assert!(out.status.success(), "delete: {}", stderr(&out));
    assert!(!b.state_root().join("c1").exists());
    assert!(!b.cgroup_exists("c1"), "the cgroup outlived delete");
}

#[test]
fn delete_force_removes_a_created_container_and_its_processes() {
    let b = Bundle::new(&["/bin/sleep", "30"], |_| {});
    assert!(b.create("c2").status.success());
    let pid = pid_of(&b.state("c2"));
    let out = b.oci(&["delete", "--force", "c2"]);
    assert!(out.status.success(), "delete: {}", stderr(&out));
    assert!(
        !wharf::probe::procs::alive(pid.parse().unwrap()),
        "init {pid} survived"
    );
    assert!(!b.state_root().join("c2").exists());
    assert!(!b.cgroup_exists("c2"));
}

#[test]
fn run_passes_the_exit_code_and_starts_clean() {
    let b = Bundle::new(&["/bin/sh", "-c", "exit 7"], |_| {});
    let out = b.oci(&["run", "--bundle", b.dir.to_str().unwrap(), "r1"]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert!(!b.state_root().join("r1").exists());
    assert!(!b.cgroup_exists("r1"));
    // The command itself, exec'd by the init: its signals and descriptors.
    let b = Bundle::new(&["/bin/cat", "/proc/self/status"], |_| {});
    let text = stdout(&b.oci(&["run", "--bundle", b.dir.to_str().unwrap(), "r2"]));
    assert!(text.contains("SigIgn:\t0000000000000000"), "{text}");
    assert!(text.contains("SigBlk:\t0000000000000000"), "{text}");
    let b = Bundle::new(&["/bin/ls", "/proc/self/fd"], |_| {});
    let text = stdout(&b.oci(&["run", "--bundle", b.dir.to_str().unwrap(), "r3"]));
    // ls lists 0-2 and the directory it reads itself (3): nothing of ours.
    let fds: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "{text}");
}

/// The init opens the exec FIFO as the user it has become: process.user,
/// or root of a user namespace (uid 100000 on the host). Both are "others"
/// to the FIFO's owner, the host's root.
#[test]
fn another_user_and_a_user_namespace_pass_the_exec_fifo() {
    let b = Bundle::new(&["/bin/sh", "-c", "id -u; id -g"], |s| {
        s["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 1001});
    });
    let out = b.oci(&["run", "--bundle", b.dir.to_str().unwrap(), "u1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "1000\n1001\n");
    let map = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    let b = Bundle::new(&["/bin/cat", "/proc/self/uid_map"], |s| {
        let ns = s["linux"]["namespaces"].as_array_mut().unwrap();
        ns.push(serde_json::json!({"type": "user"}));
        s["linux"]["uidMappings"] = map.clone();
        s["linux"]["gidMappings"] = map.clone();
    });
    let out = b.oci(&["run", "--bundle", b.dir.to_str().unwrap(), "u2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let fields: Vec<String> = stdout(&out).split_whitespace().map(String::from).collect();
    assert_eq!(fields, ["0", "100000", "65536"]);
}

/// A bad spec: one line, exit 1 (runc's), no state dir and no cgroup.
fn refused(edit: impl FnOnce(&mut serde_json::Value), want: &str) {
    refused_with(1, edit, want)
}

/// The same, with the exit code the failure asks for.
fn refused_with(code: i32, edit: impl FnOnce(&mut serde_json::Value), want: &str) {
    let b = Bundle::new(&["/bin/true"], edit);
    let out = b.create("bad");
    assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("wharf-oci: error: ") && err.contains(want),
        "{err:?} lacks {want:?}"
    );
    assert!(!b.state_root().join("bad").exists(), "state left behind");
    assert!(!b.cgroup_exists("bad"), "cgroup left behind");
}

#[test]
fn bad_specs_change_nothing() {
    refused(
        |s| s["root"]["path"] = "/nonexistent/rootfs".into(),
        "root.path /nonexistent/rootfs is not a directory",
    );
    refused(
        |s| s["mounts"][0]["destination"] = "proc".into(),
        "mount destination proc is not absolute",
    );
    refused(
        |s| {
            s["linux"]["namespaces"][0] =
                serde_json::json!({"type": "network", "path": "/proc/self/ns/nope"})
        },
        "namespace path /proc/self/ns/nope does not exist",
    );
    refused(
        |s| s["process"]["args"] = serde_json::json!([]),
        "process.args is empty",
    );
}

#[test]
fn a_failing_step_in_the_init_is_reported_by_the_parent() {
    refused(
        |s| s["process"]["cwd"] = "/nowhere".into(),
        "process.cwd /nowhere is not a directory in the container",
    );
    // A command that is not there keeps sh's and Docker's 127 on its way
    // from the init, so `wharf run` can pass it on (engines read the
    // message, as they do runc's).
    refused_with(
        127,
        |s| s["process"]["args"] = serde_json::json!(["/bin/no-such-program"]),
        "/bin/no-such-program",
    );
}

#[test]
fn lifecycle_mistakes_are_one_line_each() {
    let b = Bundle::new(&["/bin/sleep", "30"], |_| {});
    std::fs::write(b.dir.join("config.json"), "{ not json").unwrap();
    let out = b.create("j");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("config.json is not an OCI runtime spec"),
        "{}",
        stderr(&out)
    );
    assert!(!b.state_root().join("j").exists());

    let out = b.oci(&["start", "ghost"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("wharf-oci: error: container ghost does not exist"),
        "{}",
        stderr(&out)
    );
    let out = b.oci(&["state", "../x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("use 1 to 64 letters"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_id_in_use_is_refused_and_the_first_container_is_untouched() {
    let b = Bundle::new(&["/bin/sleep", "30"], |_| {});
    assert!(b.create("dup").status.success());
    let before = b.state("dup");
    let out = b.create("dup");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("container id dup is already in use"),
        "{}",
        stderr(&out)
    );
    assert_eq!(b.state("dup"), before);
    assert!(b.oci(&["delete", "-f", "dup"]).status.success());
}
