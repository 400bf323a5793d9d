//! Break it: each attack that chapter 08's hardening is there to stop,
//! tried from inside the container and judged from the kernel's side (the
//! errno it answered, /proc of the host, exit statuses) — once under ch08's
//! defaults, where it must fail, and once with that one protection turned
//! off, where it must work, so that every test here can fail.
//!
//! The attacks are made by `wharf-breakout` (src/bin), copied into the
//! built-in rootfs (busybox or the host's programs) with its libraries.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{bin, stderr, stdout, Reaped, TestRoot};

/// The built-in rootfs plus wharf-breakout; its path inside the container.
fn rootfs_with_breakout(t: &TestRoot) -> String {
    let helper = bin("wharf-breakout");
    let dir = t.path().join("rootfs");
    let out = t.run(
        "wharf",
        &[
            "rootfs",
            "create",
            dir.to_str().unwrap(),
            "--with",
            helper.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "rootfs create: {}", stderr(&out));
    assert!(dir.join(helper.strip_prefix("/").unwrap()).is_file());
    helper.display().to_string()
}

/// `ch08-security FLAGS -- wharf-breakout ATTACK…`.
fn breakout(t: &TestRoot, helper: &str, flags: &[&str], attack: &[&str]) -> Output {
    let mut args: Vec<&str> = flags.to_vec();
    args.push("--");
    args.push(helper);
    args.extend(attack);
    t.run("ch08-security", &args)
}

/// What the kernel answered for `what`: the text after `what: ` in the
/// helper's output, which must have run to its end (exit 0).
fn answer(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}{}",
        out.status,
        stdout(out),
        stderr(out)
    );
    let text = stdout(out);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{what}: ")))
        .unwrap_or_else(|| panic!("no `{what}:` line in:\n{text}{}", stderr(out)))
        .to_string()
}

fn sh(t: &TestRoot, flags: &[&str], script: &str) -> Output {
    common::sh_in(t, "ch08-security", flags, script)
}

/// (device, inode) of the directory a path resolves to.
fn id(p: &Path) -> (u64, u64) {
    let m = std::fs::metadata(p).unwrap_or_else(|e| panic!("stat {}: {e}", p.display()));
    (m.dev(), m.ino())
}

/// Run `cmd` in the background until the guard drops; the host pid of
/// its `sleep` (exec'd in place or forked below `parent_of_sleep`).
fn escaped_sleep(mut cmd: Command) -> (Reaped, u32) {
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let guard = Reaped(child);
    let start = std::time::Instant::now();
    loop {
        // ch01 execs in place: its own pid becomes the sleep; ch08's
        // sleep is its child (the container's PID 1).
        if wharf::probe::procs::comm(pid).is_ok_and(|c| c == "sleep") {
            return (guard, pid);
        }
        if let Some(c) = wharf::probe::procs::children(pid)
            .unwrap_or_default()
            .into_iter()
            .find(|c| wharf::probe::procs::comm(*c).is_ok_and(|n| n == "sleep"))
        {
            return (guard, c);
        }
        assert!(start.elapsed().as_secs() < 10, "no sleep started by {pid}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn the_chroot_escape_reaches_the_host_from_a_chroot_but_not_from_ch08() {
    let t = TestRoot::new();
    let helper = rootfs_with_breakout(&t);
    let host = id(Path::new("/"));
    let escape = [helper.as_str(), "chroot-escape", "--", "/bin/sleep", "30"];

    // ch08: pivot_root in a mount namespace of its own, the old root gone.
    let mut c = t.cmd("ch08-security");
    c.arg("--").args(escape);
    let (_run, pid) = escaped_sleep(c);
    let root = id(&PathBuf::from(format!("/proc/{pid}/root/")));
    assert_ne!(root, host, "the escape from ch08 reached the host's root");

    // Chapter 01's plain chroot: the same climb ends at the host's root.
    let mut c = t.cmd("ch01-chroot");
    c.args(["--rootfs", t.path().join("rootfs").to_str().unwrap(), "--"])
        .args(escape);
    let (_run, pid) = escaped_sleep(c);
    let root = id(&PathBuf::from(format!("/proc/{pid}/root/")));
    assert_eq!(
        root, host,
        "the escape from a chroot should reach the host's root"
    );

    // Without CAP_SYS_CHROOT the first chroot is refused outright.
    let out = breakout(&t, &helper, &["--cap-drop", "SYS_CHROOT"], &escape[1..]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("chroot(\"/.wharf-escape\") failed: EPERM"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn reboot_is_refused_by_seccomp_and_by_the_missing_cap_sys_boot() {
    let t = TestRoot::new();
    let helper = rootfs_with_breakout(&t);
    let out = breakout(&t, &helper, &[], &["reboot"]);
    assert_eq!(answer(&out, "reboot"), "EPERM");
    // Without the filter, Docker's capability set still lacks CAP_SYS_BOOT.
    let out = breakout(&t, &helper, &["--seccomp", "unconfined"], &["reboot"]);
    assert_eq!(answer(&out, "reboot"), "EPERM");
    // With both off, the kernel "reboots" the container's pid namespace:
    // it kills its init, and reports it killed by SIGHUP (128 + 1).
    let out = breakout(
        &t,
        &helper,
        &["--seccomp", "unconfined", "--cap-add", "SYS_BOOT"],
        &["reboot"],
    );
    assert_eq!(
        out.status.code(),
        Some(129),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        !stdout(&out).contains("reboot:"),
        "reboot returned: {}",
        stdout(&out)
    );
}

#[test]
fn loading_a_module_is_refused_by_seccomp() {
    let t = TestRoot::new();
    let helper = rootfs_with_breakout(&t);
    let out = breakout(&t, &helper, &[], &["load-module"]);
    assert_eq!(answer(&out, "init_module"), "EPERM");
    assert_eq!(answer(&out, "finit_module"), "EPERM");
    // With the filter off and CAP_SYS_MODULE given, the kernel looks at
    // the image: no module (ENOEXEC, EINVAL …), or no module support at
    // all in this kernel (ENOSYS) — anything but the filter's EPERM.
    let off = ["--seccomp", "unconfined", "--cap-add", "SYS_MODULE"];
    let out = breakout(&t, &helper, &off, &["load-module"]);
    for call in ["init_module", "finit_module"] {
        let a = answer(&out, call);
        assert!(a != "EPERM" && a != "ok", "{call}: {a}");
    }
    // Without the capability a kernel with modules answers EPERM itself.
    if Path::new("/proc/modules").exists() {
        let out = breakout(&t, &helper, &["--seccomp", "unconfined"], &["load-module"]);
        assert_eq!(answer(&out, "init_module"), "EPERM");
    } else {
        eprintln!("NOTE: this kernel has no module support (no /proc/modules): init_module is ENOSYS without the filter");
    }
}

#[test]
fn proc_sys_is_read_only_unless_systempaths_are_unconfined() {
    let t = TestRoot::new();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    // The container has a UTS namespace of its own: a write that works
    // renames only the container.
    let script =
        "echo broken > /proc/sys/kernel/hostname; echo rc=$?; cat /proc/sys/kernel/hostname";
    let out = sh(&t, &["--hostname", "box"], script);
    // The shell's status for a failed redirection: 1 (busybox) or 2 (dash).
    let text = stdout(&out);
    assert!(
        text.starts_with("rc=") && !text.starts_with("rc=0") && text.ends_with("\nbox\n"),
        "{text}{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );
    let out = sh(
        &t,
        &["--hostname", "box", "--systempaths", "unconfined"],
        script,
    );
    assert_eq!(stdout(&out), "rc=0\nbroken\n", "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        host
    );
}

#[test]
fn masked_files_are_empty_unless_systempaths_are_unconfined() {
    let t = TestRoot::new();
    for f in ["/proc/timer_list", "/proc/keys"] {
        assert!(
            !std::fs::read(f).unwrap().is_empty(),
            "this host's {f} is empty: a mask cannot be told from it"
        );
    }
    let script =
        "for f in /proc/timer_list /proc/keys; do c=$(cat $f); echo ${f#/proc/}=${#c}; done";
    let out = sh(&t, &[], script);
    assert_eq!(stdout(&out), "timer_list=0\nkeys=0\n", "{}", stderr(&out));
    let out = sh(&t, &["--systempaths", "unconfined"], script);
    let text = stdout(&out);
    assert!(
        !text.contains("=0\n") && text.lines().count() == 2,
        "unmasked files should have content: {text}{}",
        stderr(&out)
    );
}

#[test]
fn a_node_for_dev_kmsg_can_be_made_but_not_opened() {
    let t = TestRoot::new();
    let helper = rootfs_with_breakout(&t);
    // Reading /dev/kmsg needs CAP_SYSLOG when kernel.dmesg_restrict is 1:
    // given here, so that only the device cgroup stands in the way.
    let attack = ["mknod-read", "/dev/kmsg2", "1", "11"];
    let out = breakout(&t, &helper, &["--cap-add", "SYSLOG"], &attack);
    // Docker keeps CAP_MKNOD: making the node works …
    assert_eq!(answer(&out, "mknod"), "ok");
    // … opening it is what the device cgroup refuses.
    assert_eq!(answer(&out, "read"), "EPERM");
    let out = breakout(
        &t,
        &helper,
        &["--cap-add", "SYSLOG", "--device-cgroup-rule", "c 1:11 r"],
        &attack,
    );
    assert!(answer(&out, "read").starts_with("ok ("), "{}", stdout(&out));
}

#[test]
fn a_fork_bomb_stops_at_the_pids_limit() {
    let t = TestRoot::new();
    // A shell starts 64 sleeps in the background; when the kernel refuses
    // a fork (EAGAIN) that shell gives up. Then count the processes the
    // container's pid namespace holds (its /proc): the sleeps that started.
    let script = "sh -c 'i=0; while [ $i -lt 64 ]; do sleep 5 & i=$((i+1)); done' 2>/dev/null; \
                  n=0; for p in /proc/[0-9]*; do n=$((n+1)); done; echo procs=$n";
    let out = sh(&t, &["--pids-limit", "16"], script);
    let n: u32 = stdout(&out)
        .trim()
        .strip_prefix("procs=")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{}{}", stdout(&out), stderr(&out)));
    assert!(n <= 16, "{n} processes under --pids-limit 16");
    let out = sh(&t, &[], script);
    let n: u32 = stdout(&out)
        .trim()
        .strip_prefix("procs=")
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(n > 64, "without a limit all 64 sleeps run: {n}");
}

#[test]
fn ptrace_of_a_host_process_is_refused() {
    let t = TestRoot::new();
    let helper = rootfs_with_breakout(&t);
    let target = Reaped(Command::new("sleep").arg("30").spawn().unwrap());
    let pid = target.0.id().to_string();
    let attack = ["ptrace", pid.as_str()];
    // In ch08's own pid namespace: the filter answers first; without it,
    // the kernel finds no such process — the host's have no pid in here.
    let out = breakout(&t, &helper, &[], &attack);
    assert_eq!(answer(&out, "ptrace"), "EPERM");
    let out = breakout(&t, &helper, &["--seccomp", "unconfined"], &attack);
    assert_eq!(answer(&out, "ptrace"), "ESRCH");
    // Sharing the host's pid namespace, the filter refuses ptrace; without
    // it, the missing CAP_SYS_PTRACE; with both off the trace works.
    let host_pids = ["--mount", "--uts", "--ipc", "--net"];
    let out = breakout(&t, &helper, &host_pids, &attack);
    assert_eq!(answer(&out, "ptrace"), "EPERM");
    let unconfined = [&host_pids[..], &["--seccomp", "unconfined"]].concat();
    let out = breakout(&t, &helper, &unconfined, &attack);
    assert_eq!(answer(&out, "ptrace"), "EPERM");
    let all_off = [&unconfined[..], &["--cap-add", "SYS_PTRACE"]].concat();
    let out = breakout(&t, &helper, &all_off, &attack);
    assert_eq!(answer(&out, "ptrace"), "ok");
    // It was detached again: the sleep runs on, traced by nobody.
    let tracer = wharf::probe::procs::status_field(&pid, "TracerPid").unwrap();
    assert_eq!(tracer, "0");
}

#[test]
fn a_setuid_binary_gains_no_capability_under_no_new_privs() {
    let t = TestRoot::new();
    let helper = rootfs_with_breakout(&t);
    // A setuid-root copy of the helper, owned by root, mode 4755.
    let suid = t.path().join("rootfs/suid-breakout");
    std::fs::copy(bin("wharf-breakout"), &suid).unwrap();
    std::fs::set_permissions(&suid, std::os::unix::fs::PermissionsExt::from_mode(0o4755)).unwrap();
    let attack = ["as-user", "1000", "--", "/suid-breakout", "caps"];
    let out = breakout(&t, &helper, &[], &attack);
    // Under no_new_privs execve ignores the setuid bit: still uid 1000,
    // no capability.
    assert_eq!(answer(&out, "Uid"), "1000\t1000\t1000\t1000");
    assert_eq!(answer(&out, "CapEff"), "0000000000000000");
    assert_eq!(answer(&out, "NoNewPrivs"), "1");
    // Without it the setuid bit makes the euid 0, and with it come the
    // capabilities of the bounding set: Docker's 14.
    let out = breakout(&t, &helper, &["--no-new-privs", "false"], &attack);
    assert_eq!(answer(&out, "Uid"), "1000\t0\t0\t0");
    assert_eq!(answer(&out, "CapEff"), "00000000a80425fb");
    assert_eq!(answer(&out, "NoNewPrivs"), "0");
}

#[test]
fn a_user_namespace_is_refused_by_seccomp() {
    let t = TestRoot::new();
    let helper = rootfs_with_breakout(&t);
    let out = breakout(&t, &helper, &[], &["unshare-user"]);
    assert_eq!(answer(&out, "unshare(CLONE_NEWUSER)"), "EPERM");
    let out = breakout(&t, &helper, &["--seccomp", "unconfined"], &["unshare-user"]);
    assert_eq!(answer(&out, "unshare(CLONE_NEWUSER)"), "ok");
}
