//! `wharf reset` after a deliberately interrupted run: a container left
//! running after its parent was killed, mounts under the state root, and a
//! tagged cgroup with a process in it. Afterwards the kernel shows none of
//! them (mountinfo, /sys/fs/cgroup, /proc), and a second reset is a no-op.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The host tag reset works with, from its own first line.
fn tag_of(t: &TestRoot) -> String {
    let out = t.run("wharf", &["reset", "--dry-run"]);
    let first = stdout(&out).lines().next().unwrap_or_default().to_string();
    first
        .split("host tag ")
        .nth(1)
        .and_then(|s| s.strip_suffix("):"))
        .unwrap_or_else(|| panic!("no tag in {first:?}"))
        .to_string()
}

/// Where a chapter would make the pids cgroup of this state root.
fn pids_hierarchy() -> PathBuf {
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    PathBuf::from(if v2 {
        "/sys/fs/cgroup"
    } else {
        "/sys/fs/cgroup/pids"
    })
}

fn mounts_below(root: &Path) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| Path::new(m).starts_with(root))
        .map(str::to_string)
        .collect()
}

fn alive(pid: u32) -> bool {
    // A zombie has given back its namespaces and mounts: it counts as gone.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

#[test]
fn reset_after_an_interrupted_run_leaves_nothing() {
    let t = TestRoot::new();
    let root = t.path().to_path_buf();
    let rootfs = t.rootfs();
    let tag = tag_of(&t);

    // A container whose parent is killed: its sleep lives on as PID 1 of a
    // namespace nobody waits for, holding its mounts.
    let mut parent = t
        .cmd("ch02-namespaces")
        .args([
            "--rootfs",
            rootfs.to_str().unwrap(),
            "--",
            "/bin/sleep",
            "300",
        ])
        .spawn()
        .unwrap();
    let container = wait_for_child(parent.id(), "sleep");
    parent.kill().unwrap();
    parent.wait().unwrap();
    let _container_guard = Killer(container);

    // Host-visible mounts as a chapter makes them: one stacked on another.
    let mnt = root.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    for _ in 0..2 {
        nix::mount::mount(
            Some("tmpfs"),
            &mnt,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .unwrap();
    }
    // A tagged cgroup with a child cgroup holding a process.
    let cg = pids_hierarchy().join(&tag).join("c1");
    std::fs::create_dir_all(&cg).unwrap();
    let mut member = Command::new("/bin/sleep").arg("300").spawn().unwrap();
    std::fs::write(cg.join("cgroup.procs"), member.id().to_string()).unwrap();
    assert_eq!(mounts_below(&root).len(), 2);

    let out = t.run("wharf", &["reset"]);
    assert!(
        out.status.success(),
        "reset failed: {}{}",
        stdout(&out),
        stderr(&out)
    );
    let said = stdout(&out);
    assert!(
        said.contains(&format!("removed cgroup {}", cg.display())),
        "{said}"
    );
    assert!(said.contains("unmounted mount"), "{said}");
    assert!(
        said.contains(&format!("killed container process {container}")),
        "{said}"
    );

    member.wait().unwrap();
    assert!(
        mounts_below(&root).is_empty(),
        "mounts left: {:?}",
        mounts_below(&root)
    );
    assert!(!pids_hierarchy().join(&tag).exists(), "cgroup left");
    assert!(!alive(container), "container {container} still runs");
    assert!(!root.exists(), "state dir left");

    let again = t.run("wharf", &["reset"]);
    assert!(again.status.success());
    assert!(
        stdout(&again).contains("nothing to reset"),
        "{}",
        stdout(&again)
    );
}

#[test]
fn reset_kills_a_chrooted_container() {
    let t = TestRoot::new();
    let rootfs = t.rootfs();
    // No mount namespace: chapter 02 falls back to chroot, so the root
    // mount of the orphaned sleep is the host's; only its root dir is ours.
    let mut parent = t
        .cmd("ch02-namespaces")
        .args(["--uts", "--rootfs", rootfs.to_str().unwrap()])
        .args(["--", "/bin/sleep", "300"])
        .spawn()
        .unwrap();
    let container = wait_for_child(parent.id(), "sleep");
    parent.kill().unwrap();
    parent.wait().unwrap();
    let _container_guard = Killer(container);
    let root_dir = std::fs::read_link(format!("/proc/{container}/root")).unwrap();
    assert!(root_dir.starts_with(t.path()), "{}", root_dir.display());

    let out = t.run("wharf", &["reset"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(
        said.contains(&format!("killed container process {container}")),
        "{said}"
    );
    assert!(!alive(container), "container {container} still runs");
}

#[test]
fn dry_run_changes_nothing() {
    let t = TestRoot::new();
    let mnt = t.path().join("m");
    std::fs::create_dir_all(&mnt).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &mnt,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    let out = t.run("wharf", &["reset", "--dry-run"]);
    assert!(out.status.success());
    assert!(
        stdout(&out).contains(&format!("would unmount mount {}", mnt.display())),
        "{}",
        stdout(&out)
    );
    assert_eq!(mounts_below(t.path()).len(), 1);
    assert!(t.path().exists());
}

#[test]
fn a_dangerous_state_root_is_refused() {
    require_root();
    for bad in ["/", "/tmp", "relative"] {
        let out = Command::new(bin("wharf"))
            .arg("reset")
            .env("WHARF_ROOT", bad)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{bad}");
        assert!(
            stderr(&out).contains("refusing to reset"),
            "{}",
            stderr(&out)
        );
    }
}

/// Kill the container's process if the test fails before reset does.
struct Killer(u32);
impl Drop for Killer {
    fn drop(&mut self) {
        // Only while it is still our sleep: a pid can be reused.
        let comm = std::fs::read_to_string(format!("/proc/{}/comm", self.0)).unwrap_or_default();
        if comm.trim() != "sleep" {
            return;
        }
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0 as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}
