//! Chapter 08's `--init`: the PID 1 problem, shown from the kernel's side
//! (process states in /proc, exit statuses), with and without the reaping
//! init.

mod common;

use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use common::{stderr, stdout, Reaped, TestRoot};

fn ch08(t: &TestRoot, flags: &[&str], script: &str) -> Output {
    common::sh_in(t, "ch08-security", flags, script)
}

/// ch08 started in the background, its stdout a pipe to us, killed and
/// reaped when dropped.
fn spawn(t: &TestRoot, flags: &[&str], script: &str) -> Reaped {
    t.rootfs();
    let child: Child = t
        .cmd("ch08-security")
        .args(flags)
        .args(["--", "/bin/sh", "-c", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ch08-security");
    Reaped(child)
}

/// Every process below `pid` (not itself), with its state letter from
/// /proc/PID/stat: `(pid, comm, state)`.
fn tree(pid: u32) -> Vec<(u32, String, char)> {
    let mut out = Vec::new();
    let mut todo = wharf::probe::procs::children(pid).unwrap_or_default();
    while let Some(p) = todo.pop() {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // `pid (comm) S ...`: comm may hold spaces, so split at the last ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let comm = head.split_once('(').map(|(_, c)| c).unwrap_or_default();
        let state = rest.trim_start().chars().next().unwrap_or('?');
        out.push((p, comm.to_string(), state));
        todo.extend(wharf::probe::procs::children(p).unwrap_or_default());
    }
    out
}

/// Wait until `f` holds on the container's process tree (up to 10 s).
fn wait_tree(
    pid: u32,
    what: &str,
    f: impl Fn(&[(u32, String, char)]) -> bool,
) -> Vec<(u32, String, char)> {
    let start = Instant::now();
    loop {
        let t = tree(pid);
        if f(&t) {
            return t;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no {what} below {pid} within 10 s: {t:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The orphan: a subshell starts `sleep 0.3` in the background and exits
/// at once, so the sleep is re-parented to the namespace's PID 1; then the
/// command becomes `sleep 30`, which never calls wait.
const ORPHAN: &str = "(sleep 0.3 &); exec sleep 30";

#[test]
fn without_init_an_orphan_stays_a_zombie_of_pid_1() {
    let t = TestRoot::new();
    let run = spawn(&t, &[], ORPHAN);
    let seen = wait_tree(run.0.id(), "zombie", |t| {
        t.iter().any(|(_, c, s)| c == "sleep" && *s == 'Z')
    });
    // The zombie's parent is the container's PID 1: the `sleep 30`.
    let init = seen.iter().find(|(_, _, s)| *s != 'Z').expect("PID 1");
    let zombie = seen.iter().find(|(_, _, s)| *s == 'Z').unwrap();
    let ppid = std::fs::read_to_string(format!("/proc/{}/stat", zombie.0)).unwrap();
    let ppid: u32 = ppid
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(ppid, init.0, "{seen:?}");
}

#[test]
fn with_init_the_orphan_is_reaped_and_no_zombie_is_left() {
    let t = TestRoot::new();
    let run = spawn(&t, &["--init"], ORPHAN);
    // Our init (a copy of ch08-security, never exec'd), and below it the
    // command, `sleep 30`.
    wait_tree(run.0.id(), "sleep 30 under the init", |t| {
        t.iter().any(|(_, c, _)| c == "ch08-security")
            && t.iter().any(|(_, c, s)| c == "sleep" && *s != 'Z')
    });
    // Once the orphan's 0.3 s are over, only the init and `sleep 30` are
    // left, no Z among them (a zombie the init failed to reap would stay,
    // and time this out). The command is `sleep` only after the subshell
    // has started the orphan, so this cannot hold before it existed.
    wait_tree(run.0.id(), "reaped orphan", |t| {
        let mut names: Vec<&str> = t.iter().map(|(_, c, _)| c.as_str()).collect();
        names.sort();
        names == ["ch08-security", "sleep"] && !t.iter().any(|(_, _, s)| *s == 'Z')
    });
}

/// Send SIGTERM to the ch08 process, as `docker stop` or a Ctrl-C would;
/// it passes the first one on to the container's init.
fn term(run: &Reaped) {
    // Let ch08 reach its wait, where it catches the signal to pass it on.
    std::thread::sleep(Duration::from_millis(200));
    let pid = nix::unistd::Pid::from_raw(run.0.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("kill");
}

/// The exit status of ch08, waited for up to `limit`.
fn ended_within(run: &mut Reaped, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(st) = run.0.try_wait().expect("try_wait") {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn sigterm_reaches_the_command_through_the_init_and_is_lost_without_it() {
    let t = TestRoot::new();
    // Without --init the shell is PID 1 and has no TERM handler: the
    // kernel drops the signal, and the container runs on.
    let mut bare = spawn(&t, &[], "sleep 30; exit 3");
    wait_tree(bare.0.id(), "sleep", |t| {
        t.iter().any(|(_, c, _)| c == "sleep")
    });
    term(&bare);
    assert_eq!(
        ended_within(&mut bare, Duration::from_secs(2)),
        None,
        "PID 1 died of a SIGTERM it has no handler for"
    );
    let sh = tree(bare.0.id());
    assert!(sh.iter().any(|(_, c, s)| c == "sh" && *s != 'Z'), "{sh:?}");
    // A second signal makes ch08 send SIGKILL, which PID 1 cannot ignore.
    term(&bare);
    let st = ended_within(&mut bare, Duration::from_secs(10)).expect("ended after SIGKILL");
    assert_eq!(st.code(), Some(137), "{st:?}");

    // With --init the same shell is PID 2: SIGTERM, passed on by the init,
    // kills it, and the init exits with 128 + 15.
    let mut init = spawn(&t, &["--init"], "sleep 30; exit 3");
    wait_tree(init.0.id(), "sleep", |t| {
        t.iter().any(|(_, c, _)| c == "sleep")
    });
    term(&init);
    let st =
        ended_within(&mut init, Duration::from_secs(10)).expect("the command did not get SIGTERM");
    assert_eq!(st.code(), Some(143), "{st:?}");
}

#[test]
fn a_signal_from_the_host_to_the_init_is_passed_on() {
    let t = TestRoot::new();
    // SIGUSR1's default action ends a process: the command dies of it.
    let mut run = spawn(&t, &["--init"], "sleep 30");
    let seen = wait_tree(run.0.id(), "sleep", |t| {
        t.iter().any(|(_, c, _)| c == "sleep")
    });
    let init = seen
        .iter()
        .find(|(_, c, _)| c == "ch08-security")
        .expect("the init")
        .0;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(init as i32),
        nix::sys::signal::Signal::SIGUSR1,
    )
    .unwrap();
    let st =
        ended_within(&mut run, Duration::from_secs(10)).expect("SIGUSR1 did not reach the command");
    assert_eq!(st.code(), Some(128 + libc::SIGUSR1), "{st:?}");
}

#[test]
fn the_init_exits_with_the_command_s_status() {
    let t = TestRoot::new();
    let out = ch08(&t, &["--init"], "echo pid=$$; exit 7");
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    // The command is PID 2: PID 1 is the init.
    assert_eq!(stdout(&out).trim(), "pid=2");
    let out = ch08(&t, &["--init"], "kill -KILL $$");
    assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
    let out = ch08(&t, &[], "echo pid=$$; exit 7");
    assert_eq!((out.status.code(), stdout(&out).trim()), (Some(7), "pid=1"));
}

#[test]
fn each_step_of_the_init_is_journaled() {
    let t = TestRoot::new();
    let out = ch08(&t, &["--init", "--explain=json"], "exit 5");
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let steps: Vec<serde_json::Value> = stderr(&out)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let calls: Vec<String> = steps
        .iter()
        .map(|s| {
            let args = s["args"].as_array().map(|a| a.len()).unwrap_or(0);
            format!("{}/{}", s["syscall"].as_str().unwrap_or(""), args)
        })
        .collect();
    let pos = |call: &str, args: &str| {
        steps
            .iter()
            .position(|s| {
                s["syscall"] == call
                    && s["args"].as_array().is_some_and(|a| {
                        a.iter()
                            .any(|x| x.as_str().is_some_and(|x| x.contains(args)))
                    })
            })
            .unwrap_or_else(|| panic!("no {call}({args}…) step in {calls:?}"))
    };
    let block = pos("rt_sigprocmask", "SIG_BLOCK");
    let fork = pos("clone", "flags=SIGCHLD");
    let wait = pos("rt_sigtimedwait", "TERM");
    let reap = pos("wait4", "-1");
    assert!(block < wait && wait < reap, "{calls:?}");
    assert!(
        steps[fork]["why"].as_str().unwrap().contains("PID 1"),
        "{:?}",
        steps[fork]
    );
    assert!(
        steps[reap]["kernel"]
            .as_str()
            .unwrap()
            .contains("exited with status 5"),
        "{:?}",
        steps[reap]
    );
}

/// Read the first line of ch08's stdout, then close the pipe (what
/// `| head -1` does): the status ch08 ends with, if within `limit`.
fn first_line_then_close(
    t: &TestRoot,
    flags: &[&str],
    script: &str,
    limit: Duration,
) -> (String, Option<std::process::ExitStatus>) {
    use std::io::BufRead;
    let mut run = spawn(t, flags, script);
    let mut first = String::new();
    std::io::BufReader::new(run.0.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    (first, ended_within(&mut run, limit))
}

/// The issue's `sh -c 'seq 1 100000' | head -1`, with the shell itself
/// as the writer (the rootfs has no seq). As PID 1 the kernel drops the
/// SIGPIPE its write raises — the write fails with EPIPE and the loop runs
/// on; under --init the shell is PID 2, dies of SIGPIPE, and the init
/// exits 128 + 13, as `docker run --init` does.
#[test]
fn a_command_killed_by_sigpipe_exits_141_under_init() {
    let t = TestRoot::new();
    let writer = "while :; do echo y; done";
    let (first, st) = first_line_then_close(&t, &["--init"], writer, Duration::from_secs(10));
    assert_eq!(first, "y\n");
    assert_eq!(st.and_then(|s| s.code()), Some(141), "{st:?}");
    let (first, st) = first_line_then_close(&t, &[], writer, Duration::from_secs(2));
    assert_eq!(first, "y\n");
    assert_eq!(
        st, None,
        "PID 1 died of SIGPIPE: the kernel should have dropped it"
    );
}

/// The init's part of the `--explain` transcript, from the first signal
/// it blocks to the command's status (the steps before it are chapter
/// 08's, in its own snapshot), renumbered from 1. The book shows it.
#[test]
fn explain_transcript_of_the_init() {
    let t = TestRoot::new();
    let out = ch08(
        &t,
        &["--init", "--explain", "--id", "snap", "--hostname", "box"],
        "exit 3",
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = common::redact(&stderr(&out), t.path());
    let from = text
        .find("rt_sigprocmask(SIG_BLOCK")
        .and_then(|i| text[..i].rfind('#'))
        .unwrap_or_else(|| panic!("no SIG_BLOCK step:\n{text}"));
    let to = text
        .find("wait for the container's command to end")
        .and_then(|i| text[..i].rfind('#'))
        .expect("the parent's wait4");
    // Numbered from the init's first step, so that a step more or less
    // before it (chapter 08's own) does not change this transcript.
    let part = &text[from..to];
    let first: u32 = part[1..].split(' ').next().unwrap().parse().unwrap();
    let renumbered = regex::Regex::new(r"(?m)^#(\d+)")
        .unwrap()
        .replace_all(part, |c: &regex::Captures| {
            format!("#{}", c[1].parse::<u32>().unwrap() - first + 1)
        });
    insta::assert_snapshot!("ch08_init_explain", renumbered);
}
