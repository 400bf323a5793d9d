//! Lab 04 — cgroups, the reference solution (see labs/04-cgroups/README.md).

use std::path::{Path, PathBuf};

use clap::Parser;
use nix::sched::CloneFlags;
use nix::unistd::Pid;
use wharf::cgroup::Limits;
use wharf::cli::flags::LimitFlags;
use wharf::cli::lesson::{self, Lesson};
use wharf::probe::cgroup::{Cgroupfs, Dirs};
use wharf::rootfs::{self, exec, pivot};
use wharf::sys::{self, Fork};

const NAME: &str = "lab04-cgroups";

/// Run a command in new namespaces, in a cgroup that limits it.
#[derive(Debug, Parser)]
#[command(name = "lab04-cgroups")]
struct Args {
    #[command(flatten)]
    lesson: Lesson,

    /// --cpus, --memory, --pids-limit (and --cpu-quota, --cpu-period).
    #[command(flatten)]
    limits: LimitFlags,

    /// The hostname inside the new UTS namespace.
    #[arg(long)]
    hostname: Option<String>,

    /// The root filesystem (default: the built-in one).
    #[arg(long, value_name = "DIR")]
    rootfs: Option<PathBuf>,

    /// The command to run inside, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    cmd: Vec<String>,
}

fn main() {
    let args = Args::parse();
    args.lesson.start();
    lesson::finish(NAME, run(&args))
}

fn run(args: &Args) -> anyhow::Result<i32> {
    lesson::require_root(NAME)?;
    let limits = args.limits.limits().parse()?;
    let root = rootfs::choose(args.rootfs.as_deref())?;
    // Where the cgroup `<host tag>/lab04-PID` sits in each hierarchy: on
    // cgroup v1 (and hybrid hosts) one directory per controller, on v2 one
    // directory for all. The tag is made from the state root, so that
    // `wharf reset` finds exactly our cgroups.
    let fs = Cgroupfs::system()?;
    let name = format!("lab04-{}", std::process::id());
    let dirs = fs.dirs(&Path::new(&wharf::paths::host_tag()).join(name));

    create(&fs, &dirs)?;
    if let Err(e) = write_limits(&dirs, &limits) {
        let _ = remove(&dirs);
        return Err(e);
    }
    let flags = CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWNET;
    let why = "start the child in fresh namespaces; it waits until it is in the cgroup";
    let mut child = match sys::clone(flags, why)? {
        Fork::Child => lesson::finish(NAME, inside(args, &root)),
        Fork::Parent(child) => child,
    };
    // The child waits at its gate: it is placed before it runs anything,
    // so everything it starts is born inside the cgroup.
    if let Err(e) = place(&dirs, child.pid) {
        let _ = sys::kill(child.pid, nix::sys::signal::Signal::SIGKILL, "give up");
        let _ = sys::wait(child.pid, "collect the child we gave up on");
        let _ = remove(&dirs);
        return Err(e);
    }
    child.release();
    let status = sys::wait(child.pid, "wait for the container's command")?;
    remove(&dirs)?;
    Ok(status.exit_code())
}

/// Chapter 02's container: the child, in its new namespaces.
fn inside(args: &Args, root: &Path) -> anyhow::Result<i32> {
    pivot::make_private()?;
    if let Some(name) = &args.hostname {
        sys::sethostname(name, "the container's own hostname")?;
    }
    pivot::mount_proc(root)?;
    pivot::pivot_into(root)?;
    Err(exec::exec(
        &args.cmd,
        &exec::default_env(args.hostname.as_deref()),
    ))
}

/// Step 1. Make the cgroup: a `mkdir` in a cgroup filesystem creates one.
/// `dirs.unique()` lists each of its directories once; the one above them
/// (the host tag) may not exist yet. On cgroup v2 (`dirs.v2`), a parent
/// must also hand the controllers down to its children.
fn create(fs: &Cgroupfs, dirs: &Dirs) -> anyhow::Result<()> {
    for dir in dirs.unique() {
        let parent = dir.parent().unwrap_or(&fs.root);
        if !parent.exists() {
            sys::mkdir(parent, "the host tag's cgroup, parent of ours")?;
        }
        if dirs.v2 {
            // v2's rule: a controller works in a cgroup only if every
            // parent up from the root lists it in cgroup.subtree_control.
            for p in [&fs.root, parent] {
                sys::write(
                    &p.join("cgroup.subtree_control"),
                    "+cpu +memory +pids",
                    "hand cpu, memory and pids down to the children",
                )?;
            }
        }
        sys::mkdir(&dir, "mkdir in a cgroup filesystem creates a cgroup")?;
    }
    Ok(())
}

/// Step 2. Write the limits into the cgroup's files, in this hierarchy's
/// names and units. `limits.cpu` is a quota per period (microseconds),
/// `limits.memory` bytes, `limits.pids` a number of tasks; `None` = no
/// limit.
fn write_limits(dirs: &Dirs, limits: &Limits) -> anyhow::Result<()> {
    let put = |dir: &Option<PathBuf>, file: &str, value: String, why: &str| match dir {
        Some(d) => sys::write(&d.join(file), &value, why),
        None => Ok(()),
    };
    if let Some(c) = limits.cpu {
        if dirs.v2 {
            let max = format!("{} {}", c.quota_us, c.period_us);
            put(
                &dirs.cpu,
                "cpu.max",
                max,
                "QUOTA microseconds in every PERIOD",
            )?;
        } else {
            // The period first: the kernel checks a quota against the
            // period in force.
            let period = c.period_us.to_string();
            put(&dirs.cpu, "cpu.cfs_period_us", period, "one CFS period")?;
            let quota = c.quota_us.to_string();
            put(&dirs.cpu, "cpu.cfs_quota_us", quota, "CPU time per period")?;
        }
    }
    if let Some(m) = limits.memory {
        let file = match dirs.v2 {
            true => "memory.max",
            false => "memory.limit_in_bytes",
        };
        put(
            &dirs.memory,
            file,
            m.to_string(),
            "above this, reclaim, then OOM kill",
        )?;
    }
    if let Some(p) = limits.pids {
        put(
            &dirs.pids,
            "pids.max",
            p.to_string(),
            "fork fails with EAGAIN beyond this",
        )?;
    }
    Ok(())
}

/// Step 3. Move the (still waiting) child into the cgroup.
fn place(dirs: &Dirs, pid: Pid) -> anyhow::Result<()> {
    for dir in dirs.unique() {
        sys::write(
            &dir.join("cgroup.procs"),
            &pid.to_string(),
            "move the child in: what it starts from now on is born here",
        )?;
    }
    Ok(())
}

/// Step 4. The command has ended: remove the cgroup.
fn remove(dirs: &Dirs) -> anyhow::Result<()> {
    for dir in dirs.unique() {
        sys::rmdir(&dir, "rmdir removes a cgroup once no process is left in it")?;
    }
    Ok(())
}
