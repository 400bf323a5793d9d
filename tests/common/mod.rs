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
    assert!(
        p.exists(),
        "{} is not built: run `cargo build --workspace` first (tests/run.sh does)",
        p.display()
    );
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
        let dir = tempfile::Builder::new()
            .prefix("wharf-test-")
            .tempdir_in(std::env::temp_dir())
            .expect("tempdir");
        // 0755, so that a container's root mapped to uid 100000 can reach
        // its rootfs below here.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
        TestRoot { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A command for `name` with WHARF_ROOT pointing here and no colour.
    pub fn cmd(&self, name: &str) -> Command {
        let mut c = Command::new(bin(name));
        c.env("WHARF_ROOT", self.path())
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG");
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
            assert!(
                out.status.success(),
                "rootfs create failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
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
    let _ = Command::new(bin("wharf"))
        .arg("reset")
        .env("WHARF_ROOT", root)
        .output();
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

/// The name of an --explain snapshot on this host: `NAME` on the hybrid
/// hosts the book is written on, `NAME_v2` on a pure cgroup v2 kernel (the
/// VM lane), whose cgroup steps differ.
#[allow(dead_code)] // not every test binary takes snapshots
pub fn snapshot_name(name: &str) -> String {
    use wharf::probe::cgroup::{CgroupMode, Cgroupfs};
    match Cgroupfs::system().expect("cgroup filesystems").mode {
        CgroupMode::V2 => format!("{name}_v2"),
        _ => name.to_string(),
    }
}

/// Replace what varies between runs so a transcript can be a snapshot:
/// the state root, pids, namespace inodes, device/inode pairs.
pub fn redact(text: &str, root: &Path) -> String {
    let mut out = text.replace(root.to_str().unwrap_or("\u{0}"), "[TMP]");
    let rules: [(&str, &str); 12] = [
        (r"wharf-[0-9a-f]{8}\b", "wharf-[DIGEST]"),
        (r"\b(ch\d\d)-\d+\b", "${1}-[PID]"),
        (
            r#"cgroup.procs(", | now holds )"\d+""#,
            r#"cgroup.procs${1}"[PID]""#,
        ),
        (r"/proc/\d+/", "/proc/[PID]/"),
        (r":\[\d+\]", ":[[INODE]]"),
        (r"\b40265\d{5}\b", "[INODE]"),
        (r"dev=\d+ ino=\d+", "dev=[DEV] ino=[INODE]"),
        (r"(?m)^(#\d+ (?:clone|wait4)\(.*\) = )\d+", "${1}[PID]"),
        (r"(wait4\(|kill\(|process |pid )\d+", "${1}[PID]"),
        (r"\d+\.\d+s\b", "[TIME]"),
        (r"sha256:[0-9a-f]{64}", "[DIGEST]"),
        (r"(?m) +(\[(?:parent|child|grandchild)\])$", " ${1}"),
    ];
    for (pat, rep) in rules {
        out = regex::Regex::new(pat)
            .expect("regex")
            .replace_all(&out, rep)
            .into_owned();
    }
    out
}

/// The host pid of the first child of `parent` that runs `comm` (the
/// container's command, seen from the host).
pub fn wait_for_child(parent: u32, comm: &str) -> u32 {
    wharf::probe::procs::wait_for_child_comm(parent, comm).expect("container command started")
}

/// `ch03-setns run RUN_ARGS --rootfs <built-in> -- /bin/sleep 30`: a
/// container to exec into, and the host pid of its sleep.
pub fn start_target(t: &TestRoot, run_args: &[&str]) -> (Reaped, String) {
    let rootfs = t.rootfs();
    let child = t
        .cmd("ch03-setns")
        .arg("run")
        .args(run_args)
        .args([
            "--rootfs",
            rootfs.to_str().unwrap(),
            "--",
            "/bin/sleep",
            "30",
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let parent = child.id();
    let guard = Reaped(child);
    (guard, wait_for_child(parent, "sleep").to_string())
}

/// A child process killed and reaped when the guard drops (also on panic).
pub struct Reaped(pub std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The inode of /proc/PID/ns/KIND as the kernel reports it: `uts:[4026531838]`.
pub fn ns_link(pid: &str, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|e| panic!("readlink /proc/{pid}/ns/{kind}: {e}"))
}

/// `CHAPTER FLAGS -- /bin/sh -c SCRIPT` on the built-in rootfs, captured.
pub fn sh_in(t: &TestRoot, chapter: &str, flags: &[&str], script: &str) -> Output {
    t.rootfs();
    let mut args: Vec<&str> = flags.to_vec();
    args.extend(["--", "/bin/sh", "-c", script]);
    t.run(chapter, &args)
}

/// The host's mounts that are this test's own: mounted at or below its
/// state root, or binding a directory from below it (mountinfo's root
/// field). Other tests mount and unmount meanwhile, so a test compares
/// these, never the whole host table.
pub fn our_mounts(t: &TestRoot) -> Vec<String> {
    let root = t.path().to_str().unwrap_or("\u{0}");
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            f.len() > 4 && (Path::new(f[3]).starts_with(root) || Path::new(f[4]).starts_with(root))
        })
        .map(str::to_string)
        .collect()
}

/// Run `c` with `input` on its stdin; capture its output.
pub fn output_with_stdin(c: &mut Command, input: &[u8]) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}
