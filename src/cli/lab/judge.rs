//! The judges: one per chapter. Each runs the learner's binary as the
//! chapter is run, finds the container's command among its descendants and
//! asks the kernel (through `probe`) whether the mechanism is really there:
//! namespace inodes, mountinfo, cgroup files, hostname, PID 1. None of them
//! reads the learner's source.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

mod network;

use crate::layer::tree::Kind;
use crate::probe::{host, mounts, ns, procs};
use crate::sys;

mod security;

/// One check of one lab: what was looked at, what the kernel said, and
/// what to do when it is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub check: String,
    pub pass: bool,
    pub seen: String,
    pub fix: String,
}

fn verdict(check: &str, pass: bool, seen: impl Into<String>, fix: &str) -> Verdict {
    Verdict {
        check: check.into(),
        pass,
        seen: seen.into(),
        fix: fix.into(),
    }
}

/// What every judge needs: the binary, a rootfs, and a state root of its own
/// (so the check's cgroups and mounts never mix with the learner's).
pub struct Ctx {
    pub bin: PathBuf,
    pub rootfs: PathBuf,
    pub state: PathBuf,
}

impl Ctx {
    pub fn new(bin: PathBuf) -> anyhow::Result<Ctx> {
        let rootfs = crate::rootfs::ensure_builtin()
            .context("building the built-in rootfs the labs run in")?;
        let state = crate::paths::lab_check_root(&crate::paths::state_root());
        let ctx = Ctx {
            bin: std::path::absolute(bin)?,
            rootfs,
            state,
        };
        // A check that was interrupted may have left something: start clean.
        ctx.start_clean()?;
        Ok(ctx)
    }

    /// An empty state root, whatever the runs before left in it.
    fn start_clean(&self) -> anyhow::Result<()> {
        self.clean_up();
        let state = &self.state;
        std::fs::create_dir_all(state).with_context(|| format!("creating {}", state.display()))
    }

    /// Remove whatever the runs left (mounts, cgroups, the state dir), as
    /// `wharf reset` does for the check's own state root.
    pub fn clean_up(&self) {
        if let Ok(me) = std::env::current_exe() {
            let _ = Command::new(me)
                .arg("reset")
                .env("WHARF_ROOT", &self.state)
                .output();
        }
    }

    fn rootfs_arg(&self) -> String {
        self.rootfs.display().to_string()
    }
}

/// The verdict when Ctrl-C stopped the check: the binary is killed (its
/// process group) and the check's state root reset before we exit.
fn interrupted() -> Verdict {
    verdict(
        "the check ran to its end",
        false,
        "interrupted by a stop signal (Ctrl-C)",
        "run `wharf lab check` again",
    )
}

/// The judge for lab `num`.
pub fn judge(num: u32, ctx: &Ctx) -> anyhow::Result<Vec<Verdict>> {
    match num {
        1 => Ok(chroot(ctx)),
        2 => Ok(namespaces(ctx)),
        3 => Ok(setns(ctx)),
        4 => Ok(cgroups(ctx)),
        5 => Ok(union(ctx)),
        6 => Ok(whiteouts(ctx)),
        7 => Ok(volumes(ctx)),
        8 => Ok(security::judge(ctx)),
        9 => Ok(network::network(ctx)),
        n => bail!("lab {n:02} has no checker yet: it comes with its chapter"),
    }
}

/// How a run that stopped at a `todo!()` is reported.
const REACHED_TODO: &str = "it reached a TODO: ";

/// The learner's binary, running, in a process group of its own so that
/// the whole tree (the container too) can be stopped at the end.
struct Running {
    child: Child,
    shown: String,
    stderr: PathBuf,
}

impl Running {
    fn start(ctx: &Ctx, args: &[&str]) -> anyhow::Result<Running> {
        Running::start_in(ctx, Command::new(&ctx.bin), args)
    }

    /// Start the binary in a mount namespace of its own whose mounts are
    /// all *shared*, as systemd leaves a host's: a child that clones a new
    /// mount namespace from there gets peers of those mounts, and must make
    /// them private itself. (util-linux's unshare; the host's own mounts
    /// are not touched, whatever their propagation.)
    fn start_under_shared_root(ctx: &Ctx, args: &[&str]) -> anyhow::Result<Running> {
        let mut unshare = Command::new("unshare");
        unshare.args(["--mount", "--propagation", "shared", "--"]);
        unshare.arg(&ctx.bin);
        Running::start_in(ctx, unshare, args)
    }

    fn start_in(ctx: &Ctx, mut command: Command, args: &[&str]) -> anyhow::Result<Running> {
        use std::os::unix::process::CommandExt;
        let name = ctx
            .bin
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let stderr = ctx.state.join(format!("stderr-{}", std::process::id()));
        let child = command
            .args(args)
            .env("WHARF_ROOT", &ctx.state)
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&stderr)?)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", ctx.bin.display()))?;
        Ok(Running {
            child,
            shown: format!("{name} {}", args.join(" ")),
            stderr,
        })
    }

    /// The host pid of the descendant running `comm` (the container's
    /// command, once exec'd). If the binary ends first, or nothing shows up
    /// in 10 s, say what the binary printed last: usually the todo!() hint.
    fn find(&mut self, comm: &str) -> Result<i32, Verdict> {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if sys::stop_requested() {
                return Err(interrupted());
            }
            if let Some(pid) = descendants(self.child.id())
                .into_iter()
                .find(|p| procs::comm(*p).is_ok_and(|c| c == comm))
            {
                return Ok(pid as i32);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let said = self.last_words();
                let fix = match said.starts_with(REACHED_TODO) {
                    true => "finish the TODO named above (`wharf lab hint`)",
                    false => "the kernel refused the step named above (its errno and hint say why): run the binary by hand with --explain to see every step",
                };
                return Err(verdict(
                    "the command starts in the container",
                    false,
                    format!(
                        "`{}` ended ({status}) before running {comm}: {said}",
                        self.shown
                    ),
                    fix,
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Err(verdict(
            "the command starts in the container",
            false,
            format!("`{}` did not run {comm} within 10 s", self.shown),
            "run it by hand with --explain: which step does it wait in?",
        ))
    }

    /// What the binary said last on stderr: the todo!() it hit (`not yet
    /// implemented: <hint>`), else its last line.
    fn last_words(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let todo = text
            .lines()
            .find_map(|l| l.split_once("not yet implemented: ").map(|(_, h)| h));
        let last = || {
            text.lines()
                .rev()
                .find(|l| !l.trim().is_empty() && !l.starts_with("note: "))
        };
        match todo {
            Some(hint) => format!("{REACHED_TODO}{hint}"),
            None => last().unwrap_or("(no output)").trim().to_string(),
        }
    }
}

impl Running {
    /// Wait for a binary that ends by itself (a lesson, not a container
    /// left running); `None` if it is still going after `limit`.
    fn ended(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit && !sys::stop_requested() {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        None
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let group = Pid::from_raw(-(self.child.id() as i32));
        let _ = sys::kill(
            group,
            Signal::SIGKILL,
            "the check is over: stop the binary and its container",
        );
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.stderr);
    }
}

/// Every process below `pid`, breadth first, `pid` itself included (a
/// binary that execs its command in place is its own container).
fn descendants(pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        out.extend(procs::children(out[i]).unwrap_or_default());
        i += 1;
    }
    out
}

/// Lab 01: the command's root directory is the rootfs, and its working
/// directory is inside it.
fn chroot(ctx: &Ctx) -> Vec<Verdict> {
    let rootfs = ctx.rootfs_arg();
    let Ok(mut run) = Running::start(ctx, &["--rootfs", &rootfs, "--", "/bin/sleep", "60"]) else {
        return vec![verdict(
            "the binary starts",
            false,
            "could not start it",
            "is it built? run `wharf lab check` without --bin",
        )];
    };
    let pid = match run.find("sleep") {
        Ok(p) => p,
        Err(v) => return vec![v],
    };
    let root = host::process_root_dir(pid).unwrap_or_default();
    let cwd = host::process_cwd(pid).unwrap_or_default();
    let want = std::fs::canonicalize(&ctx.rootfs).unwrap_or_else(|_| ctx.rootfs.clone());
    vec![
        verdict(
            "the command starts in the container",
            true,
            format!("pid {pid} runs sleep"),
            "",
        ),
        verdict(
            "its root is the rootfs",
            root == want,
            format!("/proc/{pid}/root -> {}", root.display()),
            "chroot(2) into the rootfs before exec: then \"/\" resolves there",
        ),
        verdict(
            "its cwd is inside the rootfs",
            cwd.starts_with(&want),
            format!("/proc/{pid}/cwd -> {}", cwd.display()),
            "chdir(\"/\") after chroot: a cwd left outside is a way out of the chroot",
        ),
    ]
}

/// The namespaces of `pid` that differ from the checker's own (which runs
/// where the learner started it: on the host).
fn new_namespaces(pid: i32) -> Vec<String> {
    let read = |p: &str| ns::inodes(Path::new(&format!("/proc/{p}/ns"))).unwrap_or_default();
    let (mine, theirs) = (read("self"), read(&pid.to_string()));
    theirs
        .into_iter()
        .filter(|(k, v)| mine.get(k) != Some(v))
        .map(|(k, _)| k)
        .collect()
}

/// The hostname in `pid`'s UTS namespace, read by entering it with nsenter.
fn hostname_of(pid: i32) -> String {
    let out = Command::new("nsenter")
        .args(["--target", &pid.to_string(), "--uts", "hostname"])
        .output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        Ok(o) => format!(
            "(nsenter failed: {})",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => format!("(nsenter: {e}; install util-linux)"),
    }
}

/// Is `pid`'s root mount the rootfs directory (pivot_root or a bind of it)?
fn root_is(pid: i32, rootfs: &Path) -> (bool, String) {
    let (Ok(Some(m)), Ok(Some((dev, rel)))) =
        (host::process_root_mount(pid), host::fs_location(rootfs))
    else {
        return (false, "cannot read its mountinfo".into());
    };
    let pass = m.device == dev && Path::new(&m.root) == rel;
    (
        pass,
        format!("\"/\" is {} {}[{}]", m.fstype, m.device, m.root),
    )
}

/// Lab 02: new namespaces, PID 1, the hostname, pivot_root into the
/// rootfs, a fresh /proc, and no mount shared with the host — started
/// under a shared `/`, as on a systemd host, whatever this host's is.
fn namespaces(ctx: &Ctx) -> Vec<Verdict> {
    let rootfs = ctx.rootfs_arg();
    let Ok(mut run) = Running::start_under_shared_root(
        ctx,
        &[
            "--hostname",
            "lab02",
            "--rootfs",
            &rootfs,
            "--",
            "/bin/sleep",
            "60",
        ],
    ) else {
        return vec![verdict(
            "the binary starts",
            false,
            "could not start it",
            "is it built?",
        )];
    };
    let pid = match run.find("sleep") {
        Ok(p) => p,
        Err(v) => return vec![v],
    };
    let mut out = vec![verdict(
        "the command starts in the container",
        true,
        format!("pid {pid} runs sleep"),
        "",
    )];
    out.extend(namespace_checks(pid, &ctx.rootfs, "lab02"));
    out
}

fn namespace_checks(pid: i32, rootfs: &Path, hostname: &str) -> Vec<Verdict> {
    let fresh = new_namespaces(pid);
    let wanted = ["pid", "uts", "ipc", "mnt", "net"];
    let missing: Vec<&str> = wanted
        .into_iter()
        .filter(|k| !fresh.iter().any(|f| f == k))
        .collect();
    let nspid = host::ns_pids(pid).unwrap_or_default();
    let name = hostname_of(pid);
    let (root_ok, root_seen) = root_is(pid, rootfs);
    let table = mounts::rows(pid).unwrap_or_default();
    let proc_ok = table
        .iter()
        .any(|m| m.target == "/proc" && m.fstype == "proc");
    let shared: Vec<String> = table
        .iter()
        .filter(|m| m.propagation.contains("shared"))
        .map(|m| format!("{} {}", m.target, m.propagation))
        .collect();
    vec![
        verdict("new pid, uts, ipc, mnt, net namespaces", missing.is_empty(), format!("new: {}", fresh.join(" ")), "clone(2) with CLONE_NEWPID|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWNS|CLONE_NEWNET"),
        verdict("the command is PID 1 inside", nspid.last() == Some(&1), format!("NSpid: {nspid:?}"), "the first process of a new pid namespace is PID 1: exec the command in the cloned child itself"),
        verdict("hostname set in its UTS namespace", name == hostname, format!("hostname: {name}"), "sethostname(2) in the child, after clone with CLONE_NEWUTS"),
        verdict("its / is the rootfs (pivot_root)", root_ok, root_seen, "bind-mount the rootfs on itself, pivot_root(2) into it, unmount the old root"),
        verdict("a fresh /proc is mounted", proc_ok, if proc_ok { "proc at /proc".to_string() } else { "no proc mount at /proc".into() }, "mount(\"proc\", \"<rootfs>/proc\", \"proc\") in the child: ps reads /proc"),
        verdict("no mount propagates to the host", shared.is_empty(), if shared.is_empty() { "every mount private".to_string() } else { shared.join(", ") }, "mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE) first in the new mount namespace"),
    ]
}

/// Lab 03: `exec` lands in every namespace of the target and at its root.
fn setns(ctx: &Ctx) -> Vec<Verdict> {
    let rootfs = ctx.rootfs_arg();
    let Ok(mut target_run) = Running::start(
        ctx,
        &[
            "run",
            "--hostname",
            "lab03",
            "--rootfs",
            &rootfs,
            "--",
            "/bin/sleep",
            "60",
        ],
    ) else {
        return vec![verdict(
            "the binary starts",
            false,
            "could not start it",
            "is it built?",
        )];
    };
    let target = match target_run.find("sleep") {
        Ok(p) => p,
        Err(v) => return vec![v],
    };
    let t = target.to_string();
    let Ok(mut exec_run) = Running::start(ctx, &["exec", &t, "--", "/bin/sleep", "61"]) else {
        return vec![verdict(
            "the binary starts",
            false,
            "could not start `exec`",
            "is it built?",
        )];
    };
    let joined = match exec_run.find("sleep") {
        Ok(p) => p,
        Err(mut v) => {
            v.check = "exec runs the command".into();
            return vec![v];
        }
    };
    let inodes = |p: i32| ns::inodes(Path::new(&format!("/proc/{p}/ns"))).unwrap_or_default();
    let (want, have) = (inodes(target), inodes(joined));
    let mut out = vec![verdict(
        "exec runs the command",
        true,
        format!("pid {joined} runs sleep beside target {target}"),
        "",
    )];
    for kind in ["mnt", "uts", "ipc", "net", "pid", "cgroup"] {
        let same = want.contains_key(kind) && want.get(kind) == have.get(kind);
        let fix = if kind == "pid" {
            "setns(CLONE_NEWPID) moves only future children: fork after setns and exec in the child"
        } else {
            "open /proc/PID/ns/<type> of the target and setns(2) into each (mnt last)"
        };
        out.push(verdict(
            &format!("same {kind} namespace as the target"),
            same,
            format!(
                "{kind}:[{}] vs target's {kind}:[{}]",
                have.get(kind).unwrap_or(&0),
                want.get(kind).unwrap_or(&0)
            ),
            fix,
        ));
    }
    let (a, b) = (
        host::process_root_mount(target).ok().flatten(),
        host::process_root_mount(joined).ok().flatten(),
    );
    let same_root = a.is_some()
        && a.as_ref().map(|m| (&m.device, &m.root)) == b.as_ref().map(|m| (&m.device, &m.root));
    let seen = b
        .map(|m| format!("\"/\" is {}[{}]", m.device, m.root))
        .unwrap_or_else(|| "unreadable".into());
    out.push(verdict("same root as the target", same_root, seen, "after setns into the mnt namespace, chroot to the target's root (/proc/PID/root opened before)"));
    out.push(verdict(
        "sees the target's hostname",
        hostname_of(joined) == "lab03",
        format!("hostname: {}", hostname_of(joined)),
        "join the target's uts namespace",
    ));
    out
}

/// Lab 04: the container's cgroup holds the limits asked for, read back
/// from the cgroup files (cpu quota/period, memory limit, pids.max), and
/// no cgroup of the run is left once its command has ended.
fn cgroups(ctx: &Ctx) -> Vec<Verdict> {
    let mut out = limits_while_running(ctx);
    if out.iter().all(|v| v.pass) {
        // The run above was killed, leaving its cgroup: start clean.
        out.push(match ctx.start_clean() {
            Ok(()) => cgroup_removed_at_exit(ctx),
            Err(e) => verdict(
                "a clean start",
                false,
                format!("{e:#}"),
                "run `wharf reset`",
            ),
        });
    }
    out
}

fn limits_while_running(ctx: &Ctx) -> Vec<Verdict> {
    let rootfs = ctx.rootfs_arg();
    let args = [
        "--hostname",
        "lab04",
        "--rootfs",
        &rootfs,
        "--cpus",
        "0.5",
        "--memory",
        "64m",
        "--pids-limit",
        "20",
        "--",
        "/bin/sleep",
        "60",
    ];
    let Ok(mut run) = Running::start(ctx, &args) else {
        return vec![verdict(
            "the binary starts",
            false,
            "could not start it",
            "is it built?",
        )];
    };
    let pid = match run.find("sleep") {
        Ok(p) => p,
        Err(v) => return vec![v],
    };
    let stats = host::cgroup_stats_of(pid).unwrap_or_default();
    let place = "create the cgroup, write the limits, then write the child's pid to cgroup.procs (in every hierarchy) before it execs";
    let cpu = stats.cpu.map(|c| (c.quota_us, c.period_us));
    let mem = stats.memory.and_then(|m| m.limit);
    let pids = stats.pids.and_then(|p| p.max);
    let cpu_seen = match cpu {
        Some((Some(q), p)) => format!("quota {q}us per {p}us period"),
        Some((None, p)) => format!("no quota (max) per {p}us period"),
        None => "its cgroup has no cpu controller".into(),
    };
    let limit_seen = |what: &str, v: Option<u64>| match v {
        Some(n) => format!("{what} {n}"),
        None => format!("{what}: no limit (max)"),
    };
    let mut out = vec![verdict(
        "the command starts in the container",
        true,
        format!("pid {pid} runs sleep"),
        "",
    )];
    out.push(verdict(
        "cpu: --cpus 0.5 is quota 50000 per 100000us",
        cpu == Some((Some(50_000), 100_000)),
        cpu_seen,
        place,
    ));
    out.push(verdict(
        "memory: --memory 64m is 67108864 bytes",
        mem == Some(64 << 20),
        limit_seen("memory limit", mem),
        place,
    ));
    out.push(verdict(
        "pids: --pids-limit 20",
        pids == Some(20),
        limit_seen("pids.max", pids),
        place,
    ));
    out.extend(namespace_checks(pid, &ctx.rootfs, "lab04"));
    out
}

/// Run a command that ends at once; then no cgroup is left below the
/// check's host tag, in any hierarchy.
fn cgroup_removed_at_exit(ctx: &Ctx) -> Verdict {
    let check = "the cgroup is removed when the command ends";
    let rootfs = ctx.rootfs_arg();
    let args = ["--rootfs", &rootfs, "--pids-limit", "20", "--", "/bin/true"];
    let Ok(mut run) = Running::start(ctx, &args) else {
        return verdict(check, false, "could not start it", "is it built?");
    };
    let ended = ran_to_the_end(&mut run);
    if !ended.pass {
        return Verdict {
            check: check.into(),
            ..ended
        };
    }
    let tag = crate::paths::host_tag_for(&ctx.state);
    let left: Vec<String> = crate::probe::cgroup::Cgroupfs::system()
        .map(|fs| fs.dirs(Path::new(&tag)).unique())
        .unwrap_or_default()
        .iter()
        .flat_map(|d| crate::probe::cgroup::children(d).unwrap_or_default())
        .map(|d| d.display().to_string())
        .collect();
    let seen = match left.is_empty() {
        true => "no cgroup left after exit 0".to_string(),
        false => format!("still there: {}", left.join(" ")),
    };
    let fix =
        "rmdir the cgroup's directory in every hierarchy once the command has been waited for";
    verdict(check, left.is_empty(), seen, fix)
}

/// Start `args`, find its sleep, and judge it with `f`.
fn judged(ctx: &Ctx, args: &[&str], f: impl FnOnce(i32) -> Vec<Verdict>) -> Vec<Verdict> {
    let Ok(mut run) = Running::start(ctx, args) else {
        return vec![verdict(
            "the binary starts",
            false,
            "could not start it",
            "is it built?",
        )];
    };
    match run.find("sleep") {
        Ok(pid) => {
            let mut out = vec![verdict(
                "the command starts in the container",
                true,
                format!("pid {pid} runs sleep"),
                "",
            )];
            out.extend(f(pid));
            out
        }
        Err(v) => vec![v],
    }
}

/// Lab 05: the container's / is an overlay of read-only layers under a
/// writable upper dir, mounted where the host cannot see it, and its top
/// layer hides the same file in the layers below.
fn union(ctx: &Ctx) -> Vec<Verdict> {
    let layers = match stacked_layers(ctx) {
        Ok(l) => l,
        Err(e) => {
            let fix = "check the state root is writable";
            return vec![verdict(
                "the test layers exist",
                false,
                format!("{e:#}"),
                fix,
            )];
        }
    };
    let mut args = vec!["--hostname", "lab05"];
    for l in &layers {
        args.extend(["--layer", l.to_str().unwrap_or_default()]);
    }
    args.extend(["--", "/bin/sleep", "60"]);
    judged(ctx, &args, |pid| {
        let root = host::process_root_mount(pid).ok().flatten();
        let opts = root
            .as_ref()
            .map(|m| m.super_options.clone())
            .unwrap_or_default();
        let fstype = root.as_ref().map(|m| m.fstype.clone()).unwrap_or_default();
        let has = |k: &str| opts.split(',').any(|o| o.starts_with(k));
        let fix = "mount(\"overlay\", merged, \"overlay\", 0, \"lowerdir=…,upperdir=…,workdir=…\") and pivot_root into merged";
        let top = host::read_in_root(pid, Path::new("/etc/lab05"));
        let top_seen = match &top {
            Ok(t) => format!("/proc/{pid}/root/etc/lab05 reads {:?}", t.trim()),
            Err(e) => format!("/proc/{pid}/root/etc/lab05: {e}"),
        };
        let leaked = host::mounts_below(&ctx.state).unwrap_or_default();
        vec![
            verdict(
                "its / is an overlay mount",
                fstype == "overlay",
                format!("\"/\" is {fstype}"),
                fix,
            ),
            verdict(
                "with lower, upper and work dirs",
                has("lowerdir=") && has("upperdir=") && has("workdir="),
                opts.clone(),
                fix,
            ),
            verdict(
                "the topmost layer wins",
                top.as_ref().is_ok_and(|t| t.trim() == "top"),
                top_seen,
                "overlay reads lowerdir left to right, topmost first: list the last --layer first",
            ),
            verdict(
                "the host does not see the overlay",
                leaked.is_empty(),
                format!("host mounts under the state root: {leaked:?}"),
                "mount the overlay in the child, after CLONE_NEWNS and the private remount",
            ),
        ]
    })
}

/// Three layers, lowest first: the rootfs, then two small ones that both
/// hold /etc/lab05 ("mid", "top"), so the container shows which one wins.
fn stacked_layers(ctx: &Ctx) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = vec![ctx.rootfs.clone()];
    for name in ["mid", "top"] {
        let layer = ctx.state.join("lab05-layers").join(name);
        std::fs::create_dir_all(layer.join("etc"))?;
        std::fs::write(layer.join("etc/lab05"), format!("{name}\n"))?;
        out.push(layer);
    }
    Ok(out)
}

/// Lab 06: what the run leaves on disk (kept with --keep): the container's
/// `rm` and `rm -rf; mkdir` are a 0/0 whiteout and an opaque dir in the
/// upper dir; the exported tar spells them `.wh.`; applied onto the layers
/// they delete, applied as an upper dir they are overlay markers again.
fn whiteouts(ctx: &Ctx) -> Vec<Verdict> {
    let dir = ctx.state.join("containers/lab06");
    if let Err(e) = crate::union::remove_tree(&dir) {
        let fix = "run `wharf reset` with this WHARF_ROOT";
        return vec![verdict("a clean start", false, format!("{e:#}"), fix)];
    }
    let Ok(mut run) = Running::start(ctx, &["--id", "lab06", "--keep"]) else {
        return vec![verdict(
            "the binary starts",
            false,
            "could not start it",
            "is it built?",
        )];
    };
    let mut out = vec![ran_to_the_end(&mut run)];
    let d = OnDisk(&dir);
    out.push(verdict("rm left a 0/0 whiteout in upper/", d.whiteout("upper/etc/motd"), d.shown("upper/etc/motd"), "run the deletions inside the container, on its overlay: `rm` of a lower file makes overlay write a character device 0/0 into the upper dir"));
    out.push(verdict("rm -rf; mkdir left an opaque dir", d.opaque("upper/etc/config"), d.shown("upper/etc/config"), "`rm -rf d; mkdir d` inside the container: overlay marks the new d trusted.overlay.opaque=y"));
    out.extend(tar_verdicts(&dir.join("layer.tar")));
    out.push(verdict("applied onto the layers, it deletes", d.deleted_in("applied"), d.listed("applied"), "wharf::layer::apply_file(tar, copy, &ApplyOptions::default()): .wh.NAME removes NAME, .wh..wh..opq the lower content, and neither is left as a file"));
    let back = d.whiteout("restored-upper/etc/motd") && d.opaque("restored-upper/etc/config");
    out.push(verdict("applied as an upper dir: markers back", back, d.shown("restored-upper/etc/motd"), "wharf::layer::apply_file(tar, restored, &ApplyOptions::overlay_upper()): .wh.NAME becomes a 0/0 device, .wh..wh..opq the opaque xattr"));
    out
}

/// A lesson ends by itself: exit 0, or what it said last (the TODO).
fn ran_to_the_end(run: &mut Running) -> Verdict {
    let ended = run.ended(Duration::from_secs(120));
    let finished = matches!(ended, Some(s) if s.success());
    if ended.is_none() && sys::stop_requested() {
        return interrupted();
    }
    let said = match ended {
        Some(_) if finished => "exit 0".to_string(),
        Some(s) => format!("`{}` ended ({s}): {}", run.shown, run.last_words()),
        None => format!("`{}` did not end within 120 s", run.shown),
    };
    let fix = "finish the TODO named here (`wharf lab hint`), or run the binary by hand with --explain to see the failing step";
    verdict("the lesson runs to its end", finished, said, fix)
}

/// Files a lesson left below one directory, read from the disk.
struct OnDisk<'a>(&'a Path);

impl OnDisk<'_> {
    fn node(&self, p: &str) -> Option<crate::layer::tree::Node> {
        crate::layer::tree::node(&self.0.join(p)).ok()
    }

    fn exists(&self, p: &str) -> bool {
        self.0.join(p).symlink_metadata().is_ok()
    }

    /// overlay's whiteout: a character device 0/0.
    fn whiteout(&self, p: &str) -> bool {
        let kind = self.node(p).map(|n| n.kind);
        kind == Some(Kind::Char { major: 0, minor: 0 })
    }

    /// overlay's opaque dir: `trusted.overlay.opaque=y`.
    fn opaque(&self, p: &str) -> bool {
        self.node(p).is_some_and(|n| {
            n.xattrs
                .iter()
                .any(|(k, v)| k == "trusted.overlay.opaque" && v == b"y")
        })
    }

    /// The demo's deletions done on a plain tree: motd and the lower
    /// config files gone, the new one there, and no `.wh.` file left.
    fn deleted_in(&self, tree: &str) -> bool {
        let has = |p: &str| self.exists(&format!("{tree}/{p}"));
        has("etc/config/fresh.conf")
            && !has("etc/motd")
            && !has("etc/config/base.conf")
            && !has("etc/.wh.motd")
            && !has("etc/config/.wh..wh..opq")
    }

    /// What the demo's deletions touch in a plain tree, as found.
    fn listed(&self, tree: &str) -> String {
        if !self.exists(tree) {
            return format!("{tree}: not there");
        }
        let motd = match self.exists(&format!("{tree}/etc/motd")) {
            true => "still there",
            false => "gone",
        };
        let mut names: Vec<String> = std::fs::read_dir(self.0.join(tree).join("etc/config"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        format!(
            "{tree}/etc/motd {motd}; {tree}/etc/config holds: {}",
            names.join(" ")
        )
    }

    /// `upper/etc/motd: c--------- 0/0`, as found.
    fn shown(&self, p: &str) -> String {
        let Some(n) = self.node(p) else {
            return format!("{p}: not there");
        };
        let dev = match n.kind {
            Kind::Char { major, minor } => format!(" {major}/{minor}"),
            _ => String::new(),
        };
        let mode = crate::layer::tree::mode_string(&n);
        let xattrs = match n.xattrs.is_empty() {
            true => String::new(),
            false => format!(" {}", crate::layer::tree::show_xattrs(&n.xattrs)),
        };
        format!("{p}: {mode}{dev}{xattrs}")
    }
}

/// The exported tar carries both markers in their aufs spelling.
fn tar_verdicts(tar: &Path) -> Vec<Verdict> {
    let entries = tar_entries(tar);
    let has = |name: &str| entries.as_ref().is_ok_and(|e| e.iter().any(|p| p == name));
    let seen = match &entries {
        Ok(e) => {
            let wh: Vec<&str> = e
                .iter()
                .map(String::as_str)
                .filter(|p| p.contains(".wh."))
                .collect();
            format!(
                "layer.tar: {} entries, .wh. ones: {}",
                e.len(),
                wh.join(" ")
            )
        }
        Err(e) => e.clone(),
    };
    let export = "export the upper dir with wharf::layer::export_to_file";
    vec![
        verdict(
            "the layer tar has etc/.wh.motd",
            has("etc/.wh.motd"),
            seen.clone(),
            &format!("{export}: a 0/0 whiteout travels as an empty .wh.NAME file"),
        ),
        verdict(
            "… and etc/config/.wh..wh..opq",
            has("etc/config/.wh..wh..opq"),
            seen,
            &format!("{export}: an opaque dir travels with a .wh..wh..opq entry inside it"),
        ),
    ]
}

/// The entry paths of a layer tar, read with the tar crate (`./` and a
/// directory's trailing `/` dropped).
fn tar_entries(path: &Path) -> Result<Vec<String>, String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut archive = tar::Archive::new(file);
    let entries = archive
        .entries()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    entries
        .map(|e| {
            let e = e.map_err(|e| format!("{}: {e}", path.display()))?;
            let p = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            Ok(p.trim_start_matches("./").trim_end_matches('/').to_string())
        })
        .collect()
}

/// Lab 07: a `-v` volume is a bind mount inside the container's mount
/// namespace and nowhere in the host's, and the init layer gives the
/// container its own /etc/hostname and /etc/hosts naming `--hostname`.
fn volumes(ctx: &Ctx) -> Vec<Verdict> {
    let src = ctx.state.join("lab07-volume");
    if let Err(e) = std::fs::create_dir_all(&src) {
        return vec![verdict(
            "the volume directory exists",
            false,
            e.to_string(),
            "check the state root is writable",
        )];
    }
    let spec = format!("{}:/data", src.display());
    let args = ["--hostname", "lab07", "-v", &spec, "--", "/bin/sleep", "60"];
    judged(ctx, &args, |pid| {
        let inside = mounts::rows(pid).unwrap_or_default();
        let at_data = inside.iter().find(|m| m.target == "/data");
        let want = host::fs_location(&src).ok().flatten();
        let bound = match (at_data, &want) {
            (Some(m), Some((dev, rel))) => &m.device == dev && Path::new(&m.root) == rel,
            _ => false,
        };
        let seen = at_data
            .map(|m| format!("/data is {}[{}]", m.device, m.root))
            .unwrap_or_else(|| "no mount at /data".into());
        let leaked = host::mounts_below(&ctx.state).unwrap_or_default();
        vec![
            verdict(
                "the volume is bind-mounted at /data",
                bound,
                seen,
                "bind-mount the host dir onto <merged>/data before pivot_root",
            ),
            verdict(
                "the host does not see the mount",
                leaked.is_empty(),
                format!("host mounts under the state root: {leaked:?}"),
                "mount volumes in the child, after CLONE_NEWNS and MS_PRIVATE",
            ),
        ]
        .into_iter()
        .chain(init_layer_checks(pid, "lab07"))
        .collect()
    })
}

/// The init layer, read where the container reads it: its /etc/hostname is
/// `name`, and a line of its /etc/hosts names `name`.
fn init_layer_checks(pid: i32, name: &str) -> Vec<Verdict> {
    let fix = "write the init layer for the container's hostname (--hostname, else its id): wharf::volume::initlayer::create(&dir.path, name, &image), and put it after the image's layers (topmost) in what Rootfs::prepare gets";
    let read = |p: &str| host::read_in_root(pid, Path::new(p));
    let (hostname_ok, hostname_seen) = match read("/etc/hostname") {
        Ok(t) => (
            t.trim() == name,
            format!("/proc/{pid}/root/etc/hostname: {:?}", t.trim()),
        ),
        Err(e) => (false, format!("/proc/{pid}/root/etc/hostname: {e}")),
    };
    let (hosts_ok, hosts_seen) = match read("/etc/hosts") {
        Ok(t) => match t.lines().find(|l| names_host(l, name)) {
            Some(l) => (true, format!("/etc/hosts: {:?}", l.trim())),
            None => (
                false,
                format!(
                    "/etc/hosts has no line naming {name}: {}",
                    t.lines().collect::<Vec<_>>().join(" | ")
                ),
            ),
        },
        Err(e) => (false, format!("/proc/{pid}/root/etc/hosts: {e}")),
    };
    vec![
        verdict(
            &format!("its /etc/hostname reads {name}"),
            hostname_ok,
            hostname_seen,
            fix,
        ),
        verdict(
            &format!("its /etc/hosts names {name}"),
            hosts_ok,
            hosts_seen,
            fix,
        ),
    ]
}

/// Does this /etc/hosts line map an address to `name` (comments aside)?
fn names_host(line: &str, name: &str) -> bool {
    let line = line.split('#').next().unwrap_or_default();
    line.split_whitespace().skip(1).any(|n| n == name)
}
