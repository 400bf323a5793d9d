//! Freezing a cgroup: what `pause` and `resume` do. A frozen task is taken
//! off the CPU and stays in the kernel until thawed; it cannot even see a
//! signal meanwhile (SIGKILL waits too, on v1), which is why a paused
//! container is thawed before it is killed.
//!
//! cgroup v1 has a `freezer` controller with one file, `freezer.state`:
//! write `FROZEN` and the kernel moves the cgroup through `FREEZING` to
//! `FROZEN` once every task is stopped; `THAWED` lets them go. cgroup v2
//! has no controller for it: every cgroup has `cgroup.freeze` (write 1 or
//! 0), and `cgroup.events` says `frozen 1` once the whole subtree is.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::Cgroup;
use crate::probe::cgroup as probe;
use crate::sys;

/// Freeze (`true`) or thaw the cgroup, and wait until the kernel says it
/// is done: a frozen state is only reached once every task has stopped.
pub fn set_frozen(cg: &Cgroup, frozen: bool) -> anyhow::Result<()> {
    let dir = cg
        .dir_of("freezer")
        .context("the container has no freezer cgroup: this host mounts no v1 freezer hierarchy")?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        write(&dir, cg.is_v2(), frozen)?;
        if is_frozen(&dir, cg.is_v2()) == frozen {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "the kernel did not {} {} within 5s",
                if frozen { "freeze" } else { "thaw" },
                dir.display()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn write(dir: &Path, v2: bool, frozen: bool) -> anyhow::Result<()> {
    if v2 {
        sys::write(
            &dir.join("cgroup.freeze"),
            if frozen { "1" } else { "0" },
            if frozen {
                "cgroup v2: stop every task in the cgroup and below it where it stands"
            } else {
                "cgroup v2: let the frozen tasks run again"
            },
        )?;
    } else {
        sys::write(
            &dir.join("freezer.state"),
            if frozen { "FROZEN" } else { "THAWED" },
            if frozen {
                "cgroup v1 freezer: stop every task in the cgroup; it reads FREEZING until all have stopped"
            } else {
                "cgroup v1 freezer: let the frozen tasks run again"
            },
        )?;
    }
    Ok(())
}

/// What the kernel says now: v1 `freezer.state` is `FROZEN` (not
/// `FREEZING`), v2 `cgroup.events` has `frozen 1`.
fn is_frozen(dir: &Path, v2: bool) -> bool {
    if v2 {
        probe::knob(dir, "cgroup.events")
            .and_then(|e| probe::keyed(&e, "frozen"))
            .is_some_and(|f| f == 1)
    } else {
        probe::knob(dir, "freezer.state").is_some_and(|s| s == "FROZEN")
    }
}

/// Whether the container's cgroup is frozen (paused) now.
pub fn frozen(cg: &Cgroup) -> bool {
    cg.dir_of("freezer")
        .is_some_and(|d| is_frozen(&d, cg.is_v2()))
}
