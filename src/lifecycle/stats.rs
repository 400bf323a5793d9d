//! `wharf stats --no-stream`: what a container uses now, from its cgroup's
//! files (the same reader for v1 and v2: [`crate::probe::cgroup::stats`]).
//! The kernel counts CPU as time used, never as a percentage, so the
//! percentage is two readings of that counter over a short wall-clock
//! interval — 100% is one CPU busy the whole time, as Docker counts it.

use std::time::{Duration, Instant};

use super::Record;

/// How long the two CPU readings are apart.
pub const SAMPLE: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    /// Percent of one CPU over [`SAMPLE`]; `None` without a cpu counter.
    pub cpu_percent: Option<f64>,
    pub memory: u64,
    /// The cgroup's limit, or the host's memory when it has none.
    pub memory_limit: u64,
    pub pids: u64,
}

/// The usage of each container in `recs` (read together: one interval
/// for all); a container without a cgroup (not running) reads as zero.
pub fn sample(recs: &[Record]) -> anyhow::Result<Vec<Usage>> {
    let host_memory = crate::probe::host::memory_total()?;
    let first: Vec<_> = recs.iter().map(read).collect::<anyhow::Result<_>>()?;
    let t0 = Instant::now();
    std::thread::sleep(SAMPLE);
    let mut out = Vec::new();
    for (rec, before) in recs.iter().zip(first) {
        let now = read(rec)?;
        let wall_us = t0.elapsed().as_micros() as f64;
        let cpu_percent = match (
            before.cpu.and_then(|c| c.usage_us),
            now.cpu.and_then(|c| c.usage_us),
        ) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 * 100.0 / wall_us),
            _ => None,
        };
        let mem = now.memory.unwrap_or_default();
        out.push(Usage {
            cpu_percent,
            memory: mem.usage,
            memory_limit: mem.limit.unwrap_or(host_memory).min(host_memory),
            pids: now.pids.map_or(0, |p| p.current),
        });
    }
    Ok(out)
}

fn read(rec: &Record) -> anyhow::Result<crate::probe::cgroup::Stats> {
    Ok(match crate::cgroup::Cgroup::open(&rec.id)? {
        Some(cg) => {
            let s = cg.stats();
            // Only looked at: the container's cgroup stays.
            cg.persist();
            s
        }
        None => Default::default(),
    })
}
