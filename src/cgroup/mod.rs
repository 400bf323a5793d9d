//! Cgroups: create one, limit it, place a process in it, and clean it up,
//! on v1, v2 and hybrid hosts (chapter 04).
//!
//! A cgroup is a directory in a cgroup filesystem: `mkdir` creates it,
//! writing to its files sets limits, writing a pid to `cgroup.procs` moves
//! that process in (its children are born inside), and `rmdir` removes it
//! once no process is left. Ours are named `<host tag>/<id>` so that
//! `wharf reset` and the tests find exactly their own.

pub mod cpuset;
pub mod demo;
pub mod freezer;
pub mod limits;
mod placement;
mod report;
mod v1;
mod v2;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

pub use cpuset::Cpuset;
pub use limits::{CpuMax, LimitArgs, Limits};
pub use placement::{join_cgroups_of, Exec, Placement};
pub use report::Report;

use crate::paths;
use crate::probe::cgroup::{self as probe, CgroupMode, Cgroupfs, Dirs, Stats};
use crate::probe::host;
use crate::sys::{self, ExitReport};

/// A cgroup of ours, in every hierarchy it needs. Dropping it without
/// [`Cgroup::remove`] still kills what is left inside and removes it, so an
/// error path leaves nothing behind.
#[derive(Debug)]
pub struct Cgroup {
    fs: Cgroupfs,
    dirs: Dirs,
    limits: Limits,
    /// `<host tag>/<id>`: the cgroup's path below each hierarchy's root.
    rel: PathBuf,
    /// The leaf directories we created, in creation order.
    made: Vec<PathBuf>,
    removed: bool,
}

/// v1 hierarchies an OCI container is also placed in, beyond chapter 04's
/// cpu, memory and pids: the freezer (`pause`) and the device allow-list.
pub const OCI_V1_EXTRA: [&str; 2] = ["freezer", "devices"];

/// Every v1 hierarchy beyond cpu, memory and pids that a cgroup of ours
/// may be in: [`OCI_V1_EXTRA`], and cpuset when the limits pin CPUs.
const V1_EXTRA: [&str; 3] = ["freezer", "devices", "cpuset"];

impl Cgroup {
    /// Create `<host tag>/<id>` in this host's cgroup filesystems and write
    /// `limits` into it.
    pub fn create(id: &str, limits: &Limits) -> anyhow::Result<Cgroup> {
        Cgroup::create_in(Cgroupfs::system()?, id, limits)
    }

    /// The same, in the cgroup filesystems described by `fs`.
    pub fn create_in(fs: Cgroupfs, id: &str, limits: &Limits) -> anyhow::Result<Cgroup> {
        Cgroup::create_rel(fs, &Path::new(&paths::host_tag()).join(id), limits)
    }

    /// The cgroup at `rel` below each hierarchy's root, as an OCI spec's
    /// linux.cgroupsPath names it (`/libpod_parent/libpod-ID`); its missing
    /// parents are made too (and, unlike our tag directory, left in place
    /// when it is removed, as runc leaves them).
    pub fn create_at(rel: &Path, limits: &Limits) -> anyhow::Result<Cgroup> {
        Cgroup::create_rel(Cgroupfs::system()?, rel, limits)
    }

    fn create_rel(fs: Cgroupfs, rel: &Path, limits: &Limits) -> anyhow::Result<Cgroup> {
        let rel = rel.to_path_buf();
        let dirs = fs.dirs(&rel);
        let mut cg = Cgroup {
            fs,
            dirs,
            limits: *limits,
            rel,
            made: Vec::new(),
            removed: false,
        };
        // Any `?` from here on drops `cg`, which removes what was made.
        if cg.fs.mode == CgroupMode::V2 {
            cg.make_v2()?;
        } else {
            cg.make_v1()?;
        }
        cg.update(limits)?;
        Ok(cg)
    }

    /// The cgroup `<host tag>/<id>` that an earlier process created and
    /// left in place with [`Cgroup::persist`]; `None` if there is none.
    pub fn open(id: &str) -> anyhow::Result<Option<Cgroup>> {
        Cgroup::open_at(&Path::new(&paths::host_tag()).join(id))
    }

    /// The cgroup at `rel` (see [`Cgroup::create_at`]); `None` if it is
    /// in no hierarchy.
    pub fn open_at(rel: &Path) -> anyhow::Result<Option<Cgroup>> {
        let fs = Cgroupfs::system()?;
        let rel = rel.to_path_buf();
        let dirs = fs.dirs(&rel);
        let extra = V1_EXTRA
            .iter()
            .filter_map(|c| fs.v1_hierarchy(c).map(|h| h.join(&rel)));
        let made: Vec<PathBuf> = dirs
            .unique()
            .into_iter()
            .chain(extra)
            .filter(|d| probe::exists(d))
            .collect();
        if made.is_empty() {
            return Ok(None);
        }
        Ok(Some(Cgroup {
            fs,
            dirs,
            limits: Limits::default(),
            rel,
            made,
            removed: false,
        }))
    }

    /// Leave the cgroup in place when this handle goes: a created container
    /// outlives the process that made it, and [`Cgroup::open`] finds it again.
    pub fn persist(mut self) {
        self.removed = true;
    }

    /// The cgroup's directory per controller.
    pub fn dirs(&self) -> &Dirs {
        &self.dirs
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// What the kernel says about the cgroup now.
    pub fn stats(&self) -> Stats {
        probe::stats(&self.dirs)
    }

    /// On a v1 or hybrid host, also make the cgroup in the hierarchy of
    /// `controller` (one of [`OCI_V1_EXTRA`]), so that [`Cgroup::place`]
    /// puts the process there too; its directory, or `None` on pure v2
    /// (where every controller is in the one tree) or when that hierarchy
    /// is not mounted.
    pub fn add_v1(&mut self, controller: &str) -> anyhow::Result<Option<PathBuf>> {
        if self.fs.mode == CgroupMode::V2 {
            return Ok(None);
        }
        let Some(dir) = self.fs.v1_hierarchy(controller).map(|h| h.join(&self.rel)) else {
            return Ok(None);
        };
        if !self.made.contains(&dir) {
            make_parents(&dir, &self.rel)?;
            self.mkdir(&dir)?;
        }
        Ok(Some(dir))
    }

    /// The cgroup's directory in `controller`'s hierarchy, if we made one:
    /// on v2 the one directory, on v1 the controller's own.
    pub fn dir_of(&self, controller: &str) -> Option<PathBuf> {
        if self.fs.mode == CgroupMode::V2 {
            return self.made.first().cloned();
        }
        let dir = self.fs.v1_hierarchy(controller)?.join(&self.rel);
        self.made.contains(&dir).then_some(dir)
    }

    /// Whether the cgroup lives in a v2-only tree (else v1 or hybrid).
    pub fn is_v2(&self) -> bool {
        self.fs.mode == CgroupMode::V2
    }

    /// Write new limits into a live cgroup (`update`): only those given
    /// change, in the files of this host's cgroup version.
    pub fn update(&self, limits: &Limits) -> anyhow::Result<()> {
        match self.fs.mode {
            CgroupMode::V2 => v2::write_limits(&self.leaf(), limits)?,
            _ => v1::write_limits(&self.dirs, limits)?,
        }
        if limits.cpuset.given() {
            let dir = self.dir_of("cpuset").with_context(|| {
                format!(
                    "cannot pin CPUs: no cpuset cgroup {} (the container was made without cpus or mems, or no v1 cpuset hierarchy is mounted)",
                    self.rel.display()
                )
            })?;
            cpuset::write(&dir, &limits.cpuset)?;
        }
        Ok(())
    }

    /// Every process in the cgroup (host pids), in any of its hierarchies.
    pub fn pids(&self) -> Vec<i32> {
        self.procs()
    }

    /// v2: one directory, with cpu, memory and pids enabled from the root down.
    fn make_v2(&mut self) -> anyhow::Result<()> {
        let leaf = self.leaf();
        let wanted = v2::controllers(&self.limits);
        v2::enable_controllers(&self.fs.root, &wanted)?;
        for dir in parents(&leaf, &self.rel) {
            make_tag_dir(&dir)?;
            v2::enable_controllers(&dir, &wanted)?;
        }
        self.mkdir(&leaf)
    }

    /// v1: one directory in each controller's hierarchy (once if two
    /// controllers share a hierarchy).
    fn make_v1(&mut self) -> anyhow::Result<()> {
        let wanted = [
            (
                "cpu",
                self.limits.cpu.is_some() || self.limits.cpu_shares.is_some(),
                &self.dirs.cpu,
            ),
            ("memory", self.limits.memory.is_some(), &self.dirs.memory),
            ("pids", self.limits.pids.is_some(), &self.dirs.pids),
        ];
        if let Some((name, ..)) = wanted
            .iter()
            .find(|(_, limited, dir)| *limited && dir.is_none())
        {
            bail!(
                "cannot limit {name}: no v1 {name} hierarchy is mounted under {}",
                self.fs.root.display()
            );
        }
        for dir in self.dirs.unique() {
            make_parents(&dir, &self.rel)?;
            self.mkdir(&dir)?;
        }
        if self.limits.cpuset.given() {
            self.make_v1_cpuset()?;
        }
        Ok(())
    }

    /// v1's cpuset hierarchy: each directory down to ours starts with its
    /// parent's CPUs and memory nodes (see [`cpuset`]).
    fn make_v1_cpuset(&mut self) -> anyhow::Result<()> {
        let Some(dir) = self.fs.v1_hierarchy("cpuset").map(|h| h.join(&self.rel)) else {
            bail!(
                "cannot pin CPUs: no v1 cpuset hierarchy is mounted under {}",
                self.fs.root.display()
            );
        };
        for parent in parents(&dir, &self.rel) {
            make_tag_dir(&parent)?;
            cpuset::inherit_v1(&parent)?;
        }
        self.mkdir(&dir)?;
        cpuset::inherit_v1(&dir)
    }

    fn leaf(&self) -> PathBuf {
        self.dirs
            .unique()
            .into_iter()
            .next()
            .expect("a v2 cgroup has a directory")
    }

    fn mkdir(&mut self, dir: &Path) -> anyhow::Result<()> {
        sys::mkdir(
            dir,
            "mkdir in a cgroup filesystem creates a cgroup; the kernel fills it with control files",
        )?;
        self.made.push(dir.to_path_buf());
        Ok(())
    }

    /// Move `pid` into the cgroup (in every hierarchy). Its future children
    /// are born inside.
    pub fn place(&self, pid: Pid) -> anyhow::Result<()> {
        for dir in &self.made {
            sys::write(
                &dir.join("cgroup.procs"),
                &pid.to_string(),
                "move the process into the cgroup: from now on the limits apply to it and to every child it makes",
            )?;
        }
        Ok(())
    }

    /// Read the outcome: CPU used over `wall`, OOM kills, refused forks.
    pub fn report(&self, exit: &ExitReport, wall: Duration) -> Report {
        Report::new(&self.stats(), &self.limits, exit, wall)
    }

    /// Kill anything still inside, then remove the cgroup (deepest first)
    /// and the tag directory above it if no other cgroup of ours is there.
    pub fn remove(mut self) -> anyhow::Result<()> {
        // Marked removed only once it is: if teardown fails (or a panic
        // unwinds through it), Drop tries again.
        let done = self.teardown();
        self.removed = done.is_ok();
        done
    }

    fn teardown(&mut self) -> anyhow::Result<()> {
        self.kill_leftovers()?;
        for dir in self.made.iter().rev().filter(|d| probe::exists(d)) {
            sys::rmdir(
                dir,
                "an empty cgroup is removed with rmdir; its control files go with it",
            )?;
        }
        // A cgroupsPath's parents are not ours to remove.
        if self.rel.parent() != Some(Path::new(&paths::host_tag())) {
            return Ok(());
        }
        // The tag dirs may be there even when no cgroup below them was made
        // (a failure right after make_tag_dir), in the extra hierarchies too.
        let extra = V1_EXTRA
            .iter()
            .filter_map(|c| self.fs.v1_hierarchy(c).map(|h| h.join(&self.rel)));
        for dir in self.dirs.unique().into_iter().chain(extra) {
            let tag_dir = dir.parent().expect("tag/id has a parent");
            if probe::exists(tag_dir) && probe::children(tag_dir)?.is_empty() {
                match sys::rmdir(
                    tag_dir,
                    "no other cgroup of this state root is left under the tag",
                ) {
                    // A container of this state root started meanwhile, or
                    // one that ended removed the tag first: leave it be.
                    Err(e)
                        if matches!(e.errno, Errno::EBUSY | Errno::ENOTEMPTY | Errno::ENOENT) => {}
                    other => other?,
                }
            }
        }
        Ok(())
    }

    /// The pids still in the cgroup, in any of its hierarchies.
    fn procs(&self) -> Vec<i32> {
        let mut all: Vec<i32> = self
            .made
            .iter()
            .filter_map(|d| host::cgroup_procs(d).ok())
            .flatten()
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Processes can outlive the container's first one (without a pid
    /// namespace nothing kills them). v2 kills the whole cgroup in one
    /// write; v1 has no such file, so kill pid by pid until none is left.
    fn kill_leftovers(&self) -> anyhow::Result<()> {
        if self.procs().is_empty() {
            return Ok(());
        }
        let one_write = match (self.dirs.v2, self.made.first()) {
            (true, Some(dir)) => v2::kill_all(dir)?,
            _ => false,
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = self.procs();
            if left.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("processes {left:?} are still in the cgroup after SIGKILL: remove it later with `wharf reset`");
            }
            if !one_write {
                for pid in left {
                    // ESRCH: it died between reading cgroup.procs and now.
                    let _ = sys::kill(
                        Pid::from_raw(pid),
                        Signal::SIGKILL,
                        "a process left in the cgroup keeps it from being removed",
                    );
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The directories between a hierarchy's root and `leaf` (which is that
/// root joined with `rel`), top down: for `<tag>/<id>`, just the tag.
fn parents(leaf: &Path, rel: &Path) -> Vec<PathBuf> {
    let depth = rel.components().count();
    let mut out: Vec<PathBuf> = leaf
        .ancestors()
        .skip(1)
        .take(depth.saturating_sub(1))
        .map(Path::to_path_buf)
        .collect();
    out.reverse();
    out
}

/// Make the missing parents of `leaf`, top down.
fn make_parents(leaf: &Path, rel: &Path) -> anyhow::Result<()> {
    for dir in parents(leaf, rel) {
        make_tag_dir(&dir)?;
    }
    Ok(())
}

/// The tag directory groups the cgroups of one state root; it may already
/// be there (another container of the same root).
fn make_tag_dir(dir: &Path) -> anyhow::Result<()> {
    if probe::exists(dir) {
        return Ok(());
    }
    match sys::mkdir(dir, "a parent cgroup named after wharf's state root, so its cgroups are easy to find and remove") {
        // Another container of this state root, started at the same time, made it first.
        Err(e) if e.errno == Errno::EEXIST => Ok(()),
        other => Ok(other?),
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        if !self.removed {
            self.removed = true;
            if let Err(e) = self.teardown() {
                let name = crate::sys::program_name();
                crate::sys::journal::emit(&format!("{name}: warning: {e:#}\n"));
            }
        }
    }
}
