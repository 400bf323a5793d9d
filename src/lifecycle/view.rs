//! What a container is now, in Docker's words (created, running, paused,
//! restarting, exited, dead), from three witnesses that can disagree after
//! a crash: the monitor's status.json, whether the monitor still lives,
//! and the OCI runtime's state (checked against the kernel: is the init
//! still that process?). The kernel wins: a container whose monitor was
//! killed is still `running` while its init lives, and `exited` once it
//! is gone, even though nobody wrote that down.

use oci_spec::runtime::ContainerState;

use super::status::{self, Phase, Status};
use super::{clock, monitor, Record};
use crate::container::Runtime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Created,
    Running,
    Paused,
    Restarting,
    Exited,
    /// No monitor, and it never said how the container ended.
    Dead,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Created => "created",
            State::Running => "running",
            State::Paused => "paused",
            State::Restarting => "restarting",
            State::Exited => "exited",
            State::Dead => "dead",
        }
    }

    /// The init lives (or is about to, restarting): `rm` needs `-f`.
    pub fn live(self) -> bool {
        matches!(
            self,
            State::Created | State::Running | State::Paused | State::Restarting
        )
    }
}

#[derive(Debug, Clone)]
pub struct View {
    pub state: State,
    pub status: Status,
    pub monitor_alive: bool,
}

/// Look at container `rec` now.
pub fn of(rec: &Record) -> View {
    let st = status::load(&rec.dir()).unwrap_or_default();
    let monitor_alive = monitor::alive(st.monitor_pid);
    let rt = Runtime::default_root();
    let init = rt.state(&rec.id).ok().map(|s| *s.status());
    let state = match (st.phase, init) {
        (Phase::Exited, _) => State::Exited,
        (Phase::Restarting, _) if monitor_alive => State::Restarting,
        (_, Some(ContainerState::Running)) if rt.paused(&rec.id) => State::Paused,
        (_, Some(ContainerState::Running)) => State::Running,
        (_, Some(ContainerState::Created | ContainerState::Creating)) => State::Created,
        // The monitor will write the end down in a moment.
        (Phase::Running, _) if monitor_alive => State::Running,
        (Phase::Created, None) if monitor_alive => State::Created,
        _ if st.monitor_pid == 0 => State::Created,
        _ => State::Dead,
    };
    View {
        state,
        status: st,
        monitor_alive,
    }
}

impl View {
    /// The STATUS column: `Up 5 seconds`, `Exited (0) 2 minutes ago`, …
    pub fn describe(&self) -> String {
        let s = &self.status;
        let mut text = match self.state {
            State::Created => "Created".to_string(),
            State::Running => format!("Up {}", clock::human(clock::now_ns() - s.started_at)),
            State::Paused => format!(
                "Up {} (Paused)",
                clock::human(clock::now_ns() - s.started_at)
            ),
            State::Restarting => {
                format!("Restarting ({}) {}", s.exit_code, clock::ago(s.finished_at))
            }
            State::Exited => format!("Exited ({}) {}", s.exit_code, clock::ago(s.finished_at)),
            State::Dead => "Dead".to_string(),
        };
        if self.state.live() && !self.monitor_alive && self.state != State::Created {
            text.push_str(" (no monitor)");
        }
        text
    }

    /// The exit code to report: the recorded one, or for a container
    /// whose end nobody saw, Docker's 255 for "unknown".
    pub fn exit_code(&self) -> i32 {
        match self.state {
            State::Dead => 255,
            _ => self.status.exit_code,
        }
    }
}
