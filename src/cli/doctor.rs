//! `wharf doctor`: is this host ready for the chapters and labs? Each check
//! reads what the kernel says (through `probe::host`) and, when something is
//! off, says what to do about it. Only a `fail` makes the exit code non-zero.

use clap::{Args, ValueEnum};
use serde::Serialize;
use tabled::{settings::Style, Table, Tabled};

use crate::probe::host::{self, CgroupMode};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// How to print the checks.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        })
    }
}

/// One row: what was checked, what the host says, the verdict, the fix.
#[derive(Debug, Clone, Serialize, Tabled)]
pub struct Check {
    #[tabled(rename = "CHECK")]
    pub check: &'static str,
    #[tabled(rename = "STATE")]
    pub state: String,
    #[tabled(rename = "RESULT")]
    pub status: Status,
    #[tabled(rename = "WHAT TO DO")]
    pub fix: String,
}

fn row(
    check: &'static str,
    state: impl Into<String>,
    status: Status,
    fix: impl Into<String>,
) -> Check {
    Check {
        check,
        state: state.into(),
        status,
        fix: fix.into(),
    }
}

pub fn run(args: DoctorArgs) -> anyhow::Result<i32> {
    let checks = checks();
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&checks)?),
        Format::Table => println!("{}", Table::new(&checks).with(Style::sharp())),
    }
    Ok(if checks.iter().any(|c| c.status == Status::Fail) {
        1
    } else {
        0
    })
}

/// Every check, in the order a learner meets the mechanisms.
pub fn checks() -> Vec<Check> {
    let mut out = vec![root(), kernel(), overlay(), cgroup_mode()];
    out.push(controllers());
    out.push(propagation());
    out.push(userns());
    out.push(ip_forward());
    out.extend(TOOLS.iter().map(tool));
    out
}

/// A check whose reading failed says so instead of guessing.
fn unreadable(check: &'static str, e: std::io::Error) -> Check {
    row(
        check,
        format!("cannot read: {e}"),
        Status::Warn,
        "run `wharf doctor` as root to see this",
    )
}

fn root() -> Check {
    let uid = nix::unistd::geteuid();
    if uid.is_root() {
        row("root", "euid 0", Status::Ok, "")
    } else if on_path("sudo") {
        row(
            "root",
            format!("euid {uid}, sudo found"),
            Status::Warn,
            "run chapters and `wharf lab check` with sudo",
        )
    } else {
        row(
            "root",
            format!("euid {uid}, no sudo"),
            Status::Fail,
            "namespaces, mounts and cgroups need root: log in as root",
        )
    }
}

fn kernel() -> Check {
    let release = match host::kernel_release() {
        Ok(r) => r,
        Err(e) => return unreadable("kernel", e),
    };
    match host::release_version(&release) {
        // 5.11 brought overlay in user namespaces and the cgroup2 features
        // (cgroup.kill, memory.events) the chapters show.
        Some(v) if v >= (5, 11) => row("kernel", release, Status::Ok, ""),
        Some(v) if v >= (4, 18) => row(
            "kernel",
            release,
            Status::Warn,
            "older than 5.11: some demos (rootless overlay, cgroup.kill) will differ",
        ),
        _ => row(
            "kernel",
            release,
            Status::Fail,
            "wharf needs Linux 4.18 or newer",
        ),
    }
}

fn overlay() -> Check {
    match host::filesystems() {
        Ok(fs) if fs.iter().any(|f| f == "overlay") => {
            row("overlayfs", "in /proc/filesystems", Status::Ok, "")
        }
        Ok(_) => row(
            "overlayfs",
            "not loaded",
            Status::Warn,
            "run `modprobe overlay` (chapters 05-07 mount overlay)",
        ),
        Err(e) => unreadable("overlayfs", e),
    }
}

fn cgroup_mode() -> Check {
    match crate::probe::cgroup::Cgroupfs::system() {
        Ok(fs) if fs.mode == CgroupMode::Hybrid => row(
            "cgroup mode",
            fs.mode.name(),
            Status::Ok,
            format!("limits go to the v1 controllers; {}", unified_holds(&fs)),
        ),
        Ok(fs) => row("cgroup mode", fs.mode.name(), Status::Ok, ""),
        Err(e) => unreadable("cgroup mode", e),
    }
}

/// What the cgroup2 tree of a hybrid host holds, as its root's
/// `cgroup.controllers` lists it: usually nothing, sometimes a controller
/// no v1 hierarchy claimed (hugetlb, rdma, misc).
fn unified_holds(fs: &crate::probe::cgroup::Cgroupfs) -> String {
    let Some(dir) = fs.unified() else {
        return "there is no cgroup2 tree".into();
    };
    let at = dir.display();
    match crate::probe::cgroup::controller_list(&dir, "cgroup.controllers") {
        Ok(list) if list.is_empty() => format!("cgroup2 at {at} holds no controllers"),
        Ok(list) => format!("cgroup2 at {at} holds {}", list.join(", ")),
        Err(e) => format!("cgroup2 at {at}: cannot read cgroup.controllers: {e}"),
    }
}

/// The controllers chapter 04 sets limits with.
const NEEDED_CONTROLLERS: [&str; 3] = ["cpu", "memory", "pids"];

fn controllers() -> Check {
    let found = match host::controllers() {
        Ok(f) => f,
        Err(e) => return unreadable("cgroup controllers", e),
    };
    let state = found
        .iter()
        .map(|(c, v)| format!("{c}({v})"))
        .collect::<Vec<_>>()
        .join(" ");
    let missing: Vec<&str> = NEEDED_CONTROLLERS
        .into_iter()
        .filter(|n| !found.iter().any(|(c, _)| c == n))
        .collect();
    if missing.is_empty() {
        row("cgroup controllers", state, Status::Ok, "")
    } else {
        let fix = format!("chapter 04 needs {}: enable it (cgroup_enable= on the kernel command line, or +{} in cgroup.subtree_control)", missing.join(", "), missing[0]);
        row("cgroup controllers", state, Status::Fail, fix)
    }
}

fn propagation() -> Check {
    match host::root_propagation() {
        Ok(p) if p.starts_with("shared") => row("propagation of /", p, Status::Ok, "systemd's default: chapters make / private (MS_REC|MS_PRIVATE) inside their own mount namespace"),
        Ok(p) => row("propagation of /", p, Status::Ok, ""),
        Err(e) => unreadable("propagation of /", e),
    }
}

fn userns() -> Check {
    let max = host::sysctl("user.max_user_namespaces");
    let unpriv = host::sysctl("kernel.unprivileged_userns_clone");
    match (max, unpriv) {
        (Ok(Some(m)), _) if m == "0" => row(
            "user namespaces",
            "user.max_user_namespaces = 0",
            Status::Warn,
            "`--user` will fail with ENOSPC: sysctl -w user.max_user_namespaces=15000",
        ),
        (Ok(Some(_)), Ok(Some(u))) if u == "0" => row(
            "user namespaces",
            "allowed for root only (unprivileged_userns_clone = 0)",
            Status::Ok,
            "rootless demos need: sysctl -w kernel.unprivileged_userns_clone=1",
        ),
        (Ok(Some(m)), _) => row(
            "user namespaces",
            format!("allowed (max {m})"),
            Status::Ok,
            "",
        ),
        (Ok(None), _) => row(
            "user namespaces",
            "not in this kernel",
            Status::Warn,
            "`--user` will fail: the kernel lacks CONFIG_USER_NS",
        ),
        (Err(e), _) => unreadable("user namespaces", e),
    }
}

fn ip_forward() -> Check {
    match host::sysctl("net.ipv4.ip_forward") {
        Ok(Some(v)) if v == "1" => row("ip_forward", "1", Status::Ok, ""),
        Ok(Some(v)) => row(
            "ip_forward",
            v,
            Status::Warn,
            "containers will not reach beyond the host: sysctl -w net.ipv4.ip_forward=1",
        ),
        Ok(None) => row(
            "ip_forward",
            "no IPv4",
            Status::Warn,
            "container networking needs IPv4",
        ),
        Err(e) => unreadable("ip_forward", e),
    }
}

/// Programs the labs and the book use, and how to get each (on Debian).
const TOOLS: [(&str, &str); 8] = [
    (
        "strace",
        "apt-get install strace (compare --explain with `strace -f`)",
    ),
    (
        "ip",
        "apt-get install iproute2 (look inside network namespaces)",
    ),
    (
        "nsenter",
        "apt-get install util-linux (`wharf lab check` 02-04 read the container's hostname with it)",
    ),
    (
        "findmnt",
        "apt-get install util-linux (the book's exercises list mounts with it)",
    ),
    (
        "setfattr",
        "apt-get install attr (the book's exercises remove an overlay xattr with it)",
    ),
    (
        "getfattr",
        "apt-get install attr (the book's exercises read overlay xattrs with it)",
    ),
    (
        "cargo",
        "install Rust from https://rustup.rs (`wharf lab check` builds your lab)",
    ),
    (
        "mdbook",
        "cargo install mdbook --locked (to read the book: mdbook serve book)",
    ),
];

fn tool(&(name, how): &(&'static str, &'static str)) -> Check {
    match find_on_path(name) {
        Some(p) => row(name, p.display().to_string(), Status::Ok, ""),
        None => row(name, "not found on PATH", Status::Warn, how),
    }
}

fn on_path(name: &str) -> bool {
    find_on_path(name).is_some()
}

/// The first executable `name` in $PATH, as the shell would find it.
pub fn find_on_path(name: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            p.metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}
