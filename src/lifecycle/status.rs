//! The monitor's account of a run, `<dir>/status.json`: its own pid, the
//! init's, when it started and ended, how, and how often it was
//! restarted. Only the monitor writes it (atomically); every command reads
//! it, and checks it against the kernel, because a monitor killed with
//! SIGKILL cannot write its last words.

use std::path::Path;

use serde::{Deserialize, Serialize};

pub const STATUS: &str = "status.json";
/// Made by `stop`, `kill` and `rm`: the user ended it, so `--restart`
/// does not start it again.
pub const STOPPED_BY_USER: &str = "stopped-by-user";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// The init waits for `start` (wharf create).
    #[default]
    Created,
    Running,
    /// Between a restart's end and its new start.
    Restarting,
    Exited,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Status {
    pub phase: Phase,
    pub monitor_pid: i32,
    /// The init's pid as the host numbers it; 0 once it is gone.
    pub pid: i32,
    pub exit_code: i32,
    pub oom_killed: bool,
    /// Unix nanoseconds; 0 is never.
    pub started_at: i128,
    pub finished_at: i128,
    pub restart_count: u32,
    /// Why the last start failed, in one line.
    pub error: String,
}

pub fn save(dir: &Path, st: &Status) -> anyhow::Result<()> {
    super::record::write_json(dir, STATUS, st)
}

/// The monitor's last words, or none yet (a container whose monitor
/// died before it wrote any).
pub fn load(dir: &Path) -> Option<Status> {
    let text = std::fs::read_to_string(dir.join(STATUS)).ok()?;
    serde_json::from_str(&text).ok()
}
