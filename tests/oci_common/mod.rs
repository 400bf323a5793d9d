//! What the wharf-oci tests share: a bundle built from `wharf-oci spec`
//! and the built-in rootfs, a private runtime root and --log file, and a
//! guard that force-deletes every container it created, also when a test
//! fails half-way.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use crate::common::{stderr, stdout, TestRoot};

/// One bundle and the runtime root its containers live in.
pub struct Oci {
    pub t: TestRoot,
    pub bundle: PathBuf,
    ids: std::cell::RefCell<Vec<String>>,
}

impl Oci {
    /// A bundle running `args`, its config.json edited by `edit`.
    pub fn new(args: &[&str], edit: impl FnOnce(&mut serde_json::Value)) -> Oci {
        let t = TestRoot::new();
        let rootfs = t.rootfs();
        let bundle = t.path().join("bundle");
        std::fs::create_dir(&bundle).unwrap();
        let out = t
            .cmd("wharf-oci")
            .args(["spec", "--bundle"])
            .arg(&bundle)
            .output()
            .unwrap();
        assert!(out.status.success(), "spec: {}", stderr(&out));
        let oci = Oci {
            t,
            bundle,
            ids: Default::default(),
        };
        oci.edit(|s| {
            s["root"]["path"] = rootfs.to_str().unwrap().into();
            s["process"]["args"] = args.iter().map(|a| serde_json::Value::from(*a)).collect();
            edit(s);
        });
        oci
    }

    /// Change config.json in place.
    pub fn edit(&self, f: impl FnOnce(&mut serde_json::Value)) {
        let path = self.bundle.join("config.json");
        let mut spec: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        f(&mut spec);
        std::fs::write(&path, spec.to_string()).unwrap();
    }

    pub fn root(&self) -> PathBuf {
        self.t.path().join("oci")
    }

    pub fn log(&self) -> PathBuf {
        self.t.path().join("oci.log")
    }

    /// `wharf-oci --root R --log L --log-format json ARGS…`, with stdin
    /// closed and the output captured.
    pub fn cmd(&self) -> Command {
        let mut c = self.t.cmd("wharf-oci");
        c.arg("--root")
            .arg(self.root())
            .arg("--log")
            .arg(self.log())
            .args(["--log-format", "json"])
            .stdin(Stdio::null());
        c
    }

    pub fn oci(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// `create` (with `extra` flags): the detached init inherits stdio, so
    /// its output goes to files rather than pipes that would stay open.
    pub fn create(&self, id: &str, extra: &[&str]) -> Output {
        self.ids.borrow_mut().push(id.to_string());
        let file = id.replace('/', "_");
        let out_path = self.t.path().join(format!("{file}.out"));
        let err_path = self.t.path().join(format!("{file}.err"));
        let status = self
            .cmd()
            .arg("create")
            .arg("--bundle")
            .arg(&self.bundle)
            .args(extra)
            .arg(id)
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .status()
            .unwrap();
        Output {
            status,
            stdout: std::fs::read(&out_path).unwrap(),
            stderr: std::fs::read(&err_path).unwrap(),
        }
    }

    /// What the container wrote to its stdout so far.
    pub fn output_of(&self, id: &str) -> String {
        std::fs::read_to_string(self.t.path().join(format!("{id}.out"))).unwrap_or_default()
    }

    /// create + start, asserting both worked; returns the init's host pid.
    pub fn running(&self, id: &str) -> i32 {
        let out = self.create(id, &[]);
        assert!(out.status.success(), "create: {}", stderr(&out));
        let out = self.oci(&["start", id]);
        assert!(out.status.success(), "start: {}", stderr(&out));
        self.pid(id)
    }

    pub fn state(&self, id: &str) -> serde_json::Value {
        let out = self.oci(&["state", id]);
        assert!(out.status.success(), "state: {}", stderr(&out));
        serde_json::from_str(&stdout(&out)).unwrap()
    }

    pub fn pid(&self, id: &str) -> i32 {
        self.state(id)["pid"].as_i64().expect("a pid") as i32
    }

    /// Our cgroup directory of `id` in the v1 hierarchy of `controller`
    /// (or the one v2 directory).
    pub fn cgroup_dir(&self, id: &str, controller: &str) -> Option<PathBuf> {
        let fs = wharf::probe::cgroup::Cgroupfs::system().ok()?;
        let rel = Path::new(&wharf::paths::host_tag_for(self.t.path())).join(id);
        if fs.mode == wharf::probe::cgroup::CgroupMode::V2 {
            return Some(fs.root.join(rel));
        }
        fs.v1_hierarchy(controller).map(|h| h.join(rel))
    }

    /// Whether any cgroup directory of `id` is left, in any hierarchy.
    pub fn any_cgroup_left(&self, id: &str) -> bool {
        let tag = wharf::paths::host_tag_for(self.t.path());
        std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .any(|h| h.path().join(&tag).join(id).exists())
    }

    /// The last JSON line of the --log file.
    pub fn last_log(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.log()).unwrap_or_default();
        let line = text.lines().last().expect("a line in the log");
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?} is not json: {e}"))
    }
}

impl Drop for Oci {
    fn drop(&mut self) {
        for id in self.ids.borrow().iter() {
            let _ = self.oci(&["delete", "--force", id]);
        }
    }
}

/// Wait until `cond` holds (at most 5 s); whether it did.
pub fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// A host program, or a clear failure saying how to get it.
pub fn need(program: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| panic!("{program} is not installed: run tests/setup.sh"))
}

/// The runtime an engine test drives: ours, or runc beside it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Peer {
    WharfOci,
    Runc,
}

impl Peer {
    /// The runtime's binary, and the state root of its own under `dir`.
    pub fn binary_and_root(self, dir: &Path) -> (PathBuf, PathBuf) {
        match self {
            Peer::WharfOci => (crate::common::bin("wharf-oci"), dir.join("oci")),
            Peer::Runc => (need("runc"), dir.join("runc")),
        }
    }
}

/// Remove the cgroup `rel` (and every cgroup below it, deepest first) in
/// every hierarchy; an engine makes parents of its own there.
pub fn remove_cgroup_tree(rel: &str) {
    fn remove(dir: &Path) {
        if let Ok(children) = std::fs::read_dir(dir) {
            for c in children.flatten() {
                if c.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    remove(&c.path());
                }
            }
            let _ = std::fs::remove_dir(dir);
        }
    }
    for h in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        remove(&h.path().join(rel.trim_start_matches('/')));
    }
}

/// SIGKILL every process whose command line names `dir` (conmon, shims,
/// whatever an engine left running from a test's root).
pub fn kill_processes_naming(dir: &Path) {
    let ours = dir.display().to_string();
    for pid in wharf::probe::host::pids().unwrap_or_default() {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&ours) && pid != std::process::id() as i32 {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// `what` ended with `code` and printed exactly `printed`.
pub fn exited_with(out: &Output, code: i32, printed: &str, what: &str) {
    assert_eq!(out.status.code(), Some(code), "{what}: {}", stderr(out));
    assert_eq!(stdout(out), printed, "{what}");
}
