//! What the cgroup did to the container, in the kernel's own numbers: CPU
//! time used over wall time, OOM kills, forks refused at the pids limit.

use std::fmt;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::Limits;
use crate::probe::cgroup::{human_bytes, Stats};
use crate::sys::ExitReport;

/// The cgroup's outcome, read just before it is removed.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// CPU time charged to the cgroup (cpu.stat usage_usec / cpuacct.usage).
    pub cpu_used: Option<Duration>,
    pub wall: Duration,
    pub cpu_limit: Option<f64>,
    /// Periods in which the quota ran out.
    pub nr_throttled: u64,
    pub memory_limit: Option<u64>,
    /// memory.events / memory.oom_control `oom_kill`.
    pub oom_kills: u64,
    /// The OOM killer struck and the container's first process died of SIGKILL.
    pub oom_killed: bool,
    pub pids_limit: Option<u64>,
    /// pids.events `max`: forks refused at the limit.
    pub forks_refused: u64,
}

impl Report {
    /// Combine the cgroup's counters with how the process ended. A fresh
    /// cgroup starts every counter at zero, so the counters are the deltas.
    pub fn new(stats: &Stats, limits: &Limits, exit: &ExitReport, wall: Duration) -> Report {
        let oom_kills = stats.memory.map(|m| m.oom_kills).unwrap_or(0);
        Report {
            cpu_used: stats
                .cpu
                .and_then(|c| c.usage_us)
                .map(Duration::from_micros),
            wall,
            cpu_limit: limits.cpu.map(|c| c.cpus()),
            nr_throttled: stats.cpu.map(|c| c.nr_throttled).unwrap_or(0),
            memory_limit: limits.memory,
            oom_kills,
            oom_killed: oom_kills > 0 && exit.signal == Some(Signal::SIGKILL),
            pids_limit: limits.pids,
            forks_refused: stats.pids.map(|p| p.refused).unwrap_or(0),
        }
    }

    /// CPUs' worth of time used: CPU time over wall time (0.2 = a fifth of one CPU).
    pub fn cpu_ratio(&self) -> Option<f64> {
        let used = self.cpu_used?.as_secs_f64();
        let wall = self.wall.as_secs_f64();
        (wall > 0.0).then(|| used / wall)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(used) = self.cpu_used {
            let (used, wall) = (used.as_secs_f64(), self.wall.as_secs_f64());
            write!(f, "cgroup: cpu {used:.2}s in {wall:.2}s wall")?;
            // Under a second the first period's full quota and the start-up
            // dominate: the ratio would say little about the limit.
            if let Some(ratio) = self.cpu_ratio().filter(|_| wall >= 1.0) {
                write!(f, " = {ratio:.2} CPUs")?;
                if let Some(limit) = self.cpu_limit {
                    let n = self.nr_throttled;
                    write!(f, " (limit {limit:.2}, throttled in {n} periods)")?;
                }
            }
            writeln!(f)?;
        }
        if self.oom_killed {
            let limit = self
                .memory_limit
                .map(human_bytes)
                .unwrap_or_else(|| "its".into());
            writeln!(f, "cgroup: OOM-killed: the command outgrew the {limit} memory limit and the kernel's OOM killer sent it SIGKILL (oom_kill = {})", self.oom_kills)?;
        } else if self.oom_kills > 0 {
            writeln!(f, "cgroup: the OOM killer killed {} process(es) in the cgroup; the command itself survived", self.oom_kills)?;
        }
        if self.forks_refused > 0 {
            let limit = self
                .pids_limit
                .map(|p| p.to_string())
                .unwrap_or_else(|| "the".into());
            writeln!(
                f,
                "cgroup: fork refused {} times at the limit of {limit} tasks (pids.events max)",
                self.forks_refused
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::cgroup::{CpuStat, MemoryStat, PidsStat};

    fn stats(usage_us: u64, oom_kills: u64, refused: u64) -> Stats {
        Stats {
            cpu: Some(CpuStat {
                usage_us: Some(usage_us),
                nr_throttled: 28,
                ..Default::default()
            }),
            memory: Some(MemoryStat {
                oom_kills,
                ..Default::default()
            }),
            pids: Some(PidsStat {
                refused,
                ..Default::default()
            }),
        }
    }

    const KILLED: ExitReport = ExitReport {
        code: None,
        signal: Some(Signal::SIGKILL),
    };
    const EXITED: ExitReport = ExitReport {
        code: Some(0),
        signal: None,
    };

    #[test]
    fn cpu_ratio_is_cpu_time_over_wall_time() {
        let r = Report::new(
            &stats(600_000, 0, 0),
            &Limits::default(),
            &EXITED,
            Duration::from_secs(3),
        );
        assert!((r.cpu_ratio().unwrap() - 0.2).abs() < 1e-9);
        assert!(r.to_string().contains("= 0.20 CPUs"));
    }

    #[test]
    fn oom_killed_needs_a_kill_and_sigkill() {
        let limits = Limits {
            memory: Some(32 << 20),
            ..Default::default()
        };
        let r = Report::new(&stats(0, 1, 0), &limits, &KILLED, Duration::from_secs(1));
        assert!(r.oom_killed);
        assert!(r.to_string().contains("OOM-killed"));
        assert!(r.to_string().contains("32M"));
        assert!(!Report::new(&stats(0, 1, 0), &limits, &EXITED, Duration::from_secs(1)).oom_killed);
        assert!(!Report::new(&stats(0, 0, 0), &limits, &KILLED, Duration::from_secs(1)).oom_killed);
    }

    #[test]
    fn refused_forks_are_reported() {
        let limits = Limits {
            pids: Some(16),
            ..Default::default()
        };
        let r = Report::new(&stats(0, 0, 40), &limits, &EXITED, Duration::from_secs(1));
        assert!(r
            .to_string()
            .contains("fork refused 40 times at the limit of 16 tasks"));
    }
}
