//! wharf-oci's command line as runc's, judged from the kernel's side: the
//! pid file, list and ps, pause/resume on the freezer, update of the
//! cgroup's limits, kill --all, exec into the init's namespaces and cgroup
//! with its hardening, the terminal over --console-socket, preserved
//! descriptors, sysctl and oomScoreAdj, device rules, hooks, and the
//! --log file's json lines.

mod common;
mod oci_common;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;

use oci_common::{eventually, stderr, stdout, Oci};

#[test]
fn version_names_the_spec_and_features_say_what_is_implemented() {
    let o = Oci::new(&["/bin/true"], |_| {});
    let out = o.oci(&["--version"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("spec: 1.0.2"), "{}", stdout(&out));
    let f: serde_json::Value = serde_json::from_str(&stdout(&o.oci(&["features"]))).unwrap();
    assert_eq!(f["ociVersionMax"], "1.0.2");
    assert_eq!(f["hooks"].as_array().unwrap().len(), 6);
    for ns in ["pid", "mount", "network", "user", "cgroup"] {
        assert!(
            f["linux"]["namespaces"]
                .as_array()
                .unwrap()
                .contains(&ns.into()),
            "{ns}"
        );
    }
    assert!(f["mountOptions"]
        .as_array()
        .unwrap()
        .contains(&"rbind".into()));
    assert_eq!(f["linux"]["cgroup"]["systemd"], false);
}

#[test]
fn the_pid_file_list_and_ps_show_the_init_the_kernel_runs() {
    let o = Oci::new(&["/bin/sleep", "30"], |_| {});
    let pid_file = o.t.path().join("run/c.pid");
    std::fs::create_dir_all(pid_file.parent().unwrap()).unwrap();
    let out = o.create("c", &["--pid-file", pid_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pid = o.pid("c");
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), pid.to_string());
    // Written through a temporary file renamed over it: none is left.
    let left: Vec<_> = std::fs::read_dir(pid_file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["c.pid"]);
    let list: serde_json::Value =
        serde_json::from_str(&stdout(&o.oci(&["list", "--format", "json"]))).unwrap();
    assert_eq!(list[0]["id"], "c");
    assert_eq!(list[0]["status"], "created");
    assert_eq!(list[0]["pid"], pid);
    let ps: Vec<i32> =
        serde_json::from_str(&stdout(&o.oci(&["ps", "--format", "json", "c"]))).unwrap();
    assert_eq!(ps, [pid]);
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(cg.lines().any(|l| l.ends_with("/c")), "{cg}");
}

#[test]
fn pause_freezes_the_cgroup_and_resume_thaws_it() {
    let o = Oci::new(&["/bin/sleep", "30"], |_| {});
    o.running("p");
    let dir = o.cgroup_dir("p", "freezer").expect("a freezer cgroup");
    let v2 = !dir.join("freezer.state").exists();
    let frozen = || match v2 {
        true => std::fs::read_to_string(dir.join("cgroup.events"))
            .unwrap()
            .contains("frozen 1"),
        false => std::fs::read_to_string(dir.join("freezer.state")).unwrap() == "FROZEN\n",
    };
    assert!(!frozen());
    let out = o.oci(&["pause", "p"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(frozen(), "the kernel did not freeze {}", dir.display());
    assert_eq!(o.state("p")["status"], "paused");
    let out = o.oci(&["pause", "p"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("paused already"), "{}", stderr(&out));
    let out = o.oci(&["resume", "p"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!frozen());
    assert_eq!(o.state("p")["status"], "running");
    // A paused container is thawed to be deleted: nothing stays frozen.
    assert!(o.oci(&["pause", "p"]).status.success());
    let out = o.oci(&["delete", "--force", "p"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!o.any_cgroup_left("p"));
}

#[test]
fn update_writes_new_limits_into_the_cgroup() {
    let o = Oci::new(&["/bin/sleep", "30"], |_| {});
    o.running("u");
    let out = o.oci(&[
        "update",
        "--memory",
        "64m",
        "--pids-limit",
        "20",
        "--cpu-quota",
        "50000",
        "u",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let read = |c: &str, f: &str| {
        std::fs::read_to_string(o.cgroup_dir("u", c).unwrap().join(f))
            .unwrap()
            .trim()
            .to_string()
    };
    let mem = o.cgroup_dir("u", "memory").unwrap();
    if mem.join("memory.max").exists() {
        assert_eq!(read("memory", "memory.max"), (64u64 << 20).to_string());
        assert_eq!(read("cpu", "cpu.max"), "50000 100000");
    } else {
        assert_eq!(
            read("memory", "memory.limit_in_bytes"),
            (64u64 << 20).to_string()
        );
        assert_eq!(read("cpu", "cpu.cfs_quota_us"), "50000");
    }
    assert_eq!(read("pids", "pids.max"), "20");
    // containerd's shim sends linux.resources JSON on stdin.
    let mut child = o
        .cmd()
        .args(["update", "--resources", "-", "u"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"pids": {"limit": 33}}"#)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(read("pids", "pids.max"), "33");
    let out = o.oci(&["update", "--memory", "lots", "u"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("bad --memory"), "{}", stderr(&out));
}

#[test]
fn kill_all_signals_every_process_of_the_cgroup() {
    let o = Oci::new(&["/bin/sh", "-c", "sleep 30 & sleep 30 & wait"], |_| {});
    o.running("k");
    assert!(eventually(|| o
        .oci(&["ps", "--format", "json", "k"])
        .stdout
        .len()
        > 8));
    let pids: Vec<i32> =
        serde_json::from_str(&stdout(&o.oci(&["ps", "--format", "json", "k"]))).unwrap();
    assert_eq!(pids.len(), 3, "{pids:?}");
    let out = o.oci(&["kill", "--all", "k", "9"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for p in pids {
        assert!(
            eventually(|| !wharf::probe::procs::alive(p)),
            "{p} survived kill --all"
        );
    }
    let out = o.oci(&["kill", "k", "TERM"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("it is stopped"), "{}", stderr(&out));
}

/// `exec` lands in every namespace of the init and in its cgroup, with
/// the same hardening: the kernel's /proc/PID/status says so.
#[test]
fn exec_joins_the_init_and_gets_its_hardening() {
    let o = Oci::new(&["/bin/sleep", "30"], |s| {
        s["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
        });
    });
    let init = o.running("e");
    let out = o.oci(&[
        "exec",
        "e",
        "/bin/sh",
        "-c",
        "for n in pid mnt net uts ipc; do readlink /proc/self/ns/$n; done; cat /proc/self/status; mkdir /tmp/x || echo mkdir-refused",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for ns in ["pid", "mnt", "net", "uts", "ipc"] {
        let theirs = std::fs::read_link(format!("/proc/{init}/ns/{ns}")).unwrap();
        assert!(
            text.contains(theirs.to_str().unwrap()),
            "{ns}: {theirs:?} not in {text}"
        );
    }
    let status = std::fs::read_to_string(format!("/proc/{init}/status")).unwrap();
    let field = |s: &str, k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .map(str::to_string)
            .unwrap_or_default()
    };
    for k in ["CapBnd:", "CapEff:", "NoNewPrivs:", "Seccomp:"] {
        assert_eq!(field(&text, k), field(&status, k), "{k}");
    }
    assert_eq!(field(&text, "Seccomp:"), "Seccomp:\t2");
    assert!(text.contains("mkdir-refused"), "{text}");
    // Its exit code is exec's.
    let out = o.oci(&["exec", "e", "/bin/sh", "-c", "exit 5"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    // Detached, with a pid file: the process is in the container's cgroup.
    let pid_file = o.t.path().join("exec.pid");
    // Its stdio is not a pipe of ours: the process outlives exec.
    let status = o
        .cmd()
        .args(["exec", "--detach", "--pid-file"])
        .arg(&pid_file)
        .args(["e", "/bin/sleep", "30"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    let ps: Vec<i32> =
        serde_json::from_str(&stdout(&o.oci(&["ps", "--format", "json", "e"]))).unwrap();
    assert!(ps.contains(&pid), "{pid} not in {ps:?}");
    // A command that is not there: one line, exec's own failure.
    let out = o.oci(&["exec", "e", "/bin/nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/bin/nope"), "{}", stderr(&out));
}

#[test]
fn preserved_descriptors_reach_the_command() {
    let o = Oci::new(&["/bin/sh", "-c", "cat <&3; ls /proc/self/fd"], |_| {});
    let data = o.t.path().join("data");
    std::fs::write(&data, "through fd 3\n").unwrap();
    let file = std::fs::File::open(&data).unwrap();
    let raw = file.as_raw_fd();
    let mut cmd = o.cmd();
    cmd.args(["run", "--preserve-fds", "1", "--bundle"])
        .arg(&o.bundle)
        .arg("fds");
    // SAFETY: in the child before exec: the file becomes descriptor 3,
    // without close-on-exec (dup2 onto itself would keep the flag).
    unsafe {
        cmd.pre_exec(move || {
            let r = match raw {
                3 => libc::fcntl(3, libc::F_SETFD, 0),
                _ => libc::dup2(raw, 3),
            };
            if r < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("through fd 3\n"), "{text}");
    let fds: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(fds, ["0", "1", "2", "3", "4"], "{text}");
}

#[test]
fn sysctl_and_oom_score_adj_are_set_inside() {
    let o = Oci::new(
        &[
            "/bin/sh",
            "-c",
            "cat /proc/sys/net/ipv4/ip_forward /proc/self/oom_score_adj",
        ],
        |s| {
            s["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_forward": "1"});
            s["process"]["oomScoreAdj"] = 123.into();
        },
    );
    let host_forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let out = o.oci(&["run", "--bundle", o.bundle.to_str().unwrap(), "s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "1\n123\n");
    // The container's network namespace had its own copy.
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host_forward
    );
}

#[test]
fn device_rules_let_the_container_open_only_what_they_allow() {
    let o = Oci::new(
        &[
            "/bin/sh",
            "-c",
            "echo ok > /dev/null && echo null-ok; mknod /tmp/sda b 8 0 && (cat /tmp/sda >/dev/null 2>&1 || echo sda-refused); rm -f /tmp/sda",
        ],
        // CAP_MKNOD, so only the cgroup's rules stand between it and the disk.
        |s| {
            for set in ["bounding", "effective", "permitted"] {
                s["process"]["capabilities"][set]
                    .as_array_mut()
                    .unwrap()
                    .push("CAP_MKNOD".into());
            }
        },
    );
    let out = o.oci(&["run", "--bundle", o.bundle.to_str().unwrap(), "d"]);
    let text = stdout(&out);
    assert!(text.contains("null-ok"), "{text} {}", stderr(&out));
    assert!(text.contains("sda-refused"), "{text} {}", stderr(&out));
    // The v1 controller's own list, read while one runs.
    let o = Oci::new(&["/bin/sleep", "30"], |_| {});
    o.running("dl");
    if let Some(dir) = o.cgroup_dir("dl", "devices") {
        if dir.join("devices.list").exists() {
            let list = std::fs::read_to_string(dir.join("devices.list")).unwrap();
            assert!(list.lines().any(|l| l == "c 1:3 rwm"), "{list}");
            assert!(!list.lines().any(|l| l == "a *:* rwm"), "{list}");
        }
    }
}

#[test]
fn hooks_run_at_their_points_with_the_state_on_stdin() {
    let o = Oci::new(&["/bin/true"], |_| {});
    let out_dir = o.t.path().join("hooks");
    std::fs::create_dir(&out_dir).unwrap();
    let hook = |name: &str, dir: &std::path::Path| {
        serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("cat > {}/{name}", dir.display())],
        })
    };
    let runtime = [
        "prestart",
        "createRuntime",
        "createContainer",
        "poststart",
        "poststop",
    ];
    o.edit(|s| {
        for name in runtime {
            s["hooks"][name] = serde_json::json!([hook(name, &out_dir)]);
        }
        // startContainer runs inside: its path and its file are the container's.
        s["hooks"]["startContainer"] =
            serde_json::json!([hook("startContainer", std::path::Path::new("/tmp"))]);
    });
    let out = o.oci(&["run", "--bundle", o.bundle.to_str().unwrap(), "h"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for name in runtime {
        let text = std::fs::read_to_string(out_dir.join(name))
            .unwrap_or_else(|e| panic!("{name} did not run: {e}"));
        let st: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(st["id"], "h", "{name}: {text}");
        assert!(st["pid"].as_i64().unwrap() > 0, "{name}: {text}");
    }
    let rootfs = o.t.rootfs();
    let inside = std::fs::read_to_string(rootfs.join("tmp/startContainer")).unwrap();
    let _ = std::fs::remove_file(rootfs.join("tmp/startContainer"));
    assert!(inside.contains("\"id\":\"h\""), "{inside}");
    // A failing createRuntime hook fails create, and leaves nothing.
    o.edit(|s| s["hooks"]["createRuntime"] = serde_json::json!([{"path": "/bin/false"}]));
    let out = o.create("hf", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("createRuntime hook /bin/false"),
        "{}",
        stderr(&out)
    );
    assert!(!o.root().join("hf").exists());
    assert!(!o.any_cgroup_left("hf"));
}

/// The pty master arrives over the console socket, with nothing else
/// holding it; the command's stdio is the slave, its controlling terminal.
#[test]
fn a_terminal_is_sent_over_the_console_socket() {
    let o = Oci::new(
        &[
            "/bin/sh",
            "-c",
            "/bin/busybox tty; /bin/busybox stty size; echo ctty=$(readlink /proc/self/fd/0)",
        ],
        |s| {
            s["process"]["terminal"] = true.into();
            s["process"]["consoleSize"] = serde_json::json!({"height": 33, "width": 101});
        },
    );
    let sock_path = o.t.path().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock_path).unwrap();
    let out = o.create("t", &["--console-socket", sock_path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (conn, _) = listener.accept().unwrap();
    let master = recv_fd(&conn);
    let init = o.pid("t");
    // Nothing of ours or the init's holds a master: only the fd we got.
    let fds = std::fs::read_dir(format!("/proc/{init}/fd")).unwrap();
    for fd in fds {
        let target = std::fs::read_link(fd.unwrap().path()).unwrap_or_default();
        assert_ne!(
            target.to_str(),
            Some("/dev/ptmx"),
            "the init holds a master"
        );
    }
    assert!(o.oci(&["start", "t"]).status.success());
    let mut f = std::fs::File::from(master);
    let mut text = String::new();
    let mut buf = [0u8; 512];
    while let Ok(n) = f.read(&mut buf) {
        if n == 0 {
            break;
        }
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
        if text.contains("ctty=") && text.ends_with('\n') {
            break;
        }
    }
    assert!(text.contains("/dev/pts/0"), "{text:?}");
    assert!(text.contains("33 101"), "{text:?}");
    let _ = f.write_all(b"");
    // Without a socket, or to one that is not there: refused up front.
    let out = o.create("t2", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no --console-socket"),
        "{}",
        stderr(&out)
    );
}

fn recv_fd(sock: &std::os::unix::net::UnixStream) -> OwnedFd {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = [0u8; 256];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .unwrap();
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the kernel just installed this descriptor for us.
            return unsafe { OwnedFd::from_raw_fd(fds[0]) };
        }
    }
    panic!("no descriptor in the message")
}

#[test]
fn errors_are_one_line_on_stderr_and_a_json_line_in_the_log() {
    let o = Oci::new(&["/bin/true"], |_| {});
    let out = o.oci(&["start", "ghost"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).lines().count(), 1);
    let line = o.last_log();
    assert_eq!(line["level"], "error");
    assert!(line["msg"]
        .as_str()
        .unwrap()
        .starts_with("container ghost does not exist"));
    assert!(line["time"].as_str().unwrap().ends_with('Z'));
    let out = o.oci(&["--systemd-cgroup", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cgroupfs only"), "{}", stderr(&out));
    // A missing container deleted with --force is not an error (runc's rule).
    assert!(o.oci(&["delete", "--force", "ghost"]).status.success());
}

/// linux.cgroupsPath names the container's cgroup (as podman and the
/// runtime-tools suite give it): the kernel places the init there, the
/// limits are written there, delete removes it and leaves its parent.
#[test]
fn cgroups_path_places_the_container_where_the_spec_says() {
    let parent = format!(
        "{}-cgpath",
        wharf::paths::host_tag_for(std::path::Path::new("/x"))
    );
    let o = Oci::new(&["/bin/sleep", "30"], |s| {
        s["linux"]["cgroupsPath"] = format!("/{parent}/box").into();
        s["linux"]["resources"]["pids"] = serde_json::json!({"limit": 42});
    });
    struct Parent(String);
    impl Drop for Parent {
        fn drop(&mut self) {
            oci_common::remove_cgroup_tree(&self.0);
        }
    }
    let _parent = Parent(parent.clone());
    let pid = o.running("cg");
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let pids_line = cg
        .lines()
        .find(|l| l.contains(":pids:") || l.starts_with("0::"))
        .unwrap();
    assert!(pids_line.ends_with(&format!("/{parent}/box")), "{cg}");
    let fs = wharf::probe::cgroup::Cgroupfs::system().unwrap();
    let dir = match fs.v1_hierarchy("pids") {
        Some(h) => h.join(&parent).join("box"),
        None => fs.root.join(&parent).join("box"),
    };
    assert_eq!(
        std::fs::read_to_string(dir.join("pids.max"))
            .unwrap()
            .trim(),
        "42"
    );
    let out = o.oci(&["delete", "--force", "cg"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!dir.exists(), "{} outlived delete", dir.display());
    assert!(
        dir.parent().unwrap().exists(),
        "the parent is not ours to remove"
    );
}

/// Propagation as the spec asks: an unbindable bind mount survives into
/// the container (a recursive bind of the root would drop it), and
/// linux.rootfsPropagation is set on its root; the kernel's mountinfo says.
#[test]
fn propagation_options_reach_the_kernel() {
    let o = Oci::new(&["/bin/cat", "/proc/self/mountinfo"], |s| {
        s["mounts"].as_array_mut().unwrap().push(serde_json::json!({
            "destination": "/mnt/etc", "source": "/etc", "type": "bind",
            "options": ["bind", "ro", "unbindable"]
        }));
        s["linux"]["rootfsPropagation"] = "unbindable".into();
    });
    let out = o.oci(&["run", "--bundle", o.bundle.to_str().unwrap(), "pr"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let info = stdout(&out);
    let line = |target: &str| {
        info.lines()
            .find(|l| l.split(' ').nth(4) == Some(target))
            .unwrap_or_else(|| panic!("{target} not mounted:\n{info}"))
            .to_string()
    };
    assert!(
        line("/mnt/etc").contains(" unbindable "),
        "{}",
        line("/mnt/etc")
    );
    // (slave would show nothing: the root was made private, and a private
    // mount has no master to follow.)
    assert!(line("/").contains(" unbindable "), "{}", line("/"));
}

/// The config.json that `runc spec` writes runs as it is: it lists ambient
/// capabilities with no inheritable set, which the kernel cannot raise,
/// and which runc (and so wharf-oci) leave out rather than fail.
#[test]
fn a_runc_spec_config_runs_unchanged() {
    let runc = oci_common::need("runc");
    let o = Oci::new(&["/bin/true"], |_| {});
    std::fs::remove_file(o.bundle.join("config.json")).unwrap();
    let out = std::process::Command::new(runc)
        .arg("spec")
        .current_dir(&o.bundle)
        .output()
        .unwrap();
    assert!(out.status.success(), "runc spec: {}", stderr(&out));
    let rootfs = o.t.rootfs();
    o.edit(|s| {
        s["root"]["path"] = rootfs.to_str().unwrap().into();
        s["process"]["terminal"] = false.into();
        s["process"]["args"] = serde_json::json!(["/bin/sh", "-c", "grep Cap /proc/self/status"]);
    });
    let out = o.oci(&["run", "--bundle", o.bundle.to_str().unwrap(), "rs"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // CAP_KILL|CAP_NET_BIND_SERVICE|CAP_AUDIT_WRITE, and no ambient ones.
    assert!(
        stdout(&out).contains("CapEff:\t0000000020000420"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("CapAmb:\t0000000000000000"),
        "{}",
        stdout(&out)
    );
}

/// linux.resources.cpu shares, cpus and mems: the kernel's cgroup files
/// hold them, and the scheduler keeps the init on the CPUs named.
#[test]
fn cpu_shares_and_the_cpuset_reach_the_cgroup() {
    let o = Oci::new(&["/bin/sleep", "30"], |s| {
        s["linux"]["resources"]["cpu"] =
            serde_json::json!({ "shares": 512, "cpus": "0", "mems": "0" });
    });
    let pid = o.running("c");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(
        status
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["Cpus_allowed_list:", "0"]),
        "{status}"
    );
    let read = |c: &str, f: &str| {
        std::fs::read_to_string(o.cgroup_dir("c", c).unwrap().join(f))
            .unwrap()
            .trim()
            .to_string()
    };
    let cpu = o.cgroup_dir("c", "cpu").unwrap();
    if cpu.join("cpu.weight").exists() {
        assert_eq!(read("cpu", "cpu.weight"), "20");
    } else {
        assert_eq!(read("cpu", "cpu.shares"), "512");
    }
    assert_eq!(read("cpuset", "cpuset.cpus"), "0");
    assert_eq!(read("cpuset", "cpuset.mems"), "0");
    let out = o.oci(&["delete", "--force", "c"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!o.any_cgroup_left("c"));
}

/// No namespaces at all (runtime-tools' linux_ns_itype): the init shares
/// every namespace with the host, is chrooted into the rootfs, and no
/// mount of the spec lands in the host's mount namespace.
#[test]
fn a_spec_without_namespaces_mounts_nothing_on_the_host() {
    let o = Oci::new(&["/bin/sleep", "30"], |s| {
        s["linux"]["namespaces"] = serde_json::json!([]);
        s.as_object_mut().unwrap().remove("hostname");
    });
    let before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let pid = o.running("h");
    for ns in ["mnt", "pid", "net", "uts", "ipc"] {
        let link = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/{ns}")).unwrap();
        assert_eq!(link(&pid.to_string()), link("self"), "{ns}");
    }
    let root = std::fs::read_link(format!("/proc/{pid}/root")).unwrap();
    let rootfs = o.t.rootfs().canonicalize().unwrap();
    assert_eq!(root, rootfs);
    let after = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let new: Vec<&str> = after.lines().filter(|l| !before.contains(l)).collect();
    assert!(
        !new.iter().any(|l| l.contains(rootfs.to_str().unwrap())),
        "{new:?}"
    );
    let out = o.oci(&["delete", "--force", "h"]);
    assert!(out.status.success(), "{}", stderr(&out));
}
