//! What the lifecycle tests share: a state root with an image `box` (the
//! built-in rootfs, imported without network), `wharf` run in it, and a
//! guard that removes every container (monitors included) before the
//! state root itself is cleaned up.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

pub use crate::common::{stderr, stdout, TestRoot};

pub struct Life {
    pub t: TestRoot,
}

impl Life {
    pub fn new() -> Life {
        let t = TestRoot::new();
        let dir = t.path().join("box-rootfs");
        let out = t.run(
            "wharf",
            &["rootfs", "create", "--image", "box", dir.to_str().unwrap()],
        );
        assert!(out.status.success(), "rootfs create: {}", stderr(&out));
        Life { t }
    }

    pub fn wharf(&self, args: &[&str]) -> Output {
        self.t.run("wharf", args)
    }

    /// Run and insist on success; stdout, trimmed.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.wharf(args);
        assert!(
            out.status.success(),
            "wharf {args:?} failed ({:?}): {}",
            out.status.code(),
            stderr(&out)
        );
        stdout(&out).trim().to_string()
    }

    /// `wharf container inspect` of one container, parsed.
    pub fn inspect(&self, name: &str) -> serde_json::Value {
        let text = self.ok(&["container", "inspect", name]);
        let v: serde_json::Value = serde_json::from_str(&text).expect("inspect json");
        v[0].clone()
    }

    pub fn state(&self, name: &str) -> String {
        self.inspect(name)["State"]["Status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Poll until `f` holds, or fail after `secs`.
    pub fn until(&self, secs: u64, what: &str, mut f: impl FnMut() -> bool) {
        let t0 = Instant::now();
        while !f() {
            assert!(
                t0.elapsed() < Duration::from_secs(secs),
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn containers_dir(&self) -> PathBuf {
        self.t.path().join("containers")
    }

    /// The container directories left, the names taken, the runtime
    /// states, our mounts and our cgroups: all empty when nothing is left.
    pub fn leftovers(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["containers", "names", "run"] {
            if let Ok(rd) = std::fs::read_dir(self.t.path().join(sub)) {
                out.extend(
                    rd.filter_map(Result::ok)
                        .map(|e| format!("{sub}/{}", e.file_name().to_string_lossy())),
                );
            }
        }
        out.extend(
            crate::common::our_mounts(&self.t)
                .into_iter()
                .map(|m| format!("mount {m}")),
        );
        let tag = wharf::paths::host_tag_for(self.t.path());
        for ctrl in ["memory", "pids", "freezer", "unified"] {
            let d = Path::new("/sys/fs/cgroup").join(ctrl).join(&tag);
            if let Ok(rd) = std::fs::read_dir(&d) {
                out.extend(
                    rd.filter_map(Result::ok)
                        .filter(|e| e.path().is_dir())
                        .map(|e| format!("cgroup {}", e.path().display())),
                );
            }
        }
        out
    }
}

impl Drop for Life {
    fn drop(&mut self) {
        let ids = self.t.run("wharf", &["ps", "-a", "-q", "--no-trunc"]);
        for id in stdout(&ids).split_whitespace() {
            let _ = self.t.run("wharf", &["rm", "-f", id]);
        }
    }
}

/// VmRSS of a process, in kB.
pub fn rss_kb(pid: i64) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The monitor's pid, from its status.json.
pub fn monitor_pid(l: &Life, id: &str) -> i64 {
    let text = std::fs::read_to_string(l.containers_dir().join(id).join("status.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["monitor_pid"].as_i64().unwrap()
}
