//! One container from one OCI runtime spec — the config.json that runc
//! reads — and its lifecycle as the OCI runtime spec defines it:
//!
//! - `create`: build everything (namespaces, cgroup, mounts, root,
//!   credentials) and leave the init process waiting just before execve,
//!   blocked on the exec FIFO in the container's state dir;
//! - `start`: open the FIFO, which lets the init execve the command;
//! - `state`, `kill`, `delete`.
//!
//! The plan is worked out from the spec in the parent ([`plan`]), so every
//! mistake in the spec is refused before a namespace exists; the child then
//! follows it step by step ([`init`]). A failing step in the child reaches
//! the parent over a socketpair and becomes the one error line the user sees.
//! With the annotation [`reaper::ANNOTATION`] (chapter 08's `--init`) the
//! init does not become the command but stays PID 1, forks it, passes
//! signals on and reaps orphans ([`reaper`]).

mod console;
mod control;
mod create;
pub mod dir;
mod exec;
mod features;
pub mod hooks;
mod init;
mod knobs;
pub mod mounts;
mod nopivot;
pub mod options;
pub mod plan;
pub mod reaper;
pub mod spec;
pub mod state;

use std::path::{Path, PathBuf};

use anyhow::Context;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use oci_spec::runtime::{ContainerState, Spec, State};

use crate::cgroup::Report;
use crate::ns::run::Hooks;
use crate::sys::{self, ExitReport};

pub use create::Detach;
pub use dir::ContainerDir;
pub use exec::ExecOptions;
pub use features::features;
pub use oci_spec::runtime::Spec as OciSpec;
pub use options::CreateOptions;
pub use spec::{ChapterFlags, SpecBuilder};

/// How a foreground container ended: its status, and what its cgroup
/// counted (CPU time, OOM kills, forks refused), if it had one.
#[derive(Debug)]
pub struct Ran {
    pub status: ExitReport,
    pub usage: Option<Report>,
}

impl Ran {
    /// The exit code a shell would see (128+n for a signal).
    pub fn exit_code(&self) -> i32 {
        self.status.exit_code()
    }
}

/// Where a runtime keeps its containers: one directory per container id,
/// holding state.json, its lock and, until `start`, the exec FIFO.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub root: PathBuf,
}

impl Runtime {
    pub fn new(root: impl Into<PathBuf>) -> Runtime {
        Runtime { root: root.into() }
    }

    /// The runtime of the wharf state root: `<state root>/run`.
    pub fn default_root() -> Runtime {
        Runtime::new(crate::paths::state_root().join("run"))
    }

    /// Create the container `id` from `spec` (paths in it are relative to
    /// `bundle`). `hooks` assemble a root in the child before pivot_root
    /// (chapters 05–07's overlay and volumes); `detach` says whether the
    /// container outlives this process.
    pub fn create(
        &self,
        id: &str,
        bundle: &Path,
        spec: &Spec,
        hooks: &mut dyn Hooks,
        detach: Detach,
    ) -> anyhow::Result<State> {
        self.create_with(id, bundle, spec, hooks, detach, &CreateOptions::default())
    }

    /// [`Runtime::create`] with an engine's options (`wharf-oci create`).
    pub fn create_with(
        &self,
        id: &str,
        bundle: &Path,
        spec: &Spec,
        hooks: &mut dyn Hooks,
        detach: Detach,
        opts: &CreateOptions,
    ) -> anyhow::Result<State> {
        let plan = plan_of(spec, bundle)?;
        create::create(self, id, bundle, &plan, hooks, detach, opts)
    }

    /// Let a created container's init go on to execve its command.
    pub fn start(&self, id: &str) -> anyhow::Result<()> {
        let dir = self.existing(id)?;
        let _lock = state::Lock::take(&dir)?;
        let mut st = state::load(&dir)?;
        if *st.status() != ContainerState::Created {
            anyhow::bail!(
                "cannot start container {id}: it is {}, and only a created container can be started",
                st.status()
            );
        }
        let pid = st.pid().unwrap_or(0);
        sys::fifo::release(
            &dir.join(state::FIFO),
            || crate::probe::procs::alive(pid),
            "open the exec FIFO for reading: the init, blocked opening it for writing, goes on to execve",
        )
        .with_context(|| format!("starting container {id}: its init (pid {pid}) is gone"))?;
        std::fs::remove_file(dir.join(state::FIFO)).context("removing the exec FIFO")?;
        st.set_status(ContainerState::Running);
        state::save(&dir, &st)?;
        lifecycle_hooks(&st, "poststart");
        Ok(())
    }

    /// The container's OCI state, with its status as the kernel sees it now.
    pub fn state(&self, id: &str) -> anyhow::Result<State> {
        let dir = self.existing(id)?;
        let _lock = state::Lock::take(&dir)?;
        state::load(&dir)
    }

    /// Send `sig` to the container's init.
    pub fn kill(&self, id: &str, sig: Signal) -> anyhow::Result<()> {
        let st = self.state(id)?;
        match (st.status(), st.pid()) {
            (ContainerState::Created | ContainerState::Running, Some(pid)) => {
                sys::kill(Pid::from_raw(*pid), sig, "signal the container's init")?;
                Ok(())
            }
            (status, _) => anyhow::bail!("cannot kill container {id}: it is {status}"),
        }
    }

    /// Remove a stopped container: its cgroup and its state dir. `force`
    /// kills a running one first (every process in its cgroup).
    pub fn delete(&self, id: &str, force: bool) -> anyhow::Result<()> {
        let dir = match self.existing(id) {
            // As runc: --force of a container that is not there is done
            // (an engine cleaning up after a failed create asks for that).
            Err(_) if force && self.dir(id).is_ok() => {
                let d = self.dir(id)?;
                if d.exists() {
                    std::fs::remove_dir_all(&d)
                        .with_context(|| format!("removing {}", d.display()))?;
                }
                return Ok(());
            }
            other => other?,
        };
        let lock = state::Lock::take(&dir)?;
        let st = state::load(&dir)?;
        let live = matches!(
            st.status(),
            ContainerState::Created | ContainerState::Running
        );
        if live && !force {
            anyhow::bail!(
                "cannot delete container {id}: it is {}; stop it first, or use --force",
                st.status()
            );
        }
        // Removing the cgroup kills whatever is left in it, init included;
        // a frozen task cannot die until it is thawed.
        if let Some(cg) = state::cgroup(&dir, id)? {
            if crate::cgroup::freezer::frozen(&cg) {
                crate::cgroup::freezer::set_frozen(&cg, false)?;
            }
            cg.remove()?;
        }
        drop(lock);
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        let mut st = st;
        st.set_status(ContainerState::Stopped);
        lifecycle_hooks(&st, "poststop");
        Ok(())
    }

    /// Docker's foreground run: create, start, wait for the init, delete.
    /// What the cgroup counted is read just before `delete` removes it.
    pub fn run(
        &self,
        id: &str,
        bundle: &Path,
        spec: &Spec,
        hooks: &mut dyn Hooks,
    ) -> anyhow::Result<Ran> {
        self.run_with(id, bundle, spec, hooks, &CreateOptions::default())
    }

    /// [`Runtime::run`] with an engine's options (`wharf-oci run`).
    pub fn run_with(
        &self,
        id: &str,
        bundle: &Path,
        spec: &Spec,
        hooks: &mut dyn Hooks,
        opts: &CreateOptions,
    ) -> anyhow::Result<Ran> {
        let plan = plan_of(spec, bundle)?;
        let st = create::create(self, id, bundle, &plan, hooks, Detach::No, opts)?;
        let pid = Pid::from_raw(st.pid().unwrap_or(0));
        let began = std::time::Instant::now();
        let outcome = self.start(id).and_then(|()| {
            Ok(sys::wait(
                pid,
                "wait for the container's command to end and collect its status",
            )?)
        });
        if outcome.is_err() {
            let _ = sys::kill(
                pid,
                Signal::SIGKILL,
                "the start failed: stop the waiting init",
            );
            let _ = sys::wait(pid, "reap it so no zombie is left");
        }
        let usage = match (&outcome, state::cgroup(&self.dir(id)?, id)) {
            (Ok(status), Ok(Some(cg))) => {
                let usage = Report::new(&cg.stats(), &plan.limits, status, began.elapsed());
                cg.persist();
                Some(usage)
            }
            _ => None,
        };
        let removed = self.delete(id, true);
        let status = outcome?;
        removed?;
        Ok(Ran { status, usage })
    }

    fn dir(&self, id: &str) -> anyhow::Result<PathBuf> {
        Ok(self.root.join(state::check_id(id)?))
    }

    fn existing(&self, id: &str) -> anyhow::Result<PathBuf> {
        let dir = self.dir(id)?;
        if !dir.join(state::STATE).is_file() {
            anyhow::bail!(
                "container {id} does not exist (no {})",
                dir.join(state::STATE).display()
            );
        }
        Ok(dir)
    }
}

/// The plan of `spec`, with socket activation's descriptors announced to
/// the command (see [`options::listen_fds`]).
fn plan_of(spec: &Spec, bundle: &Path) -> anyhow::Result<plan::Plan> {
    let mut plan = plan::Plan::from_spec(spec, bundle)?;
    let listen = options::listen_fds();
    if listen > 0 {
        plan.process.env.push(format!("LISTEN_FDS={listen}"));
        plan.process.env.push("LISTEN_PID=1".into());
    }
    Ok(plan)
}

/// Run the `poststart` or `poststop` hooks of the container's bundle; a
/// failure, or a bundle that is gone, is only a warning.
fn lifecycle_hooks(st: &State, name: &str) {
    if let Ok(spec) = spec::load_bundle(st.bundle()) {
        hooks::run_warn(hooks::of(spec.hooks().as_ref(), name), name, st);
    }
}
