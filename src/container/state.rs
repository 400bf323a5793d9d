//! A container's state on disk: `<runtime root>/<id>/state.json` (the OCI
//! state: id, status, pid, bundle, annotations), written atomically and
//! read and changed under a lock, so two runtime commands on one container
//! never see half a file or undo each other.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use nix::fcntl::{Flock, FlockArg};
use oci_spec::runtime::{ContainerState, State};

use crate::probe::procs;

pub const STATE: &str = "state.json";
pub const FIFO: &str = "exec.fifo";
const LOCK: &str = "lock";
/// The container's cgroup below each hierarchy's root, when the spec named
/// one (linux.cgroupsPath).
const CGROUP: &str = "cgroup.path";
/// The init's start time, so a pid reused by another process later is
/// never taken for the container's.
const STARTED: &str = "init.start";

/// An exclusive flock on the container's lock file, held while it lives.
pub struct Lock {
    _held: Flock<File>,
}

impl Lock {
    pub fn take(dir: &Path) -> anyhow::Result<Lock> {
        let path = dir.join(LOCK);
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        let held = Flock::lock(f, FlockArg::LockExclusive)
            .map_err(|(_, e)| anyhow::anyhow!("locking {}: {e}", path.display()))?;
        Ok(Lock { _held: held })
    }
}

/// Write the state: to a temporary file, then rename over the old one. A
/// reader sees the old state or the new one, never a mix: rename is atomic
/// for readers without an fsync, which would only make the file survive a
/// crash of the machine, and a container's state does not (its processes
/// are gone; runc does not fsync either).
pub fn save(dir: &Path, st: &State) -> anyhow::Result<()> {
    let tmp = dir.join(".state.json.tmp");
    let mut f = File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    serde_json::to_writer(&mut f, st)?;
    f.write_all(b"\n")?;
    std::fs::rename(&tmp, dir.join(STATE)).context("publishing state.json")
}

/// Read the state and bring its status up to date with the kernel: an init
/// that is gone (or is another process now) means `stopped`.
pub fn load(dir: &Path) -> anyhow::Result<State> {
    let path = dir.join(STATE);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut st: State = serde_json::from_str(&text)
        .with_context(|| format!("{} is not OCI state JSON", path.display()))?;
    if let Some(pid) = *st.pid() {
        if !same_process(dir, pid) {
            st.set_status(ContainerState::Stopped);
        }
    }
    Ok(st)
}

/// Remember when the init started (see [`STARTED`]).
pub fn note_start(dir: &Path, pid: i32) -> anyhow::Result<()> {
    let t =
        procs::start_time(pid).with_context(|| format!("reading the start time of pid {pid}"))?;
    std::fs::write(dir.join(STARTED), t.to_string()).context("writing init.start")
}

/// Remember the cgroup the spec named, for every later command.
pub fn note_cgroup(dir: &Path, rel: &Path) -> anyhow::Result<()> {
    std::fs::write(dir.join(CGROUP), rel.as_os_str().as_encoded_bytes())
        .context("writing cgroup.path")
}

/// The container's cgroup: the one the spec named, or `<host tag>/<id>`.
pub fn cgroup(dir: &Path, id: &str) -> anyhow::Result<Option<crate::cgroup::Cgroup>> {
    match std::fs::read_to_string(dir.join(CGROUP)) {
        Ok(rel) => crate::cgroup::Cgroup::open_at(Path::new(&rel)),
        Err(_) => crate::cgroup::Cgroup::open(id),
    }
}

fn same_process(dir: &Path, pid: i32) -> bool {
    let noted = std::fs::read_to_string(dir.join(STARTED)).ok();
    let now = procs::start_time(pid).ok().map(|t| t.to_string());
    procs::alive(pid) && noted.is_some() && noted == now
}

/// An id names a directory (the rule of [`super::dir::check_id`]).
pub fn check_id(id: &str) -> anyhow::Result<&str> {
    super::dir::check_id(id)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_could_leave_the_root_are_refused() {
        for bad in ["", "..", ".x", "a/b", "a b", &"x".repeat(65)] {
            assert!(check_id(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(check_id("web-1.a_b").unwrap(), "web-1.a_b");
    }

    #[test]
    fn state_round_trips_atomically_and_a_dead_pid_reads_as_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = State::default();
        st.set_id("c1".into());
        st.set_status(ContainerState::Running);
        st.set_pid(Some(i32::MAX));
        save(dir.path(), &st).unwrap();
        assert!(!dir.path().join(".state.json.tmp").exists());
        let back = load(dir.path()).unwrap();
        assert_eq!(back.id(), "c1");
        assert_eq!(*back.status(), ContainerState::Stopped);
    }
}
