//! Processes as the kernel lists them: children and command names.

use std::io;
use std::time::{Duration, Instant};

/// Whether this /proc lists a process `pid`.
pub fn exists(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The children of `pid`'s main thread, from /proc/PID/task/PID/children.
pub fn children(pid: u32) -> io::Result<Vec<u32>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))?;
    Ok(text
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect())
}

/// The command name of `pid` (/proc/PID/comm, at most 15 bytes).
pub fn comm(pid: u32) -> io::Result<String> {
    Ok(std::fs::read_to_string(format!("/proc/{pid}/comm"))?
        .trim_end()
        .to_string())
}

/// Wait (up to 10 s) until a child of `parent` runs `name`; its host pid.
/// A container's command is such a child once it has exec'd.
pub fn wait_for_child_comm(parent: u32, name: &str) -> io::Result<u32> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let found = children(parent)?
            .into_iter()
            .find(|&c| comm(c).is_ok_and(|n| n == name));
        if let Some(pid) = found {
            return Ok(pid);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("no child of {parent} ran {name} within 10 s"),
    ))
}

/// When `pid` started, in clock ticks since boot (field 22 of
/// /proc/PID/stat): with the pid it names one process for good, because a
/// pid the kernel hands out again belongs to a process that started later.
pub fn start_time(pid: i32) -> io::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces and ')': fields after it
    // start after the last ')'. Field 3 is then the first one.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    after
        .split_whitespace()
        .nth(19)
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| io::Error::other(format!("/proc/{pid}/stat has no start time")))
}

/// Whether `pid` is alive: listed, and not a zombie waiting to be reaped.
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().next().map(|st| st != "Z" && st != "X"))
        })
        .unwrap_or(false)
}

/// One field of /proc/PID/status as the kernel wrote it (`CapEff`,
/// `NoNewPrivs`, `Seccomp`, `Uid` …), trimmed; `pid` may be `self`.
pub fn status_field(pid: &str, key: &str) -> io::Result<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
        .ok_or_else(|| io::Error::other(format!("/proc/{pid}/status has no {key}")))
}
