//! `wharf rootfs create`, judged from the kernel's side: the host's own
//! chroot(8) enters the new tree and the kernel must find and run every
//! program, its loader and its libraries there.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{stderr, stdout, TestRoot};

const DEFAULTS: &[&str] = wharf::rootfs::DEFAULT_PROGRAMS;

/// Run `sh -c script` inside `dir` through the host's chroot(8).
fn in_root(dir: &Path, script: &str) -> Output {
    Command::new("/usr/sbin/chroot")
        .arg(dir)
        .args(["/bin/sh", "-c", script])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .expect("spawn chroot")
}

fn create(t: &TestRoot, dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["rootfs", "create", dir.to_str().unwrap()];
    args.extend(extra);
    t.run("wharf", &args)
}

fn created(t: &TestRoot, dir: &Path, extra: &[&str]) -> String {
    let out = create(t, dir, extra);
    assert!(
        out.status.success(),
        "rootfs create {extra:?} failed: {}",
        stderr(&out)
    );
    stdout(&out)
}

/// A failure is one line on stderr, naming the problem.
fn one_line_failure(out: &Output, needle: &str) {
    assert!(
        !out.status.success(),
        "expected a failure, got success: {}",
        stdout(out)
    );
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "want one error line, got: {err}");
    assert!(
        err.contains(needle),
        "error line should mention {needle:?}: {err}"
    );
}

/// The names in `dir`, to show that a failure left nothing behind.
fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// Each default program, run inside the root the way a container would:
/// the kernel must load it, its loader and every library from the tree.
/// `exec` makes the shell run the program file, not its builtin of the
/// same name. (program, script, what the output must contain)
const RUNS: &[(&str, &str, &str)] = &[
    ("sh", "exec sh -c 'echo from-sh'", "from-sh"),
    ("ls", "exec ls /", "etc"),
    ("cat", "exec cat /etc/hostname", "wharf"),
    ("echo", "exec echo hello", "hello"),
    ("id", "exec id -u", "0"),
    ("uname", "exec uname -s", "Linux"),
    ("tail", "exec tail -n 1 /etc/passwd", "nobody"),
    ("mkdir", "mkdir /tmp/t && touch /tmp/t/f && stat -c %F /tmp/t/f && rm -r /tmp/t && [ ! -e /tmp/t ] && echo gone", "empty file\ngone"),
    ("readlink", "exec readlink /dev/stdin", "/proc/self/fd/0"),
    ("env", "exec env", "PATH="),
    ("sleep", "exec sleep 0", ""),
    ("true", "exec true", ""),
    ("hostname", "exec hostname", ""),
];

fn check_programs_run(dir: &Path) {
    for (prog, script, want) in RUNS {
        let out = in_root(dir, script);
        assert!(
            out.status.success(),
            "{prog}: `{script}` failed inside the rootfs: {}",
            stderr(&out)
        );
        assert!(
            stdout(&out).contains(want),
            "{prog}: {:?} lacks {want:?}",
            stdout(&out)
        );
    }
    // These need /proc, which only a container mounts; here it is enough
    // that the kernel could load them (126/127: not executable / not found).
    for prog in ["ps", "mount", "umount", "false"] {
        let out = in_root(dir, &format!("exec {prog}"));
        let code = out.status.code().unwrap_or(-1);
        assert!(
            code != 126 && code != 127,
            "{prog} could not be run inside the rootfs ({code}): {}",
            stderr(&out)
        );
        assert!(
            !stderr(&out).contains("error while loading shared libraries"),
            "{prog}: {}",
            stderr(&out)
        );
    }
    let covered: Vec<&str> = RUNS
        .iter()
        .map(|r| r.0)
        .chain(["ps", "mount", "umount", "false", "touch", "stat", "rm"])
        .collect();
    for name in DEFAULTS {
        assert!(
            covered.contains(name),
            "default program {name} is not exercised by this test"
        );
    }
}

/// Every default program is an executable file somewhere on PATH inside.
fn check_every_default_present(dir: &Path) {
    let script = format!(
        "for p in {}; do found=; for d in /usr/sbin /usr/bin /sbin /bin; do [ -x $d/$p ] && found=1; done; [ $found ] || echo missing $p; done",
        DEFAULTS.join(" ")
    );
    let out = in_root(dir, &script);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "programs missing inside the rootfs");
}

#[test]
fn host_programs_run_inside_the_rootfs() {
    let t = TestRoot::new();
    let dir = t.path().join("host");
    let summary = created(&t, &dir, &["--source", "host"]);
    assert!(summary.contains("created from host programs"), "{summary}");
    assert!(
        summary.contains(&format!("programs:  {} (", DEFAULTS.len())),
        "{summary}"
    );

    let out = in_root(&dir, "ls / && id -u && echo ok");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for line in ["bin", "dev", "etc", "proc", "tmp", "0", "ok"] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in {text}"
        );
    }
    check_every_default_present(&dir);
    check_programs_run(&dir);

    // The loader the host's ls names is in the tree, at the same path.
    let ls = std::fs::read("/bin/ls").unwrap();
    let interp = goblin::elf::Elf::parse(&ls)
        .unwrap()
        .interpreter
        .unwrap()
        .to_string();
    let inside = in_root(&dir, &format!("[ -e {interp} ] && echo loader-present"));
    assert_eq!(stdout(&inside).trim(), "loader-present");
}

#[test]
fn the_skeleton_has_devices_tmp_and_users() {
    let t = TestRoot::new();
    let dir = t.path().join("skel");
    created(&t, &dir, &["--source", "host"]);
    // The device nodes are real character devices with the host's numbers.
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        let m = std::fs::symlink_metadata(dir.join("dev").join(name)).unwrap();
        assert_eq!(
            m.mode() & 0o170000,
            0o020000,
            "{name} is not a character device"
        );
        assert_eq!(m.mode() & 0o777, 0o666, "{name}");
        assert_eq!(
            (libc_major(m.rdev()), libc_minor(m.rdev())),
            (major, minor),
            "{name}"
        );
    }
    assert_eq!(
        std::fs::metadata(dir.join("tmp")).unwrap().mode() & 0o7777,
        0o1777
    );
    let out = in_root(&dir, "echo data > /dev/null && ! (echo data > /dev/full) 2>/dev/null && id -un && cat /etc/hostname");
    assert_eq!(stdout(&out), "root\nwharf\n", "{}", stderr(&out));
    // Merged /usr: /bin is the same symlink as on the host, not a copy.
    if let Ok(target) = std::fs::read_link("/bin") {
        assert_eq!(std::fs::read_link(dir.join("bin")).unwrap(), target);
    }
}

fn libc_major(dev: u64) -> u64 {
    nix::sys::stat::major(dev)
}

fn libc_minor(dev: u64) -> u64 {
    nix::sys::stat::minor(dev)
}

/// busybox on the host, as `--source auto` would find it.
fn host_busybox() -> PathBuf {
    ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join("busybox"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("this test needs busybox on the host: run `apt-get install busybox-static` (or busybox), then rerun")
        })
}

#[test]
fn busybox_rootfs_links_every_command_to_one_binary() {
    let t = TestRoot::new();
    let bb = host_busybox();
    let dir = t.path().join("bb");
    let summary = created(&t, &dir, &["--source", "busybox"]);
    assert!(summary.contains("created from busybox"), "{summary}");

    // Every command is the same inode as busybox: the kernel execs one file.
    let inside_bb = bb.to_str().unwrap();
    let out = in_root(
        &dir,
        &format!(
            "stat -L -c %i {inside_bb} $(for p in {}; do echo /bin/$p; done)",
            DEFAULTS.join(" ")
        ),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let inodes: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    assert_eq!(inodes.len(), DEFAULTS.len() + 1);
    assert!(
        inodes.iter().all(|i| *i == inodes[0]),
        "not all commands are busybox: {inodes:?}"
    );
    // No host program was copied besides busybox (its libraries at most).
    assert!(!dir.join("usr/bin/dash").exists() && !dir.join("bin/dash").exists());

    // A dynamic busybox brings its loader; a static one needs nothing else.
    let bytes = std::fs::read(&bb).unwrap();
    let elf = goblin::elf::Elf::parse(&bytes).unwrap();
    let libs = summary
        .lines()
        .find(|l| l.contains("libraries:"))
        .unwrap()
        .to_string();
    match elf.interpreter {
        Some(interp) => {
            assert!(!libs.ends_with(" 0"), "{libs}");
            assert!(
                in_root(&dir, &format!("[ -e {interp} ]")).status.success(),
                "{interp} missing"
            );
        }
        None => assert!(
            libs.ends_with(" 0"),
            "a static busybox needs no libraries: {libs}"
        ),
    }
    check_programs_run(&dir);
}

#[test]
fn with_adds_a_host_program_and_its_libraries() {
    let t = TestRoot::new();
    let dir = t.path().join("with");
    created(
        &t,
        &dir,
        &[
            "--source",
            "host",
            "--with",
            "head",
            "--with",
            "/usr/bin/wc",
        ],
    );
    let out = in_root(&dir, "head -n 1 /etc/passwd | wc -l");
    assert_eq!(stdout(&out).trim(), "1", "{}", stderr(&out));
}

#[test]
fn with_a_missing_program_fails_and_leaves_nothing() {
    let t = TestRoot::new();
    let dir = t.path().join("missing");
    let before = listing(t.path());
    let out = create(&t, &dir, &["--with", "wharf-no-such-program"]);
    one_line_failure(
        &out,
        "--with wharf-no-such-program: this host has no such program",
    );
    assert!(!dir.exists());
    assert_eq!(
        listing(t.path()),
        before,
        "a failed create left files behind"
    );
}

#[test]
fn a_file_where_dir_should_be_is_refused() {
    let t = TestRoot::new();
    let file = t.path().join("afile");
    std::fs::write(&file, "keep me").unwrap();
    for extra in [&[][..], &["--force"][..]] {
        let out = create(&t, &file, extra);
        one_line_failure(&out, "exists and is not a directory");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    }
}

#[test]
fn an_existing_directory_is_replaced_only_if_wharf_made_it() {
    let t = TestRoot::new();
    let other = t.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("precious"), "x").unwrap();
    one_line_failure(&create(&t, &other, &[]), "pass --force");
    one_line_failure(
        &create(&t, &other, &["--force"]),
        "was not made by `wharf rootfs create`",
    );
    assert_eq!(listing(&other), vec![other.join("precious")]);

    let dir = t.path().join("ours");
    created(&t, &dir, &["--source", "host"]);
    std::fs::write(dir.join("tmp/leftover"), "x").unwrap();
    one_line_failure(&create(&t, &dir, &[]), "pass --force");
    assert!(dir.join("tmp/leftover").exists());
    created(&t, &dir, &["--source", "host", "--force"]);
    assert!(
        !dir.join("tmp/leftover").exists(),
        "--force kept the old tree"
    );
    assert!(in_root(&dir, "true").status.success());
}

#[test]
fn force_refuses_a_rootfs_with_something_mounted_in_it() {
    let t = TestRoot::new();
    let dir = t.path().join("busy");
    created(&t, &dir, &["--source", "host"]);
    let target = dir.join("tmp");
    // Our own tmpfs; TestRoot's Drop unmounts it even if this test fails.
    nix::mount::mount(
        Some("tmpfs"),
        &target,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    std::fs::write(target.join("in-the-mount"), "x").unwrap();
    one_line_failure(&create(&t, &dir, &["--force"]), "is a mount point");
    assert!(
        target.join("in-the-mount").exists(),
        "--force deleted files inside a mount"
    );
}

#[test]
fn builtin_rootfs_survives_a_race() {
    let t = TestRoot::new();
    // Four processes build the same DIR at once: exactly one wins, the
    // others fail cleanly, and no staging directory is left behind.
    let dir = t.path().join("raced");
    let children: Vec<_> = (0..4)
        .map(|_| {
            t.cmd("wharf")
                .args([
                    "rootfs",
                    "create",
                    dir.to_str().unwrap(),
                    "--source",
                    "host",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let wins = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .filter(|o| o.status.success())
        .count();
    assert_eq!(wins, 1);
    assert_eq!(listing(t.path()), vec![dir.clone()]);
    assert!(in_root(&dir, "ls / >/dev/null").status.success());

    // The library call is idempotent and race-safe across threads too.
    std::env::set_var("WHARF_ROOT", t.path());
    let threads: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(wharf::rootfs::ensure_builtin))
        .collect();
    let paths: Vec<PathBuf> = threads
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    assert!(paths.iter().all(|p| *p == t.path().join("rootfs")));
    assert!(in_root(&paths[0], "ls / >/dev/null").status.success());
    let staging = listing(t.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("staging"))
        .count();
    assert_eq!(staging, 0);
}

#[test]
fn a_failure_halfway_through_leaves_nothing() {
    let t = TestRoot::new();
    // A copy of ls whose DT_NEEDED names a library no host has: the build
    // gets as far as copying programs before it finds out.
    let prog = t.path().join("broken-ls");
    let mut bytes = std::fs::read("/bin/ls").unwrap();
    let at = bytes.windows(10).position(|w| w == b"libc.so.6\0").unwrap();
    bytes[at + 3] = b'q';
    std::fs::write(&prog, bytes).unwrap();
    std::fs::set_permissions(&prog, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let dir = t.path().join("half");
    let before = listing(t.path());
    let out = create(
        &t,
        &dir,
        &["--source", "host", "--with", prog.to_str().unwrap()],
    );
    one_line_failure(&out, "broken-ls needs libq.so.6");
    assert!(!dir.exists());
    assert_eq!(
        listing(t.path()),
        before,
        "a failed create left files behind"
    );
}
