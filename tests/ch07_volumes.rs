//! Chapter 07 judged from the kernel's side: volume data on the host after
//! the container is gone, EROFS through a `:ro` mount, nothing of a volume
//! in the upper dir, no volume mount in the host's mountinfo, the init
//! layer's files inside and the image untouched, and each bad spec refused.

mod common;
use common::*;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use wharf::union::changes::fingerprint;

fn ch07(t: &TestRoot, args: &[&str], script: &str) -> Output {
    t.rootfs();
    t.cmd("ch07-volumes")
        .args(args)
        .args(["--", "/bin/sh", "-c", script])
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "failed: {}", stderr(out));
    stdout(out)
}

fn host_dir(t: &TestRoot, name: &str) -> PathBuf {
    let d = t.path().join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn named_volume_data_outlives_the_container() {
    let t = TestRoot::new();
    ok(&ch07(&t, &["-v", "keep:/data"], "echo kept > /data/f"));
    let data = t.path().join("volumes/keep/_data/f");
    assert_eq!(std::fs::read_to_string(&data).unwrap(), "kept\n");
    assert_eq!(
        std::fs::read_dir(t.path().join("containers"))
            .unwrap()
            .count(),
        0,
        "container dir left"
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.path().join("volumes/keep/volume.json")).unwrap())
            .unwrap();
    assert_eq!(
        meta["users"],
        serde_json::json!([]),
        "the container is still recorded as a user"
    );
    assert_eq!(
        ok(&ch07(&t, &["-v", "keep:/again"], "cat /again/f")),
        "kept\n"
    );
}

#[test]
fn a_read_only_volume_refuses_writes_with_erofs() {
    let t = TestRoot::new();
    let host = host_dir(&t, "ro-src");
    std::fs::write(host.join("in"), "seen\n").unwrap();
    let spec = format!("{}:/data:ro", host.display());
    let out = ch07(&t, &["-v", &spec], "cat /data/in; echo x > /data/out");
    assert!(!out.status.success());
    assert_eq!(stdout(&out), "seen\n");
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );
    assert!(!host.join("out").exists());
}

/// Mount a tmpfs at `dir` with `flags` (TestRoot unmounts it).
fn tmpfs_at(dir: &Path, flags: nix::mount::MsFlags) {
    std::fs::create_dir_all(dir).unwrap();
    nix::mount::mount(Some("tmpfs"), dir, Some("tmpfs"), flags, None::<&str>).unwrap();
}

#[test]
fn a_read_only_volume_is_read_only_in_its_submounts_and_keeps_their_locks() {
    use nix::mount::MsFlags;
    let t = TestRoot::new();
    // The host dir is a nosuid,nodev mount with a noexec tmpfs inside.
    let host = t.path().join("ro-tree");
    tmpfs_at(&host, MsFlags::MS_NOSUID | MsFlags::MS_NODEV);
    tmpfs_at(&host.join("sub"), MsFlags::MS_NOEXEC);
    std::fs::write(host.join("sub/in"), "seen\n").unwrap();
    let spec = format!("{}:/data:ro", host.display());
    let out = ch07(
        &t,
        &["-v", &spec],
        "cat /data/sub/in; cat /proc/self/mountinfo; echo x > /data/sub/out",
    );
    let err = stderr(&out);
    assert!(!out.status.success(), "the write succeeded: {err}");
    assert!(err.contains("Read-only file system"), "{err}");
    assert!(!host.join("sub/out").exists(), "the write reached the host");
    let text = stdout(&out);
    let (seen, info) = text.split_once('\n').unwrap();
    assert_eq!(seen, "seen");
    let rows = wharf::probe::mounts::parse(info).unwrap();
    let options = |target: &str| -> Vec<String> {
        let row = rows.iter().rev().find(|r| r.target == target);
        let row = row.unwrap_or_else(|| panic!("no mount at {target}:\n{info}"));
        row.options.split(',').map(str::to_string).collect()
    };
    for (target, kept) in [
        ("/data", ["nosuid", "nodev"]),
        ("/data/sub", ["noexec", "ro"]),
    ] {
        let o = options(target);
        assert!(
            o.contains(&"ro".to_string()),
            "{target} is not read-only: {o:?}"
        );
        for k in kept {
            assert!(o.contains(&k.to_string()), "{target} lost {k}: {o:?}");
        }
    }
}

#[test]
fn volume_content_is_not_in_the_upper_dir() {
    let t = TestRoot::new();
    let host = host_dir(&t, "bind-src");
    let spec = format!("{}:/bound", host.display());
    let args = [
        "--keep",
        "--keep-volumes",
        "--id",
        "v1",
        "-v",
        &spec,
        "-v",
        "/anon",
        "-v",
        "named1:/named",
    ];
    ok(&ch07(
        &t,
        &args,
        "for d in bound anon named; do echo data > /$d/file; done; echo layer > /in-layer",
    ));
    let upper = t.path().join("containers/v1/upper");
    assert_eq!(
        std::fs::read_to_string(upper.join("in-layer")).unwrap(),
        "layer\n"
    );
    for d in ["bound", "anon", "named"] {
        let mp = upper.join(d);
        assert!(mp.is_dir(), "mount point {d} missing");
        assert_eq!(
            std::fs::read_dir(&mp).unwrap().count(),
            0,
            "{d}'s content reached the upper dir"
        );
    }
    assert_eq!(
        std::fs::read_to_string(host.join("file")).unwrap(),
        "data\n"
    );
    assert_eq!(
        std::fs::read_to_string(t.path().join("volumes/named1/_data/file")).unwrap(),
        "data\n"
    );
}

#[test]
fn the_host_never_sees_the_volume_mounts() {
    let t = TestRoot::new();
    t.rootfs();
    let host = host_dir(&t, "src");
    let spec = format!("{}:/data", host.display());
    let mut child = t
        .cmd("ch07-volumes")
        .args([
            "--id", "h1", "-v", &spec, "-v", "/anon", "--", "/bin/sh", "-c",
        ])
        .arg("echo READY; read x")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut g = Reaped(child);
    let mut ready = String::new();
    out.read_line(&mut ready).unwrap();
    assert_eq!(ready, "READY\n", "the container did not start");
    // The container's shell, seen from the host, and its mount table.
    let pid = wait_for_child(g.0.id(), "sh") as i32;
    let inside = wharf::probe::mounts::rows(pid).unwrap();
    let at = |target: &str| inside.iter().find(|r| r.target == target);
    let data = at("/data").unwrap_or_else(|| panic!("no /data inside: {inside:#?}"));
    assert!(
        data.root.ends_with("/src"),
        "/data is not the host dir: {data:?}"
    );
    assert!(at("/anon").is_some(), "no /anon inside: {inside:#?}");
    // Our own mount table: nothing of the container, nothing on the host dir.
    let mine = t.path().join("containers/h1");
    let ours = wharf::probe::mounts::rows(std::process::id() as i32).unwrap();
    let leaked: Vec<_> = ours
        .iter()
        .filter(|r| Path::new(&r.target).starts_with(&mine) || Path::new(&r.target) == host)
        .collect();
    assert!(
        leaked.is_empty(),
        "the host sees container mounts: {leaked:#?}"
    );
    assert!(
        !ours
            .iter()
            .any(|r| r.target == "/data" || r.target == "/anon"),
        "a volume mount reached the host's table"
    );
    g.0.stdin.take().unwrap().write_all(b"\n").unwrap();
    assert!(g.0.wait().unwrap().success());
}

#[test]
fn the_init_layer_gives_each_container_its_own_files_and_leaves_the_image_alone() {
    let t = TestRoot::new();
    let base = t.rootfs();
    let before = fingerprint(&base).unwrap();
    let out = ch07(
        &t,
        &["--hostname", "box"],
        "cat /etc/hostname; cat /etc/hosts; echo other > /etc/hostname",
    );
    let text = ok(&out);
    assert!(text.starts_with("box\n"), "{text}");
    assert!(text.lines().any(|l| l == "127.0.1.1\tbox"), "{text}");
    let other = ok(&ch07(
        &t,
        &["--hostname", "two"],
        "cat /etc/hostname; test -f /etc/resolv.conf && echo resolv",
    ));
    assert_eq!(other, "two\nresolv\n");
    assert_eq!(
        fingerprint(&base).unwrap(),
        before,
        "the image layer changed"
    );
}

#[test]
fn anonymous_volumes_go_with_the_container_unless_kept() {
    let t = TestRoot::new();
    ok(&ch07(&t, &["-v", "/scratch"], "echo x > /scratch/f"));
    let count = || {
        std::fs::read_dir(t.path().join("volumes"))
            .map(|d| d.filter(|e| e.as_ref().unwrap().path().is_dir()).count())
            .unwrap_or(0)
    };
    assert_eq!(count(), 0, "the anonymous volume was not removed");
    ok(&ch07(
        &t,
        &["--keep-volumes", "-v", "/scratch"],
        "echo x > /scratch/f",
    ));
    assert_eq!(count(), 1, "the kept anonymous volume is gone");
}

/// A bad spec: non-zero, one line naming it, and the state root as it was.
fn refused(t: &TestRoot, spec: &str) -> String {
    t.rootfs();
    let listing = |p: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    };
    let before = listing(t.path());
    let out = ch07(t, &["-v", spec], "true");
    let err = stderr(&out);
    assert!(!out.status.success(), "accepted {spec}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert_eq!(
        listing(t.path()),
        before,
        "something was created for {spec}"
    );
    err
}

#[test]
fn a_relative_host_path_is_refused() {
    let t = TestRoot::new();
    let err = refused(&t, "relative/path:/x");
    assert!(
        err.contains("relative") && err.contains("absolute"),
        "{err}"
    );
}

#[test]
fn a_spec_with_extra_parts_is_refused() {
    let t = TestRoot::new();
    assert!(refused(&t, "/a:/b:rw:extra").contains("too many"));
}

#[test]
fn a_missing_host_path_is_refused() {
    let t = TestRoot::new();
    let missing = t.path().join("not-there");
    let err = refused(&t, &format!("{}:/x", missing.display()));
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn a_relative_container_path_is_refused() {
    let t = TestRoot::new();
    let host = host_dir(&t, "h");
    assert!(refused(&t, &format!("{}:data", host.display())).contains("not absolute"));
}

#[test]
fn explain_transcript() {
    let t = TestRoot::new();
    let host = host_dir(&t, "config");
    let spec = format!("{}:/config:ro", host.display());
    let args = [
        "--explain",
        "--id",
        "snap",
        "--hostname",
        "box",
        "-v",
        &spec,
        "-v",
        "snapvol:/data",
    ];
    let out = ch07(&t, &args, "echo hi > /data/f");
    ok(&out);
    insta::assert_snapshot!(
        snapshot_name("ch07_explain"),
        redact(&stderr(&out), t.path())
    );
}

/// Run ch07 with `script`, read the first line of its stdout and close the
/// read end (what `| head -1` does); its exit status, within 10 s.
fn first_line_then_close(t: &TestRoot, script: &str) -> (String, std::process::ExitStatus, String) {
    t.rootfs();
    let child = t
        .cmd("ch07-volumes")
        .args(["--", "/bin/sh", "-c", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut g = Reaped(child);
    let pid = g.0.id();
    let mut first = String::new();
    BufReader::new(g.0.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(s) = g.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "ch07 {pid} still runs 10 s after its reader left: the writer did not die of SIGPIPE"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(g.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    (first, status, err)
}

/// A writer inside the container dies of SIGPIPE when its reader leaves
/// (SIGPIPE is back at its default, not ignored as in the Rust parent), and
/// the 141 reaches the chapter's exit code. The writer here is a subshell,
/// pid 2 of the container's pid namespace.
#[test]
fn a_writer_killed_by_sigpipe_makes_the_container_exit_141() {
    let t = TestRoot::new();
    let (first, status, err) = first_line_then_close(&t, "(while :; do echo y; done); exit $?");
    assert_eq!(first, "y\n");
    assert_eq!(status.code(), Some(141), "{status:?}; stderr: {err}");
}

/// The form: the command itself is the writer. It is pid 1 of the
/// container's pid namespace, and the kernel drops a signal whose
/// disposition is SIG_DFL when it is sent to a namespace's init (SIGPIPE
/// included), so the shell spins on EPIPE forever. It needs an init that
/// runs the command as pid 2: chapter 08's `--init`, whose test
/// (tests/ch08_init.rs, a_command_killed_by_sigpipe_exits_141_under_init)
/// shows the 141. Chapter 07 has no init, so here it fails: ignored, loudly.
#[test]
#[ignore = "the command is pid 1 of its pid namespace: the kernel drops SIGPIPE (SIG_DFL) sent to an init; chapter 08's --init runs it as pid 2 and exits 141 (tests/ch08_init.rs)"]
fn a_command_killed_by_sigpipe_exits_141() {
    let t = TestRoot::new();
    let (first, status, err) = first_line_then_close(&t, "while :; do echo y; done");
    assert_eq!(first, "y\n");
    assert_eq!(status.code(), Some(141), "{status:?}; stderr: {err}");
}

/// Inside, the command starts with no signal ignored or blocked, and sees
/// only 0, 1, 2 (and the fd `ls` opens for /proc/self/fd) even when whoever
/// started the chapter left a descriptor open without CLOEXEC.
#[test]
fn the_command_starts_with_default_signals_and_only_fds_0_1_2() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let t = TestRoot::new();
    t.rootfs();
    let (keep_r, keep_w) = nix::unistd::pipe().unwrap();
    let w = keep_w.as_raw_fd();
    // The commands themselves, exec'd by the child (a shell in between may
    // change its own signals): cat reads its status, ls lists its fds.
    let run = |argv: &[&str]| {
        let mut cmd = t.cmd("ch07-volumes");
        cmd.arg("--").args(argv);
        // SAFETY: only async-signal-safe calls (dup2) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc_dup2(w, 5) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        ok(&cmd.output().unwrap())
    };
    let status = run(&["/bin/cat", "/proc/self/status"]);
    assert!(status.contains("SigBlk:\t0000000000000000"), "{status}");
    assert!(status.contains("SigIgn:\t0000000000000000"), "{status}");
    let text = run(&["/bin/ls", "/proc/self/fd"]);
    drop((keep_r, keep_w));
    let fds: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(
        fds,
        ["0", "1", "2", "3"],
        "only 0-2 and ls's own directory fd may be open inside (fd 5 of the starter must not reach it):\n{text}"
    );
}

/// dup2 without CLOEXEC (what a careless shell or supervisor leaves open).
fn libc_dup2(old: i32, new: i32) -> i32 {
    // nix's dup2 wants owned fds; the raw call is what we mean here.
    unsafe extern "C" {
        fn dup2(oldfd: i32, newfd: i32) -> i32;
    }
    unsafe { dup2(old, new) }
}
