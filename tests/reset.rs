//! `wharf reset` after a deliberately interrupted run: a chapter whose
//! parent was SIGKILLed mid-run, mounts under the state root, a tagged
//! cgroup with a process in it, a chrooted container nobody waits for, a
//! network device with our prefix. Afterwards the kernel shows none of them
//! (mountinfo, /sys/fs/cgroup, /proc, `ip link`), and a second reset is a
//! no-op.

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

/// `wharf reset` for this state root, which must succeed: what it said.
fn reset(t: &TestRoot) -> String {
    let out = t.run("wharf", &["reset"]);
    let said = stdout(&out);
    assert!(out.status.success(), "reset failed: {said}{}", stderr(&out));
    said
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
    let tag = tag_of(&t);

    // A container no longer outlives its chapter (the kernel kills the
    // child with its parent: PR_SET_PDEATHSIG), so what does outlive an
    // interrupted run is made here by hand; a real run is killed in
    // `reset_after_a_killed_chapter_leaves_nothing`.
    //
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
    let mut member = Reaped(Command::new("/bin/sleep").arg("300").spawn().unwrap());
    let member_pid = member.0.id();
    std::fs::write(cg.join("cgroup.procs"), member_pid.to_string()).unwrap();
    assert_eq!(mounts_below(&root).len(), 2);

    let said = reset(&t);
    assert!(
        said.contains(&format!("removed cgroup {}", cg.display())),
        "{said}"
    );
    assert!(said.contains("unmounted mount"), "{said}");
    assert!(
        said.contains(&format!("killed process {member_pid} (in cgroup")),
        "{said}"
    );

    member.0.wait().unwrap();
    assert!(
        mounts_below(&root).is_empty(),
        "mounts left: {:?}",
        mounts_below(&root)
    );
    assert!(!pids_hierarchy().join(&tag).exists(), "cgroup left");
    assert!(!alive(member_pid), "cgroup member {member_pid} still runs");
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
    // Chapter 01 chroots and becomes the command: a sleep whose root mount
    // is the host's (and hidden from its own mountinfo), whose root
    // directory is ours, and which no wharf process waits for.
    let mut sleeper = t
        .cmd("ch01-chroot")
        .args(["--rootfs", rootfs.to_str().unwrap()])
        .args(["--", "/bin/sleep", "300"])
        .spawn()
        .unwrap();
    let pid = sleeper.id();
    let _guard = Killer(pid);
    let chrooted =
        || std::fs::read_link(format!("/proc/{pid}/root")).is_ok_and(|r| r.starts_with(t.path()));
    let start = std::time::Instant::now();
    while !chrooted() && start.elapsed().as_secs() < 10 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        chrooted(),
        "ch01 did not chroot its sleep into the state root"
    );

    let out = t.run("wharf", &["reset"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(
        said.contains(&format!("killed container process {pid}")),
        "{said}"
    );
    let status = sleeper.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "{status}"
    );
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
        // In a throwaway mount, pid and network namespace with its own
        // empty /sys/fs/cgroup: a regression that does reset "/" can touch
        // none of the host's mounts, processes, links or cgroups.
        let out = Command::new("unshare")
            .args([
                "-m",
                "-p",
                "-f",
                "-n",
                "--mount-proc",
                "--propagation",
                "private",
            ])
            .args([
                "/bin/sh",
                "-c",
                "mount -t tmpfs wharf-test /sys/fs/cgroup && exec \"$0\" reset",
            ])
            .arg(bin("wharf"))
            .env("WHARF_ROOT", bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{bad}: {}", stderr(&out));
        assert_eq!(
            stderr(&out),
            format!(
                "wharf: error: refusing to reset state root {bad:?}: WHARF_ROOT must be an \
                 absolute path at least two directories deep, such as /var/lib/wharf\n"
            ),
        );
    }
}

/// The cgroup directories named after `tag` in any hierarchy, as
/// `find /sys/fs/cgroup -maxdepth 3 -name TAG` lists them.
fn tagged_cgroups(tag: &str) -> Vec<String> {
    let out = Command::new("find")
        .args(["/sys/fs/cgroup", "-maxdepth", "3", "-name", tag])
        .output()
        .expect("find");
    stdout(&out).lines().map(str::to_string).collect()
}

/// Live processes whose root is inside `root`, as the kernel shows them:
/// chrooted there (/proc/PID/root), or on a root mount made from it (an
/// overlay whose layers the mount options name, in /proc/PID/mountinfo).
fn rooted_below(root: &Path) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if !alive(pid) {
            continue;
        }
        let chrooted =
            std::fs::read_link(format!("/proc/{pid}/root")).is_ok_and(|r| r.starts_with(root));
        let info = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default();
        let top = info.lines().rfind(|l| l.split(' ').nth(4) == Some("/"));
        let mounted = top.is_some_and(|l| l.contains(&format!("{}/", root.display())));
        if chrooted || mounted {
            out.push(pid);
        }
    }
    out
}

/// A real interrupted run: chapter 05 with cgroup limits, its parent
/// SIGKILLed while the container's sleep runs, so it never cleans up. What
/// it leaves (cgroups under our tag, the container dir, and the container
/// itself if it outlived its parent) is gone after reset, as the kernel
/// shows: mountinfo, the cgroup hierarchies, /proc.
#[test]
fn reset_after_a_killed_chapter_leaves_nothing() {
    let t = TestRoot::new();
    let root = t.path().to_path_buf();
    t.rootfs(); // chapter 05's default layer: the built-in rootfs
    let tag = tag_of(&t);

    let mut parent = Reaped(
        t.cmd("ch05-union")
            .args(["--cpus", "0.5", "--pids-limit", "20"])
            .args(["--", "/bin/sleep", "300"])
            .stdin(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let container = wait_for_child(parent.0.id(), "sleep");
    let _container_guard = Killer(container);
    // The test's own views work: they see the running container.
    assert!(
        rooted_below(&root).contains(&container),
        "container {container} not seen as rooted below {}",
        root.display()
    );
    assert!(!tagged_cgroups(&tag).is_empty(), "ch05 made no cgroup");

    parent.0.kill().unwrap(); // SIGKILL: no Drop, no cleanup
    parent.0.wait().unwrap();
    let left = tagged_cgroups(&tag);
    assert!(!left.is_empty(), "the killed run left no cgroup to reset");
    assert!(root.join("containers").read_dir().unwrap().next().is_some());

    let said = reset(&t);
    assert!(said.contains("removed cgroup"), "{said}");

    assert!(
        mounts_below(&root).is_empty(),
        "mounts left: {:?}",
        mounts_below(&root)
    );
    assert!(
        tagged_cgroups(&tag).is_empty(),
        "cgroups left: {:?} (before reset: {left:?})",
        tagged_cgroups(&tag)
    );
    assert!(
        rooted_below(&root).is_empty(),
        "processes rooted below the state root: {:?}",
        rooted_below(&root)
    );
    assert!(!alive(container), "container {container} still runs");
    assert!(!root.exists(), "state dir left: {said}");
}

/// The names `ip -o link` lists (a veth's `@peer` dropped).
fn links() -> Vec<String> {
    let out = Command::new("ip")
        .args(["-o", "link"])
        .output()
        .expect("ip");
    assert!(out.status.success(), "ip -o link: {}", stderr(&out));
    stdout(&out)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect()
}

/// Deletes the link by its exact name when dropped, also on failure.
struct Link(String);
impl Drop for Link {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "delete", "dev", &self.0])
            .output();
    }
}

#[test]
fn reset_removes_a_network_device_of_ours() {
    let t = TestRoot::new();
    let tag = tag_of(&t);
    let name = format!("{}x", wharf::paths::net_prefix(&tag));
    assert!(!links().contains(&name), "{name} exists before the test");
    let _link = Link(name.clone());
    let add = |kind: &str| {
        Command::new("ip")
            .args(["link", "add", &name, "type", kind])
            .output()
            .expect("ip link add")
    };
    let mut out = add("dummy");
    // A kernel built without the dummy driver: a bridge is ours just as well.
    if stderr(&out).contains("Unknown device type") {
        out = add("bridge");
    }
    assert!(out.status.success(), "ip link add {name}: {}", stderr(&out));
    assert!(links().contains(&name), "{name} not in ip -o link");

    let out = t.run("wharf", &["reset"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let said = stdout(&out);
    assert!(
        said.contains(&format!("removed network device {name}")),
        "{said}"
    );
    assert!(!links().contains(&name), "{name} still in ip -o link");
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

#[test]
fn reset_removes_what_an_interrupted_lab_check_left() {
    let t = TestRoot::new();
    // `wharf lab check` runs the learner's binary with its own state root
    // below ours, so its cgroups carry another tag.
    let lab_root = wharf::paths::lab_check_root(t.path());
    let lab_tag = wharf::paths::host_tag_for(&lab_root);
    let cg = pids_hierarchy().join(&lab_tag).join("ch04-1");
    std::fs::create_dir_all(&cg).unwrap();
    // Guarded: if reset fails to kill it, Drop kills this exact pid.
    let mut member = Reaped(Command::new("/bin/sleep").arg("300").spawn().unwrap());
    std::fs::write(cg.join("cgroup.procs"), member.0.id().to_string()).unwrap();

    let out = t.run("wharf", &["reset"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Reset must have killed the member; never wait on it unbounded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while member.0.try_wait().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "reset left the cgroup member {} alive",
            member.0.id()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        stdout(&out).contains(&format!("removed cgroup {}", cg.display())),
        "{}",
        stdout(&out)
    );
    assert!(!pids_hierarchy().join(&lab_tag).exists(), "cgroup left");
}
