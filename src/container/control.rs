//! A live container, controlled through its cgroup: `pause` and `resume`
//! (the freezer), `update` (new limits), `ps` (the pids in it), `kill
//! --all` (a signal to each of them); and `list`, every container of the
//! runtime root.

use anyhow::{bail, Context};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use oci_spec::runtime::{ContainerState, State};

use super::{state, Runtime};
use crate::cgroup::{freezer, Cgroup, Limits};
use crate::sys;

impl Runtime {
    /// Work on the container's cgroup, which `create` left in place, and
    /// leave it there (a dropped handle would remove it).
    fn with_cgroup<T>(
        &self,
        id: &str,
        f: impl FnOnce(&Cgroup) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let cg = state::cgroup(&self.dir(id)?, id)?
            .with_context(|| format!("container {id} has no cgroup left"))?;
        let out = f(&cg);
        cg.persist();
        out
    }

    /// Freeze every process of a running container.
    pub fn pause(&self, id: &str) -> anyhow::Result<()> {
        self.freeze(id, true)
    }

    /// Thaw a paused container.
    pub fn resume(&self, id: &str) -> anyhow::Result<()> {
        self.freeze(id, false)
    }

    fn freeze(&self, id: &str, frozen: bool) -> anyhow::Result<()> {
        let dir = self.existing(id)?;
        let _lock = state::Lock::take(&dir)?;
        let st = state::load(&dir)?;
        let paused = self.paused(id);
        let verb = if frozen { "pause" } else { "resume" };
        match (st.status(), paused, frozen) {
            (ContainerState::Running, false, true) | (ContainerState::Running, true, false) => {}
            (ContainerState::Running, true, true) => {
                bail!("cannot pause container {id}: it is paused already")
            }
            (ContainerState::Running, false, false) => {
                bail!("cannot resume container {id}: it is running, not paused")
            }
            (status, ..) => bail!("cannot {verb} container {id}: it is {status}"),
        }
        self.with_cgroup(id, |cg| freezer::set_frozen(cg, frozen))
    }

    /// Whether the container's cgroup is frozen now: the OCI states have
    /// no "paused", runc's state adds it, and engines read it.
    pub fn paused(&self, id: &str) -> bool {
        self.with_cgroup(id, |cg| Ok(freezer::frozen(cg)))
            .unwrap_or(false)
    }

    /// The OCI state as runc prints it: `status` is "paused" while the
    /// container's cgroup is frozen.
    pub fn state_json(&self, id: &str) -> anyhow::Result<serde_json::Value> {
        let st = self.state(id)?;
        let mut v = serde_json::to_value(&st)?;
        if *st.status() == ContainerState::Running && self.paused(id) {
            v["status"] = "paused".into();
        }
        Ok(v)
    }

    /// Write new limits into a live container's cgroup.
    pub fn update(&self, id: &str, limits: &Limits) -> anyhow::Result<()> {
        let st = self.state(id)?;
        if !is_live(&st) {
            bail!("cannot update container {id}: it is {}", st.status());
        }
        self.with_cgroup(id, |cg| cg.update(limits))
    }

    /// The host pids of every process in the container's cgroup.
    pub fn ps(&self, id: &str) -> anyhow::Result<Vec<i32>> {
        let st = self.state(id)?;
        if !is_live(&st) {
            return Ok(Vec::new());
        }
        self.with_cgroup(id, |cg| Ok(cg.pids()))
    }

    /// `kill --all`: `sig` to every process in the container's cgroup, not
    /// only its init (which, as PID 1 of a pid namespace, ignores signals
    /// it has no handler for; the others do not).
    pub fn kill_all(&self, id: &str, sig: Signal) -> anyhow::Result<()> {
        let st = self.state(id)?;
        if !is_live(&st) {
            bail!("cannot kill container {id}: it is {}", st.status());
        }
        for pid in self.with_cgroup(id, |cg| Ok(cg.pids()))? {
            match sys::kill(
                Pid::from_raw(pid),
                sig,
                "kill --all: signal each process of the container's cgroup",
            ) {
                // It ended between reading cgroup.procs and now.
                Err(e) if e.errno == nix::errno::Errno::ESRCH => {}
                other => other?,
            }
        }
        Ok(())
    }

    /// Every container under the root, by id, as [`Runtime::state_json`].
    pub fn list(&self) -> anyhow::Result<Vec<serde_json::Value>> {
        let entries = match std::fs::read_dir(&self.root) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            other => other.with_context(|| format!("reading {}", self.root.display()))?,
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join(state::STATE).is_file())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        ids.sort();
        // One that is deleted meanwhile is simply not listed.
        Ok(ids
            .iter()
            .filter_map(|id| self.state_json(id).ok())
            .collect())
    }
}

/// Created or running (or paused, which is running frozen): its init is there.
pub(super) fn is_live(st: &State) -> bool {
    matches!(
        st.status(),
        ContainerState::Created | ContainerState::Running
    )
}
