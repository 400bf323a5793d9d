//! podman drives wharf-oci through conmon, exactly as it drives runc: the
//! same tests run with both, side by side, so a failure with wharf-oci and
//! not with runc is ours. The image is the built-in rootfs, imported with
//! `podman import` (nothing is pulled); podman runs with a throwaway root,
//! runroot, tmpdir, lock files and network dir, and the runtime through a
//! wrapper that gives it a state root of its own, so the host's podman and
//! runc state are never touched.

mod common;
mod oci_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use oci_common::{
    eventually, exited_with, kill_processes_naming, need, remove_cgroup_tree, stderr, stdout, Peer,
    TestRoot,
};

/// podman's own files under one test root.
struct Podman {
    t: TestRoot,
    peer: Peer,
}

const IMAGE: &str = "localhost/wharf-test:1";

impl Podman {
    fn new(peer: Peer) -> Podman {
        need("podman");
        need("conmon");
        let t = TestRoot::new();
        let p = Podman { t, peer };
        let d = p.t.path().display().to_string();
        std::fs::write(
            p.t.path().join("containers.conf"),
            format!(
                "[engine]\ntmp_dir = \"{d}/tmp\"\nstatic_dir = \"{d}/libpod\"\nvolume_path = \"{d}/volumes\"\n\
                 lock_type = \"file\"\nevents_logger = \"file\"\nevents_logfile_path = \"{d}/events.log\"\n\
                 cgroup_manager = \"cgroupfs\"\n[network]\nnetwork_config_dir = \"{d}/net\"\n"
            ),
        )
        .unwrap();
        std::fs::write(
            p.t.path().join("storage.conf"),
            format!("[storage]\ndriver = \"vfs\"\nrunroot = \"{d}/runroot\"\ngraphroot = \"{d}/root\"\n"),
        )
        .unwrap();
        // The runtime podman and conmon call: with its own --root (conmon's
        // exit command drops podman's --runtime-flag, so a wrapper it is).
        let (program, root) = peer.binary_and_root(p.t.path());
        std::fs::write(
            p.runtime(),
            format!(
                "#!/bin/sh\nWHARF_ROOT={d} exec {} --root {} \"$@\"\n",
                program.display(),
                root.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(
            p.runtime(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let rootfs = p.t.rootfs();
        let tar = p.t.path().join("rootfs.tar");
        let out = Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .output()
            .unwrap();
        assert!(out.status.success(), "tar: {}", stderr(&out));
        let out = p.run(&["import", tar.to_str().unwrap(), IMAGE]);
        assert!(out.status.success(), "podman import: {}", stderr(&out));
        p
    }

    fn runtime(&self) -> PathBuf {
        self.t.path().join("runtime")
    }

    fn state_root(&self) -> PathBuf {
        self.peer.binary_and_root(self.t.path()).1
    }

    /// The podman command line every call shares.
    fn args(&self) -> Vec<String> {
        let d = self.t.path().display();
        vec![
            "--root".into(),
            format!("{d}/root"),
            "--runroot".into(),
            format!("{d}/runroot"),
            "--runtime".into(),
            self.runtime().display().to_string(),
        ]
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("podman");
        c.args(self.args())
            .env("CONTAINERS_CONF", self.t.path().join("containers.conf"))
            .env(
                "CONTAINERS_STORAGE_CONF",
                self.t.path().join("storage.conf"),
            )
            .env("WHARF_ROOT", self.t.path())
            .stdin(Stdio::null());
        c
    }

    fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// `podman run` with what this host needs: no network (no netavark
    /// here), limits no higher than ours (this host's root lacks
    /// CAP_SYS_RESOURCE, so podman's 1048576 would be refused).
    /// A cgroup parent of this test's own: podman puts the containers
    /// (for runc) and conmon below it, and Drop removes it.
    fn cgroup_parent(&self) -> String {
        format!("/{}-podman", wharf::paths::host_tag_for(self.t.path()))
    }

    fn run_args(&self) -> Vec<String> {
        [
            "run",
            "--network",
            "none",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
            "--cgroup-parent",
        ]
        .map(String::from)
        .into_iter()
        .chain([self.cgroup_parent()])
        .collect()
    }

    fn status(&self, name: &str) -> String {
        stdout(&self.run(&["inspect", "--format", "{{.State.Status}}", name]))
            .trim()
            .to_string()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.run(&["rm", "--all", "--force", "--time", "0"]);
        // conmon and anything else still running from our root.
        kill_processes_naming(self.t.path());
        // The runtime's own leftovers, if podman lost track of any.
        if let Ok(dirs) = std::fs::read_dir(self.state_root()) {
            for d in dirs.flatten() {
                let _ = Command::new(self.runtime())
                    .args(["delete", "--force"])
                    .arg(d.file_name())
                    .output();
            }
        }
        // The cgroup parent, deepest first, in every hierarchy.
        remove_cgroup_tree(&self.cgroup_parent());
        // Only if empty: a podman of another test may be using it.
        let _ = std::fs::remove_dir("/run/containers/networks");
        let _ = std::fs::remove_dir("/run/containers");
    }
}

/// `podman run --rm`: the command's exit code is podman's, its output
/// reaches us, and nothing of the container is left.
fn run_rm(peer: Peer) {
    let p = Podman::new(peer);
    let mut args = p.run_args();
    args.extend(
        [
            "--rm",
            IMAGE,
            "/bin/sh",
            "-c",
            "echo hello from $(hostname); exit 3",
        ]
        .map(String::from),
    );
    let out = p.run(&args);
    assert_eq!(out.status.code(), Some(3), "{peer:?}: {}", stderr(&out));
    assert!(stdout(&out).starts_with("hello from "), "{}", stdout(&out));
    assert_eq!(stdout(&p.run(&["ps", "-aq"])), "");
    assert!(eventually(|| std::fs::read_dir(p.state_root())
        .map(|d| d.count() == 0)
        .unwrap_or(true)));
}

/// run -d, exec, pause/unpause (the kernel's freezer says frozen), logs,
/// stop, rm.
fn detached_lifecycle(peer: Peer) {
    let p = Podman::new(peer);
    let mut args = p.run_args();
    args.extend(
        [
            "-d",
            "--name",
            "c1",
            IMAGE,
            "/bin/sh",
            "-c",
            "echo started; trap 'echo bye; exit 0' TERM; while true; do sleep 0.1; done",
        ]
        .map(String::from),
    );
    let out = p.run(&args);
    assert!(out.status.success(), "{peer:?} run -d: {}", stderr(&out));
    assert_eq!(p.status("c1"), "running");
    let pid: i32 = stdout(&p.run(&["inspect", "--format", "{{.State.Pid}}", "c1"]))
        .trim()
        .parse()
        .unwrap();

    let out = p.run(&["exec", "c1", "/bin/sh", "-c", "echo in-exec; exit 4"]);
    exited_with(&out, 4, "in-exec\n", &format!("{peer:?} exec"));

    let out = p.run(&["pause", "c1"]);
    assert!(out.status.success(), "{peer:?} pause: {}", stderr(&out));
    assert_eq!(p.status("c1"), "paused");
    let frozen = |pid: i32| {
        let status = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        let freezer = status
            .lines()
            .find_map(|l| l.split_once(":freezer:").map(|(_, p)| p.to_string()));
        match freezer {
            Some(path) => {
                std::fs::read_to_string(format!("/sys/fs/cgroup/freezer{path}/freezer.state"))
                    .map(|s| s.trim() == "FROZEN")
                    .unwrap_or(false)
            }
            None => false,
        }
    };
    if Path::new("/sys/fs/cgroup/freezer").is_dir() {
        assert!(
            frozen(pid),
            "{peer:?}: the kernel does not have {pid} frozen"
        );
    }
    let out = p.run(&["unpause", "c1"]);
    assert!(out.status.success(), "{peer:?} unpause: {}", stderr(&out));
    assert_eq!(p.status("c1"), "running");
    assert!(!frozen(pid));

    let out = p.run(&["stop", "--time", "5", "c1"]);
    assert!(out.status.success(), "{peer:?} stop: {}", stderr(&out));
    assert_eq!(p.status("c1"), "exited");
    assert!(!wharf::probe::procs::alive(pid));
    let logs = stdout(&p.run(&["logs", "c1"]));
    assert_eq!(logs, "started\nbye\n", "{peer:?}");
    let out = p.run(&["rm", "c1"]);
    assert!(out.status.success(), "{peer:?} rm: {}", stderr(&out));
    assert_eq!(stdout(&p.run(&["ps", "-aq"])), "");
}

/// `run -it` through a pty: `script` gives podman a terminal, conmon gets
/// the pty master over the console socket; inside, stdin is a pts.
fn interactive(peer: Peer) {
    need("script");
    let p = Podman::new(peer);
    let mut line: Vec<String> = vec!["podman".into()];
    line.extend(p.args());
    line.extend(p.run_args());
    line.extend(
        [
            "-it",
            "--rm",
            IMAGE,
            "/bin/sh",
            "-c",
            "'/bin/busybox tty; exit 6'",
        ]
        .map(String::from),
    );
    // script copies its stdin to the pty and, at end of input, hangs the
    // session up: a stdin kept open (and empty) until the command ends, not
    // /dev/null, whose end would race the container's start.
    let mut child = Command::new("script")
        .args(["-qec", &line.join(" "), "/dev/null"])
        .env("CONTAINERS_CONF", p.t.path().join("containers.conf"))
        .env("CONTAINERS_STORAGE_CONF", p.t.path().join("storage.conf"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let held_open = child.stdin.take();
    let out = child.wait_with_output().unwrap();
    drop(held_open);
    assert_eq!(
        out.status.code(),
        Some(6),
        "{peer:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("/dev/pts/0"),
        "{peer:?}: {:?}",
        stdout(&out)
    );
}

#[test]
fn podman_run_rm_with_wharf_oci() {
    run_rm(Peer::WharfOci)
}

#[test]
fn podman_run_rm_with_runc() {
    run_rm(Peer::Runc)
}

#[test]
fn podman_detached_lifecycle_with_wharf_oci() {
    detached_lifecycle(Peer::WharfOci)
}

#[test]
fn podman_detached_lifecycle_with_runc() {
    detached_lifecycle(Peer::Runc)
}

#[test]
fn podman_run_it_with_wharf_oci() {
    interactive(Peer::WharfOci)
}

#[test]
fn podman_run_it_with_runc() {
    interactive(Peer::Runc)
}
