//! The monitor, from the kernel's side: it is a process of its own (no
//! wharf command waits for the container), small, the init's reaper, the
//! one that restarts `--restart on-failure:N` containers and sees OOM
//! kills; after kill -9 of it or of the CLI, `ps -a` tells the truth and
//! `rm`/`system prune` reclaim every directory, mount, cgroup and name;
//! and 50 `run -d` at once on one store all succeed.

mod common;
mod lifecycle_common;

use std::time::Duration;

use lifecycle_common::{monitor_pid, rss_kb, stdout, Life};

#[test]
fn the_monitor_is_the_inits_parent_small_and_apart_from_the_cli() {
    let l = Life::new();
    let id = l.ok(&["run", "-d", "box", "sleep", "100"]);
    let mon = monitor_pid(&l, &id);
    let init = l.inspect(&id)["State"]["Pid"].as_i64().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{init}/stat")).unwrap();
    let ppid: i64 = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        ppid, mon,
        "the init's parent is the monitor (its subreaper)"
    );
    let sid = |pid: i64| nix::unistd::getsid(Some(nix::unistd::Pid::from_raw(pid as i32))).unwrap();
    assert_ne!(
        sid(mon),
        sid(std::process::id() as i64),
        "the monitor has a session of its own"
    );
    let rss = rss_kb(mon);
    eprintln!("monitor VmRSS: {rss} kB");
    // Issue 12's target is 2 MiB for a release build; a debug build maps
    // more of its (much larger) binary. Either way no heap of note.
    assert!(rss > 0 && rss <= 4096, "monitor RSS {rss} kB");
    l.ok(&["rm", "-f", &id]);
    assert!(
        !std::path::Path::new(&format!("/proc/{mon}")).exists(),
        "the monitor left with its container"
    );
    assert_eq!(l.leftovers(), Vec::<String>::new());
}

#[test]
fn restart_on_failure_restarts_twice_then_stays_down() {
    let l = Life::new();
    let id = l.ok(&[
        "run",
        "-d",
        "--restart",
        "on-failure:2",
        "box",
        "sh",
        "-c",
        "echo run; exit 3",
    ]);
    l.until(20, "the third end", || l.state(&id) == "exited");
    let v = l.inspect(&id);
    assert_eq!(v["RestartCount"], 2, "{v}");
    assert_eq!(v["State"]["ExitCode"], 3);
    assert_eq!(l.ok(&["logs", &id]), "run\nrun\nrun");
    assert_eq!(l.ok(&["wait", &id]), "3");
    l.ok(&["rm", &id]);
    assert_eq!(l.leftovers(), Vec::<String>::new());
}

#[test]
fn an_oom_kill_is_recorded() {
    let l = Life::new();
    // The shell doubles a string until the 16 MiB limit's OOM killer ends it.
    let hog = "x=aaaaaaaa; while true; do x=$x$x; done";
    let out = l.wharf(&[
        "run", "--name", "hog", "--memory", "16m", "box", "sh", "-c", hog,
    ]);
    assert_eq!(
        out.status.code(),
        Some(137),
        "{}",
        lifecycle_common::stderr(&out)
    );
    let v = l.inspect("hog");
    assert_eq!(v["State"]["OOMKilled"], true, "{v}");
    assert_eq!(v["HostConfig"]["Memory"], 16 << 20);
    l.ok(&["rm", "hog"]);
    assert_eq!(l.leftovers(), Vec::<String>::new());
}

#[test]
fn after_kill_9_of_the_monitor_ps_tells_the_truth_and_rm_reclaims_all() {
    let l = Life::new();
    let id = l.ok(&["run", "-d", "--name", "orphan", "box", "sleep", "100"]);
    let mon = monitor_pid(&l, &id);
    let init = l.inspect("orphan")["State"]["Pid"].as_i64().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(mon as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    l.until(5, "the monitor's end", || {
        !std::path::Path::new(&format!("/proc/{mon}")).exists()
    });
    // The init lives on: still running, said to have no monitor.
    let ps = l.ok(&["ps"]);
    assert!(ps.contains("orphan") && ps.contains("(no monitor)"), "{ps}");
    assert_eq!(l.state("orphan"), "running");
    // Its init dies too: nobody saw the end, so it is dead, code unknown.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(init as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    l.until(5, "the init's end", || l.state("orphan") == "dead");
    assert_eq!(l.inspect("orphan")["State"]["ExitCode"], 255);
    l.ok(&["rm", "orphan"]);
    assert_eq!(l.leftovers(), Vec::<String>::new());
}

#[test]
fn after_kill_9_of_the_cli_at_any_phase_prune_reclaims_all() {
    let l = Life::new();
    // Kill `wharf run -d` at growing delays: before, during and after
    // each phase of create (name, dir, mount, record, monitor, start).
    for delay_ms in [0u64, 5, 10, 20, 40, 80, 160] {
        let mut child =
            l.t.cmd("wharf")
                .args(["run", "-d", "box", "sleep", "100"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
    }
    // What ps shows is what the kernel has: every running one has its init.
    for line in stdout(&l.wharf(&["ps", "-a", "--format", "json"])).lines() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let v = l.inspect(row["ID"].as_str().unwrap());
        if v["State"]["Status"] == "running" {
            let pid = v["State"]["Pid"].as_i64().unwrap();
            assert!(
                std::path::Path::new(&format!("/proc/{pid}")).exists(),
                "{v}"
            );
        }
    }
    let ids = l.ok(&["ps", "-a", "-q"]);
    for id in ids.split_whitespace() {
        l.ok(&["rm", "-f", id]);
    }
    l.ok(&["system", "prune", "-f"]);
    assert_eq!(l.leftovers(), Vec::<String>::new());
}

#[test]
fn fifty_detached_runs_at_once_all_succeed() {
    let l = Life::new();
    let children: Vec<_> = (0..50)
        .map(|_| {
            l.t.cmd("wharf")
                .args(["run", "-d", "box", "sleep", "100"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", lifecycle_common::stderr(&out));
        ids.insert(stdout(&out).trim().to_string());
    }
    assert_eq!(ids.len(), 50, "unique ids");
    let json = stdout(&l.wharf(&["ps", "--format", "json"]));
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|x| serde_json::from_str(x).unwrap())
        .collect();
    assert_eq!(rows.len(), 50);
    let names: std::collections::BTreeSet<_> =
        rows.iter().map(|r| r["Names"].to_string()).collect();
    assert_eq!(names.len(), 50, "unique names");
    assert!(rows.iter().all(|r| r["State"] == "running"));
    let all: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut args = vec!["rm", "-f"];
    args.extend(all);
    l.ok(&args);
    assert_eq!(l.leftovers(), Vec::<String>::new());
}
