//! The commands that act on a standing container: start, stop, kill,
//! wait, rm. Each takes the container's lock (`<dir>/lock`) while it
//! decides, so two at once cannot both act on one state.

use std::time::{Duration, Instant};

use anyhow::bail;
use nix::sys::signal::Signal;

use super::status::STOPPED_BY_USER;
use super::view::{self, State};
use super::{attach, monitor, remove, Record};
use crate::container::state::Lock;
use crate::container::Runtime;

/// `start`: a created container's monitor starts it; an exited one gets a
/// new monitor, which creates and starts it again on the same root.
pub fn start(rec: &Record) -> anyhow::Result<()> {
    let dir = rec.dir();
    let _lock = Lock::take(&dir)?;
    let v = view::of(rec);
    match v.state {
        State::Created if v.monitor_alive => {
            attach::request(&dir, "start")?;
        }
        State::Exited | State::Dead => {
            let _ = std::fs::remove_file(dir.join(STOPPED_BY_USER));
            // The old monitor finishes first; the new one clears what is
            // left of the old run's runtime state before it creates.
            let t0 = Instant::now();
            while v.monitor_alive
                && monitor::alive(v.status.monitor_pid)
                && t0.elapsed() < Duration::from_secs(10)
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            monitor::spawn(&dir, true)?;
        }
        State::Created => bail!(
            "container {} has no monitor (it was killed): remove it with `wharf rm {}`",
            rec.name,
            rec.name
        ),
        s => bail!("container {} is already {}", rec.name, s.name()),
    }
    Ok(())
}

/// Send `sig` to the init, and mark the container as stopped by the user,
/// so `--restart` leaves it down.
pub fn kill(rec: &Record, sig: Signal) -> anyhow::Result<()> {
    let v = view::of(rec);
    if !matches!(v.state, State::Running | State::Paused | State::Created) {
        bail!("cannot kill container {}: it is not running", rec.name);
    }
    std::fs::write(rec.dir().join(STOPPED_BY_USER), b"")?;
    Runtime::default_root().kill(&rec.id, sig)
}

/// `stop`: the stop signal, then after `timeout` SIGKILL; returns when
/// the monitor has seen the end (or, without a monitor, the init is gone).
pub fn stop(rec: &Record, timeout: Duration) -> anyhow::Result<()> {
    if !view::of(rec).state.live() {
        return Ok(());
    }
    let sig = super::signal::parse(&rec.stop_signal).unwrap_or(Signal::SIGTERM);
    // A paused container cannot act on a signal until it is thawed.
    if view::of(rec).state == State::Paused {
        Runtime::default_root().resume(&rec.id)?;
    }
    kill(rec, sig)?;
    if wait_down(rec, timeout) {
        return Ok(());
    }
    let _ = Runtime::default_root().kill(&rec.id, Signal::SIGKILL);
    if !wait_down(rec, Duration::from_secs(10)) {
        bail!("container {} did not stop even after SIGKILL", rec.name);
    }
    Ok(())
}

/// Poll until the container is no longer live; false on timeout.
fn wait_down(rec: &Record, timeout: Duration) -> bool {
    let t0 = Instant::now();
    loop {
        if !view::of(rec).state.live() {
            return true;
        }
        if t0.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `wait`: block until the container ends; its exit code.
pub fn wait(rec: &Record) -> anyhow::Result<i32> {
    loop {
        let v = view::of(rec);
        if !v.state.live() {
            return Ok(v.exit_code());
        }
        if !rec.dir().exists() {
            bail!("container {} was removed while we waited", rec.name);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `rm`: a live container only with `force` (SIGKILL, as Docker does);
/// with `volumes`, its anonymous volumes too.
pub fn rm(rec: &Record, force: bool, volumes: bool) -> anyhow::Result<()> {
    let dir = rec.dir();
    let lock = Lock::take(&dir)?;
    let v = view::of(rec);
    if v.state.live() {
        if !force {
            bail!(
                "cannot remove container {}: it is {}: stop it first, or use rm -f",
                rec.name,
                v.state.name()
            );
        }
        std::fs::write(dir.join(STOPPED_BY_USER), b"")?;
        if v.state == State::Paused {
            Runtime::default_root().resume(&rec.id)?;
        }
        let _ = Runtime::default_root().kill(&rec.id, Signal::SIGKILL);
        // Let the monitor see the end and let go of the container.
        let t0 = Instant::now();
        while monitor::alive(view::of(rec).status.monitor_pid)
            && t0.elapsed() < Duration::from_secs(30)
        {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    drop(lock);
    remove::remove(rec, volumes)
}
