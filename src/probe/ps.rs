//! Processes as `ps -ef` prints them (the columns `docker top` shows):
//! UID, PID, PPID, C, STIME, TTY, TIME, CMD, from /proc/PID/stat, status
//! and cmdline. Pids are the host's: the container's pid namespace
//! numbers them again from 1, but this /proc is the host's.

use std::io;

use procfs::process::Process;

/// One process, as `ps -ef` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PsRow {
    pub uid: u32,
    pub pid: i32,
    pub ppid: i32,
    /// CPU use over the process's life, in percent (ps's `C`).
    pub cpu_percent: u64,
    /// Start time, `HH:MM` (UTC).
    pub stime: String,
    /// `pts/N`, or `?` without a controlling terminal.
    pub tty: String,
    /// CPU time used, `HH:MM:SS`.
    pub time: String,
    /// The command line, or `[comm]` when it has none (a zombie).
    pub cmd: String,
}

/// The row of process `pid`.
pub fn row(pid: i32) -> io::Result<PsRow> {
    let p = Process::new(pid).map_err(io::Error::other)?;
    let stat = p.stat().map_err(io::Error::other)?;
    let uid = p.uid().map_err(io::Error::other)?;
    let ticks = procfs::ticks_per_second();
    let boot = procfs::boot_time_secs().map_err(io::Error::other)?;
    let cpu_secs = (stat.utime + stat.stime) / ticks;
    let started = boot + stat.starttime / ticks;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let alive_secs = now.saturating_sub(started).max(1);
    let cmdline = p.cmdline().unwrap_or_default();
    Ok(PsRow {
        uid,
        pid,
        ppid: stat.ppid,
        cpu_percent: cpu_secs * 100 / alive_secs,
        stime: format!("{:02}:{:02}", started / 3600 % 24, started / 60 % 60),
        tty: tty_name(stat.tty_nr),
        time: hms(cpu_secs),
        cmd: if cmdline.is_empty() {
            format!("[{}]", stat.comm)
        } else {
            cmdline.join(" ")
        },
    })
}

/// /proc/PID/stat's tty_nr is a device number: major 136 and up are the
/// pty slaves `/dev/pts/N`; 0 is none.
fn tty_name(tty_nr: i32) -> String {
    let (major, minor) = (
        (tty_nr >> 8) & 0xfff,
        (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00),
    );
    match major {
        0 => "?".into(),
        136..=143 => format!("pts/{}", (major - 136) * 256 + minor),
        _ => format!("{major}:{minor}"),
    }
}

/// Seconds as ps's TIME: `HH:MM:SS`.
fn hms(secs: u64) -> String {
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tty_and_time_read_as_ps_prints_them() {
        assert_eq!(tty_name(0), "?");
        assert_eq!(tty_name((136 << 8) | 3), "pts/3");
        assert_eq!(hms(3725), "01:02:05");
    }

    #[test]
    fn our_own_row_names_us() {
        let me = row(std::process::id() as i32).unwrap();
        assert_eq!(me.pid, std::process::id() as i32);
        assert!(!me.cmd.is_empty());
    }
}
