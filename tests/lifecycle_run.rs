//! `wharf run` and the container lifecycle, end to end on the real
//! kernel: exit codes as Docker's, a detached container's life (ps, logs,
//! exec, pause, stop, start, restart, wait, rm) judged from the kernel's
//! side (its init's namespaces, the overlay in mountinfo, the freezer),
//! and bad input refused with one line and nothing left behind.

mod common;
mod lifecycle_common;

use lifecycle_common::{stderr, stdout, Life};

fn code(l: &Life, args: &[&str]) -> (i32, String, String) {
    let out = l.wharf(args);
    (out.status.code().unwrap_or(-1), stdout(&out), stderr(&out))
}

#[test]
fn exit_codes_are_dockers() {
    let l = Life::new();
    let (c, out, _) = code(&l, &["run", "--rm", "box", "echo", "hello"]);
    assert_eq!((c, out.as_str()), (0, "hello\n"));
    assert_eq!(code(&l, &["run", "--rm", "box", "sh", "-c", "exit 3"]).0, 3);
    // The container's own code passes through, also 128+N of a signal
    // (the inner sh: pid 1 itself cannot be killed from inside).
    let kill9 = "sh -c 'kill -9 $$'; exit $?";
    assert_eq!(code(&l, &["run", "--rm", "box", "sh", "-c", kill9]).0, 137);
    let pipe = "sh -c 'kill -PIPE $$'; exit $?";
    assert_eq!(code(&l, &["run", "--rm", "box", "sh", "-c", pipe]).0, 141);
    let (c, _, err) = code(&l, &["run", "--rm", "box", "no-such-cmd"]);
    assert_eq!(c, 127, "{err}");
    assert!(
        err.contains("command not found") && err.lines().count() == 1,
        "{err}"
    );
    let (c, _, err) = code(&l, &["run", "--rm", "box", "/etc/hostname"]);
    assert_eq!(c, 126, "{err}");
    let (c, _, err) = code(&l, &["run", "--rm", "no-such-image", "true"]);
    assert_eq!(c, 125, "{err}");
    assert!(
        err.contains("Unable to find image 'no-such-image'"),
        "{err}"
    );
    // `wharf kill` from outside ends the init with SIGKILL: 137.
    let id = l.ok(&["run", "-d", "box", "sleep", "100"]);
    l.ok(&["kill", &id]);
    assert_eq!(l.ok(&["wait", &id]), "137");
    l.ok(&["rm", &id]);
    assert_eq!(l.leftovers(), Vec::<String>::new());
}

#[test]
fn stdin_goes_through_with_i_and_env_user_workdir_apply() {
    let l = Life::new();
    let mut child =
        l.t.cmd("wharf")
            .args([
                "run",
                "--rm",
                "-i",
                "box",
                "sh",
                "-c",
                "read x; echo got:$x",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"ping\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got:ping\n");
    let script = "echo $GREETING; pwd; id -u; id -g";
    let out = l.ok(&[
        "run",
        "--rm",
        "-e",
        "GREETING=hi",
        "-w",
        "/tmp",
        "-u",
        "4242:4343",
        "box",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(out, "hi\n/tmp\n4242\n4343");
    assert_eq!(l.leftovers(), Vec::<String>::new());
}

#[test]
fn a_detached_container_lives_and_is_removed_without_a_trace() {
    let l = Life::new();
    let script = "echo to-out; echo to-err >&2; exec sleep 1000";
    let id = l.ok(&["run", "-d", "--name", "web", "box", "sh", "-c", script]);
    assert_eq!(id.len(), 64, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    let ps = l.ok(&["ps"]);
    assert!(ps.starts_with("CONTAINER ID"), "{ps}");
    assert!(
        ps.contains(&id[..12]) && ps.contains("web") && ps.contains("Up "),
        "{ps}"
    );

    // The kernel's view: an init in namespaces of its own, on the overlay.
    let v = l.inspect("web");
    let pid = v["State"]["Pid"].as_i64().unwrap();
    assert!(pid > 0 && v["State"]["Running"] == true, "{v}");
    for ns in ["pid", "mnt", "uts", "net", "ipc"] {
        let ours = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap();
        assert_ne!(ours, theirs, "{ns} namespace is shared with the host");
    }
    let merged = v["GraphDriver"]["Data"]["MergedDir"]
        .as_str()
        .unwrap()
        .to_string();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        mounts
            .lines()
            .any(|m| m.contains(&format!(" {merged} ")) && m.contains(" overlay ")),
        "no overlay at {merged}"
    );

    // Logs, on the stream each line was written to.
    l.until(5, "the logs", || l.ok(&["logs", "web"]).contains("to-out"));
    let logs = l.wharf(&["logs", "web"]);
    assert_eq!(stdout(&logs), "to-out\n");
    assert_eq!(stderr(&logs), "to-err\n");
    let ts = l.wharf(&["logs", "-t", "--tail", "1", "web"]);
    assert_eq!(stdout(&ts), "", "--tail 1 is the last line only (stderr's)");
    assert!(
        stderr(&ts).trim_end().ends_with("Z to-err"),
        "{}",
        stderr(&ts)
    );
    let ts = l.ok(&["logs", "-t", "web"]);
    assert!(ts.starts_with("20") && ts.ends_with("Z to-out"), "{ts}");

    // exec joins the container: its hostname (the short id) and pid namespace.
    assert_eq!(l.ok(&["exec", "web", "cat", "/etc/hostname"]), &id[..12]);
    let exec_ns = l.ok(&["exec", "web", "readlink", "/proc/self/ns/pid"]);
    assert_eq!(
        exec_ns,
        std::fs::read_link(format!("/proc/{pid}/ns/pid"))
            .unwrap()
            .to_string_lossy()
    );
    assert_eq!(
        l.wharf(&["exec", "web", "sh", "-c", "exit 7"])
            .status
            .code(),
        Some(7)
    );

    // pause: the kernel freezes the cgroup; the init's state is stopped (T) or frozen.
    l.ok(&["pause", "web"]);
    assert_eq!(l.state("web"), "paused");
    assert!(l.ok(&["ps"]).contains("(Paused)"));
    l.ok(&["unpause", "web"]);
    assert_eq!(l.state("web"), "running");

    // stop: sleep as pid 1 ignores SIGTERM, so SIGKILL after -t.
    l.ok(&["stop", "-t", "1", "web"]);
    assert_eq!(l.state("web"), "exited");
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(l.inspect("web")["State"]["ExitCode"], 137);
    assert!(!l.ok(&["ps"]).contains("web"));
    assert!(l.ok(&["ps", "-a"]).contains("Exited (137)"));
    assert_eq!(l.ok(&["ps", "-a", "-q", "-f", "status=exited"]), &id[..12]);

    // start again: the same root, a new init.
    l.ok(&["start", "web"]);
    assert_eq!(l.state("web"), "running");
    let pid2 = l.inspect("web")["State"]["Pid"].as_i64().unwrap();
    assert_ne!(pid, pid2);
    l.ok(&["restart", "-t", "1", "web"]);
    let pid3 = l.inspect("web")["State"]["Pid"].as_i64().unwrap();
    assert_ne!(pid2, pid3);
    assert_eq!(l.state("web"), "running");

    // rm of a running one needs -f; then nothing is left.
    let (c, _, err) = code(&l, &["rm", "web"]);
    assert_eq!(c, 125);
    assert!(err.contains("stop it first, or use rm -f"), "{err}");
    l.ok(&["rm", "-f", "web"]);
    assert!(!std::path::Path::new(&format!("/proc/{pid3}")).exists());
    assert_eq!(l.leftovers(), Vec::<String>::new());
    assert_eq!(l.ok(&["ps", "-a", "-q"]), "");
}

#[test]
fn create_then_start_attached_and_inspect() {
    let l = Life::new();
    let id = l.ok(&["create", "--name", "later", "box", "echo", "from-create"]);
    assert_eq!(l.state("later"), "created");
    assert!(l.ok(&["ps", "-a"]).contains("Created"));
    let out = l.wharf(&["start", "-a", "later"]);
    assert_eq!(
        (out.status.code(), stdout(&out).as_str()),
        (Some(0), "from-create\n")
    );
    let v = l.inspect(&id[..5]);
    assert_eq!(v["Name"], "/later");
    assert_eq!(v["Path"], "echo");
    assert_eq!(v["Args"][0], "from-create");
    assert_eq!(v["State"]["Status"], "exited");
    assert_eq!(v["State"]["ExitCode"], 0);
    assert!(v["State"]["FinishedAt"].as_str().unwrap().ends_with('Z'));
    let upper = v["GraphDriver"]["Data"]["UpperDir"].as_str().unwrap();
    assert!(std::path::Path::new(upper).is_dir());
    assert!(v["ImageDigest"].as_str().unwrap().starts_with("sha256:"));
    l.ok(&["container", "prune", "-f"]);
    assert_eq!(l.leftovers(), Vec::<String>::new());
}

#[test]
fn bad_input_is_one_line_dockers_code_and_nothing_left() {
    let l = Life::new();
    let one_line = |args: &[&str], want: &str| {
        let (c, _, err) = code(&l, args);
        assert_eq!(c, 125, "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line:\n{err}");
        assert!(err.contains(want), "{args:?}: {want:?} not in {err:?}");
    };
    one_line(&["rm", "nothing-here"], "no such container: nothing-here");
    one_line(&["logs", "nothing-here"], "no such container");
    one_line(&["exec", "nothing-here", "true"], "no such container");
    one_line(
        &["run", "--rm", "-u", "ghost", "box", "true"],
        "unable to find user ghost",
    );
    one_line(
        &["run", "--rm", "--restart", "sometimes", "box", "true"],
        "invalid restart policy",
    );
    one_line(
        &["run", "--rm", "--memory", "lots", "box", "true"],
        "invalid --memory",
    );
    one_line(
        &["run", "--rm", "--cap-add", "CAP_NOPE", "box", "true"],
        "CAP_NOPE",
    );
    one_line(
        &["run", "--rm", "--name", "a/b", "box", "true"],
        "invalid container name",
    );
    assert_eq!(l.leftovers(), Vec::<String>::new());

    let id = l.ok(&["run", "-d", "--name", "taken", "box", "sleep", "100"]);
    one_line(
        &["run", "--name", "taken", "box", "true"],
        "is already in use by container",
    );
    one_line(&["start", "taken"], "is already running");
    // An image a container stands on is not removed without -f.
    let rmi = l.wharf(&["rmi", "box"]);
    assert!(!rmi.status.success());
    assert!(
        stderr(&rmi).contains("container") && stderr(&rmi).contains("is using it"),
        "{}",
        stderr(&rmi)
    );
    assert!(l.ok(&["images"]).contains("box"));
    l.ok(&["stop", "-t", "0", "taken"]);
    one_line(&["exec", "taken", "true"], "is not running");
    l.ok(&["rm", &id]);
    assert_eq!(l.leftovers(), Vec::<String>::new());
}
