//! Chapter 04 judged from the kernel's side: the cgroup's own counters
//! (CPU usage, pids.events, memory oom_kill) read while the container runs,
//! /proc/PID/cgroup, and the cgroup filesystem after it exits. Runs on
//! hybrid hosts and, in the VM lane (tests/vm/), on pure cgroup v2.

mod common;
use common::*;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use wharf::probe::cgroup::{self, Cgroupfs, Dirs, Stats};

/// The host tag of this test's state root: its cgroups live under it.
fn tag(t: &TestRoot) -> String {
    wharf::paths::host_tag_for(t.path())
}

/// The directories of the cgroup ch04 makes for its process `pid`.
fn dirs_of(tag: &str, pid: u32) -> Dirs {
    Cgroupfs::system()
        .unwrap()
        .dirs(&Path::new(tag).join(format!("ch04-{pid}")))
}

/// Every `<hierarchy>/<tag>` directory there is (v2: `/sys/fs/cgroup/<tag>`).
fn tag_dirs(tag: &str) -> Vec<PathBuf> {
    let root = Path::new(cgroup::SYSTEM_ROOT);
    let mut bases = vec![root.to_path_buf()];
    bases.extend(cgroup::children(root).unwrap_or_default());
    bases
        .into_iter()
        .map(|b| b.join(tag))
        .filter(|d| d.is_dir())
        .collect()
}

fn assert_no_cgroup_left(tag: &str) {
    assert_eq!(
        tag_dirs(tag),
        Vec::<PathBuf>::new(),
        "cgroups of {tag} are left behind"
    );
}

/// ch04 running, its output collected by threads so it never blocks on a
/// full pipe; killed and reaped by the guard if the test fails first.
struct Running {
    guard: Reaped,
    out: JoinHandle<String>,
    err: JoinHandle<String>,
}

/// What ch04 printed and how it ended.
struct Ended {
    code: Option<i32>,
    out: String,
    err: String,
}

impl Running {
    fn start(t: &TestRoot, args: &[&str]) -> Running {
        let rootfs = t.rootfs();
        let mut child = t
            .cmd("ch04-cgroups")
            .args(["--rootfs", rootfs.to_str().unwrap()])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = read_all(child.stdout.take().unwrap());
        let err = read_all(child.stderr.take().unwrap());
        Running {
            guard: Reaped(child),
            out,
            err,
        }
    }

    fn pid(&self) -> u32 {
        self.guard.0.id()
    }

    fn running(&mut self) -> bool {
        self.guard.0.try_wait().unwrap().is_none()
    }

    fn end(mut self) -> Ended {
        let status = self.guard.0.wait().unwrap();
        Ended {
            code: status.code(),
            out: self.out.join().unwrap(),
            err: self.err.join().unwrap(),
        }
    }
}

fn read_all(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = pipe.read_to_string(&mut s);
        s
    })
}

/// Sample the cgroup's stats every 10 ms, while the container is in it,
/// until ch04 exits. Returns the samples with the time each was taken.
fn watch(run: &mut Running, dirs: &Dirs) -> Vec<(Instant, Stats)> {
    let procs = dirs.unique()[0].join("cgroup.procs");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut samples = Vec::new();
    while run.running() {
        assert!(Instant::now() < deadline, "ch04 did not finish in 60 s");
        let populated = std::fs::read_to_string(&procs)
            .map(|p| !p.trim().is_empty())
            .unwrap_or(false);
        if populated {
            samples.push((Instant::now(), cgroup::stats(dirs)));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    samples
}

#[test]
fn busy_loop_is_held_at_its_cpu_quota() {
    let t = TestRoot::new();
    let tag = tag(&t);
    let mut run = Running::start(&t, &["--cpus", "0.2", "--demo", "cpu"]);
    let dirs = dirs_of(&tag, run.pid());
    let samples = watch(&mut run, &dirs);
    let end = run.end();
    assert_eq!(end.code, Some(0), "{}", end.err);

    // The cgroup's own CPU counter over wall time, between a sample taken
    // 0.5 s in (start-up done) and the last one (the loop still spinning).
    let first = samples.first().expect("never saw the cgroup populated").0;
    let (t0, s0) = samples
        .iter()
        .find(|(at, _)| *at >= first + Duration::from_millis(500))
        .unwrap();
    let (t1, s1) = samples.last().unwrap();
    let wall = t1.duration_since(*t0).as_secs_f64();
    assert!(wall > 1.5, "window of {wall:.2}s is too short to judge");
    let (c0, c1) = (s0.cpu.unwrap(), s1.cpu.unwrap());
    let ratio = (c1.usage_us.unwrap() - c0.usage_us.unwrap()) as f64 / 1e6 / wall;
    // Tolerance ±0.05 CPUs (25 %). CFS bandwidth refills the quota (20 ms)
    // every 100 ms period, so a window whose ends cut periods can gain or
    // lose up to one quota at each end: 2 × 20 ms over ≥ 1.5 s ≈ ±0.027.
    // The kernel notices a spent quota only at the next tick or 5 ms
    // bandwidth slice, so a period can overrun by a few ms: up to +0.04 in
    // the worst period, far less on average. Unthrottled, the loop would
    // use a whole CPU (1.0), so this can fail.
    eprintln!("cpu ratio measured from the cgroup: {ratio:.3} over {wall:.2}s");
    assert!(
        (ratio - 0.2).abs() <= 0.05,
        "busy loop used {ratio:.3} CPUs under --cpus 0.2"
    );
    assert!(c1.nr_throttled > 0, "the kernel never throttled the loop");
    assert_eq!((c1.quota_us, c1.period_us), (Some(20_000), 100_000));
    // ch04's own report agrees.
    assert!(end.err.contains("(limit 0.20, throttled in"), "{}", end.err);
    assert_no_cgroup_left(&tag);
}

#[test]
fn fork_bomb_stops_at_the_pids_limit() {
    let t = TestRoot::new();
    let tag = tag(&t);
    let mut run = Running::start(&t, &["--pids-limit", "16", "--demo", "forkbomb"]);
    let dirs = dirs_of(&tag, run.pid());
    let samples = watch(&mut run, &dirs);
    let end = run.end();
    assert_eq!(end.code, Some(0), "{}", end.err);
    let pids: Vec<_> = samples.iter().filter_map(|(_, s)| s.pids).collect();
    assert!(!pids.is_empty(), "never saw the cgroup");
    assert!(pids.iter().all(|p| p.max == Some(16)), "pids.max is not 16");
    assert!(
        pids.iter().all(|p| p.current <= 16),
        "more tasks than the limit: {pids:?}"
    );
    // pids.events max: the kernel's count of forks it refused at the limit.
    let refused = pids.iter().map(|p| p.refused).max().unwrap();
    assert!(refused > 0, "the kernel refused no fork: {pids:?}");
    assert!(
        end.err
            .contains("at the limit of 16 tasks (pids.events max)"),
        "{}",
        end.err
    );
    assert_no_cgroup_left(&tag);
}

#[test]
fn oom_kill_is_detected() {
    let t = TestRoot::new();
    let tag = tag(&t);
    let end = Running::start(&t, &["--memory", "16m", "--demo", "oom"]).end();
    // Killed by SIGKILL, as the shell reports it: 128 + 9.
    assert_eq!(end.code, Some(137), "{}", end.err);
    assert!(
        end.err
            .contains("OOM-killed: the command outgrew the 16M memory limit"),
        "{}",
        end.err
    );
    assert!(end.err.contains("oom_kill = 1"), "{}", end.err);
    assert_no_cgroup_left(&tag);
}

#[test]
fn oom_kill_counter_rises_in_the_kernel() {
    let t = TestRoot::new();
    let tag = tag(&t);
    // tail is killed; the shell lives on for a second so we can read the
    // cgroup's counter ourselves before it is removed.
    let mut run = Running::start(
        &t,
        &[
            "--memory",
            "16m",
            "--",
            "/bin/sh",
            "-c",
            "tail /dev/zero; sleep 1",
        ],
    );
    let dirs = dirs_of(&tag, run.pid());
    let samples = watch(&mut run, &dirs);
    let end = run.end();
    assert_eq!(end.code, Some(0), "{}", end.err);
    let memory: Vec<_> = samples.iter().filter_map(|(_, s)| s.memory).collect();
    assert_eq!(
        memory.iter().map(|m| m.oom_kills).max(),
        Some(1),
        "memory oom_kill as the kernel counts it"
    );
    assert!(
        memory.iter().all(|m| m.limit == Some(16 << 20)),
        "{memory:?}"
    );
    assert!(
        end.err.contains("the command itself survived"),
        "{}",
        end.err
    );
    assert_no_cgroup_left(&tag);
}

#[test]
fn the_container_sees_its_cgroup_as_root() {
    let t = TestRoot::new();
    let tag = tag(&t);
    let run = Running::start(
        &t,
        &[
            "--pids-limit",
            "50",
            "--",
            "/bin/sh",
            "-c",
            "cat /proc/self/cgroup; exec sleep 30",
        ],
    );
    let sleep = wait_for_child(run.pid(), "sleep");
    // From the host, the container is in <tag>/ch04-<pid>, in the pids
    // hierarchy (v1) or the one tree (v2).
    let host_view = std::fs::read_to_string(format!("/proc/{sleep}/cgroup")).unwrap();
    let ours = format!("/{tag}/ch04-{}", run.pid());
    let line = host_view
        .lines()
        .find(|l| l.contains(":pids:") || l.starts_with("0::"))
        .unwrap();
    assert!(line.ends_with(&ours), "{host_view}");
    // PID 1 of a pid namespace ignores signals it has no handler for, but not SIGKILL.
    kill(Pid::from_raw(sleep as i32), Signal::SIGKILL).unwrap();
    let end = run.end();
    // Inside, its own cgroup namespace is rooted at that cgroup: every path is `/`.
    assert!(
        !end.out.is_empty() && end.out.lines().all(|l| l.ends_with(":/")),
        "{}",
        end.out
    );
    assert_no_cgroup_left(&tag);
}

#[test]
fn bad_limits_are_refused_before_anything_is_made() {
    let t = TestRoot::new();
    let tag = tag(&t);
    let rootfs = t.rootfs();
    let cases: [(&[&str], &str); 6] = [
        (
            &["--memory", "12XB"],
            "bad --memory \"12XB\": unknown unit \"XB\"",
        ),
        (&["--cpus", "-1"], "bad --cpus \"-1\": must be more than 0"),
        (&["--cpus", "lots"], "bad --cpus \"lots\": not a number"),
        (
            &["--pids-limit", "0"],
            "bad --pids-limit \"0\": must be at least 1",
        ),
        (&["--cpus", "1", "--cpu-quota", "5000"], "give only one"),
        (&["--cpu-period", "10"], "bad --cpu-period \"10\""),
    ];
    for (args, want) in cases {
        let mut all = vec!["--rootfs", rootfs.to_str().unwrap()];
        all.extend_from_slice(args);
        all.extend(["--", "/bin/true"]);
        let out = t.run("ch04-cgroups", &all);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line expected: {err}");
        assert!(
            err.starts_with("ch04-cgroups: error: ") && err.contains(want),
            "{args:?}: {err}"
        );
        assert_no_cgroup_left(&tag);
    }
}

#[test]
fn a_failing_command_leaves_no_cgroup() {
    let t = TestRoot::new();
    let tag = tag(&t);
    let rootfs = t.rootfs();
    let out = t.run(
        "ch04-cgroups",
        &[
            "--rootfs",
            rootfs.to_str().unwrap(),
            "--memory",
            "64m",
            "--",
            "/no/such/program",
        ],
    );
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    assert_no_cgroup_left(&tag);
}

#[test]
fn explain_transcript() {
    let t = TestRoot::new();
    let tag = tag(&t);
    let rootfs = t.rootfs();
    let args = [
        "--explain",
        "--cpus",
        "0.5",
        "--memory",
        "64m",
        "--pids-limit",
        "32",
        "--rootfs",
    ];
    let out = t
        .cmd("ch04-cgroups")
        .args(args)
        .arg(&rootfs)
        .args(["--", "/bin/true"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = redact(&stderr(&out), t.path());
    // The transcript differs with the host's cgroup layout.
    let mode = format!("{:?}", Cgroupfs::system().unwrap().mode).to_lowercase();
    insta::assert_snapshot!(format!("ch04_explain_{mode}"), text);
    assert_no_cgroup_left(&tag);
}

#[test]
fn a_stop_signal_reaches_the_container_and_cleanup_still_runs() {
    let t = TestRoot::new();
    let tag = tag(&t);
    let mut run = Running::start(&t, &["--pids-limit", "20", "--", "/bin/sleep", "30"]);
    let sleep = wait_for_child(run.pid(), "sleep");
    let parent = Pid::from_raw(run.pid() as i32);
    // The first SIGTERM is passed on as it is; PID 1 of the pid namespace
    // has no handler for it and ignores it. The second becomes SIGKILL.
    kill(parent, Signal::SIGTERM).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(run.running(), "ch04 ended on the first SIGTERM");
    assert!(
        std::path::Path::new(&format!("/proc/{sleep}")).exists(),
        "the container's sleep died of a signal it should ignore"
    );
    kill(parent, Signal::SIGTERM).unwrap();
    let end = run.end();
    assert_eq!(end.code, Some(137), "{}", end.err);
    assert!(
        end.err.contains("killed by SIGKILL"),
        "ch04 did not report the kill: {}",
        end.err
    );
    assert_no_cgroup_left(&tag);
}

#[test]
fn a_killed_lesson_takes_its_container_with_it() {
    let t = TestRoot::new();
    let run = Running::start(&t, &["--pids-limit", "20", "--", "/bin/sleep", "30"]);
    let sleep = wait_for_child(run.pid(), "sleep");
    // SIGKILL leaves ch04 no time to clean up; the kernel sends its child
    // the parent-death signal the child asked for (prctl PR_SET_PDEATHSIG).
    kill(Pid::from_raw(run.pid() as i32), Signal::SIGKILL).unwrap();
    let end = run.end();
    assert_eq!(end.code, None, "ch04 should have died of SIGKILL");
    let deadline = Instant::now() + Duration::from_secs(5);
    let alive = || {
        std::fs::read_to_string(format!("/proc/{sleep}/stat")).is_ok_and(|s| !s.contains(") Z "))
    };
    while alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !alive(),
        "the container's sleep {sleep} outlived its lesson"
    );
    // The cgroup is what an interrupted run leaves: `wharf reset` (run by
    // the TestRoot guard) removes it.
}

#[test]
fn the_chroot_escape_fails_here_too() {
    let t = TestRoot::new();
    let rootfs = t.rootfs();
    let run = Running::start(&t, &["--escape-demo", "--", "/bin/true"]);
    let end = run.end();
    assert_eq!(end.code, Some(0), "{}", end.err);
    let (host, own) = (
        std::fs::metadata("/").unwrap(),
        std::fs::metadata(&rootfs).unwrap(),
    );
    use std::os::unix::fs::MetadataExt;
    let landed = format!("/ is now dev={} ino={}", own.dev(), own.ino());
    assert!(end.out.contains(&landed), "{}", end.out);
    assert!(
        !end.out
            .contains(&format!("dev={} ino={}\n", host.dev(), host.ino())),
        "{}",
        end.out
    );
}

#[test]
fn exec_joins_the_containers_cgroups_and_namespaces() {
    let t = TestRoot::new();
    let tag = tag(&t);
    let run = Running::start(&t, &["--pids-limit", "30", "--", "/bin/sleep", "30"]);
    let target = wait_for_child(run.pid(), "sleep");
    // The exec'd sleep, seen from the host: in the target's cgroup (so its
    // pids count against the limit) and in each of the target's namespaces.
    let exec = t
        .cmd("ch04-cgroups")
        .args(["exec", &target.to_string(), "--", "/bin/sleep", "31"])
        .spawn()
        .unwrap();
    let exec_parent = exec.id();
    let _exec = Reaped(exec);
    let joined = wait_for_child(exec_parent, "sleep");
    let cgroup_of = |pid: u32| std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let ours = format!("/{tag}/ch04-{}", run.pid());
    let pids_line = |text: &str| {
        text.lines()
            .find(|l| l.contains(":pids:") || l.starts_with("0::"))
            .unwrap()
            .to_string()
    };
    assert!(
        pids_line(&cgroup_of(joined)).ends_with(&ours),
        "{}",
        cgroup_of(joined)
    );
    let procs = dirs_of(&tag, run.pid()).pids.unwrap().join("pids.current");
    let current: u32 = std::fs::read_to_string(procs)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        current >= 3,
        "pids.current {current}: the target, ch04 exec and its child"
    );
    for kind in ["mnt", "pid", "uts", "ipc", "net", "cgroup"] {
        assert_eq!(
            ns_link(&joined.to_string(), kind),
            ns_link(&target.to_string(), kind),
            "{kind}"
        );
    }
}

#[test]
fn exec_with_flags_for_a_new_container_is_refused() {
    let t = TestRoot::new();
    let new_flags = "exec enters a running container, with its namespaces and limits: give the flags for a new one without `exec`";
    for (args, want) in [
        (
            &["--cpus", "1", "exec", "1", "--", "/bin/true"][..],
            new_flags,
        ),
        (
            &["--hostname", "x", "exec", "1", "--", "/bin/true"],
            new_flags,
        ),
        (
            &["exec", "999999999", "--", "/bin/true"],
            "no process with pid 999999999: is the container still running?",
        ),
    ] {
        let out = t.run("ch04-cgroups", args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with(&format!("ch04-cgroups: error: {want}")),
            "{args:?}: {err}"
        );
    }
    assert_no_cgroup_left(&tag(&t));
}
