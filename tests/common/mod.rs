//! What every integration test shares: the root check, a private state
//! root that is cleaned up even when the test fails, and the binaries.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Privileged tests never pass silently: without root they fail and say how
/// to run them.
pub fn require_root() {
    if !nix::unistd::geteuid().is_root() {
        panic!("this test needs root (namespaces, mounts, cgroups): run the suite with `sudo tests/run.sh`");
    }
}

/// A built binary of the workspace: `wharf` or a chapter such as `ch02-namespaces`.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let p = dir.join(name);
    assert!(p.exists(), "{} is not built: run the tests with `cargo nextest run --workspace`", p.display());
    p
}

/// A private WHARF_ROOT for one test. Drop unmounts everything below it
/// (deepest first), removes the cgroups named after it, and deletes it.
pub struct TestRoot {
    pub dir: tempfile::TempDir,
}

impl TestRoot {
    pub fn new() -> TestRoot {
        require_root();
        let dir = tempfile::Builder::new().prefix("wharf-test-").tempdir_in("/tmp").expect("tempdir");
        TestRoot { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A command for `name` with WHARF_ROOT pointing here and no colour.
    pub fn cmd(&self, name: &str) -> Command {
        let mut c = Command::new(bin(name));
        c.env("WHARF_ROOT", self.path()).env("NO_COLOR", "1").env_remove("RUST_LOG");
        c
    }

    /// Run and capture; the test decides what the exit code must be.
    pub fn run(&self, name: &str, args: &[&str]) -> Output {
        self.cmd(name).args(args).output().expect("spawn")
    }

    /// The built-in rootfs, created once for this state root.
    pub fn rootfs(&self) -> PathBuf {
        let dir = self.path().join("rootfs");
        if !dir.join("bin").exists() {
            let out = self.run("wharf", &["rootfs", "create", dir.to_str().unwrap()]);
            assert!(out.status.success(), "rootfs create failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        dir
    }
}

impl Drop for TestRoot {
    fn drop(&mut self) {
        cleanup_state_root(self.path());
    }
}

/// Unmount every mount at or below `root` (deepest first) and remove the
/// cgroups tagged with this state root.
pub fn cleanup_state_root(root: &Path) {
    let _ = Command::new(bin("wharf")).arg("reset").env("WHARF_ROOT", root).output();
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut targets: Vec<String> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|t| Path::new(t).starts_with(root))
        .collect();
    targets.sort_by_key(|t| std::cmp::Reverse(t.len()));
    for t in targets {
        let _ = nix::mount::umount2(t.as_str(), nix::mount::MntFlags::MNT_DETACH);
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
