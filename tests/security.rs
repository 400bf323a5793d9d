//! The hardening mechanisms of src/security, each applied in a forked
//! child and judged from the kernel's side: /proc/self/status, the errno of
//! a denied syscall, the child's mountinfo and the nodes it made.

mod common;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};

use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};

/// Fork; in the child run `f`, which returns a report (or an error); the
/// parent gets the report. The child never returns into the test harness.
fn in_child(f: impl FnOnce() -> anyhow::Result<String>) -> String {
    common::require_root();
    let (r, w) = nix::unistd::pipe().expect("pipe");
    // SAFETY: the child only runs `f` and exits with _exit.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            drop(r);
            let mut out = unsafe { std::fs::File::from_raw_fd(w.as_raw_fd()) };
            std::mem::forget(w);
            let code = match f() {
                Ok(report) => {
                    let _ = out.write_all(report.as_bytes());
                    0
                }
                Err(e) => {
                    let _ = out.write_all(format!("CHILD FAILED: {e:#}").as_bytes());
                    1
                }
            };
            drop(out);
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(w);
            let mut s = String::new();
            std::fs::File::from(r).read_to_string(&mut s).expect("read");
            let st = waitpid(child, None).expect("waitpid");
            assert_eq!(st, WaitStatus::Exited(child, 0), "child: {s}");
            s
        }
    }
}

/// One field of /proc/self/status, as the kernel wrote it.
fn status_field(status: &str, key: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in status:\n{status}"))
        .trim()
        .to_string()
}

/// A mount namespace of the child's own, with no propagation back to the
/// host: a mount that should have been denied but worked lands only here.
fn private_mount_ns() -> anyhow::Result<()> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)?;
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
        None::<&str>,
    )?;
    Ok(())
}

fn self_status() -> anyhow::Result<String> {
    Ok(std::fs::read_to_string("/proc/self/status")?)
}

#[test]
fn caps_apply_leaves_exactly_the_given_sets() {
    let c = wharf::security::caps::with_changes(&["NET_ADMIN".into()], &["CHOWN".into()]).unwrap();
    let st = in_child(|| {
        wharf::security::caps::apply(&c)?;
        self_status()
    });
    // Docker's 0xa80425fb, minus CAP_CHOWN (bit 0), plus CAP_NET_ADMIN (bit 12).
    let want = "00000000a80435fa";
    assert_eq!(status_field(&st, "CapEff"), want);
    assert_eq!(status_field(&st, "CapPrm"), want);
    assert_eq!(status_field(&st, "CapBnd"), want);
    assert_eq!(status_field(&st, "CapInh"), "0000000000000000");
    assert_eq!(status_field(&st, "CapAmb"), "0000000000000000");
    // Without apply, a child keeps the test's own (much wider) bounding set.
    let ours = status_field(&self_status().unwrap(), "CapBnd");
    let host = in_child(self_status);
    assert_eq!(status_field(&host, "CapBnd"), ours);
    assert_ne!(ours, want);
}

#[test]
fn caps_dropped_sys_admin_makes_mount_fail() {
    let c = wharf::security::caps::with_changes(&[], &[]).unwrap();
    let r = in_child(|| {
        // A private mount namespace first, so a mount that works touches nothing.
        private_mount_ns()?;
        wharf::security::caps::apply(&c)?;
        let e = nix::mount::mount(
            Some("none"),
            "/tmp",
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        );
        Ok(format!("{e:?}"))
    });
    assert_eq!(r, "Err(EPERM)");
}

#[test]
fn nnp_sets_no_new_privs() {
    let before = in_child(self_status);
    assert_eq!(status_field(&before, "NoNewPrivs"), "0");
    let st = in_child(|| {
        wharf::security::nnp::no_new_privs()?;
        self_status()
    });
    assert_eq!(status_field(&st, "NoNewPrivs"), "1");
}

/// What a denied or allowed call returned, as the kernel's errno name.
fn outcome(r: libc::c_long) -> String {
    if r < 0 {
        format!("{:?}", nix::errno::Errno::last())
    } else {
        "ok".into()
    }
}

fn probe_calls() -> String {
    // SAFETY: raw syscalls with harmless arguments; a mount that succeeded
    // would land in the child's private mount namespace, set up below.
    let mount = unsafe {
        libc::syscall(
            libc::SYS_mount,
            c"none".as_ptr(),
            c"/tmp".as_ptr(),
            c"tmpfs".as_ptr(),
            0,
            0,
        )
    };
    let mount = outcome(mount);
    let userns = outcome(unsafe { libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUSER) });
    let clone3 = outcome(unsafe { libc::syscall(libc::SYS_clone3, 0, 0) });
    let pid = outcome(unsafe { libc::syscall(libc::SYS_getpid) });
    // Threads and fork still work: glibc falls back from clone3 to clone.
    let thread = match std::thread::spawn(|| 7).join() {
        Ok(7) => "ok",
        _ => "failed",
    };
    let fork = match unsafe { fork() } {
        Ok(ForkResult::Child) => unsafe { libc::_exit(3) },
        Ok(ForkResult::Parent { child }) => match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, 3)) => "ok".to_string(),
            other => format!("{other:?}"),
        },
        Err(e) => format!("{e:?}"),
    };
    format!("mount={mount} unshare(NEWUSER)={userns} clone3={clone3} getpid={pid} thread={thread} fork={fork}")
}

#[test]
fn seccomp_default_denies_mount_and_user_namespaces() {
    // Compiled in the parent, before fork, as a runtime does.
    let filter = wharf::security::seccomp::compile(&wharf::security::seccomp::docker_default())
        .expect("compile");
    let r = in_child(|| {
        private_mount_ns()?;
        wharf::security::nnp::no_new_privs()?;
        wharf::security::seccomp::install(&filter)?;
        let calls = probe_calls();
        let st = self_status()?;
        Ok(format!("{calls} Seccomp={}", status_field(&st, "Seccomp")))
    });
    assert_eq!(
        r,
        "mount=EPERM unshare(NEWUSER)=EPERM clone3=ENOSYS getpid=ok thread=ok fork=ok Seccomp=2"
    );
}

#[test]
fn without_seccomp_the_same_calls_pass() {
    let r = in_child(|| {
        private_mount_ns()?;
        let calls = probe_calls();
        let st = self_status()?;
        Ok(format!("{calls} Seccomp={}", status_field(&st, "Seccomp")))
    });
    // clone3(NULL, 0) is EINVAL (bad size) or EFAULT when the kernel sees it.
    assert!(
        r.starts_with("mount=ok unshare(NEWUSER)=ok clone3=E") && !r.contains("ENOSYS"),
        "{r}"
    );
    assert!(r.ends_with("getpid=ok thread=ok fork=ok Seccomp=0"), "{r}");
}

/// The child's mounts below `root`: "relative-target fstype options" lines.
fn mounts_below(root: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo")?;
    let root = root.to_str().unwrap();
    Ok(mi
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let sep = f.iter().position(|x| *x == "-")?;
            let target = f[4].strip_prefix(root)?;
            Some(format!("{target} {} {}", f[sep + 1], f[5]))
        })
        .collect())
}

#[test]
fn dev_and_masked_paths_from_mountinfo_and_stat() {
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    let tmp = tempfile::Builder::new()
        .prefix("wharf-sec-")
        .tempdir_in("/tmp")
        .unwrap();
    let root = tmp.path().to_path_buf();
    let r = in_child(|| {
        private_mount_ns()?;
        // runc's default mounts (/proc, /dev, devpts, shm, mqueue, /sys
        // read-only) as src/container mounts them, then the nodes.
        let spec = wharf::container::SpecBuilder::new("rootfs", ["sh"]).build();
        for m in spec
            .mounts()
            .iter()
            .flatten()
            .filter(|m| m.destination() != std::path::Path::new("/sys/fs/cgroup"))
        {
            wharf::container::mounts::MountPlan::from_spec(m)?.mount_in(&root)?;
        }
        wharf::security::dev::populate(&root, &wharf::security::dev::default_devices(), false)?;
        wharf::security::paths::mask(&root, &wharf::security::paths::default_masked())?;
        wharf::security::paths::readonly(&root, &wharf::security::paths::default_readonly())?;
        let mut out = mounts_below(&root)?;
        for n in ["null", "zero", "full", "random", "urandom", "tty"] {
            let m = std::fs::metadata(root.join("dev").join(n))?;
            let rdev = m.rdev();
            out.push(format!(
                "node {n} char={} {}:{} {:o}",
                m.file_type().is_char_device(),
                nix::sys::stat::major(rdev),
                nix::sys::stat::minor(rdev),
                m.permissions().mode() & 0o7777
            ));
        }
        for l in ["ptmx", "fd", "stdin", "stdout", "stderr"] {
            out.push(format!(
                "link {l} -> {}",
                std::fs::read_link(root.join("dev").join(l))?.display()
            ));
        }
        out.push(format!(
            "timer_list bytes={}",
            std::fs::read(root.join("proc/timer_list"))?.len()
        ));
        let w = std::fs::write(root.join("proc/sys/kernel/hostname"), "x");
        out.push(format!(
            "write proc/sys: {:?}",
            w.map_err(|e| e.raw_os_error())
        ));
        Ok(out.join("\n"))
    });
    let has = |line: &str| r.lines().any(|l| l.starts_with(line));
    for want in [
        "/dev tmpfs rw,nosuid",
        "/dev/pts devpts rw,nosuid,noexec",
        "/dev/shm tmpfs rw,nosuid,nodev,noexec",
        "/dev/mqueue mqueue rw,nosuid,nodev,noexec",
        "/sys sysfs ro,nosuid,nodev,noexec",
        "/proc/timer_list devtmpfs",
        "/proc/sys proc ro,nosuid,nodev,noexec",
        "/proc/bus proc ro,nosuid,nodev,noexec",
        "/sys/firmware tmpfs ro",
        "node null char=true 1:3 666",
        "node zero char=true 1:5 666",
        "node full char=true 1:7 666",
        "node random char=true 1:8 666",
        "node urandom char=true 1:9 666",
        "node tty char=true 5:0 666",
        "link ptmx -> pts/ptmx",
        "link fd -> /proc/self/fd",
        "link stderr -> /proc/self/fd/2",
        "timer_list bytes=0",
        "write proc/sys: Err(Some(30))",
    ] {
        assert!(has(want), "missing {want:?} in:\n{r}");
    }
    // The host's /proc/timer_list has content: the mask is what emptied it.
    assert!(!std::fs::read("/proc/timer_list").unwrap().is_empty());
    // No mount of the child's is left in our namespace.
    assert!(mounts_below(&root).unwrap().is_empty());
}

#[test]
fn rlimits_apply_shows_in_proc_limits() {
    let nofile = oci_spec::runtime::PosixRlimitBuilder::default()
        .typ(wharf::security::rlimits::parse("nofile").unwrap())
        .soft(123u64)
        .hard(456u64)
        .build()
        .unwrap();
    let before = std::fs::read_to_string("/proc/self/limits").unwrap();
    let r = in_child(|| {
        wharf::security::rlimits::apply(&[nofile])?;
        Ok(std::fs::read_to_string("/proc/self/limits")?)
    });
    let line = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(line(&r), "Max open files 123 456 files");
    assert_ne!(line(&before), line(&r));
}

/// A v1 devices cgroup of the test's own, removed on drop.
struct DevicesCgroup(std::path::PathBuf);

impl Drop for DevicesCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn devices_v1_allow_list_refuses_kmsg_but_not_null() {
    common::require_root();
    let base = std::path::Path::new("/sys/fs/cgroup/devices");
    assert!(
        base.join("devices.allow").exists(),
        "this test needs the cgroup v1 devices controller at {} (hybrid host); v2 is not implemented",
        base.display()
    );
    let cg = DevicesCgroup(base.join(format!("wharf-sec-test-{}", std::process::id())));
    std::fs::create_dir(&cg.0).expect("mkdir cgroup");
    wharf::security::devices::apply_v1(&cg.0, &wharf::security::devices::default_rules())
        .expect("apply_v1");
    let list = std::fs::read_to_string(cg.0.join("devices.list")).unwrap();
    let mut got: Vec<&str> = list.lines().collect();
    got.sort();
    let mut want = vec![
        "c *:* m",
        "b *:* m",
        "c 1:3 rwm",
        "c 1:5 rwm",
        "c 1:7 rwm",
        "c 1:8 rwm",
        "c 1:9 rwm",
        "c 5:0 rwm",
        "c 5:1 rwm",
        "c 5:2 rwm",
        "c 136:* rwm",
    ];
    want.sort();
    assert_eq!(got, want);

    let open = |p: &str| match std::fs::File::open(p) {
        Ok(_) => "ok".to_string(),
        Err(e) => format!("{:?}", e.raw_os_error()),
    };
    let procs = cg.0.join("cgroup.procs");
    let r = in_child(|| {
        let before = open("/dev/kmsg");
        std::fs::write(&procs, std::process::id().to_string())?;
        Ok(format!(
            "before={before} kmsg={} null={}",
            open("/dev/kmsg"),
            open("/dev/null")
        ))
    });
    // EPERM (1) from the device controller; before joining, kmsg opened.
    assert_eq!(r, "before=ok kmsg=Some(1) null=ok");
}

#[test]
fn devices_v2_bpf_program_refuses_kmsg_but_not_null() {
    common::require_root();
    // Pure v2 hosts have cgroup2 at /sys/fs/cgroup; hybrid ones at unified/.
    let base = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .into_iter()
        .map(std::path::Path::new)
        .find(|p| p.join("cgroup.procs").exists() && p.join("cgroup.subtree_control").exists())
        .expect("no cgroup2 hierarchy at /sys/fs/cgroup/unified or /sys/fs/cgroup");
    let cg = DevicesCgroup(base.join(format!("wharf-sec-v2-{}", std::process::id())));
    std::fs::create_dir(&cg.0).expect("mkdir cgroup");
    wharf::security::devices::apply_v2(&cg.0, &wharf::security::devices::default_rules())
        .expect("apply_v2");
    let open =
        |p: &str, write: bool| match std::fs::OpenOptions::new().read(true).write(write).open(p) {
            Ok(_) => "ok".to_string(),
            Err(e) => format!("{:?}", e.raw_os_error()),
        };
    let procs = cg.0.join("cgroup.procs");
    let r = in_child(|| {
        let before = open("/dev/kmsg", false);
        std::fs::write(&procs, std::process::id().to_string())?;
        Ok(format!(
            "before={before} kmsg={} null={} zero_rw={}",
            open("/dev/kmsg", false),
            open("/dev/null", true),
            open("/dev/zero", true)
        ))
    });
    assert_eq!(r, "before=ok kmsg=Some(1) null=ok zero_rw=ok");
}

#[test]
fn each_mechanism_is_a_journaled_step_with_decoded_arguments() {
    use std::sync::Mutex;
    static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let caps = wharf::security::caps::with_changes(&[], &["ALL".into()]).unwrap();
    let add_kill = wharf::security::caps::with_changes(&["KILL".into()], &["ALL".into()]).unwrap();
    let filter = wharf::security::seccomp::compile(&wharf::security::seccomp::docker_default())
        .expect("compile");
    let n = filter.programs[0].len();
    let r = in_child(|| {
        wharf::sys::journal::observe(Box::new(|s| {
            SEEN.lock()
                .unwrap()
                .push(format!("{}{}", s.call_text(), s.result_text()))
        }));
        wharf::security::caps::drop_bounding(&caps)?;
        wharf::security::caps::set_sets(&add_kill)?;
        wharf::security::nnp::no_new_privs()?;
        wharf::security::seccomp::install(&filter)?;
        Ok(SEEN.lock().unwrap().join("\n"))
    });
    let lines: Vec<&str> = r.lines().collect();
    assert!(
        lines[0].starts_with("prctl(PR_CAPBSET_DROP, [CAP_CHOWN|CAP_DAC_OVERRIDE|"),
        "{r}"
    );
    assert!(lines[0].ends_with(") = 0"), "{r}");
    assert_eq!(
        lines[1],
        "capset({version=_LINUX_CAPABILITY_VERSION_3, pid=0}, {effective=CAP_KILL, permitted=CAP_KILL, inheritable=0}) = 0"
    );
    assert_eq!(
        lines[2],
        "prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, then PR_CAP_AMBIENT_RAISE, [0]) = 0"
    );
    assert_eq!(lines[3], "prctl(PR_SET_NO_NEW_PRIVS, 1) = 0");
    assert_eq!(
        lines[4],
        format!("seccomp(SECCOMP_SET_MODE_FILTER, 0, {{len={n}, filter=[…]}}) = 0")
    );
    assert!(
        lines[5].starts_with("seccomp(SECCOMP_SET_MODE_FILTER, 0, {len="),
        "{r}"
    );
    assert_eq!(lines.len(), 6, "{r}");
}

#[test]
fn caps_survive_setuid_in_the_documented_order() {
    let c = wharf::security::caps::with_changes(&[], &[]).unwrap();
    let keep = |keepcaps: bool| {
        let c = c.clone();
        in_child(move || {
            wharf::security::caps::drop_bounding(&c)?;
            wharf::sys::set_keepcaps(keepcaps, "test")?;
            wharf::sys::setresgid(1000, "test")?;
            wharf::sys::setresuid(1000, "test")?;
            let r = wharf::security::caps::set_sets(&c);
            let st = self_status()?;
            Ok(format!(
                "uid={} set_sets={} CapEff={}",
                status_field(&st, "Uid")
                    .split_whitespace()
                    .next()
                    .unwrap_or(""),
                r.is_ok(),
                status_field(&st, "CapEff")
            ))
        })
    };
    // With PR_SET_KEEPCAPS the permitted set survives setuid, and capset
    // raises the effective set again.
    assert_eq!(keep(true), "uid=1000 set_sets=true CapEff=00000000a80425fb");
    // Without it, setuid empties permitted and capset must fail.
    assert_eq!(
        keep(false),
        "uid=1000 set_sets=false CapEff=0000000000000000"
    );
}
